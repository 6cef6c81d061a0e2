"""Generated ``<step>_packages.yml`` files from a flavor's ``packages.yml`` (exaslct's format).

exaslct generates, for each build step, a package file holding only that step's entry of
the flavor's ``packages.yml`` (else ``flavor_base/packages.yml``); Dockerfiles COPY it from
the context. slcc generates the same file at load time, so it needs no regeneration step:
editing packages.yml changes exactly the bytes, and so the hashes, of the steps whose entry
changed. The text is ``yaml.dump(..., sort_keys=True)`` of the entry with every
``channels`` list sorted, as exaslct does; exaslct first passes the entry through its
package model, so values it normalises may be spelled differently (see docs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slcc.errors import InputError

_COMMENT = "Automatically generated package file for build step {step}"


def _sort_channels(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: sorted(v) if k == "channels" and isinstance(v, list) else _sort_channels(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_sort_channels(v) for v in value]
    return value


_parsed: dict[tuple[str, int, int, int], dict[str, Any]] = {}


def load_package_source(path: Path) -> dict[str, Any]:
    """The parsed file, memoised by path and stat: steps of a flavor share one parse."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path) from None
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _parsed:
        _parsed[key] = _parse(path)
    return _parsed[key]


def _parse(path: Path) -> dict[str, Any]:
    import yaml  # noqa: PLC0415 - only flavors with package files pay for the import

    # libyaml's loader when PyYAML has it: 10x faster than the pure Python one.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {' '.join(str(exc).split())}", path) from None
    if not isinstance(data, dict) or not isinstance(data.get("build_steps", []), list):
        raise InputError("a package file needs a top-level build_steps list", path)
    for index, entry in enumerate(data.get("build_steps", [])):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InputError(f"build_steps[{index}] has no name", path)
    return data


def step_package_file(sources: Sequence[Path], step: str) -> bytes | None:
    """The generated package file of ``step`` from the first source that has an entry for it."""
    import yaml  # noqa: PLC0415

    for path in sources:
        data = load_package_source(path)
        for entry in data.get("build_steps", []):
            if entry["name"] == step:
                document = {"build_steps": [_sort_channels(entry)], "comment": _COMMENT.format(step=step)}
                if "version" in data:
                    document["version"] = data["version"]
                dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
                text: str = yaml.dump(document, Dumper=dumper, sort_keys=True)
                return text.encode("utf-8")
    return None
