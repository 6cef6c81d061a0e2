"""Where the buildx CLI plugin lives, so bake can run without the docker CLI in front of it.

``docker buildx bake`` starts the docker CLI, which runs ``docker-buildx
docker-cli-plugin-metadata`` to validate the plugin and then starts the plugin itself: three Go
program starts. buildx also runs standalone (``docker-buildx bake ...``), as the same builder
with the same docker context and configuration; run that way it is one start (measured on this
machine under load: `docker buildx version` 0.21-0.32 s, `docker-buildx version` 0.06-0.11 s).

The plugin is found where the docker CLI looks (docker/cli ``cli-plugins/manager``): the config
directory's ``cli-plugins`` (``$DOCKER_CONFIG`` or ``~/.docker``), then the system directories.
A configuration that adds plugin directories (``cliPluginsExtraDirs``) is left to the docker
CLI, as is anything not found: the caller then runs ``docker buildx``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

PLUGIN = "docker-buildx"
SYSTEM_PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
                      "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")


def config_dir(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else Path.home() / ".docker"


def _extra_dirs(config: Path) -> bool:
    """The docker configuration names extra plugin directories (or cannot be read)."""
    try:
        data = json.loads((config / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True  # the docker CLI decides what an unreadable configuration means
    return not isinstance(data, dict) or bool(data.get("cliPluginsExtraDirs"))


def standalone_buildx(env: Mapping[str, str] = os.environ) -> str | None:
    """The path of the buildx plugin the docker CLI would run; None: run ``docker buildx``."""
    config = config_dir(env)
    if _extra_dirs(config):
        return None
    for directory in (str(config / "cli-plugins"), *SYSTEM_PLUGIN_DIRS):
        path = os.path.join(directory, PLUGIN)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None
