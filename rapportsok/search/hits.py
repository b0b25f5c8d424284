"""Typed hits: one passage in a result, with every signal's score and rank.

The same object feeds the CLI (``--json``/``--csv``), the JSON/CSV/Atom exports and the
templates: ``scores`` holds ``<signal>`` and ``<signal>_rank`` for every signal the mode
used, unchanged. A table passage carries ``table_id`` and the rows that matched the words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .highlight import Marks, highlight_spans
from .urls import passage_url, reader_url



@dataclass
class Hit:
    report_id: str
    source_file: str
    municipality: str | None
    kommunkod: str | None
    year: int | None
    period: str | None
    report_type: str | None
    section: str | None
    char_start: int
    char_end: int
    text: str
    score: float
    rank: int
    mode: str
    title: str | None
    heading: str | None
    chunk_id: int
    passage: int
    kind: str
    url: str
    scores: dict = field(default_factory=dict)
    contains_words: bool = True       # False: similar in meaning only
    highlights: list = field(default_factory=list)
    also_in: list = field(default_factory=list)
    table_id: str | None = None
    table_rows: list = field(default_factory=list)   # matching rows of a table passage, as cells
    page: int | None = None           # PDF pages (None for text files)
    page_end: int | None = None
    matched: list | None = None       # [start, end] in text: the sentences that matched the meaning best (a sentence window)

    # dict-style access, so ``h["text"]`` and ``{**h}`` keep working for every caller
    def __getitem__(self, key: str):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def keys(self):
        return [f for f in self.__dataclass_fields__]

    def get(self, key: str, default=None):
        return getattr(self, key, default)

    def to_dict(self) -> dict:
        return asdict(self)


def _table_rows(text: str, spans: list[list[int]]) -> list[list[str]]:
    rows, pos = [], 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        if "\t" in line and any(start <= a < end for a, _ in spans):
            rows.append([c.strip() for c in line.split("\t")])
    return rows[:5]


def hydrate(index, page: list[tuple[int, float, list[int]]], req, per_signal: dict[int, dict], marks: Marks,
            in_words: np.ndarray, signal_names: list[str], highlights: bool = True) -> list[Hit]:
    """Typed hits of one result page. ``highlights=False``: leave ``Hit.highlights`` and a table
    passage's ``table_rows`` (the rows with highlighted words) empty – callers that do not show
    them (the exports, batch, Atom, the search page, the reader's hit list) skip the cost of
    highlighting every word of long table passages; ``rapportsok search --json`` shows both."""
    if not page:
        return []
    ids = [cid for cid, _, _ in page] + [d for _, _, dups in page for d in dups]
    rows = {r["chunk_id"]: dict(r) for r in index.conn().execute(
        "select c.id as chunk_id, c.report_id, r.source_file, r.municipality, r.kommunkod, r.year, r.period, "
        "r.report_type, r.title, c.section, c.heading, c.ordinal, c.kind, c.char_start, c.char_end, c.text, c.table_id, "
        "c.page_start, c.page_end "
        f"from chunks c join reports r on r.id = c.report_id where c.id in ({','.join('?' * len(ids))})", ids)}
    names = [n for n in ("keyword", "semantic") if n not in signal_names] + signal_names
    hits = []
    for cid, score, dups in page:
        row = rows[cid]
        scores: dict = {}
        for name in names:
            s, r = per_signal.get(cid, {}).get(name, (None, None))
            scores[name], scores[f"{name}_rank"] = s, r
        spans = highlight_spans(row["text"], marks) if highlights else []
        hits.append(Hit(
            report_id=row["report_id"], source_file=row["source_file"], municipality=row["municipality"],
            kommunkod=row["kommunkod"], year=row["year"], period=row["period"], report_type=row["report_type"],
            section=row["section"], char_start=row["char_start"], char_end=row["char_end"], text=row["text"],
            score=round(float(score), 6), rank=0, mode=req.mode, title=row["title"], heading=row["heading"],
            chunk_id=cid, passage=row["ordinal"], kind=row["kind"],
            url=passage_url(row["report_id"], row["ordinal"]), scores=scores,
            contains_words=bool(in_words[index.index_of[cid]]), highlights=spans,
            also_in=[{"report_id": rows[d]["report_id"], "municipality": rows[d]["municipality"], "year": rows[d]["year"],
                      "section": rows[d]["section"], "char_start": rows[d]["char_start"], "char_end": rows[d]["char_end"],
                      "chunk_id": d, "url": passage_url(rows[d]["report_id"], rows[d]["ordinal"]),
                      "reader_url": reader_url(rows[d]["report_id"], rows[d]["ordinal"], req.q or None)}
                     for d in dups],
            page=row["page_start"], page_end=row["page_end"],
            table_id=row["table_id"], table_rows=_table_rows(row["text"], spans) if row["kind"] == "table" and highlights else [],
        ))
    return hits
