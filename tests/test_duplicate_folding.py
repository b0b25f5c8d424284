"""Near-duplicate folding (``SearchIndex.collapse``) against its definition, pair by pair.

The folding counts shared shingles for all pairs at once and joins exact copies before the
pairing (so k copies of a boilerplate passage do not give k² pairs); here every pair is
checked directly: two passages are near-duplicates when they share at least
DUPLICATE_CONTAINMENT of the smaller one's shingles, the relation is closed transitively, and the
best-ranked passage of a group represents it.
"""

import numpy as np

from rapportsok.query import parse_request
from rapportsok.search.engine import DUPLICATE_CONTAINMENT


def brute_force(index, ranked):
    sh = index.shingles([cid for cid, _ in ranked])
    arrays = [sh.get(cid, np.zeros(0, dtype=np.int64)) for cid, _ in ranked]
    n = len(ranked)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            a, b = arrays[i], arrays[j]
            if not len(a) or not len(b):
                continue
            shared = len(np.intersect1d(a, b))
            if shared / min(len(a), len(b)) >= DUPLICATE_CONTAINMENT:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    groups = {}
    for i, (cid, _) in enumerate(ranked):
        groups.setdefault(find(i), []).append(cid)
    return [(ranked[r][0], members[1:]) for r, members in sorted(groups.items())]


def test_folding_matches_the_pairwise_definition_on_corpus_rankings(index):
    folded_somewhere = 0
    for q in ("samverkan för trygga uppväxtvillkor", "placering", "ekonomiskt bistånd", "familjehem",
              "kostnader", "socialnämnden"):
        hits = index.search(parse_request({"q": q, "mode": "keyword", "limit": 100, "collapse": "0"})).hits
        ranked = [(h["chunk_id"], float(len(hits) - k)) for k, h in enumerate(hits)]
        # every passage twice more, as exact copies further down the list (boilerplate repeated in
        # monthly reports): they must join the first copy's group
        ranked = ranked + ranked + ranked
        got = [(cid, also) for cid, _, also in index.collapse(ranked)]
        want = brute_force(index, ranked)
        assert got == want, q
        folded_somewhere += sum(len(also) for _, also in got)
    assert folded_somewhere > 0
