"""Bounds for the public SQL connections, which the SQL time limit alone does not give.

Datasette's ``sql_time_limit_ms`` is a progress handler: it counts virtual-machine steps, so
one expensive function call (``randomblob(1000000000)``, ``printf('%.*c', 1000000000, 'x')``,
``zeroblob``, ``replace`` on a huge string) ran for 10–20 s and allocated a gigabyte.
SQLite checks ``SQLITE_LIMIT_LENGTH`` whenever it makes a string or blob, so with it such a
query fails at once with "string or blob too big". The limit is above the largest value the
database stores (a report's text; the build refuses files over 20 MiB by default).

``printf``/``format`` need more: SQLite 3.40 keeps looping over a huge ``%.*c`` precision
after the length limit is hit (one billion steps, ~15 s, inside one function call). They
are replaced by a version that refuses widths and precisions over ``MAX_PRINTF_WIDTH``
and otherwise runs SQLite's own ``printf`` on a private in-memory connection.

Each value being bounded still leaves the sum: one query sorting 24 values of 30 MB took
860 MB and 6 s. ``PRAGMA hard_heap_limit`` caps everything SQLite allocates in the server
process (all connections together: page caches, sorters, values) at ``MAX_HEAP_BYTES``; a query
past it fails with "out of memory", answered as a 400 like any other SQL error. The limit is
process-wide, set by the first public connection; the searches' own SQLite work stays far below it
(a few MB: FTS5 doclists and id lists, even at a million passages).

A refusal raises inside a user function, which SQLite reports to the query as an error. Datasette
turns on ``sqlite3.enable_callback_tracebacks``, so each refusal also wrote a Python traceback to
the server's log: a client looping on such queries filled the log. They are turned off again.
"""

from __future__ import annotations

import re
import sqlite3
import threading

from datasette import hookimpl

MAX_VALUE_BYTES = 32 * 1024 * 1024   # longest string or blob a query may make or read
MAX_SQL_BYTES = 100_000               # longest SQL statement
MAX_COMPOUND_SELECT = 50              # union/except chains
MAX_PRINTF_WIDTH = 100_000            # printf('%.*c', n, 'x') and '%100000000d'
MAX_HEAP_BYTES = 256 * 1024 * 1024    # all SQLite memory of the server process together

_local = threading.local()
_SPEC_RE = re.compile(r"%[-+ 0#,!]*(\d*)(?:\.(\d*))?")  # width and precision of each conversion


def _builtin_printf(*args):
    """SQLite's printf, with the same limits, on this thread's private connection."""
    fmt = args[0] if args and isinstance(args[0], str) else ""
    too_wide = any(int(n or 0) > MAX_PRINTF_WIDTH for spec in _SPEC_RE.findall(fmt) for n in spec) or (
        "*" in fmt and any(isinstance(a, int) and abs(a) > MAX_PRINTF_WIDTH for a in args[1:]))
    if too_wide:  # a '*' takes its width or precision from an integer argument
        raise ValueError(f"printf: bredd eller precision över {MAX_PRINTF_WIDTH}")
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(":memory:")
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    return conn.execute(f"select printf({', '.join('?' * len(args))})", args).fetchone()[0] if args else None


@hookimpl
def prepare_connection(conn):
    if not hasattr(conn, "setlimit"):  # Python < 3.11 (the project requires 3.11)
        return
    sqlite3.enable_callback_tracebacks(False)   # Datasette turns them on at import
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.execute(f"pragma hard_heap_limit = {MAX_HEAP_BYTES}")   # process-wide
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, MAX_COMPOUND_SELECT)
    for name in ("printf", "format"):
        conn.create_function(name, -1, _builtin_printf, deterministic=True)
