"""The query language, parsed once: what a journalist types → what must (not) occur.

The same rules hold on the CLI, in JSON/CSV and on the web page (``site/templates/_sokhjalp.html``
shows them next to the box):

* ``brist familjehem`` – every word must occur in the passage (in any inflection, or as a
  part of a compound: *familjehem* finds *familjehemsplaceringar*). Small function words
  (*på, och, i* …) are not required; a query of only function words searches them anyway.
* ``"skyddat boende"`` – the exact words in this order (no inflections, no compounds).
* ``jourhem OR familjehem`` – either word (``OR`` in capitals).
* ``-jourhem`` or ``NOT jourhem`` – passages with the word are left out.
* ``placer*`` – words that begin so (at least three letters before ``*``).
* ``SIG``, ``HVB``, ``LSS`` – a word written in capitals (2–6 letters) is an abbreviation
  and matches only the capitalised word (or the abbreviation's expansion in
  ``data/topics.yml``, such as *sociala insatsgrupper*), never *sig*.

Only the meaning-aware modes add anything to this (topic synonyms, spelling corrections);
:mod:`rapportsok.search.engine` reports what it added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import swedish

PREFIX_MIN = 3
is_caps = swedish.is_caps
_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class Term:
    """One thing that may occur in a passage."""

    text: str                 # as the user wrote it (lower-cased unless ``caps``)
    kind: str = "word"        # "word", "phrase" or "prefix"
    caps: bool = False        # an abbreviation in capitals: matches only capitals

    @property
    def words(self) -> list[str]:
        return swedish.tokens(self.text)

    def label(self) -> str:
        return {"phrase": f'"{self.text}"', "prefix": f"{self.text}*"}.get(self.kind, self.text)


@dataclass(frozen=True)
class Clause:
    """Any one of ``terms`` must occur (terms joined by OR)."""

    terms: tuple[Term, ...]


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[Clause, ...] = ()     # all must occur
    excluded: tuple[Term, ...] = ()      # none may occur
    dropped: tuple[str, ...] = field(default=())  # function words not required

    @property
    def empty(self) -> bool:
        return not self.clauses

    def words(self) -> list[Term]:
        return [t for c in self.clauses for t in c.terms]


def _terms_of(raw: str) -> list[Term]:
    """Terms for one whitespace-separated piece of the query (``HVB-hem`` is a phrase)."""
    prefix = raw.endswith("*")
    words = swedish.WORD_RE.findall(raw.replace("_", " "))
    if not words:
        return []
    if prefix and len(words) == 1 and len(words[0]) >= PREFIX_MIN:
        return [Term(words[0].lower(), "prefix")]
    if len(words) > 1:
        return [Term(" ".join(w.lower() for w in words), "phrase")]
    w = words[0]
    return [Term(w, "word", caps=True)] if is_caps(w) else [Term(w.lower(), "word")]


def parse(q: str) -> ParsedQuery:
    """``q`` → clauses that must occur and terms that must not.

    >>> p = parse('brist på "skyddat boende" -jourhem SIG OR HVB')
    >>> [[t.label() for t in c.terms] for c in p.clauses], [t.text for t in p.excluded], p.dropped
    ([['brist'], ['"skyddat boende"'], ['SIG', 'HVB']], ['jourhem'], ('på',))
    """
    clauses: list[list[Term]] = []
    excluded: list[Term] = []
    negate_next = join_next = False
    for m in _TOKEN.finditer(q):
        phrase, raw = m.group(1), m.group(2)
        if raw == "NOT":
            negate_next = True
            continue
        if raw == "OR":
            join_next = bool(clauses)
            continue
        negate = negate_next
        if raw is not None and raw.startswith("-") and len(raw) > 1:
            negate, raw = True, raw[1:]
        if phrase is not None:
            words = swedish.WORD_RE.findall(phrase)
            if not words:
                negate_next = join_next = False
                continue
            if len(words) == 1 and is_caps(words[0]):
                terms = [Term(words[0], "word", caps=True)]
            else:
                terms = [Term(" ".join(w.lower() for w in words), "phrase")]
        else:
            terms = _terms_of(raw)
        if terms:
            if negate:
                excluded.extend(terms)
            elif join_next:
                clauses[-1].extend(terms)
            else:
                clauses.extend([t] for t in terms)
        negate_next = join_next = False
    # function words are not required – unless nothing else is asked for
    dropped: list[str] = []
    kept = []
    for c in clauses:
        terms = [t for t in c if not (t.kind == "word" and not t.caps and t.text in swedish.STOPWORDS)]
        dropped += [t.text for t in c if t not in terms]
        if terms:
            kept.append(terms)
    if not kept:
        kept, dropped = clauses, []
    uniq: list[tuple[Term, ...]] = []
    for c in kept:
        if tuple(c) not in uniq:
            uniq.append(tuple(c))
    return ParsedQuery(tuple(Clause(c) for c in uniq), tuple(dict.fromkeys(excluded)), tuple(dropped))
