"""Build the database from ``corpus/``: parse, chunk, detect, embed and write atomically.

The database is written to a temporary file next to the target and moved into place
(``os.replace``) only when complete, so a failed build leaves the previous database as it
was. Same corpus in, same rows and content hashes out.
"""

from __future__ import annotations

import contextlib
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

import numpy as np

from . import __version__, database, swedish, tables, tagging
from . import windows as windows_mod
from . import topics as topics_mod
from .chunking import TAG_RE, normalise
from .embeddings import DEFAULT_MODEL, EmbeddingCache, embed_with_cache, load_embedder, to_blob
from .errors import CorpusError
from .manifest import MANIFEST_NAME, load_manifest
from .reports import METADATA_FIELDS, ParsedReport, load_report
from .textio import DEFAULT_MAX_BYTES

CORPUS_SUFFIXES = (".txt", ".md", ".pdf")


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


def parse_corpus(opts: BuildOptions) -> tuple[list[ParsedReport], list[str]]:
    manifest = load_manifest(opts.corpus)
    files = corpus_files(opts.corpus)
    warnings: list[str] = [f"{p}: symbolic link, not followed (copy the report into the corpus folder)"
                           for p in sorted(opts.corpus.iterdir()) if p.is_symlink()]
    if not manifest:
        warnings.append(f"{opts.corpus / MANIFEST_NAME}: no manifest; all metadata is detected from the text")
    reports: list[ParsedReport] = []
    for i, path in enumerate(files, 1):
        log(opts, f"[{i}/{len(files)}] läser {path.name}")
        try:
            rep = load_report(path, manifest.get(path.name), opts.max_bytes, log=lambda m: log(opts, m))
        except CorpusError as exc:
            if path.suffix.lower() != ".pdf":
                raise
            # an unreadable PDF (encrypted, damaged, not a PDF, no pages, no text) is skipped, not fatal
            warnings.append(f"{exc} – skipped")
            log(opts, f"varning: {exc} – hoppar över filen")
            continue
        warnings.extend(rep.warnings)
        reports.append(rep)
    if not reports:
        raise CorpusError(opts.corpus, "no report could be read (see the warnings above)")
    ids: dict[str, str] = {}
    for rep in reports:
        if rep.id in ids:
            raise CorpusError(rep.source.path, f"report id '{rep.id}' is also used by {ids[rep.id]}; give one an id in {MANIFEST_NAME}")
        ids[rep.id] = rep.source_file
    # Passage ids follow (kommunkod, year, report): a kommun's passages – and a year range within
    # it – form one run of ids, which keyword search uses as an FTS5 rowid range for filters.
    reports.sort(key=lambda r: (str(r.value("kommunkod") or "9999"), r.value("year") or 0, r.id))
    return reports, warnings


def build(opts: BuildOptions) -> BuildResult:
    t0 = time.perf_counter()
    reports, warnings = parse_corpus(opts)
    for w in warnings:
        log(opts, f"varning: {w}")
    opts.db_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(opts.db_path):
        log(opts, f"tog bort {stale} (en avbruten byggnads tillfälliga fil)")
    tmp = opts.db_path.with_name(f".{opts.db_path.name}.building-{os.getpid()}")
    for stale in (tmp, Path(str(tmp) + "-journal")):
        stale.unlink(missing_ok=True)
    try:
        with _sigterm_as_interrupt():
            result = _write(opts, reports, tmp)
            _fsync(tmp)
            os.replace(tmp, opts.db_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + "-journal").unlink(missing_ok=True)
        raise
    result.warnings = warnings
    result.seconds = time.perf_counter() - t0
    log(opts, f"klart: {opts.db_path} ({result.reports} rapporter, {result.sections} avsnitt, "
              f"{result.chunks} textavsnitt) på {result.seconds:.1f} s")
    log(opts, result.table_report)
    return result


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
    pattern = re.compile(rf"^\.{re.escape(db_path.name)}\.building-(\d+)(-journal)?$")
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


def _write(opts: BuildOptions, reports: list[ParsedReport], path: Path) -> BuildResult:
    db = sqlite_utils.Database(path)
    # The file is a private temporary until os.replace: no journal file and no fsync per
    # insert batch (each cost ~30 ms, minutes on a large table); _fsync makes it durable once.
    db.execute("pragma journal_mode = memory")
    db.execute("pragma synchronous = off")
    database.create_reference_tables(db)
    report_rows, meta_rows, section_rows, chunk_rows, table_rows, cell_rows = [], [], [], [], [], []
    page_rows: list[dict] = []
    term_rows: list[dict] = []
    block_rows: list[dict] = []
    section_id = 0
    chunk_id = 0
    embed_inputs: dict[str, str] = {}
    chunk_embed_hash: dict[int, str] = {}
    window_rows: list[dict] = []   # sentence windows of long passages, with their text's hash
    for rep in reports:
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
        report_rows.append(row)
        if rep.pdf:
            page_rows.extend({"report_id": rep.id, "page": p.number, "char_start": p.start, "char_end": p.end,
                              "ocr": int(p.ocr), "ocr_confidence": p.ocr_confidence} for p in rep.pdf.pages)
        for name, fv in rep.fields.items():
            meta_rows.append({
                "report_id": rep.id, "field": name, "value": None if fv.value is None else str(fv.value),
                "source": fv.source, "confidence": fv.confidence, "evidence": fv.evidence,
                "detected_value": None if fv.detected is None else str(fv.detected),
                "detected_confidence": fv.detected_confidence, "inferred": int(fv.inferred),
            })
        # the reader's blocks, so the site never re-parses a report per request
        block_rows.extend({"report_id": rep.id, "ordinal": i, "kind": b.kind, "char_start": b.start, "char_end": b.end,
                           "level": b.level, "heading": b.heading or None} for i, b in enumerate(rep.doc.blocks))
        ids: dict[int, int] = {}
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
        table_ids: dict[int, str] = {}
        for t in rep.tables:
            tid = f"{rep.id}-t{t.ordinal + 1:02d}"
            table_ids[t.ordinal] = tid
            table_rows.append(table_row(rep, t, tid, ids))
            cell_rows.extend(cell_row(rep, t, tid, c) for c in t.cells)
        headings = windows_mod.Headings(rep.source.text, rep.doc.blocks)
        for ch in rep.chunks:
            chunk_id += 1
            path_list = rep.section_path(ch.section)
            about = rep.section_path(ch.about_section)
            table = rep.table_at(ch.start) if ch.kind == "table" else None
            terms_text = display_text(ch.text) + " " + (about[-1] if about else "")
            if table is not None:
                terms_text += " " + table.search_text_between(ch.start, ch.end)
            etext = embed_text(rep, about, ch.text)
            ehash = hashlib.sha256(etext.encode()).hexdigest()[:32]
            embed_inputs[ehash] = etext
            chunk_embed_hash[chunk_id] = ehash
            if opts.embed and opts.windows:
                for w in windows_mod.windows(ch.text, headings.spans(ch.text, ch.start, ch.end)):
                    wtext = embed_text(rep, [w.heading or (path_list[-1] if path_list else "")], ch.text[w.start: w.end])
                    whash = hashlib.sha256(wtext.encode()).hexdigest()[:32]
                    embed_inputs[whash] = wtext
                    window_rows.append({"chunk_id": chunk_id, "ordinal": w.ordinal, "char_start": w.start,
                                        "char_end": w.end, "hash": whash})
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
            term_rows.append({"id": chunk_id, "search_terms": swedish.search_terms(terms_text)})
    if not chunk_rows:
        raise CorpusError(opts.corpus, "no text passages in any report (only tables of contents, page furniture "
                                       "or blank lines); nothing to search")
    log(opts, f"skriver {len(report_rows)} rapporter, {len(section_rows)} avsnitt, {len(chunk_rows)} textavsnitt")
    database.write_rows(db, "reports", report_rows, pk="id", foreign_keys=[("kommunkod", "municipalities", "kommunkod")],
                        columns={"year": int, "document_date": str, "period": str, "kommunkod": str,
                                 "municipality_evidence": str, "n_pages": int, "ocr_pages": int})
    database.write_pages(db, page_rows)
    database.write_rows(db, "report_metadata", meta_rows, pk=("report_id", "field"), foreign_keys=[("report_id", "reports", "id")])
    database.write_rows(db, "sections", section_rows, pk="id",
                        foreign_keys=[("report_id", "reports", "id"), ("parent_id", "sections", "id")],
                        columns={"parent_id": int, **PAGE_COLUMNS})
    database.write_rows(db, "chunks", chunk_rows, pk="id",
                        foreign_keys=[("report_id", "reports", "id"), ("section_id", "sections", "id")],
                        columns={"section_id": int, "heading": str, "table_id": str, **PAGE_COLUMNS})
    database.write_rows(db, "blocks", block_rows, pk=("report_id", "ordinal"), foreign_keys=[("report_id", "reports", "id")],
                        columns={"heading": str})
    database.write_rows(db, "chunk_terms", term_rows, pk="id", foreign_keys=[("id", "chunks", "id")])
    database.write_rows(db, "tables", [{k: v for k, v in t.items() if not k.startswith("_")} for t in table_rows], pk="id",
                        foreign_keys=[("report_id", "reports", "id"), ("section_id", "sections", "id")],
                        columns={"section_id": int, "unit": str, "unit_source": str, "unit_evidence": str, "caption": str,
                                 **PAGE_COLUMNS})
    table_topic_map = {t["id"]: sorted({tag.topic for tag in tagging.lexical_tags(t["_search_text"])}) for t in table_rows}
    for c in cell_rows:
        c["topics"] = ";".join(table_topic_map[c["table_id"]])
    database.write_rows(db, "table_cells", cell_rows, pk=("table_id", "row_index", "column_index"),
                        foreign_keys=[("table_id", "tables", "id"), ("report_id", "reports", "id")],
                        columns={"value": float, "unit": str, "unit_source": str, "unit_evidence": str, "empty_mark": str,
                                 "raw": str, "period": str, **PAGE_COLUMNS})
    table_summary = summarise_tables(table_rows, cell_rows)
    embedding_stats: dict = {}
    vectors, embedder = None, None
    if opts.embed:
        embedding_stats, vectors, embedder = _embed(opts, db, embed_inputs, chunk_embed_hash, window_rows)
    _write_topics(opts, db, reports, chunk_rows, table_rows, vectors, embedder)
    info = {
        "version": __version__,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_id": uuid.uuid4().hex,  # tells a running server that the file was replaced (README, rebuilding)
        "corpus_sha256": {r.source_file: r.source.sha256 for r in reports},
        "manifest_sha256": _file_hash(opts.corpus / MANIFEST_NAME),
        "counts": {"reports": len(report_rows), "sections": len(section_rows), "chunks": len(chunk_rows)},
        "offsets": "char offsets into the UTF-8 text (BOM removed, universal newlines); chunk text = whitespace-collapsed source[char_start:char_end]",
        "embedding": embedding_stats,
        "tables": table_summary,
    }
    database.finish(db, info)
    db.close()
    return BuildResult(db_path=opts.db_path, reports=len(report_rows), sections=len(section_rows),
                       chunks=len(chunk_rows), embedding=embedding_stats, tables=table_summary)


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
        "_search_text": t.search_text(),
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


PAGE_COLUMNS = {"page_start": int, "page_end": int}


def page_fields(rep: ParsedReport, start: int, end: int) -> dict:
    """``page_start``/``page_end`` of a span of a PDF report (None for text files)."""
    first, last = rep.pages(start, end)
    return {"page_start": first, "page_end": last}


def summarise_tables(table_rows: list[dict], cell_rows: list[dict]) -> dict:
    from collections import Counter

    from .numbers_sv import looks_numeric

    printed = [c for c in cell_rows if c["raw"] is not None]
    numeric = sum(1 for c in printed if c["value"] is not None)
    unparsed = sum(1 for c in printed if c["value"] is None and looks_numeric(c["raw"]))
    with_value = [c for c in cell_rows if c["value"] is not None]
    return {
        "tables": len(table_rows), "flagged": sum(t["uncertain"] for t in table_rows), "cells": len(cell_rows),
        "empty_cells": len(cell_rows) - len(printed), "printed_cells": len(printed),
        "numeric_cells": numeric, "numeric_share": numeric / len(printed) if printed else 0.0,
        "numeric_looking_unparsed": unparsed,
        "units": {"printed": sum(1 for c in with_value if c["unit_source"] == "printed"),
                  "inferred": sum(1 for c in with_value if c["unit_source"] == "inferred"),
                  "none": sum(1 for c in with_value if c["unit"] is None)},
        "tables_unit_inferred": sum(1 for t in table_rows if t["unit_source"] == "inferred"),
        "sum_check": dict(Counter(t["sum_check"] for t in table_rows)),
    }


def _file_hash(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _cache(opts: BuildOptions, contract) -> EmbeddingCache:
    cache = EmbeddingCache((opts.cache_dir or opts.db_path.parent / "cache") / "embeddings.sqlite", contract)
    for w in cache.warnings:
        log(opts, f"varning: {w}")
    return cache


def _embed(opts: BuildOptions, db: sqlite_utils.Database, inputs: dict[str, str], chunk_hash: dict[int, str],
           window_rows: list[dict]) -> dict:
    from tqdm import tqdm

    log(opts, f"laddar inbäddningsmodell: {opts.model}")
    embedder = load_embedder(opts.model, device=opts.device, cache_dir=opts.cache_dir or opts.db_path.parent / "cache",
                             quiet=opts.quiet)
    contract = embedder.contract
    cache = _cache(opts, contract)

    def bar(total: int):
        return tqdm(total=total, desc="bäddar in textavsnitt", unit="avsnitt", disable=opts.quiet,
                    file=sys.stderr, smoothing=0.1)

    try:
        vectors, stats = embed_with_cache(embedder, inputs, cache, batch_size=opts.batch_size, progress_factory=bar)
    finally:
        cache.close()
    if stats["embedded"]:
        stats["chunks_per_second"] = round(stats["embedded"] / max(stats["seconds"], 1e-9), 2)
    log(opts, f"inbäddningar: {stats['embedded']} nya, {stats['cached']} från cache")
    db["chunk_embeddings"].insert_all(
        ({"chunk_id": cid, "vector": to_blob(vectors[h])} for cid, h in chunk_hash.items()),
        pk="chunk_id", foreign_keys=[("chunk_id", "chunks", "id")], batch_size=500,
    )
    if window_rows:
        database.write_windows(db, ({"id": i, **{k: v for k, v in w.items() if k != "hash"}, "vector": to_blob(vectors[w["hash"]])}
                                    for i, w in enumerate(window_rows, 1)))
    stats["windows"] = len(window_rows)
    row = {"id": 1, **{k: v for k, v in contract.__dict__.items()}, "contract_json": contract.to_json()}
    db["embedding_model"].insert(row, pk="id")
    matrix = np.vstack([vectors[chunk_hash[cid]] for cid in sorted(chunk_hash)]) if chunk_hash else None
    stats_out = {"model": contract.model_id, "backend": contract.backend, "runtime": contract.runtime,
                 "dimensions": contract.dimensions, **stats}
    return stats_out, matrix, embedder


def _write_topics(opts: BuildOptions, db: sqlite_utils.Database, reports: list[ParsedReport], chunk_rows: list[dict],
                  table_rows: list[dict], vectors, embedder) -> None:
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
    texts = [display_text(r["text"]) + " " + (r["heading"] or "") for r in chunk_rows]
    tags = tagging.tag_all(texts, vectors, topic_vecs)
    by_report = {r.id: r for r in reports}
    rows = []
    for chunk, chunk_tags in zip(chunk_rows, tags):
        rep = by_report[chunk["report_id"]]
        for tag in chunk_tags:
            rows.append({"chunk_id": chunk["id"], "topic_id": tag.topic, "score": tag.score, "method": tag.method,
                         "evidence": tag.evidence, "report_id": rep.id, "municipality": rep.value("municipality"),
                         "kommunkod": rep.value("kommunkod"), "year": rep.value("year")})
    db["chunk_topics"].insert_all(rows, pk=("chunk_id", "topic_id"),
                                  foreign_keys=[("chunk_id", "chunks", "id"), ("topic_id", "topics", "id"), ("report_id", "reports", "id")])
    table_tags = []
    for t in table_rows:
        for tag in tagging.lexical_tags(t["_search_text"]):
            table_tags.append({"table_id": t["id"], "topic_id": tag.topic, "score": tag.score, "method": tag.method,
                               "evidence": tag.evidence, "report_id": t["report_id"]})
    db["table_topics"].insert_all(table_tags, pk=("table_id", "topic_id"),
                                  foreign_keys=[("table_id", "tables", "id"), ("topic_id", "topics", "id")])
    for table, cols in (("chunk_topics", ["topic_id"]), ("chunk_topics", ["kommunkod", "year"]), ("table_topics", ["topic_id"])):
        if db[table].exists():  # a corpus without any tagged passage or table has no such table
            db[table].create_index(cols, if_not_exists=True)
