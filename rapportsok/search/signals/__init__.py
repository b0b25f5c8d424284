"""Signals: each turns a request into a ranking of passages with its own scores and evidence.

A signal has a ``name`` and ``rank(index, request, mask) -> Ranking``. Fusion
(:mod:`rapportsok.search.fusion`) combines any set of them; a new signal (say, recency or a
cross-encoder) is one more class here and one more name in ``SIGNALS_FOR_MODE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Ranking:
    """(passage id, score) best first, and what the signal wants to say about them."""

    name: str
    items: list[tuple[int, float]] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    weight: float = 1.0      # this signal's weight in fusion
    ms: float = 0.0


class Signal(Protocol):
    name: str

    def rank(self, index, req, mask: np.ndarray) -> Ranking: ...
