"""The search evaluation set stays valid: every quote is found in the built corpus.

A quote that no passage contains would silently count as a miss for every search mode
(the evaluation would rot when the corpus, the text cleaning or the chunking changes).
"""

from __future__ import annotations

from collections import Counter

from rapportsok.evaluation import load_queries, missing_quotes, select_split

KINDS = {"acronym", "paraphrase", "numeric", "cross", "misspelling", "inflection", "english"}


def test_every_quote_is_found_in_the_built_corpus(index):
    missing = missing_quotes(index, load_queries())
    assert missing == [], "\n".join(f"{q!r}: {quote!r}" for q, quote in missing)


def test_queries_have_a_kind_a_split_and_quotes():
    queries = load_queries()
    assert len(queries) >= 150
    assert sum(q["origin"] == "tuned" for q in queries) == 46
    assert len({q["q"] for q in queries}) == len(queries), "a query text appears twice"
    for q in queries:
        assert q["kind"] in KINDS, q["q"]
        assert q["split"] in ("dev", "test"), q["q"]
        assert q["origin"] in ("tuned", "blind"), q["q"]
        assert q["quotes"] and len(set(q["quotes"])) == len(q["quotes"]), q["q"]


def test_split_is_stratified_by_kind():
    queries = load_queries()
    dev, test = select_split(queries, "dev"), select_split(queries, "test")
    assert len(dev) + len(test) == len(queries) == len(select_split(queries, "all"))
    dev_kinds, test_kinds = Counter(q["kind"] for q in dev), Counter(q["kind"] for q in test)
    for kind in KINDS:
        assert abs(dev_kinds[kind] - test_kinds[kind]) <= 1, kind
