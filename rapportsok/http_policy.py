"""What the public site allows over HTTP: methods and security headers (one place).

Used by the ASGI wrappers in ``plugins/security_headers.py`` and ``plugins/http_methods.py``.
The site only reads: GET/HEAD for pages, POST for the batch search form (and Datasette's
own forms), OPTIONS for CORS pre-flight. Everything else is 405.

Content-Security-Policy: Rapportsök's own pages run no inline script (``script-src 'self'``);
Datasette's database, table and query pages (``/<database>…``, ``/-/…``) ship inline scripts
in their templates, so they get ``'unsafe-inline'`` for scripts. Nothing is framed, nothing
loads from other origins.
"""

from __future__ import annotations

ALLOWED_METHODS = ("GET", "HEAD", "POST", "OPTIONS")

_CSP = ("default-src 'self'; script-src 'self'{inline}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'")
CSP_SITE = _CSP.format(inline="")
CSP_DATASETTE = _CSP.format(inline=" 'unsafe-inline'")


def security_headers(path: str, database_routes: set[str]) -> list[tuple[bytes, bytes]]:
    """Headers added to every response; ``database_routes`` are the served databases' URL names."""
    first = path.lstrip("/").split("/", 1)[0].split(".", 1)[0]
    datasette_page = path.startswith("/-/") or first in database_routes
    return [
        (b"content-security-policy", (CSP_DATASETTE if datasette_page else CSP_SITE).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
    ]
