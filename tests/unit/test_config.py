"""Settings precedence: --option > $SLCC_* > slcc.toml > user config > default; host paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from slcc.errors import InputError
from slcc.loading.config import DEFAULT_CLEAN_KEEP, load_settings, user_config_path

LAYERS = ("cli", "env", "toml", "user")


def _repo(tmp_path: Path, toml: str = "") -> Path:
    repo = tmp_path / "repo"
    (repo / "flavors").mkdir(parents=True)
    (repo / "slcc.toml").write_text(toml, encoding="utf-8")
    return repo


def _user_config(tmp_path: Path, text: str) -> dict[str, str]:
    """An environment whose user-level config file holds ``text``."""
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    path = user_config_path(environ)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return environ


@pytest.mark.parametrize("present", [LAYERS[i:] for i in range(len(LAYERS) + 1)], ids=lambda p: "+".join(p) or "none")
def test_each_layer_beats_the_ones_below(tmp_path: Path, present: tuple[str, ...]) -> None:
    """clean_keep set to a different number in every layer present: the highest one wins."""
    value = {"cli": "11", "env": "12", "toml": "13", "user": "14"}
    repo = _repo(tmp_path, f"[clean]\nkeep = {value['toml']}\n" if "toml" in present else "")
    environ = _user_config(tmp_path, f"[clean]\nkeep = {value['user']}\n" if "user" in present else "")
    if "env" in present:
        environ["SLCC_CLEAN_KEEP"] = value["env"]
    overrides = {"clean_keep": value["cli"] if "cli" in present else None}
    settings = load_settings(repo, overrides, environ)
    expected = int(value[present[0]]) if present else DEFAULT_CLEAN_KEEP
    assert settings.clean_keep == expected


def test_scope_source_names_the_layer_that_won(tmp_path: Path) -> None:
    repo = _repo(tmp_path, '[build]\nscope = "main"\n')
    environ = _user_config(tmp_path, "")
    assert load_settings(repo, {}, environ).scope_source == str(repo / "slcc.toml")
    environ["SLCC_SCOPE"] = "tag"
    assert (load_settings(repo, {}, environ).scope, load_settings(repo, {}, environ).scope_source) == ("tag", "$SLCC_SCOPE")
    settings = load_settings(repo, {"scope": "rel"}, environ)
    assert (settings.scope, settings.scope_source) == ("rel", "--scope")


def test_a_none_override_does_not_hide_lower_layers(tmp_path: Path) -> None:
    repo = _repo(tmp_path, '[registry]\nrepository = "127.0.0.1:5000/from-toml"\n')
    settings = load_settings(repo, {"repository": None}, {"SLCC_REPOSITORY": "127.0.0.1:5000/from-env"})
    assert settings.repository == "127.0.0.1:5000/from-env"
    assert load_settings(repo, {"repository": None}, {}).repository == "127.0.0.1:5000/from-toml"


def test_user_config_location_follows_xdg_then_home(tmp_path: Path) -> None:
    assert user_config_path({"XDG_CONFIG_HOME": "/x", "HOME": "/h"}) == Path("/x/slcc/config.toml")
    assert user_config_path({"XDG_CONFIG_HOME": "", "HOME": "/h"}) == Path("/h/.config/slcc/config.toml")


def test_repository_toml_may_not_name_a_host_path(tmp_path: Path) -> None:
    outside = tmp_path / "outside-state"
    repo = _repo(tmp_path, f'[state]\ndir = "{outside}"\n')
    with pytest.raises(InputError, match="outside the repository") as info:
        load_settings(repo, {}, {})
    assert info.value.path == repo / "slcc.toml"


@pytest.mark.parametrize("layer", ["cli", "env", "user"])
def test_cli_env_and_user_config_may_name_a_host_path(tmp_path: Path, layer: str) -> None:
    outside = tmp_path / "outside-state"
    repo = _repo(tmp_path)
    environ = _user_config(tmp_path, f'[state]\ndir = "{outside}"\n' if layer == "user" else "")
    if layer == "env":
        environ["SLCC_STATE_DIR"] = str(outside)
    overrides = {"state_dir": str(outside)} if layer == "cli" else {}
    assert load_settings(repo, overrides, environ).state_dir == outside


def test_an_in_repository_path_in_slcc_toml_beats_the_user_config(tmp_path: Path) -> None:
    """slcc.toml sits above the user config (docs/settings.md); the environment above both."""
    repo = _repo(tmp_path, '[state]\ndir = "inside"\n')
    environ = _user_config(tmp_path, f'[state]\ndir = "{tmp_path / "elsewhere"}"\n')
    assert load_settings(repo, {}, environ).state_dir == repo / "inside"
    environ["SLCC_STATE_DIR"] = str(tmp_path / "elsewhere")
    assert load_settings(repo, {}, environ).state_dir == tmp_path / "elsewhere"
