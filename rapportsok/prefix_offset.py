"""How far the model moves a text between reading it as a passage and as a query.

E5 embeds questions with ``query: `` and passages (and sentence windows) with ``passage: ``.
The same text read both ways lands in two vectors whose difference is nearly the same for every
text: measured on this corpus, the mean difference over 200 sentences and over 1 569 has a
cosine of 0.999. The build measures it once on a sample of the corpus's own sentences and stores
it in ``build_info`` (key ``prefix_offset``); the semantic signal then also reads a question as a
passage – its vector moved by this offset – at no cost per search (README, issue 13, session 14;
embedding the question a second time with the passage prefix ranks about as well and costs
≈3 CPU ms per search).

The offset itself is cached in the embedding cache under the hash of its sample, so an unchanged
rebuild embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

import numpy as np

from .chunking import sentences

INFO_KEY = "prefix_offset"
PASSAGES = 300        # passages the sample is drawn from, spread evenly over the corpus
SAMPLE = 500          # sentences measured (200 already agree with 1 569 to a cosine of 0.999)
MIN_WORDS, MAX_WORDS = 3, 30


def sample(conn: sqlite3.Connection) -> list[str]:
    """Sentences of ``PASSAGES`` prose passages spread evenly over the corpus, in passage order."""
    ids = [r[0] for r in conn.execute("select id from chunks where kind = 'prose' order by id")]
    picked = ids[::max(1, len(ids) // PASSAGES)]   # ids only: at 6M passages no text is read but these
    out: list[str] = []
    for start in range(0, len(picked), 500):
        part = picked[start: start + 500]
        texts = dict(conn.execute(f"select id, text from chunks where id in ({','.join('?' * len(part))})", part))
        for cid in part:
            for s in _sentences(texts[cid]):
                out.append(s)
                if len(out) >= SAMPLE:
                    return out
    return out


def _sentences(text: str) -> list[str]:
    from .build import display_text   # build imports this module

    t = display_text(text)
    return [t[a:b] for a, b in sentences(t, 0) if MIN_WORDS <= len(t[a:b].split()) <= MAX_WORDS]


def measure(embedder, texts: list[str]) -> np.ndarray:
    """Mean of (text read as a passage − text read as a query), both by the query runtime."""
    q = embedder.embed_queries(texts)
    p = embedder.embed_queries_as_passages(texts)
    return (p - q).mean(axis=0).astype(np.float32)


def for_build(conn: sqlite3.Connection, embedder, cache) -> dict | None:
    """The offset of this corpus and model (from ``cache`` when its sample is unchanged), as the
    ``build_info`` record; None for a model that reads queries and passages alike."""
    c = embedder.contract
    if c.query_prefix == c.passage_prefix:
        return None
    texts = sample(conn)
    if not texts:
        return None
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    key = f"prefix-offset:{digest}"
    found = cache.get_many([key]).get(key) if cache is not None else None
    if found is None:
        found = measure(embedder, texts)
        if cache is not None:
            cache.put_many({key: found})
    return {"vector": [round(float(x), 7) for x in found], "sentences": len(texts), "sample_sha256": digest}


def load(conn: sqlite3.Connection) -> np.ndarray | None:
    try:
        row = conn.execute("select value from build_info where key = ?", [INFO_KEY]).fetchone()
    except sqlite3.OperationalError:
        return None
    if not row:
        return None
    return np.asarray(json.loads(row[0])["vector"], dtype=np.float32)
