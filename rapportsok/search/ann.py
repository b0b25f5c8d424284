"""Approximate nearest neighbours: an HNSW index (usearch) next to the database, above a size.

Below ``ann_above()`` vectors the server scans every vector exactly (``CorpusIndex.similarities``).
Above it the build writes ``<database>.hnsw`` beside the database, one file:

* a header (magic, then JSON: the SHA-256 of the vectors it indexes, counts, offsets, parameters);
* the float32 vectors in the database's row order and ``vector_row`` (vector → passage row):
  the server memory-maps them instead of loading the vectors from SQLite, and scores ANN
  candidates and filtered rows with them exactly;
* a usearch HNSW graph over int8 copies of the vectors (scaled per row, cosine metric),
  memory-mapped with ``Index.view``;
* identical vectors once: the graph holds the first of each set of bit-identical vectors
  (boilerplate repeated across monthly reports, a passage and its one-sentence window), and a
  copy table lists the others. A query scores the graph's candidates exactly and gives every
  copy its first's score, so copies are found exactly as the exact scan finds them. (Thousands
  of identical points in an HNSW graph link mostly to each other and trap the greedy search in
  their clique; measured in the README, "Benchmarks".)

The database records the same SHA-256 in ``build_info`` (key ``ann_index``). The server refuses
an index whose hash differs (stale: from another build; foreign: from another database) with a
message naming both. The build writes the file under a temporary name and renames it together
with the database; an unchanged rebuild (same vectors, same hash) reuses the previous file
instead of building the graph again.
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import sqlite3
import struct
import time
from pathlib import Path

import numpy as np

from ..errors import RapportsokError

MAGIC = b"RAPPORTSOK-HNSW\x01"
FORMAT = 2            # 2: identical vectors stored once in the graph, with a copy table
ALIGN = 4096
ANN_ABOVE = 200_000   # vectors; measured in benchmarks/search_benchmark.py (README, "Scale")
CONNECTIVITY = 32     # HNSW links per node (16 lost recall on near-duplicate passages)
EXPANSION_ADD = 64    # candidate list while building the graph
# A graph built on several threads links its nodes in a different order each time, so its answers
# vary from build to build; below this many vectors it is built on one thread – the same bytes every
# build (reproducible, testable) for a few seconds more (50 000 vectors: 20 s on one core, 12 s on two).
SINGLE_THREAD_BELOW = 50_000
FETCH = int(os.environ.get("RAPPORTSOK_ANN_FETCH", 1500))  # candidates from the graph per query, scored exactly
# (1 000 → 1 500: recall@10 0.952 → 0.980 on 1M mixed vectors for ≈2 CPU-ms; README, "Benchmarks")
SCORE_BLOCK = 1000    # rows per matrix-vector product when scoring candidates (see exact_scores)
MAX_FETCH = 20_000    # a filter so narrow that more would be needed is scanned exactly instead


def _usearch_index():
    """usearch's ``Index``. ONNX Runtime (the query embedder) is imported first: importing it
    after usearch 2.26 crashes the process (segmentation fault in onnxruntime's import, seen
    with onnxruntime 1.32); the other order works."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        pass
    from usearch.index import Index

    return Index


RECORD = ("vectors_sha256", "vectors", "passages", "dimensions", "connectivity", "expansion_add",
          "graph_vectors", "copies")   # the header fields recorded in the database's build_info


def ann_above() -> int:
    """Vectors above which the build writes an HNSW index (``RAPPORTSOK_ANN_ABOVE`` overrides)."""
    return int(os.environ.get("RAPPORTSOK_ANN_ABOVE", ANN_ABOVE))


def index_path(db_path: Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".hnsw")


class AnnIndexRefused(RapportsokError):
    """The HNSW index beside the database was not built from this database's vectors."""


def vectors_hash(vectors: np.ndarray, vector_row: np.ndarray | None) -> str:
    """SHA-256 of the float32 vectors (row order) and of the vector → passage-row map."""
    h = hashlib.sha256()
    h.update(struct.pack("<qq", *vectors.shape))
    step = 65_536
    for i in range(0, len(vectors), step):
        h.update(np.ascontiguousarray(vectors[i: i + step], dtype="<f4").tobytes())
    rows = np.arange(len(vectors), dtype="<i4") if vector_row is None else np.asarray(vector_row, dtype="<i4")
    h.update(rows.tobytes())
    return h.hexdigest()


def quantise(vectors: np.ndarray) -> np.ndarray:
    """int8 with one scale per row (the largest component → ±127); cosine ignores the scale."""
    v = np.atleast_2d(vectors).astype(np.float32)
    peak = np.abs(v).max(axis=1, keepdims=True)
    peak[peak == 0] = 1.0
    return np.round(v / peak * 127).astype(np.int8)


def copies(vectors: np.ndarray) -> np.ndarray:
    """For each vector, the number of the first vector bit-identical to it (itself if none
    before it). Rows are hashed to 64 bits (integer arithmetic on their bytes, so equal rows
    always hash equal); rows sharing a hash are compared byte for byte before joining."""
    n, dim = vectors.shape
    rng = np.random.default_rng(20261125)
    mult = rng.integers(1, 2 ** 63, dim, dtype=np.uint64) | np.uint64(1)
    fp = np.empty(n, dtype=np.uint64)
    step = 20_000   # ≈60 MB of 64-bit words at a time
    with np.errstate(over="ignore"):
        for i in range(0, n, step):
            words = np.ascontiguousarray(vectors[i: i + step], dtype="<f4").view("<u4").astype(np.uint64)
            words ^= words >> np.uint64(7)
            fp[i: i + step] = (words * mult).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(fp, return_index=True, return_inverse=True)
    rep = first[inverse.reshape(-1)].astype(np.int64)
    dup = np.flatnonzero(rep != np.arange(n))
    for i in range(0, len(dup), step):   # a hash collision keeps its row apart
        d = dup[i: i + step]
        same = (np.asarray(vectors[d]) == np.asarray(vectors[rep[d]])).all(axis=1)
        rep[d[~same]] = d[~same]
    return rep


def read_header(path: Path) -> dict:
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + 8)
        if len(head) < len(MAGIC) + 8 or head[: len(MAGIC)] != MAGIC:
            raise AnnIndexRefused(f"{path}: not a Rapportsök HNSW index (wrong magic); rebuild with 'rapportsok build' or delete it")
        (length,) = struct.unpack("<q", head[len(MAGIC):])
        return json.loads(f.read(length).decode("utf-8"))


def _pad(f) -> int:
    pos = f.tell()
    if pos % ALIGN:
        f.write(b"\0" * (ALIGN - pos % ALIGN))
    return f.tell()


def write_index(vectors: np.ndarray, vector_row: np.ndarray | None, path: Path, passages: int,
                digest: str | None = None) -> dict:
    """Build the HNSW graph over ``vectors`` and write the index file at ``path`` (fsynced)."""
    Index = _usearch_index()
    t = time.perf_counter()
    digest = digest or vectors_hash(vectors, vector_row)
    n, dim = vectors.shape
    rep = copies(vectors)
    distinct = np.flatnonzero(rep == np.arange(n))
    dup = np.flatnonzero(rep != np.arange(n))
    dup = dup[np.argsort(rep[dup], kind="stable")]          # copies grouped by their first, in order
    copy_keys, copy_counts = np.unique(rep[dup], return_counts=True)
    copy_starts = np.zeros(len(copy_keys) + 1, dtype="<i8")
    np.cumsum(copy_counts, out=copy_starts[1:])
    graph = Index(ndim=dim, metric="cos", dtype="i8", connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD)
    step = 100_000
    threads = 1 if len(distinct) < SINGLE_THREAD_BELOW else os.cpu_count() or 1
    for i in range(0, len(distinct), step):
        keys = distinct[i: i + step]
        graph.add(keys.astype(np.uint64), quantise(vectors[keys]), threads=threads)
    blob = graph.save()
    rows = np.arange(n, dtype="<i4") if vector_row is None else np.asarray(vector_row, dtype="<i4")
    header = {"format": FORMAT, "vectors_sha256": digest, "vectors": n, "passages": passages, "dimensions": dim,
              "metric": "cos", "graph_dtype": "i8", "connectivity": CONNECTIVITY, "expansion_add": EXPANSION_ADD,
              "graph_vectors": len(distinct), "copies": len(dup), "copy_keys": len(copy_keys)}
    # offsets depend on the header's own length: reserve a fixed-size header block
    header_block = ALIGN
    matrix_offset = header_block
    rows_offset = matrix_offset + n * dim * 4
    rows_offset += (-rows_offset) % ALIGN
    keys_offset = rows_offset + n * 4
    keys_offset += (-keys_offset) % ALIGN
    starts_offset = keys_offset + len(copy_keys) * 4
    starts_offset += (-starts_offset) % ALIGN
    members_offset = starts_offset + len(copy_starts) * 8
    members_offset += (-members_offset) % ALIGN
    graph_offset = members_offset + len(dup) * 4
    graph_offset += (-graph_offset) % ALIGN
    header |= {"matrix_offset": matrix_offset, "vector_row_offset": rows_offset, "copy_keys_offset": keys_offset,
               "copy_starts_offset": starts_offset, "copy_members_offset": members_offset,
               "graph_offset": graph_offset, "graph_bytes": len(blob)}
    text = json.dumps(header).encode("utf-8")
    if len(MAGIC) + 8 + len(text) > header_block:
        raise RapportsokError("HNSW header too long")
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<q", len(text)) + text)
        _pad(f)
        for i in range(0, n, step):
            f.write(np.ascontiguousarray(vectors[i: i + step], dtype="<f4").tobytes())
        _pad(f)
        f.write(rows.tobytes())
        _pad(f)
        f.write(copy_keys.astype("<i4").tobytes())
        _pad(f)
        f.write(copy_starts.tobytes())
        _pad(f)
        f.write(dup.astype("<i4").tobytes())
        _pad(f)
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    return {k: header[k] for k in RECORD} | {"seconds": round(time.perf_counter() - t, 1)}


def attach(db_path: Path, out: Path, reuse: Path | None = None, threshold: int | None = None) -> dict | None:
    """Write the HNSW index of the database at ``db_path`` to ``out`` if it has more than
    ``threshold`` vectors, and record it in the database's ``build_info`` (key ``ann_index``).

    The vectors are read as the server reads them (``CorpusIndex``), so the index follows the
    vector layout whatever it is. ``reuse``: a previous index file; if it holds the same
    vectors it is hard-linked instead of building the graph again. Returns the record or None.
    """
    from .index import CorpusIndex

    threshold = ann_above() if threshold is None else threshold
    if _vector_count(db_path) <= threshold:
        return None   # counted in SQL first: a small corpus never loads its vectors here
    idx = CorpusIndex(db_path, vector_dtype="float32", ann=False)
    if idx.vectors is None or len(idx.vectors) <= threshold:
        return None
    vectors, vector_row = idx.vectors, getattr(idx, "vector_row", None)
    digest = vectors_hash(vectors, vector_row)
    record = None
    out.unlink(missing_ok=True)
    if reuse is not None and reuse.exists():
        try:
            old = read_header(reuse)
        except (RapportsokError, ValueError, OSError):
            old = {}
        if old.get("vectors_sha256") == digest:
            os.link(reuse, out)
            record = {k: old[k] for k in RECORD if k in old} | {"seconds": 0.0, "reused": True}
    if record is None:
        record = write_index(vectors, vector_row, out, passages=len(idx.chunk_ids), digest=digest)
    del idx, vectors
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("insert or replace into build_info (key, value) values ('ann_index', ?)", [json.dumps(record)])
    conn.close()
    return record


def _vector_count(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        return sum(conn.execute(f"select count(*) from {t}").fetchone()[0]
                   for t in ("chunk_embeddings", "chunk_windows") if t in tables)
    finally:
        conn.close()


class AnnIndex:
    """The memory-mapped index file: exact float32 vectors, ``vector_row`` and the HNSW graph."""

    def __init__(self, path: Path, expected_hash: str, db_path: Path | None = None):
        Index = _usearch_index()
        self.path = Path(path)
        if not self.path.exists():
            raise AnnIndexRefused(f"{self.path}: HNSW index missing; the database {db_path} was built with one "
                                  f"(vectors {expected_hash}); copy it beside the database or rebuild")
        header = read_header(self.path)
        found = header.get("vectors_sha256")
        if found != expected_hash:
            raise AnnIndexRefused(
                f"{self.path}: HNSW index refused: it was built from vectors {found}, but the database "
                f"{db_path or ''} has vectors {expected_hash} (stale index from another build, or from another "
                "database); rebuild with 'rapportsok build' or put the database's own index beside it")
        self.header = header
        n, dim = header["vectors"], header["dimensions"]
        self._file = open(self.path, "rb")
        self._mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self.vectors = np.frombuffer(self._mm, dtype="<f4", count=n * dim, offset=header["matrix_offset"]).reshape(n, dim)
        self.vector_row = np.frombuffer(self._mm, dtype="<i4", count=n, offset=header["vector_row_offset"])
        # the copy table (format 2): vectors identical to an earlier one, which the graph leaves out
        m = header.get("copy_keys", 0)
        self.copy_keys = np.frombuffer(self._mm, dtype="<i4", count=m, offset=header["copy_keys_offset"]) if m else None
        self.copy_starts = np.frombuffer(self._mm, dtype="<i8", count=m + 1, offset=header["copy_starts_offset"]) if m else None
        self.copy_members = np.frombuffer(self._mm, dtype="<i4", count=header["copies"],
                                          offset=header["copy_members_offset"]) if m else None
        self.graph = Index(ndim=dim, metric="cos", dtype="i8")
        start = header["graph_offset"]
        self.graph.view(memoryview(self._mm)[start: start + header["graph_bytes"]])
        graph_vectors = header.get("graph_vectors", n)
        if len(self.graph) != graph_vectors:
            raise AnnIndexRefused(f"{self.path}: HNSW graph holds {len(self.graph)} vectors, header says {graph_vectors}")

    def candidates(self, qv: np.ndarray, count: int) -> np.ndarray:
        """Vector numbers of about the ``count`` nearest distinct vectors (approximate), sorted."""
        count = min(count, len(self.graph))
        self.graph.expansion_search = count
        keys = self.graph.search(quantise(qv)[0], count, threads=1).keys
        return np.sort(keys.astype(np.int64))

    def scored(self, qv: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The graph's ``count`` candidates and all their copies: vector numbers and exact
        float32 similarities (a copy has its first's score: the same bits, scored once)."""
        keys = self.candidates(qv, count)
        sims = exact_scores(self.vectors, keys, qv)
        if self.copy_keys is None or not len(keys):
            return keys, sims
        pos = np.minimum(np.searchsorted(self.copy_keys, keys), len(self.copy_keys) - 1)
        has = np.flatnonzero(self.copy_keys[pos] == keys)
        if not len(has):
            return keys, sims
        starts, ends = self.copy_starts[pos[has]], self.copy_starts[pos[has] + 1]
        counts = ends - starts
        offsets = np.zeros(len(has), dtype=np.int64)
        np.cumsum(counts[:-1], out=offsets[1:])
        idx = np.repeat(starts - offsets, counts) + np.arange(int(counts.sum()), dtype=np.int64)
        members = self.copy_members[idx].astype(np.int64)
        return np.concatenate([keys, members]), np.concatenate([sims, np.repeat(sims[has], counts)])


def exact_scores(vectors: np.ndarray, keys: np.ndarray, qv: np.ndarray) -> np.ndarray:
    """``vectors[keys] @ qv`` in blocks of ``SCORE_BLOCK`` rows: above ≈1 000 rows OpenBLAS runs a
    matrix-vector product on several threads, which costs ≈8 ms of waking threads on a busy
    machine for ≈0.5 ms of work (measured at 1 500 rows; README, "Benchmarks")."""
    out = np.empty(len(keys), dtype=np.float32)
    for i in range(0, len(keys), SCORE_BLOCK):
        out[i: i + SCORE_BLOCK] = vectors[keys[i: i + SCORE_BLOCK]] @ qv
    return out


def fetch_count(k: int, selected: int, rows: int, vectors: int) -> int:
    """Candidates to take from the graph so that ``k`` passages among ``selected`` of ``rows``
    survive the filter: FETCH, more for a filter in proportion to its selectivity."""
    per_passage = vectors / max(rows, 1)
    need = math.ceil(k * per_passage * 2 * rows / max(selected, 1))
    return max(FETCH, need)
