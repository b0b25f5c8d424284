"""Issue 16, load: batches wait for their turn instead of 503, caches never mix visitors or builds,
and the site runs in several processes. (Speed itself is measured by benchmarks/load_check.py and
benchmarks/route_cost.py, not here.)"""

import asyncio
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from rapportsok import web
from rapportsok.response_cache import ResponseCache, Stored
from tests.test_processes import CLI, ENV, _free_port, _port_open
from tests.test_site import get

REPORT = "nacka-2023-t2-tertialbokslut"


async def test_concurrent_batches_wait_for_their_turn_instead_of_503(ds):
    # 5 % batch posts among 20–50 clients: several batches at once are normal traffic.
    # Before: a fourth batch running or waiting got "503 försök igen".
    queries = "\n".join(f"familjehem {i}" for i in range(10))
    results = await asyncio.gather(*[ds.client.post("/batch", data={"fragor": queries, "n": "3", "mode": "keyword"})
                                     for _ in range(8)])
    assert [r.status_code for r in results] == [200] * 8, [r.text[:200] for r in results if r.status_code != 200]
    assert all("träff" in r.text for r in results)


async def test_report_highlights_do_not_leak_between_visitors(ds, index):
    # the reader page is built once per report and build; only the hit's blocks are highlighted per request
    passage = next(h["passage"] for h in index.search(web._request_from(index, {"q": "SSPF", "mode": "keyword"})).hits
                   if h["report_id"] == REPORT)
    first = (await get(ds, f"/rapport/{REPORT}?passage={passage}&q=SSPF")).text
    assert "<mark>SSPF</mark>" in first
    plain = (await get(ds, f"/rapport/{REPORT}?passage={passage}")).text
    assert "<mark>" not in plain
    other = (await get(ds, f"/rapport/{REPORT}?passage={passage}&q=polis")).text
    assert "<mark>SSPF</mark>" not in other
    again = (await get(ds, f"/rapport/{REPORT}?passage={passage}&q=SSPF")).text
    assert again == first


async def test_repeated_urls_are_answered_alike(ds):
    for path in ["/sok.json?q=familjehem&mode=hybrid", "/sok?q=familjehem", "/amne/familjehem", "/om", "/rapporter"]:
        bodies = [(await get(ds, path)).content for _ in range(3)]   # the third comes from the response cache
        assert bodies[0] == bodies[1] == bodies[2], path


def test_response_cache_keeps_urls_asked_for_twice_within_its_size():
    cache = ResponseCache(max_bytes=10_000)
    page = Stored(200, b"x" * 3000, "text/html", ())
    assert not cache.put(("/a",), page) and cache.get(("/a",)) is None   # once: not kept
    assert cache.put(("/a",), page) and cache.get(("/a",)) == page        # twice: kept
    for k in ("/b", "/c", "/d"):
        cache.put((k,), page)
        cache.put((k,), page)
    assert cache.size_bytes <= 10_000 and cache.get(("/a",)) is None       # least recently used out first
    assert not ResponseCache(max_bytes=0).put(("/a",), page)


@pytest.mark.slow
def test_serve_with_two_workers_answers_and_stops_on_sigterm(built_db):
    port = _free_port()
    proc = subprocess.Popen(CLI + ["serve", "--db", str(built_db), "--port", str(port), "--workers", "2"], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/sok.json?q=SSPF&mode=keyword", timeout=30).read()
                break
            except OSError:
                time.sleep(0.5)
        assert body and b'"ok": true' in body
        assert len(_children(proc.pid)) >= 2, "uvicorn should run two worker processes"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 15
        while _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _port_open(port)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                pass
    return out
