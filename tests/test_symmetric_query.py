"""Issue 13, session 14: the question also read as a passage (hybrid mode), with two-sentence
windows at every sentence. Hybrid nDCG@10 dev 0.748 → 0.771, test 0.777 → 0.795 (README).

The reading is the query vector moved by the model's query → passage offset, which the build
measures on the corpus's own sentences (``rapportsok/prefix_offset.py``). It only orders: what is
admitted and counted stays decided by the query vector and its calibrated threshold."""

from __future__ import annotations

import numpy as np
import pytest

from rapportsok import evaluation as ev, prefix_offset
from rapportsok.embeddings import ModelContract
from rapportsok.query import SearchRequest
from rapportsok.search.signals import semantic

Q = "små barn placeras tillsammans med mamma eller pappa"
ANSWER = "där yngre barn placeras tillsammans med sina föräldrar"


@pytest.fixture
def share(index, monkeypatch):
    def set_share(value: float):
        monkeypatch.setattr(semantic, "SYMMETRIC_SHARE", value)
    yield set_share


def _hybrid(index, q: str, **kw):
    return index.search(SearchRequest(q=q, mode="hybrid", limit=10, **kw))


def _rank_of(resp, needle: str):
    return next((n for n, h in enumerate(resp.hits, 1) if needle in " ".join(h["text"].split())), None)


def test_the_answer_moves_to_the_top(index, share):
    share(0.0)
    before = _hybrid(index, Q)
    share(1.0)
    after = _hybrid(index, Q)
    assert _rank_of(after, ANSWER) == 1 and _rank_of(before, ANSWER) > 1
    sem = next(r for r in index.rankings(SearchRequest(q=Q, mode="hybrid"), index.mask(SearchRequest(q=Q)))
               if r.name == "semantic")
    assert sem.evidence.get("symmetric")


QUERIES = [q["q"] for q in ev.load_queries()[::6]] + ["kärnkraftverk i Forsmark", "CRA", "sjukfrånvarro personal"]


@pytest.mark.parametrize("filters", [{}, {"kommunkoder": ["0880"]}])
def test_admission_and_counts_are_those_of_the_query_vector(index, share, filters):
    changed = 0
    for q in QUERIES:
        share(0.0)
        before = _hybrid(index, q, **filters)
        share(1.0)
        after = _hybrid(index, q, **filters)
        assert (after.total, after.total_words, after.total_similar) == \
               (before.total, before.total_words, before.total_similar), q
        assert after.interpreted["similarity_admitted_from"] == before.interpreted["similarity_admitted_from"], q
        assert after.best_similarity == pytest.approx(before.best_similarity), q
        # a passage shown by both keeps its similarity: the query vector's own, not the mixed one
        own = {h["chunk_id"]: h["scores"].get("semantic") for h in before.hits}
        for h in after.hits:
            if h["chunk_id"] in own and own[h["chunk_id"]] is not None:
                assert h["scores"]["semantic"] == pytest.approx(own[h["chunk_id"]], abs=1e-6), q
        changed += [h["chunk_id"] for h in after.hits] != [h["chunk_id"] for h in before.hits]
    assert changed > 0, "the symmetric reading orders some results differently"


def test_semantic_mode_is_not_reordered(index, share):
    req = SearchRequest(q=Q, mode="semantic", limit=20)
    share(0.0)
    before = [h["chunk_id"] for h in index.search(req).hits]
    share(1.0)
    assert [h["chunk_id"] for h in index.search(req).hits] == before


def test_only_for_a_model_that_reads_queries_and_passages_differently(index):
    class Plain:
        contract = ModelContract(model_id="all-MiniLM-L6-v2", backend="sentence-transformers", dimensions=384,
                                 normalize=True, query_prefix="", passage_prefix="")
    assert semantic.symmetric(index) and not semantic.symmetric(Plain())


def test_the_passage_reading_is_cached(index):
    v1 = index.passage_read_vector(Q)
    assert index.passage_read_vector(Q) is v1
    q = index.query_vector(Q)
    assert 0.9 < float(v1 @ q) < 0.9999      # the same words, read differently


def test_the_build_measured_the_offset_on_the_corpus(index, conn):
    """The offset is stored with the sample it was measured on, and the same texts give the same
    offset: it is the model's (two halves of the sample agree to a cosine above 0.99)."""
    import json

    record = json.loads(conn.execute("select value from build_info where key = 'prefix_offset'").fetchone()[0])
    assert record["sentences"] == prefix_offset.SAMPLE and len(record["vector"]) == index.contract.dimensions
    texts = prefix_offset.sample(conn)
    assert len(texts) == prefix_offset.SAMPLE
    a = prefix_offset.measure(index.embedder(), texts[:100])
    b = prefix_offset.measure(index.embedder(), texts[-100:])
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.99
    assert float(a @ index.prefix_offset / np.linalg.norm(a) / np.linalg.norm(index.prefix_offset)) > 0.99


def test_an_unchanged_rebuild_takes_the_offset_from_the_cache(index, conn):
    from rapportsok.embeddings import EmbeddingCache

    import json
    from conftest import EMBED_CACHE

    record = json.loads(conn.execute("select value from build_info where key = 'prefix_offset'").fetchone()[0])
    cache = EmbeddingCache(EMBED_CACHE / "embeddings.sqlite", index.contract)
    try:
        key = f"prefix-offset:{record['sample_sha256']}"
        cached = cache.get_many([key])[key]
    finally:
        cache.close()
    assert np.allclose(cached, record["vector"], atol=1e-6)


def test_a_database_without_the_offset_searches_as_before(index, monkeypatch):
    req = SearchRequest(q=Q, mode="hybrid", limit=10)
    monkeypatch.setattr(semantic, "SYMMETRIC", "0")
    off = [h["chunk_id"] for h in index.search(req).hits]
    monkeypatch.setattr(semantic, "SYMMETRIC", "offset")
    monkeypatch.setattr(index, "prefix_offset", None)
    assert not semantic.symmetric(index)
    assert [h["chunk_id"] for h in index.search(req).hits] == off
