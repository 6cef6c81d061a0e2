"""Every validation rule: one line naming the file and the problem, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import DEMO_FILES, make_repo, run_slcc

TOML = "flavors/demo/flavor.toml"
APP = "flavors/demo/app/Dockerfile"
GOOD_TOML = DEMO_FILES[TOML]
LOCK = 'version = 1\n[images]\n"slcc-test/busybox:1" = "sha256:' + "a" * 64 + '"\n'


CASES: dict[str, tuple[dict[str, str | None], str, str]] = {
    # id: (file overrides, file named in the error, words the error must contain)
    "invalid-toml": ({TOML: "[flavor\n"}, TOML, "invalid TOML"),
    "unknown-top-key": ({TOML: GOOD_TOML + "[bogus]\n"}, TOML, "unknown key 'bogus'"),
    "unknown-step-key": ({TOML: GOOD_TOML.replace("[steps.base]\n", "[steps.base]\ndepend = []\n")},
                         TOML, "unknown key in [steps.base]: 'depend'"),
    "unknown-flavor-key": ({TOML: GOOD_TOML.replace("[flavor]\n", "[flavor]\ngoal = []\n")}, TOML, "'goal'"),
    "cycle": ({TOML: GOOD_TOML.replace("[steps.base]\n", '[steps.base]\ndepends = ["app"]\n'),
               "flavors/demo/base/Dockerfile": "FROM app\n"},
              TOML, "dependency cycle: app -> base -> app"),
    "unknown-dependency": ({TOML: GOOD_TOML.replace('depends = ["base"]', 'depends = ["base", "nope"]')},
                           TOML, "unknown step 'nope'"),
    "self-dependency": ({TOML: GOOD_TOML.replace('depends = ["base"]', 'depends = ["app"]')},
                        TOML, "depends on itself"),
    "missing-dockerfile": ({"flavors/demo/base/Dockerfile": None}, TOML, "Dockerfile of step 'base'"),
    "missing-step-dir": ({TOML: GOOD_TOML + "[steps.ghost]\n"}, TOML, "context of step 'ghost'"),
    "undeclared-step-in-from": ({TOML: GOOD_TOML.replace('depends = ["base"]', "depends = []")},
                                APP, "FROM names step 'base'"),
    "undeclared-mapping": ({TOML: GOOD_TOML.replace('mappings = ["src"]', "mappings = []")},
                           APP, "COPY names mapping 'src'"),
    "undeclared-step-in-mount": ({APP: "FROM base\nCOPY --from=src . /s\nRUN --mount=from=other,target=/o true\n",
                                  TOML: GOOD_TOML + "[steps.other]\ncontext = 'base'\n"},
                                 APP, "RUN names step 'other'"),
    "unknown-mapping": ({TOML: GOOD_TOML.replace('mappings = ["src"]', 'mappings = ["src", "lib"]')},
                        TOML, "unknown mapping 'lib'"),
    "mapping-escapes-repo": ({TOML: GOOD_TOML.replace('src = "../../src"', 'src = "../../.."')},
                             TOML, "escapes the repository"),
    "context-escapes-repo": ({TOML: GOOD_TOML.replace("[steps.base]\n", "[steps.base]\ncontext = '../../../..'\n")},
                             TOML, "escapes the repository"),
    "missing-mapping": ({TOML: GOOD_TOML.replace('src = "../../src"', 'src = "../../nothere"')},
                        TOML, "does not exist"),
    "invalid-step-name": ({TOML: GOOD_TOML + "[steps.Bad]\n"}, TOML, "invalid step name 'Bad'"),
    "unknown-goal": ({TOML: GOOD_TOML.replace('goals = ["app"]', 'goals = ["nope"]')}, TOML, "goal 'nope'"),
    "bad-args-type": ({TOML: GOOD_TOML.replace('BASE = "slcc-test/busybox:1"', "BASE = [1]")}, TOML, "[args].BASE"),
    "bad-platform": ({TOML: GOOD_TOML.replace("[flavor]\n", '[flavor]\nplatforms = ["amd64"]\n')},
                     TOML, "invalid platform"),
    "arg-both-kinds": ({TOML: GOOD_TOML.replace("[mappings]", '[transparent_args]\nBASE = "x"\n\n[mappings]')},
                       TOML, "both image-changing and transparent"),
    "bad-settings": ({"slcc.toml": "[cache]\nbackend = 'fast'\n"}, "slcc.toml", "unknown cache backend 'fast'"),
    "unknown-settings-key": ({"slcc.toml": "[registry]\nrepo = 'x'\n"}, "slcc.toml", "unknown key in [registry]"),
    "bad-scope": ({"slcc.toml": "[build]\nscope = 'release'\n"}, "slcc.toml", "unknown scope 'release'"),
    "image-arg-without-value": ({"flavors/demo/base/Dockerfile": "ARG NOPE\nFROM ${NOPE}\n"},
                                "flavors/demo/base/Dockerfile", "should not be blank"),
    "invalid-image-reference": ({"flavors/demo/base/Dockerfile": "FROM Not/Valid:\n"},
                                "flavors/demo/base/Dockerfile", "not a valid image reference"),
    "corrupt-lock": ({"slcc.lock": "version = 1\n[images\n"}, "slcc.lock", "invalid TOML"),
    "lock-unknown-key": ({"slcc.lock": LOCK + "[extra]\n"}, "slcc.lock", "unknown key 'extra'"),
    "lock-bad-digest": ({"slcc.lock": LOCK.replace("sha256:" + "a" * 64, "sha256:abc")}, "slcc.lock",
                        "digest must look like sha256:<64 hex>"),
    "lock-version": ({"slcc.lock": LOCK.replace("version = 1", "version = 7")}, "slcc.lock", "lock version 7"),
    "lock-not-covering": ({"slcc.lock": "version = 1\n[images]\n"}, "slcc.lock",
                          "does not pin image slcc-test/busybox:1"),
    "git-mapping-unknown-key": ({TOML: GOOD_TOML.replace('src = "../../src"', 'src = { git = "../../src", brnch = "x" }')},
                                TOML, "unknown key in [mappings].src: 'brnch'"),
    "git-mapping-without-git": ({TOML: GOOD_TOML.replace('src = "../../src"', 'src = { tag = "v1" }')},
                                TOML, "[mappings].src needs git ="),
    "git-mapping-bad-ref": ({TOML: GOOD_TOML.replace('src = "../../src"', 'src = { git = "../../src", tag = "a b" }')},
                            TOML, "invalid git ref name 'a b'"),
    "git-mapping-not-in-lock": ({TOML: GOOD_TOML.replace('src = "../../src"', 'src = { git = "../../src", tag = "v1" }'),
                                 "slcc.lock": LOCK}, "slcc.lock", "does not pin mapping demo/src"),
    "lock-bad-source": ({"slcc.lock": LOCK + '[sources.demo.src]\ngit = "x"\nref = "main"\ncommit = "1"\ntree = "2"\n'},
                        "slcc.lock", "ref must be 'tag:NAME' or 'branch:NAME'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path: Path, case: str) -> None:
    overrides, named_file, words = CASES[case]
    repo = make_repo(tmp_path / "repo", overrides)
    result = run_slcc(repo, "emit-bake", "demo")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("slcc: error: ")
    assert named_file in lines[0] or Path(named_file).name in lines[0]
    assert words in lines[0]
    assert "Traceback" not in result.stderr
    assert not (repo / "bake").exists()


def test_symlink_loop_in_mapping(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "loop").symlink_to(repo / "loop")
    (repo / TOML).write_text(GOOD_TOML.replace('src = "../../src"', 'src = "../../loop"'))
    result = run_slcc(repo, "emit-bake", "demo")
    assert result.returncode == 2
    assert "mapping 'src'" in result.stderr and "Traceback" not in result.stderr


def test_unknown_flavor_lists_known_ones(tmp_path: Path) -> None:
    result = run_slcc(make_repo(tmp_path / "repo"), "hash", "nope")
    assert result.returncode == 2
    assert "no flavor 'nope'" in result.stderr and "flavors: demo" in result.stderr


def test_unused_dependency_is_a_warning_not_an_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {APP: "FROM slcc-test/busybox:1\nCOPY --from=src . /src\n"})
    result = run_slcc(repo, "hash", "demo")
    assert result.returncode == 0, result.stderr
    assert "declares dependency 'base' but never uses it" in result.stderr


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = run_slcc(make_repo(tmp_path / "repo"), "graph", "--format", "png")
    assert result.returncode == 2
