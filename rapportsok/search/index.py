"""The corpus index: what every signal shares, loaded once from the immutable database.

Passage ids, filter columns as small integer codes (kommun, year, report type, kind,
report), the filter mask, one SQLite connection per thread, and the vectors behind one call
(:meth:`CorpusIndex.similarities`: one value per passage, the best of its passage vector and
its sentence-window vectors), so an approximate-nearest-neighbour index can replace the
brute-force scan without touching the signals.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..embeddings import Embedder, ModelContract, embedder_for_contract, from_blob
from .. import prefix_offset
from ..errors import RapportsokError, SearchError
from ..query import SearchRequest
from . import ann as ann_module
from .ann import AnnIndex, index_path as ann_index_path

INT8_ABOVE = 250_000   # "auto" keeps float32 vectors up to this many passages, int8 above
BLOCK = 65_536         # rows per block when scoring int8 vectors
# sentence-window vectors (table chunk_windows) join their passage's score; RAPPORTSOK_WINDOWS=0 ignores them
WINDOWS = os.environ.get("RAPPORTSOK_WINDOWS", "1") != "0"
# OpenBLAS threads per search process (threadpoolctl). A search's matrix products are small (the
# exact scan of a small corpus, HNSW candidates); above a size OpenBLAS splits them over both
# cores and its threads then busy-wait, which doubled the CPU of a search (12.6 → 24.6 ms, same
# wall time) once the windows grew to 1 726 vectors – and a server runs a process per core anyway.
# The int8 scan of a large corpus splits its own blocks over both cores (``_pool``). README, session 14.
BLAS_THREADS = int(os.environ.get("RAPPORTSOK_BLAS_THREADS", "1"))
_BLAS_LIMITED = False


def limit_blas_threads() -> None:
    """Once per process: at most ``BLAS_THREADS`` OpenBLAS threads (0 = leave as is)."""
    global _BLAS_LIMITED
    if _BLAS_LIMITED or BLAS_THREADS <= 0:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=BLAS_THREADS, user_api="blas")
    _BLAS_LIMITED = True


def connect_readonly(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


class RowOf(Mapping):
    """Passage id → index row, read from the sorted id array (``index_of[cid]``,
    ``cid in index_of``): the same answers as a dict without a Python object per passage."""

    def __init__(self, ids: np.ndarray):
        self.ids = ids

    def __getitem__(self, cid) -> int:
        i = int(np.searchsorted(self.ids, cid))
        if i < len(self.ids) and self.ids[i] == cid:
            return i
        raise KeyError(cid)

    def __contains__(self, cid) -> bool:
        try:
            self[cid]
        except (KeyError, TypeError):
            return False
        return True

    def __iter__(self):
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return len(self.ids)


class StaleIndex(Exception):
    """The database file was replaced by a new build after this index was loaded: a new
    connection would read the new build while the index (ids, vectors) describes the old one.
    The server reloads the index and retries the request (see ``plugins/rapportsok_site.py``)."""


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("select 1 from sqlite_master where name = ?", [name]).fetchone() is not None


class CorpusIndex:
    """Ids, filter codes, mask, connections and vectors of one built database."""

    def __init__(self, db_path: Path, embedder: Embedder | None = None, load_vectors: bool = True,
                 vector_dtype: str = "auto", ann: bool = True):
        self.db_path = Path(db_path)
        if not self.db_path.exists():
            raise RapportsokError(f"{self.db_path}: database not found; run 'rapportsok build' first")
        limit_blas_threads()
        self._local = threading.local()
        self._lock = threading.Lock()
        self.build_id: str | None = None
        self._codes: dict[str, dict[str, int]] = {}
        try:
            conn = self.conn()
            self.build_id = _build_id(conn)
            self._load_rows(conn)
        except sqlite3.DatabaseError as exc:
            raise RapportsokError(f"{self.db_path}: not a Rapportsök database ({exc})") from None
        # passage id → index row, answered from the sorted ids (no dict of a million ints)
        self.index_of = RowOf(self.chunk_ids)
        self.known_types = sorted(t for t in self._codes["type"] if t)
        self.vocab = {r[0]: r[1] for r in conn.execute("select term, doc from chunks_fts_vocab")}
        self.topic_table = table_exists(conn, "chunk_topics")
        # the collection: which kommun has a report in which year ("–" versus 0 in overviews)
        self.collection = [(r[0], r[1], r[2]) for r in conn.execute(
            "select distinct municipality, kommunkod, year from reports where kommunkod is not null")]
        self.contract: ModelContract | None = None
        self.vectors: np.ndarray | None = None       # float32 (n, dim), or int8 with per-row scales
        self.scales: np.ndarray | None = None
        n = len(self.chunk_ids)
        self.vector_row = np.arange(n, dtype=np.int32)   # passage row of each vector (see _load_vectors)
        self._win_start = np.zeros(n + 1, dtype=np.int64)
        self._win_rows = np.zeros(0, dtype=np.int64)
        self.ann: AnnIndex | None = None             # the HNSW index beside the database, if it has one
        self.prefix_offset: np.ndarray | None = None  # query → passage reading of the model (prefix_offset.py)
        if load_vectors and table_exists(conn, "embedding_model"):
            self.contract = ModelContract.from_json(conn.execute("select contract_json from embedding_model").fetchone()[0])
            self.prefix_offset = prefix_offset.load(conn)
            record = _build_info(conn, "ann_index")
            if ann and record:
                # vectors, vector_row and graph memory-mapped from the index file (refused if not this database's)
                self.ann = AnnIndex(ann_index_path(self.db_path), record["vectors_sha256"], self.db_path)
                self.vectors = self.ann.vectors
                self._set_layout(np.asarray(self.ann.vector_row, dtype=np.int32))
            else:
                self._load_vectors(conn, vector_dtype)
        self._embedder = embedder
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._topic_vectors: dict[str, np.ndarray] = {}   # "label. definition" → vector, kept for good

    def _load_rows(self, conn: sqlite3.Connection) -> None:
        """Ids and filter columns of every passage, as NumPy arrays: filter columns as small
        integer codes (comparisons over 1M passages take milliseconds). Read in batches, so
        no Python object per passage outlives its batch (at 1M passages a list of rows held
        ≈0.4 GB at once, and the process kept it after loading)."""
        cur = conn.cursor()
        cur.row_factory = None
        cur.execute("select c.id, c.kind, c.report_id, r.kommunkod, r.year, r.report_type from chunks c "
                    "join reports r on r.id = c.report_id order by c.id")
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("id", "kind", "report", "kommun", "year", "type")}
        for batch in _batches(cur):
            ids, kinds, reports, kommuner, years, types = zip(*batch)
            parts["id"].append(np.array(ids, dtype=np.int64))
            parts["kind"].append(self._encode("kind", kinds))
            parts["report"].append(self._encode("report", reports))
            parts["kommun"].append(self._encode("kommun", [k or "" for k in kommuner]))
            parts["year"].append(np.array([y if y is not None else -1 for y in years], dtype=np.int32))
            parts["type"].append(self._encode("type", [t or "" for t in types]))
        joined = {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64 if k == "id" else np.int32)
                  for k, v in parts.items()}
        self.chunk_ids = joined["id"]
        self.kind, self.report, self.kommun = joined["kind"], joined["report"], joined["kommun"]
        self.year, self.rtype = joined["year"], joined["type"]
        for name in ("kind", "report", "kommun", "type"):
            self._codes.setdefault(name, {})

    def _encode(self, name: str, values) -> np.ndarray:
        codes = self._codes.setdefault(name, {})
        return np.array([codes.setdefault(v, len(codes)) for v in values], dtype=np.int32)

    def _isin(self, name: str, column: np.ndarray, values: list[str]) -> np.ndarray:
        wanted = [self._codes[name][v] for v in values if v in self._codes[name]]
        return np.isin(column, np.array(wanted, dtype=np.int32)) if wanted else np.zeros(len(column), dtype=bool)

    @property
    def kommunkod(self) -> list[str]:
        """The kommunkod of every passage (for callers that want the strings)."""
        names = self.kommun_names()
        return [names[c] for c in self.kommun]

    def kommun_names(self) -> dict[int, str]:
        return {v: k for k, v in self._codes["kommun"].items()}

    def positions(self, ids) -> np.ndarray:
        """Positions (rows of the index) of passage ids; unknown ids are dropped."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids) or not len(self.chunk_ids):
            return np.zeros(0, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.chunk_ids, ids), 0, len(self.chunk_ids) - 1)
        return pos[self.chunk_ids[pos] == ids]

    # -- vectors ----------------------------------------------------------------------------
    def _load_vectors(self, conn: sqlite3.Connection, dtype: str) -> None:
        """Load every vector into one matrix (the database is immutable).

        Layout: the passage vectors first (vector i ↔ passage row i), then the sentence-window
        vectors (table ``chunk_windows``) sorted by passage row; ``vector_row[v]`` is the passage
        row of vector ``v``. float32 below ``INT8_ABOVE`` passages; above it int8 with one scale
        per vector, which quarters the memory (1M × 384 dims: 1.5 GB → 0.37 GB) for a small
        recall cost that ``benchmarks/search_benchmark.py`` measures.
        """
        n, dim = len(self.chunk_ids), self.contract.dimensions
        if dtype == "auto":
            dtype = "int8" if n > INT8_ABOVE else "float32"
        if dtype not in ("float32", "int8"):
            raise RapportsokError(f"vector_dtype {dtype!r}: use float32, int8 or auto")
        windows = table_exists(conn, "chunk_windows") and WINDOWS
        n_win = conn.execute("select count(*) from chunk_windows").fetchone()[0] if windows else 0
        total = n + n_win
        mat = np.zeros((total, dim), dtype=np.float32 if dtype == "float32" else np.int8)
        scales = np.ones(total, dtype=np.float32) if dtype == "int8" else None
        vector_row = np.empty(total, dtype=np.int32)
        vector_row[:n] = np.arange(n, dtype=np.int32)

        def fill(cids: list[int], blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
            vecs = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)
            rows = self.positions(cids) if cids else np.zeros(0, dtype=np.int64)
            if len(rows) != len(cids):
                raise RapportsokError(f"{self.db_path}: vectors of passages that do not exist")
            return vecs, rows

        def put(at: np.ndarray, vecs: np.ndarray) -> None:
            if scales is None:
                mat[at] = vecs
            else:
                s = np.abs(vecs).max(axis=1) / 127
                s[s == 0] = 1.0
                mat[at] = np.round(vecs / s[:, None])
                scales[at] = s

        for part in _batches(conn.execute("select chunk_id, vector from chunk_embeddings")):
            vecs, rows = fill([r[0] for r in part], [r[1] for r in part])
            put(rows, vecs)
        at = n
        if n_win:
            for part in _batches(conn.execute("select chunk_id, vector from chunk_windows order by chunk_id, id")):
                vecs, rows = fill([r[0] for r in part], [r[1] for r in part])
                put(np.arange(at, at + len(part)), vecs)
                vector_row[at: at + len(part)] = rows
                at += len(part)
        self.vectors, self.scales = mat, scales
        self._set_layout(vector_row)

    def _set_layout(self, vector_row: np.ndarray) -> None:
        """``vector_row`` and the window ranges that :meth:`similarities` folds with."""
        n = len(self.chunk_ids)
        self.vector_row = vector_row
        # window vectors per passage row as ranges [win_start[r], win_start[r + 1]) of the window block
        counts = np.bincount(vector_row[n:], minlength=n)
        self._win_start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=self._win_start[1:])
        self._win_rows = np.flatnonzero(counts).astype(np.int64)   # passage rows that have windows

    @property
    def has_vectors(self) -> bool:
        return self.vectors is not None

    @property
    def n_windows(self) -> int:
        return 0 if self.vectors is None else len(self.vectors) - len(self.chunk_ids)

    def _dot(self, qv: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
        """``vectors[idx] @ qv`` (int8: rescaled), in blocks on both cores when large."""
        mat = self.vectors[idx]
        if self.scales is None:
            return mat @ qv
        scales = self.scales[idx]
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

    def similarities(self, qv: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine similarity of ``qv`` with every passage (or only ``rows``): the one vector call.

        One value per passage row: the best of the passage's vectors (its own and its
        sentence windows'), so a one-sentence answer inside a long passage is not diluted.
        """
        n = len(self.chunk_ids)
        if rows is None:
            sims = self._dot(qv, slice(None))
            out = sims[:n].copy()
            if len(self._win_rows):
                # windows are sorted by passage row: one reduceat over the window block
                best = np.maximum.reduceat(sims[n:], self._win_start[self._win_rows])
                out[self._win_rows] = np.maximum(out[self._win_rows], best)
            return out
        rows = np.asarray(rows, dtype=np.int64)
        out = self._dot(qv, rows)
        if not len(self._win_rows):
            return out
        starts, ends = self._win_start[rows], self._win_start[rows + 1]
        counts = ends - starts
        has = np.flatnonzero(counts)
        if not len(has):
            return out
        c = counts[has]
        offsets = np.zeros(len(has), dtype=np.int64)
        np.cumsum(c[:-1], out=offsets[1:])
        # the window vectors of the chosen rows, in row order (a CSR gather)
        idx = np.repeat(starts[has] - offsets, c) + np.arange(int(c.sum()), dtype=np.int64) + n
        best = np.maximum.reduceat(self._dot(qv, idx), offsets)
        out[has] = np.maximum(out[has], best)
        return out

    def best_windows(self, qv: np.ndarray, ids: list[int]) -> dict[int, list[int]]:
        """For each passage in ``ids`` whose best vector for ``qv`` is one of its sentence windows
        (not the passage as a whole): that window's ``[start, end]`` in the passage text."""
        n = len(self.chunk_ids)
        rows = {cid: self.index_of[cid] for cid in ids if cid in self.index_of}
        rows = {cid: r for cid, r in rows.items() if self._win_start[r + 1] > self._win_start[r]}
        if self.vectors is None or not rows:
            return {}
        offsets: dict[int, list[tuple[int, int]]] = {}
        for cid, a, b in self.conn().execute(
                f"select chunk_id, char_start, char_end from chunk_windows where chunk_id in ({','.join('?' * len(rows))}) "
                "order by chunk_id, ordinal", list(rows)):
            offsets.setdefault(cid, []).append((a, b))
        out = {}
        for cid, r in rows.items():
            first, last = n + self._win_start[r], n + self._win_start[r + 1]
            spans = offsets.get(cid, [])
            if len(spans) != last - first:
                continue
            sims = self._dot(qv, np.arange(first, last))
            j = int(np.argmax(sims))
            if sims[j] > self._dot(qv, np.array([r]))[0]:
                out[cid] = list(spans[j])
        return out

    def passage_vectors(self) -> np.ndarray | None:
        """One float32 vector per passage row (its own, without windows)."""
        if self.vectors is None:
            return None
        n = len(self.chunk_ids)
        mat = self.vectors[:n]
        return mat if self.scales is None else mat.astype(np.float32) * self.scales[:n, None]

    def nearest(self, qv: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, str]:
        """The ``k`` passage rows most similar to ``qv`` (among ``mask`` if given), best first,
        their similarities (max over a passage's vectors) and how they were found ("exact" or "hnsw").

        Exact below the ANN size (every vector scored). With an HNSW index: candidates from the
        graph, scored exactly with the float32 vectors, folded to passages, filtered by ``mask``;
        a filter too narrow for that is scanned exactly over its own rows (always exact), and
        if the graph's candidates leave fewer than ``k`` passages the exact scan answers.
        """
        n_rows = len(self.chunk_ids)
        selected = n_rows if mask is None else int(mask.sum())
        k = min(k, selected)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), "exact"
        if self.ann is not None:
            fetch = ann_module.fetch_count(k, selected, n_rows, len(self.vectors))
            if fetch <= ann_module.MAX_FETCH and selected > fetch:
                found = self._ann_nearest(qv, k, mask, fetch)
                if found is not None:
                    return (*found, "hnsw")
        if mask is None or selected > 0.3 * n_rows:
            rows = None   # a broad filter: scoring everything and masking is cheaper than gathering rows
            sims = self.similarities(qv)
            if mask is not None:
                sims = np.where(mask, sims, -np.inf)
        else:
            rows = np.flatnonzero(mask)
            sims = self.similarities(qv, rows)
        top = _top(sims, k)
        return (top if rows is None else rows[top]), sims[top], "exact"

    def _ann_nearest(self, qv: np.ndarray, k: int, mask: np.ndarray | None, fetch: int):
        keys, sims = self.ann.scored(qv, fetch)              # exact float32 scores, copies included
        rows = self.vector_row[keys].astype(np.int64)
        if mask is not None:
            keep = mask[rows]
            rows, sims = rows[keep], sims[keep]
        if self.n_windows and len(rows):
            order = np.lexsort((-sims, rows))                # per passage, its best vector first
            rows, sims = rows[order], sims[order]
            first = np.ones(len(rows), dtype=bool)
            first[1:] = rows[1:] != rows[:-1]
            rows, sims = rows[first], sims[first]
        if len(rows) < k:
            return None
        top = np.lexsort((rows, -sims))[:k]                 # ties: the lower row first, as the exact scan
        return rows[top], sims[top]

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

    def topic_vector(self, text: str) -> np.ndarray:
        """A topic description embedded as a query (what a query naming the topic is joined by):
        the same vector as :meth:`query_vector` gives, but kept for good – there are a few dozen,
        and a query cache full of other questions must not make the next "SSPF" embed its topic's
        60-token description again (≈25 ms)."""
        vec = self._topic_vectors.get(text)
        if vec is None:
            vec = self.embedder().embed_query(text)
            with self._lock:
                self._topic_vectors[text] = vec
        return vec

    def warm(self) -> None:
        """What a server does before its first visitor: load the query model and embed every
        topic's description (one query each, as a search would; ≈1 s once per process)."""
        if self.contract is None:
            return
        from .. import topics

        self.query_vector("familjehem")
        for t in topics.load_topics():
            self.topic_vector(f"{t.label}. {t.definition}")

    def passage_read_vector(self, q: str) -> np.ndarray:
        """``q`` embedded as a passage (cached beside the query vectors)."""
        return self._cached(("passage", q), lambda: self.embedder().embed_query_as_passage(q))

    def query_vector(self, q: str) -> np.ndarray:
        return self._cached(q, lambda: self.embedder().embed_query(q))

    def _cached(self, key, compute) -> np.ndarray:
        """The last 512 query embeddings, by ``key``."""
        with self._lock:
            if key in self._query_cache:
                self._query_cache.move_to_end(key)
                return self._query_cache[key]
        vec = compute()
        with self._lock:
            self._query_cache[key] = vec
            if len(self._query_cache) > 512:
                self._query_cache.popitem(last=False)
        return vec

    # -- plumbing ---------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        """This thread's connection. Connections are immutable snapshots of the file they
        opened; a new one is checked against the build this index was loaded from."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = connect_readonly(self.db_path)
            if self.build_id is not None and _build_id(c) != self.build_id:
                c.close()
                raise StaleIndex(f"{self.db_path} was rebuilt after the search index was loaded")
            self._local.conn = c
        return c

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
            m &= np.isin(self.chunk_ids, self.topic_ids(req.topics))
        return m

    def topic_ids(self, topic_ids: list[str]) -> list[int]:
        """Passages tagged with any of the topics (the topic page counts the same ones)."""
        return sorted({r[0] for r in self.conn().execute(
            f"select chunk_id from chunk_topics where topic_id in ({','.join('?' * len(topic_ids))})", topic_ids)})

    def filtered(self, req: SearchRequest) -> bool:
        return bool(req.kommunkoder or req.year_from is not None or req.year_to is not None or req.report_types
                    or req.kind or req.report_id or (req.topics and self.topic_table))


def _top(sims: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``sims``, best first; equal values: the lower position first
    (so identical vectors rank the same way whichever search found them)."""
    kth = np.partition(sims, len(sims) - k)[len(sims) - k]
    above = np.flatnonzero(sims > kth)
    top = np.concatenate([above, np.flatnonzero(sims == kth)[: k - len(above)]])
    return top[np.lexsort((top, -sims[top]))]


def _build_info(conn: sqlite3.Connection, key: str):
    try:
        row = conn.execute("select value from build_info where key = ?", [key]).fetchone()
    except sqlite3.DatabaseError:
        return None
    return json.loads(row[0]) if row else None


def _build_id(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("select value from build_info where key in ('build_id', 'built_at') "
                           "order by key = 'build_id' desc limit 1").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _batches(cursor, size: int = 65_536):
    while True:
        part = cursor.fetchmany(size)
        if not part:
            return
        yield part


_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vectors")
    return _POOL
