"""The site as an ASGI application, for running several server processes (``rapportsok serve --workers N``).

Datasette runs in one process, and Python code (rendering, ranking, highlighting) holds the
GIL, so one process uses about one core however many threads it has. The database is
immutable and every worker reads it on its own, so N processes share nothing but the file:
``uvicorn --factory rapportsok.asgi:create_app --workers N`` starts N of them on one port.
The database comes from ``RAPPORTSOK_DB`` (default: ``build/rapportsok.db``); the settings,
plugins, templates and metadata are those of ``rapportsok serve`` (:func:`rapportsok.cli.datasette_kwargs`).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path


def create_app():
    from datasette.app import Datasette

    from . import paths
    from .cli import datasette_kwargs

    db = Path(os.environ.get("RAPPORTSOK_DB") or paths.database_path())
    ds = Datasette(**datasette_kwargs(db))
    app = ds.app()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        # load the index and the query model now, not on the worker's first request
        loop.create_task(ds.invoke_startup())
    return app
