"""Security headers on every response (policy in :mod:`rapportsok.http_policy`)."""

from __future__ import annotations

from datasette import hookimpl

from rapportsok.http_policy import script_hashes, security_headers

_allowed: list[str] | None = None


def _allowed_scripts(datasette) -> list[str]:
    """Hashes of the inline script every page's base.html includes (Datasette's menu closer)."""
    global _allowed
    if _allowed is None:
        try:
            env = datasette.jinja_env  # the template is plain HTML: its source is what is sent
            _allowed = script_hashes(env.loader.get_source(env, "_close_open_menus.html")[0])
        except Exception:  # noqa: BLE001 - no such template: nothing inline to allow
            _allowed = []
    return _allowed


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_headers(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            routes = {db.route for db in datasette.databases.values()}
            extra = security_headers(scope.get("path", ""), routes, _allowed_scripts(datasette))

            async def send_with_headers(event):
                if event["type"] == "http.response.start":
                    present = {k.lower() for k, _ in event.get("headers", [])}
                    event = {**event, "headers": list(event.get("headers", [])) + [h for h in extra if h[0] not in present]}
                await send(event)

            await app(scope, receive, send_with_headers)

        return with_headers

    return wrap
