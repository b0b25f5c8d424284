"""What sentence windows cost (issue 13): texts and tokens to embed, embedding time, memory, vector search.

Prints, for a built database with windows (table ``chunk_windows``):
  * passages and windows, and the tokens each adds (the model's own tokenizer);
  * embedding time per 2 CPU-seconds for a sample of passages and for those passages' windows
    (ONNX Runtime int8, the default), and the projected embedding time of the corpus with and
    without windows;
  * vector memory per 1M passages (int8 above 250k passages: 384 B + 4 B scale + 4 B row per vector);
  * vector search (``CorpusIndex.similarities``, all passages and a 5 % filter) at 100k passages
    with and without windows in the corpus's proportion (random vectors, float32 as at that size).

Run: .venv/bin/python benchmarks/window_cost.py [--db build/rapportsok.db] [--sample 48]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def texts(db: Path) -> tuple[dict[int, str], dict[int, list[str]]]:
    from rapportsok.build import display_text

    conn = sqlite3.connect(db)
    passages, heads = {}, {}
    for cid, text, heading in conn.execute("select id, text, heading from chunks order by id"):
        passages[cid] = f"{heading}: {display_text(text)}" if heading else display_text(text)
        heads[cid] = (text, heading)
    wins: dict[int, list[str]] = {}
    for cid, a, b in conn.execute("select chunk_id, char_start, char_end from chunk_windows order by chunk_id, ordinal"):
        text, heading = heads[cid]
        body = display_text(text[a:b])
        wins.setdefault(cid, []).append(f"{heading}: {body}" if heading else body)
    return passages, wins


def cpu_rate(embedder, items: list[str]) -> float:
    """Texts per 2 CPU-seconds of this process (fair when other work shares the cores)."""
    c = time.process_time()
    embedder.embed_passages(items, batch_size=16)
    return len(items) / ((time.process_time() - c) / 2)


def vector_search(n: int, per_passage: float, reps: int = 9) -> dict:
    from rapportsok.search.index import CorpusIndex

    rng = np.random.default_rng(0)
    counts = rng.poisson(per_passage, n) if per_passage else np.zeros(n, dtype=np.int64)
    total = n + int(counts.sum())
    ix = object.__new__(CorpusIndex)
    ix.chunk_ids = np.arange(n)
    ix.vectors, ix.scales = rng.standard_normal((total, 384), dtype=np.float32), None
    ix.vector_row = np.concatenate([np.arange(n), np.repeat(np.arange(n), counts)]).astype(np.int32)
    ix._win_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ix._win_start[1:])
    ix._win_rows = np.flatnonzero(counts)
    qv = rng.standard_normal(384).astype(np.float32)
    sub = np.sort(rng.choice(n, n // 20, replace=False))

    def p50(f) -> float:
        f()
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            f()
            ts.append((time.perf_counter() - t) * 1000)
        return float(np.median(ts))

    return {"vectors": total, "all_ms": p50(lambda: ix.similarities(qv)), "filter_ms": p50(lambda: ix.similarities(qv, sub)),
            "mb": ix.vectors.nbytes / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "build" / "rapportsok.db")
    parser.add_argument("--sample", type=int, default=48, help="passages (with windows) timed for embedding")
    parser.add_argument("--size", type=int, default=100_000, help="passages for the vector-search timing")
    args = parser.parse_args()
    from rapportsok import paths
    from rapportsok.embeddings import OnnxE5Embedder

    passages, wins = texts(args.db)
    n_w = sum(len(v) for v in wins.values())
    emb = OnnxE5Embedder(paths.cache_dir(), quiet=True)
    tok_p = sum(min(512, emb.token_count(t)) for t in passages.values())
    tok_w = sum(min(512, emb.token_count(t)) for v in wins.values() for t in v)
    per = n_w / len(passages)
    print(f"{len(passages)} passages ({tok_p} tokens), {n_w} windows in {len(wins)} passages ({tok_w} tokens): "
          f"×{(len(passages) + n_w) / len(passages):.2f} texts, ×{(tok_p + tok_w) / tok_p:.2f} tokens to embed")
    sample = [c for c in passages if c in wins][: args.sample]
    emb.embed_passages([passages[sample[0]]])
    rp = cpu_rate(emb, [passages[c] for c in sample])
    ws = [t for c in sample for t in wins[c]]
    rw = cpu_rate(emb, ws)
    t_p = len(passages) / rp
    t_w = t_p + n_w / rw
    print(f"embedding per 2 CPU-s: passages {rp:.1f}/s, windows {rw:.1f}/s; corpus {t_p:.0f} s → {t_w:.0f} s "
          f"(×{t_w / t_p:.2f}); 100× corpus {100 * t_p / 60:.1f} → {100 * t_w / 60:.1f} min")
    per_vec = 384 + 4 + 4
    print(f"vector memory per 1M passages (int8): {1e6 * per_vec / 2**30:.2f} GiB → {1e6 * (1 + per) * per_vec / 2**30:.2f} GiB")
    print("\n| passages | windows per passage | vectors | float32 MB | all passages p50 ms | 5 % filter p50 ms |\n|---:|---:|---:|---:|---:|---:|")
    for p in (0.0, per):
        r = vector_search(args.size, p)
        print(f"| {args.size:,} | {p:.2f} | {r['vectors']:,} | {r['mb']:.0f} | {r['all_ms']:.1f} | {r['filter_ms']:.1f} |")


if __name__ == "__main__":
    main()
