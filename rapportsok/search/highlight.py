"""The one highlighter: which words of a text the query matched ([start, end] offsets).

Used for search hits, the report reader and the topic page, so what is marked is exactly
what was searched for: stems (with compound parts and inflections), abbreviations in
capitals only where written in capitals, exact phrases only where the whole phrase occurs,
and prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import swedish

PREFIX_MIN_LEN = 5  # a stem this long also marks longer indexed forms (familjehem → familjehemmen)


@dataclass
class Marks:
    """What to mark; built from a parsed query by the engine (``SearchIndex.marks``)."""

    stems: set[str] = field(default_factory=set)
    caps: set[str] = field(default_factory=set)           # exact-case words (SIG)
    phrases: list[tuple[str, ...]] = field(default_factory=list)  # lower-case word sequences
    prefixes: set[str] = field(default_factory=set)       # lower-case surface prefixes
    stem_phrases: list[tuple[str, ...]] = field(default_factory=list)  # stem sequences (sociala insatsgrupper)

    def __iter__(self):
        """The plain terms (for callers that only need a set of words to look for)."""
        return iter(self.stems | {c.lower() for c in self.caps} | self.prefixes
                    | {w for p in self.phrases for w in p} | {w for p in self.stem_phrases for w in p})

    def __bool__(self) -> bool:
        return bool(self.stems or self.caps or self.phrases or self.prefixes or self.stem_phrases)


def highlight_spans(text: str, marks: "Marks | set[str]") -> list[list[int]]:
    """[start, end] offsets (within ``text``) of the words ``marks`` matches.

    ``marks`` may be a plain set of stems (topic pages); then a stem of five letters or more
    also marks longer forms (inflections). A :class:`Marks` lists its inflections itself."""
    if not isinstance(marks, Marks):
        marks = Marks(stems=set(marks))
        stem_prefixes = tuple(s for s in marks.stems if len(s) >= PREFIX_MIN_LEN)
    else:
        stem_prefixes = ()
    if not marks:
        return []
    prefixes = tuple(marks.prefixes)
    words = list(swedish.WORD_RE.finditer(text))
    if not words:
        return []
    surface = [m[0] for m in words]
    # whether a word is marked depends only on the word: decided once per distinct word and
    # Marks (a search highlights up to 100 hits with the same Marks; the Marks of a query are
    # shared by the threads answering it, so the memo is only read and added to)
    memo = marks.__dict__.setdefault("_word_memo", {}) if not stem_prefixes else {}
    for word in set(surface):
        if word not in memo:
            memo[word] = _marked(word, word.lower(), marks, prefixes, stem_prefixes)
    hit = [memo[w] for w in surface]
    if marks.stem_phrases or marks.phrases:
        lower = [w.lower() for w in surface]
        for seq in marks.stem_phrases:
            n = len(seq)
            for i in range(len(words) - n + 1):
                if all(seq[k] in swedish.index_terms(lower[i + k]) for k in range(n)):
                    for j in range(i, i + n):
                        hit[j] = True
        for phrase in marks.phrases:
            n = len(phrase)
            for i in range(len(words) - n + 1):
                if tuple(lower[i: i + n]) == phrase:
                    for j in range(i, i + n):
                        hit[j] = True
    return [[m.start(), m.end()] for m, h in zip(words, hit) if h]


def _marked(word: str, lower: str, marks: Marks, prefixes: tuple[str, ...], stem_prefixes: tuple[str, ...]) -> bool:
    if word in marks.caps:
        return True
    if prefixes and lower.startswith(prefixes):
        return True
    if marks.stems:
        return any(t in marks.stems or (stem_prefixes and t.startswith(stem_prefixes)) for t in swedish.index_terms(lower))
    return False
