"""Keyword ranking without scoring every match: BM25 per phrase, stored at build time.

FTS5 scores every passage that matches a query with ``bm25()`` – 1–2 µs a match. At 1M
passages a common word matches 100 000 passages or more, so one keyword search cost 100–250 ms
(and would cost six times that at 6M). But BM25 is a sum over the query's phrases, and each
phrase's part depends only on that phrase and that passage: its idf is counted over the whole
table, the length normalisation over the passage. So the build stores, for every phrase that
would be expensive – a search term in at least ``MIN_DOCS`` passages, a topic's or the English
glossary's multi-word phrase – the passage ids and the scores FTS5 itself gives when the phrase
is searched alone (table ``keyword_leaves``). A query is then evaluated here, in NumPy: the
expression the keyword signal wrote (:func:`parse`: ``AND``/``OR``/``NOT`` of phrases, with
column filters) over the stored lists, the scores summed in the order FTS5 sums them, the best
``k`` picked. A phrase that is not stored is rare, so cheap: it is asked of FTS5 alone, the
same way. Matches and the count come from the same pass.

Every keyword search goes this way, whatever the size (a small corpus stores no phrase and
asks FTS5 for each), so the ranking is the same at five reports and at a million passages.
It is FTS5's BM25 – the same passages, the same scores to float32 precision (tested on the
corpus with every phrase stored and with none) – with one deliberate difference: a ``NEAR``
group (a topic's phrase, *våld i nära relation*) adds to a passage's score only where its
words are near each other. FTS5, when such a group fails in a passage that matches through
another alternative of an ``OR``, may still count the group's words that occur (0.32 for *tid*
from ``NEAR("tid" "insats")`` in a passage about something else); a phrase searched alone
cannot reproduce that, and it is not meant (README, issue 12).

An expression this module does not parse is left to FTS5 whole (:meth:`Leaves.evaluate`
returns None), as is every expression with ``RAPPORTSOK_LEAVES=0`` (for comparison). Stored
scores written under other column weights than the process ranks with are not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TABLE = "keyword_leaves"
INFO_KEY = "keyword_leaves"
FORMAT = 1          # the table's layout and what is stored; part of the content hash
# a phrase in at least this many passages is stored: FTS5 scores a phrase's matches at ≈1.7 µs each,
# so one asked phrase costs ≲ 2 ms (a query may ask twenty)
MIN_DOCS = int(os.environ.get("RAPPORTSOK_LEAF_MIN_DOCS", "1000"))
ENABLED = os.environ.get("RAPPORTSOK_LEAVES", "1") != "0"
STEM_COLUMNS = "{search_terms section}"   # where a word's stems are searched (keyword.STEMS)
CAPS_COLUMNS = "{search_terms}"           # where a word in capitals is searched

_TOKEN = re.compile(r'\s*(?:(?P<near>NEAR\((?:"[^"]*"\s*)+,\s*\d+\))|(?P<cols>\{[a-z_ ]+\})'
                    r'|(?P<str>"[^"]*"(?:\s*\*)?)|(?P<op>AND|OR|NOT)(?![\w"])|(?P<punct>[():]))')


class Unparsed(ValueError):
    """An expression outside the grammar the keyword signal writes (left to FTS5)."""


def leaf_text(columns: str | None, body: str) -> str:
    """One phrase as FTS5 reads it alone: ``{columns} : body`` (the key of a stored phrase)."""
    return f"{columns} : {body}" if columns else body


# nodes: ("leaf", text) | ("and", [nodes]) | ("or", [nodes]) | ("not", node, node)
def parse(expression: str):
    """The keyword signal's FTS5 expression as a tree of phrases (NOT binds tighter than AND,
    AND tighter than OR, as in FTS5). A column filter before a group applies to every phrase
    in it. Raises :class:`Unparsed` for anything else."""
    tokens, pos = [], 0
    expression = expression.rstrip()
    while pos < len(expression):
        m = _TOKEN.match(expression, pos)
        if not m or m.end() == pos:
            raise Unparsed(expression[pos:pos + 20])
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    at = 0

    def peek(value=None):
        if at < len(tokens) and (value is None or tokens[at][1] == value):
            return tokens[at]
        return None

    def take(value=None):
        nonlocal at
        tok = peek(value)
        if tok is None:
            raise Unparsed(f"expected {value or 'more'} at token {at}")
        at += 1
        return tok

    def chain(op, operand):
        """``operand (op operand)*`` as one node (AND/OR chains)."""
        def parse_chain(cols):
            parts = [operand(cols)]
            while peek(op):
                take(op)
                parts.append(operand(cols))
            return parts[0] if len(parts) == 1 else (op.lower(), parts)
        return parse_chain

    def not_expr(cols):
        left = primary(cols)
        while peek("NOT"):
            take("NOT")
            left = ("not", left, primary(cols))
        return left

    def primary(cols):
        kind, value = take()
        if kind == "cols":
            if cols is not None:
                raise Unparsed("nested column filters")
            take(":")
            return primary(value)
        if value == "(":
            node = or_expr(cols)
            take(")")
            return node
        if kind in ("str", "near"):
            return ("leaf", leaf_text(cols, re.sub(r'"\s+\*$', '" *', value)))
        raise Unparsed(value)

    and_expr = chain("AND", not_expr)
    or_expr = chain("OR", and_expr)
    tree = or_expr(None)
    if at != len(tokens):
        raise Unparsed(f"trailing tokens from {at}")
    return tree


def leaves_of(tree) -> list[str]:
    """Every phrase of a tree, in the order FTS5 numbers (and sums) them."""
    if tree[0] == "leaf":
        return [tree[1]]
    if tree[0] == "not":
        return leaves_of(tree[1]) + leaves_of(tree[2])
    return [x for part in tree[1] for x in leaves_of(part)]


@dataclass
class Evaluated:
    positions: np.ndarray   # index rows of every match, ascending
    scores: np.ndarray      # their BM25 scores (higher = better), float64
    stored: int             # phrases read from the table
    asked: int              # phrases asked of FTS5


class Leaves:
    """The stored phrases of one database, and the evaluator (one per keyword signal)."""

    def __init__(self, index, weights: tuple[float, ...]):
        self.index = index
        self.weights = weights
        conn = index.conn()
        record = _info(conn)
        # the stored scores are used only if written under the weights this process ranks with
        # (and if the table is there: a database copied without it is searched by asking FTS5)
        self.available = bool(record and tuple(record.get("weights", ())) == tuple(weights)
                              and conn.execute("select 1 from sqlite_master where name = ?", [TABLE]).fetchone())
        self.count = int(record.get("leaves", 0)) if self.available else 0
        ids = index.chunk_ids
        self._base = int(ids[0]) if len(ids) else 0
        self._contiguous = bool(len(ids)) and int(ids[-1]) - int(ids[0]) + 1 == len(ids)

    def evaluate(self, expression: str, mask: np.ndarray | None, run: tuple[int, int] | None, fts) -> Evaluated | None:
        """The matches of ``expression`` within ``mask`` and their scores, or None when FTS5
        should answer it whole (not parsed, or ``RAPPORTSOK_LEAVES=0``). ``fts(sql, args)``
        runs an FTS5 query for a phrase that is not stored (the keyword signal's time limit);
        ``run``: the filter's rowid range, passed to those queries."""
        if not ENABLED:
            return None
        try:
            tree = parse(expression)
        except Unparsed:
            return None
        phrases = leaves_of(tree)
        stored = self._read(phrases, run) if self.count else {}
        n = len(self.index.chunk_ids)
        acc = np.zeros(n, dtype=np.float64)
        asked = 0
        hits: dict[str, np.ndarray] = {}
        for phrase in phrases:          # FTS5's order: the scores are summed as FTS5 sums them
            if phrase in hits:
                pos, scores = hits[phrase]
            elif phrase in stored:
                pos, scores = stored[phrase]
            else:
                pos, scores = self._ask(phrase, run, fts)
                asked += 1
            hits[phrase] = (pos, scores)
            acc[pos] += scores
        matched = _matches(tree, {p: h[0] for p, h in hits.items()}, n)
        if mask is not None:
            matched &= mask
        positions = np.flatnonzero(matched)
        return Evaluated(positions, acc[positions], len(stored), asked)

    def _read(self, phrases: list[str], run: tuple[int, int] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The stored ids (as index rows) and scores of those of ``phrases`` the table has.
        With a filter that is one run of ids (a kommun, a kommun and years), only that run's
        part of a long list is read (incremental blob I/O: the ids are sorted, so two binary
        searches find it), not the whole list."""
        unique = list(dict.fromkeys(phrases))
        conn = self.index.conn()
        cur = conn.cursor()
        cur.row_factory = None
        marks = ",".join("?" * len(unique))
        out = {}
        if run is None:
            rows = cur.execute(f"select leaf, ids, scores from {TABLE} where leaf in ({marks})", unique).fetchall()
            for leaf, ids, scores in rows:
                # kept as uint32 / float32: NumPy indexes with the one and adds the other to float64 as it goes
                out[leaf] = (self._positions(np.frombuffer(ids, dtype="<u4")), np.frombuffer(scores, dtype="<f4"))
            return out
        for rowid, leaf, docs in cur.execute(f"select rowid, leaf, docs from {TABLE} where leaf in ({marks})", unique).fetchall():
            with conn.blobopen(TABLE, "ids", rowid, readonly=True) as blob:
                lo, hi = _bisect_blob(blob, docs, run[0]), _bisect_blob(blob, docs, run[1] + 1)
                blob.seek(4 * lo)
                ids = np.frombuffer(blob.read(4 * (hi - lo)), dtype="<u4")
            with conn.blobopen(TABLE, "scores", rowid, readonly=True) as blob:
                blob.seek(4 * lo)
                scores = np.frombuffer(blob.read(4 * (hi - lo)), dtype="<f4")
            out[leaf] = (self._positions(ids), scores)
        return out

    def _ask(self, phrase: str, run, fts) -> tuple[np.ndarray, np.ndarray]:
        w = ", ".join(str(x) for x in self.weights)
        sql, args = f"select rowid, -bm25(chunks_fts, {w}) from chunks_fts where chunks_fts match ?", [phrase]
        if run is not None:
            sql += " and rowid between ? and ?"
            args += list(run)
        rows = fts(sql, args)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        return self._positions(ids), scores

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        """Index rows of passage ids (every id in the table is a passage of this database)."""
        if self._contiguous:
            return ids - self._base
        return np.searchsorted(self.index.chunk_ids, ids)


def _bisect_blob(blob, n: int, value: int) -> int:
    """The first of ``n`` sorted little-endian uint32 in ``blob`` that is ≥ ``value``."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        blob.seek(4 * mid)
        if int.from_bytes(blob.read(4), "little") < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _matches(tree, hits: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Which passages match a tree (a bool per index row)."""
    kind = tree[0]
    if kind == "leaf":
        out = np.zeros(n, dtype=bool)
        out[hits[tree[1]]] = True
        return out
    if kind == "not":
        out = _matches(tree[1], hits, n)
        out &= ~_matches(tree[2], hits, n)
        return out
    parts = iter(tree[1])
    out = _matches(next(parts), hits, n)
    for part in parts:
        if kind == "and":
            out &= _matches(part, hits, n)
        else:
            out |= _matches(part, hits, n)
    return out


def _info(conn: sqlite3.Connection) -> dict:
    try:
        row = conn.execute("select value from build_info where key = ?", [INFO_KEY]).fetchone()
    except sqlite3.OperationalError:
        return {}
    return json.loads(row[0]) if row else {}


def candidates(conn: sqlite3.Connection, min_docs: int) -> list[str]:
    """The phrases worth storing: every search term in at least ``min_docs`` passages (in the
    columns a query searches it in: its stems in search terms and section, a word in capitals
    in search terms), and the multi-word phrases of the topics and the English glossary whose
    rarest word is that common (:func:`..signals.keyword.phrase_leaves`)."""
    from .signals.keyword import Vocabulary, phrase_leaves
    from .. import swedish

    conn.execute("create virtual table if not exists temp.leaf_vocab using fts5vocab(main, chunks_fts, 'col')")
    docs: dict[str, dict[str, int]] = {}
    for term, col, doc in conn.execute("select term, col, doc from temp.leaf_vocab where col in ('search_terms', 'section')"):
        docs.setdefault(term, {})[col] = doc
    conn.execute("drop table temp.leaf_vocab")
    out = []
    for term, per in docs.items():
        if term.startswith(swedish.CAPS_MARK):
            if per.get("search_terms", 0) >= min_docs:
                out.append(leaf_text(CAPS_COLUMNS, f'"{term}"'))
        elif per.get("search_terms", 0) + per.get("section", 0) >= min_docs:
            out.append(leaf_text(STEM_COLUMNS, f'"{term}"'))
    vocab = Vocabulary({r[0]: r[1] for r in conn.execute("select term, doc from chunks_fts_vocab")})
    out += phrase_leaves(vocab, min_docs)
    return sorted(set(out))


def content_sha256(conn: sqlite3.Connection, weights: tuple[float, ...], min_docs: int) -> str:
    """What the stored scores depend on: every indexed row (id, text, section, search terms), the
    column weights, ``min_docs`` and the format. Equal hashes, equal tables."""
    h = hashlib.sha256(json.dumps([FORMAT, list(weights), min_docs]).encode())
    cur = conn.cursor()
    cur.row_factory = None
    for row in cur.execute("select id, text, section, search_terms from chunks_fts_content order by id"):
        h.update(json.dumps(row, ensure_ascii=False).encode())
    return h.hexdigest()


def write(conn: sqlite3.Connection, weights: tuple[float, ...], min_docs: int | None = None, log=None,
          previous: Path | None = None) -> dict:
    """Store the phrases of :func:`candidates` with FTS5's own ids and scores (table
    ``keyword_leaves``; its summary in ``build_info``). Called by the build after the FTS5
    index is written; ``log(done, total)`` reports progress. If ``previous`` (the database being
    replaced) stored its scores from the same content (:func:`content_sha256`), its table is
    copied instead: an unchanged rebuild does not score again."""
    t = time.perf_counter()
    min_docs = MIN_DOCS if min_docs is None else min_docs
    digest = content_sha256(conn, weights, min_docs)
    conn.execute(f"drop table if exists {TABLE}")
    conn.execute(f"create table {TABLE} (leaf text primary key, docs integer not null, ids blob not null, scores blob not null)")
    record = _copy(conn, previous, digest) if previous is not None else None
    if record is None:
        record = _score(conn, weights, min_docs, log)
    record |= {"content_sha256": digest, "seconds": round(time.perf_counter() - t, 1)}
    conn.execute("create table if not exists build_info (key text primary key, value text)")
    conn.execute("insert or replace into build_info values (?, ?)", [INFO_KEY, json.dumps(record)])
    return record


def _copy(conn: sqlite3.Connection, previous: Path, digest: str) -> dict | None:
    """The previous database's table, if it was written from the same content (else None)."""
    try:
        src = sqlite3.connect(f"file:{previous}?mode=ro", uri=True)
        try:
            old = _info(src)
        finally:
            src.close()
    except sqlite3.Error:
        return None
    if old.get("content_sha256") != digest:
        return None
    conn.commit()   # ATTACH is refused inside a transaction
    conn.execute("attach database ? as previous", [f"file:{previous}?mode=ro"])
    try:
        conn.execute(f"insert into {TABLE} select leaf, docs, ids, scores from previous.{TABLE}")
        conn.commit()
    except sqlite3.Error:     # a damaged or foreign table: score afresh
        conn.rollback()
        conn.execute(f"delete from {TABLE}")
        return None
    finally:
        conn.execute("detach database previous")
    return {k: v for k, v in old.items() if k != "seconds"} | {"copied": True}


def _score(conn: sqlite3.Connection, weights: tuple[float, ...], min_docs: int, log) -> dict:
    phrases = candidates(conn, min_docs)
    w = ", ".join(str(x) for x in weights)
    postings = 0
    cur = conn.cursor()
    cur.row_factory = None
    for i, phrase in enumerate(phrases, 1):
        rows = cur.execute(f"select rowid, -bm25(chunks_fts, {w}) from chunks_fts where chunks_fts match ? order by rowid",
                           [phrase]).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        if len(ids) and (ids.min() < 0 or ids.max() >= 2 ** 32):
            raise ValueError(f"{TABLE}: passage id outside 0…2³²−1 in phrase {phrase}")
        conn.execute(f"insert into {TABLE} values (?, ?, ?, ?)",
                     [phrase, len(ids), ids.astype("<u4").tobytes(), scores.astype("<f4").tobytes()])
        postings += len(ids)
        if log is not None:
            log(i, len(phrases))
    return {"leaves": len(phrases), "postings": postings, "min_docs": min_docs, "weights": list(weights),
            "bytes": postings * 8, "format": FORMAT}
