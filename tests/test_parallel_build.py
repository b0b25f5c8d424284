"""Parsing in several processes (issue 12.3): the same database for any --jobs, errors still name the
file, a stopped build leaves nothing behind – no temporary file and no worker process."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rapportsok import parsing
from rapportsok.build import BuildOptions, build
from rapportsok.errors import CorpusError

ROOT = Path(__file__).resolve().parent.parent
PDF = ROOT / "tests" / "fixtures" / "pdf" / "kalmar-manadsrapport-2022-06.pdf"
CLI = [sys.executable, "-c", "from rapportsok.cli import main; main()"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def _contents(db: Path) -> dict[str, list]:
    """Every table's rows in stored order (FTS shadow tables and the build's time and id left out)."""
    conn = sqlite3.connect(db)
    out = {}
    for (name,) in conn.execute("select name from sqlite_master where type = 'table' and name not like 'chunks_fts%' "
                                "order by name"):
        out[name] = conn.execute(f"select * from [{name}]").fetchall()
    out["build_info"] = [r for r in out["build_info"] if r[0] not in ("built_at", "build_id")]
    out["fts"] = conn.execute("select rowid, * from chunks_fts where chunks_fts match 'familjehem' order by rowid").fetchall()
    conn.close()
    return out


def test_one_and_two_processes_build_the_same_database(tmp_path, corpus_copy):
    shutil.copy(PDF, corpus_copy)     # a PDF among the text reports: other paths, other timing
    assert len(list(corpus_copy.glob("*.*"))) - 1 >= parsing.MIN_FILES_FOR_POOL   # two processes really run
    one = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "one.db", embed=False, quiet=True, jobs=1))
    two = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "two.db", embed=False, quiet=True, jobs=2))
    a, b = _contents(tmp_path / "one.db"), _contents(tmp_path / "two.db")
    assert a.keys() == b.keys()
    for table in a:
        assert a[table] == b[table], table
    assert len(a["reports"]) == 6 and a["report_pages"] and a["chunks"] and a["table_cells"]
    assert one.warnings == two.warnings and one.tables == two.tables
    # passage ids still follow (kommunkod, year, report)
    conn = sqlite3.connect(tmp_path / "two.db")
    order = [r for r in conn.execute("select r.kommunkod, r.year, r.id from chunks c join reports r on r.id = c.report_id "
                                     "order by c.id")]
    assert order == sorted(order, key=lambda r: (r[0] or "9999", r[1] or 0, r[2]))


def test_a_bad_text_file_in_a_worker_stops_the_build_naming_the_file(tmp_path, corpus_copy):
    db = tmp_path / "r.db"
    db.write_bytes(b"previous database")
    (corpus_copy / "005_trasig.txt").write_bytes(b"\x00\x01binary")
    with pytest.raises(CorpusError, match="005_trasig.txt: file looks binary") as err:
        build(BuildOptions(corpus=corpus_copy, db_path=db, embed=False, quiet=True, jobs=2))
    assert err.value.path.endswith("005_trasig.txt")
    assert db.read_bytes() == b"previous database"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "r.db"]   # no temporary or staging file


def test_an_unreadable_pdf_in_a_worker_is_skipped_with_a_warning(tmp_path, corpus_copy):
    (corpus_copy / "trasig.pdf").write_bytes(PDF.read_bytes()[:5000])
    result = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "r.db", embed=False, quiet=True, jobs=2))
    assert result.reports == 5
    assert any("trasig.pdf" in w and "damaged or truncated" in w and w.endswith("skipped") for w in result.warnings)


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out |= {int(c) for c in (task / "children").read_text().split()}
    return out


def _descendants(pid: int) -> set[int]:
    """Children, their children, …: the parsing workers are forked by a fork server, a child of the build."""
    out, todo = set(), [pid]
    while todo:
        try:
            kids = _children(todo.pop())
        except FileNotFoundError:
            continue
        todo.extend(kids - out)
        out |= kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_sigterm_while_workers_parse_stops_them_and_removes_the_temporary_files(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = "".join(f"Rad {i}\t{i}\t{i * 2}\n" for i in range(20_000))
    for n in range(6):
        (corpus / f"stor{n}.txt").write_text(f"Månadsrapport juni 2022 del {n}\n\nNämnden redovisar.\n\nTabell, antal\tA\tB\n"
                                             + rows)
    db = tmp_path / "r.db"
    proc = subprocess.Popen(CLI + ["build", "--corpus", str(corpus), "--db", str(db), "--no-embed", "--quiet", "--jobs", "2"],
                            env=ENV, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers - _children(proc.pid)) < 2 and time.monotonic() < deadline and proc.poll() is None:
            workers = _descendants(proc.pid)
            time.sleep(0.05)
        assert len(workers - _children(proc.pid)) >= 2, "the build never started its parsing processes"
        assert list(tmp_path.glob(".r.db.building-*"))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "parsing processes outlived the build"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no temporary file, no staging file, no database
    assert b"Traceback" not in proc.stderr.read()


def test_a_build_in_a_thread_parses_in_processes_too(tmp_path, corpus_dir):
    """A server rebuilding in a thread: the workers come from a fork server, not a fork of a threaded process."""
    from concurrent.futures import ThreadPoolExecutor

    one = tmp_path / "one.db"
    build(BuildOptions(corpus=corpus_dir, db_path=one, embed=False, quiet=True, jobs=1))
    with ThreadPoolExecutor(1) as ex:
        assert ex.submit(lambda: parsing._context().get_start_method()).result() != "fork"
        ex.submit(lambda: build(BuildOptions(corpus=corpus_dir, db_path=tmp_path / "two.db", embed=False, quiet=True,
                                             jobs=2))).result()
    assert _contents(one) == _contents(tmp_path / "two.db")
