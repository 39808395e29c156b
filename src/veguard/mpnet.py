"""An MPNet sequence classifier for inference in plain torch: the cascade's second stage.

Loading the MPNet-base stage through transformers costs ~5-7 s (the import, then the Auto
classes). `LeanMPNet` is `transformers.MPNetForSequenceClassification`'s inference forward,
ported from transformers' modeling_mpnet.py with its module names, so the same
`model.safetensors`, or the int8 shards of `veguard.weights`, load into it by name; a test
checks its logits against transformers' on the same weights, with padding, in fp32 and
under bf16 autocast.

What MPNet computes beyond BERT, kept exactly as transformers computes it:
- position ids count the tokens that are not padding, from PADDING_IDX + 1 (RoBERTa style;
  transformers hard-codes padding_idx 1, whatever config.pad_token_id says);
- a relative-position bias shared by all layers: T5-style buckets (NUM_BUCKETS = 32, the
  default transformers always calls with, and MAX_DISTANCE = 128) index a per-head table;
- eager attention (matmul, scale, += bias, + additive padding mask, softmax, matmul), in the
  same order and dtypes so bf16 autocast rounds as transformers does; no mask at all when no
  token of the batch is padding, as transformers skips it then;
- the classification head: dense, tanh, out_proj on the first token (no pooler).

`supports(config)` says whether a config.json is one this module computes exactly;
`veguard.backends` falls back to transformers' Auto classes for anything else.

What it leaves out: training, dropout, explicit position ids or input embeddings, attention
or hidden-state outputs, other MPNet heads.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F

from veguard import weights
from veguard.bert import WEIGHTS, _DenseNorm, _Intermediate, _no_init

ARCHITECTURE = "MPNetForSequenceClassification"
PADDING_IDX = 1  # MPNetEmbeddings.padding_idx (fixed in transformers, not read from config)
NUM_BUCKETS = 32  # what MPNetEncoder.compute_position_bias is always called with
MAX_DISTANCE = 128
# MPNetConfig's defaults: transformers writes config.json without values equal to them.
DEFAULTS = {
    "vocab_size": 30527,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "layer_norm_eps": 1e-12,
    "relative_attention_num_buckets": 32,
}
# Stored keys that MPNetForSequenceClassification has no parameter for and transformers
# drops at load: the base model's pooler (the classifier has its own head) and the
# non-persistent position_ids buffer older checkpoints saved.
IGNORED_KEYS = frozenset(
    {"mpnet.pooler.dense.weight", "mpnet.pooler.dense.bias", "mpnet.embeddings.position_ids"}
)


def supports(config: dict) -> bool:
    c = {**DEFAULTS, **config}
    return (
        config.get("model_type") == "mpnet"
        and config.get("hidden_act", "gelu") == "gelu"
        # The table must have exactly the buckets transformers indexes (a smaller one fails
        # there, a larger one is partly unused).
        and c["relative_attention_num_buckets"] == NUM_BUCKETS
        and c["hidden_size"] % c["num_attention_heads"] == 0
        and config.get("architectures", [ARCHITECTURE]) == [ARCHITECTURE]
    )


def position_ids(input_ids: torch.Tensor) -> torch.Tensor:
    """transformers' `create_position_ids_from_input_ids`: non-padding tokens count up from
    PADDING_IDX + 1, padding tokens take PADDING_IDX."""
    keep = input_ids.ne(PADDING_IDX).int()
    return (torch.cumsum(keep, dim=1).type_as(keep) * keep).long() + PADDING_IDX


def relative_position_bucket(relative_position: torch.Tensor) -> torch.Tensor:
    """`MPNetEncoder.relative_position_bucket` with NUM_BUCKETS and MAX_DISTANCE: half the
    buckets per direction, exact up to 8 apart, then logarithmic up to MAX_DISTANCE."""
    n = -relative_position
    half = NUM_BUCKETS // 2
    ret = (n < 0).to(torch.long) * half
    n = torch.abs(n)
    max_exact = half // 2
    is_small = n < max_exact
    val_if_large = max_exact + (
        torch.log(n.float() / max_exact) / math.log(MAX_DISTANCE / max_exact)
        * (half - max_exact)
    ).to(torch.long)
    val_if_large = torch.min(val_if_large, torch.full_like(val_if_large, half - 1))
    return ret + torch.where(is_small, n, val_if_large)


class _Embeddings(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.word_embeddings(ids)
                              + self.position_embeddings(position_ids(ids)))


class _SelfAttention(nn.Module):
    # MPNetSelfAttention: q, k, v and the output projection o.
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.heads = c.num_attention_heads
        self.q = nn.Linear(c.hidden_size, c.hidden_size)
        self.k = nn.Linear(c.hidden_size, c.hidden_size)
        self.v = nn.Linear(c.hidden_size, c.hidden_size)
        self.o = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x: torch.Tensor, bias: torch.Tensor,
                mask: torch.Tensor | None) -> torch.Tensor:
        b, t, h = x.shape
        size = h // self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, size).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(size)
        # In place, as transformers adds it: under bf16 autocast the sum stays bf16.
        scores += bias
        if mask is not None:
            scores = scores + mask
        probs = F.softmax(scores, dim=-1)
        return self.o(torch.matmul(probs, v).transpose(1, 2).reshape(b, t, h))


class _Attention(nn.Module):
    # MPNetAttention: self-attention, then LayerNorm of the residual sum.
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.attn = _SelfAttention(c)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


class _Layer(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _DenseNorm(c.intermediate_size, c)

    def forward(self, x: torch.Tensor, bias: torch.Tensor,
                mask: torch.Tensor | None) -> torch.Tensor:
        a = self.attention.LayerNorm(self.attention.attn(x, bias, mask) + x)
        return self.output(F.gelu(self.intermediate.dense(a)), a)


class _Encoder(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))
        self.relative_attention_bias = nn.Embedding(c.relative_attention_num_buckets,
                                                    c.num_attention_heads)

    def position_bias(self, t: int, device: torch.device) -> torch.Tensor:
        """[1, heads, t, t]: the bias of key position j for query position i (by j - i)."""
        pos = torch.arange(t, dtype=torch.long, device=device)
        buckets = relative_position_bucket(pos[None, :] - pos[:, None])
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)


class _MPNet(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.embeddings = _Embeddings(c)
        self.encoder = _Encoder(c)


class _Head(nn.Module):
    # MPNetClassificationHead
    def __init__(self, c: SimpleNamespace, num_labels: int):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.out_proj = nn.Linear(c.hidden_size, num_labels)


class LeanMPNet(nn.Module):
    """`MPNetForSequenceClassification`'s inference forward; returns an object with `.logits`."""

    def __init__(self, config: dict):
        super().__init__()
        c = SimpleNamespace(**{**DEFAULTS, **config})
        self.config_dict = config
        self.num_labels = len(config.get("id2label") or {}) or config.get("num_labels", 2)
        self.mpnet = _MPNet(c)
        self.classifier = _Head(c, self.num_labels)
        # What backends.py reads as the longest window: position ids start at PADDING_IDX + 1,
        # so a table of 514 (MPNet-base) holds 512 tokens.
        self.max_position_embeddings = c.max_position_embeddings - PADDING_IDX - 1

    @classmethod
    def from_dir(cls, path: Path) -> LeanMPNet:
        """The model of `path`: its int8 shards when it has them (as `_load_auto` reads
        them), else `model.safetensors` (fp16 or fp32), computed in float32."""
        from safetensors.torch import load_file

        path = Path(path)
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if not supports(config):
            raise ValueError(f"{path}: config.json is not an MPNet classifier LeanMPNet computes")
        # Built on the CPU without random init: loading below assigns every weight.
        with _no_init():
            model = cls(config)
        if weights.files(path):
            state = weights.load(path)
        else:
            state = {k: v.float() for k, v in load_file(str(path / WEIGHTS)).items()}
        expected = model.state_dict().keys()
        missing = sorted(expected - state.keys())
        unexpected = sorted(state.keys() - expected - IGNORED_KEYS)
        if missing or unexpected:
            raise ValueError(f"{path}: weights do not match {ARCHITECTURE}: "
                             f"missing {missing or 'none'}; unexpected {unexpected or 'none'}")
        model.load_state_dict({k: state[k] for k in expected}, strict=True, assign=True)
        return model.eval()

    @property
    def dtype(self) -> torch.dtype:
        return self.classifier.out_proj.weight.dtype

    def forward(self, input_ids: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> SimpleNamespace:
        x = self.mpnet.embeddings(input_ids)
        mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            # transformers' eager mask: 0 where a key is a token, the dtype's min where it is
            # padding, in the embeddings' dtype.
            keep = attention_mask.bool()[:, None, None, :]
            mask = torch.where(keep, torch.zeros((), dtype=x.dtype, device=x.device),
                               torch.finfo(x.dtype).min)
        bias = self.mpnet.encoder.position_bias(input_ids.shape[1], input_ids.device)
        for layer in self.mpnet.encoder.layer:
            x = layer(x, bias, mask)
        head = self.classifier
        return SimpleNamespace(logits=head.out_proj(torch.tanh(head.dense(x[:, 0]))))

    def save_pretrained(self, out: Path) -> None:
        from safetensors.torch import save_file

        out = Path(out)
        (out / "config.json").write_text(json.dumps(self.config_dict, indent=2) + "\n",
                                         encoding="utf-8")
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(out / WEIGHTS))
