"""Late chunking of the sentence windows, measured and dropped (README, "Sentence windows").

Instead of embedding each window's text on its own (≈50 % more embedding time for the build),
run the model once over the whole passage and take each window's vector as the mean of the last
layer's token states over the window's tokens, normalised. Needs the converted model with the
token-state output (``e5_onnx.converted_model(states=True)``, converted once into build/cache).

Writes a copy of a built database (with windows) whose ``chunk_windows`` vectors are the late-chunked
ones; evaluate it with ``python -m rapportsok.evaluation --db COPY --split dev|test``.

Run: .venv/bin/python benchmarks/late_chunking.py build/rapportsok.db build/late.db [window|withhead]
  window:   the window's own tokens; withhead: from the start of the passage ("passage: heading: …")
            up to the window's end.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapportsok import build as B  # noqa: E402
from rapportsok.e5_onnx import MAX_BATCH, OnnxE5  # noqa: E402
from rapportsok.embeddings import to_blob  # noqa: E402


def run_states(model: OnnxE5, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    embeds, mask = model._padded(batch)
    pooled, states = model.session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})
    return pooled, states


def encode_states(model: OnnxE5, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]],
                  progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Passage vectors as :meth:`encode` gives them, and for each text the vectors of its token
    ``spans`` (content-token offsets, after "passage: ", ``[a, b)``): each the mean of the last
    layer's states over the span, normalised – "late chunking": a window is embedded in the
    context of its whole passage, in the passage's one model pass."""
    wins = [(ti, k, ids) for ti, text in enumerate(texts) for k, ids in enumerate(model.windows(text, False))]
    order = sorted(range(len(wins)), key=lambda i: len(wins[i][2]))
    total = np.zeros((len(texts), model.dim), dtype=np.float64)
    token_states: dict[tuple[int, int], np.ndarray] = {}
    left = {}
    for ti, _, _ in wins:
        left[ti] = left.get(ti, 0) + 1
    segments = dict(left)
    out_spans: list[np.ndarray] = [np.zeros((len(s), model.dim), dtype=np.float32) for s in spans]
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < MAX_BATCH and (end + 1 - start) * len(wins[order[end]][2]) <= model.token_budget:
            end += 1
        sel = order[start:end]
        pooled, states = run_states(model, [wins[i][2] for i in sel])
        done = 0
        for row, i in enumerate(sel):
            ti, k, ids = wins[i]
            total[ti] += max(len(ids) - 2, 1) * pooled[row]
            token_states[ti, k] = states[row, 1: len(ids) - 1]
            left[ti] -= 1
            if left[ti] == 0:
                done += 1
                parts = [token_states.pop((ti, j)) for j in range(segments[ti])]
                seq = np.concatenate(parts) if len(parts) > 1 else parts[0]
                for w, (a, b) in enumerate(spans[ti]):
                    a, b = min(a, len(seq) - 1), max(min(b, len(seq)), min(a, len(seq) - 1) + 1)
                    v = seq[a:b].mean(axis=0)
                    out_spans[ti][w] = v / max(np.linalg.norm(v), 1e-12)
        if progress and done:
            progress(done)
        start = end
    norms = np.linalg.norm(total, axis=1, keepdims=True)
    return (total / np.maximum(norms, 1e-12)).astype(np.float32), out_spans


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "window"
    reports, _ = B.parse_corpus(B.BuildOptions(corpus=ROOT / "corpus", db_path=dst, quiet=True, jobs=1))
    model = OnnxE5(ROOT / "build" / "cache", states=True)
    texts, spans = [], []
    for rep in reports:
        derived = B.derive(rep, windows=True)
        for ch, etext, wins in zip(rep.chunks, derived.embed_texts, derived.windows):
            texts.append(etext)
            head = etext[: len(etext) - len(B.display_text(ch.text))]   # "heading: " or ""
            # token offsets of a window: tokens of the text before it (word boundaries keep the pieces)
            count = lambda upto: len(model.tokenizer.ids(("passage: " + head + B.display_text(ch.text[:upto])).rstrip()))  # noqa: E731
            spans.append([(0 if mode == "withhead" else count(a), count(b)) for _, a, b, _ in wins])
    t, wall = time.process_time(), time.perf_counter()
    vectors, window_vectors = encode_states(model, texts, spans)
    print(f"{len(texts)} passages, {sum(map(len, spans))} windows: {time.process_time() - t:.1f} CPU-s, "
          f"{time.perf_counter() - wall:.1f} s")
    shutil.copy(src, dst)
    conn = sqlite3.connect(dst)
    old = np.vstack([np.frombuffer(b, dtype="<f4") for (b,) in conn.execute("select vector from chunk_embeddings order by chunk_id")])
    print(f"passage vectors against the database's: min cosine {(old * vectors).sum(1).min():.4f}")
    old_w = np.vstack([np.frombuffer(b, dtype="<f4") for (b,) in conn.execute("select vector from chunk_windows order by id")])
    new_w = np.vstack([w for w in window_vectors if len(w)])
    cos = (old_w * new_w).sum(1)
    print(f"late-chunked against separately embedded windows: cosine min {cos.min():.4f}, mean {cos.mean():.4f}")
    ids = [r[0] for r in conn.execute("select id from chunk_windows order by id")]
    conn.executemany("update chunk_windows set vector = ? where id = ?", [(to_blob(v), i) for v, i in zip(new_w, ids)])
    conn.commit()


if __name__ == "__main__":
    main()
