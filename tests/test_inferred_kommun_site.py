"""A kommun that is inferred rather than printed is shown to users as inferred, with the evidence (issue 15)."""

import pytest
from datasette.app import Datasette

from rapportsok.cli import datasette_kwargs


@pytest.fixture(scope="module")
async def ds(built_db):
    datasette = Datasette(**datasette_kwargs(built_db, settings={}))
    await datasette.invoke_startup()
    return datasette


async def test_report_page_says_the_kommun_is_inferred_and_why(ds):
    r = await ds.client.get("/rapport/katrineholm-2019-02-manadsrapport")
    assert r.status_code == 200
    assert "Katrineholm <span class=\"provenance inferred\">(härledd)</span>" in r.text
    assert "Kommunnamnet är inte tryckt i rapporten – härledd från ortnamn och aktörer i texten: Viadidakt (rad 77" in r.text
    assert "Skogsborgsskolan (rad 127" in r.text
    r = await ds.client.get("/rapport/nacka-2023-t2-tertialbokslut")
    assert "härledd" not in r.text


async def test_search_hits_mark_an_inferred_kommun(ds):
    r = await ds.client.get("/sok?q=ekonomiskt bistånd&mode=keyword&limit=50")
    assert r.status_code == 200
    hits = r.text.split('<li class="hit">')[1:]
    katrineholm = [h for h in hits if "<strong>Katrineholm</strong>" in h]
    others = [h for h in hits if "<strong>Katrineholm</strong>" not in h]
    assert katrineholm and others
    assert all("(härledd från ortnamn och aktörer i texten)" in h for h in katrineholm)
    assert not any("härledd" in h.split("</p>")[0] for h in others)
