"""A small ONNX graph of a BERT classifier whose weights stay in the directory's safetensors.

`veguard export --in-place --model DIR` writes `DIR/model.onnx`: the forward pass of
`veguard.bert.LeanBert` (BertForSequenceClassification: embeddings, post-norm layers with exact
GELU, the tanh pooler on [CLS], the linear head) as ONNX operators, with every weight an ONNX
*external* initializer pointing at its bytes inside `DIR/model.safetensors` (safetensors stores
each tensor as raw little-endian bytes at a known offset, which is what ONNX external data is).
fp16-stored weights are cast to float32 in the graph, a cast ONNX Runtime folds once when the
session starts, so the arithmetic is fp32: the same numbers as the torch fp32 path (a test holds
them within 1e-5), without a second copy of the weights on disk (the graph is ~50 kB).

Why: ONNX Runtime starts in about a tenth of a second where importing torch takes more than a
second, and the cascade's fast stage, which alone decides the posts it clears, needs nothing
else (docs/PERFORMANCE.md, "Start-up"). Building the graph needs the `onnx` package; running it
needs only `onnxruntime`.

What it leaves out: other architectures (MPNet: the cascade's larger model stays on torch),
token types other than 0 (as LeanBert), int8.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from veguard import bert

OPSET = 17
_DTYPES = {"F16": (10, np.float16), "F32": (1, np.float32)}  # safetensors -> ONNX elem type


def safetensors_index(path: Path) -> dict[str, tuple[str, list[int], int, int]]:
    """{name: (dtype, shape, absolute byte offset, byte length)} of a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    start = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = (info["dtype"], list(info["shape"]), start + a, b - a)
    return out


def build(model_dir: Path) -> bytes:
    """The serialised ONNX model of the BERT classifier in `model_dir` (see the module doc).

    The layers use ONNX Runtime's fused CPU kernels (com.microsoft Attention,
    SkipLayerNormalization, BiasGelu): the same fp32 arithmetic in fewer passes over memory,
    and a session that starts faster than one over plain operators."""
    import onnx
    from onnx import TensorProto, helper

    model_dir = Path(model_dir)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    if not bert.supports(config):
        raise ValueError(f"{model_dir / 'config.json'}: not a BERT classifier this graph computes "
                         "exactly (veguard.bert.supports)")
    index = safetensors_index(model_dir / bert.WEIGHTS)
    heads = int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    layers = int(config["num_hidden_layers"])

    inits, nodes = [], []
    counter = iter(range(1_000_000))

    def fresh(stem: str) -> str:
        return f"{stem}_{next(counter)}"

    def weight(name: str) -> str:
        """A float32 value of the stored tensor `name` (external data, cast when fp16)."""
        if name not in index:
            raise ValueError(f"{model_dir / bert.WEIGHTS}: no tensor {name!r}")
        dtype, shape, offset, length = index[name]
        if dtype not in _DTYPES:
            raise ValueError(f"{model_dir / bert.WEIGHTS}: {name} is {dtype}; expected F16 or F32")
        t = TensorProto()
        t.name, t.data_type = name, _DTYPES[dtype][0]
        t.dims.extend(shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", bert.WEIGHTS), ("offset", str(offset)),
                     ("length", str(length))):
            e = t.external_data.add()
            e.key, e.value = k, v
        inits.append(t)
        if dtype == "F32":
            return name
        out = fresh(name + ".f32")
        nodes.append(helper.make_node("Cast", [name], [out], to=TensorProto.FLOAT))
        return out

    def const(values, dtype=np.float32) -> str:
        name = fresh("const")
        inits.append(onnx.numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def op(kind: str, inputs: list[str], **attrs) -> str:
        out = fresh(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def ms(kind: str, inputs: list[str], **attrs) -> str:  # ONNX Runtime's contrib operators
        return op(kind, inputs, domain="com.microsoft", **attrs)

    def wt(name: str) -> str:  # a weight [out, in], transposed for MatMul (folded at start)
        return op("Transpose", [weight(name)], perm=[1, 0])

    def linear(x: str, prefix: str) -> str:
        return op("Add", [op("MatMul", [x, wt(prefix + ".weight")]), weight(prefix + ".bias")])

    def skip_norm(x: str, residual: str, dense: str, norm: str) -> str:
        """LayerNorm(x @ dense.weight^T + dense.bias + residual)."""
        return ms("SkipLayerNormalization",
                  [op("MatMul", [x, wt(dense + ".weight")]), residual, weight(norm + ".weight"),
                   weight(norm + ".bias"), weight(dense + ".bias")], epsilon=eps)

    # embeddings: word + token type 0 + absolute positions, then LayerNorm
    emb = "bert.embeddings."
    words = op("Gather", [weight(emb + "word_embeddings.weight"), "input_ids"])
    length = op("Gather", [op("Shape", ["input_ids"]), const(1, np.int64)], axis=0)
    positions = op("Range", [const(0, np.int64), length, const(1, np.int64)])
    pos = op("Gather", [weight(emb + "position_embeddings.weight"), positions])
    token_type = op("Gather", [weight(emb + "token_type_embeddings.weight"),
                               const(0, np.int64)], axis=0)
    x = op("LayerNormalization", [op("Add", [op("Add", [words, pos]), token_type]),
                                  weight(emb + "LayerNorm.weight"), weight(emb + "LayerNorm.bias")],
           axis=-1, epsilon=eps)

    # padded keys take no attention weight (Attention's raw 0/1 mask, int32 [B, T])
    mask32 = op("Cast", ["attention_mask"], to=TensorProto.INT32)
    for i in range(layers):
        p = f"bert.encoder.layer.{i}."
        s_ = p + "attention.self."
        qkv_w = op("Concat", [wt(s_ + "query.weight"), wt(s_ + "key.weight"),
                              wt(s_ + "value.weight")], axis=1)  # [H, 3H], folded at start
        qkv_b = op("Concat", [weight(s_ + "query.bias"), weight(s_ + "key.bias"),
                              weight(s_ + "value.bias")], axis=0)
        ctx = ms("Attention", [x, qkv_w, qkv_b, mask32], num_heads=heads)
        a = skip_norm(ctx, x, p + "attention.output.dense", p + "attention.output.LayerNorm")
        h = ms("BiasGelu", [op("MatMul", [a, wt(p + "intermediate.dense.weight")]),
                            weight(p + "intermediate.dense.bias")])
        x = skip_norm(h, a, p + "output.dense", p + "output.LayerNorm")

    cls = op("Gather", [x, const(0, np.int64)], axis=1)  # [B, H]
    pooled = op("Tanh", [linear(cls, "bert.pooler.dense")])
    logits = linear(pooled, "classifier")
    nodes.append(helper.make_node("Identity", [logits], ["logits"]))

    graph = helper.make_graph(
        nodes, "veguard-lean-bert",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", None])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets,
                              producer_name="veguard.onnxbert")
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    used = {t.name for t in inits}
    missing = sorted(set(index) - used - {"bert.embeddings.position_ids"})
    if missing:
        raise ValueError(f"{model_dir / bert.WEIGHTS}: tensors the graph does not use: "
                         + ", ".join(missing[:5]))
    return model.SerializeToString()
