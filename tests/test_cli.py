"""The command line: search --json keeps its field names; info and help work."""

import json

from click.testing import CliRunner

from rapportsok.cli import main

FIELDS = {"report_id", "source_file", "municipality", "kommunkod", "year", "period", "report_type",
          "section", "char_start", "char_end", "text", "score", "rank"}


def test_search_json_fields(built_db, corpus_dir):
    result = CliRunner().invoke(main, ["search", "SSPF", "--mode", "keyword", "--json", "--db", str(built_db)])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert hits and FIELDS <= set(hits[0])
    h = hits[0]
    source = (corpus_dir / h["source_file"]).read_text(encoding="utf-8")
    assert "SSPF" in source[h["char_start"]: h["char_end"]]
    assert [x["rank"] for x in hits] == list(range(1, len(hits) + 1))


def test_search_bad_input_exits_2_with_message(built_db):
    result = CliRunner().invoke(main, ["search", "x", "--kommun", "Atlantis", "--db", str(built_db)])
    assert result.exit_code == 2
    assert "okänd kommun 'Atlantis'" in result.output


def test_info_and_help(built_db):
    runner = CliRunner()
    out = runner.invoke(main, ["info", "--db", str(built_db), "--json"])
    data = json.loads(out.output)
    assert data["counts"]["reports"] == 5 and len(data["reports"]) == 5
    for cmd in ("build", "serve", "search", "info"):
        assert runner.invoke(main, [cmd, "--help"]).exit_code == 0


def test_missing_database_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["search", "x", "--db", str(tmp_path / "nope.db")])
    assert result.exit_code == 2 and "database not found" in result.output


def test_a_file_that_is_not_a_rapportsok_database_is_a_clear_error(tmp_path):
    not_db = tmp_path / "passwd"
    not_db.write_text("root:x:0:0:root:/root:/bin/bash\n")
    for cmd in (["search", "x", "--db", str(not_db)], ["info", "--db", str(not_db)]):
        result = CliRunner().invoke(main, cmd)
        assert result.exit_code == 2, result.output
        assert "not a Rapportsök database" in result.output and "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
