"""`slcc serve`: builds triggered by git-host webhooks, with a persistent queue and a status page.

Layout: ``hooks`` (pure: signatures and push payloads), ``records`` (build records),
``queue`` (SQLite or PostgreSQL queue and history), ``mirror`` (the git mirror and work trees),
``planner`` (flavor hashes at a commit), ``runner`` (one build in its own process, through the
normal build pipeline), ``worker`` (claims builds and runs the runner), ``app`` (HTTP routes),
``page`` (the HTML status page) and ``service`` (wiring and the uvicorn server).
Nothing here is imported by other commands: Starlette and uvicorn load only for `slcc serve`.
"""
