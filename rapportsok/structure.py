"""Split a report's text into typed blocks and a section tree.

The text comes from PDFs: markdown headings (``#``, ``**bold lines**``) mix with plain-text
headings (short lines such as "Bakgrund", numbered "2.1 Maximalt värde …"), tables of
contents with dotted leaders, letterheads and page furniture ("Kalmar kommun",
"WWW.KALMAR.SE"), signature and contact blocks, and tab-separated tables.

Every block keeps ``start``/``end`` offsets into the source text, so anything built
from blocks (sections, passages, tables) can point back to the exact place in the report.

Block kinds:

``heading``   a section heading (``level`` and ``heading`` set)
``prose``     running text, list items, label lines such as "Bedömning" / "Delvis uppfyllt"
``table``     consecutive tab-separated lines (may span blank lines and page breaks)
``toc``       table-of-contents entries ("Innehållsförteckning" with dotted leaders)
``furniture`` letterheads, URLs, page numbers, lone punctuation
``meta``      document metadata and signatures: Handläggare, Datum, Ärendebeteckning, names
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import municipalities

TOC_TITLE_RE = re.compile(r"^innehållsförteckning$|^innehåll$", re.I)
TOC_LINE_RE = re.compile(r"(\.{3,}|…)\s*\t?\s*\d{1,3}\s*$|\t\s*\d{1,3}\s*$")
MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
BOLD_LINE_RE = re.compile(r"^\s*(\*{2,3}|_{2})(.+?)(\*{2,3}|_{2})\s*$")
NUMBERED_RE = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(?=[A-ZÅÄÖ])")
URL_RE = re.compile(r"^(https?://|www\.)\S+$|^[\w.-]+\.(se|nu|com|org)$", re.I)
PAGE_RE = re.compile(r"^(sida\s+)?\d{1,3}(\s*\(\d{1,3}\)|\s+av\s+\d{1,3})?$", re.I)
# Bounded and anchored at the start of an address, so a long run of letters without "@" is
# scanned once, not once per position (linear time on hostile input).
EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}\.[\w.-]{1,63}")
PHONE_RE = re.compile(r"\b0\d{1,3}[- ]\d{2}[\d ]{3,8}\b")
NAME_RE = re.compile(r"^[A-ZÅÄÖÉ][a-zåäöéü]+(?:[ -][A-ZÅÄÖÉ][a-zåäöéü]+){1,3}$")
TABLE_NOTE_RE = re.compile(r"^(Enhet|Belopp i|Källa|Not)\s*:", re.I)

# Lines that label the value that follows (kept as prose: they carry meaning in context).
LABELS = {
    "bedömning", "bedömning måluppfyllelse", "kommentar", "målanalys", "status", "ansvarig",
    "titel", "kommentar till årets resultat",
}
# Lines that introduce document metadata (kept out of passages, used for detection).
META_LABELS = {
    "handläggare", "datum", "ärendebeteckning", "diarienummer", "dnr", "bilaga", "bilagor",
    "enligt uppdrag", "tid", "plats", "partigruppmöten", "rapportperiod", "organisation",
    "tjänsteskrivelse", "protokollsutdrag", "sammanträdesprotokoll",
}
TITLE_RE = re.compile(r"^(månadsrapport|tertialrapport|tertialbokslut|delårsrapport|delårsbokslut|årsbokslut|årsboks slut|årsredovisning|verksamhetsberättelse)\b", re.I)
TITLE_LINES = 15  # a report-type heading this near the top is the document title
COMMITTEE_RE = re.compile(r"^[A-ZÅÄÖ][\wåäö-]*(nämnden|förvaltningen|styrelsen|fullmäktige)$")
SENTENCE_END = tuple(".!?:;…”\")")


@dataclass
class Line:
    start: int
    end: int
    text: str


@dataclass
class Block:
    kind: str
    start: int
    end: int
    lines: list[Line]
    level: int = 0
    heading: str = ""

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass
class Section:
    ordinal: int
    level: int
    heading: str
    start: int
    end: int = 0
    parent: int | None = None
    path: list[str] = field(default_factory=list)
    kind: str = "content"


@dataclass
class Document:
    text: str
    blocks: list[Block]
    sections: list[Section]
    block_section: list[int | None]  # section ordinal for each block


def split_lines(text: str) -> list[Line]:
    lines, pos = [], 0
    for raw in text.split("\n"):
        lines.append(Line(pos, pos + len(raw), raw))
        pos += len(raw) + 1
    return lines


def strip_markup(s: str) -> str:
    """Heading text without markdown hashes, emphasis markers and surrounding space."""
    s = s.strip()
    m = MD_HEADING_RE.match(s)
    if m:
        s = m.group(2)
    s = re.sub(r"^[*_]+|[*_]+$", "", s.strip()).strip()
    return re.sub(r"\s+", " ", s)


def _is_letterhead(s: str) -> bool:
    s = strip_markup(s)
    low = s.lower()
    for suffix in (" kommun", "s kommun", "s stad", " stad"):
        if low.endswith(suffix) and municipalities.lookup(low[: -len(suffix)]):
            return True
    if low.startswith("region ") and municipalities.lookup(low[7:]):
        return True
    return s.isupper() and municipalities.lookup(low) is not None


def _paragraphs(lines: list[Line]) -> list[list[Line]]:
    """Group lines into paragraphs (runs of non-blank lines); tab lines form table runs."""
    paras: list[list[Line]] = []
    i, n = 0, len(lines)
    while i < n:
        if not lines[i].text.strip():
            i += 1
            continue
        if "\t" in lines[i].text:
            run = [lines[i]]
            j = i + 1
            while j < n:
                if "\t" in lines[j].text:
                    run.append(lines[j]); j += 1; continue
                if not lines[j].text.strip():
                    k = j
                    while k < n and not lines[k].text.strip():
                        k += 1
                    if k < n and "\t" in lines[k].text and k - j <= 3:
                        j = k; continue
                break
            paras.append(run); i = j
            continue
        run = [lines[i]]
        j = i + 1
        while j < n and lines[j].text.strip() and "\t" not in lines[j].text:
            run.append(lines[j]); j += 1
        paras.append(run); i = j
    return paras


def _word_count(s: str) -> int:
    return len(re.findall(r"\w+", s))


def _classify_single(s: str, prev_kind: str | None, prev_text: str) -> str:
    """Kind of a one-line paragraph (before heading/prose disambiguation)."""
    core = strip_markup(s)
    low = core.lower().rstrip(":")
    if not re.search(r"\w", core) or PAGE_RE.match(core):
        return "furniture"
    if URL_RE.match(core) or _is_letterhead(s):
        return "furniture"
    if low in META_LABELS or low.startswith("rapportperiod:"):
        return "meta"
    if prev_kind == "meta_label" and _word_count(core) <= 12:
        return "meta"
    if COMMITTEE_RE.match(core):
        return "meta"  # addressee or author line ("Socialnämnden"), not a section
    if low in LABELS:
        return "label"
    if prev_kind == "label" and prev_text.lower().rstrip(":") in ("bedömning", "bedömning måluppfyllelse", "status", "ansvarig"):
        return "prose"
    if TABLE_NOTE_RE.match(core):
        return "furniture"
    if (EMAIL_RE.search(core) or PHONE_RE.search(core)) and not core.endswith("."):
        return "meta"
    return "candidate"


def _looks_like_heading(s: str, next_text: str | None) -> bool:
    core = strip_markup(s)
    md = MD_HEADING_RE.match(s.strip())
    bold = BOLD_LINE_RE.match(s)
    words = _word_count(core)
    if md:
        return words > 0
    if next_text is not None and next_text[:1].islower():
        return False  # the paragraph continues on the next line (page break in the PDF)
    if bold:
        return 0 < words <= 45
    if words == 0 or words > 20 or len(core) > 160:
        return False
    if core.endswith((".", ",", ";", ":", "!", "?")) and not NUMBERED_RE.match(core):
        return False
    first = core[0]
    if not (first.isupper() or first.isdigit()):
        return False
    if core.startswith(("- ", "• ", "* ", "– ")):
        return False
    if re.search(r"\d\s*\(\d+\)$", core) or (re.search(r"\d$", core) and not re.search(r"\b(19|20)\d\d$", core)):
        if not NUMBERED_RE.match(core):
            return False  # "Socialförvaltningen 52 (54)" – a figure, not a heading
    if first.isdigit() and not NUMBERED_RE.match(core):
        return False
    return True


def parse(text: str) -> Document:
    lines = split_lines(text)
    paras = _paragraphs(lines)
    blocks: list[Block] = []
    in_toc = False
    prev_kind: str | None = None
    prev_text = ""
    for idx, para in enumerate(paras):
        start, end = para[0].start, para[-1].end
        first = para[0].text
        next_text = paras[idx + 1][0].text.strip() if idx + 1 < len(paras) else None
        if in_toc:
            if all(TOC_LINE_RE.search(l.text) or not l.text.strip() for l in para):
                blocks.append(Block("toc", start, end, para)); continue
            in_toc = False
        if "\t" in first:
            kind = "toc" if all(TOC_LINE_RE.search(l.text) for l in para) else "table"
            blocks.append(Block(kind, start, end, para)); prev_kind = kind; continue
        if len(para) == 1:
            kind = _classify_single(first, prev_kind, prev_text)
            if kind == "candidate":
                kind = "heading" if _looks_like_heading(first, next_text) else "prose"
            if kind == "meta" and strip_markup(first).lower().rstrip(":") in META_LABELS:
                prev_kind, prev_text = "meta_label", strip_markup(first)
                blocks.append(Block("meta", start, end, para)); continue
            if kind == "heading":
                heading = strip_markup(first)
                if TOC_TITLE_RE.match(heading):
                    in_toc = True
                blocks.append(Block("heading", start, end, para, heading=heading))
            elif kind == "label":
                blocks.append(Block("prose", start, end, para))
            else:
                blocks.append(Block(kind, start, end, para))
            prev_kind, prev_text = kind, strip_markup(first)
            continue
        # multi-line paragraph
        core_first = strip_markup(first).lower().rstrip(":")
        texts = [l.text.strip() for l in para]
        if core_first in META_LABELS or prev_kind == "meta_label" and _word_count(" ".join(texts)) <= 15:
            kind = "meta"
        elif len(para) == 2 and NAME_RE.match(strip_markup(texts[0])) and _word_count(texts[1]) <= 4 and not re.search(r"\d", texts[1]):
            kind = "meta"  # signature: name + title
        elif len(para) <= 3 and _word_count(" ".join(texts)) <= 20 and any(EMAIL_RE.search(t) or PHONE_RE.search(t) for t in texts) and not texts[-1].endswith("."):
            kind = "meta"
        elif all(_is_letterhead(t) or URL_RE.match(strip_markup(t)) for t in texts):
            kind = "furniture"
        else:
            kind = "prose"
        blocks.append(Block(kind, start, end, para))
        prev_kind, prev_text = kind, strip_markup(first)
    _mark_toc_blocks(blocks)
    _demote_heading_lists(blocks)
    sections, block_section = _section_tree(blocks, len(text), text)
    return Document(text=text, blocks=blocks, sections=sections, block_section=block_section)


def _mark_toc_blocks(blocks: list[Block]) -> None:
    """Headings that sit inside a table of contents are TOC entries, not sections."""
    for i, b in enumerate(blocks):
        if b.kind == "heading" and TOC_TITLE_RE.match(b.heading):
            j = i + 1
            while j < len(blocks) and blocks[j].kind in ("toc", "prose", "heading"):
                if blocks[j].kind == "toc":
                    j += 1; continue
                if TOC_LINE_RE.search(blocks[j].text):
                    blocks[j].kind = "toc"; j += 1; continue
                break


def _is_plain_heading(b: Block) -> bool:
    raw = b.lines[0].text.strip()
    return b.kind == "heading" and not MD_HEADING_RE.match(raw) and not BOLD_LINE_RE.match(raw)


def _demote_heading_lists(blocks: list[Block]) -> None:
    """Three or more short lines in a row that start with the same word are a list, not headings.

    Example: the indicator lists in Kalmar's tertialrapport ("SOC - Kompetens …", "SOC - …").
    """
    i = 0
    while i < len(blocks):
        j = i
        while j < len(blocks) and _is_plain_heading(blocks[j]):
            j += 1
        run = blocks[i:j]
        if len(run) >= 3 and all(NUMBERED_RE.match(b.heading) for b in run):
            numbers = [int(NUMBERED_RE.match(b.heading).group(1).split(".")[0]) for b in run]
            if all(b - a == 1 for a, b in zip(numbers, numbers[1:])) and all("." not in NUMBERED_RE.match(b.heading).group(1) for b in run):
                for b in run:
                    b.kind = "prose"
        elif len(run) >= 3:
            firsts = [b.heading.split()[0] for b in run]
            common = max(set(firsts), key=firsts.count)
            if firsts.count(common) >= 3:
                for b in run:
                    if b.heading.split()[0] == common:
                        b.kind = "prose"
        i = max(j, i + 1)


def _title_key(s: str) -> str:
    s = re.sub(r"(\.{3,}|…)?\s*\t?\s*\d{1,3}\s*$", "", strip_markup(s))
    s = re.sub(r"^[-–•]?\s*\d{1,2}(\.\d{1,2})*\.?\s+", "", s.strip())
    return re.sub(r"\s+", " ", s).strip(" .").lower()


def _outline_entries(block: Block, agenda: bool) -> set[str]:
    """Titles a table of contents or a meeting agenda (föredragningslista) lists.

    PDF text has no font sizes, so a plain-text heading that the document's own outline
    lists (above it) is taken as top level; other plain headings sit one level below.
    """
    if block.kind == "toc":
        return {_title_key(l.text) for l in block.lines if l.text.strip()} - {""}
    if agenda and block.kind == "prose":
        return {_title_key(l.text) for l in block.lines if re.match(r"^\s*-\s+\d{1,2}\s+\S", l.text)} - {""}
    return set()


def _heading_levels(blocks: list[Block]) -> None:
    """Assign levels: markdown depth, numbering depth, bold and plain lines below them."""
    outline: set[str] = set()
    agenda_until = -1
    offset = 0          # md level minus numbering depth, learnt from '## 2 Rubrik'
    structural = 0      # level of the last markdown/numbered/bold heading
    prev_was_heading = False
    last_level = 0
    top_plain: int | None = None
    for i, b in enumerate(blocks):
        if b.kind != "heading":
            outline |= _outline_entries(b, i <= agenda_until)
            if b.kind != "furniture":
                prev_was_heading = False
            continue
        if "föredragningslista" in b.heading.lower():
            agenda_until = i + 12
        raw = b.lines[0].text.strip()
        md = MD_HEADING_RE.match(raw)
        num = NUMBERED_RE.match(b.heading)
        depth = num.group(1).count(".") + 1 if num else 0
        if md:
            level = len(md.group(1))
            if depth:
                offset = level - depth
            structural = level
        elif num and (BOLD_LINE_RE.match(raw) or depth > 1 or structural == 0):
            level = max(1, depth + offset)
            structural = level
        elif BOLD_LINE_RE.match(raw):
            level = structural + 1
        elif outline and _title_key(b.heading) in outline:
            level = top_plain = structural + 1
        elif prev_was_heading and last_level:
            level = last_level + 1
        elif top_plain is not None:
            level = top_plain + 1
        else:
            level = structural + 1
        b.level = level
        last_level = level
        prev_was_heading = True


def _section_tree(blocks: list[Block], text_len: int, text: str) -> tuple[list[Section], list[int | None]]:
    """Nest headings by level. The document title (a report-type heading at the very top)
    is kept as a section but left out of its descendants' paths, which would all repeat it."""
    _heading_levels(blocks)

    def line_of(offset: int) -> int:
        return len([l for l in text[:offset].split("\n") if l.strip()])

    sections: list[Section] = []
    stack: list[Section] = []
    block_section: list[int | None] = []
    for b in blocks:
        if b.kind == "heading":
            while stack and stack[-1].level >= b.level:
                stack.pop()
            parent = stack[-1] if stack else None
            is_title = bool(TITLE_RE.match(b.heading)) and line_of(b.start) < TITLE_LINES
            sec = Section(
                ordinal=len(sections), level=b.level, heading=b.heading, start=b.start,
                parent=parent.ordinal if parent else None,
                path=(parent.path if parent and parent.kind != "title" else []) + [b.heading],
                kind="toc" if TOC_TITLE_RE.match(b.heading) else "title" if is_title else "content",
            )
            if sections:
                sections[-1].end = b.start
            sections.append(sec)
            stack.append(sec)
        block_section.append(stack[-1].ordinal if stack else None)
    if sections:
        sections[-1].end = text_len
    return sections, block_section
