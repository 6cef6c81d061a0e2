"""`slcc serve`: build flavors on webhook pushes, with a queue and a status page."""

from __future__ import annotations

from pathlib import Path

import click

from slcc.cli.options import builder_option
from slcc.vocabulary import CacheBackend, choices


@click.command("serve")
@click.option("--repo", "source", required=True, metavar="SOURCE",
              help="The flavor repository to build: a git URL or a local path. Mirrored under the state directory.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path(".slcc-serve"), show_default=True,
              help="Mirror, work trees, logs, artifacts and the SQLite queue.")
@click.option("--database", metavar="URL", envvar="SLCC_SERVE_DATABASE",
              help="postgresql://... to share one queue between instances; default: SQLite in the state dir "
              "[env SLCC_SERVE_DATABASE; passwords: PGPASSWORD or ~/.pgpass].")
@click.option("--branch", "branches", multiple=True, metavar="GLOB",
              help="Build pushes to matching branches only (repeatable); default: every branch.")
@click.option("--push", is_flag=True, help="Push built images to the registry (like slcc build --push).")
@click.option("--export", "export_", is_flag=True,
              help="Export each goal as .tar.gz + .sha512sum into the build's artifacts.")
@click.option("--max-body", type=click.IntRange(1024, 100 * 1024 * 1024), default=5 * 1024 * 1024,
              show_default=True, metavar="BYTES", help="Larger request bodies are refused with 413.")
@click.option("--instance", metavar="NAME",
              help="Name of this instance in a shared queue; default: host name and state dir.")
@click.option("--keep", type=click.IntRange(1, 1_000_000), default=200, show_default=True, metavar="N",
              help="Keep logs and artifacts of the N newest builds (records and reports stay in the database).")
@click.option("--repository", metavar="REPO", help="Image repository for hash tags [env SLCC_REPOSITORY].")
@click.option("--cache", type=click.Choice(choices(CacheBackend)),
              help="Build cache backend [env SLCC_CACHE].")
@builder_option
def serve_cmd(source: str, host: str, port: int, state_dir: Path, database: str | None, branches: tuple[str, ...],
              push: bool, export_: bool, max_body: int, instance: str | None, keep: int,
              repository: str | None, cache: str | None, builder: str | None) -> None:
    """Build flavors when a git host reports a push (webhooks), with a queue and a status page.

    Every push to SOURCE that changes a flavor's content queues one build of it: the pushed
    commit is checked out into its own work tree and built like `slcc build` (only stale
    steps). Endpoints: POST /hooks/github, POST /hooks/gitlab, /api/builds, /api/artifacts
    and the page at /. Secrets: SLCC_WEBHOOK_SECRET and SLCC_API_TOKEN (or webhook_secret and
    api_token in ~/.config/slcc/serve.toml). See docs/serve.md.

    \b
    Example:
      SLCC_WEBHOOK_SECRET=... slcc serve --repo https://git.example.com/team/flavors.git --push
    """
    from slcc.serve.service import ServeOptions, serve  # noqa: PLC0415 - Starlette/uvicorn only for serve

    overrides = {"repository": repository, "cache": cache, "builder": builder}
    serve(ServeOptions(source, host, port, state_dir, database, branches, push, export_, max_body, instance, keep,
                       overrides))
