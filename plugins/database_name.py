"""The built database is always served as ``rapportsok``, whatever its file is called.

``metadata.yml`` (titles, hidden tables, canned queries) and the site's "Data" link refer to
the database by that name; Datasette names a database after its file, so
``rapportsok serve --db build/kalmar.db`` lost all of them. At start-up the one database that
has Rapportsök's ``build_info`` table is renamed, and served as a database that follows a
rebuild (:mod:`rapportsok.served_database`). ``/-/databases.json`` shows the file name,
not the server's absolute path.
"""

from __future__ import annotations

import os
import sqlite3

from datasette import hookimpl
from datasette.utils.asgi import Response

from rapportsok.served_database import RebuiltDatabase

NAME = "rapportsok"


def _is_rapportsok_db(path: str) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute("select 1 from sqlite_master where name = 'build_info'").fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


@hookimpl(tryfirst=True)
def startup(datasette):
    """Serve our database as ``rapportsok``, through :class:`~rapportsok.served_database.RebuiltDatabase`
    (Datasette's pages then follow a rebuild, as the search pages do)."""
    ours = [name for name, db in datasette.databases.items()
            if db.path and not db.is_mutable and _is_rapportsok_db(db.path)]
    if len(ours) == 1 and not isinstance(datasette.databases[ours[0]], RebuiltDatabase):
        db = datasette.databases[ours[0]]
        datasette.remove_database(ours[0])
        datasette.add_database(RebuiltDatabase(datasette, db.path), name=NAME if NAME not in datasette.databases else ours[0])


async def databases_json(datasette, request):
    rows = []
    for name, db in datasette.databases.items():
        if name == "_internal":
            continue
        rows.append({"name": name, "route": db.route, "path": os.path.basename(db.path) if db.path else None,
                     "size": db.size, "is_mutable": db.is_mutable, "is_memory": db.is_memory, "hash": db.hash})
    return Response.json(rows)


@hookimpl
def register_routes():
    return [(r"^/-/databases(\.json)?$", databases_json)]
