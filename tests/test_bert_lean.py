"""`veguard.bert.LeanBert` computes what transformers' BertForSequenceClassification computes,
on the same weights, and the torch backend uses it for BERT directories (start-up: no
transformers import)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from veguard.backends import pad_batch
from veguard.bert import LeanBert, supports
from veguard.modeling import Classifier


def _hf(path):
    from transformers import BertForSequenceClassification

    return BertForSequenceClassification.from_pretrained(path, dtype=torch.float32).eval()


@pytest.mark.parametrize("bf16", [False, True])
def test_logits_match_transformers(tiny_model_dir, bf16):
    lean, hf = LeanBert.from_dir(tiny_model_dir), _hf(tiny_model_dir)
    rng = np.random.default_rng(0)
    ids = [rng.integers(1000, 2000, n).tolist() for n in (3, 17, 40, 8)]  # padding differs
    input_ids, mask = (torch.from_numpy(a) for a in pad_batch(ids, 0, 40))
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        a = lean(input_ids=input_ids, attention_mask=mask).logits.float()
        b = hf(input_ids=input_ids, attention_mask=mask).logits.float()
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-2 if bf16 else 1e-5)


def test_backend_uses_lean_for_bert_and_round_trips(tiny_model_dir, tmp_path):
    clf = Classifier.load(tiny_model_dir, precision="fp32")
    assert isinstance(clf.backend.model, LeanBert)
    before = clf.predict_proba(["a short text", "another one " * 30])
    again = Classifier.load(clf.save(tmp_path / "saved"), precision="fp32")
    np.testing.assert_allclose(again.predict_proba(["a short text", "another one " * 30]),
                               before, atol=1e-6)


def test_unsupported_configs_fall_back(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert supports(config)
    for change in ({"model_type": "mpnet"}, {"hidden_act": "relu"},
                   {"position_embedding_type": "relative_key"}):
        assert not supports({**config, **change})


def test_scoring_a_text_does_not_import_transformers(tiny_model_dir):
    code = ("import sys; from veguard.modeling import Classifier; "
            f"Classifier.load({str(tiny_model_dir)!r}).score('hello there'); "
            "print(sorted(m for m in ('transformers', 'sklearn', 'py3langid') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")[-2]
    assert out == "[]"
