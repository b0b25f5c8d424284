"""How far better ordering alone could take today's hybrid search (issue 13, session 15).

For each question, the hybrid result's first ``depth`` places (10, 20, 30, 50) are re-ordered as a
perfect reranker would order them – places that cover quotes not yet covered first – and scored
with the evaluation's own nDCG@10 (:func:`rapportsok.evaluation.judge`). The gap between
"now" and "depth 10" is what re-ordering the ten shown places could gain, the gap to "depth 30"
what a reranker over the first 30 could; R@30 / R@50 say how many of the quoted passages are in
the result at all by then. A measurement of the search, not a step: nothing is tuned on it.

Run: ``python evaluation/ordering_ceiling.py --split dev|test`` (README, "Session 15").
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from rapportsok import evaluation as ev, paths
from rapportsok.query import SearchRequest
from rapportsok.search import SearchIndex

DEPTHS = (10, 20, 30, 50)


def best_order(places: list[list[str]], quotes: list[str]) -> list[list[str]]:
    """The places that cover quotes, greedily: each time the place covering most quotes not yet
    covered (the ideal order for the evaluation's gain, which counts each quote once)."""
    norm = [ev._norm(q) for q in quotes]
    cover = [ev.covered(place, norm) for place in places]
    found: set[int] = set()
    order: list[int] = []
    rest = list(range(len(places)))
    while rest:
        i = max(rest, key=lambda k: (len(cover[k] - found), -k))
        if not cover[i] - found:
            break
        order.append(i)
        found |= cover[i]
        rest.remove(i)
    return [places[i] for i in order]


def recall_at(places: list[list[str]], quotes: list[str], depth: int) -> float:
    norm = [ev._norm(q) for q in quotes]
    found = set().union(*(ev.covered(place, norm) for place in places[:depth]))
    return len(found) / len(norm)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    args = p.parse_args()
    index = SearchIndex(paths.database_path())
    texts = ev.chunk_texts(index)
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for q in ev.select_split(ev.load_queries(), args.split):
        resp = index.search(SearchRequest(q=q["q"], mode="hybrid", limit=max(DEPTHS)))
        places = [[texts[h.chunk_id]] + [texts[d["chunk_id"]] for d in h.also_in] for h in resp.hits]
        for kind in (q["kind"], "alla"):
            r = rows[kind]
            now = ev.judge(places, q["quotes"])
            r["now"].append(now["ndcg"])
            r["R@10"].append(now["recall"])
            for d in DEPTHS:
                r[f"depth {d}"].append(ev.judge(best_order(places[:d], q["quotes"]), q["quotes"])["ndcg"])
            for d in (30, 50):
                r[f"R@{d}"].append(recall_at(places, q["quotes"], d))
    cols = ["now", *(f"depth {d}" for d in DEPTHS), "R@10", "R@30", "R@50"]
    print(f"{args.split}: hybrid nDCG@10 now and with the first N places ideally re-ordered; recall at 10 / 30 / 50\n")
    print("| frågetyp | n | " + " | ".join(cols) + " |")
    print("|---|---:|" + "---:|" * len(cols))
    for kind in sorted(k for k in rows if k != "alla") + ["alla"]:
        r = rows[kind]
        print(f"| {kind} | {len(r['now'])} | " + " | ".join(f"{sum(r[c]) / len(r[c]):.3f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
