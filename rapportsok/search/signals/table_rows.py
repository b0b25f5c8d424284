"""The table-row signal (hybrid): a numeric question answered by one row of a table.

"hur många placerades i skyddat boende 2022" is answered by one row ("Skyddat boende",
column "2022") of a table whose passage also holds twenty other rows; BM25 over the whole
table passage dilutes that row. Each table row is a unit of its own here – table title, row
label, and every cell's column label and printed value (``table_cells``) – matched by the
query's index terms (the keyword side's clauses), and the table's passage is ranked by its best
row: clauses the row covers, then the shorter row. It only orders passages, like the other
rankings; which passages are in the result and every count stay the keyword side's.
"""

from __future__ import annotations

import os
import time

from ... import swedish
from . import Ranking

# README (issue 13): weight in RRF, measured on dev; RAPPORTSOK_TABLE_ROWS=0 turns it off
WEIGHT = float(os.environ.get("RAPPORTSOK_TABLE_ROWS", "0"))
CANDIDATES = 50
ONLY_NUMBERS = os.environ.get("RAPPORTSOK_TABLE_ROWS_NUMBERS", "1") != "0"   # only for questions of kind "number"


def load_rows(index) -> list[tuple[int, frozenset, int]]:
    """(table passage id, index terms of the row, number of terms) for every table row."""
    conn = index.conn()
    if not conn.execute("select 1 from sqlite_master where name = 'table_cells'").fetchone():
        return []
    passage = {tid: cid for tid, cid in conn.execute(
        "select t.id, min(c.id) from tables t join chunks c on c.report_id = t.report_id and c.kind = 'table' "
        "and c.char_start < t.char_end and t.char_start < c.char_end group by t.id")}
    rows: dict[tuple[str, int], list[str]] = {}
    titles = dict(conn.execute("select id, coalesce(title, '') || ' ' || coalesce(caption, '') from tables"))
    for tid, ri, label, col, raw in conn.execute(
            "select table_id, row_index, row_label, column_label, raw from table_cells order by table_id, row_index, column_index"):
        parts = rows.setdefault((tid, ri), [titles.get(tid, ""), label or ""])
        parts += [col or "", raw or ""]
    out = []
    for (tid, _), parts in rows.items():
        if tid in passage:
            terms = swedish.search_terms(" ".join(parts)).split()
            out.append((passage[tid], frozenset(terms), len(terms)))
    return out


class TableRowSignal:
    name = "table_row"

    def __init__(self):
        self._rows = None
        self._postings: dict[str, list[int]] = {}

    def rows(self, index):
        """The rows and an inverted index term → rows (built once, on first use)."""
        if self._rows is None:
            rows = load_rows(index)
            postings: dict[str, list[int]] = {}
            for i, (_, terms, _) in enumerate(rows):
                for term in terms:
                    postings.setdefault(term, []).append(i)
            self._postings, self._rows = postings, rows
        return self._rows

    def rank(self, index, req, mask) -> Ranking:
        t = time.perf_counter()
        u = index.keyword.understand(req)
        clauses = [c for c in u.clause_terms if c]
        if len(clauses) < 2 or WEIGHT <= 0:
            return Ranking(self.name, [], weight=0.0)
        rows = self.rows(index)
        covered: dict[int, int] = {}
        for c in clauses:
            for i in {i for term in c for i in self._postings.get(term, ())}:
                covered[i] = covered.get(i, 0) + 1
        best: dict[int, tuple[int, int]] = {}
        for i, k in covered.items():
            cid, _, n = rows[i]
            if k >= 2 and (k, -n) > best.get(cid, (0, 0)):
                best[cid] = (k, -n)
        items = sorted(((cid, s) for cid, s in best.items() if mask[index.index_of[cid]]),
                       key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:CANDIDATES]
        return Ranking(self.name, [(cid, float(c) + 1.0 / (1 - n)) for cid, (c, n) in items],
                       {"rows": len(best)}, weight=WEIGHT * u.coverage, ms=(time.perf_counter() - t) * 1000)
