"""Issue 13: relative admission of meaning-only hits. Once a query's best passage reaches the
calibrated threshold, passages within RELATIVE_MARGIN of it are admitted too; a question about
something the reports never mention still gets no meaning-only hit."""

from __future__ import annotations

import pytest

from rapportsok.evaluation import ABSENT_QUERIES
from rapportsok.query import SearchRequest
from rapportsok.search.signals import semantic

# a paraphrase whose answer ("där yngre barn placeras tillsammans med sina föräldrar") scores
# just below the 0.86 threshold: its best passage clears it
Q = "små barn placeras tillsammans med mamma eller pappa"


def _semantic(index, q):
    return index.search(SearchRequest(q=q, mode="semantic", limit=100))


def test_passages_near_the_best_are_admitted_below_the_threshold(index, monkeypatch):
    monkeypatch.setattr(semantic, "RELATIVE_MARGIN", 0.0)
    before = _semantic(index, Q)
    monkeypatch.setattr(semantic, "RELATIVE_MARGIN", 0.06)
    after = _semantic(index, Q)
    assert before.best_similarity >= before.threshold
    assert all(h["scores"]["semantic"] >= before.threshold for h in before.hits)
    low = [h for h in after.hits if h["scores"]["semantic"] < after.threshold]
    assert low, "passages below the threshold but near the best are admitted"
    assert all(h["scores"]["semantic"] >= after.best_similarity - 0.06 - 1e-6 for h in after.hits)
    assert after.total > before.total
    floor = after.interpreted["similarity_admitted_from"]
    assert floor == pytest.approx(after.best_similarity - 0.06)
    assert {h["chunk_id"] for h in before.hits} <= {h["chunk_id"] for h in after.hits}


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_absent_topics_still_get_no_meaning_only_hit(index, monkeypatch, mode):
    monkeypatch.setattr(semantic, "RELATIVE_MARGIN", 0.06)
    for q in ABSENT_QUERIES:
        r = index.search(SearchRequest(q=q, mode=mode, limit=10))
        assert r.total_similar == 0 if mode == "hybrid" else r.total == 0, q
        assert r.interpreted["similarity_admitted_from"] == r.threshold


def test_hybrid_top_ten_unchanged_by_relative_admission(index, monkeypatch):
    """Admitted passages below the threshold rank below the ones already there (measured: hybrid
    nDCG@10 identical on dev and test); check it on a question that gains meaning-only hits."""
    req = SearchRequest(q=Q, mode="hybrid", limit=10)
    monkeypatch.setattr(semantic, "RELATIVE_MARGIN", 0.0)
    before = [h["chunk_id"] for h in index.search(req).hits]
    monkeypatch.setattr(semantic, "RELATIVE_MARGIN", 0.06)
    assert [h["chunk_id"] for h in index.search(req).hits] == before


# -- semantic mode: a misspelled query is also embedded as corrected ---------------------------

def _first_rank(hits, needle: str):
    return next((n for n, h in enumerate(hits, 1) if needle in h["text"]), None)


def _similarity(hits, needle: str):
    return next((h.scores["semantic"] for h in hits if needle in h["text"]), None)


def test_semantic_mode_embeds_the_corrected_words(index, monkeypatch):
    """"sjukfrånvarro personal": the page says it searched for *sjukfrånvaro*; in semantic mode the
    corrected words now join the query vector, and the passage on sick leave ranks higher."""
    req = SearchRequest(q="sjukfrånvarro personal", mode="semantic", limit=50)
    monkeypatch.setattr(semantic, "CORRECTED_SHARE", 0.0)
    before = index.search(req)
    monkeypatch.setattr(semantic, "CORRECTED_SHARE", 0.5)
    after = index.search(req)
    assert after.corrections == {"sjukfrånvarro": "sjukfrånvaro"}
    needle = "Den ackumulerade sjukfrånvaron har ökat"
    assert _first_rank(after.hits, needle) is not None
    # the passage comes closer to the query (its rank may tie: vectors of a cold build differ in the
    # last digits from a cached one's, and in one such build it was 3rd either way)
    assert _first_rank(before.hits, needle) is None or (
        _similarity(after.hits, needle) > _similarity(before.hits, needle)
        and _first_rank(after.hits, needle) <= _first_rank(before.hits, needle))
    assert semantic.corrected_text("sjukfrånvarro personal", after.corrections) == "sjukfrånvaro personal"
    assert semantic.corrected_text("Sjukfrånvarro, personal", after.corrections) == "sjukfrånvaro, personal"
    assert semantic.corrected_text("sjukfrånvarrot", after.corrections) == "sjukfrånvarrot"  # whole words only


def test_corrected_words_change_neither_hybrid_nor_english_nor_expand_off(index, monkeypatch):
    def ids(q, mode, **kw):
        return [h["chunk_id"] for h in index.search(SearchRequest(q=q, mode=mode, limit=10, **kw)).hits]
    cases = [("sjukfrånvarro personal", "hybrid", {}), ("leaving criminal gangs", "semantic", {}),
             ("sjukfrånvarro personal", "semantic", {"expand": False})]
    for q, mode, kw in cases:
        monkeypatch.setattr(semantic, "CORRECTED_SHARE", 0.0)
        before = ids(q, mode, **kw)
        monkeypatch.setattr(semantic, "CORRECTED_SHARE", 0.5)
        assert ids(q, mode, **kw) == before, (q, mode)


# -- session 14: the question's own words vouch that the reports speak of it --------------------

ABSENT_PROBES = ABSENT_QUERIES + [
    "school meals for children", "Ericsson share price", "football match in Malmö", "offshore wind power",
    "väderprognos för imorgon", "melodifestivalen vinnare", "recipe for cinnamon buns", "space travel to Mars",
    "stock market crash", "fotbollsmatch i Malmö", "skolmat", "kanelbullar"]


@pytest.mark.parametrize("q, needle", [("CRA", "CRA"), ("institutionsplacering", "institutionsplacering")])
def test_own_words_in_the_reports_admit_meaning_hits_below_the_threshold(index, monkeypatch, q, needle):
    """Semantic mode said "Inget relevant hittades" for "CRA" although a passage contains it: its
    best similarity (0.851) is below the 0.86 that keeps absent topics out. The words themselves
    show the reports speak of it, so the passages near the best one are admitted, as when the
    best one reaches the threshold (semantic nDCG@10 dev 0.554 → 0.582, test 0.613 → 0.629)."""
    from rapportsok.search import engine

    monkeypatch.setattr(engine, "WORDS_VOUCH", "0")
    before = _semantic(index, q)
    assert before.total_words >= 1 and before.total == 0 and before.best_similarity < before.threshold
    monkeypatch.setattr(engine, "WORDS_VOUCH", "all")
    after = _semantic(index, q)
    assert after.total > 0 and after.interpreted["admitted_by_words"]
    assert after.interpreted["similarity_admitted_from"] == pytest.approx(after.best_similarity - semantic.RELATIVE_MARGIN)
    assert any(needle.lower() in h["text"].lower() for h in after.hits[:10])
    assert all(h["scores"]["semantic"] >= after.best_similarity - semantic.RELATIVE_MARGIN - 1e-6 for h in after.hits)


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_absent_topics_are_not_vouched_for(index, mode):
    """Only the question's own words vouch, every one of them known as written: a corrected,
    translated or unknown word does not ("fotbollsmatch i Malmö" has 2 passages with *Malmö*,
    "rymdfärd till Mars" 11 with the month *mars*; both stay at no meaning-only hit). (In hybrid
    mode some of these probes get a few "some of the words" passages – *vinnare*, *children* →
    barn – with or without this step; that is the hybrid admission rule, README.)"""
    for q in ABSENT_PROBES:
        r = index.search(SearchRequest(q=q, mode=mode, limit=10))
        assert not r.interpreted["admitted_by_words"], q
        if mode == "semantic":
            assert r.total == 0, (q, r.best_similarity)
        else:
            assert r.interpreted["similarity_admitted_from"] == r.threshold, q
