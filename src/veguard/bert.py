"""A BERT sequence classifier for inference in plain torch: what `veguard score` runs.

Importing `transformers` costs ~2 s of a `veguard score "one text"` call (its modelling code
pulls in distributed tensors, masking utilities, kernels hubs) for a forward pass that is a
few matrix products. `LeanBert` is that forward pass, with the module names of
`transformers.BertForSequenceClassification`, so the same `model.safetensors` loads into it
with `strict=True` (every weight present, nothing left over) and a test checks its logits
against transformers' on the same weights.

`supports(config)` says whether a config.json is one this module computes exactly (absolute
positions, GELU, no decoder features); `veguard.backends` falls back to transformers'
Auto classes for anything else.

What it leaves out: training (the training loop uses transformers), dropout, token types
other than 0, gradient checkpointing, other architectures.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F

WEIGHTS = "model.safetensors"


def supports(config: dict) -> bool:
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act", "gelu") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and not config.get("is_decoder", False)
        and not config.get("add_cross_attention", False)
        and config.get("architectures", ["BertForSequenceClassification"])
        == ["BertForSequenceClassification"]
    )


@contextmanager
def _no_init():
    # What transformers' `no_init_weights` does: skip the random initialisation (~0.2 s for
    # MiniLM) of layers whose weights are about to be loaded.
    saved = {c: c.reset_parameters for c in (nn.Linear, nn.Embedding, nn.LayerNorm)}
    try:
        for c in saved:
            c.reset_parameters = lambda self: None
        yield
    finally:
        for c, f in saved.items():
            c.reset_parameters = f


class _Embeddings(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = (self.word_embeddings(ids) + self.token_type_embeddings.weight[0]
             + self.position_embeddings(pos)[None])
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, h // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return out.transpose(1, 2).reshape(b, t, h)


class _DenseNorm(nn.Module):
    # BertSelfOutput / BertOutput: dense, then LayerNorm of the residual sum.
    def __init__(self, n_in: int, c: SimpleNamespace):
        super().__init__()
        self.dense = nn.Linear(n_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _DenseNorm(c.hidden_size, c)


class _Intermediate(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)


class _Layer(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _DenseNorm(c.intermediate_size, c)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a = self.attention.output(self.attention.self(x, mask), x)
        return self.output(F.gelu(self.intermediate.dense(a)), a)


class _Encoder(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class _Pooler(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)


class _Bert(nn.Module):
    def __init__(self, c: SimpleNamespace):
        super().__init__()
        self.embeddings = _Embeddings(c)
        self.encoder = _Encoder(c)
        self.pooler = _Pooler(c)


class LeanBert(nn.Module):
    """`BertForSequenceClassification`'s inference forward; returns an object with `.logits`."""

    def __init__(self, config: dict):
        super().__init__()
        defaults = {"type_vocab_size": 2, "layer_norm_eps": 1e-12}
        c = SimpleNamespace(**{**defaults, **config})
        self.config_dict = config
        self.num_labels = len(config.get("id2label") or {}) or config.get("num_labels", 2)
        self.bert = _Bert(c)
        self.classifier = nn.Linear(c.hidden_size, self.num_labels)
        self.max_position_embeddings = c.max_position_embeddings

    @classmethod
    def from_dir(cls, path: Path) -> LeanBert:
        from safetensors.torch import load_file

        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        # Built on the CPU without random init (strict loading below overwrites every
        # weight): building on the meta device imports torch._dynamo, which costs seconds.
        with _no_init():
            model = cls(config)
        state = {k: v.float() for k, v in load_file(str(path / WEIGHTS)).items()}
        model.load_state_dict(state, strict=True, assign=True)
        return model.eval()

    @property
    def dtype(self) -> torch.dtype:
        return self.classifier.weight.dtype

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        # Boolean mask [B, 1, 1, T]: padded keys take no attention weight.
        mask = attention_mask.bool()[:, None, None, :]
        x = self.bert.embeddings(input_ids)
        for layer in self.bert.encoder.layer:
            x = layer(x, mask)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        return SimpleNamespace(logits=self.classifier(pooled))

    def save_pretrained(self, out: Path) -> None:
        from safetensors.torch import save_file

        out = Path(out)
        (out / "config.json").write_text(json.dumps(self.config_dict, indent=2) + "\n",
                                         encoding="utf-8")
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(out / WEIGHTS))
