"""Cut a parsed report into passages ("chunks") for search and embedding.

Passages follow the section tree: they never cross a table, a letterhead or a signature
block, and never split a sentence. A passage crosses a heading only to join a section
that is too short to stand alone (under ``MIN_WORDS`` words, e.g. "Bedömning: Delvis
uppfyllt") to the next one; it then belongs to the section it starts in, where the link to
``char_start`` opens the report. Sizes are aimed at a 512-token embedding
model: passages are packed up to ``MAX_WORDS`` words and a short tail is merged into the
passage before it. Only where one paragraph is too long to fit is it cut between sentences,
and then the next passage repeats the last sentence (a small overlap, so a fact stated at
the cut is whole in one of them). Tables become their own ``table`` passages, cut between
rows when large, so their text is searchable too.

Offsets round-trip: ``chunk.text == normalise(source[chunk.start:chunk.end])`` where
:func:`normalise` only collapses runs of whitespace to one space and strips the ends.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .structure import Block, Document

MIN_WORDS = 120
MAX_WORDS = 350
OVERLAP_MAX_WORDS = 60

ABBREVIATIONS = {
    "bl.a", "t.ex", "m.m", "ca", "kr", "st", "nr", "p.g.a", "dvs", "osv", "fr.o.m", "t.o.m",
    "jan", "feb", "aug", "sept", "okt", "nov", "dec", "resp", "enl", "tel", "mkr", "tkr",
    "mnkr", "s", "a", "e", "f", "kl", "jfr", "inkl", "exkl", "obs", "ev", "o", "m", "t", "a.a",
}
SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?…])[\"”']?\s+(?=[\"”(–\-]?[A-ZÅÄÖÉ0-9])|\n(?=\s*[-–•]\s)")
WORD_RE = re.compile(r"\w+")
TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>")


def normalise(s: str) -> str:
    """The documented whitespace normalisation used for passage text."""
    return re.sub(r"\s+", " ", s).strip()


def word_count(s: str) -> int:
    return len(WORD_RE.findall(s))


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class Piece:
    start: int
    end: int
    words: int
    sentence_of_long_paragraph: bool = False
    section: int | None = None
    heading: bool = False


@dataclass
class Chunk:
    kind: str            # "prose" or "table"
    section: int | None  # section ordinal
    start: int
    end: int
    text: str
    words: int
    ordinal: int = 0
    about_section: int | None = None  # the section most of the words are in (for embedding)

    @property
    def hash(self) -> str:
        return content_hash(self.text)


def sentences(text: str, offset: int) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets) inside ``text``, which starts at ``offset``."""
    spans, start = [], 0
    for m in SENTENCE_BOUNDARY.finditer(text):
        before = text[start: m.start()]
        last_word = re.findall(r"[\w.]+$", before[-40:])  # the tail only: linear on long runs
        if last_word and last_word[0].rstrip(".").lower() in ABBREVIATIONS and text[m.start() - 1] == ".":
            continue
        if before.strip():
            spans.append((offset + start, offset + m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((offset + start, offset + len(text.rstrip())))
    return spans


def _units(source: str, run: list[tuple[Block, int | None]]) -> list[list]:
    """Paragraph spans; a paragraph broken by a page break mid-sentence is joined again."""
    units: list[list] = []  # [start, end, section, is_heading]
    for b, section in run:
        text = source[b.start: b.end].strip()
        if units and not units[-1][3] and b.kind != "heading":
            prev = normalise(source[units[-1][0]: units[-1][1]])
            if prev and prev[-1] not in ".!?:;…”\")" and text[:1].islower():
                units[-1][1] = b.end
                continue
        units.append([b.start, b.end, section, b.kind == "heading"])
    return units


def _pieces(source: str, units: list[list]) -> list[Piece]:
    pieces: list[Piece] = []
    for a, b, section, is_heading in units:
        n = word_count(source[a:b])
        if n <= MAX_WORDS:
            pieces.append(Piece(a, b, n, section=section, heading=is_heading))
            continue
        for s, e in sentences(source[a:b], a):
            pieces.append(Piece(s, e, word_count(source[s:e]), sentence_of_long_paragraph=True, section=section))
    return pieces


def _pack(pieces: list[Piece]) -> list[list[Piece]]:
    groups: list[list[Piece]] = []
    cur: list[Piece] = []
    words = 0
    for p in pieces:
        if cur and words + p.words > MAX_WORDS:
            carried = []
            while cur and cur[-1].heading:  # a heading opens the next passage, never ends one
                carried.insert(0, cur.pop())
            groups.append(cur)
            last = cur[-1]
            overlap = last.sentence_of_long_paragraph and p.sentence_of_long_paragraph and last.words <= OVERLAP_MAX_WORDS
            cur = ([last] if overlap else []) + carried
            words = sum(x.words for x in cur)
        cur.append(p)
        words += p.words
    if cur:
        groups.append(cur)
    if len(groups) >= 2:
        tail = sum(p.words for p in groups[-1])
        prev = groups[-2]
        if tail < MIN_WORDS and sum(p.words for p in prev) + tail <= MAX_WORDS + 50:
            merged = prev + [p for p in groups[-1] if p is not prev[-1]]
            groups[-2:] = [merged]
    return groups


def _table_chunks(source: str, block: Block, section: int | None) -> list[Chunk]:
    chunks: list[Chunk] = []
    cur_start, cur_words, cur_end = None, 0, None
    for line in block.lines:
        if not line.text.strip():
            continue
        n = word_count(TAG_RE.sub(" ", line.text))
        if cur_start is not None and cur_words + n > MAX_WORDS:
            chunks.append(_make("table", source, section, cur_start, cur_end))
            cur_start, cur_words = None, 0
        if cur_start is None:
            cur_start = line.start
        cur_end = line.end
        cur_words += n
    if cur_start is not None:
        chunks.append(_make("table", source, section, cur_start, cur_end))
    return chunks


def _make(kind: str, source: str, section: int | None, start: int, end: int) -> Chunk:
    text = normalise(source[start:end])
    return Chunk(kind=kind, section=section, start=start, end=end, text=text, words=word_count(TAG_RE.sub(" ", text)),
                 about_section=section)


def _only_label(text: str) -> bool:
    """A passage that is nothing but a label such as "Kommentar" (its content was a table)."""
    from .structure import LABELS

    return normalise(text).lower().rstrip(":") in LABELS


def _main_section(group: list[Piece]) -> int | None:
    """The section a passage starts in (its first piece of text, not a heading)."""
    return next((p.section for p in group if not p.heading), group[0].section)


def _weightiest_section(group: list[Piece]) -> int | None:
    """The section holding most of a passage's words (its heading is what the passage is about)."""
    weight: dict[int | None, int] = {}
    for p in group:
        if not p.heading:
            weight[p.section] = weight.get(p.section, 0) + p.words
    return max(weight, key=lambda k: weight[k]) if weight else group[0].section


def chunk_document(doc: Document) -> list[Chunk]:
    source = doc.text
    chunks: list[Chunk] = []
    run: list[tuple[Block, int | None]] = []
    pending: list[tuple[Block, int | None]] = []   # headings waiting for prose to follow

    def run_words() -> int:
        return sum(word_count(source[b.start: b.end]) for b, _ in run if b.kind == "prose")

    def flush():
        nonlocal run
        pending.clear()
        if run:
            for group in _pack(_pieces(source, _units(source, run))):
                group = [p for p in group]
                while group and group[-1].heading:
                    group.pop()
                if group and not _only_label(source[group[0].start: group[-1].end]):
                    chunk = _make("prose", source, _main_section(group), group[0].start, group[-1].end)
                    chunk.about_section = _weightiest_section(group)
                    chunks.append(chunk)
        run = []

    for block, section in zip(doc.blocks, doc.block_section):
        if block.kind == "prose":
            if run and pending:
                run.extend(pending)
            pending.clear()
            run.append((block, section))
            continue
        if block.kind == "heading" and run and run_words() < MIN_WORDS:
            pending.append((block, section))
            continue
        flush()
        if block.kind == "table":
            chunks.extend(_table_chunks(source, block, section))
    flush()
    for i, c in enumerate(chunks):
        c.ordinal = i
    return chunks
