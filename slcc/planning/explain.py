"""Why a step's hash differs from the last one built: a diff of two hash manifests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slcc.hashing.stephash import ManifestEntry
from slcc.keydiff import key_changes

Manifest = Mapping[str, Any]
MAX_FILES = 10  # per tree; the rest is summarised


def _tree_diff(label: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    if old.get("digest") == new.get("digest"):
        return []
    old_files, new_files = old.get("files", {}), new.get("files", {})
    changes = []
    for path in sorted(set(old_files) | set(new_files)):
        if path not in old_files:
            changes.append(f"{label}: added {path}")
        elif path not in new_files:
            changes.append(f"{label}: removed {path}")
        elif old_files[path] != new_files[path]:
            before, after = ManifestEntry.parse(path, old_files[path]), ManifestEntry.parse(path, new_files[path])
            changes.append(f"{label}: {_entry_change(path, before, after)}")
    if len(changes) > MAX_FILES:
        changes = [*changes[:MAX_FILES], f"{label}: ... and {len(changes) - MAX_FILES} more"]
    return changes


def _entry_change(path: str, before: ManifestEntry | None, after: ManifestEntry | None) -> str:
    """How the entry at ``path`` changed (its stored value differs)."""
    if before is not None and after is not None:
        if before.kind != after.kind:
            return f"{path} is now a {after.kind} (was a {before.kind})"
        if before.executable != after.executable and before.digest == after.digest:
            return f"executable bit of {path}"
    return f"changed {path}"  # an entry of an older format (None) is compared as a whole


def _map_diff(label: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [f"{label} {c.key} {c.kind}" for c in key_changes(old, new)]


def _image_diff(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    return [f"base image {c.key} moved from {c.before} to {c.after}" if c.kind == "changed"
            else f"base image {c.key} added ({c.after})" if c.kind == "added"
            else f"base image {c.key} removed"
            for c in key_changes(old, new)]


def _source_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out = []
    for name in sorted(set(old) & set(new)):
        before, after = old[name], new[name]
        if before.get("tree") != after.get("tree"):
            out.append(f"mapping {name} moved from {before.get('ref')} {str(before.get('commit'))[:12]} "
                       f"to {after.get('ref')} {str(after.get('commit'))[:12]}")
    return out


def reasons(previous: Manifest | None, current: Manifest) -> list[str]:
    """Human-readable differences; empty when the manifests describe the same hash."""
    if previous is None:
        return ["never built here (no earlier manifest)"]
    if previous.get("hash") == current.get("hash"):
        return []
    out: list[str] = []
    if previous.get("version") != current.get("version"):
        out.append("hash format changed")
    if previous.get("dockerfile") != current.get("dockerfile"):
        out.append("Dockerfile changed")
    out += _tree_diff("context", previous.get("context", {}), current.get("context", {}))
    old_maps, new_maps = previous.get("mappings", {}), current.get("mappings", {})
    for name in sorted(set(old_maps) | set(new_maps)):
        if name not in old_maps or name not in new_maps:
            out.append(f"mapping {name} {'added' if name in new_maps else 'removed'}")
        else:
            out += _tree_diff(f"mapping {name}", old_maps[name], new_maps[name])
    # Extra context files (`files`, generated package files): "packages.yml entry changed" shows here.
    out += _map_diff("context file", previous.get("files", {}), current.get("files", {}))
    out += _map_diff("arg", previous.get("args", {}), current.get("args", {}))
    if previous.get("platforms") != current.get("platforms"):
        out.append(f"platforms {previous.get('platforms')} -> {current.get('platforms')}")
    if previous.get("target") != current.get("target"):
        out.append("Dockerfile target stage changed")
    out += _image_diff(previous.get("images", {}), current.get("images", {}))
    out += _source_diff(previous.get("sources", {}), current.get("sources", {}))
    out += _map_diff("dependency", previous.get("depends", {}), current.get("depends", {}))
    return out or ["inputs differ"]
