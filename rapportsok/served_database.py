"""Datasette's own pages follow a rebuild too (issue 16.1).

``rapportsok build`` replaces the database file (``os.replace``) while the site runs. The search
pages load a new index when the file's identity changes (``plugins/rapportsok_site.get_index``).
Datasette's table, row, SQL and canned-query pages (``/rapportsok/…``) kept one connection per
worker thread, opened by path on the old file: after a rebuild they went on reading the deleted
file – the old build beside the new one on the search pages – and held its descriptors until
a restart.

:class:`RebuiltDatabase` is Datasette's immutable ``Database`` with one change: before each query
the worker thread compares the file's identity (inode, mtime, size: one ``stat``) with that of its
connection, and opens a new connection (closing the old one) when the file was replaced. The table
counts, size and hash Datasette caches for an immutable file are dropped with it. A query is
answered from one file; the pages of one request may straddle a rebuild, as any two requests may.
"""

from __future__ import annotations

import asyncio
import os
import threading

from datasette.database import Database

_local = threading.local()   # per worker thread: {database name: (file identity, connection)}


def file_identity(path: str) -> tuple | None:
    """(inode, mtime, size) of ``path``; None in the instant between unlink and rename."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class RebuiltDatabase(Database):
    """An immutable database file that a rebuild may replace while the site serves it."""

    def __init__(self, ds, path: str):
        super().__init__(ds, path=path, is_mutable=False)
        self._identity = file_identity(path)
        self._lock = threading.Lock()

    def _current(self) -> tuple | None:
        ident = file_identity(self.path)
        if ident is not None and ident != self._identity:
            with self._lock:
                if ident != self._identity:
                    self._identity = ident
                    self.cached_hash = self.cached_size = self._cached_table_counts = None
        return self._identity

    async def execute_fn(self, fn):
        if self.ds.executor is None:       # Datasette's non-threaded mode: as Datasette does it
            return await super().execute_fn(fn)

        def in_thread():
            ident = self._current()
            mine = getattr(_local, "connections", None)
            if mine is None:
                mine = _local.connections = {}
            entry = mine.get(self.name)
            if entry is None or entry[0] != ident:
                if entry is not None:   # the file was replaced: release the old one
                    entry[1].close()
                    try:
                        self._all_file_connections.remove(entry[1])
                    except ValueError:
                        pass
                conn = self.connect()
                self.ds._prepare_connection(conn, self.name)
                entry = mine[self.name] = (ident, conn)
            return fn(entry[1])

        return await asyncio.get_running_loop().run_in_executor(self.ds.executor, in_thread)
