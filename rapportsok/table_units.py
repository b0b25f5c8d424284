"""A unit for a table that prints none, inferred from amounts stated in the text around it.

A table of numbers without a unit (no unit in caption, header, row or column labels, cells or
a note under it) gets one only when the surrounding text states an amount that the table's
numbers give in a unit – and then it is recorded as ``inferred`` with the evidence:

* directly: the text says "12,5 mnkr" and the table's total is 12 530 → the table is in tkr;
* as a sum with a neighbouring table that prints its unit: the text says "totalt 17,8 mnkr",
  the table's total is 12 530 and the next table's total is 5 300 with "Belopp (tkr)":
  12 530 + 5 300 = 17 830 tkr = 17,8 mnkr → the table is in tkr.

Only amounts printed with decimals (17,8 mnkr) and table numbers of at least four digits are
compared, so a round number does not match by chance; everything else stays without a unit.
"""

from __future__ import annotations

import re
from itertools import product

from .numbers_sv import parse_number

SCALE = {"kr": 1.0, "tkr": 1e3, "mnkr": 1e6}
AMOUNT_RE = re.compile(r"(\d{1,3}(?:[ \u00a0]\d{3})*,\d+)\s*(mnkr|mkr|mnr|miljoner kronor|tkr|tusen kronor)\b", re.I)
UNIT_WORD = {"mnkr": "mnkr", "mkr": "mnkr", "mnr": "mnkr", "miljoner kronor": "mnkr", "tkr": "tkr", "tusen kronor": "tkr"}
WINDOW_BLOCKS = 8        # blocks either side of the table that count as "surrounding text"
MIN_TABLE_VALUE = 1000   # table numbers below this are not compared (too easy to match by chance)


def stated_amounts(doc, block_index: int) -> list[tuple[float, float, str, int]]:
    """(amount in kr, tolerance in kr, quoted text, line) for amounts with decimals near the table."""
    out = []
    lo, hi = max(0, block_index - WINDOW_BLOCKS), min(len(doc.blocks), block_index + WINDOW_BLOCKS + 1)
    for block in doc.blocks[lo:hi]:
        if block.kind != "prose":
            continue
        text = block.text
        for m in AMOUNT_RE.finditer(text):
            number = parse_number(m.group(1))
            if number.value is None:
                continue
            scale = SCALE[UNIT_WORD[m.group(2).lower()]]
            decimals = len(m.group(1).split(",")[1])
            line = doc.text.count("\n", 0, block.start + m.start()) + 1
            quote = " ".join(text[max(0, m.start() - 40): m.end()].split())
            out.append((number.value * scale, 0.5 * 10 ** -decimals * scale, quote, line))
    return out


def _totals(table) -> list[float]:
    """The printed total-row values of a table (or its values, when it has no total row)."""
    totals = [c.value for c in table.cells if c.value is not None and c.is_total]
    return totals or [c.value for c in table.cells if c.value is not None]


def infer_unit(table, neighbours: list, doc, block_index: int) -> tuple[str, str] | None:
    """``(unit, evidence)`` for a table without a printed unit, or None."""
    totals = [v for v in _totals(table) if abs(v) >= MIN_TABLE_VALUE]
    if not totals:
        return None
    amounts = stated_amounts(doc, block_index)
    if not amounts:
        return None
    for unit in ("tkr", "mnkr", "kr"):
        scale = SCALE[unit]
        for (amount, tol, quote, line), v in product(amounts, totals):
            if abs(v * scale - amount) < tol:
                return unit, (f"texten (rad {line}): '…{quote}' = {_fmt(v)} {unit} i tabellen")
        for other in neighbours:
            parts = [c for c in other.cells if c.is_total and c.value is not None and c.unit in SCALE
                     and c.unit_source == "printed"]
            for (amount, tol, quote, line), v, c in product(amounts, totals, parts):
                if abs(v * scale + c.value * SCALE[c.unit] - amount) < tol:
                    return unit, (f"texten (rad {line}): '…{quote}' = {_fmt(v)} {unit} (summan i denna tabell) + "
                                  f"{_fmt(c.value)} {c.unit} (summan i tabellen '{other.title}', {c.unit_evidence})")
    return None


def _fmt(v: float) -> str:
    text = f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    return text.replace(",", " ").replace(".", ",")
