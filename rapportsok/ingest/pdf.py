"""Read a PDF report into the text every offset refers to, with the page of every character.

Stack (see README, "PDF reports"): pypdfium2 (PDFium, Apache-2.0/BSD) opens and validates the file,
reads its properties and renders scanned pages for OCR; pdfplumber (pdfminer.six, MIT) gives the
words with font name, size and position, and the ruling from which tables are cut. Pages are read
one at a time and released, so memory does not grow with the page count.

The canonical text of a PDF report is what :func:`read_pdf` returns (stored in ``reports.text``);
``pages`` maps every offset to its page.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CorpusError
from . import ocr
from .layout import PageLayout, TableBlock, TextLine, assemble, is_bold, lines_from_words

CID_RE = re.compile(r"\(cid:\d+\)")
PROGRESS_EVERY = 50


@dataclass
class PageInfo:
    number: int
    start: int
    end: int
    ocr: bool = False
    ocr_confidence: float | None = None


@dataclass
class PdfText:
    path: Path
    text: str
    sha256: str
    pages: list[PageInfo]
    properties: dict = field(default_factory=dict)   # title, author, created (YYYY-MM-DD)
    warnings: list[str] = field(default_factory=list)

    def page_of(self, offset: int) -> int | None:
        """The page (1-based) that the character at ``offset`` is on."""
        if not self.pages:
            return None
        starts = [p.start for p in self.pages]
        i = bisect.bisect_right(starts, offset) - 1
        return self.pages[max(i, 0)].number

    def span(self, start: int, end: int) -> tuple[int | None, int | None]:
        """First and last page of the text ``[start, end)``."""
        return self.page_of(start), self.page_of(max(start, end - 1))


def check_pdf(path: Path, data: bytes):
    """Open the PDF with PDFium or raise a :class:`CorpusError` that says what is wrong with it."""
    import pypdfium2 as pdfium

    head = data[:1024]
    if b"%PDF-" not in head:
        shown = "".join(ch if ch.isprintable() else "?" for ch in head[:20].decode("utf-8", "replace"))
        raise CorpusError(path, f"not a PDF (the file starts with '{shown}'); rename it or export it as PDF")
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if _page_count(data) == 0:   # PDFium refuses a document whose page tree is empty
            raise CorpusError(path, "the PDF has no pages") from None
        if "password" in msg.lower():
            raise CorpusError(path, "the PDF is password-protected (encrypted); save an unprotected copy") from None
        raise CorpusError(path, f"the PDF is damaged or truncated and cannot be opened ({msg})") from None
    if len(doc) == 0:
        doc.close()
        raise CorpusError(path, "the PDF has no pages")
    return doc


def _page_count(data: bytes) -> int | None:
    """Pages according to pdfminer (a second opinion when PDFium will not open a file), None if unreadable."""
    import io

    from pdfminer.pdfpage import PDFPage

    try:
        return sum(1 for _ in PDFPage.get_pages(io.BytesIO(data)))
    except Exception:
        return None


def properties(doc) -> dict:
    meta = doc.get_metadata_dict(skip_empty=True)
    out = {k.lower(): v.strip() for k, v in meta.items() if isinstance(v, str) and v.strip()}
    m = re.match(r"D:(\d{4})(\d{2})(\d{2})", out.get("creationdate", ""))
    if m:
        out["created"] = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    return out


def _page_words(page) -> list[dict]:
    return page.extract_words(extra_attrs=["size", "fontname"], keep_blank_chars=False, use_text_flow=False)


def _tables(page) -> list[TableBlock]:
    """Ruled tables on a page (only looked for where the page draws enough lines to hold one)."""
    if len(page.rects) + len(page.lines) < 2:
        return []
    out = []
    for t in page.find_tables():
        rows = t.extract()
        if not rows or max(len(r) for r in rows) < 2:
            continue
        chars = [c for c in page.chars if c["text"].strip()]
        bold_rows = []
        for r in t.rows:
            boxes = [c for c in r.cells if c]
            x0, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
            x1, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
            inside = [c for c in chars if x0 <= (c["x0"] + c["x1"]) / 2 <= x1 and top <= (c["top"] + c["bottom"]) / 2 <= bottom]
            bold_rows.append(bool(inside) and all(is_bold(c["fontname"]) for c in inside))
        cells = [[re.sub(r"\s*\n\s*", " ", c or "").strip() for c in r] for r in rows]
        out.append(TableBlock(t.bbox[1], t.bbox[3], list(zip(cells, bold_rows))))
    return out


def _garbage(words: list[dict]) -> str | None:
    """Why a text layer is unusable, or None: undecodable glyphs '(cid:123)' or no spaces between words."""
    text = " ".join(w["text"] for w in words)
    if not text.strip():
        return None
    cid = sum(len(m.group(0)) for m in CID_RE.finditer(text))
    if cid > 0.1 * len(text):
        return "the text layer has undecodable glyphs ((cid:N))"
    letters = sum(len(w["text"]) for w in words)
    if len(text) > 200 and letters / max(1, len(words)) > 25:
        return "the text layer has no spaces between words"
    return None


def _drop_cid(words: list[dict], path: Path, page: int, warnings: list[str]) -> list[dict]:
    """A usable page with a few undecodable glyphs: the '(cid:N)' placeholders are left out (never text in a
    passage), with a warning naming the page."""
    n = sum(len(CID_RE.findall(w["text"])) for w in words)
    if not n:
        return words
    warnings.append(f"{path}: page {page}: {n} undecodable glyphs ((cid:N)) in the text layer were left out")
    out = []
    for w in words:
        t = CID_RE.sub("", w["text"])
        if t.strip():
            out.append({**w, "text": t})
    return out


def read_pdf(path: Path, log=None) -> PdfText:
    """Read a PDF into report text with page offsets, OCR'ing pages that have no usable text layer."""
    import pdfplumber

    path = Path(path)
    data = path.read_bytes()
    doc = check_pdf(path, data)
    props = properties(doc)
    warnings: list[str] = []
    layouts: list[PageLayout] = []
    needs_ocr: dict[int, str] = {}
    n = len(doc)
    try:
        with pdfplumber.open(path) as plumber:
            for i, page in enumerate(plumber.pages, 1):
                if log and n >= PROGRESS_EVERY and i % PROGRESS_EVERY == 0:
                    log(f"  {path.name}: sida {i}/{n}")
                layout = PageLayout(i, float(page.width), float(page.height))
                words = _page_words(page)
                bad = _garbage(words)
                if bad or sum(len(w["text"]) for w in words) < 10:
                    if bad or page.images:
                        needs_ocr[i] = bad or "no text layer"
                    layouts.append(layout)
                    page.close()
                    continue
                words = _drop_cid(words, path, i, warnings)
                tables = _tables(page)
                if tables:
                    words = [w for w in words if not any(t.top - 1 <= (w["top"] + w["bottom"]) / 2 <= t.bottom + 1 for t in tables)]
                lines = lines_from_words(words, layout.width)
                items: list = sorted(lines + tables, key=lambda it: it.top) if tables else lines
                if tables:  # keep the reading order of column bands; tables go where they stand
                    items = _place_tables(lines, tables)
                layout.items = items
                layouts.append(layout)
                page.close()
    except CorpusError:
        raise
    except Exception as exc:  # pdfminer raises many kinds of errors on damaged files
        raise CorpusError(path, f"the PDF cannot be read ({type(exc).__name__}: {exc})") from None
    if needs_ocr:
        _ocr_pages(path, doc, layouts, needs_ocr, warnings, log)
    doc.close()
    text, starts = assemble(layouts)
    if not text.strip():
        raise CorpusError(path, "no text found in the PDF (no text layer and no OCR)")
    pages = []
    for lay in layouts:
        pages.append(PageInfo(lay.number, starts.get(lay.number, -1), 0, lay.ocr, lay.ocr_confidence))
    # pages without text start where the next page with text starts
    nxt = len(text)
    for p in reversed(pages):
        if p.start < 0:
            p.start = nxt
        nxt = p.start
    for a, b in zip(pages, pages[1:]):
        a.end = b.start
    pages[-1].end = len(text)
    return PdfText(path=path, text=text, sha256=hashlib.sha256(data).hexdigest(), pages=pages, properties=props,
                   warnings=warnings)


def _place_tables(lines: list[TextLine], tables: list[TableBlock]) -> list:
    items: list = []
    pending = sorted(tables, key=lambda t: t.top)
    for line in lines:
        while pending and line.col == 0 and pending[0].top <= line.top:
            items.append(pending.pop(0))
        items.append(line)
    return items + pending


def _ocr_pages(path: Path, doc, layouts: list[PageLayout], needs: dict[int, str], warnings: list[str], log) -> None:
    missing = ocr.available()
    pages = ", ".join(str(p) for p in sorted(needs))
    if missing:
        warnings.append(f"{path}: pages {pages} have no usable text layer and were left out: {missing}")
        return
    for number, why in sorted(needs.items()):
        if log:
            log(f"  {path.name}: sida {number}: maskinläser (OCR, {why})")
        try:
            words = ocr.ocr_page(doc[number - 1])
        except (OSError, subprocess.SubprocessError) as exc:
            warnings.append(f"{path}: page {number}: OCR failed ({exc}); the page is left out")
            continue
        if not words:
            warnings.append(f"{path}: page {number}: no text found on the page, not even by OCR")
            continue
        lay = layouts[number - 1]
        lay.items = lines_from_words([{"text": w.text, "x0": w.x0, "x1": w.x1, "top": w.top, "bottom": w.bottom,
                                       "size": None, "fontname": "", "line": w.line} for w in words], lay.width)
        lay.ocr = True
        lay.ocr_confidence = round(sum(w.conf for w in words) / len(words), 1)
        if why != "no text layer":
            warnings.append(f"{path}: page {number}: {why}; the page was read by OCR instead")


def main(argv: list[str] | None = None) -> None:
    """``python -m rapportsok.ingest.pdf FILE.pdf``: print the extracted text with page marks."""
    pdf = read_pdf(Path((argv or sys.argv[1:])[0]), log=lambda m: print(m, file=sys.stderr))
    for p in pdf.pages:
        mark = f" (OCR, {p.ocr_confidence})" if p.ocr else ""
        print(f"===== s. {p.number}{mark} [{p.start}:{p.end}]")
        print(pdf.text[p.start:p.end])
    for w in pdf.warnings:
        print("varning:", w, file=sys.stderr)


if __name__ == "__main__":
    main()
