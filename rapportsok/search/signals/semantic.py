"""The semantic signal: passages similar in meaning to the query, above a calibrated similarity.

Cosine similarity between the query embedding and every passage vector
(:meth:`CorpusIndex.nearest`: exact, or an HNSW index above a size). A passage
is offered as a meaning-only hit only if its similarity reaches the threshold – calibrated on the evaluation
set (README, "Honest nothing relevant") – so a query about something the reports never
mention ("kärnkraftverk i Forsmark") gets no meaning-only hits instead of ten random ones.
"""

from __future__ import annotations

import os
import re
import time

import numpy as np

from ... import swedish, topics
from ...errors import SearchError
from .. import english
from ..syntax import parse
from . import Ranking

CANDIDATES = 50          # at most this many meaning-only passages per query
# Relative admission (issue 13, README "Honest nothing relevant"): once the query's best passage
# reaches the calibrated threshold – the reports do speak of it – passages within RELATIVE_MARGIN
# of that best one are admitted too, even below the threshold. A query whose best passage stays
# below the threshold still gets no meaning-only hit. Chosen on dev among 0.02–0.1; 0 turns it off.
RELATIVE_MARGIN = float(os.environ.get("RAPPORTSOK_RELATIVE_MARGIN", "0.06"))
# Semantic mode (Betydelse): a query with spelling corrections ("sjukfrånvarro" → sjukfrånvaro, shown
# on the page) is also embedded with the corrected words in place, at this share of the query
# vector – not for a question that reads as English, whose "corrections" are Swedish look-alikes.
# Chosen on dev (README, issue 13); hybrid keeps the query as written (it already searches the
# corrected words). 0 turns it off.
CORRECTED_SHARE = float(os.environ.get("RAPPORTSOK_CORRECTED_SHARE", "0.5"))
# Hybrid mode: the question is also read as a passage – as the passages and their sentence windows
# are – and the meaning ranking orders the passages by normalise(query vector + SYMMETRIC_SHARE ×
# that reading). "offset" (default): the reading is the query vector moved by the model's
# query → passage offset, measured by the build (rapportsok/prefix_offset.py; no cost per search);
# "embed": the question embedded again with the passage prefix (the same ranking within 0.001 on
# dev and test, ≈3 CPU ms more per search); "0": off. What is admitted and counted stays decided by the query
# vector's own similarity and calibrated threshold. Chosen on dev together with two-sentence
# windows (README, issue 13, session 14).
SYMMETRIC = os.environ.get("RAPPORTSOK_SYMMETRIC", "offset")
SYMMETRIC_SHARE = float(os.environ.get("RAPPORTSOK_SYMMETRIC_SHARE", "1"))


def expanded_query_vector(q: str, embed, embed_topic=None) -> np.ndarray:
    """``embed(q)`` joined by ``embed_topic`` (default ``embed``) of the label and definition of
    every topic the query names by abbreviation or in English (the evaluation's experiments pass
    their own ``embed``)."""
    vec = embed(q)
    expansions, _ = topics.expand_query(q)
    named = [topics.topics_by_id()[e.topic] for e in expansions if e.how in ("abbreviation", "english")]
    if not named:
        return vec
    total = vec.copy()
    for t in named:
        total += (embed_topic or embed)(f"{t.label}. {t.definition}")
    return total / np.linalg.norm(total)


def corrected_text(q: str, corrections: dict) -> str:
    """The query with every corrected word replaced by the indexed term it was corrected to."""
    for word, term in corrections.items():
        q = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", term, q, flags=re.IGNORECASE)
    return q


def _reads_english(index, q: str) -> bool:
    words = [t.text for t in parse(q).words() if t.kind == "word"]
    return english.is_english(words, lambda w: swedish.stem(w) in index.keyword.vocab)


def _english_swedish(index, req) -> str:
    if not (english.ENABLED and english.SEMANTIC_SHARE > 0 and req.expand and hasattr(index, "keyword")):
        return ""
    return index.keyword.understand(req).swedish


def admission_floor(threshold: float | None, best: float | None) -> float | None:
    """The lowest similarity a meaning-only hit may have: the threshold, or – when the query's
    best passage reaches it – ``RELATIVE_MARGIN`` below that best passage if that is lower."""
    if threshold is None or best is None or best < threshold or RELATIVE_MARGIN <= 0:
        return threshold
    return min(threshold, best - RELATIVE_MARGIN)


def symmetric(index) -> bool:
    """Whether the question is also read as a passage: switched on, for a model that reads queries
    and passages differently (E5's prefixes) – with "offset", one whose database has the offset."""
    c = index.contract
    if SYMMETRIC not in ("offset", "embed") or SYMMETRIC_SHARE <= 0 or c is None or c.query_prefix == c.passage_prefix:
        return False
    return SYMMETRIC == "embed" or getattr(index, "prefix_offset", None) is not None


def passage_reading(index, q: str, qv: np.ndarray) -> np.ndarray:
    if SYMMETRIC == "embed":
        return index.passage_read_vector(q)
    p = qv + index.prefix_offset
    return p / np.linalg.norm(p)


def symmetric_order(index, q: str, qv: np.ndarray, k: int, within, items: list,
                    evidence: dict) -> list[tuple[int, float]]:
    """The ``k`` passages nearest to normalise(qv + SYMMETRIC_SHARE × ``q`` read as a passage), best
    first, each with its similarity to ``qv``; then the rest of ``qv``'s own ``k`` best, so what the
    search admits and counts is what ``qv`` alone admits, with the same similarities (tested)."""
    t = time.perf_counter()
    rv = qv + SYMMETRIC_SHARE * passage_reading(index, q, qv)
    rv = (rv / np.linalg.norm(rv)).astype(np.float32)
    evidence["embed_ms"] += (time.perf_counter() - t) * 1000
    rows, _, _ = index.nearest(rv, k, within)
    own = index.similarities(qv, rows) if len(rows) else np.zeros(0, dtype=np.float32)
    ordered = [(int(index.chunk_ids[i]), float(s)) for i, s in zip(rows, own)]
    seen = {c for c, _ in ordered}
    ordered += [(c, s) for c, s in items if c not in seen]
    evidence["symmetric"] = True
    return ordered


class SemanticSignal:
    name = "semantic"

    def __init__(self, threshold: float | None = None):
        self.threshold = threshold

    def query_vector(self, index, q: str, expand: bool = True) -> np.ndarray:
        """The query's embedding, joined by the embeddings of the topics it names.

        An acronym or an English phrase ("SSPF", "foster homes") says little to a small
        embedding model; the topic's Swedish label and definition say a lot.
        """
        return expanded_query_vector(q, index.query_vector, index.topic_vector) if expand else index.query_vector(q)

    def rank(self, index, req, mask: np.ndarray, k: int = CANDIDATES, threshold: float | None = None) -> Ranking:
        if index.vectors is None:
            raise SearchError("mode", "databasen saknar inbäddningar; välj mode=keyword")
        t = time.perf_counter()
        qv = self.query_vector(index, req.q, req.expand)
        sv = _english_swedish(index, req)
        if sv:
            # an English question: its glossary words in Swedish join the query vector (README, issue 13)
            qv = qv + english.SEMANTIC_SHARE * index.query_vector(sv)
            qv = qv / np.linalg.norm(qv)
        if req.mode == "semantic" and CORRECTED_SHARE > 0 and req.expand and hasattr(index, "keyword"):
            corrections = index.keyword.understand(req).corrections
            if corrections and not _reads_english(index, req.q):
                qv = (1 - CORRECTED_SHARE) * qv + CORRECTED_SHARE * self.query_vector(
                    index, corrected_text(req.q, corrections), req.expand)
                qv = qv / np.linalg.norm(qv)
        embed_ms = (time.perf_counter() - t) * 1000
        threshold = self.threshold if threshold is None else threshold
        n = int(mask.sum())
        if n == 0:
            return Ranking(self.name, [], {"threshold": threshold, "best": None, "embed_ms": embed_ms,
                                           "admitted": set(), "query_vector": qv, "vectors": "exact"})
        within = None if n == len(mask) else mask
        rows, sims, how = index.nearest(qv, k, within)
        items = [(int(index.chunk_ids[i]), float(s)) for i, s in zip(rows, sims)]
        best = items[0][1] if items else None
        # all top-k order the word matches in fusion; only these may enter as meaning-only hits
        floor = admission_floor(threshold, best)
        admitted = {cid for cid, s in items if floor is None or s >= floor}
        evidence = {"threshold": threshold, "best": best, "embed_ms": embed_ms, "floor": floor,
                    "admitted": admitted, "query_vector": qv, "vectors": how,
                    "own_items": items}   # the query vector's own ranking: admission, also under the symmetric order
        if req.mode == "hybrid" and items and symmetric(index):
            items = symmetric_order(index, req.q, qv, k, within, items, evidence)
        return Ranking(self.name, items, evidence, ms=(time.perf_counter() - t) * 1000)
