"""Sentence windows: a long passage is also embedded as overlapping runs of a few sentences.

A passage of 300 words is one vector; a question answered by one of its sentences is
diluted by the other twenty. Each window (``SIZE`` sentences, starting every ``STRIDE``
sentences, sentences split by :func:`rapportsok.chunking.sentences`) is embedded with the
passage's heading, as the passage is; the semantic signal scores a passage by the best of
its own vector and its windows' (:meth:`rapportsok.search.index.CorpusIndex.similarities`).

A passage of at most ``SIZE`` sentences gets no window: its only window would be the
passage itself. Windows are stored in the table ``chunk_windows`` with their character
offsets in the passage text (``chunks.text[char_start:char_end]``), so a hit can point at
the sentences that matched. ``RAPPORTSOK_WINDOWS=0`` (or ``rapportsok build --no-windows``)
builds without them; the same variable makes the search ignore a database's windows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .chunking import sentences

SIZE = int(os.environ.get("RAPPORTSOK_WINDOW_SIZE", "3"))       # sentences per window
STRIDE = int(os.environ.get("RAPPORTSOK_WINDOW_STRIDE", "2"))   # sentences between window starts
# a passage gets windows only when it has more than this many sentences (at least SIZE)
MIN_SENTENCES = int(os.environ.get("RAPPORTSOK_WINDOW_MIN_SENTENCES", "0"))


def enabled() -> bool:
    return os.environ.get("RAPPORTSOK_WINDOWS", "1") != "0"


@dataclass(frozen=True)
class Window:
    ordinal: int
    start: int   # character offsets in the passage text
    end: int


def windows(text: str, size: int = SIZE, stride: int = STRIDE, min_sentences: int = MIN_SENTENCES) -> list[Window]:
    """The windows of a passage text; none for a passage of at most ``max(size, min_sentences)`` sentences."""
    spans = sentences(text, 0)
    if len(spans) <= max(size, min_sentences):
        return []
    out, seen = [], set()
    for i in range(0, len(spans) - size + stride, stride):
        part = spans[i: i + size]
        span = (part[0][0], part[-1][1])
        if span not in seen:
            seen.add(span)
            out.append(Window(len(out), *span))
        if i + size >= len(spans):
            break
    return out
