"""The manifest is validated with errors that name manifest.csv and the line."""

import csv

import pytest

from rapportsok.errors import CorpusError
from rapportsok.manifest import load_manifest


def _rewrite(corpus, edit):
    path = corpus / "manifest.csv"
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    edit(rows)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_real_manifest_lists_all_five_reports(corpus_dir):
    entries = load_manifest(corpus_dir)
    assert sorted(e.values["kommunkod"] for e in entries.values()) == ["0182", "0483", "0880", "0880", "1283"]
    assert entries["002_296cc42e6fadf766.txt"].values["period"] == "T2 2023"
    assert entries["003_aa15bfdefd7f5155.txt"].values["year"] == 2021


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[2].__setitem__(1, "saknas.txt"), r"manifest\.csv:3: file 'saknas\.txt' does not exist"),
    (lambda rows: rows[3].__setitem__(0, rows[2][0]), r"manifest\.csv:4: duplicate id 'kalmar-2022-05-kallelse' \(first used on line 3\)"),
    (lambda rows: rows[4].__setitem__(4, "9999"), r"manifest\.csv:5: unknown kommunkod '9999'"),
    (lambda rows: rows[4].__setitem__(4, "0182"), r"manifest\.csv:5: municipality 'Helsingborg' does not match kommunkod 0182 \(Nacka\)"),
    (lambda rows: rows[1].__setitem__(9, "tjugo"), r"manifest\.csv:2: year 'tjugo' is not a number"),
    (lambda rows: rows[1].__setitem__(8, "juni 2022"), r"manifest\.csv:2: period 'juni 2022' must look like"),
    (lambda rows: rows[1].__setitem__(7, "roman"), r"manifest\.csv:2: report_type 'roman' is not one of"),
    (lambda rows: rows[2].append("extra"), r"manifest\.csv:3: row has 16 fields, header has 15"),
    (lambda rows: rows[0].__setitem__(3, "kommun"), r"manifest\.csv:1: unknown column\(s\) \['kommun'\]"),
    (lambda rows: rows[1].__setitem__(10, "2022-02-31"), r"manifest\.csv:2: document_date '2022-02-31' is not a date in the calendar"),
    (lambda rows: rows[1].__setitem__(10, "2022-13-01"), r"manifest\.csv:2: document_date '2022-13-01' is not a date in the calendar"),
    (lambda rows: rows[3].__setitem__(9, "2021"), r"manifest\.csv:4: year 2021 contradicts period 'T2 2023' \(year 2023\)"),
    (lambda rows: rows[1].__setitem__(8, "2021-06"), r"manifest\.csv:2: year 2022 contradicts period '2021-06' \(year 2021\)"),
])
def test_malformed_manifest_names_file_and_line(corpus_copy, edit, message):
    _rewrite(corpus_copy, edit)
    with pytest.raises(CorpusError, match=message):
        load_manifest(corpus_copy)


def test_file_listed_twice(corpus_copy):
    def edit(rows):
        rows[3][1] = rows[2][1]
    _rewrite(corpus_copy, edit)
    with pytest.raises(CorpusError, match=r"manifest\.csv:4: file '001_63e6c9868031b1b7\.txt' listed twice"):
        load_manifest(corpus_copy)
