"""Continuing training from an earlier veguard model directory (the shipped model's stage 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from veguard.training.args import load_args
from veguard.training.cli import main as train_main

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "training" / "configs" / "smoke.yaml"
TOY = ROOT / "tests" / "fixtures" / "training" / "toy_corpus.jsonl"


def test_continue_starts_from_the_given_weights(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--config", str(SMOKE), "--corpus", str(TOY), "--set", "max_steps=3"]
    assert train_main([*common, "--out", str(first)]) == 0
    # lr=0: stage 2 changes nothing, so its weights must equal stage 1's exactly. A fresh
    # random init (the bug this guards against) would differ.
    assert train_main([*common, "--out", str(second), "--set", f"base_model={first}",
                       "--set", "lr=0"]) == 0
    a, b = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    meta = json.loads((second / "veguard.json").read_text())
    assert str(first) in meta["base_model"]


def test_base_model_must_be_known_or_a_model_dir(tmp_path):
    with pytest.raises(ValueError, match="base_model="):
        load_args(SMOKE, [f"base_model={tmp_path / 'missing'}"])
