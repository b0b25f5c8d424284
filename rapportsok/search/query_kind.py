"""What kind of question a query is, from its words alone (no evaluation labels).

``acronym`` (a word in capitals: SIG, HVB), ``number`` (a year or figure, or a question for an
amount: *hur många*, *andel*, *kostnad*), ``across`` (a question across kommuner: *vilka
kommuner*, *jämför*), ``english``, ``sentence`` (a long question in one's own words, six or more
content words) or ``words`` (a few keywords). The engine may choose fusion weights and result
diversity per kind (README, issue 13: each choice measured on dev, checked on test).
"""

from __future__ import annotations

import re

from .. import swedish
from . import english
from .syntax import parse

NUMBER_WORDS = frozenset("antal antalet andel andelen procent kostnad kostnaden kostnader kostar kronor mnkr tkr "
                         "summa belopp hur många mycket ökade ökat minskade minskat underskott överskott".split())
ACROSS_RE = re.compile(r"\b(vilka kommuner|kommunerna|kommuner|jämför\w*|skillnad\w* mellan|i flera kommuner|"
                       r"alla kommuner|which municipalities|municipalities|compare)\b", re.I)
SENTENCE_WORDS = 6


def kind(q: str, known=lambda w: True) -> str:
    parsed = parse(q)
    terms = parsed.words()
    words = [t.text for t in terms if t.kind == "word"]
    if ACROSS_RE.search(q):
        return "across"
    if any(t.caps for t in terms):
        return "acronym"
    if english.is_english(words, known):
        return "english"
    tokens = [t.lower() for t in swedish.WORD_RE.findall(q)]
    if any(re.fullmatch(r"\d+([.,]\d+)?", t) for t in tokens) or (set(tokens) & NUMBER_WORDS) \
            or "hur många" in q.lower() or "hur mycket" in q.lower():
        return "number"
    content = [t for t in tokens if t not in swedish.STOPWORDS]
    return "sentence" if len(content) >= SENTENCE_WORDS else "words"
