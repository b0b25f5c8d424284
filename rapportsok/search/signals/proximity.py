"""The proximity signal (hybrid): passages where the query's words stand close together.

BM25 counts words, not where they stand; "skyddat boende för barn" is better answered by a
sentence with all three than by a passage that names each in a different paragraph. For the
best keyword candidates (all the words, then some of them) this signal reads each passage's
index terms (``chunk_terms.search_terms``: stems and compound parts, in text order) and finds
the shortest stretch that holds the most of the query's clauses. Ranked by clauses covered
within ``SPAN`` terms, then by the stretch's length; fused by RRF like any signal. It only
orders passages the keyword side found, so counts and admission are unchanged.
"""

from __future__ import annotations

import os
import time

from . import Ranking

# README (issue 13): weight in RRF; off (0) since sentence windows: no gain on dev there; RAPPORTSOK_PROXIMITY=1 turns it on
WEIGHT = float(os.environ.get("RAPPORTSOK_PROXIMITY", "0"))
SPAN = int(os.environ.get("RAPPORTSOK_PROXIMITY_SPAN", "6"))    # index terms (≈ 4–5 words with compound parts)
CANDIDATES = 100


def best_window(terms: list[str], clause_of: dict[str, tuple[int, ...]]) -> tuple[int, int]:
    """(most clauses within ``SPAN`` consecutive terms, shortest stretch holding that many);
    ``clause_of``: index term → the clauses it belongs to."""
    hits = [(i, c) for i, t in enumerate(terms) if t in clause_of for c in clause_of[t]]
    best, best_len = 0, SPAN + 1
    counts: dict[int, int] = {}
    lo = 0
    for hi, (end, clause) in enumerate(hits):
        counts[clause] = counts.get(clause, 0) + 1
        while end - hits[lo][0] >= SPAN:
            c = hits[lo][1]
            counts[c] -= 1
            if not counts[c]:
                del counts[c]
            lo += 1
        n = len(counts)
        if n < best:
            continue
        j, extra = lo, {}
        while j < hi and counts[hits[j][1]] - extra.get(hits[j][1], 0) > 1:   # drop repeats on the left
            extra[hits[j][1]] = extra.get(hits[j][1], 0) + 1
            j += 1
        length = end - hits[j][0] + 1
        if n > best or length < best_len:
            best, best_len = n, length
    return best, best_len


def index_terms(index, ids: list[int]) -> dict[int, str]:
    """The passages' index terms (stems and compound parts, in text order, space-separated)."""
    return dict(index.conn().execute(
        f"select id, search_terms from chunk_terms where id in ({','.join('?' * len(ids))})", ids).fetchall())


class ProximitySignal:
    name = "proximity"

    def rank(self, index, req, rankings: list[Ranking]) -> Ranking:
        t = time.perf_counter()
        u = index.keyword.understand(req)
        clauses = [c for c in u.clause_terms if c]
        if len(clauses) < 2 or WEIGHT <= 0:
            return Ranking(self.name, [], weight=0.0)
        order: list[int] = []
        for r in rankings:
            if r.name in ("keyword", "any_word"):
                order += [cid for cid, _ in r.items[:CANDIDATES]]
        order = list(dict.fromkeys(order))
        if not order:
            return Ranking(self.name, [], weight=0.0)
        rows = index_terms(index, order)
        clause_of: dict[str, tuple[int, ...]] = {}
        for c, terms in enumerate(clauses):
            for term in terms:
                clause_of[term] = clause_of.get(term, ()) + (c,)
        scored = []
        for pos, cid in enumerate(order):
            n, length = best_window((rows.get(cid) or "").split(), clause_of)
            if n >= 2:
                scored.append((-n, length, pos, cid))
        scored.sort()
        items = [(cid, n * -1.0 + 1.0 / (1 + length)) for n, length, _, cid in scored]
        return Ranking(self.name, items, {"clauses": len(clauses)}, weight=WEIGHT * u.coverage,
                       ms=(time.perf_counter() - t) * 1000)
