"""What the site shows: view data for the search page, exports, batch search, report reader
and table pages. The Datasette plugin (``plugins/rapportsok_site.py``) only routes requests
here and renders templates; everything here is plain Python and tested directly.
"""

from __future__ import annotations

import bisect
import functools

import csv
import dataclasses
import html
import json
import math
import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

from markupsafe import Markup

from . import exports, reader_html, reader_nav
from .errors import RapportsokError, SearchError
from .response_cache import BoundedLRU
from .query import MAX_EXPORT_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS, SearchRequest, parse_request, single_values
from .search import SearchIndex, SearchResponse, highlight_spans
from .search import counting, urls
from .structure import parse
from . import topics as topics_mod
from .tables import tables_of

PAGE_SIZE = 10
EXPORT_FIELDS = ["rank", "score", "report_id", "source_file", "municipality", "kommunkod", "year", "period",
                 "report_type", "section", "char_start", "char_end", "text", "mode", "keyword_score", "semantic_score",
                 "title", "report_url", "topics", "page", "page_end", "contains_words", "table_id"]
MONTHS_SV = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
             "november", "december"]
TYPE_LABELS = {
    "månadsrapport": "Månadsrapport", "tertialrapport": "Tertialrapport", "tertialbokslut": "Tertialbokslut",
    "delårsrapport": "Delårsrapport", "delårsbokslut": "Delårsbokslut", "årsbokslut": "Årsbokslut",
    "årsredovisning": "Årsredovisning", "verksamhetsberättelse": "Verksamhetsberättelse", "budget": "Budget",
    "kallelse": "Kallelse med bilagor", "protokoll": "Protokoll", "tjänsteskrivelse": "Tjänsteskrivelse", "övrigt": "Övrigt",
}
MODE_LABELS = {"hybrid": "Ord och betydelse", "semantic": "Betydelse", "keyword": "Exakta ord"}
BATCH_MAX_BYTES = 200_000
BATCH_MAX_QUERIES = 100
BATCH_MAX_N = 50
ATOM_DEFAULT, ATOM_MAX = 20, 100
BATCH_TIME_LIMIT_S = 20.0   # one batch never occupies a worker longer than this


class BadRequest(RapportsokError):
    """An input error to show the user with HTTP status ``status``."""

    def __init__(self, message: str, status: int = 400, parameter: str | None = None):
        self.status = status
        self.parameter = parameter
        super().__init__(message)


def swedish_date(iso: str | None) -> str:
    """``2022-08-22`` → ``22 augusti 2022``."""
    if not iso:
        return ""
    try:
        d = datetime.strptime(iso[:10], "%Y-%m-%d")
    except ValueError:
        return iso
    return f"{d.day} {MONTHS_SV[d.month - 1]} {d.year}"


def highlight_html(text: str, spans: list[list[int]]) -> Markup:
    """Escape ``text`` and wrap the given spans in <mark>."""
    out, pos = [], 0
    for a, b in spans:
        out.append(html.escape(text[pos:a]))
        out.append(f"<mark>{html.escape(text[a:b])}</mark>")
        pos = b
    out.append(html.escape(text[pos:]))
    return Markup("".join(out))


@functools.lru_cache(maxsize=4096)
def display(text: str) -> str:
    """Passage text for people: table markup and markdown emphasis removed (cached: the
    same passages are shown again and again, and the text of a passage never changes)."""
    from .build import display_text

    return display_text(text)


def snippet(text: str, spans: list[list[int]], width: int = 420, matched: tuple[int, int] | None = None) -> tuple[str, list[list[int]]]:
    """A window of ``text`` around the first highlight, with spans shifted to match.

    ``matched`` (the sentences that matched the meaning best, offsets in ``text``): the
    snippet starts there – at its first highlight if it has one."""
    if len(text) <= width:
        return text, spans
    inside = [s for s in spans if matched and matched[0] <= s[0] < matched[1]]
    if matched:
        start = max(matched[0], inside[0][0] - width // 4) if inside else matched[0]
    else:
        start = max(0, (spans[0][0] - width // 4) if spans else 0)
    start = text.rfind(" ", 0, start) + 1 if start else 0
    end = min(len(text), start + width)
    end = text.find(" ", end) if text.find(" ", end) != -1 else len(text)
    shifted = [[a - start, b - start] for a, b in spans if a >= start and b <= end]
    prefix = "… " if start else ""
    suffix = " …" if end < len(text) else ""
    return prefix + text[start:end] + suffix, [[a + len(prefix), b + len(prefix)] for a, b in shifted]


def matched_in(shown: str, passage_text: str, matched: list | None) -> tuple[int, int] | None:
    """The matched sentences (offsets in the passage text) as offsets in its displayed text."""
    if not matched:
        return None
    part = display(passage_text[matched[0]: matched[1]])
    at = shown.find(part) if part else -1
    return (at, at + len(part)) if at >= 0 else None


def _request_from(index: SearchIndex, params: dict, export: bool = False) -> SearchRequest:
    params = single_values(params)
    if "page" in params and "offset" not in params:
        try:
            page = int(str(params.pop("page")))
        except ValueError:
            raise SearchError("page", "sidnumret måste vara ett heltal") from None
        if page < 1:
            raise SearchError("page", "sidnumret måste vara 1 eller större")
        size = int(params.get("limit") or PAGE_SIZE) if str(params.get("limit") or "").isdigit() else PAGE_SIZE
        if (page - 1) * size > MAX_OFFSET:
            raise SearchError("page", f"sidan {page} är för långt bak; högst {MAX_OFFSET // size + 1} sidor visas – avgränsa sökningen i stället")
        params["offset"] = (page - 1) * size
    known_topics = [t.id for t in topics_mod.load_topics()]
    return parse_request(params, export=export, known_types=index.known_types, known_topics=known_topics)


def search_page(index: SearchIndex, params: dict) -> dict:
    """Everything the search page needs; ``error`` is set (and no search run) for bad input."""
    view = {"params": params, "q": str(params.get("q") or "").strip(), "error": None, "response": None,
            "filters": filter_options(index), "modes": MODE_LABELS, "topics": topics_mod.load_topics()}
    if not view["q"] and not params.get("topic"):
        return view
    req = _request_from(index, params)
    resp = index.search(req, highlights=False)   # spans are computed on the shown text
    marks = index.marks(req.q, req.mode, req.expand)
    hits = []
    for h in resp.hits:
        if h["kind"] == "table":   # shown as its header and matching row, not as a text snippet
            shown = {"snippet_html": None, "table_hit": _table_hit_of(index, h, view["q"])}
        else:
            text = display(h["text"])
            spans = highlight_spans(text, marks)
            short, short_spans = snippet(text, spans, matched=matched_in(text, h["text"], h["matched"]))
            shown = {"snippet_html": highlight_html(short, short_spans), "table_hit": None}
        hits.append({**h, **shown, "type_label": TYPE_LABELS.get(h["report_type"], h["report_type"] or ""),
                     "reader_url": reader_url(h["report_id"], h["passage"], req.q or None)})
    page = req.offset // req.limit + 1
    pages = max(1, math.ceil(resp.shown / req.limit))
    past_end = bool(req.offset and req.offset >= resp.shown)
    view.update({
        "request": req, "response": resp, "hits": hits, "matrix": index.matrix(req),
        "page": page, "pages": pages, "past_end": past_end,
        "topic_labels": {t.id: t.label for t in topics_mod.load_topics()},
        "suggested_q": _suggested(req.q, resp.interpreted.get("suggestions") or {}),
    })
    return view


def _table_hit_of(index: SearchIndex, h, q: str) -> dict | None:
    """A table hit's header and matching row (:func:`table_hit`), made with the page in the worker
    (the template asked for it per hit, two more trips through the worker pool each)."""
    conn = index.conn()
    table_id = h.get("table_id") or (table_of_chunk(conn, h["chunk_id"]) if h.get("chunk_id") is not None else None)
    if not table_id:
        return None
    return table_hit(conn, table_id, h.get("table_row"), q, index.query_stems(q) if q else set())


def _suggested(q: str, suggestions: dict) -> str | None:
    """The query with the suggested spellings ("Menade du: skyddat boende?")."""
    if not suggestions:
        return None
    out = q
    for wrong, right in suggestions.items():
        out = re.sub(rf"(?<!\w){re.escape(wrong)}(?!\w)", right, out, flags=re.IGNORECASE)
    return out


reader_url = urls.reader_url
url_with = urls.with_params


def per_build(index: SearchIndex, name: str, compute):
    """``compute()`` once per loaded index (one build: a rebuild loads a new index), then reused.
    Two threads arriving at once may both compute, but both get the one value kept (so a cache
    made here is shared by every thread)."""
    memo = index.__dict__.setdefault("_per_build", {})
    if name not in memo:
        value = compute()
        with _PER_BUILD_LOCK:
            memo.setdefault(name, value)
    return memo[name]


_PER_BUILD_LOCK = threading.Lock()


def filter_options(index: SearchIndex) -> dict:
    """Filter choices with how many reports (topics: passages) the collection holds for each
    (the same for every request of one build: computed once)."""
    return per_build(index, "filter_options", lambda: _filter_options(index))


def _filter_options(index: SearchIndex) -> dict:
    conn = index.conn()
    year_counts = [tuple(r) for r in conn.execute(
        "select year, count(*) from reports where year is not null group by year order by year")]
    topic_counts = dict(conn.execute("select topic_id, count(*) from chunk_topics group by topic_id").fetchall()) \
        if index.topic_table else {}
    return {
        "kommuner": [dict(r) for r in conn.execute(
            "select municipality as name, kommunkod as code, count(*) as n from reports where kommunkod is not null "
            "group by municipality, kommunkod order by municipality")],
        "years": [y for y, _ in year_counts],
        "year_counts": year_counts,
        "types": [(t, TYPE_LABELS.get(t, t)) for t in index.known_types],
        "type_counts": dict(conn.execute("select report_type, count(*) from reports group by report_type").fetchall()),
        "topic_counts": topic_counts,
    }


def export_rows(index: SearchIndex, resp: SearchResponse, base_url: str = "") -> list[dict]:
    """Hits with the CLI's field names plus the report URL and topics (for JSON and CSV);
    every signal's score and rank as the hit carries them (``scores``, and flat in CSV)."""
    topic_map = chunk_topics(index, [h["chunk_id"] for h in resp.hits])
    rows = []
    for h in resp.hits:
        row = {k: h[k] for k in ("rank", "score", "report_id", "source_file", "municipality", "kommunkod", "year", "period",
                                 "report_type", "section", "char_start", "char_end", "text", "mode", "title")}
        row["page"], row["page_end"] = h.get("page"), h.get("page_end")  # PDF pages (empty for text files)
        row["keyword_score"] = h["scores"].get("keyword")
        row["semantic_score"] = h["scores"].get("semantic")
        row["scores"] = h["scores"]
        row["contains_words"] = h["contains_words"]
        row["matched"] = h["matched"]   # the sentence window that matched the meaning best (JSON only)
        row["table_id"] = h["table_id"]
        row["report_url"] = base_url + reader_url(h["report_id"], h["passage"])
        row["topics"] = topic_map.get(h["chunk_id"], [])
        row["also_in"] = [{**a, "report_url": base_url + a["url"]} for a in h["also_in"]]
        rows.append(row)
    return rows


def chunk_topics(index: SearchIndex, chunk_ids: list[int]) -> dict[int, list[str]]:
    if not chunk_ids or not index.topic_table:
        return {}
    out: dict[int, list[str]] = {}
    for cid, topic in index.conn().execute(
            f"select chunk_id, topic_id from chunk_topics where chunk_id in ({','.join('?' * len(chunk_ids))}) order by score desc",
            chunk_ids):
        out.setdefault(cid, []).append(topic)
    return out


def to_csv(rows: list[dict], fields: list[str], variant: str = "csv") -> str:
    """``rows`` as CSV through the one CSV writer (:mod:`rapportsok.exports`)."""
    return exports.render(rows, fields, variant)


EXPORT_CAP = MAX_OFFSET + MAX_EXPORT_LIMIT   # the most hits one search export holds
CSV_EXPORT_FIELDS = EXPORT_FIELDS + ["dubblett_av"]


def search_export_all(index: SearchIndex, params: dict, base_url: str = "") -> dict:
    """Every hit of a search for ``/sok.csv`` (up to :data:`EXPORT_CAP`), folded near-duplicates
    as rows of their own whose ``dubblett_av`` is the rank of the hit they were folded into.

    With ``limit`` (and ``offset``) given, just that page. ``capped`` says whether the cap left
    hits out; the export then ends with a row saying so (its ``text``; every other field empty).
    """
    params = {k: v for k, v in params.items() if k not in ("page", "variant", "excel")}
    paged = "limit" in params
    offset = 0 if not paged else None
    rows: list[dict] = []
    first = None
    while True:
        page_params = params if paged else {**params, "limit": MAX_EXPORT_LIMIT, "offset": offset}
        data = search_export(index, page_params, base_url)
        first = first or data
        for row in data["hits"]:
            rows.append(row)
            rows.extend(_duplicate_rows(index, row, base_url))
        if paged:
            break
        offset += MAX_EXPORT_LIMIT
        if offset >= data["shown"] or offset > MAX_OFFSET:
            break
    n_hits = sum(1 for r in rows if not r.get("dubblett_av"))
    shown_until = (first["offset"] + n_hits) if first else 0
    capped = not paged and bool(first) and shown_until < first["shown"]
    note = None
    if capped:
        note = (f"Exporten är avkortad: träff {first['offset'] + 1}–{shown_until} av {first['total']} "
                f"(högst {EXPORT_CAP} per export). Avgränsa sökningen eller använd offset för resten.")
    return {**(first or {}), "hits": rows, "capped": capped, "note": note}


def _duplicate_rows(index: SearchIndex, row: dict, base_url: str) -> list[dict]:
    dups = row.get("also_in") or []
    if not dups:
        return []
    ids = [d["chunk_id"] for d in dups]
    found = {r["chunk_id"]: dict(r) for r in index.conn().execute(
        "select c.id as chunk_id, c.report_id, r.source_file, r.municipality, r.kommunkod, r.year, r.period, "
        "r.report_type, r.title, c.section, c.ordinal, c.char_start, c.char_end, c.text from chunks c "
        f"join reports r on r.id = c.report_id where c.id in ({','.join('?' * len(ids))})", ids)}
    out = []
    for cid in ids:
        d = found.get(cid)
        if d:
            out.append({**{k: d[k] for k in ("report_id", "source_file", "municipality", "kommunkod", "year", "period",
                                                "report_type", "section", "char_start", "char_end", "text", "title")},
                        "mode": row.get("mode"), "report_url": base_url + reader_url(d["report_id"], d["ordinal"]),
                        "dubblett_av": row["rank"]})
    return out


JSON_LIMIT = 20   # /sok.json hits per request without ``limit`` (``next`` links the following ones)


def search_export(index: SearchIndex, params: dict, base_url: str = "") -> dict:
    """One page of a search for ``/sok.json`` (and, with ``limit``, for ``/sok.csv``): ``limit``
    hits (default :data:`JSON_LIMIT`, at most 1000) from ``offset``, and in ``next`` the URL of
    the following page (``null`` after the last hit or past the deepest offset)."""
    req = _request_from(index, {"limit": JSON_LIMIT, **params}, export=True)
    resp = index.search(req, highlights=False)   # the export has no highlight field
    following = req.offset + req.limit
    more = following < resp.shown and following <= MAX_OFFSET
    out = {"query": req.q, "mode": req.mode, "filters": req.filters_description(), "total": resp.total,
           "total_words": resp.total_words, "total_similar": resp.total_similar, "shown": resp.shown,
           "offset": req.offset, "limit": req.limit,
           "next": base_url + urls.search_url(params, "json", page=None, offset=following) if more else None,
           "corrections": resp.corrections, "interpreted": resp.interpreted, "hits": export_rows(index, resp, base_url)}
    if req.offset and req.offset >= resp.shown:
        out["message"] = f"offset {req.offset} ligger efter sista träffen; sökningen gav {resp.shown} träffar"
    if resp.nothing_relevant:
        out["message"] = "inget relevant hittades"
    return out


# -- batch search -------------------------------------------------------------------------------

def decode_upload(data: bytes) -> str:
    if len(data) > BATCH_MAX_BYTES:
        raise BadRequest(f"Filen är för stor ({len(data) // 1000} kB). Högst {BATCH_MAX_BYTES // 1000} kB och "
                         f"{BATCH_MAX_QUERIES} frågor per körning.", status=413, parameter="fil")
    if b"\x00" in data[:4096]:
        raise BadRequest("Filen ser ut att vara binär. Ladda upp en textfil eller CSV med en fråga per rad.", parameter="fil")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            raise BadRequest("Filen är varken UTF-8 eller Windows-1252. Spara den som UTF-8 och försök igen.", parameter="fil") from None


QUERY_COLUMNS = ("q", "query", "fråga", "fraga", "fragor", "frågor", "sökord", "sokord")


def batch_queries(text: str) -> list[str]:
    """The queries of a batch (see :func:`read_batch`)."""
    return read_batch(text)[0]


def read_batch(text: str) -> tuple[list[str], list[str]]:
    """``(queries, warnings)`` from pasted text or an uploaded file.

    One query per line, or a table with a header row separated by ``;`` (what Swedish Excel
    saves), ``,`` or tab, whose column ``q``/``query``/``fråga``/``sökord`` holds the queries.
    A table without such a column, rows too short to have it and empty cells are warned about
    by line number; duplicate queries are run once.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [(i + 1, l) for i, l in enumerate(text.split("\n")) if l.strip()]
    if not lines:
        raise BadRequest("Inga frågor hittades. Skriv en fråga per rad eller ladda upp en CSV-fil.", parameter="fragor")
    warnings: list[str] = []
    delimiter = _delimiter(lines[0]) or ","
    header = [c.strip().strip("\ufeff").lower() for c in next(_csv_rows(lines[:1], delimiter))[1]]
    column = next((i for i, c in enumerate(header) if c in QUERY_COLUMNS), None)
    queries: list[str] = []
    if column is not None:
        for lineno, row in _csv_rows(lines[1:], delimiter):
            if len(row) <= column:
                warnings.append(f"rad {lineno}: har {len(row)} kolumner, frågan skulle stå i kolumn {column + 1}; raden hoppades över")
            elif not row[column].strip():
                warnings.append(f"rad {lineno}: kolumnen '{header[column]}' är tom; raden hoppades över")
            else:
                queries.append(row[column].strip())
    else:
        if len(header) > 1 and all(line.count(delimiter) == lines[0][1].count(delimiter) for _, line in lines[:5]):
            name = {";": "semikolon", ",": "komma", "\t": "tabb"}[delimiter]
            warnings.append(f"rad 1: filen ser ut som en tabell ({name}-separerad) men har ingen kolumn som heter "
                            f"q, fråga eller sökord; varje hel rad söktes som en fråga")
        queries = [l.strip() for _, l in lines]
    queries = list(dict.fromkeys(queries))
    if len(queries) > BATCH_MAX_QUERIES:
        raise BadRequest(f"{len(queries)} frågor är fler än de {BATCH_MAX_QUERIES} som får köras på en gång. Dela upp listan.",
                         status=413, parameter="fragor")
    if not queries:
        raise BadRequest("Inga frågor hittades i CSV-kolumnen." + (" " + "; ".join(warnings[:3]) if warnings else ""),
                         parameter="fragor")
    return queries, warnings


def _csv_rows(lines: list[tuple[int, str]], delimiter: str):
    """``(line number, cells)`` of each CSV row in ``lines`` (numbered lines; a quoted cell may
    run over several). A line the csv module refuses – a cell over its field limit (131 072
    characters), say – is a 400 naming the line, not a server error."""
    reader = csv.reader((line for _, line in lines), delimiter=delimiter)

    def lineno() -> int:   # the number of the last line the reader took
        return lines[min(max(reader.line_num - 1, 0), len(lines) - 1)][0]

    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BadRequest(f"rad {lineno()}: kunde inte läsas som CSV ({exc}). Skriv en fråga per rad "
                             f"(högst {MAX_QUERY_CHARS} tecken).", parameter="fragor") from None
        yield lineno(), row


def _delimiter(first: tuple[int, str]) -> str | None:
    """The separator of a header row that names the query column, else the most frequent one."""
    first_line = first[1]
    best = None
    for d in (";", "\t", ","):
        cells = [c.strip().strip("\ufeff").lower() for c in next(_csv_rows([first], d))[1]]
        if len(cells) > 1 and any(c in QUERY_COLUMNS for c in cells):
            return d
        if len(cells) > 1 and (best is None or first_line.count(d) > first_line.count(best)):
            best = d
    return best


BATCH_FIELDS = ["row_type", "query", "rank", "score", "municipality", "kommunkod", "year", "period", "report_type",
                "report_id", "section", "char_start", "char_end", "report_url", "text", "hits_in_kommun",
                "hits_in_kommun_year", "error"]


def batch_plan(text: str, n: int) -> tuple[list[str], list[dict]]:
    """The queries of a batch and its first rows (warnings about the input); a BadRequest for bad input."""
    if not 1 <= n <= BATCH_MAX_N:
        raise BadRequest(f"Antal träffar per fråga måste vara 1–{BATCH_MAX_N}.", parameter="n")
    queries, warnings = read_batch(text)
    return queries, [{"row_type": "varning", "error": w} for w in warnings]


def batch_timeout_rows(q: str) -> list[dict]:
    return [{"row_type": "fel", "query": q,
             "error": f"tidsgränsen för en batchkörning ({BATCH_TIME_LIMIT_S:.0f} s) nåddes; kör resten separat"}]


def batch_csv(rows: list[dict], variant: str = "csv") -> str:
    return to_csv(rows, BATCH_FIELDS, variant)


BATCH_ROWS_CACHED = 20_000   # rows of batch queries kept per build (≈ 40 MB at most; lists are often run again)


def batch_query_rows(index: SearchIndex, q: str, n: int, mode: str, base_url: str = "") -> list[dict]:
    """The rows of one query of a batch: its hits, then its counts per kommun and per kommun × år
    (the last BATCH_ROWS_CACHED rows are kept per build: the same query gives the same rows)."""
    cache = per_build(index, "batch_rows", lambda: BoundedLRU(BATCH_ROWS_CACHED, len))
    key = (q, n, mode, base_url)
    rows = cache.get(key)
    if rows is None:
        rows = _batch_query_rows(index, q, n, mode, base_url)
        cache.put(key, rows)
    return [dict(r) for r in rows]


def _batch_query_rows(index: SearchIndex, q: str, n: int, mode: str, base_url: str = "") -> list[dict]:
    rows: list[dict] = []
    try:
        req = _request_from(index, {"q": q, "mode": mode, "limit": n}, export=True)
        resp = index.search(req, highlights=False)
        matrix = index.matrix(req)
    except SearchError as exc:
        return [{"row_type": "fel", "query": q, "error": str(exc)}]
    per_kommun: dict[str, int] = {}
    for (code, _year), count in matrix["cells"].items():
        if count:
            per_kommun[code] = per_kommun.get(code, 0) + count
    for h in export_rows(index, resp, base_url):
        rows.append({"row_type": "träff", "query": q, **h, "hits_in_kommun": per_kommun.get(h["kommunkod"], 0),
                     "hits_in_kommun_year": matrix["cells"].get((h["kommunkod"], h["year"]), 0)})
    names = {k["code"]: k["name"] for k in matrix["kommuner"]}
    for code, count in sorted(per_kommun.items()):
        rows.append({"row_type": "antal", "query": q, "municipality": names.get(code), "kommunkod": code,
                     "hits_in_kommun": count})
    for (code, year), count in sorted(matrix["cells"].items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        if not count:
            continue
        rows.append({"row_type": "antal_år", "query": q, "municipality": names.get(code), "kommunkod": code,
                     "year": year, "hits_in_kommun_year": count})
    return rows


# -- report reader ---------------------------------------------------------------------------------

@dataclass
class ReaderBlock:
    kind: str
    html: Markup
    anchors: list[int]
    passages: list[int]
    level: int = 0
    table_id: str | None = None
    page_mark: dict | None = None   # set on the first block of a new PDF page: number, ocr, ocr_confidence


def report_page(conn: sqlite3.Connection, report_id: str, passage: int | None = None, q: str | None = None,
                index: SearchIndex | None = None, sida: int | None = None, prefix: str = "/") -> dict:
    """The report reader's view; ``article`` is its text as HTML (``prefix``: where the site is mounted)."""
    if q and len(q) > MAX_QUERY_CHARS:
        raise BadRequest(f"Sökfrågan är {len(q)} tecken lång; högst {MAX_QUERY_CHARS} tecken.", parameter="q")
    base = _reader_cached(index, conn, report_id) if index is not None else _reader(conn, report_id)
    if base is None:
        raise BadRequest(f"Rapporten '{report_id}' finns inte.", status=404)
    report, pages, chunks = base["report"], base["pages"], base["chunks"]
    if sida is not None and not any(p["page"] == sida for p in pages):
        raise BadRequest(f"Rapporten har ingen sida {sida}." if pages else "Rapporten är ingen PDF och har inga sidnummer.",
                         status=404, parameter="sida")
    if passage is not None and not any(c["ordinal"] == passage for c in chunks):
        raise BadRequest(f"Rapporten har inget textavsnitt nummer {passage}.", status=404, parameter="passage")
    hit = next((c for c in chunks if c["ordinal"] == passage), None)
    blocks = base["blocks"]
    stems = index.marks(q) if (index and q) else set()
    if hit and stems:
        # only the text blocks that cover the hit passage are highlighted; the rest of the
        # report is the same for every visitor (built once, see _reader)
        blocks = list(blocks)
        for i in base["prose"]:
            if hit["ordinal"] in blocks[i].passages:
                shown = display(report["text"][base["spans"][i][0]: base["spans"][i][1]])
                blocks[i] = dataclasses.replace(blocks[i], html=highlight_html(shown, highlight_spans(shown, stems)))
    meta = base["meta"]
    fields = [(label, meta.get(field, {})) for field, label in METADATA_LABELS]
    return {"report": report, "blocks": blocks, "tables": base["tables"], "meta": fields, "passage": passage, "q": q,
            "hit": hit, "toc": base["toc"], "type_label": TYPE_LABELS.get(report["report_type"], report["report_type"] or ""),
            "article": reader_html.article(base, blocks, hit["ordinal"] if hit else None, pdf_url(report), prefix),
            "date": swedish_date(report.get("document_date")), "sida": sida, "pdf_url": pdf_url(report),
            "citation": citation(report, meta.get("committee", {}).get("value"),
                                 sida or (hit_page(conn, hit["id"]) if hit else None))}


READER_CACHE_CHARS = 16_000_000   # report text kept as built reader pages, per loaded build (≈ 2–3× in memory)


def _reader_cached(index: SearchIndex, conn: sqlite3.Connection, report_id: str) -> dict | None:
    """:func:`_reader` of a report, kept per build (least recently read out first, bounded by text size)."""
    cache = per_build(index, "reader", lambda: BoundedLRU(READER_CACHE_CHARS, _reader_chars))
    found = cache.get(report_id)
    if found is not None:
        return found
    base = _reader(conn, report_id)
    if base is not None and _reader_chars(base) <= READER_CACHE_CHARS // 4:
        cache.put(report_id, base)
    return base


def _reader_chars(page: dict) -> int:
    return len(page["report"]["text"] or "")


def _reader(conn: sqlite3.Connection, report_id: str) -> dict | None:
    """A report as the reader shows it without highlights: its blocks as HTML with their
    passages and page marks, its pages, passages, tables and metadata (None: no such report)."""
    report = conn.execute("select * from reports where id = ?", [report_id]).fetchone()
    if report is None:
        return None
    report = dict(report)
    pages = [dict(r) for r in conn.execute("select * from report_pages where report_id = ? order by page", [report_id])] \
        if _has_table(conn, "report_pages") else []
    page_starts = [p["char_start"] for p in pages]
    marked = 0
    chunks = [dict(r) for r in conn.execute(
        "select id, ordinal, char_start, char_end, kind from chunks where report_id = ? order by ordinal", [report_id])]
    tables = [dict(r) for r in conn.execute("select * from tables where report_id = ? order by ordinal", [report_id])]
    meta = {r["field"]: dict(r) for r in conn.execute("select * from report_metadata where report_id = ?", [report_id])}
    if conn.execute("select 1 from sqlite_master where name = 'blocks'").fetchone():
        # what the build stored: blocks and tables as printed (no parsing per request)
        source_blocks = [SimpleNamespace(kind=r[0], start=r[1], end=r[2], level=r[3], heading=r[4] or "") for r in conn.execute(
            "select kind, char_start, char_end, level, heading from blocks where report_id = ? order by ordinal", [report_id])]
        wide_tables = {t["char_start"]: json.loads(t["wide"]) for t in tables if t.get("wide")}
    else:  # a database built before blocks were stored
        doc = parse(report["text"])
        source_blocks = doc.blocks
        wide_tables = {t.start: t.wide() for t in tables_of(doc)}
    table_ids = {t["char_start"]: t["id"] for t in tables}
    blocks: list[ReaderBlock] = []
    prose: list[int] = []                   # blocks of running text (highlighted when they cover the hit)
    spans: dict[int, tuple[int, int]] = {}  # their offsets in the report text
    # passages by start offset: each block looks only at the passages that can reach it
    # (a long report has hundreds of blocks and passages; comparing all with all took ~1 s)
    by_start = sorted(chunks, key=lambda c: c["char_start"])
    starts = [c["char_start"] for c in by_start]
    longest = max((c["char_end"] - c["char_start"] for c in chunks), default=0)
    for block in source_blocks:
        near = by_start[bisect.bisect_left(starts, block.start - longest): bisect.bisect_right(starts, block.end)]
        near.sort(key=lambda c: c["ordinal"])
        anchors = [c["ordinal"] for c in near if block.start <= c["char_start"] <= block.end]
        covering = [c["ordinal"] for c in near if c["char_start"] <= block.end and c["char_end"] >= block.start]
        if block.kind == "heading":
            body = highlight_html(block.heading, [])
        elif block.kind == "table" and block.start in wide_tables:
            body = table_html(wide_tables[block.start])
        elif block.kind in ("furniture", "toc"):
            continue
        else:
            prose.append(len(blocks))
            spans[len(blocks)] = (block.start, block.end)
            body = highlight_html(display(report["text"][block.start: block.end]), [])
        mark = None
        if pages:
            number = pages[max(bisect.bisect_right(page_starts, block.start) - 1, 0)]["page"]
            if number > marked:
                mark = next(p for p in pages if p["page"] == number)
                marked = number
        blocks.append(ReaderBlock(kind=block.kind, html=body, anchors=anchors, passages=covering,
                                  level=min(max(block.level, 1) + 1, 6), table_id=table_ids.get(block.start),
                                  page_mark=mark))
    return {"report": report, "pages": pages, "chunks": chunks, "tables": tables, "meta": meta, "blocks": blocks,
            "prose": prose, "spans": spans, "toc": reader_nav.table_of_contents(conn, report_id)}


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", [name]).fetchone() is not None


def hit_page(conn: sqlite3.Connection, chunk_id: int) -> int | None:
    try:
        row = conn.execute("select page_start from chunks where id = ?", [chunk_id]).fetchone()
    except sqlite3.OperationalError:   # a database built before pages were recorded
        return None
    return row[0] if row else None


def pdf_url(report: dict) -> str | None:
    """Where the site serves the original PDF of a report (None for text files)."""
    name = report.get("source_file") or ""
    return urls.pdf_url(report["id"]) if name.lower().endswith(".pdf") else None


def citation(report: dict, committee: str | None, page: int | None) -> str:
    """A reference to copy: "Nacka kommun, Tertialbokslut 2 2023, Socialnämnden, s. 12"."""
    mun = report.get("municipality")
    parts = [f"{mun} kommun" if mun else None, report.get("title") or report.get("source_file"), committee,
             f"s. {page}" if page else None]
    return ", ".join(p for p in parts if p)


def original_pdf(conn: sqlite3.Connection, report_id: str, corpus: Path) -> Path:
    """The original PDF of a report, read-only from the corpus: only a file the database lists for this
    report, only a plain file name (no path), only a PDF."""
    row = conn.execute("select source_file from reports where id = ?", [report_id]).fetchone()
    name = row[0] if row else ""
    if not name or Path(name).name != name or not name.lower().endswith(".pdf"):
        raise BadRequest(f"Rapporten '{report_id}' har ingen PDF.", status=404)
    path = corpus / name
    if not path.is_file():
        raise BadRequest(f"Originalet {name} finns inte på den här servern.", status=404)
    return path


METADATA_LABELS = [
    ("municipality", "Kommun"), ("kommunkod", "Kommunkod"), ("county", "Län"), ("committee", "Nämnd"),
    ("report_type", "Rapporttyp"), ("period", "Period"), ("document_date", "Datum"), ("diarienummer", "Diarienummer"),
    ("source_url", "Källa"), ("licence", "Villkor"), ("notes", "Anteckningar"),
]


def table_html(wide: dict) -> Markup:
    cols = wide["columns"]
    out = ['<div class="table-wrap" tabindex="0" role="region" aria-label="Tabell – rulla i sidled för fler kolumner"><table class="report-table"><thead><tr>']
    out += [f'<th scope="col">{html.escape(c)}</th>' for c in cols]
    out.append("</tr></thead><tbody>")
    for row, bold in zip(wide["rows"], wide["bold"]):
        cls = ' class="total"' if bold else ""
        cells = [f'<th scope="row">{html.escape(row[0])}</th>'] + [f"<td>{html.escape(c)}</td>" for c in row[1:len(cols)]]
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    out += [f'<p class="help">{html.escape(note)}</p>' for note in wide.get("footnotes", [])]
    out.append("</div>")
    return Markup("".join(out))


def table_page(conn: sqlite3.Connection, table_id: str) -> dict:
    import json

    row = conn.execute("select t.*, r.title as report_title, r.municipality as kommun from tables t "
                       "join reports r on r.id = t.report_id where t.id = ?", [table_id]).fetchone()
    if row is None:
        raise BadRequest(f"Tabellen '{table_id}' finns inte.", status=404)
    t = dict(row)
    wide = json.loads(t["wide"])
    chunk = conn.execute("select ordinal from chunks where table_id = ? order by ordinal limit 1", [table_id]).fetchone()
    from . import charts

    return {"table": t, "html": table_html(wide), "wide": wide, "detail": json.loads(t["sum_check_detail"] or "[]"),
            "passage": chunk[0] if chunk else None, "chart": charts.table_chart(t["title"], wide, t["unit"]),
            "footnotes": [r[0] for r in wide["rows"] if is_footnote_row(r)]}


def table_wide_csv(conn: sqlite3.Connection, table_id: str, variant: str = "csv") -> str:
    """The table as printed, one CSV row per table row: numbers as numbers (``-77 174`` →
    ``-77174``; a cell with a unit such as ``73 %`` stays as printed), footnote rows left out
    (they are on the table page)."""
    import json

    row = conn.execute("select wide from tables where id = ?", [table_id]).fetchone()
    if row is None:
        raise BadRequest(f"Tabellen '{table_id}' finns inte.", status=404)
    wide = json.loads(row[0])
    body = [[r[0]] + [_printed_number(c) for c in r[1:]] for r in wide["rows"] if not is_footnote_row(r)]
    return exports.render(body, header=wide["columns"], variant=variant)


def is_footnote_row(cells: list[str]) -> bool:
    """A row that is a footnote under the table ("*) Avser …"), not data."""
    return bool(cells) and cells[0].lstrip().startswith("*") and not any(c.strip() for c in cells[1:])


def _printed_number(raw: str):
    from .numbers_sv import parse_number

    parsed = parse_number(raw)
    if parsed.value is None or parsed.unit:
        return raw
    return int(parsed.value) if parsed.value.is_integer() else parsed.value


XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(s: str) -> str:
    """Escaped text for XML 1.0, without the characters XML cannot contain (NUL, most controls)."""
    return html.escape(XML_ILLEGAL.sub("", s))


def atom_feed(index: SearchIndex, params: dict, base_url: str) -> str:
    """An Atom feed of a saved search: its newest matching passages first."""
    params = {"limit": ATOM_DEFAULT, **single_values(params)}
    if str(params["limit"]).strip().isdigit() and int(params["limit"]) > ATOM_MAX:
        raise SearchError("limit", f"{params['limit']} ligger utanför det tillåtna intervallet 1–{ATOM_MAX}")
    req = _request_from(index, params, export=True)
    resp = index.search(req, highlights=False)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    e = xml_text
    entries = []
    for h in sorted(resp.hits, key=lambda h: (h["year"] or 0, h["period"] or ""), reverse=True):
        link = base_url + reader_url(h["report_id"], h["passage"], req.q)
        entry_id = link if base_url else f"tag:rapportsok,2024:{h['report_id']}/{h['passage']}"
        entries.append(
            f"<entry><title>{e(h['municipality'] or '')} {e(str(h['period'] or h['year'] or ''))}: {e(h['section'] or h['title'] or '')}</title>"
            f"<id>{e(entry_id)}</id><link href=\"{e(link)}\"/><updated>{now}</updated>"
            f"<summary>{e(display(h['text'])[:600])}</summary></entry>")
    self_url = base_url + "/sok.atom" + url_with(params)
    feed_id = self_url if base_url else "tag:rapportsok,2024:/sok.atom" + url_with(params)
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
            f"<title>Rapportsök: {e(req.q)}</title><id>{e(feed_id)}</id><link rel=\"self\" href=\"{e(self_url)}\"/>"
            f"<updated>{now}</updated>{''.join(entries)}</feed>")


# -- topics -----------------------------------------------------------------------------------------

def topics_index(conn: sqlite3.Connection) -> list[dict]:
    counts = {r[0]: dict(r) for r in conn.execute(
        "select topic_id, count(*) as passages, count(distinct report_id) as reports, count(distinct kommunkod) as kommuner, "
        "min(year) as first_year, max(year) as last_year from chunk_topics group by topic_id")}
    tables = dict(conn.execute("select topic_id, count(*) from table_topics group by topic_id").fetchall())
    out = []
    for t in topics_mod.load_topics():
        c = counts.get(t.id, {})
        out.append({"topic": t, "passages": c.get("passages", 0), "reports": c.get("reports", 0),
                    "kommuner": c.get("kommuner", 0), "first_year": c.get("first_year"), "last_year": c.get("last_year"),
                    "tables": tables.get(t.id, 0)})
    return out


NUMBER_SENTENCE = re.compile(r"\d")


def topic_page(conn: sqlite3.Connection, topic_id: str, index: SearchIndex | None = None) -> dict:
    """A topic's page: passages, numbers, tables and the kommun × år chart. It depends only on
    the build, so with ``index`` it is computed once per build and topic (the chart took seconds
    under load)."""
    topic = topics_mod.topics_by_id().get(topic_id)
    if topic is None:
        raise BadRequest(f"Ämnet '{topic_id}' finns inte.", status=404)
    if index is None:
        return _topic_page(conn, topic, None)
    pages = per_build(index, "topic_pages", dict)
    if topic_id not in pages:
        pages[topic_id] = _topic_page(conn, topic, index)
    return pages[topic_id]


def _topic_page(conn: sqlite3.Connection, topic, index: SearchIndex | None) -> dict:
    topic_id = topic.id
    rows = [dict(r) for r in conn.execute(
        "select ct.chunk_id, ct.score, ct.method, ct.evidence, c.report_id, c.ordinal, c.section, c.text, c.kind, "
        "r.municipality, r.kommunkod, r.year, r.period, r.title from chunk_topics ct join chunks c on c.id = ct.chunk_id "
        "join reports r on r.id = c.report_id where ct.topic_id = ? order by r.municipality, r.year, c.ordinal", [topic_id])]
    matrix_cells: dict = {}
    kommuner: dict = {}
    for r in rows:
        key = (r["kommunkod"], r["year"])
        matrix_cells[key] = matrix_cells.get(key, 0) + 1
        kommuner[r["kommunkod"]] = r["municipality"]
    years = sorted({r["year"] for r in rows if r["year"] is not None})
    covered = None
    if index is not None:
        # the one counting function: the same numbers as /sok?topic=<id>
        ov = counting.overview(index, SearchRequest(q="", topics=[topic_id]))
        years, matrix_cells, covered = ov["years"], ov["cells"], ov["covered"]
        kommuner = {k["code"]: k["name"] for k in ov["kommuner"]}
    per_kommun: dict[str, list] = {}
    stems = {s for phrase in topic.phrases for s in phrase} | {a.lower() for a in topic.abbreviations}
    for r in sorted(rows, key=lambda r: (-r["score"], r["method"] == "semantik", r["ordinal"])):
        text = display(r["text"])
        spans = highlight_spans(text, stems)
        short, short_spans = snippet(text, spans, 360)
        per_kommun.setdefault(r["municipality"], []).append(
            {**r, "snippet_html": highlight_html(short, short_spans), "url": reader_url(r["report_id"], r["ordinal"])})
    numbers = topic_numbers(rows, topic)
    tables = [dict(r) for r in conn.execute(
        "select t.id, t.title, t.unit, t.municipality, t.year, t.period, tt.evidence from table_topics tt "
        "join tables t on t.id = tt.table_id where tt.topic_id = ? order by t.municipality, t.year", [topic_id])]
    related = [topics_mod.topics_by_id()[r] for r in topic.related]
    from . import charts

    kommun_list = sorted(({"code": k, "name": v} for k, v in kommuner.items()), key=lambda k: k["name"] or "")
    chart = charts.kommun_year_chart(f"Textavsnitt om {topic.label} per kommun och år", kommun_list, years, matrix_cells)
    return {"chart": chart, "heat_max": max(matrix_cells.values(), default=0), "topic": topic, "years": years, "kommuner": sorted(({"code": k, "name": v} for k, v in kommuner.items()), key=lambda k: k["name"] or ""),
            "cells": matrix_cells, "covered": covered, "per_kommun": {k: v[:3] for k, v in sorted(per_kommun.items())},
            "counts": {k: len(v) for k, v in per_kommun.items()}, "numbers": numbers, "tables": tables,
            "related": related, "total": len(rows)}


def topic_numbers(rows: list[dict], topic) -> list[dict]:
    """Sentences that state a number together with the topic's words ("120 barn aktuella för SSPF")."""
    from .chunking import sentences

    out = []
    seen = set()
    for r in rows:
        if r["kind"] != "prose" or r["method"] == "semantik":
            continue
        text = display(r["text"])
        for a, b in sentences(text, 0):
            sentence = text[a:b]
            if not NUMBER_SENTENCE.search(sentence) or sentence in seen or len(sentence) > 300:
                continue
            if topics_mod.match_text(sentence, [topic]):
                seen.add(sentence)
                out.append({"sentence": sentence, "municipality": r["municipality"], "year": r["year"], "period": r["period"],
                            "url": reader_url(r["report_id"], r["ordinal"]), "report_id": r["report_id"]})
    return out[:40]


# -- table hits in search results ----------------------------------------------------------------

def table_hit(conn: sqlite3.Connection, table_id: str, row_index: int | None = None, q: str | None = None,
              stems: set[str] | None = None) -> dict | None:
    """A table hit as a small table: the header and the matching row(s), from the stored table.

    The row is ``row_index`` when the hit names it; otherwise the rows whose label or cells
    hold the most query words (at most two; the first row when none does).
    """
    import json

    row = conn.execute("select id, title, unit, wide from tables where id = ?", [table_id]).fetchone()
    if row is None:
        return None
    wide = json.loads(row["wide"])
    rows = [(i, r) for i, r in enumerate(wide["rows"]) if not is_footnote_row(r)]
    if not rows:
        return None
    if row_index is not None and 0 <= row_index < len(wide["rows"]):
        chosen = [(row_index, wide["rows"][row_index])]
    else:
        words = [w for w in re.findall(r"\w+", (q or "").lower()) if len(w) >= 3]
        stems = stems or set()

        def score(r: list[str]) -> int:
            text = " ".join(r).lower()
            return sum(1 for w in words if w[:5] in text) + sum(1 for s in stems if len(s) >= 4 and s in text)
        scored = sorted(((score(r), i, r) for i, r in rows), key=lambda x: (-x[0], x[1]))
        best = scored[0][0]
        chosen = [(i, r) for s, i, r in scored[:2] if s == best and best > 0] or [rows[0]]
        chosen.sort()
    n_cols = len(wide["columns"])
    return {"id": row["id"], "title": row["title"], "unit": row["unit"], "columns": wide["columns"],
            "rows": [r[:n_cols] + [""] * (n_cols - len(r)) for _, r in chosen], "n_rows": len(rows),
            "url": urls.table_url(row["id"])}


def table_of_chunk(conn: sqlite3.Connection, chunk_id: int) -> str | None:
    row = conn.execute("select table_id from chunks where id = ?", [chunk_id]).fetchone()
    return row[0] if row else None
