"""Tag passages and tables with topics, with a score and the evidence for each tag.

Two kinds of evidence:

* **ord/förkortning/mönster** – the topic's synonyms (on stems and compound parts),
  abbreviations (case-sensitive) or patterns occur in the text (:func:`topics.match_text`);
  score 1.0.
* **semantik** – the passage embedding is unusually close to the topic's description
  ("{label}. {definition}", embedded as a query). Raw similarities of this model are
  compressed, so the test is relative: the similarity must be ``SEMANTIC_Z`` standard
  deviations above the topic's mean over all passages; score = the similarity.

The thresholds were chosen on the hand-labelled sample (``evaluation/topic_labels.yml``);
``python -m rapportsok.tagging_evaluation`` prints precision and recall per method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import topics as topics_mod
from .embeddings import Embedder, EmbeddingCache, embed_with_cache, text_hash

SEMANTIC_Z = 3.0


@dataclass
class Tag:
    topic: str
    score: float
    method: str
    evidence: str


def topic_vectors(embedder: Embedder, topics=None, cache: EmbeddingCache | None = None) -> np.ndarray:
    """Embeddings of the topic descriptions, as queries, in one batch; cached by text hash."""
    topics = topics or topics_mod.load_topics()
    texts = [f"{t.label}. {t.definition}" for t in topics]
    hashes = [text_hash(t, is_query=True) for t in texts]
    vectors, _ = embed_with_cache(embedder, dict(zip(hashes, texts)), cache, is_query=True)
    return np.vstack([vectors[h] for h in hashes])


def lexical_tags(text: str) -> list[Tag]:
    out = []
    for m in topics_mod.match_text(text):
        method = "förkortning" if any(e.startswith("förkortning") for e in m.evidence) else \
            "mönster" if all(e.startswith("mönster") for e in m.evidence) else "ord"
        out.append(Tag(m.topic, 1.0, method, "; ".join(m.evidence[:4])))
    return out


def semantic_scores(vectors: np.ndarray, topic_vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarities (passages × topics) and their z-scores per topic."""
    sims = vectors @ topic_vecs.T
    mean, std = sims.mean(axis=0), sims.std(axis=0) + 1e-9
    return sims, (sims - mean) / std


def tag_all(texts: list[str], vectors: np.ndarray | None, topic_vecs: np.ndarray | None,
            z: float = SEMANTIC_Z, use_semantic: bool = True) -> list[list[Tag]]:
    """Tags for every text (aligned with ``vectors`` rows when given)."""
    result = [lexical_tags(t) for t in texts]
    return add_semantic_tags(result, vectors, topic_vecs, z) if use_semantic else result


def add_semantic_tags(result: list[list[Tag]], vectors: np.ndarray | None, topic_vecs: np.ndarray | None,
                      z: float = SEMANTIC_Z) -> list[list[Tag]]:
    """``result`` (lexical tags per text, aligned with ``vectors`` rows) with each text's semantic tags added."""
    if vectors is not None and topic_vecs is not None and len(result) > 1:
        sims, zs = semantic_scores(vectors, topic_vecs)
        add_tags_from_scores(result, sims, zs, z)
    return result


def add_tags_from_scores(result: list[list[Tag]], sims: np.ndarray, zs: np.ndarray, z: float = SEMANTIC_Z) -> None:
    """Semantic tags of a run of texts from their similarities and z-scores (rows aligned with ``result``)."""
    topics = topics_mod.load_topics()
    for i, tags in enumerate(result):
        have = {t.topic for t in tags}
        for j, topic in enumerate(topics):
            if topic.id not in have and zs[i, j] >= z:
                tags.append(Tag(topic.id, round(float(sims[i, j]), 4), "semantik",
                                f"likhet {sims[i, j]:.3f} med ämnesbeskrivningen ({zs[i, j]:.1f} standardavvikelser över snittet)"))
