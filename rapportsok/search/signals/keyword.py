"""The keyword signal: which passages contain the words, ranked by BM25.

:func:`understand` turns a parsed query (:mod:`rapportsok.search.syntax`) into one FTS5
expression over the index that the build wrote (``chunks_fts``: passage text, section path
and ``search_terms`` = Snowball stems + compound-part stems + ``xcaps<word>`` for words in
capitals):

* a word → its stem and the indexed inflections Snowball leaves apart (in ``search_terms``,
  which also holds every compound part: *familjehem* finds *familjehemsplaceringar*);
* a word in capitals → only that word in capitals (``xcapssig``), or the abbreviation's
  own expansion from ``data/topics.yml`` (*sociala insatsgrupper*);
* ``"a phrase"`` → the exact words in order, in the passage text; ``pre*`` → a prefix;
* every clause is required (AND), ``OR`` joins alternatives, ``-word``/``NOT word`` are cut
  away (``NOT``).

The meaning-aware modes (hybrid, semantic) may add to this – topic synonyms for an
abbreviation or an English phrase, and the nearest indexed word for an unknown word – and
every addition is reported (``Understood.expansions``/``corrections``) so the page can show
it ("Sökte också på …") and offer to turn it off (``expand=0``). The exact mode adds nothing:
an unknown word matches nothing, and a suggestion is offered ("Menade du …?").
"""

from __future__ import annotations

import bisect
import os
import re
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ... import swedish, topics
from ...errors import SearchError
from .. import english
from ..highlight import Marks
from ..leaves import Evaluated, Leaves
from ..syntax import ParsedQuery, Term, parse
from . import Ranking

FTS_WEIGHTS = tuple(float(x) for x in os.environ.get("RAPPORTSOK_FTS_WEIGHTS", "0,0.3,1").split(","))
# ^ bm25 weights for chunks_fts columns text, section, search_terms (README, issue 13: measured on dev)
TIME_LIMIT_S = 2.0              # one keyword query never runs longer (SQLite progress handler)
PROGRESS_OPS = 10_000           # SQLite VM steps between two looks at the clock
ANY_WORD_TIME_LIMIT_S = 0.5     # the "some of the words" ranking only orders: past this it is left out
WINDOW = 3000                   # ranked passages kept per query (reachable: offset ≤ 2000 + limit ≤ 1000)
PREFIX_MIN_LEN = 5
CORRECT_MIN = 80               # spelling correction: the nearest term must have fuzz.ratio ≥ this
SHORTER_STEMS = os.environ.get("RAPPORTSOK_SHORTER_STEMS", "0") != "0"   # README, issue 13
# A real Swedish word the reports lack ("tycker", "räntan") is not a misspelling: it is corrected
# only to an inflection of itself (the same first REAL_WORD_PREFIX letters: "investerade" →
# investering). A look-alike ("räntan" → väntan) may still order the passages ("rank", the
# default: shown as such, never required or counted), or is not searched at all ("drop"); "0" =
# corrected like a misspelling, as before. Real = wordfreq Zipf ≥ REAL_WORD_ZIPF. README, issue 13.
REAL_WORDS = os.environ.get("RAPPORTSOK_REAL_WORDS", "rank")
REAL_WORD_ZIPF = 3.0
REAL_WORD_PREFIX = 5
# An unknown compound the reports lack as a whole ("hedersvåld", "samtalsstöd") is searched as its
# parts next to each other (heders våld → "hedersrelaterat våld"), as the index splits compounds.
SPLIT_UNKNOWN = os.environ.get("RAPPORTSOK_SPLIT_UNKNOWN", "0") != "0"  # README, issue 13 (session 14)
ANY_WORD_CANDIDATES = 50        # hybrid: passages with some of the words, ranked by BM25
ANY_WORD_WEIGHT = float(os.environ.get("RAPPORTSOK_ANY_WORD_WEIGHT", "1"))
ANY_WORD_MAX_POSTINGS = 20_000  # "some of the words" scores at most about this many (term, passage) pairs
STEMS = "{search_terms section}"
TERM_RE = re.compile(r'"([^" ]+)"')
TERM_RE_ANY = re.compile(r'"([^"]+)"')


@dataclass
class Understood:
    """What the keyword side will look for, and everything it added on its own."""

    parsed: ParsedQuery
    expression: str                      # FTS5 expression; "" = nothing can match
    marks: Marks
    any_expression: str = ""             # meaning-aware modes: passages with some of the words (ranking only)
    coverage: float = 1.0                # share of clauses the index knows (hybrid weight)
    corrections: dict = field(default_factory=dict)   # applied: word → indexed term
    rank_only: dict = field(default_factory=dict)     # look-alikes of real words: only rank, not counted
    suggestions: dict = field(default_factory=dict)   # offered, not applied ("Menade du")
    expansions: list = field(default_factory=list)    # [{"topic", "label", "matched", "terms"}]
    unknown: list = field(default_factory=list)       # words no passage contains
    topics: list = field(default_factory=list)        # topics the query names
    dropped: list = field(default_factory=list)       # function words not required
    clause_terms: list = field(default_factory=list)  # per required/ranked clause: its index terms (proximity)
    swedish: str = ""                                 # an English query's glossary words in Swedish (meaning-aware)


def _quote(term: str) -> str:
    return '"' + term.replace('"', "") + '"'


class Vocabulary:
    """The index's terms: spelling correction and inflections."""

    def __init__(self, vocab: dict[str, int]):
        self.vocab = vocab
        self.terms = [t for t in vocab if not t.startswith(swedish.CAPS_MARK)]
        self.sorted = sorted(self.terms)

    def __contains__(self, term: str) -> bool:
        return term in self.vocab

    def correct(self, word: str) -> str | None:
        """Nearest indexed term for a word/stem the index does not contain (None if none close):
        the most frequent of the terms with the highest ``fuzz.ratio`` ≥ 80.

        Only terms that could reach 80 are compared (:meth:`_could_match`, a bound that never
        leaves out a term that reaches it), in vocabulary order, so the answer is the one a scan
        of every term gives (tested) – ≈10× faster on the corpus."""
        if word in self.vocab or len(word) < 4 or word.isdigit():
            return None
        from rapidfuzz import fuzz, process

        terms = self._could_match(word)
        best = process.extractOne(word, terms, scorer=fuzz.ratio, score_cutoff=CORRECT_MIN)
        if best is None:
            return None
        ties = process.extract(word, terms, scorer=fuzz.ratio, score_cutoff=best[1] - 1e-6, limit=5)
        candidates = [t for t, _, _ in ties] or [best[0]]
        return max(candidates, key=lambda t: (self.vocab.get(t, 0), t))

    def _could_match(self, word: str) -> list[str]:
        """The terms whose ``fuzz.ratio`` with ``word`` can be ≥ ``CORRECT_MIN``, in vocabulary order.

        ``fuzz.ratio(a, b)`` = 200·LCS(a, b) / (len a + len b), and the longest common subsequence
        holds at most min(count in a, count in b) of each character – summed over the characters,
        a bound computed for every term at once from a table of character counts per term
        (the 63 most common characters, the rest counted together, which only loosens the bound).
        A term whose bound is below the cut-off cannot reach it."""
        table = self._char_table()
        if table is None:
            return self.terms
        columns, counts, lengths, terms = table
        wanted: dict[int, int] = {}
        for ch in word:
            col = columns.get(ch, len(columns))
            wanted[col] = wanted.get(col, 0) + 1
        if max(wanted.values()) > 255:    # the table's counts stop at 255: scan everything
            return self.terms
        bound = np.zeros(len(lengths), dtype=np.int32)
        for col, n in wanted.items():
            bound += np.minimum(counts[:, col], n)
        # 200·bound / (la + lb) ≥ CORRECT_MIN, in integers (no rounding can drop a term)
        keep = np.flatnonzero(200 * bound >= CORRECT_MIN * (lengths + len(word)))
        return terms[keep].tolist()

    def _char_table(self):
        """Per term: counts of the 63 most common characters and of all others (cached)."""
        table = getattr(self, "_table", False)
        if table is not False:
            return table
        table = None
        if self.terms:
            joined = "".join(self.terms)
            codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            lengths = np.fromiter((len(t) for t in self.terms), dtype=np.int64, count=len(self.terms))
            uniq, inverse, freq = np.unique(codes, return_inverse=True, return_counts=True)
            common = np.argsort(-freq, kind="stable")[:63]           # positions in uniq, most common first
            col_of = np.full(len(uniq), len(common), dtype=np.int64)   # everything else: the last column
            col_of[common] = np.arange(len(common))
            columns = {chr(int(uniq[u])): i for i, u in enumerate(common)}
            col = col_of[inverse]
            owner = np.repeat(np.arange(len(self.terms)), lengths)
            width = len(columns) + 1
            flat = np.bincount(owner * width + col, minlength=len(self.terms) * width)
            counts = np.asfortranarray(np.minimum(flat.reshape(len(self.terms), width), 255).astype(np.uint8))
            table = (columns, counts, lengths, np.array(self.terms, dtype=object))
        self._table = table
        return table

    def inflections(self, stem: str) -> list[str]:
        """The stem and indexed terms that extend it by one or two letters ("familjehem" →
        "familjehemm", from "familjehemmen"), which Snowball leaves apart.

        Used instead of an FTS5 prefix query: on the synthetic 1M-passage corpus a prefix
        query took 445 ms where the exact term took 117 ms (benchmarks/search_benchmark.py)."""
        if len(stem) < PREFIX_MIN_LEN:
            return [stem]
        out = [stem]
        if SHORTER_STEMS:
            # "stödboendena" → "stödboenden", indexed as "stödboend" (from "stödboende")
            out += [stem[:n] for n in (len(stem) - 1, len(stem) - 2) if n >= PREFIX_MIN_LEN and stem[:n] in self.vocab]
        i = bisect.bisect_left(self.sorted, stem)
        while i < len(self.sorted) and self.sorted[i].startswith(stem) and len(out) < 6:
            term = self.sorted[i]
            if term != stem and len(term) <= len(stem) + 2:
                out.append(term)
            i += 1
        return out


def look_alike(word: str, stem: str, fixed: str) -> bool:
    """Whether ``fixed`` would replace a real Swedish ``word`` by a look-alike, not an inflection of it
    (never with ``REAL_WORDS`` "0"; a word no Swedish list knows is a misspelling, always corrected)."""
    if REAL_WORDS == "0" or swedish.zipf(word.lower()) < REAL_WORD_ZIPF:
        return False
    return len(os.path.commonprefix([stem, fixed])) < REAL_WORD_PREFIX


def known_parts(vocab: Vocabulary, word: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """An unknown compound's parts (as written, and their stems) when the index knows every part."""
    w = word.lower()
    spans = swedish.split_compound(w)
    if len(spans) < 2:
        return None
    words = tuple(w[a:b] for a, b in spans)
    stems = tuple(swedish.stem(x) for x in words)
    if not all(st in vocab for st in stems):
        return None
    return words, stems


def _stem_alt(vocab: Vocabulary, stems: tuple[str, ...]) -> str:
    if len(stems) == 1:
        return f"{STEMS} : (" + " OR ".join(_quote(f) for f in vocab.inflections(stems[0])) + ")"
    return f"{STEMS} : NEAR(" + " ".join(_quote(s) for s in stems) + f", {2 * len(stems)})"


def _mark_stems(marks: Marks, vocab: Vocabulary, stems: tuple[str, ...]) -> None:
    """Highlight exactly what the alternative matches: a stem's inflections, or a sequence."""
    if len(stems) == 1:
        marks.stems |= set(vocab.inflections(stems[0]))
    else:
        marks.stem_phrases.append(tuple(stems))


def _phrase_stems(text: str) -> tuple[str, ...]:
    return tuple(swedish.stem(t) for t in swedish.tokens(text) if t not in swedish.STOPWORDS)


def understand(vocab: Vocabulary, q: str, meaning_aware: bool, expand: bool = True) -> Understood:
    """Query → FTS5 expression and what was added (see the module docstring)."""
    parsed = parse(q)
    out = Understood(parsed=parsed, expression="", marks=Marks(), dropped=list(parsed.dropped))
    marks = out.marks
    adds = meaning_aware and expand
    clauses: list[list[Term]] = [list(c.terms) for c in parsed.clauses]
    extra_alts: dict[int, list[str]] = {}
    # topics the query names: recorded always, expanded only when meaning-aware
    plain = [(i, c[0]) for i, c in enumerate(clauses) if len(c) == 1 and c[0].kind == "word"]
    expansions, _rest = topics.expand_query(" ".join(t.text for _, t in plain))
    out.topics = [e.topic for e in expansions]
    if adds:
        for e in expansions:
            if e.how not in ("abbreviation", "english"):
                continue
            t = topics.topics_by_id()[e.topic]
            matched = [w.lower() for w in e.matched.split()]
            spots = [i for i, term in plain if term.text.lower() in matched]
            if not spots:
                continue
            alts = [f"{{search_terms}} : {_quote(swedish.CAPS_MARK + a.lower())}" for a in t.abbreviations
                    if swedish.is_caps(a) and swedish.CAPS_MARK + a.lower() in vocab]
            alts += [_stem_alt(vocab, p) for p in t.phrases]
            marks.caps |= {a for a in t.abbreviations if swedish.is_caps(a)}
            for p in t.phrases:
                _mark_stems(marks, vocab, p)
            out.expansions.append({"topic": t.id, "label": t.label, "matched": e.matched,
                                   "terms": list(t.abbreviations) + [s for s in t.synonyms if s not in t.abbreviations]})
            extra_alts[spots[0]] = alts
            for i in spots[1:]:
                clauses[i] = []
            for i in spots[:1]:
                if not clauses[i][0].caps and swedish.stem(clauses[i][0].text) not in vocab:
                    clauses[i] = []  # the English words themselves are not in the reports

    translated: set[int] = set()
    if adds and english.ENABLED:
        translated = _translate_english(vocab, out, clauses, plain, extra_alts)

    def alts_for(term: Term, positive: bool) -> tuple[list[str], float]:
        """FTS alternatives for one term and how well it is known (1, 0.5 corrected, 0)."""
        if term.kind == "phrase":
            words = term.words
            if positive:
                marks.phrases.append(tuple(words))
            return ["{text} : " + _quote(" ".join(words))], 1.0
        if term.kind == "prefix":
            if positive:
                marks.prefixes.add(term.text)
            return ["{text search_terms} : " + _quote(term.text) + " *"], 1.0
        if term.caps:
            alts = []
            if swedish.CAPS_MARK + term.text.lower() in vocab:
                alts.append("{search_terms} : " + _quote(swedish.CAPS_MARK + term.text.lower()))
                if positive:
                    marks.caps.add(term.text)
            if expand:
                for t in topics.load_topics():
                    if term.text in t.abbreviations and t.abbreviations[term.text]:
                        stems = _phrase_stems(t.abbreviations[term.text])
                        if stems and all(s in vocab for s in stems):
                            alts.append(_stem_alt(vocab, stems))
                            if positive:
                                _mark_stems(marks, vocab, stems)
                                if not any(e["topic"] == t.id for e in out.expansions):
                                    out.expansions.append({"topic": t.id, "label": t.label, "matched": term.text,
                                                           "terms": [t.abbreviations[term.text]]})
            return alts, 1.0 if alts else 0.0
        s = swedish.stem(term.text)
        if s in vocab or term.text.isdigit():
            if positive:
                _mark_stems(marks, vocab, (s,))
            return [_stem_alt(vocab, (s,))], 1.0
        if not positive:
            return [], 0.0
        if adds:
            fixed = vocab.correct(s)
            if fixed and look_alike(term.text, s, fixed):
                if REAL_WORDS == "rank":
                    # a look-alike of a real word: it may order the passages, it is not counted
                    out.rank_only[term.text] = fixed
                    return [_stem_alt(vocab, (fixed,))], 0.5
                fixed = None
            if fixed:
                out.corrections[term.text] = fixed
                _mark_stems(marks, vocab, (fixed,))
                return [_stem_alt(vocab, (fixed,))], 0.5
            parts = known_parts(vocab, term.text) if SPLIT_UNKNOWN else None
            if parts:
                words, stems = parts
                out.corrections[term.text] = " ".join(words)
                _mark_stems(marks, vocab, stems)
                return [_stem_alt(vocab, stems)], 0.5
        elif not meaning_aware:
            suggestion = vocab.correct(term.text)
            if suggestion and look_alike(term.text, s, suggestion):
                suggestion = None   # "Menade du: väntan?" for "räntan" helps nobody
            if suggestion:
                out.suggestions[term.text] = suggestion
        return [], 0.0

    if meaning_aware:
        # English function words ("shortage of foster homes") are not required either
        kept = [i for i, c in enumerate(clauses) if c or i in extra_alts]
        for i in kept:
            c = clauses[i]
            if len(kept) > 1 and len(c) == 1 and c[0].kind == "word" and not c[0].caps and c[0].text in topics.ENGLISH_STOPWORDS:
                clauses[i] = []
                out.dropped.append(c[0].text)
    parts: list[str] = []
    some_only: list[str] = []   # translated English words, when they only rank (english.MODE == "some")
    known: list[float] = []
    impossible = False
    for i, clause in enumerate(clauses):
        if not clause and i not in extra_alts:
            continue
        alts: list[str] = list(extra_alts.get(i, []))
        best = (english.KNOWN if i in translated else 1.0) if alts else 0.0
        for term in clause:
            a, k = alts_for(term, True)
            alts += a
            best = max(best, k)
        known.append(best)
        if not alts:
            out.unknown += [t.label() for t in clause]
            if not meaning_aware:
                impossible = True  # exact: a word that occurs nowhere – nothing contains all words
            continue
        part = "(" + " OR ".join(dict.fromkeys(alts)) + ")"
        out.clause_terms.append(frozenset(t for a in alts for t in TERM_RE.findall(a)))
        looks_alike = bool(clause) and all(t.text in out.rank_only for t in clause)
        if looks_alike:
            out.unknown += [t.label() for t in clause]   # the reports lack it: say so, as for any unknown word
        if (i in translated and english.MODE == "some") or looks_alike:
            some_only.append(part)
        else:
            parts.append(part)
    out.coverage = sum(known) / len(known) if known else 0.0
    if impossible or not (parts or some_only):
        return out
    negative = [a for term in parsed.excluded for a in alts_for(term, False)[0]]
    if parts:
        expression = " AND ".join(parts)
        if negative:
            expression = f"({expression}) NOT (" + " OR ".join(negative) + ")"
        out.expression = expression
    if meaning_aware and len(parts) + len(some_only) > 1:
        out.any_expression = " OR ".join(parts + some_only)
        if negative:
            out.any_expression = f"({out.any_expression}) NOT (" + " OR ".join(negative) + ")"
    if out.any_expression:
        # shown as ranking only; without "some of the words" (a one-word question) it orders nothing
        out.expansions += [{"topic": None, "label": "liknande ord", "matched": word, "terms": [fixed], "counted": False}
                           for word, fixed in out.rank_only.items()]
    return out


def _translate_english(vocab: Vocabulary, out: Understood, clauses: list[list[Term]], plain: list[tuple[int, Term]],
                       extra_alts: dict[int, list[str]]) -> set[int]:
    """An English query (:mod:`..english`): each glossary word is searched for as its Swedish
    words (shown as an expansion), function words are not required, and an English word the
    glossary lacks is not "corrected" to a Swedish look-alike (*many* → *man*)."""
    def known(word: str) -> bool:
        return swedish.stem(word) in vocab

    words = [t.text for _, t in plain]
    if not english.is_english(words, known):
        return set()
    done: set[int] = set()
    swedish_words: list[str] = []
    for i, term in plain:
        if not clauses[i] or i in extra_alts:
            continue
        sv = english.swedish_for(term.text) if english.MODE != "uncorrected" else ()
        alts, found = [], []
        for phrase in sv:
            stems = _phrase_stems(phrase)
            if stems and all(st in vocab for st in stems):
                alts.append(_stem_alt(vocab, stems))
                _mark_stems(out.marks, vocab, stems)
                found.append(phrase)
        if alts:
            extra_alts[i] = alts
            done.add(i)
            swedish_words += found[:2]
            # "counted": False when the translation only ranks (english.MODE "some"): the page says so
            out.expansions.append({"topic": None, "label": "engelska", "matched": term.text, "terms": found,
                                   "counted": english.MODE != "some"})
            if not known(term.text):
                clauses[i] = []
        elif term.text in english.FUNCTION_WORDS:
            clauses[i] = []
            out.dropped.append(term.text)
        elif not known(term.text):
            clauses[i] = []
            out.unknown.append(term.text)
    out.swedish = " ".join(dict.fromkeys(swedish_words))
    return done


class KeywordSignal:
    """Passages that contain the words, ranked by BM25 (``rank``), and all of them (``matches``)."""

    name = "keyword"

    def __init__(self, index):
        self.index = index
        self.vocab = Vocabulary(index.vocab)
        self.leaves = Leaves(index, FTS_WEIGHTS)   # BM25 of common phrases, stored by the build
        self._understood: OrderedDict = OrderedDict()
        self._matches: OrderedDict = OrderedDict()

    def understand(self, req) -> Understood:
        key = (req.q, req.mode in ("hybrid", "semantic"), req.expand)
        with self.index._lock:
            if key in self._understood:
                return self._understood[key]
        result = understand(self.vocab, *key)
        with self.index._lock:
            self._understood[key] = result
            if len(self._understood) > 1024:
                self._understood.popitem(last=False)
        return result

    def matches(self, req, mask: np.ndarray | None, any_word: bool = False, limit: int | None = None,
                expression: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Positions (index rows) and BM25 scores of the passages, within the filters, that
        contain the words – best first (score, then id). ``limit``: only the best so many are
        returned; without it every match. Cached per query and filter. ``any_word``: the
        passages with some of the words instead (hybrid ranking only; never counted).

        The expression is evaluated over the BM25 the build stored per phrase (:mod:`..leaves`:
        common phrases read, rare ones asked of FTS5 alone), which gives every match and so the
        count too (remembered for :meth:`positions`). Only an expression that module does not
        parse (or ``RAPPORTSOK_LEAVES=0``) goes to FTS5 whole, where SQLite keeps the top
        ``limit`` (``order by … limit``). A filter whose passages form one run of ids (a kommun,
        a kommun and years: the build numbers passages by kommun, year, report) limits what is
        read or asked to that run; the mask is applied after (same rows). An empty filter
        matches nothing and reads nothing."""
        if expression is None:
            u = self.understand(req)
            expression = u.any_expression if any_word else u.expression
        fkey = _filter_key(req)
        key = (expression, fkey, limit)
        with self.index._lock:
            if key in self._matches:
                return self._matches[key]
        if not expression or (mask is not None and not mask.any()):
            return _EMPTY_MATCHES
        limit_s = ANY_WORD_TIME_LIMIT_S if any_word else TIME_LIMIT_S
        run = _one_run(mask, self.index.chunk_ids) if mask is not None else None
        stored = self._stored(expression, mask, run, limit_s)
        if stored is not None:      # the build stored this query's common phrases: no match is scored here
            result = _best(stored.positions, stored.scores, self.index.chunk_ids, limit)
            with self.index._lock:
                self._remember(key, result)
                if not any_word:
                    self._remember((expression, fkey, "all"), stored.positions)
            return result
        w = ", ".join(str(x) for x in FTS_WEIGHTS)
        sql, args = f"select rowid, -bm25(chunks_fts, {w}) as s from chunks_fts where chunks_fts match ?", [expression]
        if run is not None:
            sql += " and rowid between ? and ?"
            args += list(run)
        limited = limit is not None and (mask is None or run is not None)
        if limited:
            sql += " order by s desc, rowid limit ?"
            args.append(int(limit))
        rows = self._run(sql, args, limit_s)
        if rows:
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
            pos, keep = self._positions_of(ids, mask)
            scores = scores[keep]
            order = np.lexsort((self.index.chunk_ids[pos], -scores))
            result = (pos[order], scores[order])
        else:
            result = _EMPTY_MATCHES
        complete = not limited or len(rows) < int(limit)   # every match was read: the count is known too
        with self.index._lock:
            self._remember(key, result)
            if complete and not any_word:
                self._remember((expression, fkey, "all"), np.sort(result[0]))
        return result

    def _stored(self, expression: str, mask, run, limit_s: float) -> Evaluated | None:
        """The expression evaluated over the build's stored phrases (:mod:`..leaves`), or None."""
        return self.leaves.evaluate(expression, mask, run, lambda sql, args: self._run(sql, args, limit_s))

    def positions(self, req, mask: np.ndarray | None) -> np.ndarray:
        """Positions (index rows, ascending) of every passage within the filters that contains
        the words: what is counted (the result total, the overview per kommun × år, the batch
        CSV). Exact: the same evaluation as :meth:`matches` (which remembers it, so a ranking
        answers the count without a second pass); for an expression left to FTS5 whole, FTS5
        lists the matching ids without scoring them (one string of ids instead of a Python row
        per match). Cached."""
        expression = self.understand(req).expression
        key = (expression, _filter_key(req), "all")
        with self.index._lock:
            if key in self._matches:
                return self._matches[key]
        if not expression or (mask is not None and not mask.any()):
            return _EMPTY_MATCHES[0]
        run = _one_run(mask, self.index.chunk_ids) if mask is not None else None
        stored = self._stored(expression, mask, run, TIME_LIMIT_S)
        if stored is not None:
            with self.index._lock:
                self._remember(key, stored.positions)
            return stored.positions
        sql, args = "select group_concat(rowid) from chunks_fts where chunks_fts match ?", [expression]
        if run is not None:
            sql += " and rowid between ? and ?"
            args += list(run)
        text = self._run(sql, args, TIME_LIMIT_S)[0][0]
        ids = np.fromstring(text, dtype=np.int64, sep=",") if text else _EMPTY_MATCHES[0]
        pos = np.sort(self._positions_of(ids, mask)[0])
        with self.index._lock:
            self._remember(key, pos)
        return pos

    def _run(self, sql: str, args: list, limit_s: float) -> list:
        """Run one FTS5 query under a time limit (plain tuples, not ``sqlite3.Row``)."""
        conn = self.index.conn()
        deadline = time.monotonic() + limit_s
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, PROGRESS_OPS)
        try:
            cur = conn.cursor()
            cur.row_factory = None
            return cur.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise SearchError("q", "sökningen tog för lång tid; förenkla frågan") from None
            raise SearchError("q", f"kunde inte tolka frågan för ordsökning ({exc})") from None
        finally:
            conn.set_progress_handler(None, 0)

    def _positions_of(self, ids: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Index rows of passage ids, and which of ``ids`` were kept (known, within ``mask``)."""
        all_ids = self.index.chunk_ids
        pos = np.clip(np.searchsorted(all_ids, ids), 0, max(len(all_ids) - 1, 0))
        keep = all_ids[pos] == ids if len(all_ids) else np.zeros(len(ids), dtype=bool)
        if mask is not None:
            keep &= mask[pos]
        return pos[keep], keep

    def _remember(self, key, value) -> None:
        self._matches[key] = value
        self._matches.move_to_end(key)
        while len(self._matches) > 256:
            self._matches.popitem(last=False)

    def rank(self, index, req, mask: np.ndarray) -> Ranking:
        t = time.perf_counter()
        u = self.understand(req)
        within = mask if index.filtered(req) else None
        pos, scores = self.matches(req, within, limit=WINDOW)
        items = [(int(index.chunk_ids[p]), float(s)) for p, s in zip(pos[:WINDOW], scores[:WINDOW])]
        total = len(self.positions(req, within))
        return Ranking(self.name, items, {"total": total, "coverage": u.coverage, "understood": u},
                       weight=u.coverage, ms=(time.perf_counter() - t) * 1000)


    def rank_any(self, index, req, mask: np.ndarray, k: int = ANY_WORD_CANDIDATES) -> Ranking:
        """Passages with some but not necessarily all of the words (hybrid mode): a ranking
        signal for questions in other words than the report's; such a passage enters the
        result only if the semantic signal also puts it among its best (see the engine)."""
        t = time.perf_counter()
        u = self.understand(req)
        if not u.any_expression:
            return Ranking("any_word", [], {}, weight=0.0)
        filtered = index.filtered(req)
        expression = cap_any_expression(u.any_expression, self.vocab.vocab)
        try:
            pos, scores = self.matches(req, mask if filtered else None, any_word=True, expression=expression,
                                       limit=k if not filtered or _one_run(mask, index.chunk_ids) else None)
        except SearchError:
            # a common word over a large corpus: the search answers without this ranking
            return Ranking("any_word", [], {"stopped": True}, weight=0.0, ms=(time.perf_counter() - t) * 1000)
        items = [(int(index.chunk_ids[p]), float(s)) for p, s in zip(pos[:k], scores[:k])]
        return Ranking("any_word", items, {"total": len(pos)}, weight=ANY_WORD_WEIGHT * u.coverage,
                       ms=(time.perf_counter() - t) * 1000)


_EMPTY_MATCHES = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def _best(positions: np.ndarray, scores: np.ndarray, chunk_ids: np.ndarray, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The best ``limit`` (all if None) matches, best first: score, then passage id – FTS5's
    ``order by s desc, rowid limit k``; every match tied with the k-th is ordered before the cut."""
    if limit is not None and len(scores) > limit:
        kth = np.partition(scores, len(scores) - limit)[len(scores) - limit]
        keep = np.flatnonzero(scores >= kth)
        positions, scores = positions[keep], scores[keep]
    order = np.lexsort((chunk_ids[positions], -scores))[:limit]
    return positions[order], scores[order]


def phrase_leaves(vocab: Vocabulary, min_docs: int) -> list[str]:
    """The multi-word phrases a meaning-aware query may add (topic phrases and abbreviations'
    expansions, the English glossary's Swedish words), as :func:`_stem_alt` writes them, whose
    every word is in at least ``min_docs`` passages: the build stores their BM25 (:mod:`..leaves`)."""
    phrases: set[tuple[str, ...]] = set()
    for t in topics.load_topics():
        phrases.update(t.phrases)
        phrases.update(_phrase_stems(x) for x in t.abbreviations.values() if x)
    for words in english.glossary().values():
        phrases.update(_phrase_stems(x) for x in words)
    return sorted(_stem_alt(vocab, p) for p in phrases
                  if len(p) > 1 and all(vocab.vocab.get(s, 0) >= min_docs for s in p))


def _split_or(expression: str) -> tuple[list[str], str]:
    """``(A) OR (B) OR (C)`` [``NOT (…)``] → the top-level alternatives and the ``NOT`` tail."""
    tail = ""
    depth, quoted, parts, start = 0, False, [], 0
    if expression.startswith("((") and ") NOT (" in expression:
        cut = expression.rindex(") NOT (")
        expression, tail = expression[1:cut], expression[cut + 1:]
    for i, ch in enumerate(expression):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and expression.startswith(" OR ", i):
            parts.append(expression[start:i])
            start = i + 4
    parts.append(expression[start:])
    return [p.strip() for p in parts if p.strip()], tail


def cap_any_expression(expression: str, vocab: dict[str, int]) -> str:
    """The "some of the words" query, without its most common words when together they occur
    in more than ``ANY_WORD_MAX_POSTINGS`` (word, passage) pairs: BM25 gives such words little
    weight, and scoring every passage that has one of them dominated hybrid search at 1M
    passages. The rarest word is always kept. The corpus is far below the cap (same results)."""
    if not expression:
        return expression
    parts, tail = _split_or(expression)
    cost = [sum(vocab.get(t, 0) for t in TERM_RE_ANY.findall(p)) for p in parts]
    if len(parts) < 2 or sum(cost) <= ANY_WORD_MAX_POSTINGS:
        return expression
    keep = sorted(range(len(parts)), key=lambda i: cost[i])
    total, kept = 0, []
    for i in keep:
        if kept and total + cost[i] > ANY_WORD_MAX_POSTINGS:
            break
        kept.append(i)
        total += cost[i]
    body = " OR ".join(parts[i] for i in sorted(kept))
    return f"({body}){tail}" if tail else body


def _one_run(mask: np.ndarray, chunk_ids: np.ndarray) -> tuple[int, int] | None:
    """(first id, last id) if the rows in ``mask`` are one contiguous run of rows, else None."""
    rows = np.flatnonzero(mask)
    if not len(rows) or rows[-1] - rows[0] + 1 != len(rows):
        return None
    return int(chunk_ids[rows[0]]), int(chunk_ids[rows[-1]])


def _filter_key(req) -> tuple:
    return (tuple(req.kommunkoder), req.year_from, req.year_to, tuple(req.report_types), tuple(req.topics),
            req.kind, req.report_id)
