"""English questions: which query words are English, and their Swedish words.

The reports are Swedish; a question in English ("shortage of foster homes") finds little by its
words and, corrected to the nearest Swedish term, finds wrong ones (*many* → *man*). In the
meaning-aware modes a query that reads as English has its English words looked up in a
glossary of social-services words (``data/english_sv.yml``, written from the domain, never from
the evaluation queries); those Swedish words rank the passages (the "some of the words"
ranking) but are never required or counted, so the number of passages that contain the words
is the question's own, and they stay out of the query vector, so the similarity threshold that
keeps absent topics out holds as calibrated. Every word added is shown ("Sökte också på: parents →
föräldrar"). The exact mode never translates.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources

import yaml

from .. import swedish, topics

# README (issue 13, session 11: on, "some", with the 30 English questions of the larger evaluation
# set; off before): RAPPORTSOK_ENGLISH=0 turns it off
ENABLED = os.environ.get("RAPPORTSOK_ENGLISH", "1") != "0"
# "some" (default): the Swedish words only rank, in the "some of the words" ranking – never
# required, never counted: the counts are those of the question without them;
# "all": the Swedish words are required like the query's own words (counted as word matches);
# "uncorrected": nothing is translated, the English words are only kept from spelling correction
MODE = os.environ.get("RAPPORTSOK_ENGLISH_MODE", "some")
# how well a translated word is known, for the keyword side's weight in hybrid (a corrected word: 0.5)
KNOWN = float(os.environ.get("RAPPORTSOK_ENGLISH_KNOWN", "1"))
# weight of the Swedish words' embedding added to an English query's vector (0 = not added, the
# default: a vector of a few generic Swedish words – "barn", "pris" – lifted absent-topic English
# questions over the calibrated threshold: "school meals for children" 0.813 → 0.872, README)
SEMANTIC_SHARE = float(os.environ.get("RAPPORTSOK_ENGLISH_SEMANTIC", "0"))
# English function words beyond topics.ENGLISH_STOPWORDS (never searched for)
FUNCTION_WORDS = topics.ENGLISH_STOPWORDS | frozenset(
    "how what which who why when where does do did much many there their they them this that these those has have "
    "had was were be been being not no than more most less after before through during will would can could should "
    "it its our we you your he she his her all any some each every other such only also very".split())
# Swedish function words that are also English words do not make a query Swedish
_SWEDISH = swedish.STOPWORDS - {"a", "man", "men", "under", "ex", "ca", "t", "bl", "er"}


@lru_cache(maxsize=1)
def glossary() -> dict[str, tuple[str, ...]]:
    with resources.files("rapportsok").joinpath("data/english_sv.yml").open(encoding="utf-8") as f:
        data = yaml.safe_load(f)["glossary"]
    return {str(k).lower(): tuple(str(x) for x in v) for k, v in data.items()}


def _forms(word: str) -> list[str]:
    w = word.lower()
    out = [w]
    if w.endswith("ies") and len(w) > 4:
        out.append(w[:-3] + "y")
    if w.endswith("es") and len(w) > 4:
        out.append(w[:-2])
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        out.append(w[:-1])
    if w.endswith("ing") and len(w) > 5:
        out += [w[:-3], w[:-3] + "e"]
    if w.endswith("ed") and len(w) > 4:
        out += [w[:-2], w[:-1]]
    return out


def swedish_for(word: str) -> tuple[str, ...]:
    """The glossary's Swedish words for an English word (any simple inflection), or ()."""
    g = glossary()
    for f in _forms(word):
        if f in g:
            return g[f]
    return ()


def is_english(words: list[str], known) -> bool:
    """Does a query read as English? More than half of its words are English function words or
    glossary words the reports do not contain (``known(word)`` is false: *personal*, *budget*
    are Swedish too), at least one is such a glossary word, and none is a Swedish function
    word or has å/ä/ö."""
    low = [w.lower() for w in words]
    if not low or any(set(w) & set("åäö") or w in _SWEDISH for w in low):
        return False
    glossed = [w for w in low if w not in FUNCTION_WORDS and swedish_for(w) and not known(w)]
    english = [w for w in low if w in FUNCTION_WORDS] + glossed
    return bool(glossed) and len(english) * 2 > len(low)
