"""Tables as data. Expected values were read from the source files, not copied from the parser."""

import json
import re
import sqlite3


from rapportsok.build import BuildOptions, build
from rapportsok.numbers_sv import looks_numeric


def table(conn, report_id, where, *args):
    row = conn.execute(f"select * from tables where report_id = ? and {where}", [report_id, *args]).fetchone()
    assert row is not None, (report_id, where, args)
    return row


def cell(conn, table_id, row_label, column_label):
    rows = conn.execute("select * from table_cells where table_id = ? and row_label = ? and column_label = ?",
                        [table_id, row_label, column_label]).fetchall()
    assert len(rows) == 1, (table_id, row_label, column_label, len(rows))
    return rows[0]


def data_rows(conn, table_id):
    return conn.execute("select count(distinct row_index) from table_cells where table_id = ? and value is not null", [table_id]).fetchone()[0]


def test_kalmar_prognos_driftredovisning(conn):
    t = table(conn, "kalmar-2022-06-manadsrapport", "caption = 'Driftredovisning, tkr' and columns like '%Budget VR jun 2022%'")
    assert t["title"] == "Prognos driftredovisning" and t["unit"] == "tkr"
    assert data_rows(conn, t["id"]) == 7
    c = cell(conn, t["id"], "Intäkter", "Budget VR jun 2022")
    assert (c["raw"], c["value"], c["unit"], c["period"], c["is_total"]) == ("-77 174", -77174, "tkr", "VR jun 2022", 0)
    c = cell(conn, t["id"], "Summa KOSTNADER", "Prognos VR jun 2022")
    assert (c["value"], c["is_total"]) == (1001935, 1)
    assert cell(conn, t["id"], "Övriga kostnader", "Avvikelse")["value"] == -23075
    assert t["sum_check"] == "ok"
    assert (c["municipality"], c["kommunkod"], c["year"]) == ("Kalmar", "0880", 2022)


def test_kalmar_per_verksamhet(conn):
    t = table(conn, "kalmar-2022-06-manadsrapport", "columns like '%2022 / Budget%'")
    assert data_rows(conn, t["id"]) == 18
    c = cell(conn, t["id"], "BARN o FAMILJ / Trygga, säkra o stödj barn o ungas levnadsvillkor", "2022 / Prognos")
    assert (c["value"], c["unit"], c["period"], c["is_total"]) == (153244, "tkr", "2022", 0)
    c = cell(conn, t["id"], "VUXEN", "2022 / Avvikelse")
    assert (c["value"], c["is_total"]) == (-9300, 1)
    c = cell(conn, t["id"], "Summa", "2022 / Avvikelse")
    assert (c["value"], c["is_total"]) == (-11600, 1)
    assert t["sum_check"] == "ok"


def test_nacka_two_level_header(conn):
    t = table(conn, "nacka-2023-t2-tertialbokslut", "caption = 'Verksamhet mnkr'")
    assert t["unit"] == "mnkr" and data_rows(conn, t["id"]) == 7
    c = cell(conn, t["id"], "Barn och unga 0-20 år", "Ack utfall 2023 / Utfall netto")
    assert (c["value"], c["unit"], c["period"]) == (-124.6, "mnkr", "2023")
    c = cell(conn, t["id"], "Summa", "Helår budget och prognos 2023 / Prognos netto")
    assert (c["raw"], c["value"], c["is_total"]) == ("-1 011,2", -1011.2, 1)
    assert cell(conn, t["id"], "Myndighet och Huvudmannaskap", "Ack budget 2023 / Budget avvikelse")["value"] == -1.0
    assert t["sum_check"] == "ok"


def test_nacka_skyddat_boende(conn):
    t = table(conn, "nacka-2023-t2-tertialbokslut", "title = 'Placerade i skyddat boende pga våld i nära relation'")
    assert data_rows(conn, t["id"]) == 5
    c = cell(conn, t["id"], "Antal dygn inom skyddat boende", "jan-jun 2023")
    assert (c["value"], c["unit"], c["period"]) == (907, "dygn", "jan-jun 2023")
    assert cell(conn, t["id"], "Antal dygn inom skyddat boende", "jan-jun 2020")["value"] == 2615
    assert cell(conn, t["id"], "Antal medföljande barn per vuxen", "jan-jun 2021")["value"] == 1.2


def test_nacka_lss_persons(conn):
    t = table(conn, "nacka-2023-t2-tertialbokslut", "title like 'Antal personer med insatser enligt LSS%'")
    assert data_rows(conn, t["id"]) == 10 and t["unit"] == "antal"
    c = cell(conn, t["id"], "Daglig verksamhet enl. 9 § 10 LSS", "jan-jun 2023")
    assert (c["value"], c["unit"], c["period"]) == (292, "antal", "jan-jun 2023")
    assert cell(conn, t["id"], "Boende vuxna enl. 9 § 9 LSS, bostad med särskild service", "jan-jun 2020")["value"] == 168


def test_helsingborg_resultatrakning(conn):
    t = table(conn, "helsingborg-2021-arsbokslut", "caption = 'Resultaträkning, tkr'")
    assert data_rows(conn, t["id"]) == 9 and t["unit"] == "tkr"
    c = cell(conn, t["id"], "Kommunbidrag", "Utfall 2021")
    assert (c["value"], c["unit"], c["period"]) == (576399, "tkr", "2021")
    assert cell(conn, t["id"], "Kostnader", "Internbudget 2021")["value"] == -687961
    assert cell(conn, t["id"], "ÅRETS RESULTAT", "Utfall 2021")["value"] == -12379
    assert cell(conn, t["id"], "Akkumulerat resultat (inklusive årets resultat)", "Utfall 2021")["value"] == -3779


def test_helsingborg_broken_hyphenated_table(conn):
    t = table(conn, "helsingborg-2021-arsbokslut", "title = 'Driftbidrag och projektbidrag, mnkr'")
    assert t["unit"] == "mnkr" and t["caption"] == "Bidragstyp"
    columns = json.loads(t["columns"])
    assert columns[:3] == ["Bidrag", "Utbetalas från", "Ansökt / 2020"] and columns[-1] == "Kommentar"
    assert data_rows(conn, t["id"]) == 6  # five grants and Totalt; the repeated header is gone
    c = cell(conn, t["id"], "Driftbidrag / Ersättning för nyanlända / Migrationsverket", "Beviljat / 2020")
    assert (c["value"], c["unit"], c["period"]) == (29.9, "mnkr", "2020")
    rows = conn.execute("select raw from table_cells where table_id = ? and column_label = 'Kommentar'", [t["id"]]).fetchall()
    comments = [r[0] for r in rows]
    assert "Statsbidrag riktat till familjehemheten. Beslut Socialstyrelsen" in comments  # joined across the page break
    labels = {r[0] for r in conn.execute("select row_label from table_cells where table_id = ?", [t["id"]])}
    # "Socialsty- relsen" de-hyphenated (the label also carries the comment: two rows share the printed label)
    assert any(label.startswith("Driftbidrag / Riktat statsbidrag / Socialstyrelsen (") for label in labels)
    c = cell(conn, t["id"], "Totalt", "Beviljat / 2021")
    assert (c["value"], c["is_total"]) == (32.8, 1)
    assert t["sum_check"] == "ok"


def test_every_table_is_converted_or_flagged(conn):
    for t in conn.execute("select id, uncertain, note from tables"):
        unparsed = [r[0] for r in conn.execute("select raw from table_cells where table_id = ? and value is null", [t["id"]])
                    if looks_numeric(r[0])]
        assert not unparsed or (t["uncertain"] and t["note"]), (t["id"], unparsed)
    summary = json.loads(conn.execute("select value from build_info where key = 'tables'").fetchone()[0])
    assert summary["tables"] >= 55 and summary["numeric_share"] > 0.9


def test_sum_mismatch_is_recorded_not_hidden(tmp_path, corpus_copy):
    path = corpus_copy / "000_f034ae467e1d69b6.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Lokalkostnader\t73 151\t73 151\t0", "Lokalkostnader\t73 151\t73 151\t500", 1), encoding="utf-8")
    db = tmp_path / "r.db"
    build(BuildOptions(corpus=corpus_copy, db_path=db, embed=False, quiet=True))
    conn = sqlite3.connect(db)
    check, detail = conn.execute("select sum_check, sum_check_detail from tables where report_id = 'kalmar-2022-06-manadsrapport' and ordinal = 0").fetchone()
    assert check == "avvikelse"
    bad = [d for d in json.loads(detail) if not d["ok"]]
    assert {(d["label"], d["column"]) for d in bad} >= {("Summa KOSTNADER", "Avvikelse")}
    assert any(d["difference"] == -500 for d in bad)


def test_table_text_is_searchable(index):
    from rapportsok.query import parse_request

    hits = index.search(parse_request({"q": "skyddat boende antal dygn", "mode": "keyword", "limit": 5})).hits
    assert any(h["kind"] == "table" and "Antal dygn inom skyddat boende" in h["text"] for h in hits[:3])


# --- issue 15: data a researcher can publish -------------------------------------------------

def test_rows_that_share_printed_labels_are_told_apart_by_their_comment(conn):
    t = table(conn, "helsingborg-2021-arsbokslut", "title = 'Driftbidrag och projektbidrag, mnkr'")
    prio = cell(conn, t["id"], "Driftbidrag / Riktat statsbidrag / SKR (Kommentar: PRIO stimulanmedel)", "Beviljat / 2021")
    region = cell(conn, t["id"], "Driftbidrag / Riktat statsbidrag / SKR (Kommentar: Gemensamma medel region)", "Beviljat / 2021")
    assert (prio["value"], region["value"]) == (4.3, 2.5)
    utsatta = cell(conn, t["id"], "Driftbidrag / Riktat statsbidrag / Socialstyrelsen (Kommentar: Statsbidrag för insatser)", "Ansökt / 2021")
    familjehem = cell(conn, t["id"], "Driftbidrag / Riktat statsbidrag / Socialstyrelsen (Kommentar: Statsbidrag riktat till)", "Ansökt / 2021")
    assert (utsatta["value"], familjehem["value"]) == (8.5, 1.4)


def test_table_row_and_column_labels_identify_every_cell_in_the_whole_corpus(conn):
    assert conn.execute("select count(*) from tables").fetchone()[0] == 60
    duplicates = conn.execute("select table_id, row_label, column_label, count(*) from table_cells "
                              "group by 1, 2, 3 having count(*) > 1").fetchall()
    assert [tuple(d) for d in duplicates] == []


DAYS = re.compile(r"\b(dygn|dagar)\b", re.I)
MONEY_OR_SHARE = re.compile(r"\b(kr|kronor|tkr|mnkr|kostnad\w*|procent|andel)\b|%", re.I)


def test_a_count_of_days_is_dygn_or_dagar_wherever_it_occurs(conn):
    rows = conn.execute("select table_id, row_label, column_label, unit, unit_source from table_cells where value is not null").fetchall()
    checked = 0
    for r in rows:
        own_label = r["row_label"].split(" / ")[-1]
        for label in (own_label, r["column_label"]):
            if DAYS.search(label) and not MONEY_OR_SHARE.search(label):
                checked += 1
                assert (r["unit"], r["unit_source"]) == (DAYS.search(label).group(1).lower(), "printed"), tuple(r)
    assert checked == 53  # Nacka's dygn rows, Helsingborg's väntetid in dagar, Kalmar's verkställighetstid
    t = table(conn, "nacka-2023-t2-tertialbokslut", "title like 'Heldygnsvård Barn och Unga%'")
    assert cell(conn, t["id"], "Antal verkställda dygn", "jan-jun 2023")["unit"] == "dygn"  # was "antal"
    assert cell(conn, t["id"], "Antal unika kunder", "jan-jun 2023")["unit"] == "antal"


def test_unit_stated_only_in_the_text_is_inferred_with_its_evidence(conn):
    t = table(conn, "kalmar-2022-05-kallelse", "title = 'Volymförändring och ökade behov inom funktionsnedsättning'")
    assert (t["unit"], t["unit_source"]) == ("tkr", "inferred")
    assert "17,8 mnkr" in t["unit_evidence"] and "12 530" in t["unit_evidence"] and "5 300" in t["unit_evidence"]
    c = cell(conn, t["id"], "Ökade behov inom funktionsnedsättning", "2023")
    assert (c["value"], c["unit"], c["unit_source"]) == (12530, "tkr", "inferred") and c["unit_evidence"] == t["unit_evidence"]
    # the evidence is true: the text states the total, and the other table prints its unit
    text = conn.execute("select text from reports where id = 'kalmar-2022-05-kallelse'").fetchone()[0]
    assert "äskar om ökad budgetram med totalt 17,8 mnkr" in text and "Belopp (tkr)" in text
    assert 12530 + 5300 == 17830
    # no other table gets a unit from the text by chance
    assert [r[0] for r in conn.execute("select id from tables where unit_source = 'inferred'")] == [t["id"]]


def test_unit_source_says_where_every_unit_comes_from(conn):
    rows = conn.execute("select unit, unit_source, unit_evidence from table_cells").fetchall()
    assert all((r["unit"] is None) == (r["unit_source"] is None) for r in rows)
    assert {r["unit_source"] for r in rows} == {"printed", "inferred", None}
    assert all(r["unit_evidence"] for r in rows if r["unit_source"])
    c = conn.execute("select unit_evidence from table_cells where table_id = 'kalmar-2022-06-manadsrapport-t01' "
                     "and row_label = 'Intäkter' and column_label = 'Budget VR jun 2022'").fetchone()
    assert c[0] == "tabellhuvudet: 'Driftredovisning, tkr'"


def test_printed_empty_cells_are_kept_as_cells(conn):
    t = table(conn, "helsingborg-2021-arsbokslut", "title = 'Väntetid'")
    empty = conn.execute("select row_label, raw, value, empty_mark from table_cells where table_id = ? and column_label = 'Utfall 2017'",
                         [t["id"]]).fetchall()
    assert [tuple(e) for e in empty] == [
        ("Genomsnittlig väntetid från ansökan till beslut om insats, antal dagar", None, None, ""),
        ("Genomsnittlig väntetid från anmälan till beslut om insats, antal dagar", None, None, ""),
    ]
    assert cell(conn, t["id"], "Genomsnittlig väntetid från ansökan till beslut om insats, antal dagar", "Utfall 2018")["value"] == 54


def test_wide_and_long_views_have_the_same_rows_and_columns(conn):
    for t in conn.execute("select id, wide from tables").fetchall():
        wide = json.loads(t["wide"])
        cells = conn.execute("select row_index, column_index from table_cells where table_id = ?", [t["id"]]).fetchall()
        rows = {r for r, _ in cells}
        columns = {c for _, c in cells}
        assert rows == set(range(len(wide["rows"]))), t["id"]
        if not rows:
            continue  # two printed tables with a header only (Helsingborg's engångssatsningar, investeringsprojekt)
        assert len(cells) == len(rows) * len(columns), t["id"]
        assert max(columns) == len(wide["columns"]) - 1, t["id"]


STANDALONE = ["municipality", "kommunkod", "municipality_inferred", "year", "report_id", "report_title", "table_title",
              "row_label", "column_label", "is_total"]


def test_every_cell_row_stands_alone(conn):
    columns = {r[1] for r in conn.execute("pragma table_info(table_cells)")}
    assert set(STANDALONE) | {"page_start", "page_end", "unit", "unit_source", "unit_evidence", "period", "raw", "value"} <= columns
    for name in STANDALONE:
        assert conn.execute(f"select count(*) from table_cells where {name} is null").fetchone()[0] == 0, name
    # text files have no pages; the PDF reader fills these
    assert conn.execute("select count(*) from table_cells where page_start is not null or page_end is not null").fetchone()[0] == 0
    inferred = conn.execute("select report_id, sum(municipality_inferred) from table_cells group by 1").fetchall()
    assert all(n == 0 for _, n in inferred)  # the one report with an inferred kommun (Katrineholm) has no tables


def test_build_report_counts_empty_cells_and_inferred_units(conn):
    from rapportsok.build import BuildResult

    summary = json.loads(conn.execute("select value from build_info where key = 'tables'").fetchone()[0])
    assert (summary["tables"], summary["cells"], summary["empty_cells"], summary["printed_cells"]) == (60, 1211, 154, 1057)
    assert summary["units"] == {"printed": 931, "inferred": 30, "none": 70} and summary["tables_unit_inferred"] == 1
    report = BuildResult(db_path=None, reports=5, sections=0, chunks=0, tables=summary).table_report
    assert "tomma (tryckt –/blankt): 154" in report and "härledd ur texten 30 (1 tabeller)" in report


def test_every_column_of_the_data_tables_has_a_swedish_label(conn):
    import yaml

    from rapportsok import paths

    meta = yaml.safe_load(paths.metadata_path().read_text(encoding="utf-8"))["databases"]["rapportsok"]["tables"]
    for name in ("reports", "report_metadata", "tables", "table_cells"):
        columns = {r[1] for r in conn.execute(f"pragma table_info({name})")}
        labelled = set(meta[name]["columns"])
        assert columns - labelled - {"id"} == set(), name


def test_rows_without_a_distinguishing_comment_get_their_row_number(corpus_dir):
    from rapportsok.structure import parse
    from rapportsok.tables import tables_of
    from rapportsok.textio import read_report

    text = read_report(corpus_dir / "003_aa15bfdefd7f5155.txt").text
    for comment in ("PRIO stimulan- medel. SKR beslutar om summan per kom- mun",
                    "Gemen- samma medel region NV Skåne. SKR beslutar om summan per lands- ting"):
        assert comment in text
        text = text.replace(comment, "")
    t = next(t for t in tables_of(parse(text)) if t.title == "Driftbidrag och projektbidrag, mnkr")
    assert t.row_labels[:2] == ["Driftbidrag / Riktat statsbidrag / SKR (rad 1)", "Driftbidrag / Riktat statsbidrag / SKR (rad 2)"]
    assert len({(c.row_label, c.column_label) for c in t.cells}) == len(t.cells)
