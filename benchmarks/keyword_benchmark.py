"""Cost of the keyword-side steps of issue 13 per query: keyword ranking, "some of the words"
ranking and the proximity re-ranking (``search/signals/proximity.py``), p50/p95 in ms.

The proximity step reads the index terms of at most ``CANDIDATES`` keyword and any-word
candidates per query, so its cost does not grow with the corpus; run it on a synthetic database
(``benchmarks/search_benchmark.py`` writes them to ``build/bench/``) to check.

Run: .venv/bin/python benchmarks/keyword_benchmark.py [--db build/rapportsok.db build/bench/synthetic-100000.db]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from rapportsok.errors import SearchError
    from rapportsok.evaluation import load_queries
    from rapportsok.query import SearchRequest
    from rapportsok.search import SearchIndex

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, nargs="*", default=[ROOT / "build" / "rapportsok.db"])
    args = parser.parse_args()
    queries = [q["q"] for q in load_queries()]
    print("| passages | queries | keyword ms p50 / p95 | some words ms p50 / p95 | proximity ms p50 / p95 |")
    print("|---:|---:|---:|---:|---:|")
    for db in args.db:
        index = SearchIndex(db, load_vectors=False)
        parts: dict[str, list[float]] = {"keyword": [], "any_word": [], "proximity": []}
        stopped = 0
        for q in queries:
            req = SearchRequest(q=q, mode="hybrid", limit=10)
            mask = index.mask(req)
            try:
                rankings = [index.keyword.rank(index, req, mask), index.keyword.rank_any(index, req, mask)]
            except SearchError:   # the 2 s limit of one keyword query
                stopped += 1
                continue
            t = time.perf_counter()
            index.proximity.rank(index, req, rankings)
            parts["proximity"].append((time.perf_counter() - t) * 1000)
            parts["keyword"].append(rankings[0].ms)
            parts["any_word"].append(rankings[1].ms)
        cell = {k: f"{np.percentile(v, 50):.1f} / {np.percentile(v, 95):.1f}" for k, v in parts.items()}
        print(f"| {len(index.chunk_ids):,} | {len(queries) - stopped} (+{stopped} stopped at 2 s) | {cell['keyword']} | "
              f"{cell['any_word']} | {cell['proximity']} |")


if __name__ == "__main__":
    main()
