"""Security headers on every response (policy in :mod:`rapportsok.http_policy`)."""

from __future__ import annotations

from datasette import hookimpl

from rapportsok.http_policy import security_headers


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_headers(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            routes = {db.route for db in datasette.databases.values()}
            extra = security_headers(scope.get("path", ""), routes)

            async def send_with_headers(event):
                if event["type"] == "http.response.start":
                    present = {k.lower() for k, _ in event.get("headers", [])}
                    event = {**event, "headers": list(event.get("headers", [])) + [h for h in extra if h[0] not in present]}
                await send(event)

            await app(scope, receive, send_with_headers)

        return with_headers

    return wrap
