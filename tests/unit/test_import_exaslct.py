"""`slcc import-exaslct` on synthetic exaslct checkouts: graph, rewrites, refusals, hashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slcc.commands.import_exaslct import import_exaslct
from slcc.errors import InputError
from slcc.hashing.stephash import FlavorHasher
from slcc.loading.flavor import load_flavor
from tests.exaslct_repo import FLAVOR, LINKED, make_exaslct_repo
from tests.helpers import fake_digests, flavor_images, run_slcc


@pytest.fixture
def imported(tmp_path: Path) -> tuple[Path, Path]:
    source = make_exaslct_repo(tmp_path / "slr")
    dest = tmp_path / "dest"
    import_exaslct(source, [], dest, check=False)
    return source, dest


def hashes(repo: Path, flavor: str = FLAVOR) -> dict[str, str]:
    loaded = load_flavor(repo, flavor)
    return {n: h.digest for n, h in FlavorHasher(default_platform="linux/amd64", images=fake_digests(flavor_images(loaded))).hash_flavor(loaded).items()}


def test_imported_graph_equals_build_steps(imported: tuple[Path, Path]) -> None:
    _, dest = imported
    for name in (FLAVOR, LINKED):
        flavor = load_flavor(dest, name)
        assert flavor.name == name
        assert {s: flavor.steps[s].depends for s in flavor.steps} == {
            "base": (), "app": ("base",), "flavor_customization": ("base",),
            "release": ("app", "flavor_customization"),
        }
        assert flavor.goals == ("release",)
        assert flavor.follow_links == frozenset({"client"})
        base = flavor.steps["base"]
        assert base.mappings == ("scripts",)
        assert set(base.files) == {"01_nodoc"} and set(base.generated) == {"base_packages.yml"}
        assert set(flavor.steps["release"].files) == {"language_definitions.json"}


def test_dockerfiles_are_rewritten(imported: tuple[Path, Path]) -> None:
    _, dest = imported
    flavor_dir = dest / "flavors" / FLAVOR
    app = (flavor_dir / "flavor_base/app/Dockerfile").read_text()
    assert app.splitlines()[:3] == ["FROM base", "COPY --from=client . /client",
                                    "COPY --from=client lib/util.txt /util.txt"]
    base = (flavor_dir / "flavor_base/base/Dockerfile").read_text()
    assert "COPY --from=scripts . /scripts" in base
    assert "COPY hello.txt /hello.txt" in base and "COPY 01_nodoc /etc/dpkg/01_nodoc" in base
    custom = (flavor_dir / "flavor_customization/Dockerfile").read_text()
    assert custom.startswith("FROM base\n") and "COPY extra.txt /extra.txt" in custom
    assert "prefix source files" not in custom
    assert not (flavor_dir / "flavor_base/build_steps.py").exists()


def test_report_lists_every_rewrite_with_file_and_line(tmp_path: Path) -> None:
    source = make_exaslct_repo(tmp_path / "slr")
    out = run_slcc(tmp_path, "import-exaslct", str(source), FLAVOR, "--into", str(tmp_path / "d"), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    kinds = {(r["file"], r["line"], r["kind"]) for r in report["rewrites"]}
    app = f"flavors/{FLAVOR}/flavor_base/app/Dockerfile"
    assert (app, 1, "placeholder") in kinds
    assert (app, 2, "mapping-as-named-context") in kinds
    assert (f"flavors/{FLAVOR}/flavor_customization/Dockerfile", 5, "own-step-prefix") in kinds
    assert (f"flavors/{FLAVOR}/flavor_customization/Dockerfile", 3, "template-comment") in kinds
    assert any(r["kind"] == "mapping-follows-symlinks" and r["before"] == "client" for r in report["rewrites"])
    assert report["flavors"] == [{"name": FLAVOR, "source": f"flavors/{FLAVOR}/flavor_base/build_steps.py",
                                  "steps": 4, "edges": 4}]
    text = run_slcc(tmp_path, "import-exaslct", str(source), LINKED, "--into", str(tmp_path / "d"))
    assert f"flavors/{LINKED}: symlinked-flavor-dir" in text.stdout


def test_second_run_and_check_write_nothing(tmp_path: Path) -> None:
    source = make_exaslct_repo(tmp_path / "slr")
    dest = tmp_path / "dest"
    check = import_exaslct(source, [], dest, check=True)
    assert check.created and not dest.exists()
    first = import_exaslct(source, [], dest, check=False)
    assert set(first.created) == set(check.created)
    again = import_exaslct(source, [], dest, check=False)
    assert again.created == () and again.changed == () and again.unchanged == len(first.created)
    (dest / "flavors" / FLAVOR / "flavor.toml").write_text("edited\n")
    assert import_exaslct(source, [], dest, check=True).changed == (f"flavors/{FLAVOR}/flavor.toml",)
    assert (dest / "flavors" / FLAVOR / "flavor.toml").read_text() == "edited\n"


@pytest.mark.parametrize(("old", "new", "problem"), [
    ('return "app"', 'return "a" + "pp"', "does not return a string constant"),
    ('return {"base": AnalyzeBase}\n\n    def get_additional', 'return dict(base=AnalyzeBase)\n\n    def get_additional',
     "does not return a dict literal"),
    ("    def get_path_in_flavor(self):\n        return \"flavor_base\"\n\n\nclass AnalyzeFlavorCustomization",
     "    def get_path_in_flavor(self):\n        x = 1\n        return \"flavor_base\"\n\n\nclass AnalyzeFlavorCustomization",
     "not a single return statement"),
    ("class AnalyzeBase(", "import os\nos.system('true')\n\n\nclass AnalyzeBase(", "module code other than imports"),
    ("    def get_build_step(self) -> str:\n        return \"app\"",
     "    def get_additional_resources(self):\n        return {}\n\n    def get_build_step(self) -> str:\n"
     "        return \"app\"", "is not one slcc knows"),
])
def test_non_constant_build_steps_are_refused_with_file_and_line(tmp_path: Path, old: str, new: str,
                                                                 problem: str) -> None:
    source = make_exaslct_repo(tmp_path / "slr")
    path = source / "flavors" / FLAVOR / "flavor_base/build_steps.py"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    out = run_slcc(tmp_path, "import-exaslct", str(source), "--into", str(tmp_path / "dest"))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"slcc: error: {path}:") and problem in lines[0], lines
    assert not (tmp_path / "dest").exists()  # nothing written, not even for the other flavor


@pytest.mark.parametrize(("dockerfile", "problem"), [
    ("FROM {{unknown}}\n", "is not a key of requires_tasks"),
    ("FROM {{ base | upper }}\n", "Jinja beyond"),
    ("FROM {{base}}\nCOPY nowhere.txt /x\n", "is in none of the contexts exaslct assembles"),
])
def test_unconvertible_dockerfiles_are_refused_with_line(tmp_path: Path, dockerfile: str, problem: str) -> None:
    source = make_exaslct_repo(tmp_path / "slr")
    (source / "flavors" / FLAVOR / "flavor_base/app/Dockerfile").write_text(dockerfile)
    with pytest.raises(InputError, match=problem) as info:
        import_exaslct(source, [FLAVOR], tmp_path / "dest", check=False)
    assert f"flavors/{FLAVOR}/flavor_base/app/Dockerfile:" in str(info.value)
    assert not (tmp_path / "dest").exists()


def test_bad_language_definition_is_refused(tmp_path: Path) -> None:
    source = make_exaslct_repo(tmp_path / "slr")
    lang = source / "flavors" / FLAVOR / "flavor_base/language_definitions.json"
    lang.write_text(lang.read_text().replace('"schema_version": 2', '"schema_version": 1'))
    with pytest.raises(InputError, match="schema_version is 1"):
        import_exaslct(source, [FLAVOR], tmp_path / "dest", check=False)


def test_packages_yml_edit_changes_exactly_the_affected_steps(imported: tuple[Path, Path]) -> None:
    _, dest = imported
    before = hashes(dest)
    packages = dest / "flavors" / FLAVOR / "packages.yml"
    packages.write_text(packages.read_text().replace('version: "1.0"', 'version: "2.0"'))  # numpy: customization
    after = hashes(dest)
    assert {s for s in before if before[s] != after[s]} == {"flavor_customization", "release"}
    packages.write_text(packages.read_text().replace("version: 1.0.0", "version: 1.0.0\n# a comment\n"))
    assert hashes(dest) == after  # not an entry change: nothing rebuilds


def test_linked_client_file_edit_changes_the_client_steps(imported: tuple[Path, Path]) -> None:
    _, dest = imported
    before = hashes(dest)
    (dest / "shared/lib/util.txt").write_text("util v2\n")  # reached only through client/lib -> ../shared/lib
    after = hashes(dest)
    assert {s for s in before if before[s] != after[s]} == {"app", "release"}


def test_file_mapping_edit_changes_only_its_steps(imported: tuple[Path, Path]) -> None:
    _, dest = imported
    before = hashes(dest)
    (dest / "ext/01_nodoc").write_text("changed\n")
    after = hashes(dest)
    assert {s for s in before if before[s] != after[s]} == {"base", "app", "flavor_customization", "release"}


def test_watch_sees_every_input_of_an_imported_flavor(imported: tuple[Path, Path]) -> None:
    from slcc.commands.watch import PathFilter, affected_steps, watch_plan

    _, dest = imported
    flavor = load_flavor(dest, FLAVOR)
    goals = ["release"]
    # Behind client/lib -> ../shared/lib (follow_symlinks), a file mapping, packages.yml.
    assert affected_steps(flavor, goals, [dest / "shared/lib/util.txt"]) == {"app", "release"}
    assert affected_steps(flavor, goals, [dest / "ext/01_nodoc"]) == {"base", "app", "flavor_customization",
                                                                       "release"}
    assert affected_steps(flavor, goals, [dest / "flavors" / FLAVOR / "packages.yml"]) >= {"base"}
    assert affected_steps(flavor, goals, [dest / "flavors" / FLAVOR / "flavor_base/language_definitions.json"]) \
        == {"release"}
    watched = {p for p, _ in watch_plan(flavor, PathFilter(dest))}
    assert dest / "shared/lib" in watched and dest / "ext" in watched and dest / "flavors" / FLAVOR in watched


def test_explain_names_the_generated_package_file(imported: tuple[Path, Path]) -> None:
    from slcc.planning.explain import reasons

    _, dest = imported
    loaded = load_flavor(dest, FLAVOR)
    hasher = FlavorHasher(default_platform="linux/amd64", images=fake_digests(flavor_images(loaded)))
    before = hasher.hash_flavor(loaded)["base"].manifest()
    packages = dest / "flavors" / FLAVOR / "packages.yml"
    packages.write_text(packages.read_text().replace('version: "9.1"', 'version: "9.2"'))
    after = FlavorHasher(default_platform="linux/amd64", images=hasher.images).hash_flavor(
        load_flavor(dest, FLAVOR))["base"].manifest()
    assert reasons(before, after) == ["context file base_packages.yml changed"]


def test_something_in_the_way_is_reported_before_anything_is_written(tmp_path: Path) -> None:
    source = make_exaslct_repo(tmp_path / "slr")
    dest = tmp_path / "dest"
    (dest / "flavors" / FLAVOR / "flavor.toml").mkdir(parents=True)  # a directory where a file goes
    out = run_slcc(tmp_path, "import-exaslct", str(source), "--into", str(dest))
    assert out.returncode == 2 and "flavor.toml is in the way" in out.stderr, out.stderr
    assert sorted(p.name for p in dest.rglob("*")) == [FLAVOR, "flavor.toml", "flavors"]
    (tmp_path / "file").write_text("x")
    out = run_slcc(tmp_path, "import-exaslct", str(source), "--into", str(tmp_path / "file"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
