"""The one search implementation behind the CLI, the JSON/CSV API and the web page.

A query flows: :mod:`~rapportsok.query` validates the request → :mod:`.syntax` parses the
words → each signal of the mode ranks passages within the filter mask of the corpus index
(:mod:`.index`; :mod:`.signals.keyword`, :mod:`.signals.semantic`) → :mod:`.fusion` combines
the rankings → near-duplicates are folded → :mod:`.hits` turns the page into typed hits with
every signal's score and rank, highlights (:mod:`.highlight`) and URLs (:mod:`.urls`).
:mod:`.counting` counts the same word matches per kommun × år.

Modes: *keyword* (Exakta ord) = the keyword signal alone, nothing added; *semantic*
(Betydelse) = the semantic signal alone, above its calibrated similarity; *hybrid* (Ord och
betydelse, default) = reciprocal rank fusion (k = 60) of both, the keyword side weighted by
the share of query words the index knows.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import swedish
from ..embeddings import Embedder
from ..query import SearchRequest
from . import counting, query_kind
from . import fusion as fusion_mod
from .highlight import Marks
from .hits import hydrate
from .index import CorpusIndex, connect_readonly  # noqa: F401  (re-exported)
from .signals import Ranking
from .signals.keyword import KeywordSignal, Understood
from .signals import proximity, table_rows
from .signals.table_rows import TableRowSignal
from .signals.proximity import ProximitySignal
from .signals import semantic as semantic_mod
from .signals.semantic import SemanticSignal

# Calibrated on the evaluation set (README, "Honest nothing relevant"): a meaning-only hit
# must be at least this similar to the query. Similarities depend on the model, so the
# threshold is per model; for another model run ``python -m rapportsok.evaluation --calibrate``
# and set RAPPORTSOK_SIMILARITY_MIN (without it, that model's meaning-only hits are not cut).
SIMILARITY_MIN = {"intfloat/multilingual-e5-small": 0.86}


def vouch_by_words(sem) -> None:
    """The question's words occur in the reports: admit its meaning-only hits relative to its best
    passage even when that stays below the threshold (absent topics have no such words)."""
    ev = sem.evidence
    threshold, best = ev.get("threshold"), ev.get("best")
    if threshold is None or best is None or best >= threshold or semantic_mod.RELATIVE_MARGIN <= 0:
        return
    floor = best - semantic_mod.RELATIVE_MARGIN
    ev["floor"], ev["vouched_by_words"] = floor, True
    own = ev.get("own_items", sem.items)   # the query vector's own ranking (also under the symmetric order)
    ev["admitted"] = {cid for cid, s in own if s >= floor}
    present = {cid for cid, _ in sem.items}
    sem.items = sem.items + [(cid, s) for cid, s in own if cid in ev["admitted"] and cid not in present]


def similarity_min(contract) -> float | None:
    env = os.environ.get("RAPPORTSOK_SIMILARITY_MIN")
    if env:
        return float(env)
    return SIMILARITY_MIN.get(contract.model_id) if contract is not None else None
# hybrid: passages with some of the query's words are ranked (RRF) and admitted when the semantic
# signal also ranks them among its best – measured on the dev split (README); RAPPORTSOK_ANY_WORD=0 turns it off
ANY_WORD = os.environ.get("RAPPORTSOK_ANY_WORD", "1") != "0"
# hybrid: at most this many passages of one report among the first DIVERSITY_WINDOW before the
# next report's (0 = off; README, issue 13)
PER_REPORT = int(os.environ.get("RAPPORTSOK_PER_REPORT", "0"))
# The similarity threshold decides whether the reports speak of what the question asks about; a
# question whose own words occur in the reports ("CRA", "institutionsplacering") passes that test
# by them, and its meaning-only hits are admitted as when its best passage reaches the threshold:
# within RELATIVE_MARGIN of the best (README, issue 13, session 14). "semantic": in that mode only.
WORDS_VOUCH = os.environ.get("RAPPORTSOK_WORDS_VOUCH", "all")
DIVERSITY_WINDOW = int(os.environ.get("RAPPORTSOK_DIVERSITY_WINDOW", "20"))


def _kind_weights(spec: str) -> dict[str, dict[str, float]]:
    """``"number:keyword=1.5,semantic=0.5;sentence:any_word=2"`` → {kind: {ranking: factor}}."""
    out: dict[str, dict[str, float]] = {}
    for part in filter(None, spec.split(";")):
        kind, _, rest = part.partition(":")
        out[kind.strip()] = {k.strip(): float(v) for k, v in (x.split("=") for x in rest.split(",") if x)}
    return out


# hybrid: fusion weight factors per query kind (search/query_kind.py); README, issue 13
KIND_WEIGHTS = _kind_weights(os.environ.get("RAPPORTSOK_KIND_WEIGHTS", ""))
SIGNALS_FOR_MODE = {"keyword": ("keyword",), "semantic": ("semantic",), "hybrid": ("keyword", "semantic")}
DUPLICATE_CONTAINMENT = 0.6
COLLAPSE_WINDOW = 300   # near-duplicates are folded among this many best hits – the same for every page


@dataclass
class SearchResponse:
    request: SearchRequest
    hits: list
    total: int                     # passages in the result: word matches + meaning-only hits (stable across pages)
    timings: dict = field(default_factory=dict)
    corrections: dict = field(default_factory=dict)
    interpreted: dict = field(default_factory=dict)
    total_words: int = 0           # passages (within the filters) that contain the words
    total_similar: int = 0         # meaning-only passages above the similarity threshold
    shown: int = 0                 # entries in the list once near-duplicates are folded (paging)
    understood: Understood | None = None
    best_similarity: float | None = None
    threshold: float | None = None
    folded: int = 0                # passages shown inside another hit's "also_in"

    @property
    def nothing_relevant(self) -> bool:
        return self.total == 0


class SearchIndex(CorpusIndex):
    """The corpus index plus its signals: ``search`` and ``matrix`` are all callers need."""

    def __init__(self, db_path: Path, embedder: Embedder | None = None, load_vectors: bool = True,
                 vector_dtype: str = "auto", similarity: float | None = None, ann: bool = True):
        super().__init__(db_path, embedder=embedder, load_vectors=load_vectors, vector_dtype=vector_dtype, ann=ann)
        self.keyword = KeywordSignal(self)
        self.semantic = SemanticSignal(similarity if similarity is not None else similarity_min(self.contract))
        self.proximity = ProximitySignal()
        self.table_rows = TableRowSignal()
        self.signals = {"keyword": self.keyword, "semantic": self.semantic}
        self._shingle_cache: OrderedDict = OrderedDict()

    # -- what a query means -------------------------------------------------------------------
    def understand(self, q: str, mode: str = "hybrid", expand: bool = True) -> Understood:
        return self.keyword.understand(SearchRequest(q=q, mode=mode, expand=expand))

    def marks(self, q: str, mode: str = "hybrid", expand: bool = True) -> Marks:
        """What to highlight for a query: exactly what the keyword side looks for."""
        return self.understand(q, mode, expand).marks if q else Marks()

    query_stems = marks

    # -- the search -----------------------------------------------------------------------------
    def rankings(self, req: SearchRequest, mask: np.ndarray, semantic_weight: float | None = None) -> list[Ranking]:
        out = []
        for name in SIGNALS_FOR_MODE[req.mode]:
            r = self.signals[name].rank(self, req, mask)
            if name == "semantic" and semantic_weight is not None:
                r.weight = semantic_weight
            out.append(r)
        if req.mode == "hybrid" and ANY_WORD:
            out.append(self.keyword.rank_any(self, req, mask))
        if req.mode == "hybrid" and table_rows.WEIGHT > 0 and (not table_rows.ONLY_NUMBERS or self.query_kind(req.q) == "number"):
            out.append(self.table_rows.rank(self, req, mask))
        if req.mode == "hybrid" and proximity.WEIGHT > 0:
            out.append(self.proximity.rank(self, req, out))
        if req.mode == "hybrid" and KIND_WEIGHTS:
            factors = KIND_WEIGHTS.get(self.query_kind(req.q), {})
            for r in out:
                r.weight *= factors.get(r.name, 1.0)
        return out

    def query_kind(self, q: str) -> str:
        return query_kind.kind(q, lambda w: swedish.stem(w) in self.keyword.vocab)

    def search(self, req: SearchRequest, fusion_method: str = "rrf", alpha: float = 0.5,
               semantic_weight: float | None = None, fusion: str | None = None, highlights: bool = True) -> SearchResponse:
        t0 = time.perf_counter()
        method = fusion or fusion_method
        mask = self.mask(req)
        timings: dict[str, float] = {}
        understood = self.keyword.understand(req) if req.q else None
        if req.q:
            rankings = self.rankings(req, mask, semantic_weight)
        else:  # a topic without words: its tagged passages, best tagged first
            rankings = [self._topic_ranking(req, mask)]
        for r in rankings:
            key = {"keyword": "keyword_ms", "semantic": "vector_search_ms"}.get(r.name, f"{r.name}_ms")
            timings[key] = r.ms
            if "embed_ms" in r.evidence:
                timings["query_embedding_ms"] = r.evidence["embed_ms"]
        word_pos = counting.matching_positions(self, req)
        sem = next((r for r in rankings if r.name == "semantic"), None)
        if sem is not None and WORDS_VOUCH in ("all", req.mode) and len(word_pos) and understood is not None \
                and understood.coverage >= 1.0 and not understood.unknown:
            vouch_by_words(sem)
        t = time.perf_counter()
        ranked = fusion_mod.fuse(rankings, method, alpha)
        timings["fusion_ms"] = (time.perf_counter() - t) * 1000
        # what the result contains: word matches (counted once) + meaning-only hits above the threshold
        in_words = np.zeros(len(self.chunk_ids), dtype=bool)
        in_words[word_pos] = True
        # whether each ranked passage contains the words, looked up once for the whole list
        ranked_ids = np.fromiter((cid for cid, _ in ranked), dtype=np.int64, count=len(ranked))
        contains = dict(zip(ranked_ids.tolist(), in_words[np.searchsorted(self.chunk_ids, ranked_ids)].tolist()))
        if sem is not None:
            # a passage enters the result if it contains the words (not in semantic mode) or
            # is similar enough in meaning; the semantic ranking still orders the word matches
            admitted = set(sem.evidence["admitted"])
            any_word = next((r for r in rankings if r.name == "any_word"), None)
            if any_word is not None:
                # some of the words *and* among the semantic signal's best: related, not filler
                # (the query vector's own best, also when the symmetric reading orders them)
                own = {cid for cid, _ in sem.evidence.get("own_items", sem.items)}
                admitted |= {cid for cid, _ in any_word.items} & own
            if req.mode == "semantic":
                ranked = [(cid, s) for cid, s in ranked if cid in admitted]
            else:
                ranked = [(cid, s) for cid, s in ranked if cid in admitted or contains[cid]]
        if req.mode == "hybrid" and PER_REPORT:
            ranked = self.diversify(ranked)
        similar = [cid for cid, _ in ranked if not contains[cid]]
        if req.mode == "semantic":
            total = len(ranked)
        else:
            total = len(word_pos) + len(similar)
        if req.collapse_duplicates:
            collapsed = self.collapse(ranked[:COLLAPSE_WINDOW]) + [(cid, s, []) for cid, s in ranked[COLLAPSE_WINDOW:]]
        else:
            collapsed = [(cid, s, []) for cid, s in ranked]
        page = collapsed[req.offset: req.offset + req.limit]
        per_signal: dict[int, dict] = {}
        for r in rankings:
            for rank, (cid, s) in enumerate(r.items, 1):
                per_signal.setdefault(cid, {})[r.name] = (round(s, 4), rank)
        marks = understood.marks if understood else Marks()
        hits = hydrate(self, page, req, per_signal, marks, in_words, [r.name for r in rankings], highlights)
        for i, h in enumerate(hits):
            h.rank = req.offset + i + 1
        if sem is not None and hits:   # the sentences of each passage that matched the meaning best
            best = self.best_windows(sem.evidence["query_vector"], [h.chunk_id for h in hits])
            for h in hits:
                h.matched = best.get(h.chunk_id)
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        u = understood
        return SearchResponse(
            request=req, hits=hits, total=total, timings=timings, corrections=dict(u.corrections) if u else {},
            interpreted={"keyword_weight": round(u.coverage, 3) if u else 0.0, "topics": list(u.topics) if u else list(req.topics),
                         "ignored": list(u.unknown) if u else [], "expansions": list(u.expansions) if u else [],
                         "suggestions": dict(u.suggestions) if u else {}, "dropped": list(u.dropped) if u else [],
                         "similarity_min": sem.evidence.get("threshold") if sem else None,
                         "similarity_admitted_from": sem.evidence.get("floor") if sem else None,
                         "admitted_by_words": bool(sem.evidence.get("vouched_by_words")) if sem else False},
            total_words=int(len(word_pos)), total_similar=len(similar), shown=len(collapsed), understood=u,
            folded=sum(len(d) for _, _, d in collapsed),
            best_similarity=sem.evidence.get("best") if sem else None, threshold=sem.evidence.get("threshold") if sem else None)

    def _topic_ranking(self, req: SearchRequest, mask: np.ndarray) -> Ranking:
        t = time.perf_counter()
        if not req.topics or not self.topic_table:
            return Ranking("topic", [])
        rows = self.conn().execute(
            f"select chunk_id, max(score) from chunk_topics where topic_id in ({','.join('?' * len(req.topics))}) "
            "group by chunk_id order by max(score) desc, chunk_id", req.topics).fetchall()
        ids = np.fromiter((int(cid) for cid, _ in rows), dtype=np.int64, count=len(rows))
        pos = np.clip(np.searchsorted(self.chunk_ids, ids), 0, max(len(self.chunk_ids) - 1, 0))
        keep = ((self.chunk_ids[pos] == ids) & mask[pos]).tolist() if len(self.chunk_ids) else [False] * len(rows)
        items = [(int(cid), float(s)) for (cid, s), k in zip(rows, keep) if k]
        return Ranking("topic", items, ms=(time.perf_counter() - t) * 1000)

    def matrix(self, req: SearchRequest) -> dict:
        """Passages per kommun × år (the one counting function, :func:`counting.overview`)."""
        return counting.overview(self, req)

    def diversify(self, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Within the first ``DIVERSITY_WINDOW``: at most ``PER_REPORT`` passages of one report
        before the others' (a question across kommuner); the rest keep their order after them."""
        head, tail = ranked[:DIVERSITY_WINDOW], ranked[DIVERSITY_WINDOW:]
        seen: dict[int, int] = {}
        first, later = [], []
        for cid, sc in head:
            r = int(self.report[self.index_of[cid]])
            seen[r] = seen.get(r, 0) + 1
            (first if seen[r] <= PER_REPORT else later).append((cid, sc))
        return first + later + tail

    # -- duplicates -----------------------------------------------------------------------------
    def shingles(self, ids: list[int]) -> dict[int, np.ndarray]:
        """Hashed 5-word shingles per passage (sorted, unique; cached), for near-duplicate detection."""
        with self._lock:
            cache = self._shingle_cache
            out = {cid: cache[cid] for cid in ids if cid in cache}
        missing = [cid for cid in ids if cid not in out]
        for i in range(0, len(missing), 500):
            part = missing[i: i + 500]
            for cid, text in self.conn().execute(
                    f"select id, text from chunks where id in ({','.join('?' * len(part))})", part):
                out[cid] = shingle_hashes(swedish.WORD_RE.findall(text.replace("_", " ").lower()))
        with self._lock:
            for cid in missing:
                cache[cid] = out[cid]
            while len(cache) > 100_000:
                cache.popitem(last=False)
        return out

    def collapse(self, ranked: list[tuple[int, float]]) -> list[tuple[int, float, list[int]]]:
        """Fold near-duplicate passages into the best-ranked copy (kept in its ``also_in``).

        Two passages are near-duplicates when the shingles they share are at least
        ``DUPLICATE_CONTAINMENT`` of the smaller one's. Shared shingles are counted for every
        pair at once (all shingles sorted, pairs taken from runs of equal hashes), so this is
        close to linear in the number of shingles; near-duplication is transitive (union-find,
        the best-ranked copy represents its group)."""
        if not ranked:
            return []
        n = len(ranked)
        found = self.shingles([cid for cid, _ in ranked])
        everyone = [found.get(cid, _EMPTY) for cid, _ in ranked]
        parent = list(range(n))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        # Exact copies (the same shingles) join the first copy at once, and only one copy of each
        # text takes part in the pair counting below: k copies of a text would otherwise give
        # k²/2 pairs per shared shingle (300 copies of a boilerplate passage: millions of pairs).
        first_copy: dict[bytes, int] = {}
        reps: list[int] = []
        for i, a in enumerate(everyone):
            key = a.tobytes()
            if len(a) and key in first_copy:
                parent[i] = first_copy[key]
            else:
                first_copy.setdefault(key, i)
                reps.append(i)
        rep = np.array(reps, dtype=np.int64)
        arrays = [everyone[i] for i in reps]
        m = len(arrays)
        lens = np.array([len(a) for a in arrays], dtype=np.int64)
        hashes = np.concatenate(arrays) if m else _EMPTY
        owners = np.repeat(np.arange(m, dtype=np.int64), lens)
        order = np.argsort(hashes, kind="stable")
        hashes, owners = hashes[order], owners[order]

        same = hashes[1:] == hashes[:-1]
        if same.any():
            starts = np.flatnonzero(np.r_[True, ~same])
            runs = np.diff(np.r_[starts, len(hashes)])
            two = starts[runs == 2]
            firsts, seconds = [owners[two]], [owners[two + 1]]
            for s, k in zip(starts[runs > 2].tolist(), runs[runs > 2].tolist()):
                a, b = _pairs(k)
                seg = owners[s: s + k]
                firsts.append(seg[a])
                seconds.append(seg[b])
            a, b = np.concatenate(firsts), np.concatenate(seconds)
            keys, shared = np.unique(np.minimum(a, b) * m + np.maximum(a, b), return_counts=True)
            i, j = keys // m, keys % m
            near = shared / np.minimum(lens[i], lens[j]) >= DUPLICATE_CONTAINMENT
            for x, y in sorted(zip(rep[j[near]].tolist(), rep[i[near]].tolist())):
                rx, ry = find(x), find(y)
                if rx != ry:
                    parent[max(rx, ry)] = min(rx, ry)  # the better-ranked copy represents the group
        kept: list[tuple[int, float, list[int]]] = []
        slot: dict[int, int] = {}
        for i, (cid, score) in enumerate(ranked):
            root = find(i)
            if root == i:
                slot[i] = len(kept)
                kept.append((cid, score, []))
            else:
                kept[slot[root]][2].append(cid)
        return kept


_EMPTY = np.zeros(0, dtype=np.int64)
# odd 64-bit multipliers: one per position in a 5-word shingle
_SHINGLE_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                         0xFF51AFD7ED558CCD], dtype=np.uint64)


def shingle_hashes(words: list[str]) -> np.ndarray:
    """Sorted unique hashes of a passage's 5-word shingles (a passage of fewer words: one
    shingle of them all). Each word is hashed once and the five hashes of a shingle are mixed
    in NumPy – equal shingles give equal hashes, as ``hash(tuple(words[j: j + 5]))`` did, at a
    fraction of the cost (a Python tuple per position was most of the folding time at 1M)."""
    n = len(words)
    if n < 5:
        return np.array([hash(tuple(words))], dtype=np.int64)
    h = np.fromiter(map(hash, words), dtype=np.int64, count=n).view(np.uint64)
    m = n - 4
    mixed = h[:m] * _SHINGLE_MIX[0]
    for k in range(1, 5):
        mixed += (h[k: k + m] ^ (h[k: k + m] >> np.uint64(29))) * _SHINGLE_MIX[k]
    return np.unique(mixed.view(np.int64))


@lru_cache(maxsize=256)
def _pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (a < b) of k items."""
    return np.triu_indices(k, 1)
