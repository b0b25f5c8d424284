"""Only the methods a read-only site needs: anything else (PUT, DELETE, PATCH, TRACE …) is 405.

Plugin routes are plain functions that answered any method with the page (TRACE /sok was
200, TRACE / a 500 from Datasette); this wrapper answers before any route is looked up.
"""

from __future__ import annotations

from datasette import hookimpl

from rapportsok.http_policy import ALLOWED_METHODS, security_headers


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def only_allowed_methods(scope, receive, send):
            if scope["type"] != "http" or scope.get("method", "GET").upper() in ALLOWED_METHODS:
                return await app(scope, receive, send)
            body = "Metoden är inte tillåten. Webbplatsen kan bara läsas (GET); batchsökningen tar emot POST.\n".encode()
            routes = {db.route for db in datasette.databases.values()}
            await send({"type": "http.response.start", "status": 405, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"allow", ", ".join(ALLOWED_METHODS).encode()),
                (b"content-length", str(len(body)).encode()), *security_headers(scope.get("path", ""), routes)]})
            await send({"type": "http.response.body", "body": body})

        return only_allowed_methods

    return wrap
