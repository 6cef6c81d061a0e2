"""Where materialized contexts live: copies that BuildKit gets instead of a directory.

A step context with extra files (``files``, ``package_file``), a file mapping and a
mapping that follows symlinks cannot be handed to BuildKit as a plain directory. slcc
writes a copy of exactly the hashed entries under ``.slcc/contexts/``, named by the
digest, so the path in a bake file is as deterministic as the hash (slcc/state/contexts.py
writes them). A mapping's copy depends on nothing but its entries, and its tree digest is the
hash of exactly those, so one copy per digest serves every flavor, step and mapping name.
"""

from __future__ import annotations

from pathlib import Path

from slcc.hashing.stephash import StepHash
from slcc.loading.config import Settings
from slcc.model import Flavor, Step


def step_context_dir(settings: Settings, flavor: Flavor, step: Step, step_hash: StepHash) -> Path:
    return settings.state_dir / "contexts" / flavor.image_name / f"{step.name}-{step_hash.short}"


SHARED_MAPPINGS = "_mappings"  # under .slcc/contexts/; a flavor's image name never starts with "_"


def shared_mappings_dir(settings: Settings) -> Path:
    return settings.state_dir / "contexts" / SHARED_MAPPINGS


def mapping_dir(settings: Settings, flavor: Flavor, name: str, step_hash: StepHash) -> Path:
    return shared_mappings_dir(settings) / step_hash.mappings[name].digest[:32]


def context_of(settings: Settings, flavor: Flavor, step: Step, step_hash: StepHash) -> Path:
    return step_context_dir(settings, flavor, step, step_hash) if step.materialized else step.context


def mapping_of(settings: Settings, flavor: Flavor, name: str, step_hash: StepHash) -> Path:
    return mapping_dir(settings, flavor, name, step_hash) if flavor.materialized_mapping(name) else \
        flavor.mappings[name]
