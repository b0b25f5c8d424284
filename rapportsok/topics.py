"""The topic taxonomy (``data/topics.yml``): loading, matching in text, and query expansion.

Matching works on the same Swedish terms as the keyword index (Snowball stems plus
compound parts, :mod:`rapportsok.swedish`), so "skyddsplacering" matches
"skyddsplaceringar" and "familjehem" matches "familjehemsplaceringar". Abbreviations
match case-sensitively ("SIG" the insatsgrupp, not "sig" the pronoun), also as the first
part of a hyphenated compound ("SIG-verksamheten"). Patterns catch descriptions that name
a topic without its words ("skola, socialtjänst, polis, fritid" is SSPF).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources

import yaml

from . import swedish

ENGLISH_STOPWORDS = frozenset("of the a an and or for in on to with by from between among at is are about into".split())
MAX_GAP = 3  # words allowed between the words of a multi-word synonym ("våld i nära relation")


@dataclass
class Topic:
    id: str
    label: str
    group: str
    definition: str
    synonyms: list[str] = field(default_factory=list)
    abbreviations: dict[str, str] = field(default_factory=dict)
    english: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)

    @cached_property   # topics are loaded once (load_topics) and never change: computed once
    def phrases(self) -> list[tuple[str, ...]]:
        """Stem sequences of the Swedish synonyms and abbreviation expansions."""
        out = []
        for text in self.synonyms + list(self.abbreviations.values()):
            stems = tuple(swedish.stem(t) for t in swedish.tokens(text) if t not in swedish.STOPWORDS)
            if stems and stems not in out:
                out.append(stems)
        return out

    @cached_property
    def english_phrases(self) -> list[tuple[str, ...]]:
        return [tuple(_en(t) for t in swedish.tokens(e) if t not in ENGLISH_STOPWORDS) for e in self.english]

    @property
    def compiled_patterns(self) -> list[re.Pattern]:
        return [re.compile(p, re.I) for p in self.patterns]

    def abbreviation_regex(self) -> re.Pattern | None:
        if not self.abbreviations:
            return None
        alts = "|".join(re.escape(a) for a in self.abbreviations)
        return re.compile(rf"(?<![\w-])({alts})(?![\w])")


def _en(token: str) -> str:
    token = token.lower()
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") else token


@lru_cache(maxsize=1)
def load_topics() -> tuple[Topic, ...]:
    with resources.files("rapportsok").joinpath("data/topics.yml").open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    topics = tuple(Topic(**t) for t in data["topics"])
    ids = [t.id for t in topics]
    assert len(ids) == len(set(ids)), "duplicate topic id in topics.yml"
    for t in topics:
        for r in t.related:
            assert r in ids, f"topic {t.id}: related topic {r!r} does not exist"
    return topics


def topics_by_id() -> dict[str, Topic]:
    return {t.id: t for t in load_topics()}


@dataclass
class Match:
    topic: str
    evidence: list[str]


def _find_phrase(positions: dict[str, list[int]], phrase: tuple[str, ...]) -> tuple[int, int] | None:
    """(first, last) word positions of ``phrase`` if its stems occur in order, close together."""
    for start in positions.get(phrase[0], []):
        pos, ok = start, True
        for stem in phrase[1:]:
            nxt = [p for p in positions.get(stem, []) if pos < p <= pos + MAX_GAP + 1]
            if not nxt:
                ok = False
                break
            pos = nxt[0]
        if ok:
            return start, pos
    return None


def match_text(text: str, topics=None) -> list[Match]:
    """Topics whose synonyms, abbreviations or patterns occur in ``text``, with the evidence."""
    topics = topics or load_topics()
    words = [m.group(0) for m in swedish.WORD_RE.finditer(text)]
    positions: dict[str, list[int]] = {}
    for i, w in enumerate(words):
        for term in swedish.index_terms(w.lower()):
            positions.setdefault(term, []).append(i)
    out = []
    for t in topics:
        evidence: list[str] = []
        for phrase in t.phrases:
            found = _find_phrase(positions, phrase)
            if found is not None:
                evidence.append("ord: " + " ".join(words[found[0]: found[1] + 1]))
        rx = t.abbreviation_regex()
        if rx:
            for m in rx.finditer(text):
                evidence.append(f"förkortning: {m.group(0)}")
                break
        for p in t.compiled_patterns:
            m = p.search(text)
            if m:
                evidence.append(f"mönster: {m.group(0)}")
        if evidence:
            out.append(Match(t.id, list(dict.fromkeys(evidence))))
    return out


def baseline_match(text: str, topics=None) -> list[str]:
    """Plain keyword matching (the comparison in the README): case-insensitive substring
    search for each synonym and abbreviation, no stems, compounds, patterns or semantics."""
    topics = topics or load_topics()
    low = text.lower()
    hits = []
    for t in topics:
        terms = [s.lower() for s in t.synonyms] + [a.lower() for a in t.abbreviations]
        if any(re.search(rf"(?<!\w){re.escape(term)}(?!\w)", low) for term in terms):
            hits.append(t.id)
    return hits


@dataclass
class Expansion:
    topic: str
    matched: str              # the words of the query that named the topic
    alternatives: list[tuple[str, ...]]  # stem sequences to search for instead
    stems: set[str]           # for highlighting
    how: str = "synonym"      # "abbreviation", "english" or "synonym"


@dataclass
class _Lookup:
    topics: tuple[Topic, ...]
    abbr_exact: dict[str, list[tuple[int, int]]]      # abbreviation as written → (topic, abbreviation)
    abbr_lower: dict[str, list[tuple[int, int]]]      # lower-case, abbreviations of 3+ letters
    phrase_first: dict[str, list[tuple[int, int, tuple[str, ...]]]]   # first stem → (topic, phrase, stems)
    english_first: dict[str, list[tuple[int, int, tuple[str, ...]]]]  # first English word → …


@lru_cache(maxsize=1)
def _lookup() -> _Lookup:
    """The topics' abbreviations and phrases by their first word (for :func:`expand_query`)."""
    topics = load_topics()
    look = _Lookup(topics, {}, {}, {}, {})
    for ti, t in enumerate(topics):
        for ai, abbr in enumerate(t.abbreviations):
            look.abbr_exact.setdefault(abbr, []).append((ti, ai))
            if len(abbr) >= 3:
                look.abbr_lower.setdefault(abbr.lower(), []).append((ti, ai))
        for pi, phrase in enumerate(t.phrases):
            if phrase:
                look.phrase_first.setdefault(phrase[0], []).append((ti, pi, phrase))
        for pi, phrase in enumerate(t.english_phrases):
            if phrase:
                look.english_first.setdefault(phrase[0], []).append((ti, pi, phrase))
    return look


@lru_cache(maxsize=4096)
def expand_query(q: str) -> tuple[tuple[Expansion, ...], tuple[str, ...]]:
    """Topics a query names (by abbreviation, synonym or English phrase) and the rest of its words.

    ``"SSPF Nacka"`` → SSPF expands to its abbreviation and "skola socialtjänst polis fritid";
    ``"shortage of foster homes"`` → "foster homes" becomes familjehem and friends. Swedish
    words that are a topic's synonym are kept as written (measured: expanding them to all
    synonyms lowered keyword nDCG@10 on the inflection queries from 0.82 to 0.65).
    """
    raw_tokens = swedish.WORD_RE.findall(q)
    used = [False] * len(raw_tokens)
    expansions: list[Expansion] = []
    stems = [swedish.stem(t) for t in raw_tokens]
    en = [_en(t) for t in raw_tokens]
    look = _lookup()
    # (n, start, end, topic, how, order): ``order`` is the place a loop over every topic's
    # abbreviations, then phrases, then English phrases would have found it, so ties in (n, start)
    # keep that loop's order; the lookup tables only skip what cannot match (same result, tested)
    candidates = []
    for i, tok in enumerate(raw_tokens):
        found = set(look.abbr_exact.get(tok, ()))
        low = tok.lower()
        if low not in swedish.STOPWORDS:
            found |= set(look.abbr_lower.get(low, ()))
        for ti, ai in found:
            candidates.append((1, i, i + 1, look.topics[ti], "abbreviation", (ti, 0, ai, i)))
    for i, st in enumerate(stems):
        for ti, pi, phrase in look.phrase_first.get(st, ()):
            n = len(phrase)
            if tuple(stems[i: i + n]) == phrase:
                candidates.append((n, i, i + n, look.topics[ti], "synonym", (ti, 1, pi, i)))
    seq = [j for j, tok in enumerate(raw_tokens) if tok.lower() not in ENGLISH_STOPWORDS]
    for k, j in enumerate(seq):
        for ti, pi, phrase in look.english_first.get(en[j], ()):
            n = len(phrase)
            idx = seq[k: k + n]
            if len(idx) == n and tuple(en[x] for x in idx) == phrase and idx[-1] - idx[0] < n + 3:
                candidates.append((n + 0.5, idx[0], idx[-1] + 1, look.topics[ti], "english", (ti, 2, pi, k)))
    candidates.sort(key=lambda c: (-c[0], c[1], c[5]))
    for _n, a, b, t, how, _order in candidates:
        if any(used[a:b]) or any(e.topic == t.id for e in expansions):
            continue
        for k in range(a, b):
            used[k] = True
        alts = list(dict.fromkeys([tuple(swedish.stem(x) for x in swedish.tokens(abbr)) for abbr in t.abbreviations] + t.phrases))
        if how == "synonym":
            # the user wrote the Swedish words: search for them as written (stems and
            # compounds already find their inflections); the topic is only recorded
            alts = [tuple(stems[a:b])]
        expansions.append(Expansion(t.id, " ".join(raw_tokens[a:b]), alts, {s for alt in alts for s in alt}, how))
    rest = tuple(tok for tok, u in zip(raw_tokens, used) if not u)
    return tuple(expansions), rest
