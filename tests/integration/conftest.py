"""Fixtures the engine tests of the demo repository share: a fresh checkout (``repo``) and an
image repository name no other test uses (``repository``), each from a factory whose options
cover the variants (files of a test's own, a nonce against BuildKit's cache, cleanup of every tag
the checkout can get).

A test module overrides ``repo`` or ``repository`` with the factory when it needs a variant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pytest

from tests.conftest import ImageCleanup
from tests.helpers import make_repo, run_slcc


class DemoRepoFactory(Protocol):
    def __call__(self, overrides: Mapping[str, str | None] | None = None, *, nonce: bool = False) -> Path: ...


class RepositoryFactory(Protocol):
    def __call__(self, *, clean_up_tags_of: Path | None = None) -> str: ...


@pytest.fixture
def demo_repo(tmp_path: Path, base_image: str) -> DemoRepoFactory:
    """Makes the demo repository at tmp_path/repo with ``overrides``. ``nonce``: base's first layer
    holds a random line, because BuildKit's cache outlives the images a session removes and a test
    that watches instructions run must not get them answered from that cache."""

    def make(overrides: Mapping[str, str | None] | None = None, *, nonce: bool = False) -> Path:
        files = dict(overrides or {})
        if nonce:
            files["flavors/demo/base/hello.txt"] = f"hello {uuid.uuid4().hex}\n"
        return make_repo(tmp_path / "repo", files)

    return make


@pytest.fixture
def new_repository(image_cleanup: ImageCleanup) -> RepositoryFactory:
    """Makes an image repository name no other test uses, so a test starts with no fresh images.
    ``clean_up_tags_of``: every tag that checkout's steps can get is removed after the session
    (for tests that build through something other than a JSON report)."""

    def make(*, clean_up_tags_of: Path | None = None) -> str:
        name = f"slcct{uuid.uuid4().hex[:10]}"
        if clean_up_tags_of is not None:
            hashes = run_slcc(clean_up_tags_of, "hash", "demo", "--json", "--repository", name)
            assert hashes.returncode == 0, hashes.stderr
            image_cleanup.add(*(row["tag"] for row in json.loads(hashes.stdout)))
        return name

    return make


@pytest.fixture
def repo(demo_repo: DemoRepoFactory) -> Path:
    return demo_repo()


@pytest.fixture
def repository(new_repository: RepositoryFactory) -> str:
    return new_repository()
