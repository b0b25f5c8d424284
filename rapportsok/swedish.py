"""Swedish text processing for the keyword index: tokens, Snowball stems and compound parts.

Swedish writes compounds as one word ("familjehemsplaceringar", "äldreomsorg"), and no
SQLite tokenizer splits them. At build time every word is indexed as its Snowball stem
(PyStemmer) *plus* the stems of its compound parts, so a query for "familjehem" finds
"familjehemsplaceringar" and "omsorg" finds "äldreomsorg". Queries are only stemmed.

Compounds are split after Koehn & Knight (2003): among the ways to cut the word into known
words (optionally joined by the linking letters -s-, -e-, -a-, -u-, -o-), take those with
the fewest parts and of them the one whose parts have the highest mean log frequency, and
keep it if that mean beats the frequency of the whole word. Very frequent words ("ungdomar", "verksamhet") stay whole, and function words ("den",
"kan", "vår") are never parts. The measured effect is in the README. Word frequencies come
from the ``wordfreq`` package's Swedish list (no download).
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer
from wordfreq import top_n_list, zipf_frequency

WORD_RE = re.compile(r"\w+", re.UNICODE)
MIN_PART = 3          # shortest compound part ("hem", "råd")
MIN_COMPOUND = 6      # shortest word worth splitting
MAX_COMPOUND = 60     # longer "words" (hashes, runs of letters) are not split: the search is quadratic
MIN_PART_ZIPF = 2.5   # parts must be at least this common (Zipf scale, 3 = once per million words)
SHORT_PART_ZIPF = 4.0  # three-letter parts must be common words ("hem", "oro", "hel")
COMMON_WORD_ZIPF = 4.5  # words this common are simple words, never split ("ungdomar" ≠ ung+domar)
LINKERS = ("", "s", "e", "a", "u", "o")
LEXICON_SIZE = 200_000

# Snowball's Swedish stop-word list (shortened to function words).
STOPWORDS = frozenset("""
och det att i en jag hon som han på den med var sig för så till är men ett om hade de av icke
mig du henne då sin nu har inte hans honom skulle hennes där min man ej vid kunde något från ut
när efter upp vi dem vara vad över än dig kan sina här ha mot alla under någon eller allt mycket
sedan ju denna själv detta åt utan varit hur ingen mitt ni bli blev oss din dessa några deras
blir mina samma vilken er sådan vår blivit dess inom mellan sådant varför varje vilka ditt vem
vilket sitta sådana vart dina vars vårt våra ert era vilkas samt bl a t ex ca även
""".split())


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("swedish")


@lru_cache(maxsize=1)
def _lexicon() -> frozenset[str]:
    return frozenset(w for w in top_n_list("sv", LEXICON_SIZE) if w.isalpha() and len(w) >= MIN_PART)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; hyphens and punctuation split words)."""
    return [t.lower() for t in WORD_RE.findall(text.replace("_", " "))]


def stem(word: str) -> str:
    return _stemmer().stemWord(word.lower())


@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    """How common ``word`` is in Swedish (wordfreq's Zipf scale; 0 for a word its list lacks)."""
    return zipf_frequency(word, "sv") if word in _lexicon() else 0.0


def _part_score(part: str) -> float:
    """Frequency of a compound part; a part may drop a final -e ('arbets' from 'arbete')."""
    if part in STOPWORDS:
        return 0.0
    z = zipf(part)
    if len(part) == MIN_PART:
        return z if z >= SHORT_PART_ZIPF else 0.0
    if z < MIN_PART_ZIPF and len(part) >= 5:
        z = zipf(part + "e")
    return z if z >= MIN_PART_ZIPF else 0.0


@lru_cache(maxsize=200_000)
def split_compound(word: str) -> tuple[tuple[int, int], ...]:
    """Best split of ``word`` into parts, as (start, end) spans; one span if it stays whole.

    >>> w = "familjehemsplaceringar"; [w[a:b] for a, b in split_compound(w)]
    ['familje', 'hem', 'placeringar']
    """
    n = len(word)
    whole = ((0, n),)
    if n < MIN_COMPOUND or n > MAX_COMPOUND or not word.isalpha():
        return whole
    # best[i] = (sum of scores, number of parts, spans) for word[:i]
    best: list[tuple[float, int, tuple] | None] = [None] * (n + 1)
    best[0] = (0.0, 0, ())
    for i in range(n):
        if best[i] is None:
            continue
        total, count, spans = best[i]
        for j in range(i + MIN_PART, n + 1):
            if i == 0 and j == n:
                continue  # the whole word is not a split
            score = _part_score(word[i:j])
            if score <= 0:
                continue
            for linker in LINKERS:
                k = j + len(linker)
                if k > n or word[j:k] != linker or (linker and k == n):
                    continue
                cand = (total + score, count + 1, spans + ((i, j),))
                cur = best[k]
                if cur is None or (cand[1], -cand[0] / cand[1]) < (cur[1], -cur[0] / cur[1]):
                    best[k] = cand
    result = best[n]
    whole_zipf = zipf(word)
    if result is None or whole_zipf >= COMMON_WORD_ZIPF or result[0] / result[1] <= whole_zipf:
        return whole
    return result[2]


@lru_cache(maxsize=200_000)
def index_terms(word: str) -> tuple[str, ...]:
    """Stems to index for one word: the word itself and every run of its compound parts.

    For "familjehemsplaceringar" (parts familje|hem|s|placeringar) this yields the stems of
    familjehemsplaceringar, familje, hem, placeringar, familjehem and hemsplaceringar.
    """
    word = word.lower()
    out = [stem(word)]
    spans = split_compound(word)
    if len(spans) > 1:
        for a in range(len(spans)):
            for b in range(a, len(spans)):
                if a == 0 and b == len(spans) - 1:
                    continue
                piece = word[spans[a][0]: spans[b][1]]
                out.append(stem(piece))
    return tuple(dict.fromkeys(out))


CAPS_MARK = "xcaps"  # index term prefix for a word written in capitals: "SIG" → "xcapssig"


def is_caps(word: str) -> bool:
    """A word in capitals that reads as an abbreviation (SIG, HVB, LVU; 2–6 letters)."""
    return word.isalpha() and word.isupper() and 2 <= len(word) <= 6


def search_terms(text: str) -> str:
    """The text of the ``search_terms`` column: every word's stem and compound-part stems,
    plus ``xcaps<word>`` for a word in capitals, so "SIG" can be told from "sig"."""
    out: list[str] = []
    for raw in WORD_RE.findall(text.replace("_", " ")):
        tok = raw.lower()
        out.extend(index_terms(tok))
        if is_caps(raw):
            out.append(CAPS_MARK + tok)
    return " ".join(out)
