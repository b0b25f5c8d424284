"""Search evaluation: nDCG@10, Recall@10 and MRR per mode and per query kind.

Relevance is judged by quotes (``evaluation/queries.yml``): a hit is relevant when its
text, or the text of a near-duplicate folded into it, contains a quote not already found
higher up. So the judgements survive changes in chunking.

Each query carries a ``split``: ``dev`` (tune on these) or ``test`` (only report). The split
was drawn once at random and is committed in the file. ``origin`` says whether a query is
one of the 46 the ranking was tuned on (``tuned``) or was written blind (``blind``).

Run: ``python -m rapportsok.evaluation [--db build/rapportsok.db] [--split dev|test|all]``
(prints Markdown; ``--split all`` also prints one table per split).
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path

import yaml

from . import paths
from .build import display_text
from .query import SearchRequest
from .search import SearchIndex

QUERIES = paths.PROJECT_ROOT / "evaluation" / "queries.yml"
K = 10
MODES = ("keyword", "semantic", "hybrid")
SPLITS = ("dev", "test")


# Questions about things the reports never mention: the semantic signal's threshold must give
# them no meaning-only hits ("kärnkraftverk i Forsmark" → "Inget relevant hittades").
ABSENT_QUERIES = ["kärnkraftverk i Forsmark", "fotbollsmatch i Malmö", "recept på kanelbullar", "rymdfärd till Mars",
                  "aktiekursen för Ericsson", "vindkraft till havs", "nuclear power plant", "skidåkning i fjällen"]


def load_queries(path: Path = QUERIES) -> list[dict]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))["queries"]


def select_split(queries: list[dict], split: str) -> list[dict]:
    """The queries of one split (``dev``/``test``), or all of them for ``all``."""
    if split == "all":
        return queries
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: use dev, test or all")
    return [q for q in queries if q.get("split") == split]


def _norm(s: str) -> str:
    return " ".join(display_text(s).split())


def chunk_texts(index: SearchIndex) -> dict[int, str]:
    return {r[0]: _norm(r[1]) for r in index.conn().execute("select id, text from chunks")}


def missing_quotes(index: SearchIndex, queries: list[dict]) -> list[tuple[str, str]]:
    texts = list(chunk_texts(index).values())
    return [(q["q"], quote) for q in queries for quote in q["quotes"] if not any(_norm(quote) in t for t in texts)]


def score_query(index: SearchIndex, texts: dict[int, str], q: dict, mode: str, fusion: str = "rrf", alpha: float = 0.5,
                semantic_weight: float | None = None) -> dict:
    req = SearchRequest(q=q["q"], mode=mode, limit=K)
    resp = index.search(req, fusion=fusion, alpha=alpha, semantic_weight=semantic_weight)
    ranked = [[texts[hit["chunk_id"]]] + [texts[d["chunk_id"]] for d in hit["also_in"]] for hit in resp.hits]
    return {"q": q["q"], "kind": q["kind"], "mode": mode, **judge(ranked, q["quotes"])}


def judge(ranked: list[list[str]], quotes: list[str]) -> dict:
    """nDCG@10, Recall@10 and MRR of a ranking, each place given as the texts it shows (a passage
    and the copies folded into it): a place is relevant for every quote one of its texts contains,
    and gains only for quotes no earlier place had."""
    quotes = [_norm(x) for x in quotes]
    found: set[int] = set()
    dcg, first = 0.0, None
    for i, place in enumerate(ranked[:K]):
        found_here = covered(place, quotes)
        new = found_here - found
        if found_here and first is None:
            first = i + 1
        if new:
            dcg += 1.0 / math.log2(i + 2)
            found |= new
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(quotes), K)))
    return {"ndcg": dcg / ideal, "recall": len(found) / len(quotes), "mrr": 1.0 / first if first else 0.0}


def covered(place: list[str], quotes: list[str]) -> set[int]:
    """Which of the (normalised) ``quotes`` one place of a ranking holds: a passage and the copies folded into it."""
    return {j for j, quote in enumerate(quotes) for text in place if quote in text}


def evaluate(index: SearchIndex, queries: list[dict], modes=MODES, fusion: str = "rrf", alpha: float = 0.5,
             semantic_weight: float | None = None) -> list[dict]:
    texts = chunk_texts(index)
    return [score_query(index, texts, q, mode, fusion, alpha, semantic_weight) for mode in modes for q in queries]


def summarise(results: list[dict]) -> dict:
    """{(mode, kind): {"ndcg": …, "recall": …, "mrr": …, "n": …}} with kind 'alla' for the total."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in results:
        groups[(r["mode"], r["kind"])].append(r)
        groups[(r["mode"], "alla")].append(r)
    return {key: {m: sum(x[m] for x in rs) / len(rs) for m in ("ndcg", "recall", "mrr")} | {"n": len(rs)}
            for key, rs in groups.items()}


def markdown(summary: dict, modes=MODES) -> str:
    kinds = sorted({k for _, k in summary if k != "alla"}) + ["alla"]
    lines = ["| frågetyp | n | " + " | ".join(f"{m} nDCG@10" for m in modes) + " | " + " | ".join(f"{m} R@10" for m in modes)
             + " | " + " | ".join(f"{m} MRR" for m in modes) + " |",
             "|---|---:|" + "---:|" * (3 * len(modes))]
    for kind in kinds:
        row = [kind, str(summary[(modes[0], kind)]["n"])]
        for metric in ("ndcg", "recall", "mrr"):
            row += [f"{summary[(m, kind)][metric]:.3f}" for m in modes]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def calibrate(index: SearchIndex, queries: list[dict], thresholds=(0.82, 0.83, 0.84, 0.85, 0.86, 0.87, 0.88)) -> str:
    """Markdown: for each similarity threshold, the share of relevant passages (by quote) at
    or above it, the precision there, and how many absent-topic questions still get a hit."""
    import numpy as np

    texts = chunk_texts(index)
    ids = [int(c) for c in index.chunk_ids]
    rel: list[float] = []
    irr: list[float] = []
    for q in queries:
        sims = index.similarities(index.semantic.query_vector(index, q["q"]))
        quotes = [_norm(x) for x in q["quotes"]]
        relevant = np.array([any(x in texts[c] for x in quotes) for c in ids])
        rel += sims[relevant].tolist()
        irr += sims[~relevant].tolist()
    best_absent = [float(index.similarities(index.semantic.query_vector(index, a)).max()) for a in ABSENT_QUERIES]
    rel_a, irr_a = np.array(rel), np.array(irr)
    lines = ["| similarity ≥ | relevant passages kept (recall) | precision | absent-topic questions with a hit |",
             "|---:|---:|---:|---:|"]
    for t in thresholds:
        kept, noise = int((rel_a >= t).sum()), int((irr_a >= t).sum())
        lines.append(f"| {t:.2f} | {kept / len(rel_a):.2f} | {kept / max(1, kept + noise):.2f} | "
                     f"{sum(b >= t for b in best_absent)} of {len(best_absent)} |")
    lines.append(f"\nbest similarity of the absent-topic questions: {max(best_absent):.4f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=paths.database_path())
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--fusion-sweep", action="store_true", help="also compare RRF with convex combinations")
    parser.add_argument("--per-query", action="store_true")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all",
                        help="tune on dev, report test (default: all, with one table per split)")
    parser.add_argument("--origin", choices=("tuned", "blind", "all"), default="all",
                        help="only the queries the ranking was tuned on, or only those written blind")
    parser.add_argument("--calibrate", action="store_true", help="similarity threshold for meaning-only hits")
    args = parser.parse_args()
    index = SearchIndex(args.db)
    all_queries = load_queries(args.queries)
    queries = [q for q in select_split(all_queries, args.split) if args.origin in ("all", q.get("origin"))]
    missing = missing_quotes(index, all_queries)
    if missing:
        for q, quote in missing:
            print(f"quote not found in any passage: {q!r}: {quote!r}")
        raise SystemExit(1)
    results = evaluate(index, queries)
    summary = summarise(results)
    print(f"{len(queries)} frågor ({args.split}, {args.origin}), {sum(len(q['quotes']) for q in queries)} citerade relevanta passager\n")
    print(markdown(summary))
    if args.split == "all":
        for split in SPLITS:
            part = [r for r, q in zip(results, queries * len(MODES)) if q.get("split") == split]
            if part:
                print(f"\n{split}: {len(part) // len(MODES)} frågor\n")
                print(markdown(summarise(part)))
    if args.per_query:
        print()
        for r in results:
            print(f"{r['mode']:8} {r['kind']:11} nDCG={r['ndcg']:.2f} R={r['recall']:.2f} MRR={r['mrr']:.2f}  {r['q']}")
    if args.calibrate:
        print()
        print(calibrate(index, queries))
    if args.fusion_sweep:
        print("\n| hybrid fusion | nDCG@10 | R@10 | MRR |\n|---|---:|---:|---:|")
        runs = [("rrf", 0.5, w) for w in (0.3, 0.5, 0.7, 1.0)] + [("convex", a, None) for a in (0.3, 0.5, 0.7)]
        for fusion, alpha, weight in runs:
            s = summarise(evaluate(index, queries, modes=("hybrid",), fusion=fusion, alpha=alpha,
                                   semantic_weight=weight))[("hybrid", "alla")]
            name = f"RRF k=60, semantic weight {weight}" if fusion == "rrf" else f"convex, α={alpha} (semantic share)"
            print(f"| {name} | {s['ndcg']:.3f} | {s['recall']:.3f} | {s['mrr']:.3f} |")


if __name__ == "__main__":
    main()
