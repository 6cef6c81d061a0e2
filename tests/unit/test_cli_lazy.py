"""The lazy command line: each command's module loads only when that command runs.

`slcc --help` lists every command from slcc.cli.COMMANDS without importing one; a command
loads its own module and what it needs, never another command's (lock, push, serve, import).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from slcc import cli
from tests.helpers import DEMO_FILES, make_repo

COMMAND_MODULES = sorted({f"slcc.cli.{entry.module}" for entry in cli.COMMANDS.values()})
# Modules of commands (and services) that a run of another command has no use for.
OTHER_COMMANDS = ("slcc.commands.lock", "slcc.commands.push", "slcc.commands.build", "slcc.commands.clean",
                  "slcc.commands.export", "slcc.commands.watch", "slcc.commands.import_exaslct", "slcc.serve",
                  "slcc.importing", "python_on_whales", "rich")
PINNED_BASE = "slcc-test/busybox:1@sha256:" + "0" * 64  # a digest in the reference: no engine asked


def loaded_after(repo: Path, args: list[str], watched: tuple[str, ...]) -> list[str]:
    """Run slcc's main with ``args`` in a fresh interpreter; which of ``watched`` (or their submodules) it loaded."""
    script = (
        "import json, sys\nfrom slcc.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"watched = {watched!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if any(m == w or m.startswith(w + '.') for w in watched))),"
        " file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    loaded: list[str] = json.loads(run.stderr.strip().splitlines()[-1])
    return loaded


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    toml = DEMO_FILES["flavors/demo/flavor.toml"].replace('"slcc-test/busybox:1"', f'"{PINNED_BASE}"')
    return make_repo(tmp_path / "repo", {"flavors/demo/flavor.toml": toml})


def test_root_help_imports_no_command_module(repo: Path) -> None:
    assert loaded_after(repo, ["--help"], (*COMMAND_MODULES, *OTHER_COMMANDS, "slcc.engine.protocol")) == []


def test_a_commands_help_imports_only_its_own_module(repo: Path) -> None:
    others = tuple(m for m in COMMAND_MODULES if m != "slcc.cli.emit_bake")
    assert loaded_after(repo, ["emit-bake", "--help"], (*others, *OTHER_COMMANDS, "slcc.emitting.emit")) == []


def test_hash_loads_no_other_commands_code(repo: Path) -> None:
    others = tuple(m for m in COMMAND_MODULES if m != "slcc.cli.hashes")
    assert loaded_after(repo, ["hash", "demo", "--scope", "local"], (*others, *OTHER_COMMANDS)) == []


def test_the_watch_is_real_a_loaded_module_is_reported(repo: Path) -> None:
    # The check above can fail: the command's own modules are seen when watched.
    assert loaded_after(repo, ["hash", "demo"], ("slcc.cli.hashes", "slcc.commands")) == [
        "slcc.cli.hashes", "slcc.commands", "slcc.commands.pins", "slcc.commands.sources"]


def test_the_table_matches_every_command() -> None:
    """The short help `slcc --help` shows from the table is what the command itself would show."""
    ctx = click.Context(cli.main)
    assert cli.main.list_commands(ctx) == sorted(cli.COMMANDS)
    for name, entry in cli.COMMANDS.items():
        command = cli.main.get_command(ctx, name)
        assert command is not None, name
        assert command.name == ("explain" if name == "plan" else name)
        for limit in (30, 45, 80, 200):
            assert click.Command(None, help=entry.help).get_short_help_str(limit) == \
                command.get_short_help_str(limit), name
    assert cli.main.get_command(ctx, "no-such-command") is None


@pytest.mark.parametrize("width", [60, 80, 100])
def test_root_help_lists_commands_as_click_would(width: int) -> None:
    ctx = click.Context(cli.main)
    ours, eager = click.HelpFormatter(width=width), click.HelpFormatter(width=width)
    cli.main.format_commands(ctx, ours)
    click.Group.format_commands(cli.main, ctx, eager)  # click's own: imports every command to ask it
    assert ours.getvalue() == eager.getvalue()
    assert "  plan " in ours.getvalue()


def test_every_command_in_the_package_is_in_the_table() -> None:
    """A command defined in slcc/cli/ but missing from COMMANDS would silently not exist."""
    listed = {(entry.module, entry.attribute) for entry in cli.COMMANDS.values()}
    defined = set()
    for info in pkgutil.iter_modules(cli.__path__):
        module = importlib.import_module(f"slcc.cli.{info.name}")
        defined |= {(info.name, name) for name, value in vars(module).items()
                    if isinstance(value, click.Command) and getattr(value.callback, "__module__", None) == module.__name__}
    assert defined == listed
