"""Only the methods a read-only site needs: anything else (PUT, DELETE, PATCH, TRACE …) is 405.

Plugin routes are plain functions that answered any method with the page (TRACE /sok was
200, TRACE / a 500 from Datasette); this wrapper answers before any route is looked up.
OPTIONS is answered here too (204 with ``Allow``): it ran the whole page before.
"""

from __future__ import annotations

from datasette import hookimpl

from rapportsok.http_policy import ALLOWED_METHODS, security_headers


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def only_allowed_methods(scope, receive, send):
            method = scope.get("method", "GET").upper()
            if scope["type"] != "http" or (method in ALLOWED_METHODS and method != "OPTIONS"):
                return await app(scope, receive, send)
            # OPTIONS asks which methods there are: the answer, without running the page
            status, body = (204, b"") if method == "OPTIONS" else (
                405, "Metoden är inte tillåten. Webbplatsen kan bara läsas (GET); batchsökningen tar emot POST.\n".encode())
            routes = {db.route for db in datasette.databases.values()}
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"allow", ", ".join(ALLOWED_METHODS).encode()),
                (b"content-length", str(len(body)).encode()), *security_headers(scope.get("path", ""), routes)]})
            await send({"type": "http.response.body", "body": body})

        return only_allowed_methods

    return wrap
