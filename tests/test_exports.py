"""Every CSV the site writes, in both variants, opened as people open them: Python's csv module
and pandas (the test-only stand-in for a researcher's notebook; Excel reads the ``excel``
variant the same way: semicolon, decimal comma, UTF-8 with BOM)."""

import csv
import io

import pandas as pd
import pytest

from rapportsok import exports

TABLE_WITH_DECIMALS = "nacka-2023-t2-tertialbokslut-t04"


def test_formula_like_text_is_neutralised_numbers_are_not():
    assert exports.cell("=HYPERLINK(\"http://x\";\"klicka\")") == "'=HYPERLINK(\"http://x\";\"klicka\")"
    for text in ("+46 70 123", "-  21 Haparanda kommun", "@SUMMA(A1)", "\tflik", "\rretur"):
        assert exports.cell(text) == "'" + text
    for number in ("-12", "-130,8", "+5", "-0.25", "1e5"):
        assert exports.cell(number) == number
    assert exports.cell(-130.8) == "-130.8" and exports.cell(-130.8, "excel") == "-130,8"
    assert exports.cell(-77174) == "-77174" and exports.cell(2022.0, "excel") == "2022"
    assert exports.cell("0182") == "0182" and exports.cell(None) == "" and exports.cell("vanlig text") == "vanlig text"


async def _csv(ds, path, variant):
    sep = "&" if "?" in path else "?"
    r = await ds.client.get(path + (f"{sep}variant=excel" if variant == "excel" else ""))
    assert r.status_code == 200, (path, r.text[:300])
    assert r.headers["content-type"].startswith("text/csv")
    disposition = r.headers["content-disposition"]
    assert ("-excel.csv" in disposition) == (variant == "excel")
    return r.content


def _check_variant(raw: bytes, variant: str) -> tuple[list[dict], pd.DataFrame]:
    """The file's BOM, delimiter and line ends, read by csv and by pandas."""
    if variant == "excel":
        assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 BOM to read å/ä/ö"
        text = raw.decode("utf-8-sig")
        assert csv.Sniffer().sniff(text.split("\r\n")[0]).delimiter == ";" and "\r\n" in text
        sep = ";"
    else:
        assert not raw.startswith(b"\xef\xbb\xbf")
        text = raw.decode("utf-8")
        sep = ","
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=sep))
    frame = pd.read_csv(io.BytesIO(raw), sep=sep, encoding="utf-8-sig", decimal="," if variant == "excel" else ".",
                        dtype={"kommunkod": str})
    assert list(frame.columns) == list(rows[0].keys())
    return rows, frame


@pytest.mark.parametrize("variant", ["csv", "excel"])
async def test_search_csv_variants(ds, variant):
    raw = await _csv(ds, "/sok.csv?q=Haparanda&mode=keyword", variant)
    rows, frame = _check_variant(raw, variant)
    # the passage that starts "- 21 Haparanda kommun" is text to a spreadsheet, not a formula
    haparanda = [r["text"] for r in rows if "21 Haparanda" in r["text"]]
    assert haparanda and all(t.startswith("'- ") for t in haparanda)
    assert not any(str(t).startswith(("=", "+", "-", "@")) for t in frame["text"].dropna())
    # kommunkod keeps its leading zero; numbers stay numbers (decimal comma in the Excel variant)
    assert set(frame["kommunkod"].dropna()) == {"0880"}  # Kalmar
    assert frame["score"].dtype == float and frame["year"].dtype.kind in "if"
    score = rows[0]["score"]
    assert ("," in score and "." not in score) if variant == "excel" else ("." in score and "," not in score)


@pytest.mark.parametrize("variant", ["csv", "excel"])
async def test_search_csv_is_complete_with_folded_duplicates(ds, variant):
    # issue 11: semantic mode no longer pads with passages below the similarity threshold, and
    # "total" counts passages (folded ones included); the list a reader pages through is "shown"
    json_total = (await ds.client.get("/sok.json?q=placering&mode=keyword&limit=1")).json()["shown"]
    rows, frame = _check_variant(await _csv(ds, "/sok.csv?q=placering&mode=keyword", variant), variant)
    hits = [r for r in rows if not r["dubblett_av"]]
    dups = [r for r in rows if r["dubblett_av"]]
    assert len(hits) == json_total > 10  # every hit, not the first page
    assert dups, "folded near-duplicates are in the export, marked with the hit they were folded into"
    ranks = {r["rank"] for r in hits}
    assert all(d["dubblett_av"] in ranks and d["report_url"] for d in dups)


@pytest.mark.parametrize("variant", ["csv", "excel"])
async def test_table_csv_as_printed_has_numbers_and_no_footnote_rows(ds, variant):
    rows, frame = _check_variant(await _csv(ds, f"/tabell/{TABLE_WITH_DECIMALS}.csv", variant), variant)
    numeric = frame.select_dtypes("number")
    assert numeric.shape[1] == frame.shape[1] - 1, "every value column is read as numbers"
    assert -130.8 in numeric.values
    cells = [c for r in rows for c in r.values()]
    assert any(c == ("-130,8" if variant == "excel" else "-130.8") for c in cells)
    assert not any(c.startswith("*") for c in frame.iloc[:, 0])


async def test_table_csv_leaves_out_footnotes(ds, conn):
    import json

    found = None
    for tid, wide in conn.execute("select id, wide from tables"):
        wide = json.loads(wide)
        if wide.get("footnotes") or any(r[0].startswith("*") and not any(c.strip() for c in r[1:]) for r in wide["rows"]):
            found = tid, wide
            break
    assert found, "the corpus has a table with a footnote"
    tid, wide = found
    r = await ds.client.get(f"/tabell/{tid}.csv")
    body = list(csv.reader(io.StringIO(r.text)))
    data_rows = [x for x in wide["rows"] if not (x[0].startswith("*") and not any(c.strip() for c in x[1:]))]
    assert len(body) == 1 + len(data_rows)
    assert not any(b[0].startswith(("*", "'*")) for b in body[1:])
    page = (await ds.client.get(f"/tabell/{tid}")).text
    for note in wide.get("footnotes", []):
        assert note in page  # the footnote is shown under the table instead


@pytest.mark.parametrize("variant", ["csv", "excel"])
async def test_batch_csv_variants(ds, variant):
    r = await ds.client.post("/batch", data={"fragor": "Haparanda\nSSPF", "n": "3", "mode": "keyword", "variant": variant})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows, frame = _check_variant(r.content, variant)
    assert not any(str(t).startswith(("=", "+", "-", "@")) for t in frame["text"].dropna())
    assert "0182" in set(frame["kommunkod"].dropna())
    per_year = [x for x in rows if x["row_type"] == "antal_år" and x["query"] == "SSPF"]
    assert per_year and all(x["year"] and int(x["hits_in_kommun_year"]) > 0 for x in per_year)
    per_kommun = {x["kommunkod"]: int(x["hits_in_kommun"]) for x in rows if x["row_type"] == "antal" and x["query"] == "SSPF"}
    for code, total in per_kommun.items():
        assert total == sum(int(x["hits_in_kommun_year"]) for x in per_year if x["kommunkod"] == code)


@pytest.mark.parametrize("payload, delimiter", [("id;fråga;kommentar\n1;skyddat boende;x\n2;SSPF;y\n", ";"),
                                                ("id\tsökord\n1\tskyddat boende\n2\tSSPF\n", "\t"),
                                                ("id,q\n1,skyddat boende\n2,SSPF\n", ",")])
def test_batch_reads_semicolon_tab_and_comma_tables(payload, delimiter):
    from rapportsok import web

    queries, warnings = web.read_batch(payload)
    assert queries == ["skyddat boende", "SSPF"] and warnings == []


def test_batch_warns_about_what_it_cannot_read():
    from rapportsok import web

    queries, warnings = web.read_batch("id;fråga\n1;skyddat boende\n2\n3;\n")
    assert queries == ["skyddat boende"]
    assert warnings[0].startswith("rad 3:") and warnings[1].startswith("rad 4:")
    queries, warnings = web.read_batch("id;namn\n1;skyddat boende\n2;SSPF\n")
    assert "ingen kolumn" in warnings[0]


@pytest.mark.parametrize("path", ["/sok.csv?q=", "/sok.csv?q=x&limit=0", "/sok.csv?q=x&variant=pdf",
                                  "/tabell/finns-inte.csv", "/tabell/kalmar-2022-06-manadsrapport-t01.csv?variant=x"])
async def test_csv_routes_answer_errors_as_plain_text(ds, path):
    r = await ds.client.get(path)
    assert r.status_code in (400, 404)
    assert r.headers["content-type"].startswith("text/plain") and "<html" not in r.text.lower()
    assert r.text.startswith("Fel: ")


@pytest.mark.parametrize("variant", ["csv", "excel"])
def test_cli_csv_uses_the_same_writer(built_db, variant):
    from click.testing import CliRunner

    from rapportsok.cli import main

    args = ["search", "Haparanda", "--mode", "keyword", "--csv", "--db", str(built_db)] + (["--excel"] if variant == "excel" else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    raw = result.stdout_bytes
    rows, frame = _check_variant(raw, variant)
    assert any(r["text"].startswith("'- 21 Haparanda") for r in rows)
    assert set(frame["kommunkod"]) == {"0880"}
