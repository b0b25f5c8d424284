"""Killed builds and a terminated server leave nothing behind (issue 16.9 and 16.11)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rapportsok.build import BuildOptions, build

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from rapportsok.cli import main; main()"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_stale_temporary_files_of_dead_builds_are_removed(tmp_path, corpus_dir):
    db = tmp_path / "r.db"
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [tmp_path / f".r.db.building-{dead.pid}", tmp_path / f".r.db.building-{dead.pid}-journal"]
    for p in stale:
        p.write_bytes(b"half a database")
    running = subprocess.Popen(["sleep", "60"])
    try:
        live = tmp_path / f".r.db.building-{running.pid}"
        live.write_bytes(b"another build is writing this")
        build(BuildOptions(corpus=corpus_dir, db_path=db, embed=False, quiet=True))
        assert not any(p.exists() for p in stale)
        assert live.exists()  # a build still running is left alone
    finally:
        running.kill()
        running.wait()
    assert db.exists()


def test_sigterm_during_a_build_removes_its_temporary_file(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = "".join(f"Rad {i}\t{i}\t{i * 2}\n" for i in range(40_000))
    (corpus / "stor.txt").write_text("Månadsrapport juni 2022\n\nNämnden redovisar.\n\nTabell, antal\tA\tB\n" + rows)
    db = tmp_path / "r.db"
    proc = subprocess.Popen(CLI + ["build", "--corpus", str(corpus), "--db", str(db), "--no-embed", "--quiet"],
                            env=ENV, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".r.db.building-*")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert list(tmp_path.glob(".r.db.building-*")), "the build never started writing"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no temporary file, no journal, no database


@pytest.mark.slow
def test_terminating_serve_frees_the_port(built_db):
    port = _free_port()
    proc = subprocess.Popen(CLI + ["serve", "--db", str(built_db), "--port", str(port)], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _port_open(port), "the server did not start"
        proc.send_signal(signal.SIGTERM)  # to 'rapportsok serve' only, as a service manager does
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _port_open(port), "Datasette still holds the port after serve was terminated"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything left in the session (the orphan, before the fix)
        except ProcessLookupError:
            pass
