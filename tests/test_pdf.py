"""PDF reports in: the five corpus reports typeset as PDFs (tests/fixtures/make_pdfs.py) and built.

The PDF build is compared with the text build of the same reports: table cells, passages found by
the same queries. Page numbers are checked against each page's own text as PDFium extracts it.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from rapportsok.build import BuildOptions, build
from rapportsok.chunking import normalise
from rapportsok.errors import CorpusError
from rapportsok.query import parse_request
from rapportsok.search import SearchIndex
from rapportsok.tables import HYPHEN_JOIN_RE

from conftest import PDF_FIXTURES as FIXTURES, TEXT_TO_PDF  # the PDF build is shared with the browser tests

# What the generator printed as running headers and footers (tests/fixtures/make_pdfs.py); none of it is in the
# reports' own text, so none of it may be in a passage.
FURNITURE = {
    "kalmar-manadsrapport-2022-06.pdf": ["Månadsrapport juni 2022", r"Sida \d av 5"],
    "kalmar-kallelse-2022-05-24.pdf": ["Kallelse 2022-05-24", r"\b\d{1,2} \(63\)"],
    "nacka-tertialbokslut-2-2023.pdf": ["NACKA KOMMUN", "Tertialbokslut 2 2023 – Socialnämnden"],
    "helsingborg-arsbokslut-2021.pdf": ["Socialnämnden | 2022-02-10", r"Sida \d{1,2}\b"],
    "kungsor-manadsrapport-2019-02.pdf": ["Månadsrapport februari 2019", r"\b\d/7\b"],
}


@pytest.fixture(scope="session")
def pdf_conn(pdf_build) -> sqlite3.Connection:
    c = sqlite3.connect(pdf_build[0])
    c.row_factory = sqlite3.Row
    return c


def page_texts(pdf: Path) -> list[str]:
    """Each page's body text as PDFium extracts it (the generator's running header line and page-number line
    dropped), with whitespace and hyphens removed, for containment tests."""
    doc = pdfium.PdfDocument(pdf)
    header = FURNITURE[pdf.name][0]
    out = []
    for i in range(len(doc)):
        lines = doc[i].get_textpage().get_text_range().split("\r\n")
        if lines and header in lines[0]:
            lines = lines[1:]
        if lines and re.search(r"\d", lines[-1]) and len(lines[-1]) <= 12:
            lines = lines[:-1]
        out.append(squash(" ".join(lines)))
    doc.close()
    return out


def page_texts_raw(pdf: Path) -> str:
    doc = pdfium.PdfDocument(pdf)
    text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    doc.close()
    return text


def squash(s: str) -> str:
    return re.sub(r"[\s\-\u00ad\u0002\ufffe]+", "", re.sub(r"</?b>|\*\*|#+ ", "", s))


def test_every_pdf_builds_with_pages(pdf_build, pdf_conn):
    db, result = pdf_build
    rows = {r["source_file"]: r for r in pdf_conn.execute("select * from reports")}
    assert set(rows) == set(FURNITURE)
    for name, row in rows.items():
        n = len(pdfium.PdfDocument(FIXTURES / name))
        assert row["n_pages"] == n
        pages = pdf_conn.execute("select page, char_start, char_end from report_pages where report_id = ? order by page",
                                 [row["id"]]).fetchall()
        assert [p["page"] for p in pages] == list(range(1, n + 1))
        assert pages[0]["char_start"] == 0 and pages[-1]["char_end"] == len(row["text"])
    # Kungsör is not in the manifest: detected metadata and a warning naming the file
    assert any("kungsor-manadsrapport-2019-02.pdf: not listed in manifest.csv" in w for w in result.warnings)
    assert rows["kungsor-manadsrapport-2019-02.pdf"]["report_type"] == "månadsrapport"


def test_offsets_round_trip_for_every_passage(pdf_conn):
    texts = {r["id"]: r["text"] for r in pdf_conn.execute("select id, text from reports")}
    chunks = pdf_conn.execute("select report_id, char_start, char_end, text, page_start, page_end from chunks").fetchall()
    assert len(chunks) > 150
    for c in chunks:
        assert normalise(texts[c["report_id"]][c["char_start"]:c["char_end"]]) == c["text"]
        assert 1 <= c["page_start"] <= c["page_end"]


def test_passages_are_on_the_pages_they_cite(pdf_conn):
    """The first and last words of every passage are on its page_start and page_end in the PDF itself."""
    checked = 0
    for rep in pdf_conn.execute("select id, source_file from reports"):
        pages = page_texts(FIXTURES / rep["source_file"])
        ocr = {r["page"] for r in pdf_conn.execute("select page from report_pages where report_id = ? and ocr = 1", [rep["id"]])}
        for c in pdf_conn.execute("select text, page_start, page_end, kind from chunks where report_id = ?", [rep["id"]]):
            if c["kind"] != "prose" or {c["page_start"], c["page_end"]} & ocr:
                continue
            words = squash(c["text"]).strip()
            head, tail = squash(" ".join(c["text"].split()[:6])), squash(" ".join(c["text"].split()[-6:]))
            first, last = c["page_start"] - 1, c["page_end"] - 1
            # a passage may start with the last words of a paragraph running over from the page before
            assert head in pages[first] or head in "".join(pages[max(first - 1, 0):first + 1]), (rep["id"], c["text"][:80])
            assert tail in pages[last] or tail in "".join(pages[max(last - 1, 0):last + 1]), (rep["id"], c["text"][-80:])
            checked += 1 if words else 0
    assert checked > 150


def test_no_page_furniture_in_any_passage(pdf_conn):
    for name, patterns in FURNITURE.items():
        txt = next(t for t, p in TEXT_TO_PDF.items() if p == name)
        source = (Path(__file__).resolve().parent.parent / "corpus" / txt).read_text(encoding="utf-8")
        rid = pdf_conn.execute("select id from reports where source_file = ?", [name]).fetchone()[0]
        chunks = [r[0] for r in pdf_conn.execute("select text from chunks where report_id = ?", [rid])]
        for pat in patterns:
            rx = re.compile(pat if "\\" in pat else re.escape(pat))
            assert not rx.search(source), pat          # the pattern only matches what the generator added
            assert not [c for c in chunks if rx.search(c)], (name, pat)
            assert rx.search(page_texts_raw(FIXTURES / name)), pat    # … and it is printed in the PDF


def test_headings_come_from_font_size(pdf_conn):
    heads = {r["heading"]: r for r in pdf_conn.execute(
        "select s.heading, s.level, s.page_start from sections s join reports r on r.id = s.report_id where r.source_file = ?",
        ["nacka-tertialbokslut-2-2023.pdf"])}
    assert heads["2.1 Maximalt värde för skattepengarna"]["level"] > heads["2 Verksamhetsresultat"]["level"]
    assert heads["2 Verksamhetsresultat"]["page_start"] == 2


def _tables(conn):
    """Cells of every table per report, keyed by the PDF's file name."""
    out = {}
    for rid, source in conn.execute("select id, source_file from reports"):
        key = TEXT_TO_PDF.get(source, source)
        out[key] = [[tuple(c) for c in conn.execute(
            "select row_index, column_index, row_label, column_label, raw, value, unit, is_total from table_cells "
            "where table_id = ? order by row_index, column_index", [tid])]
            for (tid,) in conn.execute("select id from tables where report_id = ? order by ordinal", [rid])]
    return out


def test_table_cells_identical_to_the_text_build(conn, pdf_conn):
    text_tables, pdf_tables = _tables(conn), _tables(pdf_conn)
    compared = 0
    for key, tables in text_tables.items():
        assert len(pdf_tables[key]) == len(tables), key
        for a, b in zip(tables, pdf_tables[key]):
            assert a == b, key
            compared += len(a)
    assert compared > 1000


def test_a_table_broken_across_a_page_break_is_one_table(pdf_conn):
    spanning = pdf_conn.execute("select id, report_id, title, page_start, page_end, char_start, char_end from tables "
                                "where page_end > page_start").fetchall()
    assert len(spanning) >= 3, "the fixtures contain tables that continue on the next page"
    for t in spanning:
        breaks = [r[0] for r in pdf_conn.execute("select char_start from report_pages where report_id = ? and page > ? and page <= ?",
                                                 [t["report_id"], t["page_start"], t["page_end"]])]
        assert breaks and all(t["char_start"] < b < t["char_end"] for b in breaks), t["title"]
        assert "\t" in pdf_conn.execute("select substr(text, ?, ?) from reports where id = ?",
                                        [breaks[0] + 1, 200, t["report_id"]]).fetchone()[0]   # rows go on after the break
    # the Nacka table of the LSS statistics is printed over two pages; its rows on the second page are cells of the same table
    pages = pdf_conn.execute("select count(distinct c.page_start) from table_cells c join tables t on t.id = c.table_id "
                             "where t.page_end > t.page_start").fetchone()[0]
    assert pages >= 2


QUERIES = ["familjehem", "ekonomiskt bistånd", "SSPF", "skyddat boende", "försörjningsstöd", "orosanmälningar",
           "sjukfrånvaro", "personlig assistans", "konsulentstödda familjehem", "hemlöshet"]


def _words(s: str) -> list[str]:
    """Words of a passage; a word the text extraction left hyphenated at a line break ("föräldra- stödet") is joined,
    as the PDF reader joins it."""
    return re.findall(r"\w+", HYPHEN_JOIN_RE.sub(r"\1\3", re.sub(r"</?b>", " ", s.lower())))


def test_the_same_queries_find_the_same_passages(built_db, pdf_build):
    text_index, pdf_index = SearchIndex(built_db), SearchIndex(pdf_build[0])
    for q in QUERIES:
        req = parse_request({"q": q, "mode": "keyword", "limit": 20}, export=True, known_types=text_index.known_types)
        text_hits = [h for h in text_index.search(req).hits if h["kind"] == "prose"][:3]
        pdf_hits = pdf_index.search(req).hits
        assert text_hits and pdf_hits, q
        pdf_words = [" ".join(_words(h["text"])) for h in pdf_hits]
        for h in text_hits:
            probe = " ".join(_words(h["text"])[5:17])
            assert any(probe in w for w in pdf_words), (q, h["text"][:100])
        assert all(h["page"] >= 1 and h["page_end"] >= h["page"] for h in pdf_hits)
    assert text_index.search(parse_request({"q": "familjehem", "mode": "keyword"}, known_types=text_index.known_types)).hits[0]["page"] is None


@pytest.mark.skipif(bool(__import__("rapportsok.ingest.ocr", fromlist=["available"]).available()),
                    reason="Tesseract with Swedish is not installed (scripts/install.sh installs it)")
def test_scanned_page_is_read_by_ocr(pdf_conn):
    page = pdf_conn.execute("select p.* from report_pages p join reports r on r.id = p.report_id "
                            "where r.source_file = 'kungsor-manadsrapport-2019-02.pdf' and p.page = 2").fetchone()
    assert page["ocr"] == 1 and page["ocr_confidence"] > 80
    assert pdf_conn.execute("select count(*) from report_pages where ocr = 1").fetchone()[0] == 1
    hit = pdf_conn.execute("select text, page_start from chunks where text like '%tillräckligt med personal för att kunna lösa%'").fetchone()
    assert hit["page_start"] == 2


def test_two_columns_are_read_column_by_column_and_hyphens_removed(pdf_conn):
    text = pdf_conn.execute("select text from reports where source_file = 'kungsor-manadsrapport-2019-02.pdf'").fetchone()[0]
    flat = normalise(text)
    assert "Att det varit så högt tryck på vår beredskap har också påverkat det dagliga arbetet." in flat
    assert "försörjningsstöd -1,8 mkr" in flat        # typeset as "försörjni-" / "ngsstöd"
    assert "familjehemsutredningar under månaden" in flat


def test_pdf_properties_feed_detection(pdf_conn):
    row = pdf_conn.execute("select m.value, m.evidence from report_metadata m join reports r on r.id = m.report_id "
                           "where r.source_file = 'kungsor-manadsrapport-2019-02.pdf' and m.field = 'document_date'").fetchone()
    assert row["value"] == "2019-03-12" and "CreationDate" in row["evidence"]


# --- bad input -------------------------------------------------------------------------------------------

def zero_page_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty."""
    objs = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[]/Count 0>>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def _bad_pdfs(folder: Path) -> dict[str, str]:
    from fpdf import FPDF

    good = (FIXTURES / "kalmar-manadsrapport-2022-06.pdf").read_bytes()
    (folder / "trasig.pdf").write_bytes(good[: len(good) // 3])
    (folder / "inte-en-pdf.pdf").write_text("Det här är en textfil med fel ändelse.\n", encoding="utf-8")
    (folder / "tom.pdf").write_bytes(zero_page_pdf())
    pdf = FPDF()
    pdf.set_encryption(owner_password="ägare", user_password="hemligt")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Hemlig rapport")
    (folder / "krypterad.pdf").write_bytes(bytes(pdf.output()))
    return {"trasig.pdf": "damaged or truncated", "inte-en-pdf.pdf": "not a PDF", "tom.pdf": "no pages",
            "krypterad.pdf": "password-protected"}


def test_bad_pdfs_are_named_and_skipped_and_the_old_database_kept(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    expected = _bad_pdfs(folder)
    db = tmp_path / "rapportsok.db"
    db.write_bytes(b"previous database")
    with pytest.raises(CorpusError, match="no report could be read"):
        build(BuildOptions(corpus=folder, db_path=db, embed=False, quiet=True))
    assert db.read_bytes() == b"previous database"
    shutil.copy(FIXTURES / "kalmar-manadsrapport-2022-06.pdf", folder)
    result = build(BuildOptions(corpus=folder, db_path=db, embed=False, quiet=True))
    assert result.reports == 1
    for name, message in expected.items():
        assert any(name in w and message in w for w in result.warnings), (name, result.warnings)


def test_text_layer_without_spaces_and_no_tesseract_warns_once_and_continues(tmp_path, monkeypatch):
    from fpdf import FPDF

    from rapportsok.ingest import ocr
    from rapportsok.ingest.pdf import read_pdf

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for page in range(3):
        pdf.add_page()
        if page == 1:
            pdf.multi_cell(0, 6, "Socialnamndenredovisarettunderskottsomberorpaokadekostnaderforplaceringar" * 8)
        else:
            pdf.multi_cell(0, 6, ["Första sidan handlar om familjehem. ", "", "Tredje sidan handlar om placeringar. "][page] * 5)
    path = tmp_path / "utan-mellanslag.pdf"
    path.write_bytes(bytes(pdf.output()))
    monkeypatch.setenv("PATH", str(tmp_path))      # no tesseract on the PATH
    ocr.available.cache_clear()
    try:
        result = read_pdf(path)
    finally:
        ocr.available.cache_clear()
    assert len(result.warnings) == 1
    assert "utan-mellanslag.pdf: pages 2 have no usable text layer" in result.warnings[0]
    assert "tesseract" in result.warnings[0]
    assert "familjehem" in result.text and "Socialnamnden" not in result.text
    assert result.page_of(result.text.index("Tredje sidan")) == 3


def cid_garbage_pdf() -> bytes:
    """Three pages; page 2 is set in an embedded font whose text layer decodes to '(cid:N)' glyphs (its
    ToUnicode map and the font's own cmap table made unreadable, as in PDFs from some publishing tools);
    it still renders normally, so OCR can read it. Page 3 has one such word in otherwise good text."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_compression(False)              # the font dictionary and font program are plain bytes to edit
    pdf.add_font("dejavu", fname="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    pdf.add_font("dejavu-bold", fname="/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(0, 6, "Första sidan handlar om familjehem. " * 5, new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.set_font("dejavu", size=14)
    pdf.multi_cell(0, 8, "Socialnämnden redovisar ett underskott för placeringar. " * 6, new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.multi_cell(0, 6, "Tredje sidan handlar om placeringar i familjehem och på institution. " * 4, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("dejavu-bold", size=11)     # its own subset: the first glyph ids all decode to (cid:N)
    pdf.multi_cell(0, 6, "Bilaga", new_x="LMARGIN", new_y="NEXT")
    data = bytes(pdf.output())
    # same-length renames keep the cross-reference table valid
    return data.replace(b"/ToUnicode", b"/ToUnicodX").replace(b"cmap", b"cmaX")


@pytest.mark.parametrize("tesseract", [True, False], ids=["ocr", "utan-tesseract"])
def test_cid_garbage_text_layer_is_named_and_never_reaches_a_passage(tmp_path, monkeypatch, tesseract):
    import pdfplumber

    from rapportsok.ingest import ocr

    folder = tmp_path / "corpus"
    folder.mkdir()
    path = folder / "cid-skrap.pdf"
    path.write_bytes(cid_garbage_pdf())
    with pdfplumber.open(path) as plumber:     # the fixture really has a (cid:N) text layer on pages 2 and 3
        assert plumber.pages[1].extract_text().count("(cid:") > 20
        assert "(cid:" in plumber.pages[2].extract_text()
    if not tesseract:
        monkeypatch.setenv("PATH", str(tmp_path))
    elif ocr.available():
        pytest.skip("Tesseract is not installed")
    ocr.available.cache_clear()
    try:
        result = build(BuildOptions(corpus=folder, db_path=tmp_path / "rapportsok.db", embed=False, quiet=True))
    finally:
        ocr.available.cache_clear()
    assert result.reports == 1
    c = sqlite3.connect(tmp_path / "rapportsok.db")
    text = c.execute("select text from reports").fetchone()[0]
    passages = [r[0] for r in c.execute("select text from chunks")]
    assert passages and not any("(cid:" in p for p in passages) and "(cid:" not in text
    assert "Första sidan handlar om familjehem" in text and "Tredje sidan handlar om placeringar" in text
    pages = dict(c.execute("select page, ocr from report_pages"))
    garbage = [w for w in result.warnings if "cid-skrap.pdf" in w and "page" in w]
    if tesseract:   # documented: a garbage text layer is OCR'd with a warning naming the page
        assert any("page 2: the text layer has undecodable glyphs ((cid:N)); the page was read by OCR instead" in w
                   for w in garbage), result.warnings
        assert pages[2] == 1 and pages[1] == 0
        assert "Socialnämnden redovisar ett underskott" in text
    else:           # documented: without Tesseract, warned once naming the file and pages, built without them
        assert any("pages 2 have no usable text layer and were left out" in w and "tesseract" in w for w in garbage), result.warnings
        assert "Socialnämnden" not in text
    assert any("page 3:" in w and "(cid:N)" in w for w in garbage), result.warnings


# --- rapportsok add ------------------------------------------------------------------------------------

def test_add_copies_the_pdf_and_appends_a_validated_manifest_row(tmp_path):
    from rapportsok.add import add_report
    from rapportsok.errors import RapportsokError
    from rapportsok.manifest import load_manifest

    corpus = tmp_path / "corpus"
    src = FIXTURES / "kalmar-manadsrapport-2022-06.pdf"
    result = add_report(src, corpus, typ="månadsrapport", url="https://www.kalmar.se/rapport.pdf")
    entry = load_manifest(corpus)["kalmar-manadsrapport-2022-06.pdf"]
    assert (corpus / src.name).read_bytes() == src.read_bytes()
    assert entry.values["kommunkod"] == "0880" and entry.values["period"] == "2022-06"    # detected
    assert entry.values["source_url"] == "https://www.kalmar.se/rapport.pdf"             # given
    assert "kommunkod" in result["detected"] and "source_url" not in result["detected"]
    before = (corpus / "manifest.csv").read_text(encoding="utf-8")
    for kwargs, message in [({"kommun": "Narnia"}, "--kommun"), ({"period": "T4 2023"}, "--period"),
                            ({"typ": "roman"}, "--typ"), ({"datum": "24/5 2022"}, "--datum")]:
        with pytest.raises(RapportsokError, match=message):
            add_report(FIXTURES / "nacka-tertialbokslut-2-2023.pdf", corpus, **kwargs)
    with pytest.raises(RapportsokError, match="redan"):
        add_report(src, corpus)
    copy = tmp_path / "kopia.pdf"
    shutil.copy(src, copy)
    with pytest.raises(RapportsokError, match="samma fil finns redan"):
        add_report(copy, corpus)
    assert (corpus / "manifest.csv").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in corpus.iterdir()) == ["kalmar-manadsrapport-2022-06.pdf", "manifest.csv"]
    add_report(FIXTURES / "nacka-tertialbokslut-2-2023.pdf", corpus, kommun="Nacka", period="T2 2023")
    assert load_manifest(corpus)["nacka-tertialbokslut-2-2023.pdf"].values["year"] == 2023


# --- the site: page markers, links to the page and to the original PDF --------------------------------------

@pytest.fixture(scope="module")
async def pdf_site(pdf_build):
    from datasette.app import Datasette

    from rapportsok.cli import datasette_kwargs

    ds = Datasette(**datasette_kwargs(pdf_build[0], settings={}))
    await ds.invoke_startup()
    return ds


async def test_reader_shows_pages_opens_at_a_page_and_cites_it(pdf_site, pdf_conn):
    rid = pdf_conn.execute("select id from reports where source_file = 'nacka-tertialbokslut-2-2023.pdf'").fetchone()[0]
    r = await pdf_site.client.get(f"/rapport/{rid}?sida=12")
    assert r.status_code == 200
    html = r.text
    assert all(f'id="sida-{n}"' in html for n in range(1, 16))
    assert f'href="/rapport/{rid}/original.pdf#page=12"' in html
    assert "Nacka kommun, Tertialbokslut 2 2023 Socialnämnden, Socialnämnden, s. 12" in html
    assert (await pdf_site.client.get(f"/rapport/{rid}?sida=99")).status_code == 404
    assert (await pdf_site.client.get(f"/rapport/{rid}?sida=tolv")).status_code == 400
    kungsor = pdf_conn.execute("select id from reports where source_file like 'kungsor%'").fetchone()[0]
    if pdf_conn.execute("select count(*) from report_pages where ocr = 1").fetchone()[0]:
        html = (await pdf_site.client.get(f"/rapport/{kungsor}")).text
        assert html.count("Texten är maskinläst från en skannad sida") == 1


async def test_hits_and_tables_link_to_the_page_and_the_pdf(pdf_site, pdf_conn):
    r = await pdf_site.client.get("/sok?q=korttidsboende&mode=keyword")
    assert r.status_code == 200
    assert re.search(r'href="/rapport/[\w-]+\?sida=\d+#sida-\d+">s\. \d+', r.text)
    assert re.search(r'href="/rapport/[\w-]+/original\.pdf#page=\d+">PDF', r.text)
    t = pdf_conn.execute("select id, report_id, page_start from tables where page_end > page_start").fetchone()
    html = (await pdf_site.client.get(f"/tabell/{t['id']}")).text
    assert f'href="/rapport/{t["report_id"]}/original.pdf#page={t["page_start"]}"' in html
    rows = list(__import__("csv").DictReader(__import__("io").StringIO(
        (await pdf_site.client.get("/sok.csv?q=korttidsboende&mode=keyword")).text)))
    assert rows and all(int(r["page"]) >= 1 for r in rows)


async def test_the_original_pdf_is_served_read_only_and_nothing_else(pdf_site, pdf_conn, pdf_corpus, monkeypatch):
    monkeypatch.setenv("RAPPORTSOK_CORPUS", str(pdf_corpus))
    rid = pdf_conn.execute("select id from reports where source_file = 'kalmar-manadsrapport-2022-06.pdf'").fetchone()[0]
    r = await pdf_site.client.get(f"/rapport/{rid}/original.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content == (FIXTURES / "kalmar-manadsrapport-2022-06.pdf").read_bytes()
    for path in ["/rapport/finns-inte/original.pdf", "/rapport/..%2Fmanifest/original.pdf", "/rapport/../manifest.csv",
                 f"/rapport/{rid}/../../manifest.csv", f"/rapport/{rid}/original.pdf/../../manifest.csv"]:
        resp = await pdf_site.client.get(path)
        assert resp.status_code in (302, 404) and b"id,file" not in resp.content, path
