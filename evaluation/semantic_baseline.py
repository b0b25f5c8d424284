"""The semantic signal against a naive paragraph baseline with the same model, and where the
semantic mode loses against its own ranking (README, "Session 14").

* naive: every report's text cut at blank lines (its paragraphs, ≥ 3 words), each embedded as
  it is (no heading, no windows), ranked by cosine with the plain query vector;
* ours, raw: the passages and their sentence windows by the semantic signal's query vector,
  the top 10 whatever their similarity;
* ours, as served: the semantic mode (``Betydelse``), which shows nothing below the calibrated
  threshold ("Inget relevant hittades").

A ranked unit counts for a quote when its text contains the quote, as in ``rapportsok.evaluation``.
Also printed: whether how far the best passage stands out from the rest (z-score, top-5 mean
minus the mean) would tell absent topics from present ones better than the best similarity.

Run: ``python evaluation/semantic_baseline.py`` (embeds ≈1 000 paragraphs, ≈20 s with bfloat16).
"""

from __future__ import annotations

import re

import numpy as np

from rapportsok import evaluation as ev, paths
from rapportsok.build import display_text
from rapportsok.query import SearchRequest
from rapportsok.search import SearchIndex

K = 10
# the calibration's absent topics and the English probes of the tests and the README
ABSENT = ev.ABSENT_QUERIES + [
    "school meals for children", "Ericsson share price", "football match in Malmö", "offshore wind power",
    "weather forecast for tomorrow", "väderprognos för imorgon", "melodifestivalen vinnare",
    "recipe for cinnamon buns", "space travel to Mars", "stock market crash"]


def score(ranked: list[str], quotes: list[str]) -> tuple[float, float, float]:
    r = ev.judge([[t] for t in ranked], quotes)
    return r["ndcg"], r["recall"], r["mrr"]


def paragraphs(index: SearchIndex) -> list[str]:
    out = []
    for (text,) in index.conn().execute("select text from reports order by id"):
        for p in re.split(r"\n\s*\n", text):
            t = display_text(p)
            if len(t.split()) >= 3:
                out.append(t)
    return out


def standout(index: SearchIndex, q: str) -> dict:
    req = SearchRequest(q=q, mode="semantic", limit=K)
    r = index.semantic.rank(index, req, index.mask(req))
    s = index.similarities(r.evidence["query_vector"])
    top = np.sort(s)[::-1]
    return {"best": top[0], "z": (top[0] - s.mean()) / s.std(), "top5": top[:5].mean() - s.mean(),
            "refused": not r.evidence["admitted"], "sims": s}


def main() -> None:
    index = SearchIndex(paths.database_path())
    paras = paragraphs(index)
    vectors = index.embedder().embed_passages(paras, batch_size=16)
    norm_paras = [ev._norm(p) for p in paras]
    texts = ev.chunk_texts(index)
    absent = [standout(index, q) for q in ABSENT]
    print(f"{len(paras)} paragraphs, {len(texts)} passages")
    for split in ("dev", "test"):
        queries = ev.select_split(ev.load_queries(), split)
        rows: dict[str, list] = {"naive paragraphs": [], "ours, raw": [], "ours, as served": []}
        kinds: dict[str, dict[str, list]] = {name: {} for name in rows}
        lost, refused = 0.0, 0
        real = []
        for q in queries:
            quotes = q["quotes"]
            top = np.argsort(-(vectors @ index.query_vector(q["q"])))[:K]
            st = standout(index, q["q"])
            real.append(st)
            raw = score([texts[int(index.chunk_ids[i])] for i in np.argsort(-st["sims"])[:K]], quotes)
            served = ev.score_query(index, texts, q, "semantic")
            got = {"naive paragraphs": score([norm_paras[i] for i in top], quotes), "ours, raw": raw,
                   "ours, as served": (served["ndcg"], served["recall"], served["mrr"])}
            for name, value in got.items():
                rows[name].append(value)
                kinds[name].setdefault(q["kind"], []).append(value[0])
            if st["refused"]:
                refused += 1
                lost += raw[0] - served["ndcg"]
        for name, values in rows.items():
            a = np.array(values)
            per_kind = " ".join(f"{k} {np.mean(v):.3f}" for k, v in sorted(kinds[name].items()))
            print(f"{split} | {name} | {a[:, 0].mean():.3f} / {a[:, 1].mean():.3f} / {a[:, 2].mean():.3f} | {per_kind}")
        print(f"{split}: the semantic mode refuses {refused} of {len(queries)} questions (best similarity below "
              f"the threshold); that costs {lost / len(queries):.3f} nDCG@10 against its own raw ranking")
        for key in ("best", "z", "top5"):
            worst = max(a[key] for a in absent)
            print(f"{split}: by {key}: the highest absent topic {worst:.3f}; real questions above it: "
                  f"{sum(r[key] > worst for r in real)} of {len(real)}")


if __name__ == "__main__":
    main()
