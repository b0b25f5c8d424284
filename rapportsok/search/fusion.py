"""Fusion: one ranking from any set of signal rankings."""

from __future__ import annotations

import os

import numpy as np

from .signals import Ranking

RRF_K = int(os.environ.get("RAPPORTSOK_RRF_K", "60"))


def rrf(rankings: list[Ranking], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion, each ranking weighted by its ``weight``."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (cid, _) in enumerate(ranking.items, 1):
            scores[cid] = scores.get(cid, 0.0) + ranking.weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def convex(rankings: list[Ranking], alphas: list[float]) -> list[tuple[int, float]]:
    """Weighted sum of min–max normalised scores (compared with RRF in the evaluation)."""
    def norm(items):
        if not items:
            return {}
        vals = np.array([s for _, s in items])
        lo, hi = vals.min(), vals.max()
        return {cid: (s - lo) / (hi - lo) if hi > lo else 1.0 for cid, s in items}
    normed = [norm(r.items) for r in rankings]
    ids = set().union(*normed) if normed else set()
    scores = {cid: sum(a * n.get(cid, 0.0) for a, n in zip(alphas, normed)) for cid in ids}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def fuse(rankings: list[Ranking], method: str = "rrf", alpha: float = 0.5) -> list[tuple[int, float]]:
    if len(rankings) == 1:
        return list(rankings[0].items)
    if method == "convex":
        # alpha is the share of the last (semantic) signal, raised when the words are poorly known
        kw = next((r for r in rankings if r.name == "keyword"), None)
        coverage = kw.evidence.get("coverage", 1.0) if kw else 1.0
        a = min(1.0, alpha * (2 - coverage))
        return convex(rankings, [1 - a if r.name == "keyword" else a for r in rankings])
    return rrf(rankings)
