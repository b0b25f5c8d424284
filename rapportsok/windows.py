"""Sentence windows: a long passage is also embedded as overlapping runs of a few sentences.

A passage of 300 words is one vector; a question answered by one of its sentences is
diluted by the other twenty. Each window (``SIZE`` sentences, starting every ``STRIDE``
sentences, sentences split by :func:`rapportsok.chunking.sentences` and at the headings inside
the passage) is embedded as "nearest heading: sentences", as the passage is – the nearest
heading being the last one inside the passage before the window, else the heading of the
section the passage starts in. The semantic signal scores a passage by the best of its own
vector and its windows' (:meth:`rapportsok.search.index.CorpusIndex.similarities`).

A passage of at most ``MIN_SENTENCES`` (3) sentences gets no window: its windows would nearly
repeat the passage (README, "Sentence windows" and "Session 14" for the choice of two-sentence
windows at every sentence). Windows are stored in the table ``chunk_windows`` with their character
offsets in the passage text (``chunks.text[char_start:char_end]``), so a hit can point at
the sentences that matched. ``RAPPORTSOK_WINDOWS=0`` (or ``rapportsok build --no-windows``)
builds without them; the same variable makes the search ignore a database's windows.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass

from .chunking import normalise, sentences

# Two sentences, starting at every sentence, for every passage of more than three sentences:
# chosen on dev together with the symmetric reading of the query (search/signals/semantic.py),
# README, issue 13, session 14. Before: three sentences every two, passages of more than six.
SIZE = int(os.environ.get("RAPPORTSOK_WINDOW_SIZE", "2"))       # sentences per window
STRIDE = int(os.environ.get("RAPPORTSOK_WINDOW_STRIDE", "1"))   # sentences between window starts
# a passage gets windows only when it has more than this many sentences (and more than SIZE)
MIN_SENTENCES = int(os.environ.get("RAPPORTSOK_WINDOW_MIN_SENTENCES", "3"))


def enabled() -> bool:
    return os.environ.get("RAPPORTSOK_WINDOWS", "1") != "0"


@dataclass(frozen=True)
class Window:
    ordinal: int
    start: int   # character offsets in the passage text
    end: int
    heading: str | None = None   # the nearest heading inside the passage before the window (None: the passage's own)


class Headings:
    """The headings of one report, to find those inside a passage (:meth:`spans`)."""

    def __init__(self, source: str, blocks):
        self.source = source
        self.blocks = [b for b in blocks if b.kind == "heading"]
        self.starts = [b.start for b in self.blocks]

    def spans(self, chunk_text: str, chunk_start: int, chunk_end: int) -> list[tuple[int, int, str]]:
        """Where the headings inside a passage are in its text: ``(start, end, heading)``.

        A passage that joins a short section to the next one carries the next heading in its
        text ("… än tidigare. ### Heldygnsvård barn och unga Heldygnsvården inbegriper …").
        """
        out, pos = [], 0
        for b in self.blocks[bisect.bisect_left(self.starts, chunk_start): bisect.bisect_left(self.starts, chunk_end)]:
            if b.end > chunk_end:
                continue
            raw = normalise(self.source[b.start: b.end])
            at = chunk_text.find(raw, pos) if raw else -1
            if at >= 0:
                out.append((at, at + len(raw), b.heading))
                pos = at + len(raw)
        return out


def _sentences(text: str, headings: list[tuple[int, int, str]]) -> list[tuple[int, int, str | None]]:
    """Sentence spans of the passage text, cut at its headings, each with the heading before it."""
    out: list[tuple[int, int, str | None]] = []
    cuts = [(0, 0, None)] + list(headings)
    for i, (_, seg_start, heading) in enumerate(cuts):
        seg_end = cuts[i + 1][0] if i + 1 < len(cuts) else len(text)
        seg = text[seg_start:seg_end]
        out += [(a, b, heading) for a, b in sentences(seg, seg_start) if text[a:b].strip()]
    # sentences() keeps leading blanks of a segment: start each span at its first character
    return [(a + len(text[a:b]) - len(text[a:b].lstrip()), b, h) for a, b, h in out]


def windows(text: str, headings: list[tuple[int, int, str]] = (), size: int = SIZE, stride: int = STRIDE,
            min_sentences: int = MIN_SENTENCES) -> list[Window]:
    """The windows of a passage text; none for a passage of at most ``max(size, min_sentences)`` sentences."""
    spans = _sentences(text, list(headings))
    if len(spans) <= max(size, min_sentences):
        return []
    out, seen = [], set()
    for i in range(0, len(spans) - size + stride, stride):
        part = spans[i: i + size]
        span = (part[0][0], part[-1][1])
        if span not in seen:
            seen.add(span)
            out.append(Window(len(out), *span, heading=part[0][2]))
        if i + size >= len(spans):
            break
    return out
