"""How large a difference the evaluation can see: the standard error of each split's hybrid
nDCG@10 and a paired bootstrap interval for a ranking step against today's search.

Run: ``python evaluation/paired_bootstrap.py [variant …]`` (variants of
``evaluation/ranking_experiments.py``; README, "Session 14"). Each query's nDCG@10 with the
step minus without it, resampled 5 000 times with a fixed seed: the 2.5 and 97.5 percentiles.
"""

from __future__ import annotations

import argparse

import numpy as np

from rapportsok import evaluation as ev, paths
from rapportsok.search import SearchIndex

import ranking_experiments as rx


def per_query(index: SearchIndex, queries: list[dict], variant: str) -> np.ndarray:
    with rx.VARIANTS[variant](index):
        index.keyword._matches.clear()
        return np.array([r["ndcg"] for r in ev.evaluate(index, queries, modes=("hybrid",))])


def interval(diff: np.ndarray, rounds: int = 5000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (rounds, len(diff)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="*")
    args = p.parse_args()
    index = SearchIndex(paths.database_path())
    for split in ("dev", "test"):
        queries = ev.select_split(ev.load_queries(), split)
        base = per_query(index, queries, "baseline")
        se = base.std(ddof=1) / np.sqrt(len(base))
        print(f"{split}: {len(base)} queries, hybrid nDCG@10 {base.mean():.3f}, standard error {se:.3f}")
        for name in args.variants:
            d = per_query(index, queries, name) - base
            lo, hi = interval(d)
            print(f"  {name}: {d.mean():+.4f}, 95 % interval [{lo:+.4f}, {hi:+.4f}], "
                  f"{int(np.sum(np.abs(d) > 1e-9))} queries changed", flush=True)


if __name__ == "__main__":
    main()
