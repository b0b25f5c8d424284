"""Navigation for the report reader: a table of contents from the section tree, the search's
hits inside the report (previous/next) and the way back to the search results."""

from __future__ import annotations

import sqlite3
from urllib.parse import parse_qsl, urlsplit

from .errors import SearchError
from .search import urls

TOC_MAX_LEVEL = 2          # deeper headings are reached from their parent
SEARCH_KEYS = ("q", "mode", "kommun", "year", "year_from", "year_to", "type", "topic", "page")


def table_of_contents(conn: sqlite3.Connection, report_id: str) -> list[dict]:
    """Headings (levels 1–2) as a nested list, each linking to the first passage of its section."""
    sections = [dict(r) for r in conn.execute(
        "select s.id, s.level, s.heading, s.parent_id, s.char_start, "
        "(select min(c.ordinal) from chunks c where c.report_id = s.report_id and c.char_end > s.char_start) as passage "
        "from sections s where s.report_id = ? and s.kind = 'content' and s.level <= ? order by s.ordinal",
        [report_id, TOC_MAX_LEVEL])]
    top: list[dict] = []
    by_id: dict[int, dict] = {}
    for s in sections:
        if s["passage"] is None or not (s["heading"] or "").strip():
            continue
        node = {"heading": s["heading"], "passage": s["passage"], "children": []}
        by_id[s["id"]] = node
        parent = by_id.get(s["parent_id"])
        (parent["children"] if parent else top).append(node)
    return top


def hits_in_report(index, report_id: str, q: str) -> list[int]:
    """Passage numbers (in reading order) in this report that contain the query's words."""
    from .query import parse_request

    try:
        req = parse_request({"q": q, "mode": "keyword", "report": report_id, "limit": 1000}, export=True,
                            known_types=index.known_types)
        resp = index.search(req, highlights=False)
    except SearchError:
        return []
    return sorted({h["passage"] for h in resp.hits} | {a_ordinal for h in resp.hits for a_ordinal in _also(h, report_id)})


def _also(hit: dict, report_id: str) -> list[int]:
    out = []
    for a in hit.get("also_in") or []:
        if a.get("report_id") == report_id and "#passage-" in a.get("url", ""):
            out.append(int(a["url"].rsplit("#passage-", 1)[1]))
    return out


def navigation(conn: sqlite3.Connection, index, report_id: str, passage: int | None, params: dict,
               referer: str | None = None, prefix: str = "/", toc: list[dict] | None = None) -> dict:
    """``toc``, and with a query: the hits in the report, the previous/next hit and the search URL
    (the search page the reader came from, with its filters and page, when the browser says so).
    URLs are site paths (``/sok?…``); ``prefix`` is the site's mount point, to recognise the referer.
    ``toc``: the report's table of contents when the caller has it (the reader keeps it per build)."""
    q = (params.get("q") or "").strip() if isinstance(params.get("q"), str) else ""
    nav: dict = {"toc": table_of_contents(conn, report_id) if toc is None else toc, "hits": [], "prev": None,
                 "next": None, "position": None, "back_url": None}
    if not q:
        return nav
    hits = hits_in_report(index, report_id, q)
    nav["hits"] = hits
    back = {k: params[k] for k in SEARCH_KEYS if isinstance(params.get(k), str) and params.get(k)}
    nav["back_url"] = urls.search_url(back)
    if referer:
        parts = urlsplit(referer)
        if parts.path == urls.prefixed(prefix, "/sok") and parts.query and dict(parse_qsl(parts.query)).get("q", "").strip() == q:
            nav["back_url"] = "/sok?" + parts.query
    keep = {k: v for k, v in back.items() if k != "page"}

    def url(n: int) -> str:
        return urls.reader_url(report_id, n, params=keep)

    if passage is not None:
        before = [h for h in hits if h < passage]
        after = [h for h in hits if h > passage]
        nav["prev"] = url(before[-1]) if before else None
        nav["next"] = url(after[0]) if after else None
        nav["position"] = hits.index(passage) + 1 if passage in hits else None
    elif hits:
        nav["next"] = url(hits[0])
    return nav
