"""Real-browser tests: headless Chromium (Debian's package) driven by Playwright.

Skipped, with a message saying how to install it, where no Chromium is installed.
Screenshots of every step are written to test-artifacts/ (not committed).
"""

import json
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from rapportsok.cli import datasette_command

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: run 'apt-get install chromium' (Debian) "
                                                "or use scripts/test.sh, which installs it"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db):
    port = _free_port()
    proc = subprocess.Popen(datasette_command(db) + ["--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/sok", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the Datasette server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(built_db):
    yield from _serve(built_db)


@pytest.fixture(scope="module")
def pdf_server(pdf_build):
    """The site over the five generated PDFs (tests/fixtures/pdf, built without embeddings)."""
    yield from _serve(pdf_build[0])


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True, locale="sv-SE")
    pg = context.new_page()
    yield pg
    context.close()


def test_search_matrix_reader_and_csv(page, server, tmp_path):
    page.goto(server + "/")
    page.fill("#q", "SSPF")
    page.keyboard.press("Enter")
    page.wait_for_selector("ol.hits li.hit")
    assert page.locator("ol.hits li.hit").count() >= 5
    assert page.locator("section.matrix table").is_visible()
    assert page.locator("mark", has_text="SSPF").count() > 0
    page.screenshot(path=str(ARTIFACTS / "1-sok-sspf.png"), full_page=True)

    page.fill("#q", "brist på familjehem")
    page.click("button[type=submit]")
    page.wait_for_selector("ol.hits li.hit")
    first = page.locator("ol.hits li.hit").first
    assert "familjehem" in first.inner_text().lower()
    page.screenshot(path=str(ARTIFACTS / "2-sok-brist-pa-familjehem.png"), full_page=True)

    first.locator("h3 a").click()
    page.wait_for_selector("article.report-text .hit")
    assert page.locator("article.report-text .hit").count() >= 1
    assert "Om rapporten" in page.inner_text("aside.report-meta")
    page.screenshot(path=str(ARTIFACTS / "3-rapportlasare.png"))

    page.go_back()
    with page.expect_download() as dl:
        page.click("text=CSV")
    path = tmp_path / "sok.csv"
    dl.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("rank,score,report_id") and "familjehem" in text


def test_batch_search_download(page, server, tmp_path):
    page.goto(server + "/batch")
    page.fill("#fragor", "SSPF\nskyddat boende")
    page.check("input[name=variant][value=csv]")  # the form offers the Excel variant first
    page.screenshot(path=str(ARTIFACTS / "4-batch.png"))
    with page.expect_download() as dl:
        page.click("button[type=submit]")
    path = tmp_path / "batch.csv"
    dl.value.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    assert text.startswith("row_type,query") and "skyddat boende" in text and "antal" in text


def test_keyboard_and_phone_layout(page, server):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/sok?q=skyddat+boende")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Hoppa till innehållet"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "5-mobil.png"), full_page=True)
    page.goto(server + "/amne/sspf")
    assert page.locator("section.matrix").is_visible()
    page.screenshot(path=str(ARTIFACTS / "6-amne-sspf.png"), full_page=True)


# -- issue 14: the site as people use it, at phone and desktop size --------------------------------

AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"telefon": (390, 844), "dator": (1366, 900)}
FILTERED = "/sok?q=SSPF&kommun=0880&year_from=2022&type=m%C3%A5nadsrapport&topic=sspf"
SERIES_TABLE = "nacka-2023-t2-tertialbokslut-t06"   # "jan-jun 2019" … "jan-jun 2023", six rows


@pytest.fixture(params=list(SIZES))
def sized(request, browser):
    w, h = SIZES[request.param]
    context = browser.new_context(viewport={"width": w, "height": h}, locale="sv-SE", accept_downloads=True)
    pg = context.new_page()
    pg.size_name = request.param
    yield pg
    context.close()


def _overlaps(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def test_selected_filters_are_readable_and_removable(sized, server):
    page = sized
    page.goto(server + FILTERED)
    page.screenshot(path=str(ARTIFACTS / f"filter-{page.size_name}.png"), full_page=True)
    width = page.viewport_size["width"]
    for name in ("kommun", "year_from", "type", "topic"):
        sel = page.locator(f".filter-grid select[name={name}]")
        assert sel.is_visible()
        # the chosen option's text fits inside the select (it was ~33 px wide: "Ka", "202", "Må")
        # (a long topic name may be cut on a phone, but its first 24 characters show; the chip shows it whole)
        text_w, inner_w = page.evaluate("""([el, n]) => { const c = document.createElement('canvas').getContext('2d');
            c.font = getComputedStyle(el).font; const t = el.options[el.selectedIndex].text;
            return [c.measureText(n ? t.slice(0, n) : t).width, el.clientWidth]; }""",
                                        [sel.element_handle(), 24 if name == "topic" else 0])
        assert inner_w >= 120 and text_w + 24 <= inner_w, (name, text_w, inner_w)
        box = sel.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
    chips = page.locator(".chips a.chip")
    assert chips.count() == 4 and "Kalmar" in chips.first.inner_text()
    assert page.locator(".chips a", has_text="Rensa filter").is_visible()
    page.locator(".chips a.chip", has_text="Kalmar").click()
    page.wait_for_load_state()
    assert "kommun=" not in page.url and "year_from=2022" in page.url
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_mode_switch_labels_do_not_overlap(sized, server):
    page = sized
    for path in ("/sok", "/sok?q=familjehem"):
        page.goto(server + path)
        boxes = [page.locator("fieldset.modes label.mode").nth(i).bounding_box() for i in range(3)]
        legend = page.locator("fieldset.modes legend").bounding_box()
        for i, a in enumerate(boxes + [legend]):
            assert a["x"] >= 0 and a["x"] + a["width"] <= page.viewport_size["width"] + 1
            for b in (boxes + [legend])[i + 1:]:
                assert not _overlaps(a, b), (path, a, b)
    page.goto(server + "/sok")
    assert page.locator(".mode-help").count() == 3 and page.locator(".examples a").count() >= 5


def test_table_page_shows_numbers_and_a_chart(sized, server):
    page = sized
    page.goto(server + f"/tabell/{SERIES_TABLE}")
    page.screenshot(path=str(ARTIFACTS / f"tabell-{page.size_name}.png"), full_page=True)
    first_number = page.locator("table.report-table tbody tr").first.locator("td").first
    box = first_number.bounding_box()
    assert first_number.inner_text().strip() == "1 230"
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], box  # visible without scrolling
    if page.size_name == "telefon":
        assert page.locator(".scroll-hint").is_visible()
    else:
        row = page.locator("table.report-table tbody tr").nth(2).bounding_box()
        assert row["height"] < 40, row  # compact rows on a desktop
    # one line per table row, one point per period column
    chart = page.locator("figure.chart svg")
    assert chart.is_visible() and chart.get_attribute("role") == "img"
    assert page.locator("figure.chart svg .serie-0 circle.dot").count() == 5
    assert page.locator("figure.chart svg .serie-5 circle.dot").count() == 5
    assert page.locator("figure.chart svg .serie-6").count() == 0


def test_reports_list_is_readable_on_a_phone(sized, server):
    page = sized
    page.goto(server + "/rapporter")
    page.screenshot(path=str(ARTIFACTS / f"rapporter-{page.size_name}.png"), full_page=True)
    title = page.locator("table.stack tbody th a").first
    box = title.bounding_box()
    assert box["x"] + box["width"] <= page.viewport_size["width"] and title.inner_text().strip()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_batch_form_fits_the_screen(sized, server):
    page = sized
    page.goto(server + "/batch")
    for sel in ("#fragor", "input[name=n]", "select[name=mode]", "#fil"):
        box = page.locator(sel).bounding_box()
        assert box["width"] >= 60 and box["x"] + box["width"] <= page.viewport_size["width"] + 1, (sel, box)
    label = page.locator("label[for=fragor]").bounding_box()
    assert label["height"] < 60  # not one word per line


AXE_PAGES = ["/", "/sok", FILTERED, "/sok?q=skyddat+boende", f"/tabell/{SERIES_TABLE}",
             "/rapport/nacka-2023-t2-tertialbokslut?passage=5&q=SSPF", "/rapporter", "/amnen", "/amne/sspf", "/batch",
             "/om", "/finns-inte", "/rapportsok", "/rapportsok/chunks", "/rapportsok/chunks/1",
             "/rapportsok/table_cells?table_id=kalmar-2022-06-manadsrapport-t01", "/rapportsok?sql=select+1",
             "/rapportsok/tal_i_tabeller?rad=skyddat+boende"]


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: run 'npm install --prefix tests/js' (scripts/test.sh does)")
def test_axe_finds_no_serious_violations(sized, server):
    page = sized
    # an init script is injected by the browser itself, so the site's Content-Security-Policy
    # (scripts only from the site) stays in force for everything the pages load
    page.context.add_init_script(path=str(AXE))
    found = {}
    for path in AXE_PAGES:
        page.goto(server + path)
        violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))""")
        if violations:
            found[path] = violations
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


@pytest.mark.parametrize("sida", [12, 3])
def test_reader_opens_at_the_page_asked_for(sized, pdf_server, pdf_build, sida):
    """/rapport/<id>?sida=N lands on the page marker "s. N" (site/static/sida.js), visible, not under the header."""
    page = sized
    with sqlite3.connect(pdf_build[0]) as c:
        rid = c.execute("select id from reports where source_file = 'nacka-tertialbokslut-2-2023.pdf'").fetchone()[0]
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{pdf_server}/rapport/{rid}?sida={sida}")
    page.wait_for_function(f"location.hash === '#sida-{sida}'", timeout=5000)
    page.wait_for_timeout(200)
    page.screenshot(path=str(ARTIFACTS / f"sida-{sida}-{page.size_name}.png"))
    height = page.viewport_size["height"]
    box = page.locator(f"#sida-{sida}").bounding_box()
    assert 0 <= box["y"] and box["y"] + min(box["height"], 20) <= height, (page.size_name, box)
    # what is drawn at the marker's label is the marker itself, not a sticky header over it
    label = page.locator(f"#sida-{sida} > span").first.bounding_box()
    on_top = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y); return e && e.closest('.page-mark') && e.closest('.page-mark').id }",
                           [label["x"] + label["width"] / 2, label["y"] + label["height"] / 2])
    assert on_top == f"sida-{sida}", (page.size_name, on_top)
    first = page.locator("#sida-1").bounding_box()
    assert first["y"] + first["height"] < 0, "the page scrolled past the beginning of the report"
    assert not refused, refused


def test_a_look_alike_of_a_real_word_is_shown_as_not_counted(sized, server):
    """Issue 13, session 14: "krig" is a Swedish word the reports lack. The page says so, shows
    that its look-alike "kring" only orders the passages, and counts the passages with the
    question's own words (47, as for "socialtjänsten"; before: 5, those with "kring")."""
    page = sized
    page.goto(server + "/sok?q=socialtj%C3%A4nsten+och+krig")
    page.screenshot(path=str(ARTIFACTS / f"liknande-ord-{page.size_name}.png"), full_page=True)
    width = page.viewport_size["width"]
    added = page.locator("p.added")
    assert added.is_visible() and "krig → kring (liknande ord: påverkar ordningen, räknas inte)" in " ".join(added.inner_text().split())
    absent = page.locator("p", has_text="Rapporterna innehåller inte")
    assert absent.is_visible() and "krig" in absent.inner_text()
    summary = page.locator("p", has_text="textavsnitt innehåller orden").first
    assert summary.locator("strong").first.inner_text() == "47"
    assert "påverkar ordningen, räknas inte)." in added.inner_text()     # no stray space before the full stop
    for el in (added, absent):
        box = el.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1 and box["height"] >= 16
    assert not _overlaps(added.bounding_box(), absent.bounding_box())
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.goto(server + "/sok?q=sjukfr%C3%A5nvarro")                       # a misspelling: still corrected
    assert page.locator("p.added").inner_text().startswith("Sökte också på: sjukfrånvarro som sjukfrånvaro. ")
