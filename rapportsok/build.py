"""Build the database from ``corpus/``: parse, chunk, detect, embed and write atomically.

The database is written to a temporary file next to the target and moved into place
(``os.replace``) only when complete, so a failed build leaves the previous database as it
was. Same corpus in, same rows and content hashes out.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils

from . import __version__, database, parsing, prefix_offset, swedish, tables, tagging, vector_step
from . import windows as windows_mod
from . import topics as topics_mod
from .chunking import TAG_RE, normalise
from .embeddings import DEFAULT_MODEL, EmbeddingCache, load_embedder
from .errors import CorpusError
from .manifest import MANIFEST_NAME, load_manifest
from .reports import METADATA_FIELDS, ParsedReport
from .search import ann, leaves
from .textio import DEFAULT_MAX_BYTES

CORPUS_SUFFIXES = (".txt", ".md", ".pdf")
PAGE_COLUMNS = {"page_start": int, "page_end": int}


@dataclass
class BuildOptions:
    corpus: Path
    db_path: Path
    model: str = DEFAULT_MODEL
    device: str = "cpu"
    batch_size: int = 16
    embed: bool = True
    windows: bool = field(default_factory=windows_mod.enabled)   # sentence-window vectors (rapportsok/windows.py)
    cache_dir: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    quiet: bool = False
    jobs: int | None = None    # parsing processes (None: one per core; 1: in the build's own process)
    passage_runtime: str | None = None   # bundled model: "auto" (default), "onnx" or "torch-bf16" (embeddings.choose_passage_runtime)


@dataclass
class BuildResult:
    db_path: Path
    reports: int
    sections: int
    chunks: int
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    embedding: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    ann: dict | None = None   # the HNSW index written beside the database, if any

    @property
    def table_report(self) -> str:
        t = self.tables
        if not t:
            return ""
        u = t["units"]
        return (f"tabeller: {t['tables']} ({t['flagged']} osäkra), celler: {t['cells']}, varav tomma (tryckt –/blankt): "
                f"{t['empty_cells']}, ifyllda: {t['printed_cells']}, varav numeriska: {t['numeric_cells']} "
                f"({t['numeric_share']:.0%}), talliknande celler utan värde: {t['numeric_looking_unparsed']}; "
                f"enhet för tal: tryckt {u['printed']}, härledd ur texten {u['inferred']} "
                f"({t['tables_unit_inferred']} tabeller), saknas {u['none']}; summakontroll: {t['sum_check']}")


def log(opts: BuildOptions, msg: str) -> None:
    if not opts.quiet:
        print(msg, file=sys.stderr, flush=True)


def corpus_files(corpus: Path) -> list[Path]:
    if not corpus.is_dir():
        raise CorpusError(corpus, "corpus folder does not exist")
    files = sorted(p for p in corpus.iterdir() if p.is_file() and not p.is_symlink()
                   and p.suffix.lower() in CORPUS_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise CorpusError(corpus, f"no report files ({', '.join(CORPUS_SUFFIXES)}) in the corpus folder")
    return files


def display_text(chunk_text: str) -> str:
    """Text of a passage for search terms and embedding: table tags and markdown removed."""
    text = TAG_RE.sub(" ", chunk_text)
    text = re.sub(r"(?<!\w)[#*_]{1,4}|[*_]{1,4}(?!\w)", " ", text)
    return normalise(text)


def embed_text(report: ParsedReport, section_path: list[str], chunk_text: str) -> str:
    """What the model sees: the nearest heading, then the passage."""
    heading = section_path[-1] if section_path else ""
    body = display_text(chunk_text)
    return f"{heading}: {body}" if heading else body


@dataclass
class Derived:
    """The per-passage text work of one report, done in the parsing processes with the parsing:
    FTS search terms, the embedding text, sentence windows and lexical topic tags of passages and tables."""
    search_terms: list[str]
    embed_texts: list[str]
    chunk_tags: list[list]        # tagging.Tag per passage
    table_tags: list[list]        # tagging.Tag per table
    windows: list[list] = field(default_factory=list)   # per passage: (ordinal, start, end, embedding text) per window


def derive(rep: ParsedReport | None, windows: bool = False) -> Derived | None:
    if rep is None:      # warm-up: the lexicon and the topic patterns, loaded on first use
        swedish.search_terms("socialnämndens familjehemsplaceringar")
        tagging.lexical_tags("familjehem")
        return None
    terms, etexts, ctags, wins = [], [], [], []
    headings = windows_mod.Headings(rep.source.text, rep.doc.blocks) if windows else None
    for ch in rep.chunks:
        path_list = rep.section_path(ch.section)
        about = rep.section_path(ch.about_section)
        table = rep.table_at(ch.start) if ch.kind == "table" else None
        shown = display_text(ch.text)
        terms_text = shown + " " + (about[-1] if about else "")
        if table is not None:
            terms_text += " " + table.search_text_between(ch.start, ch.end)
        terms.append(swedish.search_terms(terms_text))
        etexts.append(embed_text(rep, about, ch.text))
        ctags.append(tagging.lexical_tags(shown + " " + (path_list[-1] if path_list else "")))
        if headings is not None:
            wins.append([(w.ordinal, w.start, w.end,
                          embed_text(rep, [w.heading or (path_list[-1] if path_list else "")], ch.text[w.start: w.end]))
                         for w in windows_mod.windows(ch.text, headings.spans(ch.text, ch.start, ch.end))])
    return Derived(terms, etexts, ctags, [tagging.lexical_tags(t.search_text()) for t in rep.tables], wins)


def _tasks(opts: BuildOptions) -> tuple[list, list[str]]:
    manifest = load_manifest(opts.corpus)
    files = corpus_files(opts.corpus)
    warnings: list[str] = [f"{p}: symbolic link, not followed (copy the report into the corpus folder)"
                           for p in sorted(opts.corpus.iterdir()) if p.is_symlink()]
    if not manifest:
        warnings.append(f"{opts.corpus / MANIFEST_NAME}: no manifest; all metadata is detected from the text")
    return [(i, path, manifest.get(path.name), opts.max_bytes) for i, path in enumerate(files)], warnings


def stage_corpus(opts: BuildOptions, staging: parsing.Staging) -> list[str]:
    """Parse every report (in ``opts.jobs`` processes) into ``staging``; one progress bar for the corpus."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0   # no tqdm monitor thread
    tasks, warnings = _tasks(opts)
    jobs = opts.jobs or parsing.default_jobs()
    derive(None)  # load the word lists and topic patterns (in-process parsing uses them; workers load their own)
    in_pool = jobs > 1 and len(tasks) >= parsing.MIN_FILES_FOR_POOL
    bar = tqdm(total=len(tasks), desc=f"läser rapporter ({min(jobs, len(tasks)) if in_pool else 1} processer)",
               unit="rapport", disable=opts.quiet, file=sys.stderr, smoothing=0.1)

    def progress(item: parsing.Parsed) -> None:
        for m in item.messages:
            bar.write(m, file=sys.stderr)
        if item.skipped is not None:
            bar.write(f"varning: {item.skipped} – hoppar över filen", file=sys.stderr)
        bar.set_postfix_str(item.path.name, refresh=False)
        bar.update(1)

    try:
        warnings += parsing.stage_corpus(tasks, staging, jobs, progress if not opts.quiet else None,
                                         derive=functools.partial(derive, windows=opts.embed and opts.windows))
    finally:
        bar.close()
    if not len(staging):
        raise CorpusError(opts.corpus, "no report could be read (see the warnings above)")
    ids: dict[str, str] = {}
    for rid, source_file in staging.ids():
        if rid in ids:
            raise CorpusError(opts.corpus / source_file, f"report id '{rid}' is also used by {ids[rid]}; give one an id in {MANIFEST_NAME}")
        ids[rid] = source_file
    return warnings


def parse_corpus(opts: BuildOptions) -> tuple[list[ParsedReport], list[str]]:
    """Every report parsed, in passage-id order (in memory: for tests and small corpora)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        staging = parsing.Staging(Path(tmp) / "staging.sqlite")
        try:
            warnings = stage_corpus(opts, staging)
            return [rep for rep, _ in staging.reports()], warnings
        finally:
            staging.close()


def build(opts: BuildOptions) -> BuildResult:
    t0 = time.perf_counter()
    opts.db_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(opts.db_path):
        log(opts, f"tog bort {stale} (en avbruten byggnads tillfälliga fil)")
    tmp = opts.db_path.with_name(f".{opts.db_path.name}.building-{os.getpid()}")
    extra = [Path(str(tmp) + "-journal"), Path(str(tmp) + "-staging")]
    tmp_ann = ann.index_path(tmp)   # the HNSW index, above a size (rapportsok/search/ann.py)
    for stale in (tmp, *extra, tmp_ann):
        stale.unlink(missing_ok=True)
    try:
        with _sigterm_as_interrupt():
            staging = parsing.Staging(extra[1])
            try:
                warnings = stage_corpus(opts, staging)
                for w in warnings:
                    log(opts, f"varning: {w}")
                result = _write(opts, staging, tmp)
            finally:
                staging.close()
            if opts.embed:
                result.ann = ann.attach(tmp, tmp_ann, reuse=ann.index_path(opts.db_path))
                if result.ann:
                    log(opts, f"HNSW-index: {result.ann['vectors']} vektorer, {result.ann['seconds']} s"
                              + (" (oförändrad, återanvänd)" if result.ann.get("reused") else ""))
            _fsync(tmp)
            _swap(tmp, tmp_ann, opts.db_path)
    except BaseException:
        for p in (tmp, *extra, tmp_ann):
            p.unlink(missing_ok=True)
        raise
    result.warnings = warnings
    result.seconds = time.perf_counter() - t0
    log(opts, f"klart: {opts.db_path} ({result.reports} rapporter, {result.sections} avsnitt, "
              f"{result.chunks} textavsnitt) på {result.seconds:.1f} s")
    log(opts, result.table_report)
    return result


def _swap(tmp: Path, tmp_ann: Path, db_path: Path) -> None:
    """Put the new database – and its HNSW index, if it has one – in place of the old.

    The index is renamed first, then the database, with SIGINT/SIGTERM held back between the
    two renames so an interrupted build leaves the old pair or the new pair; a database
    without an index removes the old one's. A server refuses an index whose vector hash is
    not its database's, so a pair split by SIGKILL between the renames is never mixed."""
    final_ann = ann.index_path(db_path)
    held = {signal.SIGINT, signal.SIGTERM}
    main = threading.current_thread() is threading.main_thread()
    if main:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        if tmp_ann.exists():
            os.replace(tmp_ann, final_ann)
            tmp_ann.unlink(missing_ok=True)   # a reused index is a hard link to the same file
            os.replace(tmp, db_path)
        else:
            os.replace(tmp, db_path)
            final_ann.unlink(missing_ok=True)
        _fsync_dir(db_path.parent)
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def remove_stale_temporaries(db_path: Path) -> list[Path]:
    """Delete ``.NAME.building-PID`` files (and journals) left by builds whose process is gone
    (killed with SIGKILL, or a power cut). Files of a running build are left alone."""
    removed = []
    pattern = re.compile(rf"^\.{re.escape(db_path.name)}\.building-(\d+)(-journal|-staging|\.hnsw)?$")
    for p in db_path.parent.iterdir() if db_path.parent.is_dir() else []:
        m = pattern.match(p.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (``kill``, a container stop) ends a build like Ctrl-C: the temporary file is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Rows:
    """Row buffers for the report tables, written to the database every ``flush_rows`` rows.

    All buffers are flushed together, in the order below, so a table is created before the tables
    whose foreign keys point at it, and the rows of every table stay in report order.
    """

    TABLES = {
        "reports": dict(pk="id", foreign_keys=[("kommunkod", "municipalities", "kommunkod")],
                        columns={"year": int, "document_date": str, "period": str, "kommunkod": str,
                                 "municipality_evidence": str, "n_pages": int, "ocr_pages": int}),
        "report_pages": {},
        "report_metadata": dict(pk=("report_id", "field"), foreign_keys=[("report_id", "reports", "id")]),
        "sections": dict(pk="id", foreign_keys=[("report_id", "reports", "id"), ("parent_id", "sections", "id")],
                         columns={"parent_id": int, **PAGE_COLUMNS}),
        "chunks": dict(pk="id", foreign_keys=[("report_id", "reports", "id"), ("section_id", "sections", "id")],
                       columns={"section_id": int, "heading": str, "table_id": str, **PAGE_COLUMNS}),
        "blocks": dict(pk=("report_id", "ordinal"), foreign_keys=[("report_id", "reports", "id")], columns={"heading": str}),
        "chunk_terms": dict(pk="id", foreign_keys=[("id", "chunks", "id")]),
        "tables": dict(pk="id", foreign_keys=[("report_id", "reports", "id"), ("section_id", "sections", "id")],
                       columns={"section_id": int, "unit": str, "unit_source": str, "unit_evidence": str, "caption": str,
                                **PAGE_COLUMNS}),
        "table_cells": dict(pk=("table_id", "row_index", "column_index"),
                            foreign_keys=[("table_id", "tables", "id"), ("report_id", "reports", "id")],
                            columns={"value": float, "unit": str, "unit_source": str, "unit_evidence": str,
                                     "empty_mark": str, "raw": str, "period": str, **PAGE_COLUMNS}),
    }

    def __init__(self, db: sqlite_utils.Database, flush_rows: int = 20_000):
        self.db, self.flush_rows = db, flush_rows
        self.buffers: dict[str, list[dict]] = {name: [] for name in self.TABLES}
        self.pending = 0
        self.counts = dict.fromkeys(self.TABLES, 0)
        self.flushed = False

    def add(self, table: str, rows) -> None:
        before = len(self.buffers[table])
        self.buffers[table].extend(rows)
        self.pending += len(self.buffers[table]) - before

    def report_done(self) -> None:
        if self.pending >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        for name, kwargs in self.TABLES.items():
            rows = self.buffers[name]
            if name == "report_pages" and not self.flushed:
                database.write_pages(self.db, rows)   # creates the table, empty when there is no PDF
            elif rows:
                database.write_rows(self.db, name, rows, **kwargs) if kwargs else \
                    self.db[name].insert_all(rows, batch_size=500)
            self.counts[name] += len(rows)
            self.buffers[name] = []
        self.pending, self.flushed = 0, True


class _TableSummary:
    """The build's table statistics (``build_info.tables``), counted as the rows stream past."""

    def __init__(self):
        from collections import Counter

        from .numbers_sv import looks_numeric

        self.looks_numeric = looks_numeric
        self.tables = self.flagged = self.tables_unit_inferred = 0
        self.cells = self.printed = self.numeric = self.unparsed = 0
        self.units = {"printed": 0, "inferred": 0, "none": 0}
        self.sum_check = Counter()

    def add_table(self, t: dict) -> None:
        self.tables += 1
        self.flagged += t["uncertain"]
        self.tables_unit_inferred += t["unit_source"] == "inferred"
        self.sum_check[t["sum_check"]] += 1

    def add_cell(self, c: dict) -> None:
        self.cells += 1
        if c["raw"] is not None:
            self.printed += 1
            if c["value"] is not None:
                self.numeric += 1
            elif self.looks_numeric(c["raw"]):
                self.unparsed += 1
        if c["value"] is not None:
            self.units["printed"] += c["unit_source"] == "printed"
            self.units["inferred"] += c["unit_source"] == "inferred"
            self.units["none"] += c["unit"] is None

    def result(self) -> dict:
        return {
            "tables": self.tables, "flagged": self.flagged, "cells": self.cells,
            "empty_cells": self.cells - self.printed, "printed_cells": self.printed,
            "numeric_cells": self.numeric, "numeric_share": self.numeric / self.printed if self.printed else 0.0,
            "numeric_looking_unparsed": self.unparsed, "units": dict(self.units),
            "tables_unit_inferred": self.tables_unit_inferred, "sum_check": dict(self.sum_check),
        }


def _write(opts: BuildOptions, staging: parsing.Staging, path: Path) -> BuildResult:
    db = sqlite_utils.Database(path)
    # The file is a private temporary until os.replace: no journal file and no fsync per
    # insert batch (each cost ~30 ms, minutes on a large table); _fsync makes it durable once.
    db.execute("pragma journal_mode = memory")
    db.execute("pragma synchronous = off")
    database.create_reference_tables(db)
    out = _Rows(db)
    summary = _TableSummary()
    section_id = 0
    chunk_id = 0
    # embedding texts, sentence windows and lexical tags per passage: staged on disk for the embedding step
    pending = vector_step.Pending(staging.conn)
    report_meta: dict[str, dict] = {}      # what chunk_topics repeats per passage
    corpus_sha256: dict[str, str] = {}
    log(opts, f"skriver {len(staging)} rapporter")
    # one report at a time, in passage-id order, its rows streamed to the database
    for rep, derived in staging.reports():
        row = {"id": rep.id}
        row.update({f: rep.value(f) for f in METADATA_FIELDS})
        row.update({
            "source_file": rep.source_file, "sha256": rep.source.sha256, "encoding": rep.source.encoding,
            "n_chars": len(rep.source.text), "n_words": len(swedish.WORD_RE.findall(rep.source.text)),
            "n_sections": len(rep.doc.sections), "n_chunks": len(rep.chunks), "text": rep.source.text,
            "municipality_inferred": int(rep.municipality_inferred), "municipality_evidence": rep.municipality_evidence,
            "n_pages": len(rep.pdf.pages) if rep.pdf else None,
            "ocr_pages": sum(p.ocr for p in rep.pdf.pages) if rep.pdf else None,
        })
        out.add("reports", [row])
        corpus_sha256[rep.source_file] = rep.source.sha256
        report_meta[rep.id] = {"municipality": rep.value("municipality"), "kommunkod": rep.value("kommunkod"),
                               "year": rep.value("year")}
        if rep.pdf:
            out.add("report_pages", ({"report_id": rep.id, "page": p.number, "char_start": p.start, "char_end": p.end,
                                      "ocr": int(p.ocr), "ocr_confidence": p.ocr_confidence} for p in rep.pdf.pages))
        out.add("report_metadata", ({
            "report_id": rep.id, "field": name, "value": None if fv.value is None else str(fv.value),
            "source": fv.source, "confidence": fv.confidence, "evidence": fv.evidence,
            "detected_value": None if fv.detected is None else str(fv.detected),
            "detected_confidence": fv.detected_confidence, "inferred": int(fv.inferred),
        } for name, fv in rep.fields.items()))
        # the reader's blocks, so the site never re-parses a report per request
        out.add("blocks", ({"report_id": rep.id, "ordinal": i, "kind": b.kind, "char_start": b.start, "char_end": b.end,
                            "level": b.level, "heading": b.heading or None} for i, b in enumerate(rep.doc.blocks)))
        ids: dict[int, int] = {}
        section_rows = []
        for sec in rep.doc.sections:
            section_id += 1
            ids[sec.ordinal] = section_id
            section_rows.append({
                "id": section_id, "report_id": rep.id, "ordinal": sec.ordinal, "level": sec.level,
                "heading": sec.heading, "path": " › ".join(sec.path),
                "parent_id": ids.get(sec.parent) if sec.parent is not None else None,
                "char_start": sec.start, "char_end": sec.end, "kind": sec.kind,
                **page_fields(rep, sec.start, sec.end),
            })
        out.add("sections", section_rows)
        table_ids: dict[int, str] = {}
        for t, tags in zip(rep.tables, derived.table_tags):
            tid = f"{rep.id}-t{t.ordinal + 1:02d}"
            table_ids[t.ordinal] = tid
            trow = table_row(rep, t, tid, ids)
            pending.add_table_tags({"table_id": tid, "topic_id": tag.topic, "score": tag.score, "method": tag.method,
                                    "evidence": tag.evidence, "report_id": rep.id} for tag in tags)
            topics = ";".join(sorted({tag.topic for tag in tags}))
            summary.add_table(trow)
            out.add("tables", [trow])
            cells = [cell_row(rep, t, tid, c) for c in t.cells]
            for c in cells:
                c["topics"] = topics
                summary.add_cell(c)
            out.add("table_cells", cells)
        chunk_rows, term_rows = [], []
        wins = derived.windows if opts.embed and opts.windows else []
        for i, (ch, terms, etext, tags) in enumerate(zip(rep.chunks, derived.search_terms, derived.embed_texts,
                                                          derived.chunk_tags)):
            chunk_id += 1
            path_list = rep.section_path(ch.section)
            table = rep.table_at(ch.start) if ch.kind == "table" else None
            pending.add_chunk(chunk_id, rep.id, etext if opts.embed else None, tags)
            for ordinal, start, end, wtext in (wins[i] if wins else ()):
                pending.add_window(chunk_id, ordinal, start, end, wtext)
            chunk_rows.append({
                "id": chunk_id, "report_id": rep.id,
                "section_id": ids.get(ch.section) if ch.section is not None else None,
                "ordinal": ch.ordinal, "kind": ch.kind, "section": " › ".join(path_list),
                "heading": path_list[-1] if path_list else None,
                "char_start": ch.start, "char_end": ch.end, "text": ch.text, "word_count": ch.words,
                "content_hash": ch.hash,
                "table_id": table_ids.get(table.ordinal) if table is not None else None,
                **page_fields(rep, ch.start, ch.end),
            })
            term_rows.append({"id": chunk_id, "search_terms": terms})
        out.add("chunks", chunk_rows)
        out.add("chunk_terms", term_rows)
        out.report_done()
    out.flush()
    pending.commit()
    if not chunk_id:
        raise CorpusError(opts.corpus, "no text passages in any report (only tables of contents, page furniture "
                                       "or blank lines); nothing to search")
    n_reports, n_sections = out.counts["reports"], out.counts["sections"]
    log(opts, f"skrev {n_reports} rapporter, {n_sections} avsnitt, {chunk_id} textavsnitt")
    table_summary = summary.result()
    embedding_stats: dict = {}
    embedder = None
    if opts.embed:
        embedding_stats, embedder = _embed(opts, db, pending)
    _write_topics(opts, db, report_meta, pending, embedder)
    info = {
        "version": __version__,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_id": uuid.uuid4().hex,  # tells a running server that the file was replaced (README, rebuilding)
        "corpus_sha256": corpus_sha256,
        "manifest_sha256": _file_hash(opts.corpus / MANIFEST_NAME),
        "counts": {"reports": n_reports, "sections": n_sections, "chunks": chunk_id},
        "offsets": "char offsets into the UTF-8 text (BOM removed, universal newlines); chunk text = whitespace-collapsed source[char_start:char_end]",
        "embedding": embedding_stats,
        "tables": table_summary,
    }
    if embedder is not None:
        offset = _prefix_offset(opts, db, embedder)
        if offset is not None:
            info[prefix_offset.INFO_KEY] = offset
    database.finish(db, info)
    _write_leaves(opts, db)
    db.close()
    return BuildResult(db_path=opts.db_path, reports=n_reports, sections=n_sections,
                       chunks=chunk_id, embedding=embedding_stats, tables=table_summary)


def table_row(rep: ParsedReport, t, tid: str, section_ids: dict[int, int]) -> dict:
    return {
        "id": tid, "report_id": rep.id, "ordinal": t.ordinal, "title": t.title, "caption": t.caption,
        "section_id": section_ids.get(t.section) if t.section is not None else None,
        "section": " › ".join(rep.section_path(t.section)), "char_start": t.start, "char_end": t.end,
        "n_rows": t.n_rows, "n_cols": t.n_cols, "unit": t.unit, "unit_source": t.unit_source,
        "unit_evidence": t.unit_evidence, "uncertain": int(t.uncertain),
        "note": "; ".join(t.notes) or None, "sum_check": t.sum_check,
        "sum_check_detail": tables.to_json(t.sum_check_detail), "columns": tables.to_json(t.columns),
        "wide": tables.to_json(t.wide()), "municipality": rep.value("municipality"), "kommunkod": rep.value("kommunkod"),
        "municipality_inferred": int(rep.municipality_inferred),
        "year": rep.value("year"), "period": rep.value("period"), "source_file": rep.source_file,
        **page_fields(rep, t.start, t.end),
    }


def cell_row(rep: ParsedReport, t, tid: str, c) -> dict:
    """One number (or one printed empty cell) that stands alone: where it is from, what it is, in what unit."""
    return {
        "table_id": tid, "row_index": c.row_index, "column_index": c.column_index, "row_label": c.row_label,
        "column_label": c.column_label, "raw": c.raw, "value": c.value, "unit": c.unit, "unit_source": c.unit_source,
        "unit_evidence": c.unit_evidence, "empty_mark": c.empty_mark, "period": c.period,
        "is_total": int(c.is_total), "table_title": t.title, "report_id": rep.id, "report_title": rep.value("title"),
        "municipality": rep.value("municipality"), "kommunkod": rep.value("kommunkod"),
        "municipality_inferred": int(rep.municipality_inferred), "year": rep.value("year"),
        "report_period": rep.value("period"), "source_file": rep.source_file,
        **page_fields(rep, c.row_start, c.row_end), "char_start": c.row_start, "char_end": c.row_end,
    }


def page_fields(rep: ParsedReport, start: int, end: int) -> dict:
    """``page_start``/``page_end`` of a span of a PDF report (None for text files)."""
    first, last = rep.pages(start, end)
    return {"page_start": first, "page_end": last}


def _file_hash(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _prefix_offset(opts: BuildOptions, db: sqlite_utils.Database, embedder) -> dict | None:
    """The model's query/passage offset measured on this corpus (:mod:`rapportsok.prefix_offset`)."""
    cache = _cache(opts, embedder.contract)
    try:
        record = prefix_offset.for_build(db.conn, embedder, cache)
    finally:
        cache.close()
    if record is not None:
        log(opts, f"frågans läsning som textavsnitt: förskjutning mätt på {record['sentences']} meningar")
    return record


def _cache(opts: BuildOptions, contract) -> EmbeddingCache:
    cache = EmbeddingCache((opts.cache_dir or opts.db_path.parent / "cache") / "embeddings.sqlite", contract)
    for w in cache.warnings:
        log(opts, f"varning: {w}")
    return cache


def _write_leaves(opts: BuildOptions, db: sqlite_utils.Database) -> dict:
    """The BM25 scores of the common phrases (:mod:`rapportsok.search.leaves`), once the FTS5
    index is complete; a corpus with no phrase in ``leaves.MIN_DOCS`` passages stores none.
    Copied from the database being replaced when its indexed content was the same."""
    from tqdm import tqdm

    from .search.signals.keyword import FTS_WEIGHTS

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="lagrar BM25 för vanliga ord", unit="ord", disable=opts.quiet, file=sys.stderr)
        bar.update(1)

    try:
        record = leaves.write(db.conn, FTS_WEIGHTS, log=progress,
                              previous=opts.db_path if opts.db_path.exists() else None)
    finally:
        if bar is not None:
            bar.close()
    db.conn.commit()
    return record


def _embed(opts: BuildOptions, db: sqlite_utils.Database, pending: vector_step.Pending) -> tuple[dict, object]:
    """Embed the staged passage and window texts (streamed, :mod:`rapportsok.vector_step`) and write their vectors."""
    from tqdm import tqdm

    log(opts, f"laddar inbäddningsmodell: {opts.model}")
    embedder = load_embedder(opts.model, device=opts.device, cache_dir=opts.cache_dir or opts.db_path.parent / "cache",
                             quiet=opts.quiet, passage_runtime=opts.passage_runtime)
    contract = embedder.contract
    cache = _cache(opts, contract)

    def bar(total: int):
        return tqdm(total=total, desc="bäddar in textavsnitt", unit="avsnitt", disable=opts.quiet,
                    file=sys.stderr, smoothing=0.1)

    try:
        stats = vector_step.embed_pending(embedder, pending, cache, batch_size=opts.batch_size, progress_factory=bar)
    finally:
        cache.close()
    if stats["embedded"]:
        stats["chunks_per_second"] = round(stats["embedded"] / max(stats["seconds"], 1e-9), 2)
    # what computed the new passage and window vectors (the contract names the query runtime; the two
    # agree, tested); asked only when something was embedded, so a rebuild from the cache never loads torch
    passage_runtime = (getattr(embedder, "passage_runtime_label", contract.runtime) if stats["embedded"]
                       else "från cache")
    log(opts, f"inbäddningar: {stats['embedded']} nya, {stats['cached']} från cache"
              + (f" (textavsnitt: {passage_runtime})" if stats["embedded"] else ""))
    db["chunk_embeddings"].insert_all(({"chunk_id": cid, "vector": blob} for cid, blob in pending.chunk_vectors()),
                                      pk="chunk_id", foreign_keys=[("chunk_id", "chunks", "id")], batch_size=500)
    if pending.windows:
        database.write_windows(db, pending.window_rows())
    stats["windows"] = pending.windows
    row = {"id": 1, **{k: v for k, v in contract.__dict__.items()}, "contract_json": contract.to_json(),
           "passage_runtime": passage_runtime}
    db["embedding_model"].insert(row, pk="id")
    stats_out = {"model": contract.model_id, "backend": contract.backend, "runtime": contract.runtime,
                 "passage_runtime": passage_runtime,
                 "dimensions": contract.dimensions, **stats}
    return stats_out, embedder


def _write_topics(opts: BuildOptions, db: sqlite_utils.Database, report_meta: dict[str, dict],
                  pending: vector_step.Pending, embedder) -> None:
    """The topic taxonomy, and topics per passage and per table with score and evidence."""
    import json

    taxonomy = topics_mod.load_topics()
    db["topics"].insert_all(({
        "id": t.id, "label": t.label, "group": t.group, "definition": t.definition,
        "synonyms": json.dumps(t.synonyms, ensure_ascii=False), "abbreviations": json.dumps(t.abbreviations, ensure_ascii=False),
        "english": json.dumps(t.english, ensure_ascii=False), "related": json.dumps(t.related), "ordinal": i,
    } for i, t in enumerate(taxonomy)), pk="id")
    log(opts, "taggar ämnen")
    topic_vecs = None
    if embedder is not None:
        t = time.perf_counter()
        cache = _cache(opts, embedder.contract)
        try:
            topic_vecs = tagging.topic_vectors(embedder, taxonomy, cache=cache)
        finally:
            cache.close()
        log(opts, f"ämnesbeskrivningar inbäddade på {time.perf_counter() - t:.2f} s")
    # lexical tags came from the parsing processes; semantic ones are relative to every passage's
    # similarity (z-scores per topic): one streamed pass for the topics' mean and spread, one to tag
    dim = embedder.contract.dimensions if embedder is not None else 0
    semantic = topic_vecs is not None and db["chunk_embeddings"].exists() and db["chunk_embeddings"].count > 1
    spread = None
    if semantic:
        spread = vector_step.TopicStats(len(topic_vecs))
        for part in pending.tagged_chunks(with_vectors=True):
            spread.add(vector_step.matrix((blob for *_, blob in part), dim) @ topic_vecs.T)

    def rows():
        for part in pending.tagged_chunks(with_vectors=semantic):
            tags = [t for _, _, t, _ in part]
            if semantic:
                sims = vector_step.matrix((blob for *_, blob in part), dim) @ topic_vecs.T
                tagging.add_tags_from_scores(tags, sims, (sims - spread.mean) / (spread.std + 1e-9))
            for (cid, report_id, _, _), tags_of_chunk in zip(part, tags):
                meta = report_meta[report_id]
                for tag in tags_of_chunk:
                    yield {"chunk_id": cid, "topic_id": tag.topic, "score": tag.score, "method": tag.method,
                           "evidence": tag.evidence, "report_id": report_id, **meta}

    db["chunk_topics"].insert_all(rows(), pk=("chunk_id", "topic_id"),
                                  foreign_keys=[("chunk_id", "chunks", "id"), ("topic_id", "topics", "id"), ("report_id", "reports", "id")])
    db["table_topics"].insert_all(pending.table_tags(), pk=("table_id", "topic_id"),
                                  foreign_keys=[("table_id", "tables", "id"), ("topic_id", "topics", "id")])
    for table, cols in (("chunk_topics", ["topic_id"]), ("chunk_topics", ["kommunkod", "year"]), ("table_topics", ["topic_id"])):
        if db[table].exists():  # a corpus without any tagged passage or table has no such table
            db[table].create_index(cols, if_not_exists=True)
