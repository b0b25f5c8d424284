"""The one search implementation behind the CLI, the JSON/CSV API and the web page.

Three signals, one ranking:

* **keyword**: SQLite FTS5 over Swedish stems and compound parts (:mod:`rapportsok.swedish`),
  BM25-ranked. All query words must match; if that finds too little, any word may match
  (ranked after). A word the index has never seen is corrected to the nearest indexed
  term (edit distance), so "skydat" still finds "skyddat".
* **semantic**: cosine similarity between the query embedding and every passage
  embedding, computed with NumPy over a matrix loaded once from the (immutable) database.
* **hybrid** (default): reciprocal rank fusion of the two rankings (k = 60), which the
  evaluation in the README measured against a tuned convex combination.

Near-duplicate passages (the same paragraph in a tjänsteskrivelse and in its bilaga) are
collapsed: the best-ranked copy is shown and the others are listed in ``also_in``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import municipalities, swedish, topics
from .embeddings import Embedder, ModelContract, embedder_for_contract, from_blob
from .errors import RapportsokError, SearchError
from .query import SearchRequest

RRF_K = 60
SEMANTIC_WEIGHT = 1.0  # weight of the semantic ranking in RRF (keyword weight = query coverage)
CANDIDATES = 200          # keyword candidates per query
SEMANTIC_CANDIDATES = 50  # semantic candidates: similarity alone does not separate relevant from irrelevant (README)
FTS_WEIGHTS = (0.0, 0.3, 1.0)   # bm25 weights for chunks_fts columns text, section, search_terms
KEYWORD_TIME_LIMIT_S = 2.0
DUPLICATE_CONTAINMENT = 0.6
COLLAPSE_WINDOW = 60
OR_FALLBACK_BELOW = 30
MAX_RUNS = 400            # above this many id runs a filter is not selective: rank all matches instead    # search for any word only if fewer passages than this have all words
PREFIX_MIN_LEN = 5
INT8_ABOVE = 250_000   # "auto" keeps float32 vectors up to this many passages, int8 above
BLOCK = 65_536         # rows per block when scoring int8 vectors


@dataclass
class TermGroup:
    """One query word or phrase and what may match it."""

    alternatives: list[tuple[str, ...]]
    label: str
    exact: bool = False
    corrected: bool = False
    known: bool = True
    topic: str | None = None


@dataclass
class SearchResponse:
    request: SearchRequest
    hits: list[dict]
    total: int
    timings: dict = field(default_factory=dict)
    corrections: dict = field(default_factory=dict)
    interpreted: dict = field(default_factory=dict)


def connect_readonly(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


class SearchIndex:
    """Everything a search needs from one built database, loaded once and shared."""

    def __init__(self, db_path: Path, embedder: Embedder | None = None, load_vectors: bool = True,
                 vector_dtype: str = "auto"):
        self.db_path = Path(db_path)
        if not self.db_path.exists():
            raise RapportsokError(f"{self.db_path}: database not found; run 'rapportsok build' first")
        self._local = threading.local()
        self._lock = threading.Lock()
        conn = self.conn()
        rows = conn.execute(
            "select c.id, c.kind, c.report_id, r.kommunkod, r.year, r.report_type from chunks c "
            "join reports r on r.id = c.report_id order by c.id"
        ).fetchall()
        self.chunk_ids = np.array([r["id"] for r in rows], dtype=np.int64)
        self.index_of = {int(cid): i for i, cid in enumerate(self.chunk_ids)}
        # filter columns as small integer codes: comparisons over 1M passages take milliseconds
        self._codes: dict[str, dict[str, int]] = {}
        self.kind = self._encode("kind", [r["kind"] for r in rows])
        self.report = self._encode("report", [r["report_id"] for r in rows])
        self.kommun = self._encode("kommun", [r["kommunkod"] or "" for r in rows])
        self.year = np.array([r["year"] if r["year"] is not None else -1 for r in rows], dtype=np.int32)
        self.rtype = self._encode("type", [r["report_type"] or "" for r in rows])
        self.known_types = sorted(t for t in self._codes["type"] if t)
        self.vocab = {r[0]: r[1] for r in conn.execute("select term, doc from chunks_fts_vocab")}
        self._vocab_list = list(self.vocab)
        self._vocab_sorted = sorted(self.vocab)
        self.topic_table = _table_exists(conn, "chunk_topics")
        self.contract: ModelContract | None = None
        self.vectors: np.ndarray | None = None       # float32 (n, dim), or int8 with per-row scales
        self.scales: np.ndarray | None = None
        if load_vectors and _table_exists(conn, "embedding_model"):
            self.contract = ModelContract.from_json(conn.execute("select contract_json from embedding_model").fetchone()[0])
            self._load_vectors(conn, vector_dtype)
        self._embedder = embedder
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _encode(self, name: str, values: list[str]) -> np.ndarray:
        codes = self._codes.setdefault(name, {})
        return np.array([codes.setdefault(v, len(codes)) for v in values], dtype=np.int32)

    def _isin(self, name: str, column: np.ndarray, values: list[str]) -> np.ndarray:
        wanted = [self._codes[name][v] for v in values if v in self._codes[name]]
        return np.isin(column, np.array(wanted, dtype=np.int32)) if wanted else np.zeros(len(column), dtype=bool)

    @property
    def kommunkod(self) -> list[str]:
        """The kommunkod of every passage (for callers that want the strings)."""
        names = {v: k for k, v in self._codes["kommun"].items()}
        return [names[c] for c in self.kommun]

    def _load_vectors(self, conn: sqlite3.Connection, dtype: str) -> None:
        """Load every passage vector into one matrix (the database is immutable).

        float32 below ``INT8_ABOVE`` passages; above it int8 with one scale per row, which
        quarters the memory (1M × 384 dims: 1.5 GB → 0.37 GB) for a small recall cost that
        ``benchmarks/search_benchmark.py`` measures.
        """
        n, dim = len(self.chunk_ids), self.contract.dimensions
        if dtype == "auto":
            dtype = "int8" if n > INT8_ABOVE else "float32"
        if dtype not in ("float32", "int8"):
            raise RapportsokError(f"vector_dtype {dtype!r}: use float32, int8 or auto")
        mat = np.zeros((n, dim), dtype=np.float32 if dtype == "float32" else np.int8)
        scales = np.ones(n, dtype=np.float32) if dtype == "int8" else None
        for cid, blob in conn.execute("select chunk_id, vector from chunk_embeddings"):
            i = self.index_of[int(cid)]
            vec = from_blob(blob, dim)
            if scales is None:
                mat[i] = vec
            else:
                scale = float(np.abs(vec).max()) / 127 or 1.0
                mat[i] = np.round(vec / scale)
                scales[i] = scale
        self.vectors, self.scales = mat, scales

    def similarities(self, qv: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of ``qv`` with every passage (or only ``rows``)."""
        mat = self.vectors if rows is None else self.vectors[rows]
        if self.scales is None:
            return mat @ qv
        scales = self.scales if rows is None else self.scales[rows]
        out = np.empty(len(mat), dtype=np.float32)

        def block(i: int) -> None:
            out[i: i + BLOCK] = (mat[i: i + BLOCK].astype(np.float32) @ qv) * scales[i: i + BLOCK]

        starts = range(0, len(mat), BLOCK)
        if len(mat) > 2 * BLOCK:
            list(_pool().map(block, starts))  # NumPy releases the GIL: both cores work
        else:
            for i in starts:
                block(i)
        return out

    # -- plumbing -------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = connect_readonly(self.db_path)
        return c

    @property
    def has_vectors(self) -> bool:
        return self.vectors is not None

    def embedder(self) -> Embedder:
        if self.contract is None:
            raise SearchError("mode", "databasen saknar inbäddningar; bygg om utan --no-embed eller välj mode=keyword")
        with self._lock:
            if self._embedder is None:
                self._embedder = embedder_for_contract(self.contract)
            else:
                # A caller-supplied embedder must embed queries as the database's model does.
                mine = self._embedder.contract
                if (mine.model_id, mine.dimensions, mine.query_prefix) != (self.contract.model_id, self.contract.dimensions, self.contract.query_prefix):
                    raise RapportsokError(f"query model {mine.model_id} does not match the database's {self.contract.model_id}")
        return self._embedder

    def query_vector(self, q: str) -> np.ndarray:
        with self._lock:
            if q in self._query_cache:
                self._query_cache.move_to_end(q)
                return self._query_cache[q]
        vec = self.embedder().embed_query(q)
        with self._lock:
            self._query_cache[q] = vec
            if len(self._query_cache) > 512:
                self._query_cache.popitem(last=False)
        return vec

    # -- filters --------------------------------------------------------------------------
    def mask(self, req: SearchRequest) -> np.ndarray:
        m = np.ones(len(self.chunk_ids), dtype=bool)
        if req.kommunkoder:
            m &= self._isin("kommun", self.kommun, req.kommunkoder)
        if req.year_from is not None:
            m &= self.year >= req.year_from
        if req.year_to is not None:
            m &= (self.year <= req.year_to) & (self.year >= 0)
        if req.report_types:
            m &= self._isin("type", self.rtype, req.report_types)
        if req.kind:
            m &= self._isin("kind", self.kind, [req.kind])
        if req.report_id:
            m &= self._isin("report", self.report, [req.report_id])
        if req.topics and self.topic_table:
            ids = {r[0] for r in self.conn().execute(
                f"select chunk_id from chunk_topics where topic_id in ({','.join('?' * len(req.topics))})", req.topics)}
            m &= np.isin(self.chunk_ids, list(ids))
        return m

    # -- keyword --------------------------------------------------------------------------
    def correct(self, stem: str) -> str | None:
        """Nearest indexed term for a stem the index does not contain (None if none close)."""
        if stem in self.vocab or len(stem) < 4 or stem.isdigit():
            return None
        from rapidfuzz import fuzz, process

        best = process.extractOne(stem, self._vocab_list, scorer=fuzz.ratio, score_cutoff=80)
        if best is None:
            return None
        ties = process.extract(stem, self._vocab_list, scorer=fuzz.ratio, score_cutoff=best[1] - 1e-6, limit=5)
        candidates = [t for t, _, _ in ties] or [best[0]]
        return max(candidates, key=lambda t: (self.vocab.get(t, 0), t))

    def keyword_terms(self, q: str) -> tuple[list["TermGroup"], dict]:
        with self._lock:
            cache = self.__dict__.setdefault("_terms_cache", OrderedDict())
            if q in cache:
                return cache[q]
        result = self._keyword_terms(q)
        with self._lock:
            cache[q] = result
            if len(cache) > 1024:
                cache.popitem(last=False)
        return result

    def _keyword_terms(self, q: str) -> tuple[list["TermGroup"], dict]:
        """Query → term groups (all must match; any alternative within a group may).

        Quoted phrases stay exact. Words that name a topic (abbreviation, synonym or English
        phrase, see ``data/topics.yml``) expand to the topic's Swedish terms. Other words are
        stemmed; a word the index has never seen is corrected to the nearest indexed term,
        or dropped if nothing is close (reported in ``ignored``).
        """
        corrections: dict[str, str] = {}
        ignored: list[str] = []
        groups: list[TermGroup] = []
        for phrase in re.findall(r'"([^"]+)"', q):
            stems = tuple(swedish.stem(t) for t in swedish.tokens(phrase))
            if stems:
                groups.append(TermGroup([stems], phrase, exact=True))
        rest_q = re.sub(r'"[^"]*"', " ", q)
        expansions, rest = topics.expand_query(rest_q)
        for e in expansions:
            groups.append(TermGroup(e.alternatives, e.matched, topic=e.topic))
        for tok in swedish.tokens(" ".join(rest)):
            if tok in swedish.STOPWORDS or tok in topics.ENGLISH_STOPWORDS:
                continue
            s = swedish.stem(tok)
            if s in self.vocab or tok.isdigit():
                groups.append(TermGroup([(s,)], tok))
                continue
            fixed = self.correct(s)
            if fixed:
                corrections[tok] = fixed
                groups.append(TermGroup([(fixed,)], tok, corrected=True))
            else:
                ignored.append(tok)
                groups.append(TermGroup([(s,)], tok, known=False))
        if not groups:  # only stop words: search them anyway
            groups = [TermGroup([(swedish.stem(t),)], t) for t in swedish.tokens(q)]
        uniq: list[TermGroup] = []
        for g in groups:
            if all(g.alternatives != u.alternatives for u in uniq):
                uniq.append(g)
        return uniq, {"corrections": corrections, "ignored": ignored,
                      "topics": [e.topic for e in expansions]}

    def query_stems(self, q: str) -> set[str]:
        """Every stem the keyword search looks for (for highlighting)."""
        groups, _ = self.keyword_terms(q)
        return {s for g in groups if g.known for alt in g.alternatives for s in alt}

    def coverage(self, groups: list["TermGroup"]) -> float:
        """Share of query words the index knows (a corrected word counts half).

        Hybrid ranking trusts the keyword signal in proportion: an English query with no
        known topic leans on the semantic signal, "SSPF" on both.
        """
        if not groups:
            return 0.0
        return sum(0.0 if not g.known else 0.5 if g.corrected else 1.0 for g in groups) / len(groups)

    def inflections(self, stem: str) -> list[str]:
        """The stem and indexed terms that extend it by one or two letters ("familjehem" →
        "familjehemm", from "familjehemmen"), which Snowball leaves apart.

        Used instead of an FTS5 prefix query: on the synthetic 1M-passage corpus a prefix
        query took 445 ms where the exact term took 117 ms (benchmarks/search_benchmark.py)."""
        import bisect

        if len(stem) < PREFIX_MIN_LEN:
            return [stem]
        out = [stem]
        i = bisect.bisect_left(self._vocab_sorted, stem)
        while i < len(self._vocab_sorted) and self._vocab_sorted[i].startswith(stem) and len(out) < 6:
            term = self._vocab_sorted[i]
            if term != stem and len(term) <= len(stem) + 2:
                out.append(term)
            i += 1
        return out

    def match_expression(self, groups: list["TermGroup"], op: str) -> str:
        def alt(stems: tuple[str, ...], exact: bool) -> str:
            clean = [t.replace('"', "") for t in stems]
            if len(clean) == 1:
                forms = [clean[0]] if exact else self.inflections(clean[0])
                return f'"{forms[0]}"' if len(forms) == 1 else "(" + " OR ".join(f'"{f}"' for f in forms) + ")"
            if exact:
                return '"' + " ".join(clean) + '"'
            return "NEAR(" + " ".join(f'"{t}"' for t in clean) + f", {2 * len(clean)})"
        parts = []
        for g in groups:
            if not g.known and op == "AND":
                continue  # unknown words cannot match; do not let them veto the others
            alts = [alt(a, g.exact) for a in g.alternatives]
            parts.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
        if not parts:
            return ""
        return "{search_terms section} : (" + f" {op} ".join(parts) + ")"

    def keyword_ranking(self, req: SearchRequest, groups: list["TermGroup"], k: int = CANDIDATES) -> list[tuple[int, float]]:
        if not any(g.known for g in groups):
            return []
        w = ", ".join(str(x) for x in FTS_WEIGHTS)
        filtered = bool(req.kommunkoder or req.year_from is not None or req.year_to is not None or req.report_types
                        or req.kind or req.report_id or (req.topics and self.topic_table))
        mask = self.mask(req) if filtered else None
        runs = self._runs(mask) if filtered else []
        if filtered and len(runs) <= MAX_RUNS:
            # passage ids are contiguous per report: one FTS query per run of allowed ids
            # uses FTS5's rowid range, which costs microseconds instead of ranking every match
            sql = (f"select rowid, -bm25(chunks_fts, {w}) from chunks_fts where chunks_fts match ? "
                   f"and rowid between ? and ?")
        elif filtered:
            # all matches with their BM25, filtered with the in-memory mask
            sql = f"select rowid, -bm25(chunks_fts, {w}) from chunks_fts where chunks_fts match ?"
        else:
            sql = (f"select rowid, -bm25(chunks_fts, {w}) from chunks_fts where chunks_fts match ? "
                   f"order by bm25(chunks_fts, {w}) limit ?")
        conn = self.conn()
        deadline = time.monotonic() + KEYWORD_TIME_LIMIT_S
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
        try:
            seen: dict[int, float] = {}
            ranking: list[tuple[int, float]] = []
            ops = ["AND", "OR"] if len(groups) > 1 else ["AND"]
            for op in ops:
                expression = self.match_expression(groups, op)
                if not expression:
                    continue
                if filtered and len(runs) <= MAX_RUNS:
                    rows = [row for a, b in runs for row in conn.execute(sql, [expression, a, b])]
                    rows = sorted(rows, key=lambda r: -r[1])[:k]
                elif filtered:
                    rows = self._filter_ranked(conn.execute(sql, [expression]).fetchall(), mask, k)
                else:
                    rows = conn.execute(sql, [expression, k]).fetchall()
                for cid, score in rows:
                    if cid not in seen:
                        seen[cid] = score
                        ranking.append((int(cid), float(score)))
                if len(ranking) >= OR_FALLBACK_BELOW:
                    break  # enough passages have every word; "any word" would only add noise (and cost)
            return ranking[:k]
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise SearchError("q", "sökningen tog för lång tid; förenkla frågan") from None
            raise SearchError("q", f"kunde inte tolka frågan för ordsökning ({exc})") from None
        finally:
            conn.set_progress_handler(None, 0)

    def _runs(self, mask: np.ndarray) -> list[tuple[int, int]]:
        """(first id, last id) of each run of consecutive allowed passages."""
        if not mask.any():
            return []
        edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
        if len(starts) > MAX_RUNS:
            return [(0, 0)] * (MAX_RUNS + 1)
        return [(int(self.chunk_ids[a]), int(self.chunk_ids[b])) for a, b in zip(starts, ends)]

    def _filter_ranked(self, rows: list[tuple[int, float]], mask: np.ndarray, k: int) -> list[tuple[int, float]]:
        if not rows:
            return []
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        pos = np.searchsorted(self.chunk_ids, ids)
        keep = mask[np.clip(pos, 0, len(mask) - 1)] & (self.chunk_ids[np.clip(pos, 0, len(mask) - 1)] == ids)
        ids, scores = ids[keep], scores[keep]
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in order]

    # -- semantic -------------------------------------------------------------------------
    def semantic_query_vector(self, q: str) -> np.ndarray:
        """The query's embedding, joined by the embeddings of the topics it names.

        An acronym or an English phrase ("SSPF", "foster homes") says little to a small
        embedding model; the topic's Swedish label and definition say a lot.
        """
        vec = self.query_vector(q)
        expansions, _ = topics.expand_query(q)
        named = [topics.topics_by_id()[e.topic] for e in expansions if e.how in ("abbreviation", "english")]
        if not named:
            return vec
        total = vec.copy()
        for t in named:
            total += self.query_vector(f"{t.label}. {t.definition}")
        return total / np.linalg.norm(total)

    def semantic_ranking(self, req: SearchRequest, mask: np.ndarray, k: int = SEMANTIC_CANDIDATES) -> list[tuple[int, float]]:
        if self.vectors is None:
            raise SearchError("mode", "databasen saknar inbäddningar; välj mode=keyword")
        qv = self.semantic_query_vector(req.q)
        n = int(mask.sum())
        if n == 0:
            return []
        if n > 0.3 * len(mask):
            # a broad filter: scoring everything and masking is cheaper than gathering rows
            rows = None
            sims = np.where(mask, self.similarities(qv), -np.inf)
        else:
            rows = np.flatnonzero(mask)
            sims = self.similarities(qv, rows)
        k = min(k, n)
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        idx = top if rows is None else rows[top]
        return [(int(self.chunk_ids[i]), float(s)) for i, s in zip(idx, sims[top])]

    # -- fusion ---------------------------------------------------------------------------
    @staticmethod
    def rrf(rankings: list[list[tuple[int, float]]], k: int = RRF_K, weights: list[float] | None = None) -> list[tuple[int, float]]:
        scores: dict[int, float] = {}
        for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
            for rank, (cid, _) in enumerate(ranking, 1):
                scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    @staticmethod
    def convex(keyword: list[tuple[int, float]], semantic: list[tuple[int, float]], alpha: float = 0.5) -> list[tuple[int, float]]:
        def norm(r):
            if not r:
                return {}
            vals = np.array([s for _, s in r])
            lo, hi = vals.min(), vals.max()
            return {cid: (s - lo) / (hi - lo) if hi > lo else 1.0 for cid, s in r}
        kw, sem = norm(keyword), norm(semantic)
        ids = set(kw) | set(sem)
        scores = {cid: alpha * sem.get(cid, 0.0) + (1 - alpha) * kw.get(cid, 0.0) for cid in ids}
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    # -- the search ------------------------------------------------------------------------
    def rank(self, req: SearchRequest, fusion: str = "rrf", alpha: float = 0.5, semantic_weight: float | None = None) -> tuple[list[tuple[int, float]], dict, dict]:
        """Ranked (chunk_id, score) for a request, with per-signal details and timings."""
        timings: dict[str, float] = {}
        signals: dict[int, dict] = {}
        keyword: list[tuple[int, float]] = []
        semantic: list[tuple[int, float]] = []
        coverage = 1.0
        understood: dict = {"corrections": {}, "ignored": [], "topics": []}
        if req.mode in ("keyword", "hybrid"):
            t = time.perf_counter()
            groups, understood = self.keyword_terms(req.q)
            keyword = self.keyword_ranking(req, groups)
            coverage = self.coverage(groups)
            timings["keyword_ms"] = (time.perf_counter() - t) * 1000
        if req.mode in ("semantic", "hybrid"):
            t = time.perf_counter()
            self.semantic_query_vector(req.q)
            timings["query_embedding_ms"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            semantic = self.semantic_ranking(req, self.mask(req))
            timings["vector_search_ms"] = (time.perf_counter() - t) * 1000
        for rank, (cid, s) in enumerate(keyword, 1):
            signals.setdefault(cid, {})["keyword"] = {"score": round(s, 4), "rank": rank}
        for rank, (cid, s) in enumerate(semantic, 1):
            signals.setdefault(cid, {})["semantic"] = {"score": round(s, 4), "rank": rank}
        t = time.perf_counter()
        if req.mode == "keyword":
            ranked = keyword
        elif req.mode == "semantic":
            ranked = semantic
        elif fusion == "convex":
            ranked = self.convex(keyword, semantic, alpha * (2 - coverage))
        else:
            ranked = self.rrf([keyword, semantic], weights=[coverage, SEMANTIC_WEIGHT if semantic_weight is None else semantic_weight])
        timings["fusion_ms"] = (time.perf_counter() - t) * 1000
        return ranked, signals, {"timings": timings, "understood": understood, "coverage": coverage}

    def search(self, req: SearchRequest, fusion: str = "rrf", alpha: float = 0.5,
               semantic_weight: float | None = None) -> SearchResponse:
        t0 = time.perf_counter()
        ranked, signals, extra = self.rank(req, fusion=fusion, alpha=alpha, semantic_weight=semantic_weight)
        if req.collapse_duplicates:
            # fold duplicates within the pages a reader can reach; count the rest as they are
            window = max(COLLAPSE_WINDOW, req.offset + req.limit + 30)
            collapsed = self.collapse(ranked[:window]) + [(cid, s, []) for cid, s in ranked[window:]]
        else:
            collapsed = [(cid, s, []) for cid, s in ranked]
        page = collapsed[req.offset: req.offset + req.limit]
        hits = self.hydrate(page, req, signals)
        for i, h in enumerate(hits):
            h["rank"] = req.offset + i + 1
        timings = extra["timings"]
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        understood = extra["understood"]
        return SearchResponse(request=req, hits=hits, total=len(collapsed), timings=timings,
                              corrections=understood["corrections"],
                              interpreted={"keyword_weight": round(extra["coverage"], 3), "topics": understood["topics"],
                                           "ignored": understood["ignored"]})

    # -- across municipalities and years -------------------------------------------------------
    def matrix(self, req: SearchRequest) -> dict:
        """Relevant passages per kommun × år for the kommun × år overview.

        A passage counts when it matches all the query's words (with inflections, compound
        parts, topic expansions and spelling corrections). Semantic similarity is not used
        as a threshold: with this model the similarity of relevant and irrelevant passages
        overlaps (on the evaluation set, similarity ≥ 0.85 keeps 72 % of relevant passages
        at 6 % precision), so a cut-off would count mostly noise. When no passage matches
        all words, the top 20 hybrid results are counted instead, and the overview says so.
        """
        groups, _ = self.keyword_terms(req.q)
        expression = self.match_expression(groups, "AND") if any(g.known for g in groups) else ""
        positions = np.zeros(0, dtype=np.int64)
        basis = "ord"
        if expression:
            try:
                ids = np.array([r[0] for r in self.conn().execute(
                    "select rowid from chunks_fts where chunks_fts match ?", [expression])], dtype=np.int64)
            except sqlite3.OperationalError:
                ids = np.zeros(0, dtype=np.int64)
            pos = np.clip(np.searchsorted(self.chunk_ids, ids), 0, max(len(self.chunk_ids) - 1, 0))
            positions = pos[(self.chunk_ids[pos] == ids) & self.mask(req)[pos]] if len(ids) else positions
        if not len(positions) and self.vectors is not None:
            basis = "topp20"
            top = SearchRequest(**{**req.__dict__, "mode": "hybrid", "limit": 20, "offset": 0})
            ranked, _, _ = self.rank(top)
            positions = np.array([self.index_of[cid] for cid, _ in ranked[:20]], dtype=np.int64)
        names = {v: k for k, v in self._codes["kommun"].items()}
        pairs, counts = (np.unique(np.stack([self.kommun[positions], self.year[positions]], axis=1), axis=0, return_counts=True)
                         if len(positions) else (np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64)))
        rows = []
        for (kcode, year), n in zip(pairs.tolist(), counts.tolist()):
            code = names[kcode]
            mun = municipalities.by_code().get(code)
            rows.append((mun.kommun if mun else code, code, year if year >= 0 else None, n))
        years = sorted({r[2] for r in rows if r[2] is not None})
        kommuner = sorted({(r[0], r[1]) for r in rows if r[1]})
        cells = {(r[1], r[2]): r[3] for r in rows}
        return {"years": years, "kommuner": [{"name": n, "code": c} for n, c in kommuner], "cells": cells,
                "basis": basis, "total": sum(cells.values())}

    # -- duplicates and hit details ----------------------------------------------------------
    def shingles(self, ids: list[int]) -> dict[int, frozenset]:
        """Hashed 5-word shingles per passage (cached), for near-duplicate detection."""
        with self._lock:
            cache = self.__dict__.setdefault("_shingle_cache", OrderedDict())
            out = {cid: cache[cid] for cid in ids if cid in cache}
        missing = [cid for cid in ids if cid not in out]
        for i in range(0, len(missing), 500):
            part = missing[i: i + 500]
            for cid, text in self.conn().execute(
                    f"select id, text from chunks where id in ({','.join('?' * len(part))})", part):
                words = swedish.tokens(text)
                out[cid] = frozenset(hash(tuple(words[j: j + 5])) for j in range(max(1, len(words) - 4)))
        with self._lock:
            for cid in missing:
                cache[cid] = out[cid]
            while len(cache) > 100_000:
                cache.popitem(last=False)
        return out

    def collapse(self, ranked: list[tuple[int, float]]) -> list[tuple[int, float, list[int]]]:
        """Fold near-duplicate passages into the best-ranked copy (kept in its ``also_in``)."""
        if not ranked:
            return []
        sh = self.shingles([cid for cid, _ in ranked])
        # union-find over all pairs: near-duplication is transitive, whatever the ranking order
        parent = list(range(len(ranked)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        sets = [sh.get(cid, frozenset()) for cid, _ in ranked]
        for i in range(len(ranked)):
            for j in range(i + 1, len(ranked)):
                a, b = sets[i], sets[j]
                if a and b and len(a & b) / min(len(a), len(b)) >= DUPLICATE_CONTAINMENT:
                    ri, rj = find(i), find(j)
                    if ri != rj:
                        parent[max(ri, rj)] = min(ri, rj)  # the better-ranked copy represents the group
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

    def hydrate(self, page: list[tuple[int, float, list[int]]], req: SearchRequest, signals: dict) -> list[dict]:
        if not page:
            return []
        ids = [cid for cid, _, _ in page] + [d for _, _, dups in page for d in dups]
        rows = {r["chunk_id"]: dict(r) for r in self.conn().execute(
            "select c.id as chunk_id, c.report_id, r.source_file, r.municipality, r.kommunkod, r.year, r.period, "
            "r.report_type, r.title, c.section, c.heading, c.ordinal, c.kind, c.char_start, c.char_end, c.text, "
            "c.page_start, c.page_end "
            f"from chunks c join reports r on r.id = c.report_id where c.id in ({','.join('?' * len(ids))})", ids)}
        stems = self.query_stems(req.q)
        hits = []
        for cid, score, dups in page:
            row = rows[cid]
            hit = {
                "report_id": row["report_id"], "source_file": row["source_file"], "municipality": row["municipality"],
                "kommunkod": row["kommunkod"], "year": row["year"], "period": row["period"],
                "report_type": row["report_type"], "section": row["section"], "char_start": row["char_start"],
                "char_end": row["char_end"], "text": row["text"], "score": round(float(score), 6), "rank": 0,
                "mode": req.mode, "title": row["title"], "heading": row["heading"], "chunk_id": cid,
                "passage": row["ordinal"], "kind": row["kind"],
                "page": row["page_start"], "page_end": row["page_end"],  # PDF pages (None for text files)
                "url": f"/rapport/{row['report_id']}#passage-{row['ordinal']}",
                "scores": {
                    "keyword": signals.get(cid, {}).get("keyword", {}).get("score"),
                    "keyword_rank": signals.get(cid, {}).get("keyword", {}).get("rank"),
                    "semantic": signals.get(cid, {}).get("semantic", {}).get("score"),
                    "semantic_rank": signals.get(cid, {}).get("semantic", {}).get("rank"),
                },
                "highlights": highlight_spans(row["text"], stems),
                "also_in": [
                    {"report_id": rows[d]["report_id"], "municipality": rows[d]["municipality"], "year": rows[d]["year"],
                     "section": rows[d]["section"], "char_start": rows[d]["char_start"], "char_end": rows[d]["char_end"],
                     "chunk_id": d, "url": f"/rapport/{rows[d]['report_id']}#passage-{rows[d]['ordinal']}"}
                    for d in dups
                ],
            }
            hits.append(hit)
        return hits


_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vectors")
    return _POOL


def highlight_spans(text: str, stems: set[str]) -> list[list[int]]:
    """[start, end] offsets (within ``text``) of words that match a query stem."""
    if not stems:
        return []
    prefixes = tuple(s for s in stems if len(s) >= PREFIX_MIN_LEN)
    spans = []
    for m in swedish.WORD_RE.finditer(text):
        word = m.group(0).lower()
        terms = swedish.index_terms(word)
        if any(t in stems or (prefixes and t.startswith(prefixes)) for t in terms):
            spans.append([m.start(), m.end()])
    return spans


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("select 1 from sqlite_master where name = ?", [name]).fetchone() is not None
