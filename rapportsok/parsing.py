"""Parse the corpus files, in several processes for a large corpus, into an on-disk staging store.

PDF parsing (pdfplumber, OCR) is CPU-bound, so reports are parsed in a pool of worker processes
(``--jobs``; 1, or a tiny corpus, parses in the build's own process). Each parsed report is pickled
(zlib) in the worker and written by the build process to a staging SQLite file as it arrives, so
the build never holds the whole corpus in memory; the writer then reads the reports back one at a
time in the order of passage ids, (kommunkod, year, id), which depends on detected metadata and
so is known only once every report is parsed. The result does not depend on the number of
processes or the order in which they finish.

Errors keep naming file, line and page: a ``CorpusError`` raised in a worker is re-raised in the
build with the same message; an unreadable PDF is skipped with a warning, any other bad file
stops the build (and the pool).
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import pickle
import signal
import sqlite3
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .errors import CorpusError
from .manifest import ManifestEntry
from .reports import ParsedReport, load_report

# Below this many files the pool costs more than it saves (start-up, pickling); parse in-process.
MIN_FILES_FOR_POOL = 4


def default_jobs() -> int:
    """The processor cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Parsed:
    """What a worker sends back for one file: the pickled report, or why it was skipped."""
    index: int
    path: Path
    report_id: str | None = None
    kommunkod: str = ""
    year: int = 0
    blob: bytes | None = None          # zlib(pickle(ParsedReport)); None: skipped
    warnings: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)   # progress lines (OCR of a page, …)
    skipped: str | None = None         # the error of an unreadable PDF


def sort_key(rep: ParsedReport) -> tuple[str, int, str]:
    """Passage ids follow (kommunkod, year, report): a kommun's passages – and a year range within
    it – form one run of ids, which keyword search uses as an FTS5 rowid range for filters."""
    return str(rep.value("kommunkod") or "9999"), rep.value("year") or 0, rep.id


def parse_one(task: tuple[int, Path, ManifestEntry | None, int], derive: Callable[[ParsedReport], object] | None = None) -> Parsed:
    """Parse one file; ``derive(report)`` is further per-report work done here in the worker,
    staged with the report (the build's search terms, embedding texts and lexical tags)."""
    index, path, entry, max_bytes = task
    out = Parsed(index, path)
    try:
        rep = load_report(path, entry, max_bytes, log=out.messages.append)
    except CorpusError as exc:
        if path.suffix.lower() != ".pdf":
            raise
        # an unreadable PDF (encrypted, damaged, not a PDF, no pages, no text) is skipped, not fatal
        out.skipped = str(exc)
        return out
    out.kommunkod, out.year, out.report_id = sort_key(rep)
    out.warnings = list(rep.warnings)
    extra = derive(rep) if derive else None
    out.blob = zlib.compress(pickle.dumps((rep, extra), protocol=pickle.HIGHEST_PROTOCOL), 1)
    return out


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group: the build process handles it and terminates the
    # pool; the workers end quietly on SIGTERM (pool.terminate) instead of printing tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Objects inherited from the build process are never collected here: a forked worker that
    # garbage-collected an ONNX Runtime session of an earlier build (in a server or a test run)
    # waited forever in its destructor for thread-pool threads that do not exist in the child.
    gc.freeze()


def _context():
    """A fork server (spawn where there is none): the workers never inherit the build process's state.

    Forking the build process itself was faster but not safe: native threads that
    ``threading.active_count`` cannot see (ONNX Runtime's and OpenBLAS's pools, left by an earlier
    build or a search in the same process) can hold a lock at the moment of the fork, and a worker
    then waits on it forever (seen in the test suite: workers stuck in ``topics.match_text``).
    The fork server is a fresh interpreter that imports the parsing modules once; each worker is
    forked from it, so starting a pool costs ≈ one import, not one per worker."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["rapportsok.build"])
    return ctx


def parse_files(tasks: list[tuple[int, Path, ManifestEntry | None, int]], jobs: int,
                derive: Callable[[ParsedReport], object] | None = None) -> Iterator[Parsed]:
    """Parsed files as they are finished (in-process in file order when ``jobs`` is 1 or the corpus tiny)."""
    if jobs <= 1 or len(tasks) < MIN_FILES_FOR_POOL:
        for task in tasks:
            yield parse_one(task, derive)
        return
    gc.collect()   # collect the garbage here, where its threads live, rather than in a forked worker
    pool = _context().Pool(min(jobs, len(tasks)), initializer=_worker_init)
    try:
        yield from pool.imap_unordered(functools.partial(parse_one, derive=derive), tasks, chunksize=1)
        pool.close()
    except BaseException:
        pool.terminate()   # an error, Ctrl-C or SIGTERM: stop every worker now
        raise
    finally:
        pool.join()


class Staging:
    """Parsed reports on disk (a private SQLite file next to the temporary database)."""

    def __init__(self, path: Path):
        self.path = path
        self.conn = sqlite3.connect(path)
        self.conn.execute("pragma journal_mode = off")
        self.conn.execute("pragma synchronous = off")
        self.conn.execute("create table staged (idx integer primary key, kommunkod text, year integer, "
                          "report_id text, source_file text, blob blob)")

    def add(self, item: Parsed) -> None:
        self.conn.execute("insert into staged values (?, ?, ?, ?, ?, ?)",
                          (item.index, item.kommunkod, item.year, item.report_id, item.path.name, item.blob))

    def ids(self) -> list[tuple[str, str]]:
        """(report id, source file) in file order."""
        return self.conn.execute("select report_id, source_file from staged order by idx").fetchall()

    def __len__(self) -> int:
        return self.conn.execute("select count(*) from staged").fetchone()[0]

    def reports(self) -> Iterator[tuple[ParsedReport, object]]:
        """(report, what ``derive`` made of it), one at a time, in passage-id order."""
        # a separate cursor streams the rows; only one report is unpickled at a time
        for (blob,) in self.conn.execute("select blob from staged order by kommunkod, year, report_id"):
            yield pickle.loads(zlib.decompress(blob))

    def close(self) -> None:
        self.conn.close()
        self.path.unlink(missing_ok=True)


def stage_corpus(tasks: list[tuple[int, Path, ManifestEntry | None, int]], staging: Staging, jobs: int,
                 progress: Callable[[Parsed], None] | None = None,
                 derive: Callable[[ParsedReport], object] | None = None) -> list[str]:
    """Parse every file into ``staging``; returns the warnings in file order."""
    warnings: dict[int, list[str]] = {}
    for item in parse_files(tasks, jobs, derive):
        if progress:
            progress(item)
        if item.skipped is not None:
            warnings[item.index] = [f"{item.skipped} – skipped"]
            continue
        warnings[item.index] = item.warnings
        staging.add(item)
    staging.conn.commit()
    return [w for i in sorted(warnings) for w in warnings[i]]
