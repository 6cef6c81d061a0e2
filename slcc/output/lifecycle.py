"""Text for `slcc clean` and `slcc du`: aligned tables and a one-line summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slcc.loading.units import human_size
from slcc.planning.retention import Decision
from slcc.planning.usage import DiskUsage


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]


def clean_lines(decisions: Sequence[Decision], results: Mapping[str, str], dry_run: bool) -> list[str]:
    """What went (or would go), then a summary with the bytes freed."""
    gone = [d for d in decisions if d.remove]
    verb = "would remove" if dry_run else "removed"
    rows = [(results.get(d.item.name, verb), d.item.kind, human_size(d.item.size), d.item.name, d.reason) for d in gone]
    lines = table(rows, ("ACTION", "KIND", "SIZE", "NAME", "WHY")) if rows else []
    done = [d for d in gone if dry_run or results.get(d.item.name) == "removed"]
    kept = len(decisions) - len(gone)
    skipped = len(gone) - len(done)
    extra = f", {skipped} in use or already gone" if skipped else ""
    lines.append(f"{verb} {len(done)} item(s), {human_size(sum(d.item.size for d in done))}; kept {kept}{extra}")
    return lines


def du_lines(usage: DiskUsage) -> list[str]:
    rows = [(u.group, str(u.images), human_size(u.bytes["image"]), human_size(u.bytes["cache"]),
             human_size(u.bytes["export"]), human_size(u.total)) for u in usage.steps]
    rows.append((f"runs ({usage.runs.count})", "", "", "", "", human_size(usage.runs.bytes)))
    if usage.checkouts.count:
        rows.append((f"git checkouts ({usage.checkouts.count})", "", "", "", "", human_size(usage.checkouts.bytes)))
    if usage.trash_bytes:
        rows.append(("unfinished clean", "", "", "", "", human_size(usage.trash_bytes)))
    rows.append(("total", "", "", "", "", human_size(usage.total)))
    return table(rows, ("STEP", "IMAGES", "IMAGE", "CACHE", "EXPORT", "TOTAL"))
