"""Where materialized contexts live: copies that BuildKit gets instead of a directory.

A step context with extra files (``files``, ``package_file``), a file mapping and a
mapping that follows symlinks cannot be handed to BuildKit as a plain directory. slcc
writes a copy of exactly the hashed entries under ``.slcc/contexts/``, named by the
digest, so the path in a bake file is as deterministic as the hash (slcc/state/contexts.py
writes them).
"""

from __future__ import annotations

from pathlib import Path

from slcc.hashing.stephash import StepHash
from slcc.loading.config import Settings
from slcc.model import Flavor, Step


def step_context_dir(settings: Settings, flavor: Flavor, step: Step, step_hash: StepHash) -> Path:
    return settings.state_dir / "contexts" / flavor.image_name / f"{step.name}-{step_hash.short}"


def mapping_dir(settings: Settings, flavor: Flavor, name: str, step_hash: StepHash) -> Path:
    digest = step_hash.mappings[name].digest[:32]
    return settings.state_dir / "contexts" / flavor.image_name / f"mapping-{name}-{digest}"


def context_of(settings: Settings, flavor: Flavor, step: Step, step_hash: StepHash) -> Path:
    return step_context_dir(settings, flavor, step, step_hash) if step.materialized else step.context


def mapping_of(settings: Settings, flavor: Flavor, name: str, step_hash: StepHash) -> Path:
    return mapping_dir(settings, flavor, name, step_hash) if flavor.materialized_mapping(name) else \
        flavor.mappings[name]
