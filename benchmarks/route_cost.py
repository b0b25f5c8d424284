"""CPU cost per route: the load check's requests, one at a time, in one process.

Runs the site in-process (Datasette's ASGI app with the plugin, templates and metadata, as
``rapportsok serve`` does) and sends the load check's kinds of request (``load_check.Workload``,
the same mix of evaluation and never-seen queries) one after the other, N of each kind,
measuring wall-clock and CPU milliseconds (process CPU time, all threads) per request.
Unlike the load check this is robust on a busy machine: CPU time does not depend on how many
other jobs share the cores. The first ``--warm`` requests of each kind are not counted.

Run: .venv/bin/python benchmarks/route_cost.py [--n 40] [--db build/rapportsok.db]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

from datasette.app import Datasette

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from load_check import MIX, Workload  # noqa: E402
from rapportsok import paths  # noqa: E402
from rapportsok.cli import datasette_kwargs  # noqa: E402

KINDS = [k for k, _ in MIX] + ["rapport-lång", "amne"]


def datasette_for(db: Path) -> Datasette:
    return Datasette(**datasette_kwargs(db, settings={"sql_time_limit_ms": 3000}))


def request_of(work: Workload, kind: str, rng: random.Random):
    """A request of ``kind`` from the load check's generator (same distribution of queries and filters)."""
    if kind == "rapport-lång":   # the longest report, opened at a hit with a query
        rid, n = rng.choice(work.long_passages)
        return "GET", f"/rapport/{rid}?passage={n}&q={rng.choice(work.queries)}", None
    if kind == "amne":
        return "GET", f"/amne/{rng.choice(work.topics)}", None
    while True:
        k, req = work.request("http://localhost", rng)
        if k == kind:
            return req.get_method(), req.full_url.removeprefix("http://localhost"), req.data


async def measure(db: Path, n: int, warm: int, seed: int) -> dict[str, list[tuple[float, float]]]:
    ds = datasette_for(db)
    await ds.invoke_startup()
    work = Workload(db)
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        longest = conn.execute("select report_id from chunks group by report_id order by count(*) desc limit 1").fetchone()[0]
        work.long_passages = conn.execute("select report_id, ordinal from chunks where report_id = ?", [longest]).fetchall()
    rng = random.Random(seed)
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for kind in KINDS:
        for i in range(n + warm):
            method, url, data = request_of(work, kind, rng)
            w, c = time.perf_counter(), time.process_time()
            if method == "POST":
                r = await ds.client.post(url, content=data, headers={"content-type": "application/x-www-form-urlencoded"})
            else:
                r = await ds.client.get(url)
            w, c = (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000
            if r.status_code != 200:
                print(f"  {r.status_code} {url[:120]}")
            if i >= warm:
                out[kind].append((w, c))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40, help="requests per kind (default 40)")
    parser.add_argument("--warm", type=int, default=10, help="uncounted requests per kind first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-cache", action="store_true", help="without the response cache (RAPPORTSOK_RESPONSE_CACHE_MB=0): "
                        "the cost of computing every page")
    parser.add_argument("--db", type=Path, default=None, help="database (default: build/rapportsok.db)")
    args = parser.parse_args()
    if args.no_cache:
        os.environ["RAPPORTSOK_RESPONSE_CACHE_MB"] = "0"
    results = asyncio.run(measure(args.db or paths.database_path(), args.n, args.warm, args.seed))
    print(f"{'slag':13} {'st':>4} {'CPU ms medel':>13} {'median':>7} {'p95':>7} {'vägg ms medel':>14} {'vägg p95':>9}")
    for kind in KINDS:
        v = results[kind]
        cpu = sorted(c for _, c in v)
        wall = sorted(w for w, _ in v)
        p95 = lambda xs: xs[min(len(xs) - 1, int(0.95 * len(xs)))]  # noqa: E731
        print(f"{kind:13} {len(v):4} {sum(cpu) / len(cpu):13.1f} {cpu[len(cpu) // 2]:7.1f} {p95(cpu):7.1f} "
              f"{sum(wall) / len(wall):14.1f} {p95(wall):9.1f}")
    mix = sum(w * sum(c for _, c in results[k]) / len(results[k]) for k, w in MIX) / sum(w for _, w in MIX)
    print(f"blandningen (issue 16): {mix:.1f} CPU ms per förfrågan i medel → högst {2000 / mix:.0f} förfrågningar/s på 2 kärnor")


if __name__ == "__main__":
    main()
