"""The build's embedding step streams (issue 12: bounded memory at 6M passages): texts, windows and
lexical tags are staged on disk and read back a buffer at a time, and the database is the same as
when everything was held at once; a build stopped while it embeds leaves the previous database."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rapportsok import vector_step
from rapportsok.vector_step import FLUSH_EVERY
from rapportsok.build import BuildOptions, build

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "cache"
CLI = [sys.executable, "-c", "from rapportsok.cli import main; main()"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def _contents(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db)
    out = {f"schema {name}": sql for name, sql in conn.execute("select name, sql from sqlite_master order by name")}
    for (name,) in conn.execute("select name from sqlite_master where type = 'table' and name not like 'chunks_fts%'"):
        out[name] = conn.execute(f"select * from [{name}]").fetchall()
    out["build_info"] = [r for r in out["build_info"] if r[0] not in ("built_at", "build_id")]
    conn.close()
    return out


def test_tiny_buffers_build_the_same_database(built_db, corpus_dir, tmp_path, monkeypatch):
    # 973 texts read 7 at a time, vectors and tags copied 5 rows at a time
    monkeypatch.setattr(vector_step, "BUFFER", 7)
    monkeypatch.setattr(vector_step, "ROWS", 5)
    small = tmp_path / "small.db"
    result = build(BuildOptions(corpus=corpus_dir, db_path=small, cache_dir=CACHE, quiet=True, jobs=1))
    assert result.embedding["embedded"] == 0 and result.embedding["windows"] > 500
    a, b = _contents(built_db), _contents(small)
    assert a.keys() == b.keys()
    for table in a:
        assert a[table] == b[table], table
    assert len(a["chunk_embeddings"]) == result.chunks and any(r[3] == "semantik" for r in a["chunk_topics"])


def test_topic_statistics_in_batches_equal_those_of_the_whole(conn):
    vectors = np.vstack([np.frombuffer(b, dtype="<f4") for (b,) in conn.execute("select vector from chunk_embeddings")])
    topics = vectors[::7][:33]
    sims = vectors @ topics.T
    spread = vector_step.TopicStats(len(topics))
    for i in range(0, len(sims), 13):
        spread.add(sims[i: i + 13])
    assert spread.n == len(vectors)
    assert np.allclose(spread.mean, sims.astype(np.float64).mean(axis=0), rtol=0, atol=1e-12)
    assert np.allclose(spread.std, sims.astype(np.float64).std(axis=0), rtol=0, atol=1e-12)


def test_sigterm_while_embedding_leaves_the_previous_database(tmp_path, corpus_dir):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "e5-onnx").symlink_to(CACHE / "e5-onnx")   # an empty vector cache: the build must embed
    db = tmp_path / "r.db"
    db.write_bytes(b"previous database")
    proc = subprocess.Popen(CLI + ["build", "--corpus", str(corpus_dir), "--db", str(db),
                                   "--jobs", "1"], env=ENV, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 600
        for line in proc.stderr:   # text mode: tqdm's \r updates are lines too
            seen.append(line)
            done = re.search(r"bäddar in textavsnitt:.*?\| *(\d+)/\d+", line)
            if (done and int(done.group(1)) > FLUSH_EVERY + 10) or time.monotonic() > deadline:
                break              # past the first commit to the cache (every FLUSH_EVERY texts)
        assert proc.poll() is None, "".join(seen)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert db.read_bytes() == b"previous database"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "r.db"]   # no temporary or staging file
    # what was embedded before the signal is kept, and the cache is readable
    vectors = sqlite3.connect(cache / "embeddings.sqlite").execute("select count(*) from vectors").fetchone()[0]
    assert vectors >= FLUSH_EVERY, vectors   # committed batch by batch, not only at the end
