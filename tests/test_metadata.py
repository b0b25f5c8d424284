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
    "004_85a1eb49e75a5e5b.txt": ("Katrineholm", "0483", "månadsrapport", "2019-02", 2019),
}


def test_database_has_the_manifest_metadata(built_db):
    conn = sqlite3.connect(built_db)
    rows = {r[0]: r[1:] for r in conn.execute("select source_file, municipality, kommunkod, report_type, period, year from reports")}
    assert rows == EXPECTED
    county = dict(conn.execute("select kommunkod, county from reports"))
    assert county == {"0880": "Kalmar län", "0182": "Stockholms län", "1283": "Skåne län", "0483": "Södermanlands län"}


@pytest.mark.parametrize("name", list(EXPECTED)[:4])
def test_detection_finds_municipality_type_and_period(corpus_dir, name):
    det = detect_all(read_report(corpus_dir / name).text)
    municipality, code, rtype, period, year = EXPECTED[name]
    assert (det["municipality"].value, det["kommunkod"].value) == (municipality, code)
    assert det["kommunkod"].confidence == "säker"
    assert det["report_type"].value == rtype
    assert det["period"].value == period
    assert det["year"].value == year


def test_unnamed_municipality_is_inferred_from_actors_and_marked_as_such(corpus_dir):
    det = detect_all(read_report(corpus_dir / "004_85a1eb49e75a5e5b.txt").text)
    mun = det["kommunkod"]
    assert (mun.value, mun.confidence, mun.inferred) == ("0483", "osäker", True)
    assert det["municipality"].value == "Katrineholm" and det["county"].value == "Södermanlands län"
    assert mun.evidence.startswith("härledd från ortnamn och aktörer i texten: ")
    for actor in ("Viadidakt (rad 77", "KFAB (rad 77", "Skogsborgsskolan (rad 127"):
        assert actor in mun.evidence
    assert (det["report_type"].value, det["period"].value) == ("månadsrapport", "2019-02")


def test_one_actor_is_not_enough_to_infer_a_municipality(corpus_dir):
    text = read_report(corpus_dir / "004_85a1eb49e75a5e5b.txt").text
    det = detect_all(text.replace("Viadidakt", "arbetsmarknadsenheten").replace("Skogsborgsskolan", "en skola"))
    assert det["kommunkod"].value is None and det["kommunkod"].confidence == "okänd"
    assert "KFAB" in det["kommunkod"].evidence  # what was found is still told


def test_printed_municipalities_are_not_marked_inferred(corpus_dir):
    for name in list(EXPECTED)[:4]:
        assert detect_all(read_report(corpus_dir / name).text)["kommunkod"].inferred is False


def test_the_004_attribution_and_its_evidence_are_true(corpus_dir):
    """Every line the manifest cites for Katrineholm says what the note says it says."""
    import csv

    rows = {r["file"]: r for r in csv.DictReader((corpus_dir / "manifest.csv").open(encoding="utf-8"))}
    row = rows["004_85a1eb49e75a5e5b.txt"]
    assert (row["id"], row["municipality"], row["kommunkod"], row["county"]) == (
        "katrineholm-2019-02-manadsrapport", "Katrineholm", "0483", "Södermanlands län")
    lines = read_report(corpus_dir / "004_85a1eb49e75a5e5b.txt").text.split("\n")
    cited = {"Viadidakt": 77, "KFAB": 77, "Skogsborgsskolan": 127, "578 st ärenden": 63, "4 488 784": 63,
             "trehundra personer från kommunen": 131, "64,3 mkr": 27, "28,7 mkr": 27, "Migrationsverket": 27}
    for words, line in cited.items():
        assert words in lines[line - 1], (words, line)
        assert f"rad {line}" in row["notes"], (words, line)
    for name in ("Viadidakt", "KFAB", "Skogsborgsskolan", "578", "4 488 784", "trehundra", "64,3 mkr", "Migrationsverket"):
        assert name in row["notes"], name
    assert "Hembla och KFAB" in lines[76]  # KFAB is named as a landlord ("hyresvärdar")
    assert "Katrineholm" not in "\n".join(lines) and "Kungsör" not in "\n".join(lines)  # the name is printed nowhere


def test_a_manifest_municipality_that_detection_contradicts_gives_a_warning_naming_both(corpus_copy):
    from rapportsok.build import BuildOptions, parse_corpus

    path = corpus_copy / "manifest.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("katrineholm-2019-02-manadsrapport,004_85a1eb49e75a5e5b.txt,Månadsrapport Socialförvaltningen februari 2019,"
                                 "Katrineholm,0483,Södermanlands län",
                                 "kungsor-2019-02-manadsrapport,004_85a1eb49e75a5e5b.txt,Månadsrapport Socialförvaltningen februari 2019,"
                                 "Kungsör,1960,Västmanlands län"), encoding="utf-8")
    reports, warnings = parse_corpus(BuildOptions(corpus=corpus_copy, db_path=corpus_copy / "x.db", embed=False, quiet=True))
    found = [w for w in warnings if "004_85a1eb49e75a5e5b.txt" in w]
    assert len(found) == 1, warnings
    assert "Kungsör (1960)" in found[0] and "Katrineholm (0483)" in found[0] and "Viadidakt" in found[0]
    assert "manifest.csv rad 6" in found[0]
    assert not [w for w in warnings if "004" not in w]  # the four printed municipalities agree with the manifest


def test_detected_date_and_diarienummer(corpus_dir):
    det = detect_all(read_report(corpus_dir / "000_f034ae467e1d69b6.txt").text)
    assert det["document_date"].value == "2022-08-22"
    assert det["diarienummer"].value == "SN 2021/0248.03.01"


def test_provenance_is_recorded_per_field(built_db):
    conn = sqlite3.connect(built_db)
    rows = {(r[0], r[1]): r[2:] for r in conn.execute(
        "select report_id, field, source, confidence, detected_value, detected_confidence from report_metadata")}
    assert rows[("katrineholm-2019-02-manadsrapport", "kommunkod")] == ("manifest", "säker", "0483", "osäker")
    assert rows[("nacka-2023-t2-tertialbokslut", "kommunkod")] == ("manifest", "säker", "0182", "säker")
    assert rows[("nacka-2023-t2-tertialbokslut", "document_date")][0] == "none"


def test_all_290_municipalities_are_in_the_reference_table(built_db):
    conn = sqlite3.connect(built_db)
    assert conn.execute("select count(*), count(distinct lan) from municipalities").fetchone() == (290, 21)
    assert conn.execute("select kommun, lan from municipalities where kommunkod = '1960'").fetchone() == ("Kungsör", "Västmanlands län")


def test_inferred_municipality_is_stored_with_its_evidence(built_db):
    conn = sqlite3.connect(built_db)
    rows = {r[0]: r[1:] for r in conn.execute("select id, municipality_inferred, municipality_evidence from reports")}
    assert {rid for rid, (flag, _) in rows.items() if flag} == {"katrineholm-2019-02-manadsrapport"}
    evidence = rows["katrineholm-2019-02-manadsrapport"][1]
    assert evidence.startswith("härledd från ortnamn och aktörer i texten: Viadidakt (rad 77")
    assert all(ev is None for rid, (flag, ev) in rows.items() if not flag)
    meta = dict(conn.execute("select field, inferred from report_metadata where report_id = 'katrineholm-2019-02-manadsrapport'"))
    assert (meta["municipality"], meta["kommunkod"], meta["county"], meta["period"]) == (1, 1, 1, 0)
