"""Issue 14 on the server side: charts, table hits, report navigation, the collection overview,
filter chips and Datasette's pages in Swedish – on the corpus database."""

import re

import pytest

from rapportsok import charts


async def get(ds, path, status=200):
    r = await ds.client.get(path)
    assert r.status_code == status, (path, r.status_code, r.text[:500])
    return r.text


@pytest.mark.parametrize("columns, x", [
    (["Nyckeltal", "Utfall 2017", "Utfall 2018", "Utfall 2019", "Utfall 2020", "Utfall 2021"], ["2017", "2018", "2019", "2020", "2021"]),
    (["Barn", "jan-jun 2019", "jan-jun 2020", "jan-jun 2021"], ["jan-jun 2019", "jan-jun 2020", "jan-jun 2021"]),
    (["Mått", "T1 2023", "T2 2023", "T3 2023"], ["T1 2023", "T2 2023", "T3 2023"]),
    (["Belopp", "2020", "2021", "2022", "Totalt 2020-2022"], ["2020", "2021", "2022"]),
])
def test_time_series_columns(columns, x):
    wide = {"columns": columns, "rows": [["rad"] + ["1 000"] * (len(columns) - 1), ["* fotnot"] + [""] * (len(columns) - 1)]}
    series = charts.time_series(wide)
    assert series.x == x and len(series.lines) == 1 and series.lines[0][1] == [1000.0] * len(x)


@pytest.mark.parametrize("columns", [["Driftredovisning", "Budget VR jun 2022", "Prognos VR jun 2022", "Avvikelse"],
                                     ["Ekonomi", "2022 / Budget", "2022 / Prognos", "2022 / Avvikelse"]])
def test_no_chart_for_tables_that_are_not_time_series(columns):
    assert charts.time_series({"columns": columns, "rows": [["Intäkter", "1", "2", "3"]]}) is None


async def test_table_page_has_a_chart_with_one_point_per_period(ds):
    html = await get(ds, "/tabell/nacka-2023-t2-tertialbokslut-t06")
    svg = html[html.index('<figure class="chart"'):html.index("</figure>")]
    assert 'role="img"' in svg and "<script" not in svg
    assert set(re.findall(r"https?://[^\s\"'<>)]+", svg)) <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert len(re.findall(r'class="dot ', svg)) == 6 * 5  # six rows × five half-years
    assert "samma tal står i tabellen nedan" in html
    assert "kozea.github.io" not in html  # pygal's CDN tooltip script is off
    no_chart = await get(ds, "/tabell/kalmar-2022-06-manadsrapport-t01")
    assert '<figure class="chart"' not in no_chart


async def test_topic_page_charts_passages_per_kommun_and_year(ds):
    html = await get(ds, "/amne/sspf")
    assert '<figure class="chart"' in html and 'table class="heat"' in html and 'class="h4"' in html


async def test_table_hits_are_small_tables_linking_to_the_table(ds):
    html = await get(ds, "/sok?q=skyddat+boende")
    block = html[html.index('class="traff-tabell"'):]
    block = block[:block.index("</div>\n</div>") if "</div>\n</div>" in block else 3000]
    assert "<thead>" in block and "jan-jun 2020" in block and 'href="/tabell/nacka-2023-t2-tertialbokslut-' in block
    assert "2 615" in html  # the matching row's numbers under their years


async def test_filter_chips_and_counts(ds):
    html = await get(ds, "/sok?q=SSPF&kommun=0880&year_from=2022")
    assert 'class="chips"' in html and "Kommun: <strong>Kalmar</strong>" in html and "Rensa filter" in html
    assert 'href="/sok?q=SSPF&amp;year_from=2022"' in html  # removing the kommun keeps the rest
    assert "Kalmar (2 rapporter)" in html and "2022 (2)" in html
    empty = await get(ds, "/sok")
    assert empty.count('class="mode-help"') == 3 and "Prova till exempel" in empty and 'class="chips"' not in empty


async def test_report_reader_navigation(ds):
    html = await get(ds, "/rapport/kalmar-2022-05-kallelse?passage=20&q=familjehem&mode=hybrid")
    assert 'aria-labelledby="toc-rubrik"' in html and ">Tertialrapport efter april 2022</a>" in html
    assert 'href="/sok?q=familjehem&amp;mode=hybrid">← Tillbaka till sökresultatet' in html
    prev = re.search(r'href="([^"]+)" rel="prev"', html).group(1)
    nxt = re.search(r'href="([^"]+)" rel="next"', html).group(1)
    assert "q=familjehem" in prev and "q=familjehem" in nxt
    assert int(prev.split("passage=")[1].split("#")[0]) < 20 < int(nxt.split("passage=")[1].split("#")[0])
    assert "understrukna" not in html and "(manifest)" not in html and "uppgift från källförteckningen" in html
    plain = await get(ds, "/rapport/kalmar-2022-05-kallelse")
    assert "Tillbaka till sökresultatet" not in plain and "toc-rubrik" in plain


async def test_collection_overview_and_licences(ds):
    home = await get(ds, "/")
    assert "Samlingen: 5 rapporter från 4 kommuner, 2019–2023" in home
    om = await get(ds, "/om")
    assert "Samlingen: 5 rapporter från 4 kommuner, 2019–2023" in om
    assert "Allmän handling (offentlighetsprincipen); textutdrag ur PDF – 5 rapporter" in om and "CC0" in om
    visible = om.split('<details class="tech">')[0]
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", visible) and "intfloat" not in visible  # behind "Teknisk information"


async def test_datasette_pages_are_swedish(ds, conn):
    db = await get(ds, "/rapportsok")
    assert "Egen SQL-fråga" in db and 'value="Kör SQL"' in db and "Färdiga frågor" in db and "Custom SQL query" not in db
    table = await get(ds, "/rapportsok/table_cells?_size=10")
    n = conn.execute("select count(*) from table_cells").fetchone()[0]
    assert f"{n:,} rader".replace(",", "\u00a0") in table and "Nästa sida" in table and 'value="Använd"' in table
    assert ">innehåller</option>" in table and "Advanced export" not in table and 'aria-label="Kolumn att filtrera på"' in table
    assert " ms" not in table.split('<footer')[1]
    query = await get(ds, "/rapportsok/tal_i_tabeller?rad=skyddat+boende")
    assert "Tal i tabellerna" in query and 'value="Kör SQL"' in query


async def test_back_to_results_keeps_the_filters_and_page_it_came_from(ds):
    r = await ds.client.get("/rapport/kalmar-2022-05-kallelse?passage=20&q=familjehem",
                            headers={"referer": "http://localhost/sok?q=familjehem&kommun=0880&page=2"})
    assert 'href="/sok?q=familjehem&amp;kommun=0880&amp;page=2">← Tillbaka till sökresultatet' in r.text
    other = await ds.client.get("/rapport/kalmar-2022-05-kallelse?passage=20&q=familjehem",
                                headers={"referer": "http://localhost/sok?q=annat"})
    assert 'href="/sok?q=familjehem">← Tillbaka' in other.text
