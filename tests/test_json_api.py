"""/sok.json pages its hits (issue 16, load): 20 by default, ``limit`` for more, ``next`` for the rest."""

from __future__ import annotations

from urllib.parse import urlsplit

from rapportsok import web


async def _json(ds, url: str) -> dict:
    r = await ds.client.get(url)
    assert r.status_code == 200, (url, r.text[:300])
    return r.json()


async def test_json_gives_20_hits_and_next_pages_through_all_of_them(ds):
    """Following ``next`` from the default page gives exactly the hits of one large page, in order,
    and the last page's ``next`` is null."""
    q = "/sok.json?q=barn%20och%20unga&mode=hybrid&kommun=Kalmar&kommun=Nacka"
    everything = await _json(ds, q + "&limit=1000")
    assert everything["shown"] > 2 * web.JSON_LIMIT   # the corpus query has several pages
    assert everything["next"] is None
    first = await _json(ds, q)
    assert (first["limit"], first["offset"], len(first["hits"])) == (web.JSON_LIMIT, 0, web.JSON_LIMIT)
    assert first["total"] == everything["total"] and first["shown"] == everything["shown"]
    seen, page, pages = [], first, 1
    while True:
        seen += [(h["report_id"], h["char_start"], h["rank"]) for h in page["hits"]]
        if page["next"] is None:
            break
        nxt = urlsplit(page["next"])
        assert nxt.path == "/sok.json" and "kommun=Kalmar" in nxt.query and "kommun=Nacka" in nxt.query
        page = await _json(ds, f"{nxt.path}?{nxt.query}")
        pages += 1
    assert seen == [(h["report_id"], h["char_start"], h["rank"]) for h in everything["hits"]]
    assert pages == -(-everything["shown"] // web.JSON_LIMIT)


async def test_json_limit_offset_and_page_still_work(ds):
    five = await _json(ds, "/sok.json?q=familjehem&mode=keyword&limit=5")
    assert (five["limit"], len(five["hits"])) == (5, 5) and "limit=5" in five["next"] and "offset=5" in five["next"]
    later = await _json(ds, "/sok.json?q=familjehem&mode=keyword&limit=5&offset=5")
    assert [h["rank"] for h in later["hits"]] == [6, 7, 8, 9, 10]
    assert (await _json(ds, "/sok.json?q=familjehem&mode=keyword&limit=5&page=2"))["hits"] == later["hits"]
    assert (await ds.client.get("/sok.json?q=familjehem&limit=1001")).status_code == 400


async def test_json_is_plain_utf8(ds):
    """Swedish letters are written as they are (a quarter of the bytes of \\u00e4 escapes); same data."""
    r = await ds.client.get("/sok.json?q=f%C3%B6rs%C3%B6rjningsst%C3%B6d&mode=keyword")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "försörjningsstöd" in r.content.decode("utf-8") and "\\u00f6" not in r.text
    assert r.json()["query"] == "försörjningsstöd"
