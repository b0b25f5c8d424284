"""The keyword side at k× the synthetic 1M database, by replicating its stored lists.

The keyword side reads BM25 stored per common phrase (rapportsok/search/leaves.py) and combines
the lists in NumPy, so its cost grows with the length of the lists a query reads and with the
number of passages (the dense arrays it combines them in). A 6M-passage database takes hours to
build here; this measures the same work on lists six times as long instead: every stored list a
query reads is read ``k`` times from the 1M database (as long a read) and laid out as ``k`` copies
of the corpus (ids + i·n), then evaluated exactly as a search does (sum in FTS5's order,
AND/OR/NOT, the best 3 000). Phrases not stored are asked of FTS5 once, as a search does (a
phrase in fewer than 1 000 passages stays that rare only if the corpus does not grow, so at 6M
more phrases are stored and fewer asked: this overstates the asked part, if anything).

Prints per k: p50/p95 of the keyword ranking (all words) and of "some of the words" for the 46
evaluation queries of search_benchmark.py, unfiltered, after one uncounted pass (the page cache
warm, as on a serving machine), and the most (phrase, passage) pairs one query read.

Run: .venv/bin/python benchmarks/keyword_scale.py [--db build/bench/synthetic-1000000.db] [--k 1 6]
(the database comes from search_benchmark.py, which adds the stored phrases to it)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapportsok.evaluation import load_queries  # noqa: E402
from rapportsok.query import parse_request  # noqa: E402
from rapportsok.search import SearchIndex, leaves  # noqa: E402
from rapportsok.search.signals.keyword import WINDOW, _best, cap_any_expression  # noqa: E402


def evaluate(index, expression: str, k: int) -> tuple[float, int]:
    """Milliseconds to evaluate ``expression`` over ``k`` copies of the stored lists, and the
    number of (phrase, passage) pairs read."""
    t = time.perf_counter()
    tree = leaves.parse(expression)
    phrases = leaves.leaves_of(tree)
    signal = index.keyword
    stored = {}
    for _ in range(k):                      # k reads of each list: as much I/O as one k× as long
        stored = signal.leaves._read(phrases)
    n1 = len(index.chunk_ids)
    n = k * n1
    hits, pairs = {}, 0
    acc = np.zeros(n, dtype=np.float64)
    for phrase in phrases:
        if phrase not in hits:
            if phrase in stored:
                pos, scores = stored[phrase]
            else:
                pos, scores = signal.leaves._ask(phrase, None, lambda sql, args: signal._run(sql, args, 2.0))
            pos = (np.asarray(pos, dtype=np.int64)[None, :] + (np.arange(k, dtype=np.int64) * n1)[:, None]).ravel()
            hits[phrase] = (pos, np.tile(np.asarray(scores), k))
        pos, scores = hits[phrase]
        acc[pos] += scores
        pairs += len(pos)
    matched = leaves._matches(tree, {p: h[0] for p, h in hits.items()}, n)
    positions = np.flatnonzero(matched)
    ids = np.arange(n, dtype=np.int64)      # ids in index order, as the build numbers them
    _best(positions, acc[positions], ids, WINDOW)
    return (time.perf_counter() - t) * 1000, pairs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=ROOT / "build" / "bench" / "synthetic-1000000.db")
    parser.add_argument("--k", type=int, nargs="*", default=[1, 6])
    parser.add_argument("--queries", type=int, default=46)
    args = parser.parse_args()
    index = SearchIndex(args.db, load_vectors=False)
    if not index.keyword.leaves.count:
        sys.exit(f"{args.db}: no stored phrases (run benchmarks/search_benchmark.py first)")
    queries = [q["q"] for q in load_queries()][:args.queries]
    print(f"{args.db.name}: {len(index.chunk_ids):,} passages, {index.keyword.leaves.count:,} stored phrases\n")
    for q in queries:                       # warm-up, not counted: the lists' pages into the page cache
        u = index.keyword.understand(parse_request({"q": q}))
        for expression in (u.expression, cap_any_expression(u.any_expression, index.keyword.vocab.vocab)):
            if expression:
                evaluate(index, expression, 1)
    print("| passages (k × 1M) | keyword (all words) p50 / p95 ms | some of the words p50 / p95 ms | most pairs read by one query |")
    print("|---:|---:|---:|---:|")
    for k in args.k:
        parts: dict[str, list[float]] = {"all": [], "any": []}
        most = 0
        for q in queries:
            u = index.keyword.understand(parse_request({"q": q}))
            for name, expression in (("all", u.expression),
                                     ("any", cap_any_expression(u.any_expression, index.keyword.vocab.vocab))):
                if not expression:
                    continue
                ms, pairs = evaluate(index, expression, k)
                parts[name].append(ms)
                most = max(most, pairs)
        cell = lambda xs: f"{np.percentile(xs, 50):.1f} / {np.percentile(xs, 95):.1f}" if xs else "–"
        print(f"| {k * len(index.chunk_ids):,} | {cell(parts['all'])} | {cell(parts['any'])} | {most:,} |", flush=True)


if __name__ == "__main__":
    main()
