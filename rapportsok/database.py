"""Write the search database with sqlite-utils: tables, foreign keys, indexes and FTS5.

The schema (see also ``metadata.yml`` for the Swedish labels):

``municipalities``     the 290 municipalities (SCB kommunkod, län)
``reports``            one row per report: provenance, metadata and the full text
``report_metadata``    per report and field: value, source (manifest/detected), confidence, evidence
``report_pages``       PDF reports: per page its text span (offsets), whether it was OCR'd and Tesseract's
                       mean word confidence; sections, chunks, tables and table_cells carry
                       ``page_start``/``page_end`` (NULL for text files)
``sections``           the section tree with offsets
``chunks``             passages with offsets, section path, word count, content hash
``chunk_terms``        per passage the Swedish search terms (stems and compound parts; internal)
``chunks_fts``         FTS5 over passage text, section path and search terms (content: a view
                       joining ``chunks`` and ``chunk_terms``, so no text is stored twice)
``chunk_embeddings``   one float32 vector per passage (little-endian BLOB)
``chunk_windows``      sentence windows of long passages (``rapportsok/windows.py``): passage, ordinal, char
                       offsets in the passage text (``chunks.text[char_start:char_end]``) and a float32 vector
``embedding_model``    the model contract the vectors were made with
``build_info``         version, corpus hashes, counts and build time
"""

from __future__ import annotations

import json
from typing import Iterable

import sqlite_utils

from . import municipalities

FTS_TOKENIZE = "unicode61 remove_diacritics 0"
FTS_COLUMNS = ["text", "section", "search_terms"]


def create_reference_tables(db: sqlite_utils.Database) -> None:
    db["municipalities"].insert_all(
        ({"kommunkod": m.kommunkod, "kommun": m.kommun, "lanskod": m.lanskod, "lan": m.lan}
         for m in municipalities.all_municipalities()),
        pk="kommunkod",
    )


def write_rows(db: sqlite_utils.Database, table: str, rows: Iterable[dict], pk, foreign_keys=None,
               columns: dict | None = None) -> None:
    db[table].insert_all(rows, pk=pk, foreign_keys=foreign_keys or [], columns=columns or {}, batch_size=500)


def write_pages(db: sqlite_utils.Database, rows: list[dict]) -> None:
    """The page map of the PDF reports (the table exists, empty, when the corpus has no PDF)."""
    db["report_pages"].create({"report_id": str, "page": int, "char_start": int, "char_end": int, "ocr": int,
                               "ocr_confidence": float}, pk=("report_id", "page"), foreign_keys=[("report_id", "reports", "id")])
    db["report_pages"].insert_all(rows, batch_size=500)


def write_windows(db: sqlite_utils.Database, rows: Iterable[dict]) -> None:
    db["chunk_windows"].create({"id": int, "chunk_id": int, "ordinal": int, "char_start": int, "char_end": int,
                                "vector": bytes}, pk="id", foreign_keys=[("chunk_id", "chunks", "id")])
    db["chunk_windows"].insert_all(rows, batch_size=500)
    db["chunk_windows"].create_index(["chunk_id", "ordinal"], unique=True)


def create_fts(db: sqlite_utils.Database) -> None:
    """FTS5 index ``chunks_fts`` whose external content is the view ``chunks_fts_content``."""
    db.executescript(f"""
        create view chunks_fts_content as
          select c.id, c.text, c.section, t.search_terms from chunks c join chunk_terms t on t.id = c.id;
        create virtual table chunks_fts using fts5({", ".join(FTS_COLUMNS)}, content='chunks_fts_content',
                                                   content_rowid='id', tokenize='{FTS_TOKENIZE}');
        insert into chunks_fts(chunks_fts) values ('rebuild');
        insert into chunks_fts(chunks_fts) values ('optimize');
    """)


def finish(db: sqlite_utils.Database, info: dict) -> None:
    """Indexes, full-text index and build metadata; called once all rows are in."""
    for table, cols in [
        ("reports", ["kommunkod"]), ("reports", ["year"]), ("reports", ["report_type"]),
        ("sections", ["report_id"]), ("chunks", ["report_id"]), ("chunks", ["section_id"]),
        ("chunks", ["content_hash"]), ("chunks", ["report_id", "ordinal"]),
        ("report_metadata", ["report_id"]),
    ]:
        if db[table].exists():
            db[table].create_index(cols, if_not_exists=True, unique=cols == ["report_id", "ordinal"])
    create_fts(db)
    db.execute("create virtual table chunks_fts_vocab using fts5vocab(chunks_fts, 'row')")
    db["build_info"].insert_all(
        ({"key": k, "value": v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)} for k, v in info.items()),
        pk="key",
    )
    db.conn.commit()
