"""The three tools under test (slcc, raw bake, exaslct), their scratch repository, and timing.

Every build runs in a scratch copy of the repository under the bench work directory, never in
the checkout itself: the incremental and cold rows edit the client and Dockerfiles, and other
people build from the checkout at the same time. slcc hashes are location-independent, so the
copy has the same hashes as the checkout.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
EXASLCT_VERSION = "4.4.0"
EXASLCT_PACKAGE = f"exasol-script-languages-container-tool=={EXASLCT_VERSION}"
FLAVOR = "python3"
GOAL = "release"  # flavors/python3's only goal; raw bake and exaslct build the same target
SLCC_REPOSITORY = "slcc-bench"  # own image names, so the bench never retags the checkout's images
# exaslct probes its source repository for every image it lacks; a local registry answers
# "not found" at once, Docker Hub is unreachable here.
EXASLCT_REPOSITORY = "127.0.0.1:5000/exaslct-bench"
CLIENT_EDIT_FILE = "client/version.c"
ROOT_STEPS = ("udfclient_deps", "build_deps", "language_deps")  # steps FROM the base image


Log = Callable[[str], None]


class ToolError(RuntimeError):
    """A tool under test failed; carries the command and the tail of its output."""


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for every timed command.

    This machine sets PYTHONDONTWRITEBYTECODE, so every CLI start would recompile all imported
    modules; users do not run like that, so it is removed (for exaslct too).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def run(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run a command; raise ToolError with the output tail when it fails."""
    proc = subprocess.run(list(argv), cwd=cwd, env=env or bench_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        msg = f"{' '.join(argv)} exited {proc.returncode}:\n{tail}"
        raise ToolError(msg)
    return proc


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def rotated(items: Sequence[str], rep: int) -> list[str]:
    """``items`` starting at ``rep`` (mod len): over len(items) repetitions each one goes first
    once, so no tool always warms the apt/pip proxy or the page cache for the others."""
    at = rep % len(items)
    return [*items[at:], *items[:at]]


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """min, median, max."""
    return min(values), statistics.median(values), max(values)


def load() -> tuple[float, float, float]:
    """The machine's load average (1, 5, 15 minutes)."""
    return os.getloadavg()


def nonce() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Tool:
    """One build tool: how to build the python3 goal in the scratch repository."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str]

    def build(self, workspace: Path) -> float:
        """Seconds for one build, wall clock, including interpreter/CLI start."""
        return timed(lambda: run(self.argv, workspace, self.env))


def slcc_argv() -> list[str]:
    """The installed ``slcc`` script next to this interpreter (what a user runs), else ``-m``."""
    script = Path(sys.executable).parent / "slcc"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "slcc"]


def slcc_tool(cache: str | None = None) -> Tool:
    argv = [*slcc_argv(), "build", FLAVOR, "--progress", "quiet"]
    if cache:
        argv += ["--cache", cache]
    return Tool("slcc", tuple(argv), bench_env(SLCC_REPOSITORY=SLCC_REPOSITORY))


def raw_tool() -> Tool:
    argv = ("docker", "buildx", "bake", "-f", "raw/python3.hcl", "--progress=plain", GOAL)
    return Tool("raw bake", argv, bench_env())


def exaslct_tool(venv: Path) -> Tool:
    argv = (
        str(venv / "bin" / "exaslct"), "build", "--flavor-path", f"exaslct/{FLAVOR}", "--goal", GOAL,
        "--source-docker-repository-name", EXASLCT_REPOSITORY,
        "--target-docker-repository-name", EXASLCT_REPOSITORY,
    )
    return Tool("exaslct", argv, bench_env())


def ensure_exaslct(venv: Path) -> str:
    """Create the separate exaslct venv on first use; return the installed version."""
    exe = venv / "bin" / "exaslct"
    if not exe.is_file():
        print(f"installing {EXASLCT_PACKAGE} into {venv} (once)", file=sys.stderr)
        # The host interpreter, not this venv's: exaslct's pins must not touch slcc's deps.
        base = shutil.which("python3") or sys.executable
        run([base, "-m", "venv", str(venv)], BENCH_DIR)
        run([str(venv / "bin" / "pip"), "install", "-q", EXASLCT_PACKAGE], BENCH_DIR, timeout=1800)
    proc = run([str(venv / "bin" / "pip"), "show", "exasol-script-languages-container-tool"], BENCH_DIR)
    return next((ln.split(":", 1)[1].strip() for ln in proc.stdout.splitlines() if ln.startswith("Version:")),
                "unknown")


def make_workspace(work: Path) -> Path:
    """A scratch repository with the flavor, client, raw bake file and exaslct twin.

    Sources are copied afresh each run; ``.slcc`` (slcc's stat cache and local build cache)
    and ``.build_output`` (exaslct's) are kept, as they would be in a real checkout.
    """
    ws = work / "repo"
    ws.mkdir(parents=True, exist_ok=True)
    copies = {
        f"flavors/{FLAVOR}": REPO / "flavors" / FLAVOR,
        "client": REPO / "client",
        f"exaslct/{FLAVOR}": BENCH_DIR / "exaslct_twin" / FLAVOR,
    }
    for dest, src in copies.items():
        shutil.rmtree(ws / dest, ignore_errors=True)
        shutil.copytree(src, ws / dest, ignore=shutil.ignore_patterns("build", "__pycache__"))
    (ws / "raw").mkdir(exist_ok=True)
    shutil.copy2(BENCH_DIR / "raw" / "python3.hcl", ws / "raw" / "python3.hcl")
    return ws


def edit_client(ws: Path, marker: str) -> None:
    """The one-line client change: a line of code that is new every time, a global string the
    compiler must keep (external linkage), so the object file, the linked binary and every image
    after build_run really change. A comment would leave the compiled code alone (issue 14)."""
    path = ws / CLIENT_EDIT_FILE
    original = (REPO / CLIENT_EDIT_FILE).read_text(encoding="utf-8")
    path.write_text(original + f'const char slc_bench_edit[] = "bench edit {marker}";\n', encoding="utf-8")


def restore_client(ws: Path) -> None:
    shutil.copy2(REPO / CLIENT_EDIT_FILE, ws / CLIENT_EDIT_FILE)


def set_base_nonce(ws: Path, marker: str | None) -> None:
    """Give the steps built FROM the base image a new ENV line (None: restore them).

    A changed instruction misses every cache below it (BuildKit's and the legacy builder's)
    and changes every hash, so no tagged image matches: a cold build for all three tools.
    """
    for step in ROOT_STEPS:
        pairs = (
            (REPO / "flavors" / FLAVOR / step / "Dockerfile", ws / "flavors" / FLAVOR / step / "Dockerfile"),
            (BENCH_DIR / "exaslct_twin" / FLAVOR / "flavor_base" / step / "Dockerfile",
             ws / "exaslct" / FLAVOR / "flavor_base" / step / "Dockerfile"),
        )
        for src, dest in pairs:
            text = src.read_text(encoding="utf-8")
            if marker is not None:
                lines = text.splitlines(keepends=True)
                at = next(i for i, ln in enumerate(lines) if ln.startswith("FROM ")) + 1
                lines.insert(at, f"ENV SLCC_BENCH_NONCE={marker}\n")
                text = "".join(lines)
            dest.write_text(text, encoding="utf-8")


def image_refs(repository: str) -> set[str]:
    proc = run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", repository], BENCH_DIR)
    return {ln for ln in proc.stdout.splitlines() if not ln.endswith(":<none>")}


def bench_image_refs() -> set[str]:
    """Tags only the bench creates (its slcc repository and the exaslct twin's)."""
    return image_refs(f"{SLCC_REPOSITORY}/{FLAVOR}") | image_refs(EXASLCT_REPOSITORY)


def remove_images(refs: set[str]) -> None:
    if refs:
        subprocess.run(["docker", "rmi", "-f", *sorted(refs)], capture_output=True, check=False)


def versions(exaslct: str | None) -> dict[str, str]:
    from slcc import __version__  # imported late: run.py puts the checkout on sys.path first

    docker = run(["docker", "version", "--format", "{{.Server.Version}}"], BENCH_DIR).stdout.strip()
    buildx = run(["docker", "buildx", "version"], BENCH_DIR).stdout.strip()
    return {
        "slcc": __version__,
        "python": sys.version.split()[0],
        "docker": docker,
        "buildx": buildx,
        "exaslct": exaslct or "not installed",
    }


def machine() -> dict[str, str]:
    mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal:"))
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "unknown")
    return {
        "nproc": str(os.cpu_count()),
        "ram_gib": f"{mem_kb / 2**20:.1f}",
        "cpu": cpu,
        "kernel": os.uname().release,
    }
