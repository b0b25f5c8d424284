"""The site mounted under a path (Datasette's ``base_url``, e.g. behind a proxy at ``/prefix/``):
every link our pages emit stays under the mount point, and the links lead to pages that open."""

import csv
import io
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from datasette.app import Datasette

from rapportsok.cli import datasette_kwargs

PREFIX = "/prefix/"
PAGES = ["/", "/sok?q=familjehem", "/rapport/nacka-2023-t2-tertialbokslut?passage=3&q=familjehem",
         "/tabell/kalmar-2022-06-manadsrapport-t01", "/amne/sspf", "/amnen", "/rapporter", "/om", "/batch"]


@pytest.fixture(scope="module")
async def ds_prefixed(built_db):
    datasette = Datasette(**datasette_kwargs(built_db, settings={"sql_time_limit_ms": 3000, "base_url": PREFIX}))
    await datasette.invoke_startup()
    return datasette


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "action") and value is not None:
                self.links.append((tag, name, value))


def site_links(html: str) -> list[str]:
    """href/src/action values that point into the site (not external, not ``#…``, not ``?…`` on the same page)."""
    parser = Links()
    parser.feed(html)
    out = []
    for _tag, _attr, value in parser.links:
        parts = urlsplit(value)
        if parts.scheme or parts.netloc or value.startswith(("#", "?", "mailto:")) or not value:
            continue
        out.append(value)
    return out


async def test_every_link_of_our_pages_stays_under_base_url(ds_prefixed):
    bad, followed = {}, set()
    for page in PAGES:
        r = await ds_prefixed.client.get(page)
        assert r.status_code == 200, (page, r.status_code, r.text[:300])
        links = site_links(r.text)
        assert links, page
        wrong = [u for u in links if not u.startswith(PREFIX)]
        if wrong:
            bad[page] = wrong
        followed.update(u for u in links if u.startswith(PREFIX))
    assert not bad, bad
    # the links lead somewhere: a sample of distinct pages, requested as a proxy would pass them on
    sample = [u for u in sorted(followed) if any(u.startswith(PREFIX + p) for p in
              ("sok?", "rapport/", "tabell/", "amne/", "amnen", "rapporter", "om", "static/", "batch"))]
    kinds = {u[len(PREFIX):].split("/")[0].split("?")[0] for u in sample}
    assert {"sok", "rapport", "tabell", "amne", "static"} <= kinds, kinds
    seen_kinds: set = set()
    for u in sample:
        kind = u[len(PREFIX):].split("/")[0].split("?")[0]
        if kind in seen_kinds and not u.endswith(".css"):
            continue
        seen_kinds.add(kind)
        path = u.split("#")[0]
        r = await ds_prefixed.client.get("/" + path[len(PREFIX):])  # Datasette's client adds the prefix itself
        assert r.status_code == 200, (u, r.status_code)


async def test_reader_navigation_and_current_page_under_base_url(ds_prefixed):
    r = await ds_prefixed.client.get("/rapport/nacka-2023-t2-tertialbokslut?q=familjehem&passage=3",
                                     headers={"referer": "http://localhost/prefix/sok?q=familjehem&page=1"})
    assert 'href="/prefix/sok?q=familjehem&amp;page=1"' in r.text  # back to the page the reader came from
    nav = (await ds_prefixed.client.get("/sok?q=familjehem")).text
    assert 'href="/prefix/sok" aria-current="page"' in nav
    assert re.search(r'<body class="[^"]*\brs\b', nav)  # our pages keep their own styles under the prefix


async def test_exports_combine_public_address_and_base_url(ds_prefixed, monkeypatch):
    j = (await ds_prefixed.client.get("/sok.json?q=familjehem")).json()
    assert j["hits"] and all(h["report_url"].startswith("http://localhost/prefix/rapport/") for h in j["hits"])
    folded = [a for h in (await ds_prefixed.client.get("/sok.json?q=placering&mode=keyword&limit=1000")).json()["hits"]
              for a in h["also_in"]]
    assert folded and all(a["report_url"].startswith("http://localhost/prefix/rapport/") for a in folded)
    monkeypatch.setenv("RAPPORTSOK_BASE_URL", "https://example.se/prefix/")   # already names the mount point
    atom = (await ds_prefixed.client.get("/sok.atom?q=familjehem")).text
    assert "https://example.se/prefix/rapport/" in atom and "/prefix/prefix/" not in atom
    monkeypatch.setenv("RAPPORTSOK_BASE_URL", "https://example.se")
    r = await ds_prefixed.client.post("/batch", data={"fragor": "SSPF", "n": "2", "mode": "keyword"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    urls = [v for row in rows for v in row.values() if isinstance(v, str) and v.startswith("https://")]
    assert urls and all(u.startswith("https://example.se/prefix/rapport/") for u in urls), urls[:3]
