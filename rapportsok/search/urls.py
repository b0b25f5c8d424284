"""The one URL builder for the site's own pages (relative paths; callers add the base)."""

from __future__ import annotations

from urllib.parse import quote, urlencode


def reader_url(report_id: str, passage: int | None = None, q: str | None = None) -> str:
    """The report reader, opened at a passage (and highlighting the query's words)."""
    query: dict = {}
    if passage is not None:
        query["passage"] = passage
    if q:
        query["q"] = q
    path = f"/rapport/{quote(report_id)}"
    if not query:
        return path
    return f"{path}?{urlencode(query)}" + (f"#passage-{passage}" if passage is not None else "")


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
