"""The one URL builder for the site's own pages (relative paths; callers add the base)."""

from __future__ import annotations

from urllib.parse import quote, urlencode


def reader_url(report_id: str, passage: int | None = None, q: str | None = None, params: dict | None = None) -> str:
    """The report reader, opened at a passage (and highlighting the query's words; ``params``: the
    search's other parameters, kept by the reader's previous/next links)."""
    query: dict = dict(params or {})
    if passage is not None:
        query["passage"] = passage
    if q:
        query["q"] = q
    path = f"/rapport/{quote(report_id)}"
    if not query:
        return path
    return f"{path}?{urlencode(query)}" + (f"#passage-{passage}" if passage is not None else "")


def passage_url(report_id: str, passage: int) -> str:
    """A passage in the report reader, as a plain anchor (a hit's ``url``)."""
    return f"/rapport/{quote(report_id)}#passage-{passage}"


def pdf_url(report_id: str) -> str:
    """The report's original PDF as the site serves it."""
    return f"/rapport/{quote(report_id)}/original.pdf"


def with_params(params: dict, **changes) -> str:
    """``?query`` from ``params`` with ``changes`` applied (``None`` removes a parameter)."""
    merged = {k: v for k, v in params.items() if v not in (None, "")}
    for k, v in changes.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return "?" + urlencode(merged, doseq=True)


def search_url(params: dict, fmt: str = "", **changes) -> str:
    return f"/sok{('.' + fmt) if fmt else ''}" + with_params(params, **changes)


def topic_url(topic_id: str) -> str:
    return f"/amne/{quote(topic_id)}"


def table_url(table_id: str) -> str:
    return f"/tabell/{quote(table_id)}"


def prefixed(prefix: str, url: str) -> str:
    """A site path (``/sok?q=…``) under the site's mount point ``prefix`` (Datasette's ``base_url``,
    e.g. ``/rapportsok-app/``). Anything else (``?…``, ``#…``, ``https://…``, ``//host``) is returned unchanged."""
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
        return url
    return (prefix or "/").rstrip("/") + url


def absolute_base(public_base: str, prefix: str) -> str:
    """The public address to put before a site path in exports: ``RAPPORTSOK_BASE_URL`` plus the mount
    point, unless the configured address already ends with it (no trailing slash)."""
    base = public_base.rstrip("/")
    mount = (prefix or "/").rstrip("/")
    return base if not mount or base.endswith(mount) else base + mount
