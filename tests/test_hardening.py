"""The public site under hostile requests (issue 16): unknown URLs, methods, SQL that
allocates, headers, database naming. Uses the session database and Datasette's client."""

import shutil
import time

import pytest
from datasette.app import Datasette

from rapportsok.cli import datasette_kwargs


def _datasette(db_path):
    return Datasette(**datasette_kwargs(db_path, settings={"sql_time_limit_ms": 3000}))


@pytest.fixture(scope="session")
async def ds(built_db):
    datasette = _datasette(built_db)
    await datasette.invoke_startup()
    return datasette


@pytest.mark.parametrize("path", ["/a/b/c/d/e", "//sok", "/nope", "/rapportsok/finns_inte", "/-/nope"])
async def test_unknown_urls_are_a_quick_swedish_404_without_a_logged_traceback(ds, path, capsys):
    await ds.client.get(path)  # templates compiled
    t = time.perf_counter()
    r = await ds.client.get(path)
    seconds = time.perf_counter() - t
    assert r.status_code == 404, (path, r.status_code, r.text[:300])
    assert "Sidan finns inte" in r.text and '<html lang="sv">' in r.text
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err and len(captured.out + captured.err) < 500
    assert seconds < 1.0, seconds


async def test_unknown_json_url_is_json_404(ds):
    r = await ds.client.get("/rapportsok/finns_inte.json")
    assert r.status_code == 404 and r.json()["ok"] is False and "finns inte" in r.json()["error"]


async def _raw_get(ds, path: str) -> tuple[int, bytes]:
    """A request with exactly this path (httpx would normalise '//sok' and '/..')."""
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": [(b"host", b"localhost")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(event):
        sent.append(event)

    await ds.app()(scope, receive, send)
    status = next(e["status"] for e in sent if e["type"] == "http.response.start")
    return status, b"".join(e.get("body", b"") for e in sent if e["type"] == "http.response.body")


@pytest.mark.parametrize("path", ["//sok", "/..", "/../etc/passwd", "/a/b/c/d/e", "/static/../../etc/passwd"])
async def test_raw_odd_paths_are_404_not_500(ds, path):
    status, body = await _raw_get(ds, path)
    assert status == 404, (path, status, body[:300])
    assert b"root:" not in body


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE"])
@pytest.mark.parametrize("path", ["/", "/sok", "/om", "/batch", "/rapporter", "/rapportsok"])
async def test_unsupported_methods_are_405(ds, method, path):
    r = await ds.client.request(method, path)
    assert r.status_code == 405 and "GET" in r.headers["allow"]


@pytest.mark.parametrize("path", ["/", "/sok?q=familjehem", "/batch", "/rapportsok"])
async def test_options_says_which_methods_without_running_the_page(ds, path):
    r = await ds.client.request("OPTIONS", path)
    assert r.status_code == 204 and r.content == b"" and "POST" in r.headers["allow"]
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_security_headers(ds):
    r = await ds.client.get("/sok?q=SSPF")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    # every inline script on the page is allowed by its hash, nothing else inline runs
    from rapportsok.http_policy import script_hashes

    for h in script_hashes(r.text):
        assert h in csp
    r = await ds.client.get("/rapportsok/chunks")
    assert "script-src 'self' 'unsafe-inline'" in r.headers["content-security-policy"]  # Datasette's own inline scripts
    r = await ds.client.get("/finns-inte")
    assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # no traceback in the log per refusal
@pytest.mark.parametrize("sql", [
    # below SQLite's default 1e9 limit (which refuses exactly 1e9), so the old code allocated them
    "select length(randomblob(200000000))",
    "select length(zeroblob(200000000))",
    "select length(printf('%.*c', 200000000, 'x'))",
    "select length(format('%.*c', 200000000, 'x'))",
    "select length(printf('%.900000000c', 'x'))",
    "select length(replace(hex(zeroblob(20000000)), '0', '0000'))",
])
async def test_expensive_sql_functions_fail_fast(ds, sql):
    t = time.perf_counter()
    r = await ds.client.get("/rapportsok.json", params={"sql": sql})
    seconds = time.perf_counter() - t
    assert r.status_code == 400 and r.json()["ok"] is False, r.text[:300]
    assert seconds < 2.0, seconds  # 10–21 s and 1 GB before


async def test_sql_memory_is_capped_in_total_not_only_per_value(ds, capsys):
    """Each value stays under the 32 MiB length limit, but 24 of them sorted together took
    860 MB and 6 s: SQLite's heap is capped (hard_heap_limit), the query is a 400."""
    sql = ("with recursive c(x) as (select 1 union all select x + 1 from c limit 24) "
           "select x, length(b) from (select x, zeroblob(30000000) || x as b from c order by random())")
    t = time.perf_counter()
    r = await ds.client.get("/rapportsok.json", params={"sql": sql, "_shape": "array"})
    seconds = time.perf_counter() - t
    assert r.status_code == 400 and "minne" in r.json()["error"], r.text[:300]
    assert seconds < 4.0, seconds
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    r = await ds.client.get("/rapportsok.json", params={"sql": "select count(*) as n from chunks", "_shape": "array"})
    assert r.status_code == 200 and r.json()[0]["n"] > 100   # the next query runs as usual


async def test_ordinary_sql_still_works(ds):
    r = await ds.client.get("/rapportsok.json", params={"sql": "select printf('%s: %d', 'n', count(*)) as x, "
                                                               "max(length(text)) as m from reports", "_shape": "array"})
    assert r.status_code == 200 and r.json()[0]["x"] == "n: 5" and r.json()[0]["m"] > 100_000


async def test_databases_json_hides_the_absolute_path(ds, built_db):
    r = await ds.client.get("/-/databases.json")
    text = r.text
    assert r.status_code == 200 and str(built_db.parent) not in text and "rapportsok.db" in text


async def test_a_database_with_another_file_name_keeps_metadata_and_data_link(built_db, tmp_path):
    other = tmp_path / "kalmar2024.db"
    shutil.copy(built_db, other)
    datasette = _datasette(other)
    await datasette.invoke_startup()
    r = await datasette.client.get("/rapportsok")
    assert r.status_code == 200 and "Rapportsöks databas" in r.text
    assert 'href="/rapportsok/chunk_embeddings"' not in r.text  # hidden table stays hidden
    r = await datasette.client.get("/rapportsok/sok_ord.json?q=SSPF&_shape=array")
    assert r.status_code == 200 and "[SSPF]" in r.json()[0]["utdrag"]
    r = await datasette.client.get("/sok?q=SSPF")
    assert 'href="/rapportsok"' in r.text
    r = await datasette.client.get("/-/databases.json")
    assert str(tmp_path) not in r.text and "kalmar2024.db" in r.text


async def test_chunked_batch_upload_is_refused_at_the_limit_without_reading_it_all(ds):
    sent = 0
    piece = b"SSPF\n" * 13_000  # 65 kB

    async def body():
        nonlocal sent
        for _ in range(300):  # 20 MB, announced by no Content-Length (chunked)
            sent += len(piece)
            yield piece

    t = time.perf_counter()
    r = await ds.client.request("POST", "/batch", content=body(), headers={"content-type": "text/plain"})
    assert r.status_code == 413 and "för stor" in r.text
    assert sent < 1_000_000, sent  # read up to the 220 kB limit and stopped (all 20 MB before)
    print(f"413 after {time.perf_counter() - t:.2f} s, {sent / 1e3:.0f} kB read")


async def test_atom_feed_with_xml_illegal_characters_is_well_formed(ds):
    import xml.etree.ElementTree as ET

    r = await ds.client.get("/sok.atom", params={"q": "SSPF\x00\x01\x1b"})
    assert r.status_code == 200
    feed = ET.fromstring(r.content)  # raised "not well-formed (invalid token)" before
    assert feed.find("{http://www.w3.org/2005/Atom}title").text == "Rapportsök: SSPF"


@pytest.mark.parametrize("text", ["x" * 131_073, "fråga\n" + "SSPF\n" * 3 + '"' + "a" * 140_000])
async def test_a_batch_line_the_csv_reader_refuses_is_a_400_naming_the_line(ds, text, capsys):
    """A batch line longer than the csv module's field limit (131 072 characters), well inside
    the upload limit, raised csv.Error inside the route: a 500 and a logged traceback."""
    r = await ds.client.post("/batch", data={"fragor": text, "n": "3", "mode": "hybrid"})
    assert r.status_code == 400, (r.status_code, r.text[-300:])
    line = 1 if text.startswith("x") else 5
    assert f"rad {line}: kunde inte läsas som CSV" in r.text
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
