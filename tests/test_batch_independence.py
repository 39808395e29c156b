"""Scores do not depend on batch composition (issue #12 item 4): a text scored alone, in a
file with long texts, or in any order gets the same score and the same decision, because each
window is padded to a width bucket of its own length (`veguard.backends.bucket_width`)."""

from __future__ import annotations

import numpy as np
import pytest

from veguard import modeldir
from veguard.backends import BUCKET_STEP, bucket_width
from veguard.modeling import Classifier
from veguard.taxonomy import CATEGORIES
from veguard.thresholds import Thresholds

SHORT = [
    "they deserve to be wiped out",
    "join the caravan, brothers, victory is near",
    "gg that headshot was insane",
    "police confirm three injured after the explosion",
    "we condemn the attack in the strongest terms",
    "ok",
]
LONG = ["the council met again today to discuss the new budget for schools and roads " * 30,
        "a long and rambling post about nothing in particular, repeated at length " * 12]


def test_bucket_width_is_a_function_of_length_only():
    assert [bucket_width(n, 96) for n in (1, 7, 8, 9, 21, 95, 96)] == [8, 8, 8, 16, 24, 96, 96]
    assert bucket_width(90, 92) == 92  # capped at the window size, never past it
    assert all(bucket_width(n, 512) % BUCKET_STEP == 0 for n in range(1, 513))


def _shipped_or_skip():
    try:
        return modeldir.resolve(None)
    except modeldir.ModelNotFoundError:
        pytest.skip("no shipped model here")


# The tiny random model is too narrow for padding to change its arithmetic; the shipped
# model (MiniLM, and MPNet behind it in the cascade) is where the old dynamic padding moved
# bf16 scores by 2e-3.
@pytest.mark.parametrize(("model", "precision"),
                         [("tiny", "fp32"), ("tiny", "bf16"), ("shipped", "bf16")])
def test_alone_equals_batched_with_long_texts(tiny_model_factory, model, precision):
    d = tiny_model_factory(max_length=64, stride=16) if model == "tiny" else _shipped_or_skip()
    probe = Classifier.load(d, precision=precision)
    probe.cache = None  # every score below comes from the model, not from a cached repeat
    alone = np.array([probe.predict_proba([t])[0] for t in SHORT])
    # Thresholds exactly at each category's median alone-score: texts sit on the threshold,
    # so any drift in a batch flips a decision.
    mid = {c: float(np.median(alone[:, k])) for k, c in enumerate(CATEGORIES)}
    th = Thresholds(review=mid, auto={c: min(1.0, v + 1e-4) for c, v in mid.items()},
                    temperature=probe.thresholds.temperature, bias=probe.thresholds.bias)
    # Same model (both stages when the shipped model is a cascade), thresholds on the edge.
    clf = Classifier(probe.backend, th, probe.name, probe.meta, probe.routing, probe.prefilter)
    clf.cache = None
    one = [clf.score(t) for t in SHORT]
    mixed = clf.score([LONG[0], *SHORT[::-1], LONG[1]])[1:-1][::-1]
    batched = np.array([[r.scores[c] for c in CATEGORIES] for r in mixed])
    np.testing.assert_allclose(batched, alone, atol=1e-6, rtol=0)  # well within the 1e-3 asked
    assert [(r.flagged, r.action, r.categories) for r in mixed] == \
        [(r.flagged, r.action, r.categories) for r in one]


def test_model_calls_use_bucket_widths(tiny_model_dir, monkeypatch):
    clf = Classifier.load(tiny_model_dir, precision="fp32")
    shapes = []
    run = clf.backend.run
    monkeypatch.setattr(clf.backend, "run",
                        lambda ids, mask: shapes.append(ids.shape) or run(ids, mask))
    clf.score(SHORT + LONG)
    assert shapes and all(w % BUCKET_STEP == 0 or w == clf.backend.max_length for _, w in shapes)


@pytest.mark.parametrize("fp16", [False, True])
def test_bf16_linear_weights_give_autocasts_logits_bit_for_bit(tiny_model_factory, fp16):
    import torch

    from veguard.backends import TransformerBackend, _load_lean, _window_tokenizer

    d = tiny_model_factory(fp16=fp16, seed=11)
    meta = modeldir.read(d)
    loaded = TransformerBackend.load(d, meta, "bf16")  # linear weights stored in bf16
    assert loaded.model.classifier.weight.dtype == torch.bfloat16
    assert loaded.model.bert.embeddings.word_embeddings.weight.dtype == torch.float32
    plain = TransformerBackend(_load_lean(d), _window_tokenizer(d, meta, meta.max_length), "bf16")
    assert plain.model.classifier.weight.dtype == torch.float32  # autocast casts per call
    texts = ["short", "a longer text about the market and the weather " * 3, "x " * 200]
    np.testing.assert_array_equal(loaded.windows(texts, 8).logits, plain.windows(texts, 8).logits)
    # fp32 keeps fp32 weights (no autocast there: bf16 weights would change the arithmetic)
    assert TransformerBackend.load(d, meta, "fp32").model.classifier.weight.dtype == torch.float32
