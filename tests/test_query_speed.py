"""Speed work on the query path (issue 16, load) gives exactly what the slower code gave.

Each faster piece is compared with the straightforward version it replaced, on the real
corpus's vocabulary, topics and evaluation queries plus generated misspellings."""

from __future__ import annotations

import random

import numpy as np

from conftest import EMBED_CACHE
from rapportsok import embeddings
from rapportsok.evaluation import load_queries


def test_query_model_runs_one_thread_and_gives_the_same_vectors(index):
    """The server's query model uses one ONNX thread (less CPU per query under load); its vectors
    are bit for bit those of the default two-thread session."""
    model = index.embedder()._model
    assert model.session.get_session_options().intra_op_num_threads == embeddings.QUERY_THREADS == 1
    two = embeddings.OnnxE5Embedder(EMBED_CACHE, quiet=True, threads=2)
    queries = [q["q"] for q in load_queries()][:20] + ["familjhem i kalmr", "ekonomiskt bistånd 2022"]
    for q in queries:
        assert np.array_equal(index.embedder().embed_query(q), two.embed_query(q)), q
