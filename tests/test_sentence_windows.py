"""Sentence windows (issue 13): long passages are also embedded as overlapping 3-sentence
windows, and a passage scores the best of its own vector and its windows'."""

from __future__ import annotations

import shutil
import sqlite3
from types import SimpleNamespace

import numpy as np
import pytest

from rapportsok import evaluation, windows
from rapportsok.build import BuildOptions, build
from rapportsok.query import SearchRequest
from rapportsok.search import SearchIndex
from rapportsok.search import index as index_mod

from conftest import CORPUS, EMBED_CACHE


@pytest.fixture(scope="module")
def no_windows_index(built_db, monkeypatch_module):
    """The same database with its windows ignored (RAPPORTSOK_WINDOWS=0 at search time)."""
    monkeypatch_module.setattr(index_mod, "WINDOWS", False)
    ix = SearchIndex(built_db)
    monkeypatch_module.undo()
    return ix


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _passage_sentences(conn) -> dict[int, tuple[str, list[tuple[int, int, str | None]]]]:
    """Per passage: its text and its sentences (cut at the headings inside it, from the stored blocks)."""
    blocks: dict[str, list] = {}
    for r in conn.execute("select report_id, kind, char_start, char_end, heading from blocks order by report_id, ordinal"):
        blocks.setdefault(r["report_id"], []).append(SimpleNamespace(kind=r["kind"], start=r["char_start"], end=r["char_end"],
                                                                     heading=r["heading"]))
    heads = {r["id"]: windows.Headings(r["text"], blocks.get(r["id"], [])) for r in conn.execute("select id, text from reports")}
    return {r["id"]: (r["text"], windows._sentences(r["text"], heads[r["report_id"]].spans(r["text"], r["char_start"], r["char_end"])))
            for r in conn.execute("select id, report_id, text, char_start, char_end from chunks")}


def test_windows_stored_with_offsets_of_their_sentences(conn):
    passages = _passage_sentences(conn)
    stored: dict[int, list[tuple[int, int, int]]] = {}
    for r in conn.execute("select chunk_id, ordinal, char_start, char_end from chunk_windows order by chunk_id, ordinal"):
        stored.setdefault(r["chunk_id"], []).append((r["ordinal"], r["char_start"], r["char_end"]))
    assert len(stored) > 100
    headed = 0
    for cid, (text, spans) in passages.items():
        got = stored.get(cid, [])
        if len(spans) <= max(windows.SIZE, windows.MIN_SENTENCES):
            assert got == [], f"passage {cid} of {len(spans)} sentences gets no window"
            continue
        assert [o for o, _, _ in got] == list(range(len(got)))
        by_start = {s: i for i, (s, _, _) in enumerate(spans)}
        for _, a, b in got:
            # a window is whole sentences of the passage: its text is the passage's text at its offsets
            assert a in by_start, (cid, text[a: a + 40])
            part = spans[by_start[a]: by_start[a] + windows.SIZE]
            assert b == part[-1][1]
            window = text[a:b]
            assert window.strip() == window and window.startswith(text[part[0][0]: part[0][1]])
            assert window.endswith(text[part[-1][0]: part[-1][1]])
            headed += any(h is not None for _, _, h in part)
        # together the windows cover the whole passage, each starting STRIDE sentences after the last
        assert got[0][1] == spans[0][0] and got[-1][2] == spans[-1][1]
        firsts = [by_start[a] for _, a, _ in got]
        assert all(y - x == windows.STRIDE for x, y in zip(firsts, firsts[1:]))
    assert headed > 20   # windows after a heading inside their passage (embedded with that heading)


def test_a_heading_inside_a_passage_is_not_glued_to_a_sentence(conn):
    """"… än tidigare. ### Heldygnsvård barn och unga Heldygnsvården inbegriper …" is two sentences and a heading."""
    passages = _passage_sentences(conn)
    cid = conn.execute("select id from chunks where text like '%tidigare. ### Heldygnsvård barn och unga Heldygnsvården%'").fetchone()[0]
    text, spans = passages[cid]
    sents = [(text[a:b], h) for a, b, h in spans]
    assert ("Nämnden avslutar däremot fler utredningar än tidigare.", None) in sents
    assert any(t.startswith("Heldygnsvården inbegriper") and h == "Heldygnsvård barn och unga" for t, h in sents)


def test_every_window_has_a_vector_of_the_model(conn, index):
    n = conn.execute("select count(*) from chunk_windows").fetchone()[0]
    assert index.n_windows == n and len(index.vector_row) == len(index.chunk_ids) + n
    dim = index.contract.dimensions
    for (blob,) in conn.execute("select vector from chunk_windows"):
        v = np.frombuffer(blob, dtype="<f4")
        assert len(v) == dim and abs(float(np.linalg.norm(v)) - 1) < 1e-3


def test_similarity_is_the_best_of_passage_and_windows(index):
    qv = index.query_vector("hur stor andel av barnen tror att det ska gå bra för dem")
    allv = index.vectors.astype(np.float32) @ qv
    expected = np.full(len(index.chunk_ids), -np.inf, dtype=np.float32)
    np.maximum.at(expected, index.vector_row, allv)
    assert np.allclose(index.similarities(qv), expected, atol=1e-6)
    rows = np.array([5, 90, 17, 200, 3])   # a filter's rows, in any order
    assert np.allclose(index.similarities(qv, rows), expected[rows], atol=1e-6)


def _rank_of_quote(ix: SearchIndex, q: str, quote: str) -> int:
    texts = evaluation.chunk_texts(ix)
    ranking = ix.semantic.rank(ix, SearchRequest(q=q, mode="semantic"), np.ones(len(ix.chunk_ids), dtype=bool),
                               k=len(ix.chunk_ids))
    return next(i for i, (cid, _) in enumerate(ranking.items, 1) if evaluation._norm(quote) in texts[cid])


def test_one_sentence_answer_in_a_long_passage_ranks_higher(index, no_windows_index):
    """From the evaluation set (dev): the answer is one sentence of a 2 100-character passage."""
    q, quote = "hur stor andel av barnen tror att det ska gå bra för dem", "Resultaten i OmMej visar att 87 % av de barn och unga"
    before, after = _rank_of_quote(no_windows_index, q, quote), _rank_of_quote(index, q, quote)
    assert after < before and after <= 15, (before, after)


def test_windows_off_is_the_passage_vectors_alone(tmp_path, index, no_windows_index):
    db = tmp_path / "nowindows.db"
    build(BuildOptions(corpus=CORPUS, db_path=db, cache_dir=EMBED_CACHE, quiet=True, windows=False))
    c = sqlite3.connect(db)
    assert c.execute("select count(*) from sqlite_master where name = 'chunk_windows'").fetchone()[0] == 0
    plain = SearchIndex(db)
    assert plain.n_windows == 0 and no_windows_index.n_windows == 0 and index.n_windows > 0
    assert np.array_equal(plain.vectors, index.vectors[: len(index.chunk_ids)])
    for q in ("brist på familjehem", "barn som måste flytta gång på gång när placeringen spricker", "SSPF"):
        qv = plain.query_vector(q)
        assert np.array_equal(plain.similarities(qv), no_windows_index.similarities(qv))
        a = plain.search(SearchRequest(q=q, mode="hybrid"))
        b = no_windows_index.search(SearchRequest(q=q, mode="hybrid"))
        assert [h["chunk_id"] for h in a.hits] == [h["chunk_id"] for h in b.hits] and a.total == b.total


def test_a_hit_says_which_sentences_matched_and_the_snippet_shows_them(index):
    """The long passage that answers in one sentence: the hit points at that sentence's window,
    and the search page's snippet (420 characters of a 2 100-character passage) shows it."""
    from rapportsok import web

    q, answer = "hur stor andel av barnen tror att det ska gå bra för dem", "Resultaten i OmMej visar att 87 % av de barn och unga"
    view = web.search_page(index, {"q": q})
    hit = next(h for h in view["hits"] if answer in h["text"])
    a, b = hit["matched"]
    assert answer in hit["text"][a:b] and b - a < len(hit["text"]) / 3
    shown = str(hit["snippet_html"]).replace("<mark>", "").replace("</mark>", "")
    assert "Resultaten i OmMej visar att 87" in shown and not shown.startswith(hit["text"][:40])
    plain = index.search(SearchRequest(q="familjehem", mode="keyword"))
    assert all(h.matched is None for h in plain.hits)   # keyword mode: no meaning, no matched sentences


def test_an_edit_reembeds_the_passage_and_only_the_windows_that_contain_it(tmp_path, corpus_copy):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "e5-onnx").symlink_to(EMBED_CACHE / "e5-onnx")
    shutil.copy(EMBED_CACHE / "embeddings.sqlite", cache / "embeddings.sqlite")
    first = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "a.db", cache_dir=cache, quiet=True))
    assert first.embedding["embedded"] == 0 and first.embedding["windows"] > 600   # nothing embedded twice
    path = corpus_copy / "003_aa15bfdefd7f5155.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("OmMej visar att 87 %", "OmMej visar att 88 %"), encoding="utf-8")
    second = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "b.db", cache_dir=cache, quiet=True))
    c = sqlite3.connect(tmp_path / "b.db")
    cid, text = c.execute("select id, text from chunks where text like '%OmMej visar att 88 %'").fetchone()
    spans = c.execute("select char_start, char_end from chunk_windows where chunk_id = ?", [cid]).fetchall()
    touched = sum("OmMej visar att 88 %" in text[a:b] for a, b in spans)
    assert 1 <= touched < len(spans)
    assert second.embedding["embedded"] == 1 + touched   # the passage and the windows holding the sentence
