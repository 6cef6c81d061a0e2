"""Finding the buildx plugin where the docker CLI would, so bake runs without the CLI in front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slcc.engine import buildx_binary
from slcc.engine.bake_runner import bake_command
from slcc.engine.buildx_binary import standalone_buildx
from slcc.engine.protocol import BakeRequest


def plugin(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "docker-buildx"
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "system"
    monkeypatch.setattr(buildx_binary, "SYSTEM_PLUGIN_DIRS", (str(root / "a"), str(root / "b")))
    return root


def test_the_config_directory_wins_over_the_system_directories(tmp_path: Path, system: Path) -> None:
    plugin(system / "b")
    env = {"DOCKER_CONFIG": str(tmp_path / "cfg")}
    assert standalone_buildx(env) == str(system / "b" / "docker-buildx")
    mine = plugin(tmp_path / "cfg" / "cli-plugins")
    assert standalone_buildx(env) == str(mine)


def test_no_plugin_or_one_not_executable_leaves_it_to_the_docker_cli(tmp_path: Path, system: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path / "cfg")}
    assert standalone_buildx(env) is None
    plugin(system / "a").chmod(0o644)
    assert standalone_buildx(env) is None


@pytest.mark.parametrize("config", [{"cliPluginsExtraDirs": ["/opt/plugins"]}, "not json"])
def test_extra_plugin_directories_or_an_unreadable_config_leave_it_to_the_docker_cli(
        tmp_path: Path, system: Path, config: object) -> None:
    plugin(system / "a")
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(config if isinstance(config, str) else json.dumps(config), encoding="utf-8")
    assert standalone_buildx({"DOCKER_CONFIG": str(cfg)}) is None
    (cfg / "config.json").write_text(json.dumps({"auths": {}}), encoding="utf-8")
    assert standalone_buildx({"DOCKER_CONFIG": str(cfg)}) == str(system / "a" / "docker-buildx")


def test_the_bake_command_runs_the_plugin_unless_another_docker_context_is_asked(tmp_path: Path) -> None:
    request = BakeRequest(tmp_path / "bake.hcl", ("t1", "t2"), tmp_path, tmp_path / "build.log")
    assert bake_command(request, "/p/docker-buildx") == [
        "/p/docker-buildx", "bake", "-f", str(tmp_path / "bake.hcl"), "--progress=plain", "t1", "t2"]
    assert bake_command(request, None)[:3] == ["docker", "buildx", "bake"]
    other = BakeRequest(tmp_path / "bake.hcl", ("t1",), tmp_path, tmp_path / "build.log", context="remote")
    assert bake_command(other, "/p/docker-buildx")[:4] == ["docker", "--context", "remote", "buildx"]
