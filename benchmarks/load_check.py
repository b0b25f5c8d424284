"""Load check: concurrent clients with a realistic mix of requests, on 127.0.0.1.

Starts the site on a free local port (``rapportsok serve``, with ``--workers`` processes; or
uses --url), then each client loops over a mix like real traffic (issue 16): 65 % /sok.json
(half evaluation queries, half never-seen queries made of random Swedish words, so no cache
helps), 10 % /sok (the HTML page), 12 % report pages opened at a hit
(/rapport/<id>?passage=N&q=…), 5 % batch posts (10 queries), 8 % other pages (start, om,
rapporter, ämnen, a topic, a table). Clients send their next request as soon as the last one
is answered (no think time), so 20 clients are a heavy load, not 20 visitors.

Runs once per client count, bounded in time and count, and prints requests and throughput,
latency p50/p95/max overall and per kind, errors by HTTP status (a 503 is an error), and the
server's memory (RSS, all its processes) sampled every 5 s – start, peak, end and the series,
to see whether it is flat.

Targets (issue 16): 20 clients p95 < 300 ms, 50 clients p95 < 1 s, 0 errors, flat memory
over 5 minutes. The runs:

  # 20 and then 50 clients, 30 s each (the default)
  python benchmarks/load_check.py
  # one count, with two server processes
  python benchmarks/load_check.py --clients 20 --workers 2
  # steady state: 10 s of the same mix first (not counted), then 20 and 50 clients
  python benchmarks/load_check.py --workers 2 --warmup 10
  # memory over 5 minutes: 50 clients for 300 s, RSS printed every 30 s
  python benchmarks/load_check.py --clients 50 --seconds 300 --rss-every 30

The machine the README figures come from is shared with other work: compare runs made one
after the other, and note the load average printed at the start and end of each run.
benchmarks/route_cost.py measures CPU milliseconds per request instead, which a busy machine
disturbs much less.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapportsok import paths  # noqa: E402
from rapportsok.evaluation import load_queries  # noqa: E402

MAX_REQUESTS_PER_CLIENT = 5000
MIX = [("sok.json", 65), ("sok", 10), ("rapport", 12), ("batch", 5), ("annat", 8)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """``rapportsok serve`` on a free port (it execs the server: the PID is the server's)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen([sys.executable, "-c", "from rapportsok.cli import main; main()", "serve", "--db", str(db),
                             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            # every worker process loads its index and model at start; ask until all answered fast
            times = []
            for _ in range(4 * workers):
                t = time.perf_counter()
                urllib.request.urlopen(url + "/sok.json?q=familjehem", timeout=30).read()
                times.append(time.perf_counter() - t)
            if max(times) < 1.0:
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start")


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of the server: the process and its children (the worker processes)."""
    total = 0.0
    for p in [pid] + _children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total or float("nan")


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


def client(url: str, work: Workload, deadline: float, results: list, errors: list[tuple[str, str]], seed: int) -> None:
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
                    errors.append((str(r.status), f"{kind} {req.full_url[:160]}"))
        except urllib.error.HTTPError as exc:
            body = exc.read(2000).decode("utf-8", "replace")
            message = re.search(r'role="alert">(.*?)<|"error": "([^"]*)"', body, re.S)
            said = " ".join(g for g in message.groups() if g).strip()[:160] if message else body[:160]
            errors.append((str(exc.code), f"{kind} {req.full_url[:120]} – {said}"))
        except Exception as exc:  # noqa: BLE001 - every failure counts as an error
            errors.append((type(exc).__name__, f"{exc} {kind} {req.full_url[:160]}"))
        results.append((kind, (time.perf_counter() - t) * 1000))


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server's processes have used so far."""
    total = 0
    for p in [pid] + _children(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run(url: str, work: Workload, clients: int, seconds: float, pid: int | None, rss_every: float = 5,
        quiet: bool = False) -> None:
    results: list = []
    errors: list[tuple[str, str]] = []
    memory: list[tuple[float, float]] = []
    load_before = load_average()
    cpu_before = cpu_seconds(pid) if pid else None
    client_cpu = time.process_time()
    start = time.monotonic()
    deadline = start + seconds
    threads = [threading.Thread(target=client, args=(url, work, deadline, results, errors, clients * 1000 + i))
               for i in range(clients)]
    for t in threads:
        t.start()
    next_sample = start
    while any(t.is_alive() for t in threads):
        if pid and time.monotonic() >= next_sample:
            memory.append((time.monotonic() - start, rss_mb(pid)))
            next_sample += rss_every
        for t in threads:
            t.join(timeout=1 / len(threads))
    if pid:
        memory.append((time.monotonic() - start, rss_mb(pid)))
    latencies = sorted(ms for _, ms in results)
    if quiet:
        print(f"(uppvärmning: {clients} klienter i {seconds:.0f} s, {len(latencies)} förfrågningar, {len(errors)} fel – räknas inte)")
        return
    print(f"{clients} klienter i {seconds:.0f} s: {len(latencies)} förfrågningar ({len(latencies) / seconds:.1f}/s), "
          f"{len(errors)} fel, p50 {pct(latencies, 0.5):.0f} ms, p95 {pct(latencies, 0.95):.0f} ms, "
          f"max {latencies[-1] if latencies else float('nan'):.0f} ms  (belastning före {load_before}, efter {load_average()})")
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, ms in results:
        by_kind[kind].append(ms)
    for kind, _ in MIX:
        v = sorted(by_kind.get(kind, []))
        print(f"  {kind:9} {len(v):5} st  p50 {pct(v, 0.5):6.0f} ms  p95 {pct(v, 0.95):6.0f} ms  max {v[-1] if v else float('nan'):6.0f} ms")
    if errors:
        by_status: dict[str, int] = defaultdict(int)
        for status, _ in errors:
            by_status[status] += 1
        print("  fel per status: " + ", ".join(f"{k}: {v}" for k, v in sorted(by_status.items())))
    if pid and latencies:
        cpu = cpu_seconds(pid) - cpu_before
        cores = os.cpu_count() or 1
        print(f"  serverns CPU: {cpu:.1f} s, {cpu * 1000 / len(latencies):.1f} ms per förfrågan "
              f"(på {cores} kärnor räcker det till högst {cores * 1000 * len(latencies) / (cpu * 1000):.0f} förfrågningar/s)")
    if latencies:
        # the clients run on the same cores as the server: what they take is not the server's
        print(f"  klienternas CPU (den här processen): {(time.process_time() - client_cpu) * 1000 / len(latencies):.1f} ms per förfrågan")
    if memory:
        rss = [m for _, m in memory]
        print(f"  minne (RSS): start {rss[0]:.0f} MB, topp {max(rss):.0f} MB, slut {rss[-1]:.0f} MB")
        print("  RSS över tiden: " + ", ".join(f"{t:.0f} s {m:.0f} MB" for t, m in memory))
    for _, e in errors[:5]:
        print("  fel:", e)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="20,50", help="client counts, comma-separated, run one after the other (default 20,50)")
    parser.add_argument("--seconds", type=float, default=30, help="length of each run (default 30; 300 for the memory check)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (rapportsok serve --workers; default 1)")
    parser.add_argument("--warmup", type=float, default=0, help="seconds of the same mix before the measured runs, not counted "
                        "(default 0: the server starts with empty caches, as in the README's figures)")
    parser.add_argument("--rss-every", type=float, default=5, help="seconds between memory samples (default 5)")
    parser.add_argument("--db", type=Path, default=None, help="database (default: build/rapportsok.db)")
    parser.add_argument("--url", help="an already running site (default: start one); no memory figures then")
    args = parser.parse_args()
    db = args.db or paths.database_path()
    proc = None
    url = args.url
    if not url:
        proc, url = start_server(db, args.workers)
    try:
        work = Workload(db)
        counts = [int(c) for c in args.clients.split(",")]
        if args.warmup > 0:
            run(url, work, counts[0], args.warmup, proc.pid if proc else None, args.rss_every, quiet=True)
        for n in counts:
            run(url, work, n, args.seconds, proc.pid if proc else None, args.rss_every)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
