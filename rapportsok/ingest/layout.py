"""From words with positions to report text: reading order, furniture, headings, paragraphs, tables.

The output is the same plain-text dialect the text corpus uses, so one structure parser, one
chunker and one table parser serve both inputs: headings become ``#`` lines (level from font size,
larger = higher), bold body-size lines ``**…**``, paragraphs are separated by a blank line, a line
that did not fill the measure keeps its line break (lists, addresses, signatures), and a table
found from the ruling becomes tab-separated rows (``<b>…</b>`` around a bold row).

Page furniture is found without a list of phrases: a line among the top or bottom lines of a page
whose text – digits replaced by ``#`` – recurs at the same height on many pages (running headers
and footers, "Sida 5 av 12", "5 (16)", the municipality's name, dates) is dropped, and so is a
lone page number equal to the page's own number.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

SENTENCE_END = tuple(".!?:;…”\")")
KEEP_HYPHEN_BEFORE = {"och", "eller", "samt", "som", "till", "utan", "resp", "respektive"}
BOLD_FONT_RE = re.compile(r"bold|black|heavy|semibold|demi", re.I)


@dataclass
class TextLine:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float | None          # font size in pt; None for OCR'd lines
    bold: bool = False
    col: int = 0                 # 0 spans the page, 1 left column, 2 right column


@dataclass
class TableBlock:
    top: float
    bottom: float
    rows: list[tuple[list[str], bool]]   # cells, bold row


@dataclass
class PageLayout:
    number: int
    width: float
    height: float
    items: list = field(default_factory=list)   # TextLine | TableBlock, in reading order
    ocr: bool = False
    ocr_confidence: float | None = None


def is_bold(fontname: str | None) -> bool:
    return bool(BOLD_FONT_RE.search(fontname or ""))


def lines_from_words(words: list[dict], width: float) -> list[TextLine]:
    """Words (pdfplumber dicts with size/fontname, or OCR words) → line segments in reading order.

    A row of words is cut where the gap is wider than a few spaces; if many rows are cut at the
    same place in the middle of the page, that is a column gutter, and the lines on either side
    are read column by column within each band of consecutive column rows.
    """
    rows: list[list[dict]] = []
    if words and "line" in words[0]:      # OCR: Tesseract already found the lines, in reading order
        by_line: dict = {}
        for w in words:
            by_line.setdefault(w["line"], []).append(w)
        rows = list(by_line.values())
    else:
        for w in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
            h = w["bottom"] - w["top"]
            if rows and abs(rows[-1][0]["top"] - w["top"]) <= max(2.0, 0.4 * h):
                rows[-1].append(w)
            else:
                rows.append([w])
    segments: list[list[TextLine]] = []
    for row in rows:
        row.sort(key=lambda w: w["x0"])
        segs: list[list[dict]] = [[row[0]]]
        for w in row[1:]:
            prev = segs[-1][-1]
            size = prev.get("size") or (prev["bottom"] - prev["top"])
            if w["x0"] - prev["x1"] > max(1.2 * size, 9):
                segs.append([w])
            else:
                segs[-1].append(w)
        segments.append([_line(s) for s in segs])
    if words and "line" in words[0]:
        return [s for segs in segments for s in segs]
    gutter = _gutter(segments, width)
    out: list[TextLine] = []
    band: list[TextLine] = []

    def flush():
        out.extend(sorted(band, key=lambda l: (l.col, l.top)))
        band.clear()

    for i, segs in enumerate(segments):
        if gutter is not None:
            for s in segs:
                s.col = 1 if s.x1 < gutter - 4 else 2 if s.x0 >= gutter - 4 else 0
        if _isolated(segments, i):        # a header or footer row: its parts stay apart
            flush()
            for s in segs:
                s.col = 0
            out.extend(segs)
        elif gutter is None or any(s.col == 0 for s in segs):
            flush()
            line = segs[0]
            for s in segs[1:]:
                line = TextLine(f"{line.text} {s.text}", line.x0, s.x1, min(line.top, s.top), max(line.bottom, s.bottom),
                                line.size, line.bold and s.bold)
            out.append(line)
        else:
            band.extend(segs)
    flush()
    return out


def _line(words: list[dict]) -> TextLine:
    sizes = Counter(round(w["size"], 1) for w in words if w.get("size"))
    return TextLine(" ".join(w["text"] for w in words).replace("\t", " "), words[0]["x0"], words[-1]["x1"],
                    min(w["top"] for w in words), max(w["bottom"] for w in words),
                    sizes.most_common(1)[0][0] if sizes else None, all(is_bold(w.get("fontname")) for w in words))


def _isolated(segments: list[list[TextLine]], i: int) -> bool:
    """A row set apart above and below (a running header or footer with a left and a right part)."""
    top, bottom = min(s.top for s in segments[i]), max(s.bottom for s in segments[i])
    h = bottom - top
    above = i == 0 or top - max(s.bottom for s in segments[i - 1]) > h
    below = i + 1 == len(segments) or min(s.top for s in segments[i + 1]) - bottom > h
    return above and below


def _gutter(segments: list[list[TextLine]], width: float) -> float | None:
    """Where a right-hand column starts: at least six rows cut in two with the right part starting at the same x."""
    starts = sorted(s[1].x0 for s in segments if len(s) == 2 and 0.3 * width < s[1].x0 < 0.7 * width)
    if len(starts) < 6:
        return None
    median = starts[len(starts) // 2]
    return median if sum(1 for x in starts if abs(x - median) <= 6) >= 6 else None


def furniture_key(line: TextLine, height: float) -> tuple:
    text = re.sub(r"\d+", "#", line.text.lower())
    return line.top < height / 2, re.sub(r"\s+", " ", text).strip()


PAGE_NUMBER_RE = re.compile(r"^(sida\s+|s\.\s*|page\s+)?(\d{1,4})(\s*\(\d{1,4}\)|\s*(av|/|of)\s*\d{1,4})?$", re.I)


NUMBER_ONLY_RE = re.compile(r"^[\d\s/()|.–-]{1,9}$")  # "5", "5/16", "- 5 -": a page number, however misread


def edge_lines(page: PageLayout, n: int = 2) -> list[TextLine]:
    """The lines in the top ``n`` and bottom ``n`` rows of a page (where headers and footers are)."""
    lines = [it for it in page.items if isinstance(it, TextLine)]
    tops = sorted({round(l.top) for l in lines})
    edge = set(tops[:n]) | set(tops[-n:])
    return [l for l in lines if round(l.top) in edge]


def find_furniture(pages: list[PageLayout]) -> set[int]:
    """ids of the lines that are page furniture: repeated at the same height, or the page's own number."""
    counts: Counter = Counter()
    per_page = [edge_lines(p) for p in pages]
    for page, lines in zip(pages, per_page):
        counts.update({furniture_key(l, page.height) for l in lines})
    need = max(2, int(0.4 * len(pages) + 0.5))
    out: set[int] = set()
    for page, lines in zip(pages, per_page):
        for l in lines:
            m = PAGE_NUMBER_RE.match(l.text.strip())
            if counts[furniture_key(l, page.height)] >= need or (m and int(m.group(2)) == page.number) \
                    or NUMBER_ONLY_RE.match(l.text.strip()):
                out.add(id(l))
    return out


def heading_levels(pages: list[PageLayout]) -> tuple[float, dict[float, int]]:
    """The body font size (most text) and a level per larger size (largest = 1)."""
    sizes: Counter = Counter()
    for p in pages:
        for it in p.items:
            if isinstance(it, TextLine) and it.size:
                sizes[it.size] += len(it.text)
    if not sizes:
        return 0.0, {}
    body = sizes.most_common(1)[0][0]
    bigger = sorted({round(s * 2) / 2 for s in sizes if s >= body * 1.08}, reverse=True)
    return body, {s: min(i + 1, 6) for i, s in enumerate(bigger)}


def _ends_paragraph(text: str) -> bool:
    return text.rstrip().endswith(SENTENCE_END)


class TextWriter:
    """Append text while recording where each page starts (offsets into the final string)."""

    def __init__(self):
        self.parts: list[str] = []
        self.pos = 0
        self.page_start: dict[int, int] = {}

    def write(self, s: str, page: int | None = None) -> None:
        if page is not None and page not in self.page_start:
            self.page_start[page] = self.pos
        self.parts.append(s)
        self.pos += len(s)

    def text(self) -> str:
        return "".join(self.parts)


def assemble(pages: list[PageLayout]) -> tuple[str, dict[int, int]]:
    """Report text in the corpus dialect and the offset where each page's text begins."""
    furniture = find_furniture(pages)
    body, levels = heading_levels(pages)
    out = TextWriter()
    para: list[tuple[TextLine, int]] = []   # lines of the open paragraph with their page
    para_kind = ""                          # "heading:N", "body"
    right_edge: dict[tuple[int, int], float] = {}
    for p in pages:
        for it in p.items:
            if isinstance(it, TextLine):
                key = (p.number, it.col)
                right_edge[key] = max(right_edge.get(key, 0.0), it.x1)

    def kind_of(line: TextLine) -> str:
        if line.size and body and line.size >= body * 1.08:
            level = levels.get(round(line.size * 2) / 2, 6)
            return f"heading:{level}"
        return "body"

    def flush():
        nonlocal para
        if not para:
            return
        if out.pos:
            out.write("\n\n")
        if para_kind.startswith("heading"):
            level = int(para_kind.split(":")[1])
            out.write("#" * level + " ", para[0][1])
            for i, (line, page) in enumerate(para):
                out.write((" " if i else "") + line.text.strip(), page)
        else:
            bold = all(l.bold for l, _ in para) and len(" ".join(l.text for l, _ in para).split()) <= 15
            if bold:
                out.write("**", para[0][1])
            for i, (line, page) in enumerate(para):
                text = line.text.strip()
                if i + 1 < len(para):
                    nxt = para[i + 1][0].text.strip()
                    joiner = _joiner(line, nxt, right_edge.get((page, line.col), line.x1))
                    if joiner == "":
                        text = text[:-1]      # "familje-" + "hem"
                    out.write(text, page)
                    out.write(joiner)
                else:
                    out.write(text, page)
            if bold:
                out.write("**")
        para = []

    prev: TextLine | None = None
    prev_page = 0
    for p in pages:
        for it in p.items:
            if isinstance(it, TableBlock):
                flush()
                if out.pos:
                    out.write("\n\n")
                for i, (cells, bold) in enumerate(it.rows):
                    row = "\t".join(c.replace("\t", " ") for c in cells)
                    out.write(("\n" if i else "") + (f"<b>{row}</b>" if bold else row), p.number)
                prev = None
                para_kind = "table"
                continue
            if id(it) in furniture or not it.text.strip():
                continue
            kind = kind_of(it)
            if para and kind == para_kind and prev is not None and _continues(prev, it, prev_page, p.number, kind, body):
                para.append((it, p.number))
            else:
                flush()
                para_kind = kind
                para.append((it, p.number))
            prev, prev_page = it, p.number
    flush()
    return out.text(), out.page_start


def _continues(prev: TextLine, line: TextLine, prev_page: int, page: int, kind: str, body: float) -> bool:
    """Whether ``line`` continues the paragraph that ``prev`` ended."""
    if kind.startswith("heading"):
        return page == prev_page and line.top - prev.bottom < (prev.size or body) * 0.8
    size = prev.size or (prev.bottom - prev.top) or body
    same_flow = page == prev_page and prev.col == line.col and 0 <= line.top - prev.bottom < 0.55 * size
    if same_flow:
        return True
    # a column or page break: the paragraph continues if it stopped mid-sentence
    first = line.text.strip()[:1]
    return (prev.text.rstrip().endswith("-") or not _ends_paragraph(prev.text)) and first.islower()


def _joiner(line: TextLine, next_text: str, right_edge: float) -> str:
    """What joins a line to the next one in the same paragraph: '' (hyphen removed), ' ' or a newline."""
    text = line.text.rstrip()
    next_word = next_text.split()[0] if next_text.split() else ""
    char_w = (line.x1 - line.x0) / max(1, len(text))
    full = line.x1 + (len(next_word) + 1) * char_w >= right_edge - 2 * char_w  # the next word would not have fit
    if re.search(r"[a-zåäöéü]{2}-$", text) and next_word[:1].islower():
        if next_word.strip(",.;:").lower() in KEEP_HYPHEN_BEFORE:
            return " "                # "hälso- och sjukvård"
        return ""                     # "familje-" + "hem" → "familjehem"
    if not full or next_text.startswith(("- ", "• ", "– ", "* ")):
        return "\n"
    return " "
