"""Hostile report files build in linear time and space (issue 16.5).

Each input once took minutes (quadratic regular expressions, or every table passage
indexing the whole table); the bounds here are generous, so only that kind of blow-up fails.
`benchmarks/hostile_inputs.py` prints the times for the full-size inputs.
"""

import sqlite3
import time

import pytest

from rapportsok.build import BuildOptions, build
from rapportsok.chunking import chunk_document
from rapportsok.detect import detect_all
from rapportsok.errors import CorpusError
from rapportsok.structure import parse

HEAD = ("Månadsrapport juni 2022\n\nSocialnämnden\n\nNämnden redovisar ekonomi och verksamhet för perioden. "
        "Underskottet beror på placeringar i familjehem.\n\n")


def _timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


@pytest.mark.parametrize("name, text", [
    ("100 kB without spaces", "a" * 100_000),              # e-mail patterns: 39 s + 40 s before
    ("16 000 tab-only lines", "\t\t\t\n" * 16_000 + "Datum\n"),  # label pattern: 48 s before
    ("20 000 tab lines", "x\t1\ty\n" * 20_000),
    ("letters and hyphens", "A-" * 50_000),
])
def test_parsing_and_detection_are_linear(name, text):
    doc, t_parse = _timed(parse, HEAD + text)
    _, t_chunk = _timed(chunk_document, doc)
    _, t_detect = _timed(detect_all, HEAD + text)
    print(f"{name}: parse {t_parse:.2f} s, chunk {t_chunk:.2f} s, detect {t_detect:.2f} s")
    assert t_parse < 20 and t_chunk < 20 and t_detect < 20, (t_parse, t_chunk, t_detect)


def test_detection_still_reads_labelled_values_across_blank_lines():
    got = detect_all("Datum\n\n  2022-06-14\n\nÄrendebeteckning:\n\t\nSOC 2022/123\n\nkontakt: Anna.Berg@kalmar.se")
    assert got["document_date"].value == "2022-06-14"
    assert got["diarienummer"].value == "SOC 2022/123"
    assert got["municipality"].value == "Kalmar"


def _build_one(tmp_path, text: str):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "rapport.txt").write_text(text, encoding="utf-8")
    db = tmp_path / "r.db"
    return build(BuildOptions(corpus=corpus, db_path=db, embed=False, quiet=True)), db


def test_table_passages_index_only_their_own_rows(tmp_path):
    rows = "".join(f"Enhet{i:05d}\t{i}\t{i * 2}\n" for i in range(3000))
    (result, db), seconds = _timed(_build_one, tmp_path, HEAD + "Kostnader, tkr\tBudget\tUtfall\n" + rows)
    conn = sqlite3.connect(db)
    terms = conn.execute("select t.search_terms, c.text from chunks c join chunk_terms t on t.id = c.id "
                         "where c.kind = 'table' order by c.id").fetchall()
    assert len(terms) > 10
    for search_terms, text in terms:
        own = {w.lower() for w in text.split() if w.startswith("Enhet")}
        indexed = {w for w in search_terms.split() if w.startswith("enhet")}
        assert indexed <= own | {"enhet"}, sorted(indexed - own)[:5]
    # the database grows with the table, not with the table squared (458 MB for 40 000 rows before)
    assert db.stat().st_size < 8_000_000, db.stat().st_size
    print(f"3000-row table: {seconds:.1f} s, {db.stat().st_size / 1e6:.1f} MB")


def test_a_report_without_passages_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="no text passages"):
        _build_one(tmp_path, "Innehåll\n" + "Kapitel\t1\n" * 50)
