"""Swedish full-text search: acronyms, stems, compounds, å/ä/ö, filters and bad input."""

import pytest

from rapportsok.errors import SearchError
from rapportsok.query import parse_request


def keyword(index, q, **params):
    return index.search(parse_request({"q": q, "mode": "keyword", "limit": 50, **params}))


def test_sspf_finds_kalmar_and_nacka_with_and_without_the_acronym(index):
    resp = keyword(index, "SSPF")
    assert resp.interpreted["topics"] == ["sspf"]
    hits = resp.hits
    spelled_out = lambda t: all(w in t.lower() for w in ("skola", "socialtjänst", "polis", "fritid"))
    assert hits and all("SSPF" in h["text"] or spelled_out(h["text"]) for h in hits)
    assert {h["municipality"] for h in hits} == {"Kalmar", "Nacka"}
    # Kalmar's June report describes SSPF without the acronym in its summary
    assert any("SSPF" not in h["text"] and "samverkansformer startats upp mellan skola, socialtjänst, polis, fritid" in h["text"] for h in hits)


def test_skyddat_boende_finds_the_passages_that_say_it(index):
    hits = keyword(index, '"skyddat boende"').hits
    assert hits and all("skyddat boende" in h["text"].lower() for h in hits)
    assert any(h["municipality"] == "Nacka" and "20 våldsutsatta varit placerade på skyddat boende" in h["text"] for h in hits)


def test_familjehem_finds_familjehemsplaceringar(index):
    hits = keyword(index, "familjehem").hits
    compound_only = [h for h in hits if "familjehemsplaceringar" in h["text"] and " familjehem " not in h["text"]]
    assert compound_only, "a passage that only has the compound must be found"
    assert {h["municipality"] for h in hits} >= {"Kalmar", "Nacka", "Helsingborg", "Katrineholm"}


def test_omsorg_finds_aldreomsorg(index):
    hits = keyword(index, "omsorg").hits
    assert any("äldreomsorg" in h["text"] for h in hits)


def test_diacritics_are_distinct(index):
    # "får" (gets) must not match "far" (father/goes) and vice versa.
    hits = keyword(index, "far").hits
    assert all(" far " in f" {h['text'].lower()} " or "far" in h["text"].lower() for h in hits)
    assert not any(h["text"].lower().count("far") == 0 for h in hits)


def test_stemming_matches_inflections(index):
    hits = keyword(index, "placering").hits
    assert any("placeringar" in h["text"] and "placering " not in h["text"] for h in hits)


def test_filters_by_municipality_year_and_type(index):
    hits = keyword(index, "familjehem", kommun="Kalmar", year="2022").hits
    assert hits and {h["kommunkod"] for h in hits} == {"0880"} and {h["year"] for h in hits} == {2022}
    hits = keyword(index, "familjehem", type="årsbokslut").hits
    assert hits and {h["municipality"] for h in hits} == {"Helsingborg"}
    assert keyword(index, "familjehem", year="2030").hits == []


def test_misspelling_is_corrected(index):
    # issue 11: spelling correction only in the meaning-aware modes (was: also in Exakta ord)
    resp = keyword(index, "skydat boende", mode="hybrid")
    assert resp.corrections == {"skydat": "skydd"}
    assert any("skyddat boende" in h["text"] for h in resp.hits)
    exact = keyword(index, "skydat boende")
    assert exact.corrections == {} and exact.hits == [] and exact.interpreted["suggestions"] == {"skydat": "skyddat"}


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
@pytest.mark.parametrize("q", ['"', "*", "NEAR", "AND(", "familjehem OR", "x' or 1=1 --", "); drop table chunks; --", "a:b",
                               "{text}: x", "x" * 499, "!!! ??? ...", "ååå äää"])
def test_fts_syntax_and_sql_fragments_are_harmless(index, q, mode):
    try:
        resp = keyword(index, q, mode=mode)
    except SearchError as exc:
        assert exc.parameter == "q"
    else:
        assert isinstance(resp.hits, list)


@pytest.mark.parametrize("params, parameter", [
    ({"q": ""}, "q"), ({"q": "!!!"}, "q"), ({"q": "x" * 10_000}, "q"),
    ({"q": "a", "limit": "0"}, "limit"), ({"q": "a", "limit": "10000"}, "limit"),
    ({"q": "a", "kommun": "Atlantis"}, "kommun"), ({"q": "a", "year": "3000"}, "year"),
    ({"q": "a", "year": "nästa år"}, "year"), ({"q": "a", "mode": "magic"}, "mode"),
])
def test_bad_parameters_are_named(params, parameter):
    with pytest.raises(SearchError) as err:
        parse_request(params)
    assert err.value.parameter == parameter
