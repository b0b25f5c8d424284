"""What the public site allows over HTTP: methods and security headers (one place).

Used by the ASGI wrappers in ``plugins/security_headers.py`` and ``plugins/http_methods.py``.
The site only reads: GET/HEAD for pages, POST for the batch search form (and Datasette's
own forms), OPTIONS for CORS pre-flight. Everything else is 405.

Content-Security-Policy: Rapportsök's own pages run no inline script (``script-src 'self'``)
except the one Datasette's ``base.html`` includes (``_close_open_menus.html``), allowed by its hash;
Datasette's database, table and query pages (``/<database>…``, ``/-/…``) ship inline scripts
in their templates, so they get ``'unsafe-inline'`` for scripts. Nothing is framed, nothing
loads from other origins.
"""

from __future__ import annotations

import base64
import hashlib
import re

ALLOWED_METHODS = ("GET", "HEAD", "POST", "OPTIONS")

_CSP = ("default-src 'self'; script-src 'self'{inline}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'")
CSP_DATASETTE = _CSP.format(inline=" 'unsafe-inline'")
SCRIPT_RE = re.compile(r"<script[^>]*>(.*?)</script>", re.S)


def script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-…') for the inline scripts in a template's HTML."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()}'" for m in SCRIPT_RE.findall(html)]


def security_headers(path: str, database_routes: set[str], allowed_scripts: list[str] = ()) -> list[tuple[bytes, bytes]]:
    """Headers added to every response; ``database_routes`` are the served databases' URL names,
    ``allowed_scripts`` hashes of inline scripts the site's own pages may run."""
    first = path.lstrip("/").split("/", 1)[0].split(".", 1)[0]
    datasette_page = path.startswith("/-/") or first in database_routes
    csp = CSP_DATASETTE if datasette_page else _CSP.format(inline="".join(" " + h for h in allowed_scripts))
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
    ]
