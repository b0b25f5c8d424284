"""The site as an ASGI application, for running several server processes (``rapportsok serve --workers N``).

Datasette runs in one process, and Python code (rendering, ranking, highlighting) holds the
GIL, so one process uses about one core however many threads it has. The database is
immutable and every worker reads it on its own, so N processes share nothing but the file:
``uvicorn --factory rapportsok.asgi:create_app --workers N`` starts N of them on one port.
The database comes from ``RAPPORTSOK_DB`` (default: ``build/rapportsok.db``); the settings,
plugins, templates and metadata are those of ``rapportsok serve`` (:func:`rapportsok.cli.datasette_kwargs`).
"""

from __future__ import annotations

import os
from pathlib import Path


def create_app():
    from datasette.app import Datasette

    from . import paths
    from .cli import datasette_kwargs

    db = Path(os.environ.get("RAPPORTSOK_DB") or paths.database_path())
    ds = Datasette(**datasette_kwargs(db))
    app = ds.app()

    async def with_startup(scope, receive, send):
        """Run Datasette's startup hooks (our index and query model load) when the server starts,
        before it accepts requests – not on a worker's first request."""
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def receive_and_start():
            message = await receive()
            if message["type"] == "lifespan.startup":
                await ds.invoke_startup()
            return message
        return await app(scope, receive_and_start, send)

    return with_startup
