"""Load check: concurrent clients with a realistic mix of requests, on 127.0.0.1.

Starts the site on a free local port (or uses --url), then each client loops over a mix
like real traffic (issue 16): 65 % /sok.json (half evaluation queries, half never-seen
queries made of random Swedish words, so no cache helps), 10 % /sok (the HTML page),
12 % report pages opened at a hit (/rapport/<id>?passage=N&q=…), 5 % batch posts (10
queries), 8 % other pages (start, om, rapporter, ämnen, a topic, a table).
Runs once per client count (default 20 and 50), bounded in time and count, and prints
requests, errors and latency p50/p95/max overall and per kind, and the server's memory
(RSS) sampled every 5 s – start, peak and end, to see whether it is flat.

The machine the README figures come from is shared with other work: compare runs made
one after the other, not with figures from another day.

Run: .venv/bin/python benchmarks/load_check.py [--clients 20,50] [--seconds 30] [--db build/rapportsok.db]
"""

from __future__ import annotations

import argparse
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapportsok import paths  # noqa: E402
from rapportsok.cli import datasette_command  # noqa: E402
from rapportsok.evaluation import load_queries  # noqa: E402

MAX_REQUESTS_PER_CLIENT = 5000
MIX = [("sok.json", 65), ("sok", 10), ("rapport", 12), ("batch", 5), ("annat", 8)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(datasette_command(db) + ["--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/sok.json?q=familjehem", timeout=5)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Workload:
    """What the clients ask for: queries, report passages, topics and tables from the database."""

    def __init__(self, db: Path):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        self.queries = [q["q"] for q in load_queries()]
        self.passages = conn.execute("select report_id, ordinal from chunks").fetchall()
        self.tables = [r[0] for r in conn.execute("select id from tables")]
        self.topics = [r[0] for r in conn.execute("select id from topics")] if _has(conn, "topics") else []
        words = [r[0] for r in conn.execute("select text from chunks order by id limit 400")]
        self.words = sorted({w.strip(".,:;()\"").lower() for t in words for w in t.split() if len(w) > 4 and w.isalpha()})
        conn.close()

    def new_query(self, rng: random.Random) -> str:
        """A query no cache has seen: two or three random words from the corpus, one misspelt."""
        words = rng.sample(self.words, rng.choice([2, 3]))
        w = words[0]
        i = rng.randrange(len(w))
        words[0] = w[:i] + rng.choice("aeiouåäö") + w[i + 1:]
        return " ".join(words)

    def request(self, url: str, rng: random.Random) -> tuple[str, urllib.request.Request]:
        kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        q = rng.choice(self.queries) if rng.random() < 0.5 else self.new_query(rng)
        if kind in ("sok.json", "sok"):
            params = {"q": q, "mode": rng.choice(["hybrid", "hybrid", "keyword", "semantic"])}
            if rng.random() < 0.3:
                params["kommun"] = rng.choice(["Kalmar", "Nacka", "Helsingborg", "Katrineholm"])
            path = "/sok.json" if kind == "sok.json" else "/sok"
            return kind, urllib.request.Request(f"{url}{path}?{urllib.parse.urlencode(params)}")
        if kind == "rapport":
            rid, n = rng.choice(self.passages)
            return kind, urllib.request.Request(f"{url}/rapport/{rid}?{urllib.parse.urlencode({'passage': n, 'q': q})}")
        if kind == "batch":
            lines = "\n".join(rng.choice(self.queries) if rng.random() < 0.5 else self.new_query(rng) for _ in range(10))
            body = urllib.parse.urlencode({"fragor": lines, "n": 5, "mode": "hybrid"}).encode()
            return kind, urllib.request.Request(f"{url}/batch", data=body, method="POST",
                                                headers={"content-type": "application/x-www-form-urlencoded"})
        pages = ["/", "/om", "/rapporter", "/amnen"] + [f"/amne/{rng.choice(self.topics)}"] * bool(self.topics) \
            + [f"/tabell/{rng.choice(self.tables)}"] * bool(self.tables)
        return kind, urllib.request.Request(url + rng.choice(pages))


def _has(conn, table: str) -> bool:
    return conn.execute("select 1 from sqlite_master where name = ?", [table]).fetchone() is not None


def client(url: str, work: Workload, deadline: float, results: list, errors: list[str], seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= deadline:
            return
        kind, req = work.request(url, rng)
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
                if r.status != 200:
                    errors.append(f"{r.status} {req.full_url}")
        except Exception as exc:  # noqa: BLE001 - every failure counts as an error
            errors.append(f"{exc} {kind} {req.full_url[:200]}")
        results.append((kind, (time.perf_counter() - t) * 1000))


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def run(url: str, work: Workload, clients: int, seconds: float, pid: int | None) -> None:
    results: list = []
    errors: list[str] = []
    memory: list[float] = []
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(url, work, deadline, results, errors, clients * 1000 + i))
               for i in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if pid:
            memory.append(rss_mb(pid))
        for t in threads:
            t.join(timeout=5 / len(threads))
    latencies = sorted(ms for _, ms in results)
    print(f"{clients} klienter i {seconds:.0f} s: {len(latencies)} förfrågningar ({len(latencies) / seconds:.1f}/s), "
          f"{len(errors)} fel, p50 {pct(latencies, 0.5):.0f} ms, p95 {pct(latencies, 0.95):.0f} ms, "
          f"max {latencies[-1] if latencies else float('nan'):.0f} ms")
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, ms in results:
        by_kind[kind].append(ms)
    for kind, _ in MIX:
        v = sorted(by_kind.get(kind, []))
        print(f"  {kind:9} {len(v):5} st  p50 {pct(v, 0.5):6.0f} ms  p95 {pct(v, 0.95):6.0f} ms")
    if memory:
        print(f"  minne (RSS): start {memory[0]:.0f} MB, topp {max(memory):.0f} MB, slut {memory[-1]:.0f} MB")
    for e in errors[:5]:
        print("  fel:", e)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="20,50", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--db", type=Path, default=None, help="database (default: build/rapportsok.db)")
    parser.add_argument("--url", help="an already running site (default: start one)")
    args = parser.parse_args()
    db = args.db or paths.database_path()
    proc = None
    url = args.url
    if not url:
        proc, url = start_server(db)
    try:
        work = Workload(db)
        for n in (int(c) for c in args.clients.split(",")):
            run(url, work, n, args.seconds, proc.pid if proc else None)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
