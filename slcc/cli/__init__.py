"""The slcc command line. Thin: parse options, call the library, print results.

Results go to stdout, progress and warnings to stderr. Every SlccError becomes one
``slcc: error: ...`` line and its exit code (2 for bad input); no tracebacks.

The root group is lazy: each command lives in its own module of this package, imported only
when that command runs (``COMMANDS`` names them), so `slcc build` does not pay for `slcc serve`
or `slcc lock`, and `slcc --help` lists every command without importing any of them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from slcc import __version__
from slcc.cli.options import STDERR, fail
from slcc.engine import signals
from slcc.errors import SlccError

if TYPE_CHECKING:
    from slcc.engine.protocol import Cancelled


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives, and its first help paragraph for `slcc --help` (kept equal by a test)."""

    module: str  # a module of slcc.cli
    attribute: str
    help: str


COMMANDS: dict[str, LazyCommand] = {
    "activation": LazyCommand("activation", "activation_cmd",
                              "Print the SQL that activates FLAVOR's languages once its archive is in BucketFS."),
    "build": LazyCommand("build", "build_cmd",
                         "Build FLAVORS (default: all): only stale steps, skipping what is fresh."),
    "clean": LazyCommand("lifecycle", "clean_cmd",
                         "Remove old hash-tagged images, run folders, exports, contexts, git checkouts, build cache."),
    "du": LazyCommand("lifecycle", "du_cmd",
                      "Disk use per flavor and step: images, build cache, exports; run folders, git checkouts."),
    "emit-bake": LazyCommand("emit_bake", "emit_bake_cmd",
                             "Write a bake file for FLAVORS (default: all) that runs without slcc."),
    "explain": LazyCommand("explain", "explain_cmd",
                           "Show what a build would do and why: which files, args or dependencies changed."),
    "export": LazyCommand("export", "export_cmd",
                          "Export FLAVOR's release filesystem as FLAVOR-STEP-HASH.tar.gz plus a .sha512sum file."),
    "graph": LazyCommand("graph", "graph_cmd", "Show the step graph of FLAVORS: text, Graphviz dot, Mermaid or JSON."),
    "hash": LazyCommand("hashes", "hash_cmd", "Show each step's content hash and image tag."),
    "import-exaslct": LazyCommand("import_exaslct", "import_exaslct_cmd",
                                  "Import exaslct flavors from the checkout SOURCE into the slcc repository DEST."),
    "lock": LazyCommand("lock", "lock_cmd",
                        "Pin every external image to its digest, and every git mapping to a commit, in slcc.lock."),
    "plan": LazyCommand("explain", "explain_cmd",
                        "Show what a build would do and why: which files, args or dependencies changed."),
    "push": LazyCommand("push", "push_cmd",
                        "Push the hash-tagged images of FLAVORS (default: all) that the registry lacks."),
    "serve": LazyCommand("serve", "serve_cmd",
                         "Build flavors when a git host reports a push (webhooks), with a queue and a status page."),
    "test": LazyCommand("flavor_test", "test_cmd",
                        "Build FLAVOR's test step (and what it needs) and print PASS or FAIL; exit 1 on FAIL."),
    "watch": LazyCommand("watch", "watch_cmd",
                         "Build FLAVOR, then rebuild the steps a source change affects, until Ctrl-C (exit 130)."),
}


class SlccGroup(click.Group):
    """Loads a command's module only when it runs; turns slcc's errors into one line and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        command: click.Command = getattr(importlib.import_module(f"{__name__}.{entry.module}"), entry.attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists commands, but from the table: no command module is imported for --help."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        with formatter.section("Commands"):
            formatter.write_dl([(name, _short_help(COMMANDS[name], limit)) for name in names])

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:  # type: ignore[override]
        signals.install()  # SIGTERM and SIGHUP end slcc like Ctrl-C, with 143 and 129
        token = STDERR.set(None)  # each invocation starts with text lines
        try:
            return self._main(args, prog_name, **extra)
        finally:
            STDERR.reset(token)

    def _main(self, args: Sequence[str] | None, prog_name: str | None, **extra: Any) -> Any:
        try:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            fail(_usage_line(exc), 2)
        except click.ClickException as exc:
            fail(" ".join(exc.format_message().split()), exc.exit_code)
        except click.exceptions.Abort as exc:  # click's wrapper around KeyboardInterrupt
            cause = exc.__cause__
            fail("interrupted", signals.exit_code(cause) if isinstance(cause, KeyboardInterrupt) else 130)
        except SlccError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            fail("interrupted", signals.exit_code(exc))
        except Exception as exc:
            cancelled = _cancelled(exc)
            if cancelled is None:
                raise
            fail("interrupted", cancelled.exit_code)


def _short_help(entry: LazyCommand, limit: int) -> str:
    """The help line click would show for the command, shortened the same way."""
    return click.Command(None, help=entry.help).get_short_help_str(limit)


def _cancelled(exc: Exception) -> Cancelled | None:
    """``exc`` if it is the engine's Cancelled (a command that never loaded the engine cannot raise one)."""
    protocol = sys.modules.get("slcc.engine.protocol")
    return cast("Cancelled", exc) if protocol is not None and isinstance(exc, protocol.Cancelled) else None


def _usage_line(exc: click.UsageError) -> str:
    """Click's usage error as one line: the command, the problem, where to get help."""
    names, ctx = [], exc.ctx
    while ctx is not None and ctx.parent is not None:  # the root's name depends on how slcc was started
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    command = " ".join(reversed(names))
    message = " ".join(exc.format_message().split())
    where = f"{command}: " if command else ""
    return f"{where}{message} (see slcc {command + ' ' if command else ''}--help)"


@click.group(cls=SlccGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="slcc")
@click.option("-C", "--repo", type=click.Path(file_okay=False, path_type=Path),
              help="Repository root for every command (as `git -C`); a command's own -C wins.")
def main(repo: Path | None) -> None:
    """slcc - the script language container compiler.

    A flavor (flavors/NAME/flavor.toml plus one directory per step) is a graph of
    Dockerfiles. slcc hashes every step (BLAKE3 over files, args and dependency hashes),
    compiles the graph into a docker buildx bake file with hash tags, and builds only
    what is stale.

    \b
    Typical use:
      slcc build python3            build what changed, skip what is fresh
      slcc hash python3             show each step's hash and tag
      slcc graph python3 -f mermaid the step graph
      slcc emit-bake python3        bake file for other CI systems (bake/python3.hcl)
    """
