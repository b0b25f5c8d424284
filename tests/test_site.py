"""Every route of the site with Datasette's test client, on the corpus database built for the session."""

import csv
import io

import pytest




async def get(ds, path, status=200):
    r = await ds.client.get(path)
    assert r.status_code == status, (path, r.status_code, r.text[:500])
    return r


async def test_home_page_is_swedish_and_leads_to_search(ds):
    r = await get(ds, "/")
    assert '<html lang="sv">' in r.text and 'action="/sok"' in r.text and "Hoppa till innehållet" in r.text


async def test_search_page_shows_hits_matrix_and_links(ds):
    r = await get(ds, "/sok?q=SSPF")
    html = r.text
    assert "<mark>SSPF</mark>" in html
    assert 'id="matrix-title"' in html and "Nacka" in html and "Kalmar" in html
    assert "/rapport/nacka-2023-t2-tertialbokslut?passage=" in html
    assert "/sok.csv?" in html and "/sok.json?" in html
    assert '<label for="q"' in html  # labelled input


async def test_matrix_cells_link_to_filtered_search(ds):
    html = (await get(ds, "/sok?q=familjehem")).text
    assert "kommun=0880" in html and "year_from=2022" in html


async def test_empty_and_no_hit_searches(ds):
    r = await get(ds, "/sok")
    assert "Sök i rapporterna" in r.text
    r = await get(ds, "/sok?q=familjehem&kommun=Nacka&year=2019&mode=keyword")
    assert "Inga träffar" in r.text and "mode=semantic" in r.text and "sök utan filter" in r.text


@pytest.mark.parametrize("query, status, message", [
    ("/sok?q=x&page=100000", 400, "för långt bak"),
    ("/sok?q=x&kommun=Atlantis", 400, "okänd kommun"),
    ("/sok?q=x&year=3000", 400, "utanför det tillåtna intervallet"),
    ("/sok?q=x&mode=magi", 400, "finns inte"),
    ("/sok?q=" + "x" * 600, 400, "högst 500 tecken"),
    ("/sok?q=%21%21%21", 400, "bara skiljetecken"),
])
async def test_bad_search_input_gives_swedish_message(ds, query, status, message):
    r = await get(ds, query, status)
    assert message in r.text and "Traceback" not in r.text


async def test_html_in_query_is_escaped(ds):
    r = await get(ds, "/sok?q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;" in r.text


async def test_json_export_has_the_cli_fields_and_report_url(ds):
    r = await get(ds, "/sok.json?q=skyddat+boende&limit=5")
    data = r.json()
    assert data["ok"] and data["query"] == "skyddat boende" and len(data["hits"]) == 5
    hit = data["hits"][0]
    for field in ("report_id", "source_file", "municipality", "kommunkod", "year", "period", "report_type", "section",
                  "char_start", "char_end", "text", "score", "rank", "mode", "report_url", "topics"):
        assert field in hit
    assert hit["report_url"].startswith("http://localhost/rapport/")


async def test_json_errors_name_the_parameter(ds):
    r = await get(ds, "/sok.json?q=x&limit=0", 400)
    assert r.json() == {"ok": False, "error": "0 ligger utanför det tillåtna intervallet 1–1000", "parameter": "limit"}
    r = await get(ds, "/sok.json", 400)
    assert r.json()["parameter"] == "q"


async def test_csv_export(ds):
    r = await get(ds, "/sok.csv?q=SSPF&limit=3")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    hits = [x for x in rows if not x["dubblett_av"]]  # folded near-duplicates follow their hit as rows of their own
    assert len(hits) == 3 and rows[0]["report_url"].startswith("http") and "SSPF" in "".join(r["text"] for r in rows)


async def test_atom_feed(ds):
    r = await get(ds, "/sok.atom?q=SSPF")
    assert r.headers["content-type"].startswith("application/atom+xml")
    assert r.text.count("<entry>") >= 3 and "<feed" in r.text


async def test_report_reader_opens_at_the_passage_with_highlight(ds):
    hits = (await get(ds, "/sok.json?q=SSPF&mode=keyword&kommun=Nacka")).json()["hits"]
    h = hits[0]
    url = h["report_url"].replace("http://localhost", "")
    passage = url.split("passage=")[1].split("&")[0].split("#")[0]
    r = await get(ds, url.split("#")[0] + "&q=SSPF")
    assert f'id="passage-{passage}"' in r.text and 'class="hit"' in r.text and "<mark>SSPF</mark>" in r.text
    assert "Kommunkod" in r.text and "0182" in r.text and "Tabeller" in r.text
    assert '<table class="report-table">' in r.text


async def test_report_reader_errors(ds):
    await get(ds, "/rapport/finns-inte", 404)
    r = await get(ds, "/rapport/nacka-2023-t2-tertialbokslut?passage=99999", 404)
    assert "inget textavsnitt nummer 99999" in r.text
    await get(ds, "/rapport/nacka-2023-t2-tertialbokslut?passage=abc", 400)


async def test_table_pages(ds):
    r = await get(ds, "/tabell/kalmar-2022-06-manadsrapport-t01")
    assert "Driftredovisning" in r.text and "1 001 935" in r.text and "Summaraderna" in r.text
    r = await get(ds, "/tabell/kalmar-2022-06-manadsrapport-t01.csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["Driftredovisning, tkr", "Budget VR jun 2022", "Prognos VR jun 2022", "Avvikelse"]
    assert rows[1] == ["Intäkter", "-77174", "-81899", "4725"]  # issue 14: numbers as numbers, not printed text
    await get(ds, "/tabell/finns-inte", 404)
    r = await get(ds, "/rapportsok/table_cells.json?table_id=kalmar-2022-06-manadsrapport-t01&_shape=array&_size=max")
    assert len(r.json()) == 21


async def test_batch_search_paste_and_upload(ds):
    r = await get(ds, "/batch")
    assert 'enctype="multipart/form-data"' in r.text
    r = await ds.client.post("/batch", data={"fragor": "SSPF\nbrist på familjehem", "n": "3", "mode": "hybrid"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert {x["query"] for x in rows} == {"SSPF", "brist på familjehem"}
    assert sum(1 for x in rows if x["row_type"] == "träff" and x["query"] == "SSPF") == 3
    counts = {x["municipality"]: int(x["hits_in_kommun"]) for x in rows if x["row_type"] == "antal" and x["query"] == "SSPF"}
    assert set(counts) == {"Kalmar", "Nacka"} and all(v > 0 for v in counts.values())


def _multipart(filename: str, payload: bytes, fields: dict) -> tuple[bytes, str]:
    boundary = "----rapportsoktest"
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="fil"; filename="{filename}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode() + payload + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def _post_file(ds, payload: bytes, filename="fragor.csv"):
    body, ctype = _multipart(filename, payload, {"n": "2", "mode": "keyword"})
    return await ds.client.request("POST", "/batch", content=body, headers={"content-type": ctype})


async def test_batch_csv_upload_in_cp1252(ds):
    r = await _post_file(ds, "id,fråga\n1,skyddat boende\n2,orosanmälningar\n".encode("cp1252"))
    assert r.status_code == 200, r.text[:300]
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert {x["query"] for x in rows} == {"skyddat boende", "orosanmälningar"}


@pytest.mark.parametrize("payload, status, message", [
    (b"", 400, "Inga frågor"),
    (b"\x00\x01\x02PNG" * 10, 400, "binär"),
    (("SSPF\n" * 60_000).encode(), 413, "för stor"),
    ("\n".join(f"fråga {i}" for i in range(150)).encode(), 413, "fler än de 100"),
])
async def test_bad_batch_uploads(ds, payload, status, message):
    r = await _post_file(ds, payload)
    assert r.status_code == status and message in r.text and "Traceback" not in r.text


async def test_other_pages(ds):
    assert "Alla rapporter" in (await get(ds, "/rapporter")).text or "Rapporter" in (await get(ds, "/rapporter")).text
    r = await get(ds, "/om")
    assert "intfloat/multilingual-e5-small" in r.text


async def test_datasette_pages_have_swedish_labels_and_readonly_sql(ds):
    r = await get(ds, "/rapportsok")
    assert "Rapportsöks databas" in r.text and 'href="/rapportsok/chunk_embeddings"' not in r.text
    r = await get(ds, "/rapportsok/chunks")
    assert "Textavsnitt" in r.text and "Passager om cirka 120–350 ord" in r.text
    assert "search_terms" not in r.text  # internal index terms live in the hidden chunk_terms table
    r = await get(ds, "/rapportsok/chunks.json?_search=SSPF&_shape=array")
    assert r.json() and all("SSPF" in row["text"] for row in r.json())
    r = await get(ds, "/rapportsok.json?sql=select+count(*)+as+n+from+chunks&_shape=array")
    assert r.json()[0]["n"] > 200
    r = await ds.client.get("/rapportsok.json?sql=delete+from+chunks")
    assert r.status_code in (400, 403)
    r = await get(ds, "/rapportsok/tal_i_tabeller.json?rad=skyddat+boende&_shape=array")
    assert any(row["värde"] == 907 and row["kommun"] == "Nacka" for row in r.json())
    r = await get(ds, "/rapportsok/sok_ord.json?q=SSPF&_shape=array")
    assert r.json() and "[SSPF]" in r.json()[0]["utdrag"]


async def test_topic_pages(ds):
    r = await get(ds, "/amnen")
    assert "SSPF – samverkan skola, socialtjänst, polis och fritid" in r.text and "/amne/skyddat_boende" in r.text
    r = await get(ds, "/amne/sspf")
    html = r.text
    assert 'id="m-title"' in html and "Nacka" in html and "Kalmar" in html
    assert "Idag är 120 barn aktuella för SSPF" in html  # a number mentioned with the topic
    assert "/rapport/nacka-2023-t2-tertialbokslut?passage=" in html
    r = await get(ds, "/amne/skyddat_boende")
    assert "Placerade i skyddat boende pga våld i nära relation" in r.text  # a table tagged with the topic
    await get(ds, "/amne/finns_inte", 404)


async def test_search_within_one_report(ds):
    r = await get(ds, "/sok?q=familjehem&report=nacka-2023-t2-tertialbokslut&mode=keyword")
    assert 'name="report" value="nacka-2023-t2-tertialbokslut"' in r.text
    data = (await get(ds, "/sok.json?q=familjehem&report=nacka-2023-t2-tertialbokslut&mode=keyword")).json()
    assert data["hits"] and {h["report_id"] for h in data["hits"]} == {"nacka-2023-t2-tertialbokslut"}


async def test_markdown_texts_are_rendered_and_say_what_exact_search_does(ds):
    # /om's search help comes from site/content/*.md through the markdown package; it must
    # describe exact search as it is (all words, no synonyms – issue 11), not as it was
    r = await get(ds, "/om")
    assert "<strong>Exakta ord</strong>" in r.text and "<em>alla</em> orden" in r.text
    assert "Inga synonymer läggs till" in r.text and "förkortningar hittar sina förklaringar" not in r.text
    assert "<code>&quot;fras&quot;</code>" in r.text or "<code>\"fras\"</code>" in r.text
    # a topic definition is rendered, with HTML in the text escaped
    from rapportsok.markdown_text import to_html
    assert to_html("**a** <b>x</b>", inline=True) == "<strong>a</strong> &lt;b&gt;x&lt;/b&gt;"
    r = await get(ds, "/amne/sspf")
    assert '<div class="lead">' in r.text
