"""The build's embedding step, streamed: memory bounded by a buffer, not by the corpus.

While the build writes the reports, each passage's embedding text, its sentence windows and
its lexical topic tags are staged on disk (tables in the build's private staging file, next
to the temporary database), never collected in memory. The embedding step then reads the
distinct texts back ``BUFFER`` at a time, looks them up in the content-hash cache, sorts the
misses by length (so batches stay full of similar lengths) and embeds them, committing new
vectors to the cache batch by batch, and stages each buffer's vectors. The vectors are then
copied to ``chunk_embeddings`` / ``chunk_windows`` in passage order, and the semantic topic
tags are computed in two streamed passes over them (the topic statistics first, then the
z-scores per passage). What a build holds is one buffer of texts and vectors (≈4 096 × 3 KB),
whatever the corpus size: the database is the same as when everything was held in memory.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
import time
from typing import Callable, Iterable, Iterator

import numpy as np

from .embeddings import Embedder, EmbeddingCache, from_blob, to_blob

BUFFER = 4096      # distinct texts read, looked up and embedded at a time
FLUSH_EVERY = 128  # texts embedded between two commits to the cache (as embeddings.embed_with_cache)
ROWS = 2048        # rows per read when copying vectors and tagging


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Pending:
    """What the embedding step and the topic tags will need, staged in the build's private staging SQLite file."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.executescript("""
            create table if not exists embed_text (hash text primary key, text text) without rowid;
            create table if not exists embed_chunk (chunk_id integer primary key, report_id text, hash text, tags blob);
            create table if not exists embed_window (id integer primary key, chunk_id integer, ordinal integer,
                                                     char_start integer, char_end integer, hash text);
            create table if not exists embed_vector (hash text primary key, vector blob) without rowid;
            create table if not exists table_tag (id integer primary key, table_id text, topic_id text, score real,
                                                  method text, evidence text, report_id text);
        """)
        self.order = 0
        self.windows = 0

    def add_text(self, text: str) -> str:
        h = text_key(text)
        self.conn.execute("insert or ignore into embed_text values (?, ?)", (h, text))
        return h

    def add_chunk(self, chunk_id: int, report_id: str, text: str | None, tags: list) -> None:
        h = self.add_text(text) if text is not None else None
        self.conn.execute("insert into embed_chunk values (?, ?, ?, ?)",
                          (chunk_id, report_id, h, pickle.dumps(tags, protocol=pickle.HIGHEST_PROTOCOL)))

    def add_window(self, chunk_id: int, ordinal: int, start: int, end: int, text: str) -> None:
        self.windows += 1
        self.conn.execute("insert into embed_window values (?, ?, ?, ?, ?, ?)",
                          (self.windows, chunk_id, ordinal, start, end, self.add_text(text)))

    def add_table_tags(self, rows: Iterable[dict]) -> None:
        self.conn.executemany("insert into table_tag (table_id, topic_id, score, method, evidence, report_id) "
                              "values (:table_id, :topic_id, :score, :method, :evidence, :report_id)", rows)

    def table_tags(self) -> Iterator[dict]:
        """The tables' lexical topic tags, in the order they were added."""
        names = ("table_id", "topic_id", "score", "method", "evidence", "report_id")
        for row in _rows(self.conn.execute(f"select {', '.join(names)} from table_tag order by id")):
            yield dict(zip(names, row))

    def commit(self) -> None:
        self.conn.commit()

    def texts(self) -> Iterator[list[tuple[str, str]]]:
        """The distinct texts, ``BUFFER`` at a time (in hash order: stable for a given corpus)."""
        cur = self.conn.execute("select hash, text from embed_text")
        while True:
            part = cur.fetchmany(BUFFER)
            if not part:
                return
            yield part

    def count_texts(self) -> int:
        return self.conn.execute("select count(*) from embed_text").fetchone()[0]

    def store_vectors(self, items: dict[str, np.ndarray]) -> None:
        self.conn.executemany("insert or replace into embed_vector values (?, ?)",
                              [(h, to_blob(v)) for h, v in items.items()])
        self.conn.commit()

    def chunk_vectors(self) -> Iterator[tuple[int, bytes]]:
        """(passage id, vector blob) in passage order."""
        yield from _rows(self.conn.execute(
            "select c.chunk_id, v.vector from embed_chunk c join embed_vector v on v.hash = c.hash order by c.chunk_id"))

    def window_rows(self) -> Iterator[dict]:
        for wid, cid, ordinal, start, end, blob in _rows(self.conn.execute(
                "select w.id, w.chunk_id, w.ordinal, w.char_start, w.char_end, v.vector from embed_window w "
                "join embed_vector v on v.hash = w.hash order by w.id")):
            yield {"id": wid, "chunk_id": cid, "ordinal": ordinal, "char_start": start, "char_end": end, "vector": blob}

    def tagged_chunks(self, with_vectors: bool) -> Iterator[list[tuple[int, str, list, bytes | None]]]:
        """(passage id, report id, lexical tags, vector blob or None), ``ROWS`` at a time, in passage order."""
        sql = ("select c.chunk_id, c.report_id, c.tags, v.vector from embed_chunk c left join embed_vector v "
               "on v.hash = c.hash order by c.chunk_id") if with_vectors else \
            "select chunk_id, report_id, tags, null from embed_chunk order by chunk_id"
        cur = self.conn.execute(sql)
        while True:
            part = cur.fetchmany(ROWS)
            if not part:
                return
            yield [(cid, rid, pickle.loads(tags), blob) for cid, rid, tags, blob in part]


def _rows(cur: sqlite3.Cursor) -> Iterator[tuple]:
    while True:
        part = cur.fetchmany(ROWS)
        if not part:
            return
        yield from part


def embed_pending(embedder: Embedder, pending: Pending, cache: EmbeddingCache | None, batch_size: int = 16,
                  progress_factory: Callable | None = None, flush_every: int = FLUSH_EVERY) -> dict:
    """Embed every staged text not in the cache, ``BUFFER`` texts at a time; returns the statistics."""
    total = pending.count_texts()
    stats = {"total": total, "cached": 0, "embedded": 0, "seconds": 0.0}
    bar = progress_factory(total) if progress_factory else None
    try:
        for part in pending.texts():
            texts = dict(part)
            found = cache.get_many(list(texts)) if cache else {}
            stats["cached"] += len(found)
            if bar and found:
                bar.update(len(found))
            # length-sorted within the buffer: each batch holds texts of similar length
            todo = sorted((h for h in texts if h not in found), key=lambda h: len(texts[h]))
            t0 = time.perf_counter() if todo else None
            for i in range(0, len(todo), flush_every):
                keys = todo[i: i + flush_every]
                vecs = embedder.embed_passages([texts[h] for h in keys], batch_size=batch_size,
                                               progress=bar.update if bar else None)
                new = dict(zip(keys, vecs))
                if cache:
                    cache.put_many(new)
                found.update(new)
                stats["embedded"] += len(keys)
            if t0 is not None:
                stats["seconds"] += time.perf_counter() - t0
            pending.store_vectors(found)
    finally:
        if bar:
            bar.close()
    return stats


class TopicStats:
    """Mean and standard deviation of each topic's similarity over all passages, one batch at a time
    (Chan et al.'s pairwise update, in float64)."""

    def __init__(self, topics: int):
        self.n = 0
        self.mean = np.zeros(topics)
        self.m2 = np.zeros(topics)

    def add(self, sims: np.ndarray) -> None:
        n_b = len(sims)
        if not n_b:
            return
        s = sims.astype(np.float64)
        mean_b = s.mean(axis=0)
        m2_b = ((s - mean_b) ** 2).sum(axis=0)
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / n
        self.m2 = self.m2 + m2_b + delta ** 2 * self.n * n_b / n
        self.n = n

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.n, 1))


def matrix(blobs: Iterable[bytes], dimensions: int) -> np.ndarray:
    return np.vstack([from_blob(b, dimensions) for b in blobs])
