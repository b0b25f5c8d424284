"""Error responses in Swedish, fast, without a stack trace per 404.

Datasette 0.65.5's own handler prints every exception – also a plain 404 – with rich's
``print_exception(show_locals=True)``: tens of kilobytes of log per request, written on the
event loop, and with rich 15 it raises ``ValueError`` outside an ``except`` block, so an
unknown URL became a 500. This hook wraps ``handle_exception`` and answers instead of the
default handler (whose coroutine is then never run): 4xx errors are not logged at all,
other errors are logged once as a plain traceback. JSON paths get Datasette's JSON error
shape; other paths the site's ``error.html``.
"""

from __future__ import annotations

import logging
import traceback

from datasette import hookimpl
from datasette.utils.asgi import Base400, Response
from datasette.views.base import DatasetteError
from markupsafe import Markup

log = logging.getLogger("rapportsok")

MESSAGES = {
    400: "Begäran kunde inte tolkas.",
    403: "Du har inte behörighet till den här sidan.",
    404: "Sidan finns inte. Kontrollera adressen, eller sök i rapporterna.",
    405: "Metoden är inte tillåten här.",
    500: "Ett oväntat fel inträffade. Försök igen om en stund.",
}
MEMORY_MESSAGE = "Frågan behövde mer minne än sajten tillåter en fråga. Begränsa den (färre rader, kortare värden)."
TITLES = {400: "Felaktig begäran", 403: "Åtkomst nekad", 404: "Sidan finns inte", 405: "Metoden är inte tillåten",
          500: "Något blev fel"}


def _status_and_message(exception: Exception) -> tuple[int, str, str | None]:
    if isinstance(exception, Base400):
        status = exception.status
        text = str(exception.args[0]) if exception.args else ""
        # Datasette's own 404 texts are English ("Database not found: x", "404"): say it in Swedish
        if status == 404 or not text:
            text = MESSAGES.get(status, MESSAGES[400])
        return status, text, None
    if isinstance(exception, DatasetteError):
        message = Markup(exception.message) if exception.message_is_html else exception.message
        return exception.status, message, exception.title
    if isinstance(exception, MemoryError):
        # SQLite's memory cap for the public connections (plugins/sql_limits.py) was reached:
        # the query asked too much, like any other refused SQL – not a server fault
        return 400, MEMORY_MESSAGE, TITLES[400]
    log.error("fel vid förfrågan: %s", "".join(traceback.format_exception(exception)).rstrip())
    return 500, MESSAGES[500], None


def _is_default_handler(result) -> bool:
    return getattr(result, "__module__", "") == "datasette.handle_exception"


@hookimpl(wrapper=True)
def handle_exception(datasette, request, exception):
    results = yield
    others = [r for r in (results or []) if not _is_default_handler(r)]

    async def respond():
        status, message, title = _status_and_message(exception)
        info = {"ok": False, "error": message, "status": status, "title": title or TITLES.get(status)}
        path = request.path.split("?")[0]
        if path.endswith(".json"):
            return Response.json({k: str(v) if isinstance(v, Markup) else v for k, v in info.items()}, status=status)
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        html = await template.render_async({**info, "urls": datasette.urls, "app_css_hash": datasette.app_css_hash(),
                                            "menu_links": lambda: [], "request": request})
        return Response.html(html, status=status)

    return others + [respond]
