"""Issue 13, session 10: ranking steps tried on top of main, without changing the search core.

Each variant patches one step of the search in this process (the admission threshold, the
semantic ranking, the fusion), runs ``rapportsok.evaluation`` over a split and prints hybrid (and
semantic) nDCG@10 / R@10 / MRR with hybrid nDCG@10 per kind. Chosen on dev, then checked on test;
the README's "Ranking steps tried in session 10" table lists the results.

Run: ``python evaluation/ranking_experiments.py --split dev [variant …]`` (no variant: all).
The rows before "relative …" in the README were measured before relative admission and the
corrected words in semantic mode were kept (``RAPPORTSOK_RELATIVE_MARGIN=0``,
``RAPPORTSOK_CORRECTED_SHARE=0``); hybrid figures are the same with them.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from rapportsok import evaluation as ev, paths, swedish, topics
from rapportsok.query import SearchRequest
from rapportsok.search import SearchIndex, engine, english, fusion
from rapportsok.search.signals import Ranking, proximity, semantic
from rapportsok.search.syntax import parse


@contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


_rank = semantic.SemanticSignal.rank


def threshold(value: float):
    """Every meaning-only hit above ``value`` instead of the calibrated 0.86."""
    def go(index):
        return patched(index.semantic, "threshold", value)
    return go


def reads_english(index, q: str) -> bool:
    words = [t.text for t in parse(q).words() if t.kind == "word"]
    return english.is_english(words, lambda w: swedish.stem(w) in index.keyword.vocab)


def english_threshold(value: float):
    """A question that reads as English (english.is_english) admits meaning-only hits above ``value``."""
    def rank(self, index, req, mask, k=semantic.CANDIDATES, threshold=None):
        if reads_english(index, req.q):
            threshold = value
        return _rank(self, index, req, mask, k=k, threshold=threshold)
    return lambda index: patched(semantic.SemanticSignal, "rank", rank)


def relative(margin: float):
    """Once the query's best passage reaches the threshold, admit those within ``margin`` of it
    (``semantic.RELATIVE_MARGIN``, kept at 0.06; 0 = off, as before)."""
    return lambda index: patched(semantic, "RELATIVE_MARGIN", margin)


def depth(k: int):
    """The semantic ranking's length (default 50: all of it orders the word matches)."""
    def rank(self, index, req, mask, k_=semantic.CANDIDATES, threshold=None):
        return _rank(self, index, req, mask, k=k, threshold=threshold)
    return lambda index: patched(semantic.SemanticSignal, "rank", rank)


def reorder(score):
    """The semantic ranking re-ordered by ``score(index, r, sims)`` over all passages (admission by
    the plain similarity, as before)."""
    def rank(self, index, req, mask, k=semantic.CANDIDATES, threshold=None):
        r = _rank(self, index, req, mask, k=k, threshold=threshold)
        if not r.items:
            return r
        sims = index.similarities(r.evidence["query_vector"])
        s2 = np.where(mask, score(index, r, sims), -np.inf)
        top = np.argsort(-s2, kind="stable")[:k]
        r.items = [(int(index.chunk_ids[i]), float(sims[i])) for i in top]
        t = r.evidence["threshold"]
        r.evidence["admitted"] = {c for c, s in r.items if t is None or s >= t}
        return r
    return lambda index: patched(semantic.SemanticSignal, "rank", rank)


_cache: dict = {}


def hub_bias(index, kind: str) -> np.ndarray:
    """How similar each passage is to everything: its similarity to the corpus centroid, or its
    mean similarity to the 33 topic descriptions (embedded as queries)."""
    if kind not in _cache:
        if kind == "centroid":
            c = index.passage_vectors().mean(0)
            b = index.similarities(c / np.linalg.norm(c))
        else:
            b = np.mean([index.similarities(index.query_vector(f"{t.label}. {t.definition}"))
                         for t in topics.load_topics()], axis=0)
        _cache[kind] = b - b.mean()
    return _cache[kind]


def hubness(kind: str, lam: float):
    return reorder(lambda index, r, sims: sims - lam * hub_bias(index, kind))


def semantic_prf(beta: float, k: int = 3):
    """Query vector + beta × mean of the k best passages' own vectors (semantic pseudo-relevance feedback)."""
    def score(index, r, sims):
        top = np.argsort(-sims)[:k]
        q2 = r.evidence["query_vector"] + beta * index.passage_vectors()[top].mean(0)
        return index.similarities(q2 / np.linalg.norm(q2))
    return reorder(score)


def passage_mix(alpha: float):
    """Best of passage and windows, plus alpha × the passage's own vector's similarity."""
    return reorder(lambda index, r, sims: sims + alpha * (index.passage_vectors() @ r.evidence["query_vector"]))


def passage_ranking(weight: float, k: int = 50):
    """One more RRF ranking: the passages by their own vector only (no windows)."""
    orig = engine.SearchIndex.rankings

    def rankings(self, req, mask, semantic_weight=None):
        out = orig(self, req, mask, semantic_weight)
        if req.mode == "hybrid":
            qv = next(r for r in out if r.name == "semantic").evidence["query_vector"]
            s = np.where(mask, self.passage_vectors() @ qv, -np.inf)
            top = np.argsort(-s)[:k]
            out.append(Ranking("semantic_passage", [(int(self.chunk_ids[i]), float(s[i])) for i in top], weight=weight))
        return out
    return lambda index: patched(engine.SearchIndex, "rankings", rankings)


def coverage_power(p: float, names=("keyword", "any_word"), below: float = 1.01):
    """The keyword-side rankings weighted by coverage ** p instead of coverage (p = 1), for a
    query whose coverage is below ``below``."""
    orig = engine.SearchIndex.rankings

    def rankings(self, req, mask, semantic_weight=None):
        out = orig(self, req, mask, semantic_weight)
        for r in out:
            if r.name in names:
                cov = self.keyword.understand(req).coverage
                r.weight *= cov ** (p - 1) if 0 < cov < below else 1.0
        return out
    return lambda index: patched(engine.SearchIndex, "rankings", rankings)


def corrected_query(mix: float, skip_english: bool = False):
    """A query with spelling corrections ("sjukfrånvarro" → sjukfrånvaro) is also embedded with
    the corrected words in place: vector = (1 − mix) · query + mix · corrected query."""
    orig = semantic.SemanticSignal.query_vector

    def query_vector(self, index, q, expand=True):
        vec = orig(self, index, q, expand)
        u = index.keyword.understand(SearchRequest(q=q, mode="hybrid", expand=expand))
        if not u.corrections or (skip_english and reads_english(index, q)):
            return vec
        fixed = q
        for word, term in u.corrections.items():
            fixed = re.sub(rf"\b{re.escape(word)}\b", term, fixed)
        v = (1 - mix) * vec + mix * orig(self, index, fixed, expand)
        return v / np.linalg.norm(v)

    def go(index):
        # in every mode, instead of the kept semantic-mode step (semantic.CORRECTED_SHARE)
        stack = ExitStack()
        stack.enter_context(patched(semantic, "CORRECTED_SHARE", 0.0))
        stack.enter_context(patched(semantic.SemanticSignal, "query_vector", query_vector))
        return stack
    return go


def ranking_factor(name: str, f: float):
    """One hybrid ranking's RRF weight × f (keyword: all the words; any_word: some of them)."""
    orig = engine.SearchIndex.rankings

    def rankings(self, req, mask, semantic_weight=None):
        out = orig(self, req, mask, semantic_weight)
        for r in out:
            if r.name == name and req.mode == "hybrid":
                r.weight *= f
        return out
    return lambda index: patched(engine.SearchIndex, "rankings", rankings)


def semantic_weight(w: float):
    orig = engine.SearchIndex.search

    def search(self, req, *a, **kw):
        kw["semantic_weight"] = w
        return orig(self, req, *a, **kw)
    return lambda index: patched(engine.SearchIndex, "search", search)


def score_aware(tau: float, a: float = 1.0):
    """Each semantic hit's RRF term × (a · exp((s − best) / tau) + 1 − a): the similarity gap counts."""
    def rrf(rankings, k=fusion.RRF_K):
        scores: dict[int, float] = {}
        for ranking in rankings:
            best = ranking.items[0][1] if ranking.items else 0.0
            for rank, (cid, s) in enumerate(ranking.items, 1):
                f = a * math.exp((s - best) / tau) + 1 - a if ranking.name == "semantic" else 1.0
                scores[cid] = scores.get(cid, 0.0) + f * ranking.weight / (k + rank)
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return lambda index: patched(fusion, "rrf", rrf)


VARIANTS = {
    "baseline": lambda index: ExitStack(),
    "threshold 0.85": threshold(0.85), "threshold 0.84": threshold(0.84), "threshold 0.82": threshold(0.82),
    "english threshold 0.82": english_threshold(0.82), "english threshold 0.83": english_threshold(0.83),
    "relative 0 (off)": relative(0.0), "relative 0.02": relative(0.02), "relative 0.03": relative(0.03), "relative 0.04": relative(0.04),
    "relative 0.05": relative(0.05), "relative 0.06": relative(0.06), "relative 0.1": relative(0.1),
    "semantic weight 0.7": semantic_weight(0.7), "semantic weight 1.3": semantic_weight(1.3),
    "semantic weight 1.6": semantic_weight(1.6), "semantic weight 2": semantic_weight(2.0),
    "semantic weight 3": semantic_weight(3.0),
    "coverage power 2": coverage_power(2), "coverage power 3": coverage_power(3),
    "coverage power 2 keyword only": coverage_power(2, ("keyword",)),
    "coverage power 0.5": coverage_power(0.5),
    "coverage power 2 below 0.5": coverage_power(2, below=0.5), "coverage power 2 below 0.6": coverage_power(2, below=0.6),
    "coverage power 3 below 0.5": coverage_power(3, below=0.5),
    "corrected query 0.5": corrected_query(0.5), "corrected query 1": corrected_query(1.0),
    "corrected query 0.5 not english": corrected_query(0.5, True), "corrected query 1 not english": corrected_query(1.0, True),
    "keyword ranking × 0": ranking_factor("keyword", 0.0), "keyword ranking × 0.5": ranking_factor("keyword", 0.5),
    "keyword ranking × 1.5": ranking_factor("keyword", 1.5),
    "depth 30": depth(30), "depth 100": depth(100),
    "passage ranking 0.3": passage_ranking(0.3), "passage ranking 0.5": passage_ranking(0.5),
    "passage ranking 1": passage_ranking(1.0),
    "hubness centroid 0.1": hubness("centroid", 0.1), "hubness centroid 0.2": hubness("centroid", 0.2),
    "hubness centroid 0.3": hubness("centroid", 0.3), "hubness centroid 0.6": hubness("centroid", 0.6),
    "hubness topics 0.5": hubness("topics", 0.5), "hubness topics 1": hubness("topics", 1.0),
    "semantic prf 0.3": semantic_prf(0.3), "semantic prf 0.5": semantic_prf(0.5),
    "semantic prf 0.5 k5": semantic_prf(0.5, 5), "semantic prf 1": semantic_prf(1.0),
    "passage mix 0.3": passage_mix(0.3), "passage mix 1": passage_mix(1.0),
    "score-aware 0.01": score_aware(0.01), "score-aware 0.02": score_aware(0.02),
    "score-aware 0.05": score_aware(0.05), "score-aware 0.02 half": score_aware(0.02, 0.5),
}


# -- session 14 -------------------------------------------------------------------------------

def neighbour_smoothing(gamma: float):
    """Each passage's similarity + gamma × the mean similarity of the passages before and after
    it in the same report (the best one's at a report's edge): context carries meaning."""
    def score(index, r, sims):
        n = len(sims)
        rep = np.asarray(index.report)
        prev, nxt = np.maximum(np.arange(n) - 1, 0), np.minimum(np.arange(n) + 1, n - 1)
        has_p = (rep[prev] == rep) & (prev != np.arange(n))
        has_n = (rep[nxt] == rep) & (nxt != np.arange(n))
        both = (sims[prev] + sims[nxt]) / 2
        one = np.where(has_p, sims[prev], np.where(has_n, sims[nxt], sims))
        return sims + gamma * np.where(has_p & has_n, both, one)
    return reorder(score)


def kommun_named(weight: float, years: bool = False):
    """A query that names a kommun ("… i Kalmar") gets one more RRF ranking: the semantic ranking
    restricted to that kommun's passages (and, with ``years``, to the years it names or the one before)."""
    import dataclasses
    orig = engine.SearchIndex.rankings

    def rankings(self, req, mask, semantic_weight=None):
        out = orig(self, req, mask, semantic_weight)
        if req.mode != "hybrid":
            return out
        names = dict(self.conn().execute("select kommun, kommunkod from municipalities"))
        codes = [c for n, c in names.items() if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", req.q, re.I)]
        yrs = [int(y) for y in re.findall(r"\b(20[0-3]\d)\b", req.q)] if years else []
        if not codes and not yrs:
            return out
        m = mask & self.mask(dataclasses.replace(req, kommunkoder=codes or req.kommunkoder))
        if yrs:
            m &= np.isin(self.year, yrs + [y - 1 for y in yrs])
        qv = next(r for r in out if r.name == "semantic").evidence["query_vector"]
        s = np.where(m, self.similarities(qv), -np.inf)
        top = [i for i in np.argsort(-s)[:50] if np.isfinite(s[i])]
        out.append(Ranking("kommun_named", [(int(self.chunk_ids[i]), float(s[i])) for i in top], weight=weight))
        return out
    return lambda index: patched(engine.SearchIndex, "rankings", rankings)


def word_neighbours(tau: float, top: int, weight: float | None = None):
    """Each query word's nearest corpus words by the model (every indexed word's most frequent
    form embedded as a query, once) join the "some of the words" ranking (weight None) or rank
    as one more RRF ranking of their own: "gamla" → äldre, "jobba" → arbetet."""
    import collections
    import dataclasses
    orig = engine.SearchIndex.rankings

    def vocabulary(index):
        if "vocab" not in _cache:
            forms = collections.defaultdict(collections.Counter)
            for (text,) in index.conn().execute("select text from chunks"):
                for w in re.findall(r"[^\W\d_]{3,}", text):
                    forms[swedish.stem(w.lower())][w.lower()] += 1
            stems = sorted(forms)
            words = [forms[st].most_common(1)[0][0] for st in stems]
            _cache["vocab"] = (index.embedder().embed_queries(words), words, stems)
        return _cache["vocab"]

    def rankings(self, req, mask, semantic_weight=None):
        out = orig(self, req, mask, semantic_weight)
        if req.mode != "hybrid":
            return out
        vectors, words, stems = vocabulary(self)
        own = [t.text.lower() for t in parse(req.q).words() if t.kind == "word"]
        own_stems = {swedish.stem(w) for w in own}
        extra = []
        for w in own:
            if len(w) < 4 or w.isdigit() or w in swedish.STOPWORDS:
                continue
            sims = vectors @ self.query_vector(w)
            found = [words[i] for i in np.argsort(-sims)[:10] if sims[i] >= tau and stems[i] not in own_stems]
            extra += found[:top]
        if not extra:
            return out
        r2 = self.keyword.rank_any(self, dataclasses.replace(req, q=req.q + " " + " ".join(extra)), mask)
        if weight is None:
            return [r2 if r.name == "any_word" else r for r in out]
        r2.name, r2.weight = "word_neighbours", weight
        return out + [r2]
    return lambda index: patched(engine.SearchIndex, "rankings", rankings)


VARIANTS.update({
    "neighbours 0.1": neighbour_smoothing(0.1), "neighbours 0.15": neighbour_smoothing(0.15),
    "neighbours 0.2": neighbour_smoothing(0.2), "neighbours 0.3": neighbour_smoothing(0.3),
    "neighbours 0.5": neighbour_smoothing(0.5),
    "kommun named 0.5": kommun_named(0.5), "kommun named 1": kommun_named(1.0), "kommun named 2": kommun_named(2.0),
    "kommun and year named 0.5": kommun_named(0.5, True), "kommun and year named 1": kommun_named(1.0, True),
    "word neighbours 0.93 top 1": word_neighbours(0.93, 1), "word neighbours 0.92 top 2": word_neighbours(0.92, 2),
    "word neighbours 0.95 top 1": word_neighbours(0.95, 1),
    "word neighbours 0.93 top 1 own 0.5": word_neighbours(0.93, 1, 0.5),
    "word neighbours 0.92 top 2 own 0.5": word_neighbours(0.92, 2, 0.5),
    "word neighbours 0.95 top 1 own 0.5": word_neighbours(0.95, 1, 0.5),
})


def symmetric_query(share: float):
    """The query also embedded with E5's ``passage: `` prefix, as a text like the passages
    (session 11: +0.016 dev, +0.009 test): ranking by normalise(query vector + share × that
    vector); admission by the query vector's similarity, as calibrated."""
    def rank(self, index, req, mask, k=semantic.CANDIDATES, threshold=None):
        r = _rank(self, index, req, mask, k=k, threshold=threshold)
        if not r.items:
            return r
        q = r.evidence["query_vector"]
        sims = index.similarities(q)
        v = q + share * index.embedder().embed_passages([req.q])[0]
        s2 = np.where(mask, index.similarities((v / np.linalg.norm(v)).astype(np.float32)), -np.inf)
        top = np.argsort(-s2, kind="stable")[:k]
        r.items = [(int(index.chunk_ids[i]), float(sims[i])) for i in top]
        floor = r.evidence.get("floor")
        r.evidence["admitted"] = {c for c, s in r.items if floor is None or s >= floor}
        return r
    return lambda index: patched(semantic.SemanticSignal, "rank", rank)


def promote(slots: tuple[int, ...]):
    """After RRF, the semantic ranking's i-th passage is moved up to place ``slots[i]`` when it
    stands below it: the meaning signal's best answers are never buried by word matches."""
    orig = fusion.fuse

    def fuse(rankings, method="rrf", alpha=0.5):
        out = orig(rankings, method, alpha)
        sem = next((r for r in rankings if r.name == "semantic"), None)
        for i, slot in enumerate(slots):
            if sem is None or i >= len(sem.items):
                break
            ids = [c for c, _ in out]
            cid = sem.items[i][0]
            if cid in ids and ids.index(cid) + 1 > slot:
                out.insert(slot - 1, out.pop(ids.index(cid)))
        return out
    return lambda index: patched(engine.fusion_mod, "fuse", fuse)


VARIANTS.update({
    "symmetric query 1": symmetric_query(1.0),
    "promote semantic 3": promote((3,)), "promote semantic 5": promote((5,)), "promote semantic 2 5": promote((2, 5)),
    "promote semantic 3 6": promote((3, 6)), "promote semantic 3 6 9": promote((3, 6, 9)),
    "promote semantic 5 8": promote((5, 8)), "promote semantic 1": promote((1,)),
})


# -- session 15 ----------------------------------------------------------------------------------

def any_word_when_no_match(f: float):
    """The "some of the words" ranking's weight × f only when no passage has all the words (the
    paraphrase case, where it ranks passages by whichever single word they share)."""
    orig = engine.SearchIndex.rankings

    def rankings(self, req, mask, semantic_weight=None):
        out = orig(self, req, mask, semantic_weight)
        kw = next((r for r in out if r.name == "keyword"), None)
        for r in out:
            if r.name == "any_word" and kw is not None and not kw.items:
                r.weight *= f
        return out
    return lambda index: patched(engine.SearchIndex, "rankings", rankings)


def coverage_order(idf: str = "log1p"):
    """The "some of the words" ranking re-ordered by the share of the query's clauses a passage
    has, each clause weighted by its IDF (``log1p``: log(1 + N/df), ``squared``: that squared,
    ``uniform``: 1), ties in BM25 order; the same passages, so admission is unchanged."""
    orig = engine.SearchIndex.rankings

    def rankings(self, req, mask, semantic_weight=None):
        out = orig(self, req, mask, semantic_weight)
        aw = next((r for r in out if r.name == "any_word"), None)
        clauses = [c for c in self.keyword.understand(req).clause_terms if c] if aw is not None else []
        if not clauses or not aw.items:
            return out
        ids = [cid for cid, _ in aw.items]
        terms = {cid: set((t or "").split()) for cid, t in proximity.index_terms(self, ids).items()}
        n, vocab = len(self.chunk_ids), self.keyword.vocab.vocab
        w = [math.log(1 + n / max(1, max(vocab.get(t, 1) for t in c))) for c in clauses]
        w = {"log1p": w, "squared": [x * x for x in w], "uniform": [1.0] * len(w)}[idf]
        share = {cid: sum(x for c, x in zip(clauses, w) if c & terms.get(cid, set())) / sum(w) for cid in ids}
        aw.items = [it for _, _, it in sorted((-share[it[0]], i, it) for i, it in enumerate(aw.items))]
        return out
    return lambda index: patched(engine.SearchIndex, "rankings", rankings)


def thesaurus(mode: str, weight: float, path: str = "/usr/share/mythes/th_sv_SE_v2.dat"):
    """Swedish synonyms (LibreOffice's thesaurus, Debian package mythes-sv) as one more ranking:
    BM25 over the query's words OR their one-word synonyms that the reports contain (stems);
    ``add``: beside "some of the words", ``replace``: instead of it in the ordering (admission
    still by its own items)."""
    orig = engine.SearchIndex.rankings
    table: dict[str, set[str]] = {}

    def load(vocab):
        lines = Path(path).read_text(encoding="latin-1").splitlines()[1:]
        i = 0
        while i < len(lines):
            head, count = lines[i].rsplit("|", 1)
            for line in lines[i + 1: i + 1 + int(count)]:
                for syn in line.split("|")[1:]:
                    syn = syn.strip().lower()
                    if syn and " " not in syn and " " not in head:
                        st, hk = swedish.stem(syn), swedish.stem(head.lower())
                        if st in vocab and st != hk:
                            table.setdefault(hk, set()).add(st)
            i += 1 + int(count)

    def rankings(self, req, mask, semantic_weight=None):
        out = orig(self, req, mask, semantic_weight)
        if req.mode != "hybrid":
            return out
        if not table:
            load(self.keyword.vocab.vocab)
        groups = [sorted(table[s]) for s in (swedish.stem(t.text.lower()) for t in parse(req.q).words()
                                             if t.kind == "word" and t.text.lower() not in swedish.STOPWORDS) if s in table]
        if not groups:
            return out
        extra = " OR ".join("({search_terms section} : (" + " OR ".join(f'"{x}"' for x in g) + "))" for g in groups)
        base = self.keyword.understand(req).any_expression
        pos, scores = self.keyword.matches(req, None, any_word=True, expression=f"{base} OR {extra}" if base else extra, limit=50)
        aw = next((r for r in out if r.name == "any_word"), None)
        out.append(Ranking("synonyms", [(int(self.chunk_ids[p]), float(s)) for p, s in zip(pos, scores)],
                           weight=weight * (aw.weight if aw is not None and mode == "replace" else 1.0)))
        if mode == "replace" and aw is not None:
            aw.weight = 0.0
        return out
    return lambda index: patched(engine.SearchIndex, "rankings", rankings)


def window_count(tau: float, beta: float):
    """A passage's similarity + beta · tau · log Σ exp((s_window − s_best) / tau): passages with
    several windows close to their best one gain (a soft count instead of the best alone)."""
    from rapportsok.search import index as index_mod
    orig = index_mod.CorpusIndex.similarities

    def similarities(self, qv, rows=None):
        out = orig(self, qv, rows)
        if rows is not None or not len(self._win_rows):
            return out
        n = len(self.chunk_ids)
        win = self._dot(qv, slice(None))[n:]
        starts = self._win_start[self._win_rows]
        best = np.repeat(np.maximum.reduceat(win, starts), np.diff(np.append(starts, len(win))))
        out = out.copy()
        out[self._win_rows] += beta * tau * np.log(np.add.reduceat(np.exp((win - best) / tau), starts))
        return out
    return lambda index: patched(index_mod.CorpusIndex, "similarities", similarities)


VARIANTS.update({
    "any word when no match × 0.5": any_word_when_no_match(0.5), "any word when no match × 0.25": any_word_when_no_match(0.25),
    "any word when no match × 0": any_word_when_no_match(0.0),
    "coverage order": coverage_order(), "coverage order squared": coverage_order("squared"),
    "coverage order uniform": coverage_order("uniform"),
    "thesaurus add 0.5": thesaurus("add", 0.5), "thesaurus add 1": thesaurus("add", 1.0),
    "thesaurus replace": thesaurus("replace", 1.0),
    "window count 0.01": window_count(0.01, 1.0), "window count 0.02": window_count(0.02, 1.0),
    "window count 0.03 half": window_count(0.03, 0.5),
})


def heading_ranking(column: str, weight: float, k: int = 50):
    """One more RRF ranking: the passages by their heading (``heading``) or section path
    (``section``) alone, embedded as passages, against the query vector."""
    orig = engine.SearchIndex.rankings
    cache: dict[str, np.ndarray] = {}

    def rankings(self, req, mask, semantic_weight=None):
        out = orig(self, req, mask, semantic_weight)
        sem = next((r for r in out if r.name == "semantic"), None)
        if req.mode != "hybrid" or sem is None:
            return out
        if column not in cache:
            rows = dict(self.conn().execute(f"select id, coalesce({column}, '') from chunks"))
            texts = [rows.get(int(c), "") for c in self.chunk_ids]
            unique = sorted(set(texts))
            vectors = np.asarray(self.embedder().embed_passages(unique))
            at = {t: i for i, t in enumerate(unique)}
            cache[column] = vectors[[at[t] for t in texts]]
        s = np.where(mask, cache[column] @ sem.evidence["query_vector"], -np.inf)
        top = np.argsort(-s, kind="stable")[:k]
        out.append(Ranking("heading", [(int(self.chunk_ids[i]), float(s[i])) for i in top], weight=weight))
        return out
    return lambda index: patched(engine.SearchIndex, "rankings", rankings)


VARIANTS.update({"section path ranking 0.3": heading_ranking("section", 0.3),
                 "section path ranking 0.5": heading_ranking("section", 0.5),
                 "heading ranking 0.5": heading_ranking("heading", 0.5)})


def extra_windows(db: str):
    """A passage's similarity is also the best of the windows of a second database (one built with
    ``RAPPORTSOK_WINDOW_SIZE=1 RAPPORTSOK_DB=<db> rapportsok build``: single sentences beside today's
    two-sentence windows); its passages must be this database's (the same corpus)."""
    import sqlite3

    from rapportsok.search import index as index_mod
    orig = index_mod.CorpusIndex.similarities
    rows = sqlite3.connect(db).execute("select chunk_id, vector from chunk_windows order by chunk_id, id").fetchall()
    vectors = np.frombuffer(b"".join(v for _, v in rows), dtype="<f4").reshape(len(rows), -1)
    owners = np.array([cid for cid, _ in rows], dtype=np.int64)

    def similarities(self, qv, rows_=None):
        out = orig(self, qv, rows_)
        best = np.full(len(self.chunk_ids), -1.0, dtype=np.float32)
        np.maximum.at(best, np.searchsorted(self.chunk_ids, owners), vectors @ qv.astype(np.float32))
        return np.maximum(out, best if rows_ is None else best[np.asarray(rows_)])
    return lambda index: patched(index_mod.CorpusIndex, "similarities", similarities)


if os.environ.get("RAPPORTSOK_EXTRA_WINDOWS_DB"):
    VARIANTS["extra windows"] = extra_windows(os.environ["RAPPORTSOK_EXTRA_WINDOWS_DB"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=("dev", "test"), default="dev")
    p.add_argument("variants", nargs="*")
    args = p.parse_args()
    index = SearchIndex(paths.database_path())
    queries = ev.select_split(ev.load_queries(), args.split)
    for name in args.variants or list(VARIANTS):
        with VARIANTS[name](index):
            index.keyword._matches.clear()
            s = ev.summarise(ev.evaluate(index, queries, modes=("hybrid", "semantic")))
        h, m = s[("hybrid", "alla")], s[("semantic", "alla")]
        kinds = " ".join(f"{k[:4]} {v['ndcg']:.3f}" for (mode, k), v in sorted(s.items()) if mode == "hybrid" and k != "alla")
        print(f"{args.split} | {name} | hybrid {h['ndcg']:.3f} / {h['recall']:.3f} / {h['mrr']:.3f} | "
              f"semantic {m['ndcg']:.3f} / {m['recall']:.3f} / {m['mrr']:.3f} | {kinds}", flush=True)


if __name__ == "__main__":
    main()
