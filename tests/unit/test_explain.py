"""slcc explain: the reasons two hash manifests of one step differ, one line per difference."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from slcc.hashing.stephash import ManifestEntry, _tree_manifest
from slcc.hashing.treehash import hash_tree
from slcc.planning.explain import MAX_FILES, reasons

A, B = "a" * 64, "b" * 64


def _manifest() -> dict[str, Any]:
    return {
        "version": "2", "flavor": "demo", "step": "app", "hash": "h0", "dockerfile": "d0",
        "context": {"digest": "c0", "files": {"run.sh": f"file:x:{A}", "data.txt": f"file:-:{A}"}},
        "mappings": {"lib": {"digest": "m0", "files": {"lib.py": f"file:-:{A}"}}},
        "args": {"VERSION": "1"}, "platforms": ["linux/amd64"], "target": None,
        "depends": {"base": "hb"}, "files": {"packages.yml": "p0"},
        "images": {"debian": "sha256:1"},
        "sources": {"lib": {"ref": "main", "commit": "1" * 40, "tree": "t0"}},
    }


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a key below ``path`` (keys joined by '>', so file names may hold dots)."""
    *parents, last = path.split(">")

    def change(manifest: dict[str, Any]) -> None:
        node = manifest
        for key in parents:
            node = node[key]
        node[last] = value
    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(">")

    def change(manifest: dict[str, Any]) -> None:
        node = manifest
        for key in parents:
            node = node[key]
        del node[last]
    return change


def _context(files: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    return _set("context", {"digest": "c1", "files": files})


CASES = {
    "dockerfile": (_set("dockerfile", "d1"), ["Dockerfile changed"]),
    "hash-format": (_set("version", "3"), ["hash format changed"]),
    "context-added": (_context({"run.sh": f"file:x:{A}", "data.txt": f"file:-:{A}", "new": f"file:-:{B}"}),
                      ["context: added new"]),
    "context-removed": (_context({"run.sh": f"file:x:{A}"}), ["context: removed data.txt"]),
    "context-changed": (_context({"run.sh": f"file:x:{A}", "data.txt": f"file:-:{B}"}), ["context: changed data.txt"]),
    "exec-bit": (_context({"run.sh": f"file:-:{A}", "data.txt": f"file:-:{A}"}), ["context: executable bit of run.sh"]),
    "mapping-file": (_set("mappings>lib", {"digest": "m1", "files": {"lib.py": f"file:-:{B}"}}),
                     ["mapping lib: changed lib.py"]),
    "mapping-added": (_set("mappings>extra", {"digest": "e", "files": {}}), ["mapping extra added"]),
    "mapping-removed": (_set("mappings", {}), ["mapping lib removed"]),
    "context-file": (_set("files>packages.yml", "p1"), ["context file packages.yml changed"]),
    "arg-changed": (_set("args>VERSION", "2"), ["arg VERSION changed"]),
    "arg-added": (_set("args>DEBUG", "1"), ["arg DEBUG added"]),
    "arg-removed": (_delete("args>VERSION"), ["arg VERSION removed"]),
    "platforms": (_set("platforms", ["linux/arm64"]), ["platforms ['linux/amd64'] -> ['linux/arm64']"]),
    "target": (_set("target", "final"), ["Dockerfile target stage changed"]),
    "image-moved": (_set("images>debian", "sha256:2"), ["base image debian moved from sha256:1 to sha256:2"]),
    "image-added": (_set("images>alpine", "sha256:3"), ["base image alpine added (sha256:3)"]),
    "image-removed": (_delete("images>debian"), ["base image debian removed"]),
    "source-moved": (_set("sources>lib", {"ref": "v2", "commit": "2" * 40, "tree": "t1"}),
                     [f"mapping lib moved from main {'1' * 12} to v2 {'2' * 12}"]),
    "dependency": (_set("depends>base", "hb2"), ["dependency base changed"]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_one_difference_gives_exactly_its_reason(case: str) -> None:
    change, expected = CASES[case]
    current = copy.deepcopy(_manifest())
    change(current)
    current["hash"] = "h1"
    assert reasons(_manifest(), current) == expected


def test_same_hash_needs_no_reason() -> None:
    current = _manifest()
    current["dockerfile"] = "ignored: the hash says the inputs are the same"
    assert reasons(_manifest(), current) == []


def test_never_built_says_so() -> None:
    assert reasons(None, _manifest()) == ["never built here (no earlier manifest)"]


def test_a_differing_hash_always_gets_a_reason() -> None:
    current = _manifest()
    current["hash"] = "h1"
    assert reasons(_manifest(), current) == ["inputs differ"]


def test_several_differences_are_all_listed_in_pipeline_order() -> None:
    current = copy.deepcopy(_manifest())
    for change in (_set("dockerfile", "d1"), _set("args>VERSION", "2"), _set("depends>base", "hb2")):
        change(current)
    current["hash"] = "h1"
    assert reasons(_manifest(), current) == ["Dockerfile changed", "arg VERSION changed", "dependency base changed"]


def test_many_changed_files_are_summarised() -> None:
    current = _manifest()
    files = {f"f{i:02}": f"file:-:{B}" for i in range(MAX_FILES + 5)}
    current.update(hash="h1", context={"digest": "c1", "files": files})
    previous = _manifest()
    previous["context"] = {"digest": "c0", "files": {}}
    out = reasons(previous, current)
    assert out[:MAX_FILES] == [f"context: added f{i:02}" for i in range(MAX_FILES)]
    assert out[MAX_FILES:] == ["context: ... and 5 more"]


def _tree(root: Path) -> dict[str, Any]:
    """A real tree's part of a manifest, as a build stores it."""
    return {"context": _tree_manifest(hash_tree(root))}


def _diff(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    return reasons({**_manifest(), **previous}, {**_manifest(), **current, "hash": "h1"})


def test_paths_and_link_targets_holding_colons_diff_right(tmp_path: Path) -> None:
    """A path is a key and never split; a symlink's target is the stored value's last field."""
    (tmp_path / "dir:1").mkdir()
    script = tmp_path / "dir:1" / "run:me.sh"
    script.write_text("echo hi\n", encoding="utf-8")
    (tmp_path / "link").symlink_to("x:y:z")
    before = _tree(tmp_path)
    assert before["context"]["files"]["link"] == "symlink:-:x:y:z"
    script.chmod(0o755)
    assert _diff(before, _tree(tmp_path)) == ["context: executable bit of dir:1/run:me.sh"]
    (tmp_path / "link").unlink()
    (tmp_path / "link").symlink_to("x:y:w")
    script.write_text("echo changed\n", encoding="utf-8")
    assert _diff(before, _tree(tmp_path)) == ["context: changed dir:1/run:me.sh", "context: changed link"]
    (tmp_path / "link").unlink()
    (tmp_path / "link").write_text("x:y:z", encoding="utf-8")
    assert "context: link is now a file (was a symlink)" in _diff(before, _tree(tmp_path))


@pytest.mark.parametrize(("value", "entry"), [
    ("file:x:" + A, ManifestEntry("p:q", "file", True, A)),
    ("symlink:-:a:b", ManifestEntry("p:q", "symlink", False, "a:b")),
    ("dir:-:", ManifestEntry("p:q", "dir", False, "")),
    (A, None), ("file:?:" + A, None), (":-:" + A, None), (7, None),
], ids=["file", "link-with-colons", "dir", "bare-digest", "bad-mark", "no-kind", "not-text"])
def test_a_manifest_entry_reads_back_what_was_written(value: object, entry: ManifestEntry | None) -> None:
    assert ManifestEntry.parse("p:q", value) == entry
    if entry is not None:
        assert entry.encoded() == value


def test_entries_of_an_older_format_are_compared_whole_not_crashed_on() -> None:
    old = {"context": {"digest": "c0", "files": {"a:b": "deadbeef", "same": "x"}}}
    new = {"context": {"digest": "c1", "files": {"a:b": "feedface", "same": "x"}}}
    assert _diff(old, new) == ["context: changed a:b"]
