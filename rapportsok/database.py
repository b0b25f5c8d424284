"""Write the search database with sqlite-utils: tables, foreign keys, indexes and FTS5.

The schema (see also ``metadata.yml`` for the Swedish labels):

``municipalities``     the 290 municipalities (SCB kommunkod, län)
``reports``            one row per report: provenance, metadata and the full text
``report_metadata``    per report and field: value, source (manifest/detected), confidence, evidence
``sections``           the section tree with offsets
``chunks``             passages with offsets, section path, word count, content hash
``chunks_fts``         FTS5 over passage text, section path and Swedish search terms
``chunk_embeddings``   one float32 vector per passage (little-endian BLOB)
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
    db["chunks"].enable_fts(FTS_COLUMNS, fts_version="FTS5", tokenize=FTS_TOKENIZE, create_triggers=False)
    db["chunks_fts"].optimize()
    db.execute("create virtual table chunks_fts_vocab using fts5vocab(chunks_fts, 'row')")
    db["build_info"].insert_all(
        ({"key": k, "value": v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)} for k, v in info.items()),
        pk="key",
    )
    db.conn.commit()
