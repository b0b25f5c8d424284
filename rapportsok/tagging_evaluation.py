"""Precision and recall of topic tagging on the hand-labelled sample.

Compares plain keyword matching (case-insensitive substrings of the synonyms and
abbreviations), Rapportsök's lexical matcher (stems, compounds, patterns,
case-sensitive abbreviations) and lexical + semantic tagging, overall and per topic group.

Run: ``python -m rapportsok.tagging_evaluation [--db build/rapportsok.db]``
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from . import paths, topics as topics_mod
from .build import display_text
from .search import SearchIndex
from .tagging import SEMANTIC_Z, tag_all, topic_vectors

LABELS = paths.PROJECT_ROOT / "evaluation" / "topic_labels.yml"


def load_sample(index: SearchIndex, path: Path = LABELS) -> list[dict]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))["passages"]
    rows = [(r[0], r[1], display_text(r[2])) for r in index.conn().execute("select id, report_id, text from chunks")]
    out = []
    for item in data:
        found = [(cid, text) for cid, rep, text in rows if rep == item["report"] and " ".join(text.split()).startswith(item["quote"])]
        if not found:
            raise SystemExit(f"label quote matches no passage: {item['quote']!r}")
        # a paragraph repeated in the same report (Kalmar's kallelse) is labelled once, by its first copy
        out.append({"chunk_id": found[0][0], "text": found[0][1], "topics": set(item["topics"])})
    return out


def scores(sample: list[dict], predicted: list[set[str]]) -> dict:
    groups = {t.id: t.group for t in topics_mod.load_topics()}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tp, fp, fn
    for item, pred in zip(sample, predicted):
        for t in pred | item["topics"]:
            key = groups[t]
            c = counts[key]
            total = counts["alla"]
            if t in pred and t in item["topics"]:
                c[0] += 1; total[0] += 1
            elif t in pred:
                c[1] += 1; total[1] += 1
            else:
                c[2] += 1; total[2] += 1
    out = {}
    for key, (tp, fp, fn) in counts.items():
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        out[key] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "labels": tp + fn}
    return out


def evaluate(index: SearchIndex, z: float = SEMANTIC_Z) -> dict:
    sample = load_sample(index)
    texts = [s["text"] for s in sample]
    baseline = [set(topics_mod.baseline_match(t)) for t in texts]
    lexical = [{tag.topic for tag in tags} for tags in tag_all(texts, None, None, use_semantic=False)]
    result = {"plain keywords": scores(sample, baseline), "lexical": scores(sample, lexical)}
    if index.vectors is not None:
        tv = topic_vectors(index.embedder())
        # z-scores are computed over all passages, as at build time
        all_vecs = index.passage_vectors()
        sims = all_vecs @ tv.T
        mean, std = sims.mean(axis=0), sims.std(axis=0) + 1e-9
        rows = [index.index_of[s["chunk_id"]] for s in sample]
        z_sample = (sims[rows] - mean) / std
        topics = topics_mod.load_topics()
        for zz in sorted({2.0, 2.5, 3.0, 3.5, z}):
            combined = [lex | {topics[j].id for j in np.flatnonzero(z_sample[i] >= zz)} for i, lex in enumerate(lexical)]
            result[f"lexical + semantic (z ≥ {zz})"] = scores(sample, combined)
    return result


def markdown(result: dict) -> str:
    groups = sorted({g for r in result.values() for g in r if g != "alla"}) + ["alla"]
    lines = ["| metod | " + " | ".join(f"{g} P / R" for g in groups) + " | alla F1 |", "|---|" + "---:|" * (len(groups) + 1)]
    for method, r in result.items():
        cells = [f"{r[g]['precision']:.2f} / {r[g]['recall']:.2f}" if g in r else "–" for g in groups]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {r['alla']['f1']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=paths.database_path())
    args = parser.parse_args()
    index = SearchIndex(args.db)
    sample = load_sample(index)
    print(f"{len(sample)} handmärkta textavsnitt, {sum(len(s['topics']) for s in sample)} ämnesetiketter\n")
    print(markdown(evaluate(index)))


if __name__ == "__main__":
    main()
