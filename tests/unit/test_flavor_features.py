"""Format features for real-world flavors: upper-case names, symlinked flavor directories,
file mappings, mappings that follow symlinks, extra context files, placeholder and COPY
source validation, bounded bake file names, materialized contexts."""

from __future__ import annotations

from pathlib import Path

import pytest

from slcc.emitting import emit
from slcc.errors import InputError
from slcc.hashing.stephash import FlavorHasher
from slcc.loading.config import load_settings
from slcc.loading.flavor import load_flavor
from slcc.loading.project import open_project
from slcc.state.contexts import materialize
from tests.helpers import (
    DEMO_FILES,
    fake_digests,
    flavor_images,
    make_repo,
    run_slcc,
    two_flavors_sharing_a_file_mapping,
)

TOML = "flavors/demo/flavor.toml"


def digests(repo: Path, name: str = "demo") -> dict[str, str]:
    flavor = load_flavor(repo, name)
    return {n: h.digest for n, h in FlavorHasher(default_platform="linux/amd64", images=fake_digests(flavor_images(flavor))).hash_flavor(flavor).items()}


def test_upper_case_flavor_name_gets_a_lower_case_image_name(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {TOML: None, "flavors/demo/base/Dockerfile": None, "flavors/demo/app/Dockerfile": None})
    make_repo(tmp_path, {k.replace("flavors/demo/", "flavors/Demo-EXA/"): v for k, v in DEMO_FILES.items()})
    for k in list(DEMO_FILES):
        if k.startswith("flavors/demo/"):
            (tmp_path / k).unlink(missing_ok=True)
    project = open_project(repo, ["Demo-EXA"], {"repository": "127.0.0.1:5000/x"}, resolver=fake_digests)
    tag = project.hash_all()["Demo-EXA"]["app"].tag(project.settings.repository)
    assert tag.startswith("127.0.0.1:5000/x/demo-exa:app-")
    text = emit.emit_bake(emit.EmitRequest(project.flavors, project.hash_all(), project.settings))
    assert 'target "Demo-EXA_app"' in text and 'slcc_cache_from("demo-exa", "app"' in text


def test_flavor_names_equal_but_for_case_are_rejected(tmp_path: Path) -> None:
    files = {k.replace("flavors/demo/", "flavors/Demo/"): v for k, v in DEMO_FILES.items()}
    make_repo(tmp_path, files)
    out = run_slcc(tmp_path, "hash", "demo", "Demo")
    assert out.returncode == 2
    assert "have the same image name 'demo'" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_symlinked_flavor_dir_keeps_its_name_and_resolves_paths_as_seen(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "sub/flavors").mkdir(parents=True)
    (repo / "flavors/demo").rename(repo / "sub/flavors/real-name")
    (repo / "flavors/Linked").symlink_to("../sub/flavors/real-name")
    (repo / "sub/src").mkdir()
    (repo / "sub/src/main.txt").write_text("the wrong one\n")  # where ../../src points from the target
    flavor = load_flavor(repo, "Linked")
    assert flavor.name == "Linked"
    assert flavor.mappings["src"] == (repo / "src").resolve()
    before = digests(repo, "Linked")
    (repo / "sub/src/main.txt").write_text("still the wrong one\n")
    assert digests(repo, "Linked") == before
    (repo / "src/main.txt").write_text("main v2\n")
    assert digests(repo, "Linked")["app"] != before["app"]


def follow_repo(tmp_path: Path, follow: bool) -> Path:
    value = '{ path = "../../src", follow_symlinks = true }' if follow else '"../../src"'
    repo = make_repo(tmp_path, {TOML: DEMO_FILES[TOML].replace('src = "../../src"', f"src = {value}"),
                                "shared/lib.txt": "lib v1\n"})
    (repo / "src/lib").symlink_to("../shared")
    return repo


@pytest.mark.parametrize("follow", [False, True])
def test_mapping_follows_symlinks_only_when_asked(tmp_path: Path, follow: bool) -> None:
    repo = follow_repo(tmp_path, follow)
    before = digests(repo)
    (repo / "shared/lib.txt").write_text("lib v2\n")
    changed = digests(repo)["app"] != before["app"]
    assert changed is follow
    tree = FlavorHasher().mapping_tree(load_flavor(repo, "demo"), "src")
    kinds = {e.path: e.kind for e in tree.entries}
    assert kinds["lib"] == ("dir" if follow else "symlink")
    assert ("lib/lib.txt" in kinds) is follow


def test_followed_symlink_loop_is_bad_input(tmp_path: Path) -> None:
    repo = follow_repo(tmp_path, True)
    (repo / "shared/back").symlink_to("../src")
    out = run_slcc(repo, "hash", "demo")
    assert out.returncode == 2 and "symlink loop" in out.stderr


def test_file_mapping_and_context_files_are_materialized(tmp_path: Path) -> None:
    toml = DEMO_FILES[TOML].replace('src = "../../src"', 'src = "../../src"\nnodoc = "../../ext/01_nodoc"')
    toml = toml.replace('mappings = ["src"]', 'mappings = ["src", "nodoc"]\nfiles = { "etc/extra.txt" = "../../ext/01_nodoc" }')
    repo = make_repo(tmp_path, {
        TOML: toml,
        "ext/01_nodoc": "nodoc v1\n",
        "flavors/demo/app/Dockerfile": "FROM base\nCOPY --from=nodoc 01_nodoc /n\nCOPY etc/extra.txt /e\n",
    })
    project = open_project(repo, ["demo"], resolver=fake_digests)
    hashes = project.hash_all()
    text = emit.emit_bake(emit.EmitRequest(project.flavors, hashes, project.settings))
    materialize(project.settings, project.flavors, hashes)
    short = hashes["demo"]["app"].short
    context = repo / ".slcc/contexts/demo" / f"app-{short}"
    assert f'context = ".slcc/contexts/demo/app-{short}"' in text
    assert sorted(p.relative_to(context).as_posix() for p in context.rglob("*")) == [
        "Dockerfile", "etc", "etc/extra.txt"]
    mapping = repo / ".slcc/contexts/_mappings" / hashes["demo"]["app"].mappings["nodoc"].digest[:32]
    assert [p.name for p in mapping.iterdir()] == ["01_nodoc"]
    assert f'"nodoc" = ".slcc/contexts/_mappings/{mapping.name}"' in text
    before = digests(repo)
    (repo / "ext/01_nodoc").write_text("nodoc v2\n")
    after = digests(repo)
    assert after["app"] != before["app"] and after["base"] == before["base"]


@pytest.mark.parametrize(("dockerfile", "problem"), [
    ("FROM {{base}}\n", "line 1: template placeholder {{base}}"),
    ("FROM base\nCOPY --from=src . /src\nCOPY missing.txt /m\n", "line 3: COPY source 'missing.txt' is not in"),
    ("FROM base\nCOPY --from=src . /src\nADD /src/main.txt /m\n", "line 3: ADD source 'src' is not in"),
])
def test_unconverted_input_is_caught_before_bake(tmp_path: Path, dockerfile: str, problem: str) -> None:
    repo = make_repo(tmp_path, {"flavors/demo/app/Dockerfile": dockerfile})
    out = run_slcc(repo, "emit-bake", "demo")
    assert out.returncode == 2 and problem in out.stderr, out.stderr
    assert not (repo / "bake").exists()


def test_copy_sources_in_context_wildcards_and_urls_pass(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"flavors/demo/app/Dockerfile": (
        "FROM base\nCOPY --from=src . /src\nCOPY ./* /all/\nADD https://example.org/x /x\n"
        "COPY [\"Dockerfile\", \"/d\"]\nCOPY <<EOF /h\nhi\nEOF\n")})
    load_flavor(repo, "demo")


def test_package_file_without_entry_is_bad_input(tmp_path: Path) -> None:
    toml = DEMO_FILES[TOML].replace("[flavor]\n", '[flavor]\npackage_files = ["packages.yml"]\n')
    toml = toml.replace("[steps.base]\n", '[steps.base]\npackage_file = "base_packages.yml"\n')
    repo = make_repo(tmp_path, {TOML: toml, "flavors/demo/packages.yml": "build_steps:\n- name: other\n"})
    with pytest.raises(InputError, match="no build_steps entry named 'base'"):
        load_flavor(repo, "demo")


def test_default_bake_file_name_is_bounded() -> None:
    names = [f"template-Exasol-all-python-3.{n}-conda" for n in range(14)]
    name = emit.default_file_name(names)
    assert len(name) < 120 and name.startswith(names[0]) and name.endswith(".hcl")
    assert emit.default_file_name(names) == name != emit.default_file_name(names[:-1])
    assert emit.default_file_name(["a", "b"]) == "a-b.hcl"


def test_settings_state_dir_is_where_contexts_go(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    assert load_settings(repo).state_dir == repo / ".slcc"


def test_lifecycle_inventory_finds_images_of_upper_case_flavors() -> None:
    from slcc.commands.inventory import image_items
    from slcc.engine.protocol import SlccImage

    image = SlccImage("127.0.0.1:5000/x/demo-exa:app-" + "a" * 32, "Demo-EXA", "app", "a" * 64, 1.0, 5)
    items = image_items([image], "127.0.0.1:5000/x", ["Demo-EXA"], set())
    assert [i.name for i in items] == [image.tag]


def test_materialized_context_reads_the_dockerfile_from_where_it_is(tmp_path: Path) -> None:
    toml = DEMO_FILES[TOML].replace("[steps.base]\n", '[steps.base]\nfiles = { "extra.txt" = "../../src/main.txt" }\n')
    repo = make_repo(tmp_path, {TOML: toml, "flavors/demo/base/.dockerignore": "Dockerfile\n"})
    project = open_project(repo, ["demo"], resolver=fake_digests)
    hashes = project.hash_all()
    text = emit.emit_bake(emit.EmitRequest(project.flavors, hashes, project.settings))
    materialize(project.settings, project.flavors, hashes)
    short = hashes["demo"]["base"].short
    assert 'dockerfile = "../../../../flavors/demo/base/Dockerfile"' in text
    context = repo / ".slcc/contexts/demo" / f"base-{short}"
    assert (context / "../../../../flavors/demo/base/Dockerfile").resolve() == repo / "flavors/demo/base/Dockerfile"
    assert sorted(p.name for p in context.iterdir()) == [".dockerignore", "extra.txt", "hello.txt"]  # ignored: Dockerfile


def test_clean_and_du_see_materialized_contexts(tmp_path: Path) -> None:
    from slcc.commands.inventory import state_items

    toml = DEMO_FILES[TOML].replace("[steps.base]\n", '[steps.base]\nfiles = { "extra.txt" = "../../src/main.txt" }\n')
    repo = make_repo(tmp_path, {TOML: toml})
    project = open_project(repo, ["demo"], resolver=fake_digests)
    materialize(project.settings, project.flavors, project.hash_all())
    (repo / "src/main.txt").write_text("main v2\n")
    project = open_project(repo, ["demo"], resolver=fake_digests)
    hashes = project.hash_all()
    materialize(project.settings, project.flavors, hashes)
    contexts = [i for i in state_items(project, hashes, None) if ".slcc/contexts/" in i.name]
    assert sorted((i.group, i.current) for i in contexts) == [("demo/base", False), ("demo/base", True)]
    assert all(i.kind == "context" and i.size > 0 for i in contexts)  # clean's keep rules apply


def test_a_mapping_shared_by_flavors_is_copied_once_per_content(tmp_path: Path) -> None:
    from slcc.commands.copies import SHARED_MAPPINGS, context_items

    repo = two_flavors_sharing_a_file_mapping(tmp_path)
    project = open_project(repo, [], resolver=fake_digests)
    hashes = project.hash_all()
    digest = hashes["demo"]["app"].mappings["nodoc"].digest
    assert hashes["other"]["app"].mappings["doc"].digest == digest
    text = emit.emit_bake(emit.EmitRequest(project.flavors, hashes, project.settings))
    materialize(project.settings, project.flavors, hashes)
    assert [p.name for p in (repo / ".slcc/contexts").iterdir()] == ["_mappings"]  # nothing per flavor
    [copy] = (repo / ".slcc/contexts/_mappings").iterdir()
    assert copy.name == digest[:32] and (copy / "01_nodoc").read_text() == "nodoc v1\n"
    assert f'"nodoc" = ".slcc/contexts/_mappings/{copy.name}"' in text
    assert f'"doc" = ".slcc/contexts/_mappings/{copy.name}"' in text

    (repo / "ext/01_nodoc").write_text("nodoc v2\n")
    project = open_project(repo, [], resolver=fake_digests)
    hashes = project.hash_all()
    materialize(project.settings, project.flavors, hashes)
    items = sorted(context_items(project, hashes, None), key=lambda i: i.current)
    assert [(i.group, Path(i.name).name, i.current) for i in items] == [
        (SHARED_MAPPINGS, copy.name, False), (SHARED_MAPPINGS, hashes["demo"]["app"].mappings["nodoc"].digest[:32], True)]
    assert not list(context_items(project, hashes, ["demo"]))  # shared: not one flavor's to clean


def test_a_copy_published_by_another_writer_meanwhile_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slcc.emitting import materialized
    from slcc.state import contexts

    repo = two_flavors_sharing_a_file_mapping(tmp_path)
    project = open_project(repo, ["demo"], resolver=fake_digests)
    hashes = project.hash_all()
    [flavor] = project.flavors
    final = materialized.mapping_dir(project.settings, flavor, "nodoc", hashes["demo"]["app"])
    copy_entries = contexts._copy_entries

    def racing(tree: object, root: Path, into: Path) -> None:
        if not final.exists():  # the other writer renames its whole copy into place first
            final.mkdir(parents=True)
            (final / "01_nodoc").write_text("nodoc v1\n")
        copy_entries(tree, root, into)  # type: ignore[arg-type]

    monkeypatch.setattr(contexts, "_copy_entries", racing)
    materialize(project.settings, project.flavors, hashes)
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]  # no temporary copy left behind
    assert (final / "01_nodoc").read_text() == "nodoc v1\n"
