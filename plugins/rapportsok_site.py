"""Rapportsök's pages in Datasette: routes, template helpers and a warm search index.

Thin by design: each route parses the request, calls :mod:`rapportsok.web` in a worker
thread (searching is CPU work and must not block other requests) and renders a template
from ``site/templates``. Errors in the user's input become Swedish messages with the right
HTTP status; nothing here prints a stack trace to the user.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from email.parser import BytesParser
from email.policy import default as email_policy

from datasette import hookimpl
from datasette.utils.asgi import AsgiStream, Response

from rapportsok import charts, collection, exports, markdown_text, reader_nav
from rapportsok import topics as topics_mod
from rapportsok import web
from rapportsok.errors import RapportsokError, SearchError
from rapportsok.query import single_values
from rapportsok.response_cache import ResponseCache, Stored
from rapportsok.served_database import file_identity
from rapportsok.search import SearchIndex, urls
from rapportsok.search.index import StaleIndex
from rapportsok.upload import BodyTooLarge, read_body

# Pages, single searches and batch searches share one pool of worker threads, in small pieces:
# a batch runs query by query, at most BATCH_WINDOW of its queries at a time, and at most
# BATCH_RUNNING batches at once, so batch work never holds more than BATCH_RUNNING ×
# BATCH_WINDOW pieces of the queue (each one query, ~10 ms) and a cheap page waits behind at
# most those (issue 16.3), while a batch of ordinary size still finishes in a few turns.
# Further batches wait for their turn in a queue that holds no thread (an asyncio
# semaphore); only when BATCH_QUEUE batches are already running or waiting, or a batch has
# waited BATCH_WAIT_S, does the next get 503 "försök igen".
EXECUTOR = ThreadPoolExecutor(max_workers=3, thread_name_prefix="rapportsok")
BATCH_RUNNING = 3
BATCH_WINDOW = 5
BATCH_QUEUE = 64                     # batches running or waiting (each holds ≤ 220 kB of form)
BATCH_WAIT_S = 60.0                  # the longest a batch waits for its turn
_batch_queues: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list]" = weakref.WeakKeyDictionary()
_INDEXES: dict[str, tuple[tuple, SearchIndex]] = {}
_LOADING = threading.Lock()
MAX_POST_BYTES = web.BATCH_MAX_BYTES + 20_000
DEFAULT_BASE_URL = "http://localhost"


def _database(datasette):
    for name, db in datasette.databases.items():
        if db.path and name != "_internal":
            return db
    raise RapportsokError("ingen databas är laddad")


def get_index(datasette, fresh: bool = False) -> SearchIndex:
    """The search index of the database file as it is now (issue 16.1).

    A rebuild replaces the file (``os.replace``). Each request checks the file's identity
    (one ``stat``); when it changed, one thread loads a new index (ids, vectors, connections
    – everything) while the others keep answering from the old one, whose connections still
    read the old file; then the new index replaces the old in one assignment. A request
    that would open a connection to the new file with the old index gets ``StaleIndex`` and
    is retried once on the new index (:func:`_retrying`), so no answer mixes two builds.
    """
    path = _database(datasette).path
    ident = file_identity(path)
    entry = _INDEXES.get(path)
    if entry and not fresh and (ident is None or entry[0] == ident):
        return entry[1]
    if entry and not fresh:
        if not _LOADING.acquire(blocking=False):
            return entry[1]   # another thread is loading the new build: keep serving the old one
    else:
        _LOADING.acquire()
    try:
        entry = _INDEXES.get(path)
        ident = file_identity(path)
        if entry and entry[0] == ident and not fresh:
            return entry[1]
        index = SearchIndex(path)
        _INDEXES[path] = (ident, index)
        return index
    finally:
        _LOADING.release()


async def index_for(datasette) -> SearchIndex:
    """:func:`get_index` without a trip through the worker pool when the loaded index is current
    (one ``stat``): a request whose page is in the response cache then never waits for a worker."""
    path = _database(datasette).path
    entry = _INDEXES.get(path)
    if entry is not None:
        ident = file_identity(path)
        if ident is None or entry[0] == ident:
            return entry[1]
    return await run(get_index, datasette)


async def run(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(EXECUTOR, fn, *args)


def _retrying(handler):
    """Run a route; if the database was rebuilt under it, reload the index and run it once more."""
    @functools.wraps(handler)
    async def wrapped(datasette, request):
        try:
            return await handler(datasette, request)
        except StaleIndex:
            await run(functools.partial(get_index, datasette, fresh=True))
            return await handler(datasette, request)
    return wrapped


def _response_cache(index: SearchIndex) -> ResponseCache:
    """The finished responses of this index's build (a new build loads a new index: an empty cache)."""
    mb = float(os.environ.get("RAPPORTSOK_RESPONSE_CACHE_MB", "48"))
    return web.per_build(index, "responses", lambda: ResponseCache(max_bytes=int(mb * 1024 * 1024)))


def _cached(handler, vary: tuple[str, ...] = ()):
    """Serve a GET route's 200 responses from the build's response cache (see
    :mod:`rapportsok.response_cache`): the key is the path, the query string and the request
    headers in ``vary`` that the page reads (the report page's "back" link reads Referer)."""
    @functools.wraps(handler)
    async def wrapped(datasette, request):
        if request.method != "GET" or request.path.endswith(".atom"):
            return await handler(datasette, request)
        index = await index_for(datasette)
        cache = _response_cache(index)
        key = (request.path, request.query_string, _prefix(datasette), *(request.headers.get(h, "") for h in vary))
        found = cache.get(key)
        if found is not None:
            return Response(found.body, status=found.status, headers=dict(found.headers), content_type=found.content_type)
        response = await handler(datasette, request)
        if type(response) is Response and response.status == 200 and not response._set_cookie_headers \
                and _INDEXES.get(_database(datasette).path, (None, None))[1] is index:   # not rebuilt meanwhile
            body = response.body if isinstance(response.body, bytes) else str(response.body).encode("utf-8")
            cache.put(key, Stored(response.status, body, response.content_type, tuple(response.headers.items())))
        return response
    return wrapped


def with_conn(index: SearchIndex, fn):
    """``fn(connection, ...)`` run with the calling worker thread's own SQLite connection
    (a connection must not be shared between threads serving requests at the same time)."""
    return lambda *args: fn(index.conn(), *args)


def _params(request) -> dict:
    out: dict = {}
    for key in request.args.keys():
        values = request.args.getlist(key)
        out[key] = values if len(values) > 1 else values[0]
    return out


def _base_url(datasette) -> str:
    """The site's public address for absolute URLs (Atom, JSON ``report_url``, batch CSV).

    Configured, never taken from the request's ``Host`` header (which a client chooses):
    ``RAPPORTSOK_BASE_URL=https://rapportsok.example.se`` (default ``http://localhost``), followed by
    Datasette's ``base_url`` mount point (unless the configured address already ends with it)."""
    return urls.absolute_base(os.environ.get("RAPPORTSOK_BASE_URL", DEFAULT_BASE_URL), _prefix(datasette))


def _prefix(datasette) -> str:
    """Where the site is mounted (Datasette's ``base_url``), as Datasette's URL helper says: ``/`` or ``/app/``."""
    return datasette.urls.path("")


async def _error(datasette, request, message: str, status: int, parameter: str | None = None, as_json: bool = False):
    if as_json:
        return Response.json({"ok": False, "error": message, "parameter": parameter}, status=status)
    html = await datasette.render_template("rs_fel.html", {"message": message, "status": status}, request=request)
    return Response.html(html, status=status)


async def sok(datasette, request):
    index = await index_for(datasette)
    params = _params(request)
    try:
        view = await run(web.search_page, index, params)
    except SearchError as exc:
        q = params.get("q", "")
        view = {"params": params, "q": q if isinstance(q, str) else "", "error": str(exc).split(": ", 1)[-1],
                "error_parameter": exc.parameter, "filters": web.filter_options(index), "modes": web.MODE_LABELS,
                "topics": topics_mod.load_topics()}
        html = await datasette.render_template("sok.html", {"view": view, "url_with": web.url_with}, request=request)
        return Response.html(html, status=400)
    html = await datasette.render_template("sok.html", {"view": view, "url_with": web.url_with}, request=request)
    return Response.html(html)


def _csv_error(message: str, status: int, parameter: str | None = None) -> Response:
    """Errors from CSV routes are plain text (a script or spreadsheet gets no HTML page)."""
    return Response.text(exports.error_text(message, parameter), status=status)


def _csv_response(lines, name: str, variant: str, headers: dict | None = None) -> AsgiStream:
    """Stream CSV lines (already computed in the worker pool) to the client."""
    async def stream(writer):
        for line in lines:
            await writer.write(line)
    return AsgiStream(stream, content_type=exports.content_type(variant), headers={
        "content-disposition": f'attachment; filename="{exports.filename(name, variant)}"', **(headers or {})})


async def sok_export(datasette, request):
    fmt = request.url_vars["format"]
    index = await index_for(datasette)
    params = _params(request)
    try:
        if fmt == "atom":
            body = await run(web.atom_feed, index, params, _base_url(datasette))
            return Response(body, content_type="application/atom+xml; charset=utf-8")
        if fmt == "csv":
            variant = exports.variant_of(params)
            data = await run(web.search_export_all, index, params, _base_url(datasette))
        else:
            data = await run(web.search_export, index, params, _base_url(datasette))
    except SearchError as exc:
        message = str(exc).split(": ", 1)[-1]
        if fmt == "csv":
            return _csv_error(message, 400, exc.parameter)
        return await _error(datasette, request, message, 400, exc.parameter, as_json=fmt == "json")
    if fmt == "json":
        # UTF-8 as it is (å, ä, ö take 2 bytes instead of 6 as \u00e5): the same JSON, a quarter smaller
        return Response(json.dumps({"ok": True, **data}, ensure_ascii=False), content_type="application/json; charset=utf-8")
    rows = data["hits"] + ([{"text": data["note"]}] if data["note"] else [])
    headers = {"x-rapportsok-total": str(data.get("total", 0)), "x-rapportsok-capped": "1" if data["capped"] else "0"}
    return _csv_response(list(exports.rows(rows, web.CSV_EXPORT_FIELDS, variant)), "rapportsok-sok", variant, headers)


async def batch(datasette, request):
    index = await index_for(datasette)
    if request.method == "GET":
        html = await datasette.render_template("batch.html", {"limits": _batch_limits()}, request=request)
        return Response.html(html)
    try:
        body = await read_body(request, MAX_POST_BYTES)  # stops reading at the limit (chunked uploads too)
    except BodyTooLarge:
        return await _error(datasette, request, f"Uppladdningen är för stor (högst {web.BATCH_MAX_BYTES // 1000} kB).", 413)
    try:
        form = _parse_form(request, body)
        text = form.get("fragor", "") or ""
        if form.get("fil"):
            text = web.decode_upload(form["fil"]) + "\n" + text
        n = int(form.get("n") or 10) if str(form.get("n") or "10").isdigit() else -1
        mode = form.get("mode") or "hybrid"
        if mode not in web.MODE_LABELS:
            raise web.BadRequest(f"Okänt sökläge '{mode}'.", parameter="mode")
        variant = form.get("variant") or "csv"
        if variant not in exports.VARIANTS:
            raise web.BadRequest(f"Okänd CSV-variant '{variant}'.", parameter="variant")
        csv_text = await _queued_batch(index, text, n, mode, _base_url(datasette), variant)
    except web.BadRequest as exc:
        html = await datasette.render_template("batch.html", {"limits": _batch_limits(), "error": str(exc)}, request=request)
        return Response.html(html, status=exc.status)
    return Response(csv_text, content_type=exports.content_type(variant),
                    headers={"content-disposition": f'attachment; filename="{exports.filename("rapportsok-batch", variant)}"'})


async def _queued_batch(index, text: str, n: int, mode: str, base_url: str, variant: str) -> str:
    """Run one batch when its turn comes, query by query in the worker pool: top ``n`` hits per
    query and the number of matching passages per kommun and year, as one CSV (``row_type``
    ``träff``, ``antal``, ``antal_år``, ``varning`` for input lines that could not be read, ``fel``
    for a query that could not be run – including those left when ``web.BATCH_TIME_LIMIT_S`` is reached)."""
    queries, rows = web.batch_plan(text, n)   # bad input is refused before queueing
    loop = asyncio.get_running_loop()
    state = _batch_queues.setdefault(loop, [asyncio.Semaphore(BATCH_RUNNING), 0])   # [turns, batches running or waiting]
    if state[1] >= BATCH_QUEUE:
        raise web.BadRequest(f"Just nu väntar redan {BATCH_QUEUE} batchsökningar. Försök igen om en stund.", status=503)
    state[1] += 1
    try:
        turn = state[0]
        try:
            await asyncio.wait_for(turn.acquire(), BATCH_WAIT_S)
        except asyncio.TimeoutError:
            raise web.BadRequest("Batchsökningarna före din tog för lång tid. Försök igen om en stund.", status=503) from None
        try:
            deadline = time.monotonic() + web.BATCH_TIME_LIMIT_S
            window = asyncio.Semaphore(BATCH_WINDOW)

            async def one(q: str) -> list[dict]:
                async with window:
                    if time.monotonic() > deadline:
                        return web.batch_timeout_rows(q)
                    return await run(web.batch_query_rows, index, q, n, mode, base_url)

            for part in await asyncio.gather(*[one(q) for q in queries]):
                rows += part
            return await run(web.batch_csv, rows, variant)
        finally:
            turn.release()
    finally:
        state[1] -= 1


def _batch_limits() -> dict:
    return {"max_queries": web.BATCH_MAX_QUERIES, "max_kb": web.BATCH_MAX_BYTES // 1000, "max_n": web.BATCH_MAX_N}


def _parse_form(request, body: bytes) -> dict:
    """Form fields from an urlencoded or multipart body (files as bytes)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        msg = BytesParser(policy=email_policy).parsebytes(b"content-type: " + ctype.encode() + b"\r\n\r\n" + body)
        if not msg.is_multipart():
            raise web.BadRequest("Formuläret kunde inte läsas (trasig multipart-data).")
        out: dict = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                out[name] = payload
            else:
                out[name] = payload.decode("utf-8", errors="replace")
        return out
    from urllib.parse import parse_qs

    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise web.BadRequest("Formuläret är inte UTF-8.") from None
    return {k: v[0] for k, v in fields.items()}


async def page(datasette, request, template: str, fn, *args, extra: dict | None = None):
    """Run ``fn(*args)`` in the worker pool and render ``template`` with its result as ``view``;
    a :class:`web.BadRequest` becomes the Swedish error page with its status."""
    try:
        view = await run(fn, *args)
    except web.BadRequest as exc:
        return await _error(datasette, request, str(exc), exc.status)
    html = await datasette.render_template(template, {"view": view, **(extra or {})}, request=request)
    return Response.html(html)


async def rapport(datasette, request):
    index = await index_for(datasette)
    report_id = request.url_vars["report_id"]
    try:
        args = single_values(_params(request), ())   # /rapport/<id>: passage and q are single values
    except SearchError as exc:
        return await _error(datasette, request, str(exc).split(": ", 1)[-1], 400, exc.parameter)
    passage = args.get("passage")
    try:
        passage_n = int(passage) if passage not in (None, "") else None
    except ValueError:
        return await _error(datasette, request, "Textavsnittets nummer måste vara ett heltal.", 400)
    sida = request.args.get("sida")
    try:
        sida_n = int(sida) if sida not in (None, "") else None
    except ValueError:
        return await _error(datasette, request, "Sidnumret (sida) måste vara ett heltal.", 400)
    params, referer, prefix = _params(request), request.headers.get("referer"), _prefix(datasette)

    def reader(conn):   # one trip through the worker pool for the page and its navigation
        view = web.report_page(conn, report_id, passage_n, args.get("q"), index, sida_n, prefix)
        try:
            nav = reader_nav.navigation(conn, index, report_id, passage_n, params, referer, prefix, toc=view["toc"])
        except Exception:  # navigation is a help; the report must open without it
            nav = {"toc": [], "hits": [], "prev": None, "next": None, "position": None, "back_url": None}
        return nav, view

    try:
        nav, view = await run(with_conn(index, reader))
    except web.BadRequest as exc:
        return await _error(datasette, request, str(exc), exc.status)
    html = await datasette.render_template("rapport.html", {"view": view, "nav": nav}, request=request)
    return Response.html(html)


async def original_pdf(datasette, request):
    """The report's original PDF, read-only from the corpus folder (only files the database lists)."""
    from rapportsok import paths

    index = await index_for(datasette)
    try:
        path = await run(with_conn(index, web.original_pdf), request.url_vars["report_id"], paths.corpus_dir())
    except web.BadRequest as exc:
        return await _error(datasette, request, str(exc), exc.status)
    body = await run(path.read_bytes)
    return Response(body, content_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="{path.name}"', "cache-control": "public, max-age=3600",
                             "x-content-type-options": "nosniff"})


async def rapporter(datasette, request):
    index = await index_for(datasette)
    rows = await run(with_conn(index, lambda conn: [dict(r) for r in conn.execute(
        "select id, title, municipality, kommunkod, report_type, period, year, document_date, n_chunks, "
        "(select count(*) from tables t where t.report_id = reports.id) as n_tables from reports order by year desc, municipality")]))
    html = await datasette.render_template("rapporter.html", {"reports": rows, "type_labels": web.TYPE_LABELS}, request=request)
    return Response.html(html)


async def tabell(datasette, request):
    index = await index_for(datasette)
    table_id = request.url_vars["table_id"]
    if request.url_vars.get("format") == "csv":
        try:
            variant = exports.variant_of(_params(request))
            body = await run(with_conn(index, web.table_wide_csv), table_id, variant)
        except web.BadRequest as exc:
            return _csv_error(str(exc), exc.status, exc.parameter)
        except SearchError as exc:
            return _csv_error(str(exc).split(": ", 1)[-1], 400, exc.parameter)
        return Response(body, content_type=exports.content_type(variant),
                        headers={"content-disposition": f'attachment; filename="{exports.filename(table_id, variant)}"'})
    return await page(datasette, request, "tabell.html", with_conn(index, web.table_page), table_id,
                      extra={"db": _database(datasette).name})


async def amnen(datasette, request):
    index = await index_for(datasette)
    return await page(datasette, request, "amnen.html", with_conn(index, web.topics_index))


async def amne(datasette, request):
    index = await index_for(datasette)
    return await page(datasette, request, "amne.html", with_conn(index, web.topic_page), request.url_vars["topic_id"], index)


async def om(datasette, request):
    index = await index_for(datasette)
    info = await run(with_conn(index, lambda conn: dict(conn.execute("select key, value from build_info").fetchall())))
    html = await datasette.render_template("om.html", {"info": info, "contract": index.contract,
                                                       "counts": json.loads(info.get("counts", "{}"))}, request=request)
    return Response.html(html)


async def home(datasette, request):
    """The start page (``index.html``: search form, the collection, the way in). Served by us
    rather than by Datasette's index view, which counted every table of every database per
    request (≈30 ms CPU) for figures the page does not show; cached like the other pages."""
    html = await datasette.render_template("index.html", {}, request=request, view_name="index")
    return Response.html(html)


@hookimpl
def register_routes():
    routes = [
        (r"^/$", home),
        (r"^/sok$", sok),
        (r"^/sok\.(?P<format>json|csv|atom)$", sok_export),
        (r"^/batch$", batch),
        (r"^/rapporter$", rapporter),
        (r"^/rapport/(?P<report_id>[A-Za-z0-9_-]+)$", rapport),
        (r"^/rapport/(?P<report_id>[A-Za-z0-9_-]+)/original\.pdf$", original_pdf),
        (r"^/tabell/(?P<table_id>[A-Za-z0-9_-]+)$", tabell),
        (r"^/tabell/(?P<table_id>[A-Za-z0-9_-]+)\.(?P<format>csv)$", tabell),
        (r"^/amnen$", amnen),
        (r"^/amne/(?P<topic_id>[a-z0-9_]+)$", amne),
        (r"^/om$", om),
    ]
    return [(pattern, _retrying(_cached(handler, CACHE_VARY[handler]) if handler in CACHE_VARY else handler))
            for pattern, handler in routes]


# GET routes whose 200 responses depend only on the build, the URL and these request headers
# (not /sok.atom, whose <updated> is the current time, nor /sok.csv, which streams)
CACHE_VARY = {home: (), sok: (), sok_export: (), rapport: ("referer",), rapporter: (), tabell: (), amnen: (), amne: (), om: ()}


@hookimpl
def skip_csrf(scope):
    # Batch search only reads; it is a plain form post that must also work from scripts.
    return scope["path"] == "/batch"


@hookimpl
def startup(datasette):
    async def warm():
        index = await index_for(datasette)
        if index.has_vectors:
            await run(index.warm)  # the query model and the topics' vectors, before the first visitor
    return warm


# Datasette's filter operators and its English description of a filtered table, in Swedish
SV_OPERATORS = {"=": "=", "!=": "≠", "contains": "innehåller", "ends with": "slutar med", "starts with": "börjar med",
                "like": "like (SQL)", "not like": "not like (SQL)", "glob": "glob (SQL)", "in": "är en av", "not in": "är inte en av",
                "is null": "saknar värde", "is not null": "har ett värde", "is blank": "är tom", "is not blank": "är inte tom",
                "date": "datum", "arraycontains": "lista innehåller", "arraynotcontains": "lista innehåller inte"}
SV_DESCRIPTION = [(r"\bwhere\b", "där"), (r"\bsorted by\b", "sorterat efter"), (r"\bdescending\b", "fallande"),
                  (r"\band\b", "och"), (r"\bcontains\b", "innehåller"), (r"\bstarts with\b", "börjar med"),
                  (r"\bends with\b", "slutar med"), (r"\bis not null\b", "har ett värde"), (r"\bis null\b", "saknar värde"),
                  (r"\bis not blank\b", "är inte tomt"), (r"\bis blank\b", "är tomt"), (r"\bsearch matches\b", "söker"),
                  (r"\bin\b", "är en av"), (r"\bis on date\b", "har datumet")]


def _sv_description(text: str) -> str:
    for pattern, sv in SV_DESCRIPTION:
        text = re.sub(pattern, sv, text)
    return text


@hookimpl
def prepare_jinja2_environment(env, datasette):
    # Links respect Datasette's base_url: hard-coded paths in templates start with {{ rs_base }},
    # site paths computed in Python (reader_url, nav, pdf_url, …) go through |site_url.
    prefix = _prefix(datasette)
    # the templates do not change while the site runs: no file-system check per render
    # (Datasette's --reload restarts the whole server when a template changes)
    env.auto_reload = False
    env.globals["rs_base"] = prefix
    env.filters["site_url"] = lambda u: urls.prefixed(prefix, u)
    env.filters["svdatum"] = web.swedish_date
    env.filters["markdown"] = markdown_text.to_html
    env.globals["rs_markdown"] = markdown_text.page
    env.filters["rapporttyp"] = lambda t: web.TYPE_LABELS.get(t, t or "")
    env.filters["heat"] = charts.heat_class
    env.filters["sv_operator"] = lambda op: SV_OPERATORS.get(op, op)
    env.filters["sv_beskrivning"] = _sv_description
    env.filters["tal"] = lambda n: f"{n:,}".replace(",", "\u00a0") if isinstance(n, int) else n


_INFERRED: dict[tuple, dict[str, str]] = {}


def inferred_municipalities(datasette) -> dict[str, str]:
    """report id → evidence, for reports whose kommun is inferred rather than printed (``reports.municipality_inferred``)."""
    import os
    import sqlite3

    path = _database(datasette).path
    key = (path, os.path.getmtime(path))
    if key not in _INFERRED:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            cols = {r[1] for r in conn.execute("pragma table_info(reports)")}
            _INFERRED[key] = dict(conn.execute("select id, municipality_evidence from reports where municipality_inferred = 1")) \
                if "municipality_inferred" in cols else {}
    return _INFERRED[key]


RS_PAGE = re.compile(r"^/(sok|batch|rapporter|rapport/.*|tabell/.*|amnen|amne/.*|om)?$")


@hookimpl
def extra_template_vars(request, datasette):
    async def rs_collection():
        """The collection overview (reports per kommun and year, licences) for _samlingen.html."""
        index = await index_for(datasette)
        o = await run(with_conn(index, collection.overview))
        return {**o, "summary": collection.summary(o)}

    return {**_template_vars(request), "rs_collection": rs_collection,
            "kommun_harledd": lambda report_id: inferred_municipalities(datasette).get(report_id)}


def _template_vars(request):
    # rs_page: one of Rapportsök's own pages (body class "rs" scopes our form and table styles)
    return {"rs_nav": [("/sok", "Sök"), ("/amnen", "Ämnen"), ("/rapporter", "Rapporter"), ("/batch", "Batchsökning"),
                       ("/rapportsok", "Data"), ("/om", "Om")],
            "rs_page": bool(request and RS_PAGE.match(request.scope.get("route_path", request.path))), "rs_export_cap": web.EXPORT_CAP}
