"""Real-browser tests: headless Chromium (Debian's package) driven by Playwright.

Skipped, with a message saying how to install it, where no Chromium is installed.
Screenshots of every step are written to test-artifacts/ (not committed).
"""

import shutil
import socket
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


@pytest.fixture(scope="module")
def server(built_db):
    port = _free_port()
    proc = subprocess.Popen(datasette_command(built_db) + ["--host", "127.0.0.1", "--port", str(port)],
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
