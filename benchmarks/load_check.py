"""Load check: 20 concurrent clients search the site for 30 seconds on 127.0.0.1.

Starts the site on a free local port (or uses --url), then each client repeatedly
requests /sok.json with queries from the evaluation set (mixed modes and filters, ten hits
per page as on the search page).
The loop is bounded in time and count and stops by itself. Prints requests, errors and
latency p50/p95.

Run: .venv/bin/python benchmarks/load_check.py [--clients 20] [--seconds 30]
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapportsok import paths  # noqa: E402
from rapportsok.cli import datasette_command  # noqa: E402
from rapportsok.evaluation import load_queries  # noqa: E402

MAX_REQUESTS_PER_CLIENT = 5000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(datasette_command(paths.database_path()) + ["--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/sok.json?q=familjehem", timeout=5)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start")


def client(url: str, queries: list[str], deadline: float, latencies: list[float], errors: list[str], seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= deadline:
            return
        params = {"q": rng.choice(queries), "mode": rng.choice(["hybrid", "hybrid", "keyword", "semantic"]), "limit": 10}
        if rng.random() < 0.3:
            params["kommun"] = rng.choice(["Kalmar", "Nacka", "Helsingborg", "Katrineholm"])
        target = f"{url}/sok.json?{urllib.parse.urlencode(params)}"
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(target, timeout=10) as r:
                r.read()
                if r.status != 200:
                    errors.append(f"{r.status} {target}")
        except Exception as exc:  # noqa: BLE001 - every failure counts as an error
            errors.append(f"{exc} {target}")
        latencies.append((time.perf_counter() - t) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--url", help="an already running site (default: start one)")
    args = parser.parse_args()
    proc = None
    url = args.url
    if not url:
        proc, url = start_server()
    try:
        queries = [q["q"] for q in load_queries()]
        latencies: list[float] = []
        errors: list[str] = []
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=client, args=(url, queries, deadline, latencies, errors, i))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        latencies.sort()
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
        print(f"{args.clients} klienter i {args.seconds:.0f} s: {len(latencies)} förfrågningar "
              f"({len(latencies) / args.seconds:.1f}/s), {len(errors)} fel, p50 {p(0.50):.0f} ms, p95 {p(0.95):.0f} ms, "
              f"max {latencies[-1] if latencies else float('nan'):.0f} ms")
        for e in errors[:5]:
            print("  fel:", e)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
