"""slcc benchmarks: slcc vs hand-written raw bake vs exaslct 4.4.0, side by side in one run.

    .venv/bin/python tests/benchmarks/run.py [--reps N] [--only ROW ...]      (make bench)

Rows: noop, incremental, cold (build tools on the python3 flavor), watch (save-to-image),
noop-images (no-op with 7 and 500 old images: python3 against raw bake, and a 2-step flavor),
lock (no-op in scope local/rel, `slcc lock`), cache (each --cache backend's time and bytes),
serve (500 signed webhook deliveries in 10 s: accept latency, each change built once),
emit (1,000-4,000 synthetic steps, per phase), hashing (tests/benchmarks/bench_hashing.py).
Every row gives min/median/max and the load average at its start and end. Prints a table and
writes results.json and results.md to --out (default .slcc/bench/).
Not a test: nothing here asserts a speed; docs/benchmarks.md explains every row.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout's slcc, before any install

import bench_cache  # below the path insert on purpose
import bench_emit
import bench_hashing
import bench_lock
import bench_noop_images
import bench_serve
import bench_tools as bt
import bench_watch

ROWS = ("hashing", "emit", "noop", "noop-images", "lock", "incremental", "watch", "serve", "cache",
        "cold")  # cold prunes: last
TOOLS = ("slcc", "raw bake", "exaslct")
Cell = float | str | None  # seconds, "n/a: why", or not applicable


@dataclass(frozen=True)
class Config:
    reps: int
    cold_reps: int
    only: tuple[str, ...]
    out: Path
    work: Path
    prune: bool
    exaslct: bool
    emit_sizes: tuple[int, ...]


@dataclass
class Row:
    """One line of the result table; ``cells`` maps a tool to its median (or why it has none)."""

    key: str
    label: str
    cells: dict[str, Cell]
    unit: str = "s"
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)  # per tool, in the row's unit
    figures: dict[str, object] = field(default_factory=dict)  # anything else the row measured
    load: dict[str, object] = field(default_factory=dict)  # load average at the row's start and end

    def ratio(self, other: str) -> float | None:
        """How many times slcc is faster than ``other`` (only when both were measured)."""
        mine, theirs = self.cells.get("slcc"), self.cells.get(other)
        if isinstance(mine, float) and isinstance(theirs, float) and mine > 0 and self.unit == "s":
            return theirs / mine
        return None


@dataclass
class Context:
    config: Config
    ws: Path
    tools: dict[str, bt.Tool | str]  # a tool, or why it is n/a
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- build-tool rows ---------------------------------------------------------------------------


def _measure(ctx: Context, reps: int, before_each: Callable[[str, int], None] | None = None,
             ) -> tuple[dict[str, Cell], dict[str, list[float]]]:
    """Time every available tool ``reps`` times; a failing tool gets "n/a: <error>"."""
    cells: dict[str, Cell] = {}
    samples: dict[str, list[float]] = {}
    for rep in range(reps):
        for name in bt.rotated(TOOLS, rep):  # each tool goes first once every len(TOOLS) reps
            tool = ctx.tools[name]
            if isinstance(tool, str):
                cells[name] = tool
                continue
            if isinstance(cells.get(name), str):  # failed in an earlier repetition
                continue
            if before_each:
                before_each(name, rep)
            try:
                seconds = tool.build(ctx.ws)
            except (bt.ToolError, subprocess.TimeoutExpired) as exc:
                cells[name] = "n/a: " + str(exc).splitlines()[0][:160]
                log(f"{name} failed: {exc}")
                continue
            samples.setdefault(name, []).append(seconds)
            log(f"  {name} #{rep + 1}: {seconds:.2f} s")
    for name, values in samples.items():
        if name not in cells:
            cells[name] = bt.median(values)
    return cells, samples


def _warm_up(ctx: Context) -> None:
    """One untimed build per tool, so that everything the no-op row needs exists."""
    for name in TOOLS:
        tool = ctx.tools[name]
        if isinstance(tool, bt.Tool):
            log(f"warm-up: {name}")
            try:
                tool.build(ctx.ws)
            except bt.ToolError as exc:
                ctx.tools[name] = "n/a: " + str(exc).splitlines()[0][:160]
                log(f"{name} warm-up failed: {exc}")


def _slcc_started_no_bake(ctx: Context) -> bool:
    tool = ctx.tools["slcc"]
    assert isinstance(tool, bt.Tool)
    proc = bt.run([*tool.argv, "--json"], ctx.ws, tool.env)
    return json.loads(proc.stdout)["baked"] is False


def row_noop(ctx: Context) -> None:
    log("row noop: nothing changed")
    bt.restore_client(ctx.ws)
    _warm_up(ctx)
    cells, samples = _measure(ctx, ctx.config.reps)
    note = "slcc started no bake" if _slcc_started_no_bake(ctx) else "WARNING: slcc started a bake"
    ctx.rows.append(Row("noop", "no-op build (python3, nothing changed)", cells, note=note, samples=samples))


def row_noop_images(ctx: Context) -> None:
    log("row noop-images: python3 no-op with 7 and 500 old images in slcc's repository, every tool")
    tools = {name: t for name, t in ctx.tools.items() if isinstance(t, bt.Tool)}
    bt.restore_client(ctx.ws)
    try:
        py3 = bench_noop_images.run_python3(ctx.ws, ctx.config.work / "noop-images-python3", ctx.config.reps,
                                                  tools, log)
    except (bt.ToolError, subprocess.TimeoutExpired) as exc:
        cell = "n/a: " + str(exc).splitlines()[0][:160]
        ctx.rows.append(Row("noop-images-python3", "no-op build (python3) with 7 / 500 old images", {"slcc": cell}))
    else:
        for count, samples in py3.items():
            label = f"no-op build (python3), {count} old images in slcc's repository"
            if isinstance(samples, str):
                ctx.rows.append(Row(f"noop-python3-{count}", label, {"slcc": samples}))
                continue
            cells: dict[str, Cell] = {name: bt.median(v) for name, v in samples.items()}
            cells.update({name: t for name, t in ctx.tools.items() if isinstance(t, str)})
            ctx.rows.append(Row(f"noop-python3-{count}", label, cells, note="old images: <step>-<hash> tags over 10 distinct busybox + LABEL images", samples=samples))
    log("row noop-images: 2-step flavor with 7 and 500 extra images in its repository")
    try:
        f = bench_noop_images.run(ctx.config.work / "noop-images", ctx.config.reps)
    except (bt.ToolError, subprocess.TimeoutExpired) as exc:
        cell = "n/a: " + str(exc).splitlines()[0][:160]
        ctx.rows.append(Row("noop-images", "no-op build (2 steps) with 7 / 500 extra images", {"slcc": cell}))
        return
    for count in ("7", "500"):
        note = f"listing the whole repository instead: {f[f'list_{count}_s'][0]:.3f} s"
        ctx.rows.append(Row(f"noop-images{count}", f"no-op build (2 steps), {count} extra images in the repository",
                            {"slcc": bt.median(f[f"noop_{count}_s"])}, note=note,
                            samples={"slcc": f[f"noop_{count}_s"]}, figures={"list_s": f[f"list_{count}_s"]}))


def row_incremental(ctx: Context) -> None:
    log("row incremental: one-line client change, then rebuild")
    before = bt.bench_image_refs()
    _warm_up(ctx)
    marker: dict[int, str] = {}

    def edit(_tool: str, rep: int) -> None:
        # The same new line for all three tools within a repetition, a different one per repetition.
        bt.edit_client(ctx.ws, marker.setdefault(rep, bt.nonce()))

    since = time.time()
    try:
        cells, samples = _measure(ctx, ctx.config.reps, edit)
    finally:
        bt.restore_client(ctx.ws)
        bt.remove_images(bt.bench_image_refs() - before)
    timing = _slcc_bake_times(ctx.ws, since)
    note = f"new line of code in {bt.CLIENT_EDIT_FILE}; rebuilds build_run and release"
    slcc = cells.get("slcc")
    if timing["buildkit_seconds"] and isinstance(slcc, float):
        buildkit, bake = bt.median(timing["buildkit_seconds"]), bt.median(timing["bake_seconds"])
        note += (f"; slcc's bake {bake:.2f} s, BuildKit span {buildkit:.2f} s "
                 f"({_spread(timing['buildkit_seconds'])}): slcc / BuildKit {slcc / buildkit:.2f}x")
    ctx.rows.append(Row("incremental", "incremental (one-line client change)", cells, note=note,
                        samples=samples, figures=dict(timing)))


def _slcc_bake_times(ws: Path, since: float) -> dict[str, list[float]]:
    """bake_seconds and buildkit_seconds of the slcc builds that baked since ``since`` (their report.json)."""
    times: dict[str, list[float]] = {"bake_seconds": [], "buildkit_seconds": []}
    for report in sorted((ws / ".slcc" / "runs").glob("*/report.json"), key=lambda p: p.stat().st_mtime):
        if report.stat().st_mtime < since:
            continue
        data = json.loads(report.read_text(encoding="utf-8"))
        if data.get("buildkit_seconds") is not None:
            times["bake_seconds"].append(float(data["bake_seconds"]))
            times["buildkit_seconds"].append(float(data["buildkit_seconds"]))
    return times


def _spread(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def row_cold(ctx: Context) -> None:
    log("row cold: empty cache, no tagged images")
    before = bt.bench_image_refs()

    def make_cold(_tool: str, _rep: int) -> None:
        if ctx.config.prune:
            bt.run(["docker", "buildx", "prune", "-af"], ctx.ws)
        bt.set_base_nonce(ctx.ws, bt.nonce())

    try:
        cells, samples = _measure(ctx, ctx.config.cold_reps, make_cold)
    finally:
        bt.set_base_nonce(ctx.ws, None)
        bt.remove_images(bt.bench_image_refs() - before)
    how = "docker buildx prune -af + new ENV line" if ctx.config.prune else "new ENV line (no prune)"
    note = f"{how} in the 3 root steps before each tool; apt + PyPI downloads included"
    ctx.rows.append(Row("cold", "cold build (python3, 8 steps)", cells, note=note, samples=samples))


def row_watch(ctx: Context) -> None:
    log("row watch: save a client file, wait for the cycle report")
    before = bt.bench_image_refs()
    try:
        figures = bench_watch.bench_watch(ctx.ws, ctx.config.reps, ctx.config.out / "watch.log")
    except bt.ToolError as exc:
        cell: Cell = "n/a: " + str(exc).splitlines()[0][:160]
        ctx.rows.append(Row("watch", "watch save-to-image latency", {"slcc": cell}))
        return
    finally:
        bt.remove_images(bt.bench_image_refs() - before)
    latency = bt.median(figures["latency_s"])
    ctx.rows.append(Row("watch", "watch save-to-image latency", {"slcc": latency}, note=_watch_note(ctx, figures),
                        samples={"slcc": figures["latency_s"]},
                        figures={k: v for k, v in figures.items() if k != "latency_s"}))


def _watch_note(ctx: Context, figures: dict[str, list[float]]) -> str:
    """The latency against the cycle's build, BuildKit's span in it (goal <= 1.1x) and raw bake's
    edit row of this run (goal <= 0.6x)."""
    latency, buildkit = bt.median(figures["latency_s"]), bt.median(figures["buildkit_seconds"])
    note = (f"same edit as incremental; cycle's build {bt.median(figures['build_seconds']):.2f} s, "
            f"its bake {bt.median(figures['bake_seconds']):.2f} s, BuildKit span {buildkit:.2f} s ({_spread(figures['buildkit_seconds'])}): "
            f"latency / BuildKit {latency / buildkit:.2f}x (goal <= 1.1)")
    raw = next((r.cells.get("raw bake") for r in ctx.rows if r.key == "incremental"), None)
    if isinstance(raw, float):
        note += f"; latency / raw bake's edit row {latency / raw:.2f}x (goal <= 0.6)"
    return note


def row_serve(ctx: Context) -> None:
    log("row serve: 500 signed deliveries in 10 s with duplicates, then drain the queue")
    f = bench_serve.bench_serve(ctx.config.work / "serve")
    ctx.extra["serve"] = f
    note = (f"{f['deliveries']} deliveries in {f['sent_seconds']:.1f} s, {f['lost']} lost; "
            f"{f['changes_built_once']}/{f['distinct_changes']} distinct changes built exactly once "
            f"({f['builds']} builds); p99 {f['p99_ms']:.0f} ms; queue drained {f['drain_seconds']:.0f} s later")
    latencies = f.pop("latencies_s")
    ctx.rows.append(Row("serve", "serve: webhook accept latency p50", {"slcc": f["p50_ms"] / 1000}, note=note,
                        samples={"slcc": latencies}, figures=f))


def row_lock(ctx: Context) -> None:
    log("row lock: no-op in scope local vs rel, and `slcc lock`")
    figures = bench_lock.bench_lock(ctx.ws, ctx.config.reps)
    query = f"one digest query {figures['query_s'][0] * 1000:.1f} ms in-process"
    for key, label, note in (
        ("noop-local", "no-op build, scope local (image digests asked)", f"1 external image; {query}"),
        ("noop-rel", "no-op build, scope rel (digests from slcc.lock)", "no image query"),
        ("lock", "`slcc lock` of python3 (from scratch)", "resolve 1 image, write slcc.lock atomically"),
    ):
        values = figures[key.replace("-", "_") + "_s"]
        ctx.rows.append(Row(key, label, {"slcc": bt.median(values)}, note=note, samples={"slcc": values}))


def row_cache(ctx: Context) -> None:
    log("row cache: each --cache backend, the root steps' children rebuilt (a new ENV line)")
    try:
        figures = bench_cache.bench_cache(ctx.ws, ctx.config.cold_reps, log)
    except (bt.ToolError, subprocess.TimeoutExpired) as exc:
        ctx.rows.append(Row("cache", "cache backends", {"slcc": "n/a: " + str(exc).splitlines()[0][:160]}))
        return
    default = figures[bench_cache.DEFAULT]
    base = bt.median(default.seconds) if default.seconds else None
    for name, f in figures.items():
        if not f.seconds:
            ctx.rows.append(Row(f"cache-{name}", f"cache: --cache {name}", {"slcc": "n/a: " + f.error}))
            continue
        seconds = bt.median(f.seconds)
        versus = f"{seconds / base:.2f}x the default's time" if base else "default n/a"
        low, mid, high = (fmt_bytes(b) for b in bt.spread(f.bytes_written))
        label = (f"cache: default, no registry (picked {f.chosen})" if name == bench_cache.DEFAULT
                 else f"cache: --cache {name}")
        note = f"{mid} written ({low}-{high}); {versus}; 5 steps rebuilt"
        if f.error:
            note += f"; a later repetition failed: {f.error}"
        ctx.rows.append(Row(f"cache-{name}", label, {"slcc": seconds}, note=note, samples={"slcc": f.seconds},
                            figures={"bytes_written": f.bytes_written, "backend_used": f.chosen}))


# --- library rows --------------------------------------------------------------------------------


def row_emit(ctx: Context) -> None:
    work = ctx.config.work / "emit"
    for steps in ctx.config.emit_sizes:
        log(f"row emit: {steps} synthetic steps")
        f, totals = bench_emit.bench_size(work, steps, ctx.config.reps)
        note = (f"load {f['load_s']:.3f} + hash {f['hash_s']:.3f} + emit {f['emit_s']:.3f} s; "
                f"first run {f['first_total_s']:.3f} s; {f['total_s'] / steps * 1e6:.0f} us/step")
        ctx.rows.append(Row(f"emit{steps}", f"emit-bake {steps:,} steps, in-process", {"slcc": f["total_s"]},
                            note=note, samples={"slcc": totals}, figures=dict(f)))
    steps = ctx.config.emit_sizes[0]
    cli = bench_emit.bench_cli(work, steps, bt.slcc_argv(), bt.bench_env(), ctx.config.reps)
    ctx.rows.append(Row(f"emit{steps}-cli", f"`slcc emit-bake` CLI, {steps:,} steps", {"slcc": bt.median(cli)},
                        note="whole command: interpreter start, load, hash, emit, write", samples={"slcc": cli}))


def row_hashing(ctx: Context) -> None:
    log("row hashing: bench_hashing.run")
    f = bench_hashing.run(ctx.config.work / "hashing")
    files = int(f["tree_files"])
    ctx.extra["hashing"] = f
    rows = [
        ("hash-cold", f"hash {files:,}-file tree, cold (no stat cache)", f["tree_cold_s"], "s",
         f"without any cache: {f['tree_nocache_s']:.3f} s"),
        ("hash-warm", f"re-hash {files:,}-file tree, warm stat cache", f["tree_warm_s"], "s",
         f"walk only {f['tree_warm_walk_only_s']:.3f} s, cache load {f['statcache_load_s']:.3f} s, "
         f"after a one-file edit {f['tree_warm_after_edit_s']:.3f} s"),
        ("hash-big", f"hash one {int(f['bigfile_mib'])} MiB file", f["bigfile_hash_file_MBps"], "MB/s",
         f"raw blake3: {f['bigfile_raw_blake3_MBps']:.0f} MB/s 1 thread, "
         f"{f['bigfile_raw_blake3_auto_MBps']:.0f} MB/s all threads"),
    ]
    for key, label, value, unit, note in rows:  # bench_hashing reports the best of 5 (cold: one run)
        ctx.rows.append(Row(key, label, {"slcc": value}, unit=unit, note=note, figures=dict(f)))


ROW_FUNCS: dict[str, Callable[[Context], None]] = {
    "hashing": row_hashing, "emit": row_emit, "noop": row_noop, "noop-images": row_noop_images,
    "lock": row_lock,
    "incremental": row_incremental, "watch": row_watch, "serve": row_serve, "cache": row_cache, "cold": row_cold,
}
NEEDS_ENGINE = {"noop", "noop-images", "lock", "incremental", "watch", "serve", "cache", "cold"}
# Rough minutes per row on this 2-vCPU machine under some load, per fast repetition (reps) or
# per cold repetition (cold_reps), plus a fixed part: only for the estimate printed at the start.
MINUTES = {"hashing": (0.0, 0.0, 1.0), "emit": (0.2, 0.0, 0.5), "noop": (0.3, 0.0, 1.0),
           "noop-images": (0.6, 0.0, 3.0), "lock": (0.1, 0.0, 0.5), "incremental": (0.8, 0.0, 0.5),
           "watch": (0.2, 0.0, 0.5), "serve": (0.0, 0.0, 4.0), "cache": (0.0, 4.0, 1.0), "cold": (0.0, 7.0, 0.0)}


def estimate_minutes(config: Config) -> float:
    """What the chosen rows should take (from earlier runs; the exaslct install not included)."""
    total = 0.0
    for name in config.only:
        per_rep, per_cold, fixed = MINUTES[name]
        share = 1.0 if config.exaslct or name not in {"noop", "incremental", "cold"} else 0.6
        total += (per_rep * config.reps + per_cold * config.cold_reps) * share + fixed
    return total


# --- output --------------------------------------------------------------------------------------


def fmt(cell: Cell, unit: str) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, str):
        return cell
    if unit == "MB/s":
        return f"{cell:,.0f} MB/s"
    return f"{cell * 1000:.0f} ms" if cell < 1 else f"{cell:.2f} s"


def fmt_bytes(size: float) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.1f} kB"


def fmt_cell(row: Row, tool: str) -> str:
    """The median, and min-max when the row has more than one sample for ``tool``."""
    text = fmt(row.cells.get(tool), row.unit)
    values = row.samples.get(tool, [])
    if len(values) > 1 and isinstance(row.cells.get(tool), float):
        low, _, high = bt.spread(values)
        text += f" ({fmt(low, row.unit)}-{fmt(high, row.unit)}, n={len(values)})"
    return text


def fmt_load(row: Row) -> str:
    """Load average (1 min) at the row's start and end, over the number of CPUs."""
    start, end = row.load.get("start"), row.load.get("end")
    if not isinstance(start, list) or not isinstance(end, list):
        return "-"
    return f"{start[0]:.1f}->{end[0]:.1f} /{row.load.get('nproc')}"


def table(rows: Sequence[Row]) -> list[list[str]]:
    header = ["row", *TOOLS, "raw/slcc", "exaslct/slcc", "load", "note"]
    body = []
    for r in rows:
        ratios = [f"{x:.1f}x" if (x := r.ratio(t)) else "-" for t in ("raw bake", "exaslct")]
        body.append([r.label, *(fmt_cell(r, t) for t in TOOLS), *ratios, fmt_load(r), r.note])
    return [header, *body]


def render_text(rows: Sequence[Row]) -> str:
    cells = table(rows)
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)) + "  " + line[-1]
                     for line in cells)


def render_markdown(rows: Sequence[Row], meta: dict[str, object]) -> str:
    cells = table(rows)
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in cells[1:]]
    info = [f"- {k}: {v}" for k, v in meta.items() if isinstance(v, str)]
    for key in ("versions", "machine"):
        value = meta[key]
        assert isinstance(value, dict)
        info.append(f"- {key}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
    return "\n".join([*lines, "", *info]) + "\n"


def write_outputs(ctx: Context, meta: dict[str, object], quiet: bool = False) -> None:
    out = ctx.config.out
    out.mkdir(parents=True, exist_ok=True)
    data = {
        **meta,
        "rows": [{"key": r.key, "label": r.label, "unit": r.unit, "cells": r.cells, "note": r.note,
                  "ratios": {t: r.ratio(t) for t in ("raw bake", "exaslct")}, "samples": r.samples,
                  "spread": {t: bt.spread(v) for t, v in r.samples.items() if v}, "load": r.load,
                  "figures": r.figures}
                 for r in ctx.rows],
        **ctx.extra,
    }
    (out / "results.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text(render_markdown(ctx.rows, meta), encoding="utf-8")
    if not quiet:
        log(f"wrote {out / 'results.json'} and {out / 'results.md'}")


# --- main ----------------------------------------------------------------------------------------


def run_row(ctx: Context, name: str) -> None:
    """Run one row function; every table row it adds records the load at its start and end."""
    first = len(ctx.rows)
    start, started = bt.load(), time.time()
    ROW_FUNCS[name](ctx)
    load: dict[str, object] = {"start": list(start), "end": list(bt.load()), "nproc": os.cpu_count(),
            "seconds": round(time.time() - started, 1)}
    for row in ctx.rows[first:]:
        row.load = load


def parse_args(argv: Sequence[str]) -> Config:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3, help="repetitions of fast rows (median reported)")
    p.add_argument("--cold-reps", type=int, default=3,
                   help="repetitions of the cold and cache rows (tools take turns going first)")
    p.add_argument("--only", action="append", choices=ROWS, default=[], help="run only this row (repeatable)")
    p.add_argument("--out", type=Path, default=bt.REPO / ".slcc" / "bench", help="where results go")
    p.add_argument("--no-prune", action="store_true",
                   help="cold row: do not run `docker buildx prune -af` (the shared engine's whole cache); "
                   "a new ENV line alone still misses every layer, but apt/pip cache mounts stay warm")
    p.add_argument("--no-exaslct", action="store_true", help="skip exaslct (no venv install)")
    p.add_argument("--emit-sizes", default="1000,2000,4000", help="synthetic step counts for the emit row")
    args = p.parse_args(argv)
    out: Path = args.out.resolve()
    return Config(args.reps, args.cold_reps, tuple(args.only) or ROWS, out, out / "work", not args.no_prune,
                  not args.no_exaslct, tuple(int(n) for n in args.emit_sizes.split(",")))


def _tools(config: Config) -> tuple[dict[str, bt.Tool | str], str | None]:
    tools: dict[str, bt.Tool | str] = {"slcc": bt.slcc_tool(), "raw bake": bt.raw_tool()}
    version = None
    if not config.exaslct:
        tools["exaslct"] = "n/a: skipped (--no-exaslct)"
        return tools, version
    venv = config.out / "exaslct-venv"
    try:
        version = bt.ensure_exaslct(venv)
        tools["exaslct"] = bt.exaslct_tool(venv)
    except bt.ToolError as exc:
        tools["exaslct"] = "n/a: install failed: " + str(exc).splitlines()[-1][:160]
    return tools, version


def main(argv: Sequence[str]) -> int:
    config = parse_args(argv)
    started = time.time()
    engine_rows = NEEDS_ENGINE.intersection(config.only)
    tool_rows = engine_rows - {"serve"}  # the serve row drives slcc serve only
    tools, exaslct_version = _tools(config) if tool_rows else ({}, None)
    ws = bt.make_workspace(config.work)
    ctx = Context(config, ws, tools)
    log(f"rows: {', '.join(n for n in ROWS if n in config.only)}; estimated {estimate_minutes(config):.0f} min "
        f"(--reps {config.reps}, --cold-reps {config.cold_reps}, load now {bt.load()[0]:.1f} on {os.cpu_count()} CPUs)")
    versions = bt.versions(exaslct_version)

    def meta(done: bool) -> dict[str, object]:
        return {
            "command": shlex.join(["python", "tests/benchmarks/run.py", *argv]),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "total_seconds": f"{time.time() - started:.0f}",
            "complete": "yes" if done else "no: rows still to run",
            "versions": versions,
            "machine": bt.machine(),
        }

    for name in ROWS:
        if name in config.only:
            run_row(ctx, name)
            write_outputs(ctx, meta(done=False), quiet=True)  # an interrupted run keeps what it measured
    print(render_text(ctx.rows))
    write_outputs(ctx, meta(done=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
