"""Tables in the reports as data: header paths, row labels, typed values, units, periods.

Input is a ``table`` block from :mod:`rapportsok.structure`: tab-separated lines, sometimes
with ``<b>`` on total rows, HTML fragments in cells, a two-level header, a header repeated
after a page break, and cells broken over lines with hyphenation ("Bi- dragstyp").

Output per table: the printed grid (cleaned), the column labels as header paths
("Ack utfall 2023 / Utfall netto"), and one :class:`Cell` per data cell with the raw text,
the parsed value (``None`` unless unambiguous), unit, period and whether it is a total.
A table the parser is unsure about is flagged with the reason; a sum check compares total
rows and columns with their parts.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from dataclasses import dataclass, field

from .numbers_sv import looks_numeric, parse_number
from .structure import Block
from .table_units import WINDOW_BLOCKS, infer_unit

TAG_RE = re.compile(r"</?(b|strong|i|em|p|span|br|div|u)\b[^>]*>", re.I)
BOLD_RE = re.compile(r"<(b|strong)>", re.I)
ITALIC_RE = re.compile(r"<(i|em)>", re.I)
YEAR_RE = re.compile(r"^(19|20)\d\d$")
TOTAL_LABEL_RE = re.compile(r"^(summa|totalt|total|s:a|netto|årets resultat)\b", re.I)
TOTAL_COLUMN_RE = re.compile(r"^(summa|totalt|total)\b", re.I)  # "S:a kvarstående" is a balance, not a sum
UNIT_PATTERNS = [
    (r"\bmiljoner kronor\b|\bmnkr\b|\bmkr\b|\bmnr\b|\bmdkr\b", "mnkr"),
    (r"\btkr\b|\btusen kronor\b", "tkr"),
    (r"\bprocent\b|%", "%"),
    (r"\bantal dagar\b|\bdagar\b", "dagar"),
    (r"\bdygn\b", "dygn"),
    (r"\btimmar\b", "timmar"),
    (r"\bkronor\b|\bkr\b", "kr"),
    (r"\bantal\b", "antal"),
]
MONTH = r"(jan|feb|mar|apr|maj|jun|jul|aug|sep|okt|nov|dec)[a-zåä]*"
PERIOD_PATTERNS = [
    re.compile(rf"\b{MONTH}\s*[-–]\s*{MONTH}\s+(19|20)\d\d\b", re.I),
    re.compile(rf"\bVR\s+{MONTH}\s+(19|20)\d\d\b", re.I),
    re.compile(r"\bT[123]\s+(19|20)\d\d\b"),
    re.compile(r"\b(19|20)\d\d\s*[-–]\s*(19|20)\d\d\b"),
    re.compile(r"\b(19|20)\d\d\b"),
]
HYPHEN_JOIN_RE = re.compile(r"(\w)- (?!(och|o|eller|samt|som|till|utan|resp)\b)([a-zåäö])")


def clean_cell(raw: str) -> str:
    text = TAG_RE.sub(" ", raw)
    text = text.replace("&amp;", "&").replace("&nbsp;", " ")
    text = re.sub(r"\s+", " ", text).strip()
    return HYPHEN_JOIN_RE.sub(r"\1\3", text)


def unit_in(text: str) -> str | None:
    low = (text or "").lower()
    for pattern, unit in UNIT_PATTERNS:
        if re.search(pattern, low):
            return unit
    return None


def period_in(text: str) -> str | None:
    for pat in PERIOD_PATTERNS:
        m = pat.search(text or "")
        if m:
            return re.sub(r"\s+", " ", m.group(0)).replace("–", "-")
    return None


@dataclass
class Row:
    cells: list[str]
    raw: list[str]
    bold: bool
    italic: bool
    start: int
    end: int
    group_total: bool = False


@dataclass
class Cell:
    row_index: int
    column_index: int
    row_label: str
    column_label: str
    raw: str
    value: float | None
    unit: str | None
    period: str | None
    is_total: bool
    row_start: int
    row_end: int
    unit_source: str | None = None     # "printed" (cell, row, column or table states it), "inferred", None
    unit_evidence: str | None = None   # where the unit is printed, or why it was inferred
    empty_mark: str | None = None      # for an empty cell: what was printed ("–", "-" or "" for blank)


EMPTY_MARKS = {"", "-", "–", "—"}


@dataclass
class Table:
    ordinal: int
    start: int
    end: int
    title: str
    caption: str
    section: int | None
    columns: list[str]
    header_rows: list[list[str]]
    rows: list[Row]
    row_labels: list[str]
    cells: list[Cell]
    unit: str | None
    unit_source: str | None = None
    unit_evidence: str | None = None
    footnotes: list[str] = field(default_factory=list)
    uncertain: bool = False
    notes: list[str] = field(default_factory=list)
    sum_check: str = "ej tillämplig"
    sum_check_detail: list[dict] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_cols(self) -> int:
        return len(self.columns) + 1

    def search_text(self) -> str:
        """Title, header and row labels: what makes a table findable by words."""
        return " ".join([self.title, self.caption, *self.columns, *self.row_labels])

    @functools.cached_property
    def _row_starts(self) -> list[int]:
        return [r.start for r in self.rows]

    def search_text_between(self, start: int, end: int) -> str:
        """Title, header and the labels of the rows inside ``[start, end)``: the words of one
        table passage (a large table is cut into many; each indexes only its own rows)."""
        starts = self._row_starts
        lo = max(0, bisect.bisect_right(starts, start) - 1)  # rows are in text order
        hi = bisect.bisect_left(starts, end)
        labels = [label for r, label in zip(self.rows[lo:hi], self.row_labels[lo:hi]) if r.start < end and r.end > start]
        return " ".join([self.title, self.caption, *self.columns, *labels])

    def wide(self) -> dict:
        return {"columns": [self.caption or ""] + self.columns,
                "rows": [r.cells + [""] * (len(self.columns) + 1 - len(r.cells)) for r in self.rows],
                "bold": [r.bold for r in self.rows], "footnotes": self.footnotes}


def _rows(block: Block) -> list[Row]:
    rows = []
    for line in block.lines:
        if not line.text.strip():
            continue
        raw = line.text.split("\t")
        rows.append(Row(cells=[clean_cell(c) for c in raw], raw=raw, bold=bool(BOLD_RE.search(line.text)),
                        italic=bool(ITALIC_RE.search(line.text)), start=line.start, end=line.end))
    width = max(len(r.cells) for r in rows)
    for r in rows:
        r.cells += [""] * (width - len(r.cells))
        r.raw += [""] * (width - len(r.raw))
    # drop trailing columns that are empty everywhere
    while width > 1 and all(not r.cells[width - 1] for r in rows):
        width -= 1
        for r in rows:
            r.cells.pop(); r.raw.pop()
    return rows


def _is_data_number(cell: str) -> bool:
    return bool(cell) and looks_numeric(cell) and not YEAR_RE.match(cell.strip())


def _is_header_row(row: Row) -> bool:
    return not any(_is_data_number(c) for c in row.cells[1:])


def _same_type(a: str, b: str) -> bool:
    return bool(YEAR_RE.match(a.strip())) == bool(YEAR_RE.match(b.strip()))


def _column_labels(header: list[list[str]], width: int) -> list[str]:
    """Header paths for columns 1..width-1, forward-filling group labels to the right."""
    if not header:
        return [f"Kolumn {j}" for j in range(1, width)]
    filled: list[list[str]] = []
    for level, row in enumerate(header):
        out = list(row)
        if level < len(header) - 1:
            below = header[-1]
            current, first_sub = "", ""
            for j in range(1, width):
                if row[j]:
                    current, first_sub = row[j], below[j]
                elif current and below[j] and first_sub and not _same_type(first_sub, below[j]):
                    current = ""
                elif current and not below[j]:
                    current = ""
                out[j] = row[j] or current
        filled.append(out)
    labels = []
    for j in range(1, width):
        parts = [r[j] for r in filled if r[j]]
        labels.append(" / ".join(dict.fromkeys(parts)) or f"Kolumn {j}")
    return labels


def _merge_continuations(rows: list[Row], header_len: int, notes: list[str]) -> list[Row]:
    """Rows that only continue the text of the row above (a cell broken over a page) are joined."""
    out: list[Row] = []
    for i, r in enumerate(rows):
        if i >= header_len and out and len(out) > header_len and not r.cells[0] and not any(_is_data_number(c) for c in r.cells) \
                and any(r.cells) and not r.bold:
            prev = out[-1]
            for j, c in enumerate(r.cells):
                if c:
                    prev.cells[j] = clean_cell(f"{prev.cells[j]} {c}".strip())
            prev.end = r.end
            notes.append(f"rad {len(out)}: text fortsätter på nästa rad; sammanslagen")
            continue
        out.append(r)
    return out


def tables_of(doc) -> list[Table]:
    """Every table block of a parsed document, parsed, in order."""
    out = []
    at: list[int] = []
    for i, (block, section) in enumerate(zip(doc.blocks, doc.block_section)):
        if block.kind != "table":
            continue
        heading = doc.sections[section].heading if section is not None else ""
        nxt = doc.blocks[i + 1].text if i + 1 < len(doc.blocks) else ""
        out.append(parse_table(block, len(out), section, heading, nxt))
        at.append(i)
    for k, (table, i) in enumerate(zip(out, at)):
        if table.unit is None and any(c.value is not None and c.unit is None for c in table.cells):
            neighbours = [out[n] for n in (k - 1, k + 1) if 0 <= n < len(out) and abs(at[n] - i) <= WINDOW_BLOCKS]
            found = infer_unit(table, neighbours, doc, i)
            if found:
                apply_inferred_unit(table, *found)
    return out


def apply_inferred_unit(table: Table, unit: str, evidence: str) -> None:
    table.unit, table.unit_source, table.unit_evidence = unit, "inferred", evidence
    table.notes.append(f"enheten {unit} är härledd ur texten: {evidence}")
    for c in table.cells:
        if c.value is not None and c.unit is None:
            c.unit, c.unit_source, c.unit_evidence = unit, "inferred", evidence


def parse_table(block: Block, ordinal: int, section: int | None, heading: str, next_text: str = "") -> Table:
    notes: list[str] = []
    rows = _rows(block)
    width = len(rows[0].cells)
    header_len = 0
    while header_len < len(rows) and _is_header_row(rows[header_len]) and (
        header_len == 0 or any(c for c in rows[header_len].cells[1:])
    ):
        header_len += 1
        if header_len >= 3:
            break
    if header_len == len(rows) and len(rows) > 1:
        header_len = 1  # an all-text table: the first row is the header
    header = [r.cells for r in rows[:header_len]]
    body = rows[header_len:]
    # a header repeated after a page break
    kept = []
    for r in body:
        if any(r.cells == h for h in header):
            notes.append("rubrikrad upprepad efter sidbrytning; borttagen")
            continue
        kept.append(r)
    body = _merge_continuations(header and rows[:header_len] + kept or kept, header_len, notes)[header_len:]
    columns = unique_columns(_column_labels(header, width))
    caption = next((h[0] for h in reversed(header) if h[0]), "") if header else ""
    # leading text-only columns (Bidragstyp | Bidrag | Utbetalas från) identify the row together
    id_cols = 1
    while id_cols < min(width - 1, 3) and body and all(not _is_data_number(r.cells[id_cols]) for r in body) \
            and any(r.cells[id_cols] for r in body) and len(" ".join(r.cells[id_cols] for r in body)) / max(1, len(body)) < 40:
        id_cols += 1
    if not any(_is_data_number(c) for r in body for c in r.cells[id_cols:]):
        id_cols = 1
    title = caption if len(caption.split()) >= 2 and not re.fullmatch(r"[\w ]*,? ?(tkr|mnkr|mkr|mnr)", caption, re.I) else (heading or caption)
    if not title:
        title = heading or "Tabell"
    stub_note = next_text if re.match(r"^(Enhet|Belopp i)\s*:", next_text or "", re.I) else ""
    table_unit, table_unit_evidence = None, None
    stub_headers = [h[j] for h in header for j in range(id_cols) if h[j]]
    for where, text in [("tabellhuvudet", caption), *(("tabellhuvudet", h) for h in stub_headers),
                        ("raden under tabellen", stub_note), ("rubriken", heading)]:
        if unit_in(text):
            table_unit, table_unit_evidence = unit_in(text), f"{where}: '{text}'"
            break
    # row labels with parents (group rows, bold subtotals, 'varav' rows)
    has_bold_groups = any(r.bold and not TOTAL_LABEL_RE.match(r.cells[0]) for r in body) and any(not r.bold for r in body)
    caps_groups = not has_bold_groups and sum(1 for r in body if _mostly_caps(r.cells[0])) >= 2
    labels: list[str] = []
    footnote_rows: set[int] = set()
    group = ""
    parent = ""
    for r in body:
        if id_cols > 1 and any(r.cells[1:id_cols]):
            r.cells = [" / ".join(c for c in r.cells[:id_cols] if c)] + r.cells[1:]
    last_header = header[-1][1:] if header else []
    for idx, r in enumerate(body):
        label = r.cells[0]
        if last_header and any(last_header) and r.cells[1:] == last_header:
            # a sub-table header inside the table ("Varav SiS | jan-jun 2019 | …")
            r.cells = [label] + [""] * (width - 1)
            r.raw = [r.raw[0]] + [""] * (width - 1)
        values = any(c for c in r.cells[1:])
        if not values and label.startswith("*"):
            notes.append(f"fotnot: {label}")
            labels.append(label)
            footnote_rows.add(idx)
            continue
        if not values and label:
            if idx == 0:
                caption = f"{caption} / {label}".strip(" /") if caption else label
            else:
                group = label
            labels.append(label)
            continue
        if TOTAL_LABEL_RE.match(label):
            labels.append(label)
            parent = ""
            continue
        is_group_total = (has_bold_groups and r.bold) or (caps_groups and _mostly_caps(label))
        if is_group_total:
            r.group_total = True
            parent = label
            labels.append(f"{group} / {label}" if group and group != label else label)
            continue
        if label.lower().startswith("varav") and labels:
            base = next((l for l in reversed(labels) if not l.split(" / ")[-1].lower().startswith("varav")), "")
            labels.append(f"{base} / {label}" if base else label)
            continue
        prefix = " / ".join(p for p in (group, parent) if p)
        labels.append(f"{prefix} / {label}" if prefix else label)
    footnotes = [body[i].cells[0] for i in sorted(footnote_rows)]
    body = [r for i, r in enumerate(body) if i not in footnote_rows]
    labels = [l for i, l in enumerate(labels) if i not in footnote_rows]
    labels = unique_labels(body, labels, id_cols, width, columns)
    cells: list[Cell] = []
    numeric_failed = 0
    for i, (r, label) in enumerate(zip(body, labels)):
        is_total = r.bold or bool(TOTAL_LABEL_RE.match(r.cells[0]))
        row_unit = _row_unit(r.cells[0])
        for j in range(id_cols, width):
            raw = r.cells[j]
            col = columns[j - 1]
            if raw in EMPTY_MARKS:
                # printed empty ("–", "-" or blank): kept, so "not reported" differs from "no such cell"
                cells.append(Cell(row_index=i, column_index=j, row_label=label, column_label=col, raw=None, value=None,
                                  unit=None, period=period_in(col), is_total=is_total, row_start=r.start, row_end=r.end,
                                  empty_mark=raw))
                continue
            parsed = parse_number(raw)
            if parsed.value is None and looks_numeric(raw):
                numeric_failed += 1
                notes.append(f"rad {i + 1}, kolumn {j}: '{raw}' ser ut som ett tal men är tvetydigt; värdet lämnas tomt")
            if parsed.value is not None:
                unit, evidence = next(((u, e) for u, e in (
                    (parsed.unit, f"cellen: '{raw}'"), (row_unit, f"radrubriken: '{r.cells[0]}'"),
                    (unit_in(col), f"kolumnrubriken: '{col}'"), (table_unit, table_unit_evidence)) if u), (None, None))
            else:
                unit, evidence = unit_in(col), f"kolumnrubriken: '{col}'"
            cells.append(Cell(row_index=i, column_index=j, row_label=label, column_label=col, raw=raw,
                              value=parsed.value, unit=unit, period=period_in(col), is_total=is_total,
                              row_start=r.start, row_end=r.end, unit_source="printed" if unit else None,
                              unit_evidence=evidence if unit else None))
    uncertain = numeric_failed > 0
    ragged = [i for i, r in enumerate(block.lines) if r.text.strip() and len(r.text.split("\t")) > width + 1]
    if ragged:
        uncertain = True
        notes.append("rader med fler celler än rubriken")
    if not body:
        notes.append("tabellen har inga datarader")
    if not header:
        uncertain = True
        notes.append("ingen rubrikrad hittades")
    table = Table(ordinal=ordinal, start=block.start, end=block.end, title=title, caption=caption, section=section,
                  columns=columns, header_rows=header, rows=body, row_labels=labels, cells=cells, unit=table_unit,
                  unit_source="printed" if table_unit else None, unit_evidence=table_unit_evidence, footnotes=footnotes,
                  uncertain=uncertain, notes=notes)
    check_sums(table)
    return table


def unique_labels(rows: list[Row], labels: list[str], id_cols: int, width: int, columns: list[str]) -> list[str]:
    """Row labels that identify a row: where the printed label columns repeat, add the first
    words of the table's text column ("Kommentar"), or else the row number, shown as such."""
    from collections import Counter

    counts = Counter(labels)
    if all(n == 1 for n in counts.values()):
        return labels
    text_cols = [j for j in range(id_cols, width) if any(r.cells[j] for r in rows)
                 and not any(_is_data_number(r.cells[j]) for r in rows)]
    out = list(labels)
    for label, n in counts.items():
        if n == 1:
            continue
        idx = [i for i, l in enumerate(labels) if l == label]
        done = False
        for j in text_cols:
            sentences = [re.split(r"(?<=[.!?])\s", rows[i].cells[j])[0].rstrip(".") for i in idx]
            for k in range(3, 13):
                words = [" ".join(t.split()[:k]) for t in sentences]
                if all(words) and len(set(words)) == len(words):
                    name = columns[j - 1].split(" / ")[-1] if not columns[j - 1].startswith("Kolumn ") else ""
                    for i, w in zip(idx, words):
                        out[i] = f"{label} ({name}: {w})" if name else f"{label} ({w})"
                    done = True
                    break
            if done:
                break
        if not done:
            for i in idx:
                out[i] = f"{label} (rad {i + 1})"
    again = Counter(out)
    return [f"{l} (rad {i + 1})" if again[l] > 1 else l for i, l in enumerate(out)]


def unique_columns(columns: list[str]) -> list[str]:
    """Column labels that identify a column: a repeated header path gets its column number."""
    from collections import Counter

    counts = Counter(columns)
    return [f"{c} (kolumn {j})" if counts[c] > 1 else c for j, c in enumerate(columns, 1)]


def _mostly_caps(label: str) -> bool:
    letters = [ch for ch in label if ch.isalpha()]
    return len(letters) > 3 and sum(ch.isupper() for ch in letters) >= 0.7 * len(letters)


DAYS_RE = re.compile(r"\b(dygn|dagar)\b", re.I)
NOT_A_COUNT_RE = re.compile(r"\b(kr|kronor|tkr|mnkr|kostnad\w*|pris|procent|andel)\b|%", re.I)


def days_unit(label: str) -> str | None:
    """One rule for counts of days: a label that says "dygn" or "dagar" (as a word, not a cost
    or a share such as "kr per dygn") counts days, whatever else it says ("Antal verkställda dygn")."""
    m = DAYS_RE.search(label or "")
    if m and not NOT_A_COUNT_RE.search(label):
        return m.group(1).lower()
    return None


def _row_unit(label: str) -> str | None:
    low = label.lower()
    if days_unit(label):
        return days_unit(label)
    m = re.search(r",\s*(procent|antal dagar|antal|tkr|mnkr|kronor)\s*$", low)
    if m:
        return unit_in(m.group(1))
    if low.startswith("antal dygn"):
        return "dygn"
    if low.startswith("antal"):
        return "antal"
    return None


def _decimals(raw: str) -> int:
    m = re.search(r"[.,](\d+)", raw)
    return len(m.group(1)) if m else 0


def check_sums(table: Table) -> None:
    """Compare total rows and total columns with their parts, within rounding."""
    grid: dict[tuple[int, int], Cell] = {(c.row_index, c.column_index): c for c in table.cells}
    rows = table.rows
    total_rows = [i for i, r in enumerate(rows) if TOTAL_LABEL_RE.match(r.cells[0])]
    total_cols = [j for j, label in enumerate(table.columns, 1) if TOTAL_COLUMN_RE.match(label.split(" / ")[-1])]
    results: list[dict] = []
    subtotal = [r.group_total for r in rows]
    for t in total_rows:
        for j in range(1, table.n_cols):
            cell = grid.get((t, j))
            if cell is None or cell.value is None or cell.unit == "%":
                continue
            above = [i for i in range(t) if (i, j) in grid and grid[(i, j)].value is not None and i not in total_rows]
            if not above:
                continue
            leaf = [i for i in above if not subtotal[i]]
            sub = [i for i in above if subtotal[i]]
            decimals = min(_decimals(grid[(i, j)].raw) for i in above + [t])
            ok, best = _any_suffix_matches(cell.value, [[grid[(i, j)].value for i in leaf], [grid[(i, j)].value for i in sub]], decimals)
            results.append({"row": t + 1, "column": table.columns[j - 1], "label": rows[t].cells[0], "printed": cell.value,
                            "sum": best, "ok": ok, "difference": None if ok or best is None else round(cell.value - best, 6)})
    for j in total_cols:
        for i, r in enumerate(rows):
            cell = grid.get((i, j))
            if cell is None or cell.value is None or cell.unit == "%":
                continue
            parts = [grid[(i, k)].value for k in range(1, j) if (i, k) in grid and grid[(i, k)].value is not None
                     and k not in total_cols]
            if not parts:
                continue
            decimals = min(_decimals(grid[(i, k)].raw) for k in range(1, j + 1) if (i, k) in grid and grid[(i, k)].value is not None)
            ok, best = _any_suffix_matches(cell.value, [parts], decimals)
            results.append({"row": i + 1, "column": table.columns[j - 1], "label": r.cells[0], "printed": cell.value,
                            "sum": best, "ok": ok, "difference": None if ok or best is None else round(cell.value - best, 6)})
    if not results:
        table.sum_check = "ej tillämplig"
    elif all(r["ok"] for r in results):
        table.sum_check = "ok"
    else:
        table.sum_check = "avvikelse"
    table.sum_check_detail = results


def _any_suffix_matches(total: float, candidate_lists: list[list[float]], decimals: int) -> tuple[bool, float | None]:
    best = None
    for values in candidate_lists:
        if not values:
            continue
        tol = 0.5 * 10 ** (-decimals) * (len(values) + 1) + 1e-9
        acc = 0.0
        for k in range(len(values) - 1, -1, -1):
            acc += values[k]
            if abs(acc - total) <= tol:
                return True, round(acc, 6)
        if best is None or abs(sum(values) - total) < abs(best - total):
            best = round(sum(values), 6)
    return False, best


def to_json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)
