"""Every report gets the right municipality, code, type and period – from the manifest and from detection."""

import sqlite3

import pytest

from rapportsok.detect import detect_all
from rapportsok.textio import read_report

EXPECTED = {
    "000_f034ae467e1d69b6.txt": ("Kalmar", "0880", "månadsrapport", "2022-06", 2022),
    "001_63e6c9868031b1b7.txt": ("Kalmar", "0880", "kallelse", "T1 2022", 2022),
    "002_296cc42e6fadf766.txt": ("Nacka", "0182", "tertialbokslut", "T2 2023", 2023),
    "003_aa15bfdefd7f5155.txt": ("Helsingborg", "1283", "årsbokslut", "2021", 2021),
    "004_85a1eb49e75a5e5b.txt": ("Kungsör", "1960", "månadsrapport", "2019-02", 2019),
}


def test_database_has_the_manifest_metadata(built_db):
    conn = sqlite3.connect(built_db)
    rows = {r[0]: r[1:] for r in conn.execute("select source_file, municipality, kommunkod, report_type, period, year from reports")}
    assert rows == EXPECTED
    county = dict(conn.execute("select kommunkod, county from reports"))
    assert county == {"0880": "Kalmar län", "0182": "Stockholms län", "1283": "Skåne län", "1960": "Västmanlands län"}


@pytest.mark.parametrize("name", list(EXPECTED)[:4])
def test_detection_finds_municipality_type_and_period(corpus_dir, name):
    det = detect_all(read_report(corpus_dir / name).text)
    municipality, code, rtype, period, year = EXPECTED[name]
    assert (det["municipality"].value, det["kommunkod"].value) == (municipality, code)
    assert det["kommunkod"].confidence == "säker"
    assert det["report_type"].value == rtype
    assert det["period"].value == period
    assert det["year"].value == year


def test_unnamed_municipality_is_reported_unknown_not_guessed(corpus_dir):
    det = detect_all(read_report(corpus_dir / "004_85a1eb49e75a5e5b.txt").text)
    assert det["kommunkod"].value is None and det["kommunkod"].confidence == "okänd"
    assert (det["report_type"].value, det["period"].value) == ("månadsrapport", "2019-02")


def test_detected_date_and_diarienummer(corpus_dir):
    det = detect_all(read_report(corpus_dir / "000_f034ae467e1d69b6.txt").text)
    assert det["document_date"].value == "2022-08-22"
    assert det["diarienummer"].value == "SN 2021/0248.03.01"


def test_provenance_is_recorded_per_field(built_db):
    conn = sqlite3.connect(built_db)
    rows = {(r[0], r[1]): r[2:] for r in conn.execute(
        "select report_id, field, source, confidence, detected_value, detected_confidence from report_metadata")}
    assert rows[("kungsor-2019-02-manadsrapport", "kommunkod")] == ("manifest", "säker", None, "okänd")
    assert rows[("nacka-2023-t2-tertialbokslut", "kommunkod")] == ("manifest", "säker", "0182", "säker")
    assert rows[("nacka-2023-t2-tertialbokslut", "document_date")][0] == "none"


def test_all_290_municipalities_are_in_the_reference_table(built_db):
    conn = sqlite3.connect(built_db)
    assert conn.execute("select count(*), count(distinct lan) from municipalities").fetchone() == (290, 21)
    assert conn.execute("select kommun, lan from municipalities where kommunkod = '1960'").fetchone() == ("Kungsör", "Västmanlands län")
