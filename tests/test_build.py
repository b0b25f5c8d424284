"""The build is atomic, idempotent, and copes with reports missing from the manifest."""

import shutil
import sqlite3

import pytest

from rapportsok.build import BuildOptions, build
from rapportsok.errors import CorpusError


def _counts(db):
    conn = sqlite3.connect(db)
    out = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("reports", "sections", "chunks")}
    out["hashes"] = [r[0] for r in conn.execute("select content_hash from chunks order by id")]
    out["terms"] = conn.execute("select group_concat(search_terms, '|') from chunk_terms").fetchone()[0]
    conn.close()
    return out


def test_build_is_idempotent(built_db, tmp_path, corpus_dir):
    again = tmp_path / "again.db"
    build(BuildOptions(corpus=corpus_dir, db_path=again, embed=False, quiet=True))
    assert _counts(again) == _counts(built_db)


def test_failed_build_keeps_previous_database(tmp_path, corpus_copy):
    db = tmp_path / "r.db"
    build(BuildOptions(corpus=corpus_copy, db_path=db, embed=False, quiet=True))
    before = db.read_bytes()
    (corpus_copy / "005_trasig.txt").write_bytes(b"\x00\x01binary")
    with pytest.raises(CorpusError, match="005_trasig.txt: file looks binary"):
        build(BuildOptions(corpus=corpus_copy, db_path=db, embed=False, quiet=True))
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "r.db"]  # no half-written file left


def test_failure_while_writing_removes_temporary_file(tmp_path, corpus_copy, monkeypatch):
    from rapportsok import database

    db = tmp_path / "r.db"
    build(BuildOptions(corpus=corpus_copy, db_path=db, embed=False, quiet=True))
    before = db.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(database, "finish", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        build(BuildOptions(corpus=corpus_copy, db_path=db, embed=False, quiet=True))
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "r.db"]


def test_report_missing_from_manifest_builds_with_detected_metadata(tmp_path, corpus_copy):
    shutil.copy(corpus_copy / "002_296cc42e6fadf766.txt", corpus_copy / "nacka_kopia.txt")
    db = tmp_path / "r.db"
    result = build(BuildOptions(corpus=corpus_copy, db_path=db, embed=False, quiet=True))
    assert any("nacka_kopia.txt: not listed in manifest.csv" in w for w in result.warnings)
    conn = sqlite3.connect(db)
    row = conn.execute("select municipality, kommunkod, report_type, period, year from reports where id = 'nacka-kopia'").fetchone()
    assert row == ("Nacka", "0182", "tertialbokslut", "T2 2023", 2023)
    src = dict(conn.execute("select field, source from report_metadata where report_id = 'nacka-kopia'").fetchall())
    assert src["kommunkod"] == "detected" and src["source_url"] == "none"


def test_build_without_manifest_warns(tmp_path, corpus_copy):
    (corpus_copy / "manifest.csv").unlink()
    result = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "r.db", embed=False, quiet=True))
    assert any("no manifest" in w for w in result.warnings)
    assert result.reports == 5


def test_empty_report_fails_the_build_naming_the_file(tmp_path, corpus_copy):
    (corpus_copy / "tom.txt").write_text("")
    with pytest.raises(CorpusError, match="tom.txt: file is empty"):
        build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "r.db", embed=False, quiet=True))


def test_crlf_and_bom_report_builds_with_round_tripping_offsets(tmp_path, corpus_copy):
    name = "004_85a1eb49e75a5e5b.txt"
    raw = (corpus_copy / name).read_text(encoding="utf-8")
    (corpus_copy / name).write_bytes(b"\xef\xbb\xbf" + raw.replace("\n", "\r\n").encode())
    db = tmp_path / "r.db"
    build(BuildOptions(corpus=corpus_copy, db_path=db, embed=False, quiet=True))
    conn = sqlite3.connect(db)
    text = conn.execute("select text from reports where source_file = ?", [name]).fetchone()[0]
    assert text == raw
    assert conn.execute("select count(*) from chunks c join reports r on r.id = c.report_id where r.source_file = ?", [name]).fetchone()[0] > 5


def test_symlinks_in_the_corpus_are_not_followed(tmp_path, corpus_copy):
    secret = tmp_path / "secret.txt"
    secret.write_text("Hemlig text som inte hör till korpusen.\n\nroot:x:0:0:root:/root:/bin/bash\n")
    (corpus_copy / "lank.txt").symlink_to(secret)
    db = tmp_path / "r.db"
    result = build(BuildOptions(corpus=corpus_copy, db_path=db, embed=False, quiet=True))
    assert any("lank.txt: symbolic link, not followed" in w for w in result.warnings)
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from reports where text like '%root:x:0:0%'").fetchone()[0] == 0
    assert result.reports == 5
