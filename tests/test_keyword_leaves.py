"""Keyword search over stored per-phrase BM25 (rapportsok/search/leaves.py, issue 12).

The build stores FTS5's own ids and scores of every common phrase; a query's expression is
evaluated over them in NumPy. On the corpus no phrase is common enough to be stored (each is
asked of FTS5 alone), so these tests also build a copy with every phrase stored and compare
the three ways: FTS5 whole, phrases asked one by one, phrases read from the table.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest

from rapportsok.evaluation import load_queries
from rapportsok.query import parse_request
from rapportsok.search import SearchIndex, leaves
from rapportsok.search.signals.keyword import FTS_WEIGHTS, _one_run

EXTRA = ["-barn familjehem", '"skyddat boende"', "placer*", "SSPF OR HVB", "barn NOT familjehem",
         "våld i nära relationer", "ATV", "brist på familjehem"]
FILTERS = ({}, {"kommun": "0880"}, {"year": "2021-2022"})


@pytest.fixture(scope="module")
def stored_db(built_db, tmp_path_factory):
    """The corpus database with every phrase stored (MIN_DOCS 1)."""
    out = tmp_path_factory.mktemp("leaves") / "rapportsok.db"
    shutil.copy(built_db, out)
    conn = sqlite3.connect(out)
    record = leaves.write(conn, FTS_WEIGHTS, min_docs=1)
    conn.commit()
    conn.close()
    assert record["leaves"] > 1000 and record["postings"] > 10_000
    return out


def _cases(index):
    for q in [x["q"] for x in load_queries()] + EXTRA:
        for mode in ("hybrid", "keyword"):
            for extra in FILTERS:
                req = parse_request({"q": q, "mode": mode, **extra})
                u = index.keyword.understand(req)
                mask = index.mask(req) if index.filtered(req) else None
                for any_word, expression in ((False, u.expression), (True, u.any_expression)):
                    if expression:
                        yield q, req, mask, any_word, expression


def _fts5_whole(index, req, mask, any_word, expression, monkeypatch):
    monkeypatch.setattr(leaves, "ENABLED", False)
    index.keyword._matches.clear()
    try:
        return index.keyword.matches(req, mask, any_word=any_word, expression=expression)
    finally:
        monkeypatch.setattr(leaves, "ENABLED", True)
        index.keyword._matches.clear()


def test_the_build_records_what_it_stored(conn):
    record = json.loads(conn.execute("select value from build_info where key = 'keyword_leaves'").fetchone()[0])
    assert record["min_docs"] == leaves.MIN_DOCS and record["weights"] == list(FTS_WEIGHTS)
    stored = conn.execute("select count(*), coalesce(sum(docs), 0) from keyword_leaves").fetchone()
    assert (record["leaves"], record["postings"]) == tuple(stored)
    # five reports: no phrase is in 10 000 passages, so every phrase is asked of FTS5
    assert record["leaves"] == 0


def test_stored_phrases_give_the_same_matches_and_scores_as_asked_ones(index, stored_db):
    stored = SearchIndex(stored_db, load_vectors=False)
    assert stored.keyword.leaves.available and stored.keyword.leaves.count > 1000
    n = read = runs = 0
    for q, req, mask, any_word, expression in _cases(index):
        run = _one_run(mask, index.chunk_ids) if mask is not None else None   # as the signal passes it
        asked = index.keyword._stored(expression, mask, run, 2.0)
        got = stored.keyword._stored(expression, mask, run, 2.0)
        runs += run is not None
        assert asked is not None and got is not None, expression
        assert asked.stored == 0
        read += got.stored
        assert np.array_equal(asked.positions, got.positions), (q, expression)
        np.testing.assert_allclose(got.scores, asked.scores, rtol=2e-7, err_msg=q)   # float32 in the table
        n += 1
    assert n > 1000 and read > 1000 and runs > 300   # a kommun's passages are one run: read in part


def test_phrases_give_fts5s_matches_counts_and_scores(index, monkeypatch):
    """Against FTS5 answering the whole expression: the same passages for every query; the same
    scores wherever no NEAR group is involved (the one documented difference)."""
    near_differs = 0
    for q, req, mask, any_word, expression in _cases(index):
        ev = index.keyword._stored(expression, mask, None, 2.0)
        pos, scores = _fts5_whole(index, req, mask, any_word, expression, monkeypatch)
        assert set(pos.tolist()) == set(ev.positions.tolist()), (q, expression)
        whole = dict(zip(pos.tolist(), scores.tolist()))
        diff = max((abs(whole[p] - s) for p, s in zip(ev.positions.tolist(), ev.scores.tolist())), default=0.0)
        if "NEAR(" in expression:
            near_differs += diff > 1e-9
        else:
            assert diff < 1e-9, (q, expression, diff)
    assert near_differs <= 5


def test_ranking_and_counts_match_fts5_through_the_signal(index, monkeypatch):
    """``matches`` (best first, ties by id, cut at the limit) and ``positions`` (the count)."""
    for q in ["familjehem", "SSPF", "kostnader för placeringar", "-barn familjehem", "ekonomiskt bistånd 2022"]:
        for extra in FILTERS:
            req = parse_request({"q": q, "mode": "keyword", **extra})
            mask = index.mask(req) if index.filtered(req) else None
            expression = index.keyword.understand(req).expression
            index.keyword._matches.clear()
            ranked = index.keyword.matches(req, mask, limit=7)
            counted = index.keyword.positions(req, mask)
            whole = _fts5_whole(index, req, mask, False, expression, monkeypatch)
            assert np.array_equal(ranked[0], whole[0][:7]), (q, extra)
            assert np.array_equal(counted, np.sort(whole[0])), (q, extra)


def test_a_near_group_scores_only_where_its_words_are_near(index):
    """The documented difference: FTS5 gives a failing NEAR group's words weight in some passages
    that match through another alternative; the phrase evaluation gives it none in any."""
    conn = sqlite3.connect(index.db_path)
    near = '{search_terms section} : NEAR("tid" "insats", 4)'
    other = '{search_terms section} : "familj"'
    rows = [r[0] for r in conn.execute(
        "select rowid from chunks_fts where chunks_fts match ?",
        [f'({other} AND {{search_terms section}} : "tid") NOT {near}'])]
    assert rows, "the corpus has passages with familj and tid that the NEAR group does not match"
    alone = dict(conn.execute("select rowid, -bm25(chunks_fts, 0, 0.3, 1) from chunks_fts where chunks_fts match ?", [other]))
    whole = dict(conn.execute("select rowid, -bm25(chunks_fts, 0, 0.3, 1) from chunks_fts where chunks_fts match ?",
                              [f"{other} OR {near}"]))
    ev = index.keyword._stored(f"{other} OR {near}", None, None, 2.0)
    got = dict(zip(index.chunk_ids[ev.positions].tolist(), ev.scores.tolist()))
    for rid in rows:
        assert got[rid] == pytest.approx(alone[rid], rel=1e-12)
    # FTS5 also counts "tid" in some of them (which ones depends on where its iterators stand)
    assert any(whole[rid] > alone[rid] + 0.01 for rid in rows)


def test_other_column_weights_are_not_read(built_db, tmp_path, index):
    """A table written under other bm25 weights is not used; the phrases are asked instead."""
    db = tmp_path / "rapportsok.db"
    shutil.copy(built_db, db)
    conn = sqlite3.connect(db)
    leaves.write(conn, (0.0, 1.0, 1.0), min_docs=1)
    conn.commit()
    conn.close()
    other = SearchIndex(db, load_vectors=False)
    assert not other.keyword.leaves.available
    req = parse_request({"q": "familjehem", "mode": "keyword"})
    expression = other.keyword.understand(req).expression
    ev = other.keyword._stored(expression, None, None, 2.0)
    assert ev.stored == 0 and ev.asked > 0
    assert np.array_equal(ev.positions, index.keyword._stored(expression, None, None, 2.0).positions)
    # the record without its table (a database trimmed by hand): asked, not an error
    conn = sqlite3.connect(db)
    conn.execute("update build_info set value = ? where key = 'keyword_leaves'",
                 [json.dumps({"leaves": 5, "weights": list(FTS_WEIGHTS)})])
    conn.execute("drop table keyword_leaves")
    conn.commit()
    conn.close()
    trimmed = SearchIndex(db, load_vectors=False)
    assert not trimmed.keyword.leaves.available
    ev = trimmed.keyword._stored(expression, None, None, 2.0)
    assert ev.stored == 0 and np.array_equal(ev.positions, index.keyword._stored(expression, None, None, 2.0).positions)


def test_parser_reads_every_expression_the_signal_writes(index):
    for q, req, mask, any_word, expression in _cases(index):
        tree = leaves.parse(expression)
        phrases = leaves.leaves_of(tree)
        # FTS5 numbers phrases left to right: every quoted term appears in that order
        assert [t for p in phrases for t in leaves.re.findall(r'"([^"]*)"', p)] == leaves.re.findall(r'"([^"]*)"', expression)


@pytest.mark.parametrize("bad", ['"a" AND', '("a" OR "b"', '{text} : {section} : "a"', '"a" ^ "b"', 'a AND b'])
def test_an_expression_outside_the_grammar_is_left_to_fts5(index, bad):
    with pytest.raises(leaves.Unparsed):
        leaves.parse(bad)
    assert index.keyword._stored(bad, None, None, 2.0) is None


def test_an_unchanged_rebuild_copies_the_stored_scores(corpus_dir, tmp_path, monkeypatch):
    """Issue 12's "unchanged rebuild < 5 %": the scores are copied from the database being
    replaced when the indexed content is the same, and scored afresh when it is not."""
    from rapportsok.build import BuildOptions, build

    monkeypatch.setattr(leaves, "MIN_DOCS", 20)     # the five reports: make some phrases common enough
    db = tmp_path / "rapportsok.db"

    def record_and_rows():
        c = sqlite3.connect(db)
        try:
            rec = json.loads(c.execute("select value from build_info where key = 'keyword_leaves'").fetchone()[0])
            return rec, c.execute("select leaf, docs, ids, scores from keyword_leaves order by leaf").fetchall()
        finally:
            c.close()

    build(BuildOptions(corpus=corpus_dir, db_path=db, embed=False, quiet=True))
    first, rows = record_and_rows()
    assert first["leaves"] > 50 and not first.get("copied") and first["min_docs"] == 20
    build(BuildOptions(corpus=corpus_dir, db_path=db, embed=False, quiet=True))
    second, rows2 = record_and_rows()
    assert second["copied"] and second["content_sha256"] == first["content_sha256"] and rows2 == rows
    # other content (one report fewer): scored again
    smaller = tmp_path / "corpus"
    shutil.copytree(corpus_dir, smaller)
    lines = (smaller / "manifest.csv").read_text(encoding="utf-8").splitlines()
    (smaller / "manifest.csv").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    (smaller / lines[-1].split(",")[1]).unlink()
    build(BuildOptions(corpus=smaller, db_path=db, embed=False, quiet=True))
    third, rows3 = record_and_rows()
    assert not third.get("copied") and third["content_sha256"] != first["content_sha256"] and rows3 != rows


def test_search_results_are_the_same_with_every_phrase_stored(index, stored_db):
    """The whole search – hybrid ranking, totals, the overview's counts – on the corpus with
    nothing stored and with every phrase stored."""
    stored = SearchIndex(stored_db)
    for q in [x["q"] for x in load_queries()][::4] + EXTRA:
        for extra in ({}, {"kommun": "0880"}):
            req = parse_request({"q": q, "limit": 10, **extra})
            a, b = index.search(req), stored.search(req)
            assert [h.chunk_id for h in a.hits] == [h.chunk_id for h in b.hits], q
            assert (a.total, a.total_words, a.total_similar) == (b.total, b.total_words, b.total_similar), q
            assert index.matrix(req)["cells"] == stored.matrix(req)["cells"], q


async def test_the_stored_scores_are_not_a_table_on_the_public_site(ds):
    """Internal binary lists, like the vectors: hidden from the database page, not browsable."""
    r = await ds.client.get("/rapportsok")
    assert r.status_code == 200 and "chunks" in r.text
    assert "keyword_leaves" not in r.text
