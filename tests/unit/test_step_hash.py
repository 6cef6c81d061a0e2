"""Hash soundness at the step level (DESIGN.md rule 1), with hypothesis choosing the edits.

Every relevant change changes exactly the edited step's hash and its dependents' hashes;
irrelevant changes (mtimes, transparent args, ignored files, checkout location) change none.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from slcc.hashing.stephash import FlavorHasher
from slcc.loading.config import load_settings
from slcc.loading.flavor import load_flavor
from tests.helpers import DEMO_FILES, fake_digests, flavor_images, make_repo

TOML = "flavors/demo/flavor.toml"
THIRD = {
    # A third step beside app that also builds on base: edits to app must not touch it.
    TOML: DEMO_FILES[TOML] + '\n[steps.side]\ndepends = ["base"]\n',
    "flavors/demo/side/Dockerfile": "FROM base\nRUN true\n",
    "flavors/demo/base/.dockerignore": "*.log\nscratch/\n",
    "flavors/demo/base/notes.txt": "sent in the context, not copied\n",
}


def hashes(repo: Path) -> dict[str, str]:
    flavor = load_flavor(repo, "demo")
    return {name: h.digest for name, h in FlavorHasher(default_platform="linux/amd64", images=fake_digests(flavor_images(flavor))).hash_flavor(flavor).items()}


def toml_str(text: str) -> str:
    """A TOML basic string: JSON's escapes are valid TOML (DEL is excluded from the texts)."""
    return json.dumps(text, ensure_ascii=False)


def edit_toml(repo: Path, old: str, new: str) -> None:
    path = repo / TOML
    path.write_text(path.read_text().replace(old, new, 1))


Edit = Callable[[Path, str], object]  # what the edit returns is ignored
BASE = "flavors/demo/base"

# name -> (edit applied with a random text, steps whose hash must change)
def write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


RELEVANT: dict[str, tuple[Edit, set[str]]] = {
    "base file content": (lambda r, t: (r / BASE / "hello.txt").write_text("hello\n" + t + "!"), {"base", "app", "side"}),
    "new file in base": (lambda r, t: (r / BASE / "new.txt").write_text(t), {"base", "app", "side"}),
    "renamed file": (lambda r, t: (r / BASE / "notes.txt").rename(r / BASE / "notes2.txt"), {"base", "app", "side"}),
    "exec bit": (lambda r, t: (r / BASE / "hello.txt").chmod(0o755), {"base", "app", "side"}),
    "empty dir": (lambda r, t: (r / BASE / "emptydir").mkdir(), {"base", "app", "side"}),
    "symlink": (lambda r, t: (r / BASE / "link").symlink_to("target-" + t), {"base", "app", "side"}),
    "mapping content": (lambda r, t: (r / "src/main.txt").write_text("main\n" + t + "!"), {"app"}),
    "app Dockerfile": (lambda r, t: (r / "flavors/demo/app/Dockerfile").write_text(
        DEMO_FILES["flavors/demo/app/Dockerfile"] + f"# {t!r}\n"), {"app"}),
    "image-changing arg": (lambda r, t: edit_toml(r, 'BASE = "slcc-test/busybox:1"', f"BASE = {toml_str('example/b:t' + t.encode().hex()[:100])}"),
                           {"base", "app", "side"}),
    "platform": (lambda r, t: edit_toml(r, "[flavor]\n", '[flavor]\nplatforms = ["linux/arm64"]\n'),
                 {"base", "app", "side"}),
}
IRRELEVANT: dict[str, Edit] = {
    "mtime": lambda r, t: os.utime(r / BASE / "hello.txt", (1_000_000, 1_000_000)),
    "group/other bits": lambda r, t: (r / BASE / "hello.txt").chmod(0o600),
    "ignored file": lambda r, t: (r / BASE / "debug.log").write_text(t),
    "ignored dir": lambda r, t: write_file(r / BASE / "scratch/x", t),
    "undeclared arg": lambda r, t: edit_toml(r, "[args]\n", f"[args]\nUNUSED = {toml_str(t)}\n"),
    "transparent arg": lambda r, t: edit_toml(r, "[mappings]", f"[transparent_args]\nhttp_proxy = {toml_str(t)}\n\n[mappings]"),
    "file outside contexts": lambda r, t: (r / "README.md").write_text(t),
}

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\x7f\x00"), max_size=20)


def _fresh_repo() -> Path:
    root = Path(tempfile.mkdtemp(prefix="slcc-hash-"))
    return make_repo(root / "repo", THIRD)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(sorted(RELEVANT)), text=texts)
def test_relevant_change_changes_exactly_the_step_and_dependents(kind: str, text: str) -> None:
    repo = _fresh_repo()
    try:
        before = hashes(repo)
        edit, expected = RELEVANT[kind]
        edit(repo, text)
        after = hashes(repo)
        assert {s for s in before if before[s] != after[s]} == expected
    finally:
        shutil.rmtree(repo.parent)


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(IRRELEVANT)), text=texts)
def test_irrelevant_change_changes_nothing(kind: str, text: str) -> None:
    repo = _fresh_repo()
    try:
        before = hashes(repo)
        IRRELEVANT[kind](repo, text)
        assert hashes(repo) == before
    finally:
        shutil.rmtree(repo.parent)


def test_checkout_location_does_not_matter(tmp_path: Path) -> None:
    one = make_repo(tmp_path / "one", THIRD)
    two = make_repo(tmp_path / "elsewhere" / "deeper" / "two", THIRD)
    assert hashes(one) == hashes(two)


def test_stat_cache_gives_the_same_hashes(tmp_path: Path) -> None:
    from slcc.hashing.statcache import StatCache

    repo = make_repo(tmp_path / "repo", THIRD)
    flavor = load_flavor(repo, "demo")
    cache_path = load_settings(repo).state_dir / "statcache.bin"
    cold = FlavorHasher(cache=StatCache.load(cache_path), images=fake_digests(flavor_images(flavor))).hash_flavor(flavor)
    assert cold["base"].manifest()["context"]["files"]
    warm = FlavorHasher(cache=StatCache.load(cache_path), images=fake_digests(flavor_images(flavor))).hash_flavor(flavor)
    assert {k: v.digest for k, v in cold.items()} == {k: v.digest for k, v in warm.items()}
