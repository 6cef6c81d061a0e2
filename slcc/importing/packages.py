"""Which package files an exaslct flavor has and which steps they hold entries for."""

from __future__ import annotations

from pathlib import Path

from slcc.loading.packagefile import load_package_source

# exaslct's PackageFileLocation: the public file first, then the internal one.
PACKAGE_SOURCES = ("packages.yml", "flavor_base/packages.yml")


def package_sources(flavor_dir: Path) -> list[str]:
    return [rel for rel in PACKAGE_SOURCES if (flavor_dir / rel).is_file()]


def step_entries(flavor_dir: Path, sources: list[str]) -> set[str]:
    names: set[str] = set()
    for rel in sources:
        names.update(entry["name"] for entry in load_package_source(flavor_dir / rel).get("build_steps", []))
    return names
