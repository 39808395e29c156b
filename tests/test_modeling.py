"""Tests for veguard.modeling: load/save, thresholds, ordering, windows and evidence, offsets."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from veguard import modeldir
from veguard.data.normalize import normalize
from veguard.modeling import (
    Classifier,
    ModelNotFoundError,
    choose_precision,
    normalize_with_offsets,
    to_original_span,
)
from veguard.taxonomy import CATEGORIES
from veguard.thresholds import Thresholds

TEXTS = [
    "short one",
    "a somewhat longer text about the weather in Kabul and the roads to Herat today",
    "",
    "mid length: the match tonight was brutal, we got destroyed in the second half",
    "x",
]


def test_load_score_save_round_trip(tiny_model_dir, tmp_path):
    clf = Classifier.load(tiny_model_dir)
    assert clf.name == "tiny-random"
    assert isinstance(clf.thresholds, Thresholds)
    before = clf.predict_proba(TEXTS)
    clf.save(tmp_path / "copy")
    again = Classifier.load(tmp_path / "copy")
    assert json.loads((tmp_path / "copy" / "veguard.json").read_text())["kind"] == "transformer"
    np.testing.assert_allclose(again.predict_proba(TEXTS), before, atol=1e-6)


def test_fp16_weights_load_as_float32(tiny_model_factory):
    d = tiny_model_factory(fp16=True)
    clf = Classifier.load(d, precision="fp32")
    assert clf.backend.model.dtype == torch.float32
    p = clf.predict_proba(TEXTS)
    assert p.shape == (len(TEXTS), len(CATEGORIES)) and np.all((p >= 0) & (p <= 1))


def test_string_gives_one_result_list_gives_list_in_order(tiny_model_dir):
    clf = Classifier.load(tiny_model_dir, precision="fp32")
    one_by_one = [clf.score(t) for t in TEXTS]
    # batch_size 2 forces length-sorted batches that differ from input order
    together = clf.score(TEXTS, batch_size=2)
    assert isinstance(together, list) and len(together) == len(TEXTS)
    for a, b in zip(one_by_one, together, strict=True):
        for c in CATEGORIES:
            assert a.scores[c] == pytest.approx(b.scores[c], abs=1e-5)
    assert clf.score([]) == []


def test_thresholds_and_temperature_applied_as_stored(tiny_model_factory):
    text = "the weather in Kabul is fine"
    base = Classifier.load(tiny_model_factory(), precision="fp32")
    s = base.score(text).scores["extremism"]
    logit = math.log(s / (1 - s))

    def with_thresholds(review, auto, temp=1.0, bias=0.0):
        th = Thresholds.default()
        th.review["extremism"], th.auto["extremism"] = review, auto
        th.temperature["extremism"], th.bias["extremism"] = temp, bias
        return Classifier.load(tiny_model_factory(thresholds=th), precision="fp32")

    below = with_thresholds(s + 1e-4, 0.999).score(text)
    assert not below.flagged and below.action == "none" and below.evidence is None
    over = with_thresholds(s - 1e-4, 0.999).score(text)
    assert over.flagged and over.categories["extremism"] and over.action == "review"
    assert over.evidence is not None and over.evidence.category == "extremism"
    auto = with_thresholds(s - 1e-4, s - 1e-5).score(text)
    assert auto.action == "auto"
    hot = with_thresholds(0.9, 0.99, temp=0.5).score(text)
    assert hot.scores["extremism"] == pytest.approx(1 / (1 + math.exp(-logit / 0.5)), abs=1e-5)
    shifted = with_thresholds(0.9, 0.99, temp=0.5, bias=-1.5).score(text)
    assert shifted.scores["extremism"] == pytest.approx(
        1 / (1 + math.exp(-(logit / 0.5 - 1.5))), abs=1e-5)


def test_empty_text_scores_zero_and_is_never_flagged(tiny_model_factory):
    th = Thresholds(review={c: 0.0 for c in CATEGORIES}, auto={c: 0.0 for c in CATEGORIES})
    clf = Classifier.load(tiny_model_factory(thresholds=th))
    for text in ["", "   \n\t ", "\u200b"]:
        r = clf.score(text)
        assert not r.flagged and r.action == "none"
        assert all(v == 0.0 for v in r.scores.values())
    assert clf.score("anything else").flagged  # thresholds of 0 flag every real text


class TriggerModel(torch.nn.Module):
    """Stands in for the BERT: extremism logit +8 in windows holding `token_id`, else -8."""

    def __init__(self, token_id: int):
        super().__init__()
        self.token_id = token_id
        self.calls = 0

    def forward(self, input_ids, attention_mask):
        self.calls += 1
        hit = ((input_ids == self.token_id) & (attention_mask == 1)).any(dim=1).float()
        logits = torch.full((input_ids.shape[0], len(CATEGORIES)), -8.0)
        logits[:, 0] = hit * 16 - 8
        return SimpleNamespace(logits=logits)


def _trigger_classifier(tiny_model_factory) -> Classifier:
    clf = Classifier.load(tiny_model_factory(max_length=32, stride=8), precision="fp32")
    (tid,) = clf.backend.tokenizer.token_ids("grenade")
    clf.backend.model = TriggerModel(tid)
    return clf


def test_long_text_evidence_points_into_original(tiny_model_factory):
    clf = _trigger_classifier(tiny_model_factory)
    # Entities, a URL, a mention and doubled spaces before the trigger shift normalised offsets.
    filler = (
        "Fish &amp; chips at the  harbour, see https://example.com/a?b=c or ask @someone_else.  "
    )
    planted = "Then he threw the GRENADE into the crowd."
    text = filler * 60 + planted + " " + filler * 60
    r = clf.score(text)
    assert r.flagged and r.categories["extremism"] and r.evidence is not None
    ev = r.evidence
    assert ev.category == "extremism"
    assert 0 <= ev.start < ev.end <= len(text)
    assert ev.text == text[ev.start : ev.end]
    assert "GRENADE" in ev.text
    assert len(ev.text) < len(text) / 10  # a window, not the whole article
    assert r.extra["windows"] > 20
    # nothing planted: nothing flagged, even though the text spans many windows
    assert not clf.score(filler * 120).flagged


def test_evidence_with_trigger_in_first_and_last_window(tiny_model_factory):
    clf = _trigger_classifier(tiny_model_factory)
    for text in ["grenade " + "calm words here. " * 50, "calm words here. " * 50 + " grenade!"]:
        ev = clf.score(text).evidence
        assert ev is not None and "grenade" in ev.text and ev.text == text[ev.start : ev.end]


@pytest.mark.parametrize(("max_length", "stride"), [(32, 8), (128, 32), (16, 0)])
def test_window_tokenizer_matches_transformers(tiny_model_dir, max_length, stride):
    from transformers import AutoTokenizer

    from veguard.modeling import WindowTokenizer

    texts = ["Short one.", "", "Caf\u00e9 \U0001f525 \u0627\u0644\u062f\u0648\u0644\u0629 " * 3,
             "word " * 200 + "end", "[URL] @user said: \"hello\" ... " * 20]
    ours = WindowTokenizer(tiny_model_dir, max_length, stride).encode(texts)
    hf = AutoTokenizer.from_pretrained(tiny_model_dir)(
        texts, truncation=True, max_length=max_length, stride=stride,
        return_overflowing_tokens=True, return_offsets_mapping=True)
    assert ours[0] == hf["input_ids"]
    assert ours[1] == list(hf["overflow_to_sample_mapping"])
    for (a, b), offs in zip(ours[2], hf["offset_mapping"], strict=True):
        real = [o for o in offs if o[1] > o[0]]
        assert (a, b) == ((real[0][0], real[-1][1]) if real else (0, 0))


def test_predict_proba_matches_score(tiny_model_dir):
    clf = Classifier.load(tiny_model_dir, precision="fp32")
    p = clf.predict_proba(TEXTS)
    for row, r in zip(p, clf.score(TEXTS), strict=True):
        assert list(row) == pytest.approx([r.scores[c] for c in CATEGORIES], abs=1e-9)


def test_bf16_close_to_fp32(tiny_model_dir):
    fp32 = Classifier.load(tiny_model_dir, precision="fp32").predict_proba(TEXTS)
    bf16 = Classifier.load(tiny_model_dir, precision="bf16").predict_proba(TEXTS)
    assert np.max(np.abs(fp32 - bf16)) < 0.02


def test_precision_env_override(monkeypatch):
    monkeypatch.setenv("VEGUARD_PRECISION", "fp32")
    assert choose_precision() == "fp32"
    monkeypatch.setenv("VEGUARD_PRECISION", "bf16")
    assert choose_precision() == "bf16"
    monkeypatch.setenv("VEGUARD_PRECISION", "fp8")
    with pytest.raises(ValueError, match="VEGUARD_PRECISION"):
        choose_precision()


def test_missing_model_names_the_path(tmp_path, monkeypatch, tiny_model_dir):
    with pytest.raises(ModelNotFoundError, match="nowhere"):
        Classifier.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="veguard.json"):
        Classifier.load(tmp_path / "empty")
    monkeypatch.setenv("VEGUARD_MODEL", str(tiny_model_dir))
    assert Classifier.load().name == "tiny-random"


def test_non_string_input_rejected(tiny_model_dir):
    clf = Classifier.load(tiny_model_dir)
    with pytest.raises(TypeError, match="text 1"):
        clf.score(["ok", None])


def test_tfidf_model_dir(tmp_path):
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = ["join the state now", "lovely weather", "kill them all", "nice cake", "we pray", "go"]
    vec = TfidfVectorizer().fit(texts)
    x = vec.transform(texts)
    models = {
        c: LogisticRegression().fit(x, [1, 0, 1, 0, 0, i % 2]) for i, c in enumerate(CATEGORIES)
    }
    d = tmp_path / "tfidf"
    d.mkdir()
    joblib.dump({"vectorizer": vec, "models": models}, d / "tfidf.joblib")
    (d / "veguard.json").write_text(
        json.dumps({"kind": "tfidf", "name": "tf", "categories": list(CATEGORIES)})
    )
    clf = Classifier.load(d)
    got = clf.predict_proba(["join the state", "cake"])
    x = vec.transform(["join the state", "cake"])
    want = 1 / (1 + np.exp(-np.stack([models[c].decision_function(x) for c in CATEGORIES], 1)))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert clf.score("").scores["extremism"] == 0.0
    # saved as plain arrays (tfidf.npz, the pickle removed): the same numbers, no scikit-learn
    clf.backend.save(d)
    assert (d / "tfidf.npz").is_file() and not (d / "tfidf.joblib").exists()
    again = Classifier.load(d)
    np.testing.assert_allclose(again.predict_proba(["join the state", "cake"]), want, atol=1e-6)
    code = ("import sys; from veguard.modeling import Classifier; "
            f"Classifier.load({str(d)!r}).predict_proba(['join the state']); "
            "assert 'sklearn' not in sys.modules and 'joblib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_veguard_stays_light():
    code = ("import sys, veguard; assert 'torch' not in sys.modules; veguard.Classifier; "
            "assert 'torch' in sys.modules or True")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- offsets: normalised -> original ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Join&nbsp;us @abu_x https://t.co/abc\u200b  now",
        "  \ufb01ne cafe\u0301 \x00x\n\ny  ",
        "\uff46\uff55\uff4c\uff4c width &amp;amp; more",
        "@a @b www.x.org/y",
    ],
)
def test_offset_replay_equals_normalize(text):
    norm, src = normalize_with_offsets(text)
    assert norm == normalize(text) and len(src) == len(norm)
    for (a, b), ch in zip(src, norm, strict=True):
        assert 0 <= a < b <= len(text)
        if ch.isalpha() and ch.isascii() and text[a:b].isascii() and b - a == 1:
            assert text[a] == ch


PIECES = list("ab &;#x1@.:/ \n\u200b\u0301\ufb01\uff41\x85") + [
    "&amp;",
    "http://",
    "&#65;",
    "&nbsp;",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join),
       st.integers(0, 40), st.integers(0, 40))
def test_offset_replay_property(text, a, b):
    norm, src = normalize_with_offsets(text)  # raises if the replay ever differs from normalize
    assert norm == normalize(text)
    assert all(0 <= x < y <= len(text) for x, y in src)
    start, end = to_original_span(text, norm, a, b)
    assert 0 <= start <= end <= len(text)


def test_internal_chunks_keep_order(tiny_model_dir, monkeypatch):
    from veguard import modeling

    clf = Classifier.load(tiny_model_dir, precision="fp32")
    whole = clf.predict_proba(TEXTS * 3)
    monkeypatch.setattr(modeling, "SCORE_CHUNK", 2)
    np.testing.assert_allclose(clf.predict_proba(TEXTS * 3), whole, atol=1e-5)


def test_token_budget_batches(tiny_model_dir, monkeypatch):
    from veguard import backends

    clf = Classifier.load(tiny_model_dir, precision="fp32")
    clf.cache = None  # every call below must reach the model
    texts = ["word " * n for n in (3, 200, 40, 500, 1, 90)]
    whole = clf.predict_proba(texts)
    shapes = []
    run = clf.backend.run
    monkeypatch.setattr(
        clf.backend, "run", lambda ids, mask: shapes.append(ids.shape) or run(ids, mask)
    )
    monkeypatch.setattr(backends, "MAX_BATCH_TOKENS", 300)
    np.testing.assert_allclose(clf.predict_proba(texts), whole, atol=1e-5)
    assert all(b * w <= 300 or b == 1 for b, w in shapes)
    assert sum(b for b, _ in shapes) == sum(r.extra.get("windows", 1) for r in clf.score(texts))


@pytest.mark.parametrize(("spin", "want"), [("", "PASSIVE"), ("1", None)])
def test_passive_openmp_wait_unless_spin(tiny_model_dir, spin, want):
    # A fresh process: the policy only takes effect if set before torch is imported.
    code = (
        "import os, sys; from veguard.modeling import Classifier; "
        f"Classifier.load({str(tiny_model_dir)!r}); print(os.environ.get('OMP_WAIT_POLICY'))"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "OMP_WAIT_POLICY"}
    env["VEGUARD_SPIN"] = spin
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()[-1]
    assert out == str(want)


def test_unreadable_language_is_not_judged(tiny_model_factory):
    # Thresholds of 0 flag every text the model judges: an unsupported one must still not flag.
    th = Thresholds(review={c: 0.0 for c in CATEGORIES}, auto={c: 0.0 for c in CATEGORIES})
    clf = Classifier.load(tiny_model_factory(thresholds=th))
    farsi, english = "صبح بخیر، امروز هوا خیلی خوب است", "good morning, the weather is lovely"
    r_fa, r_en = clf.score([farsi, english])
    assert (r_fa.language, r_fa.supported, r_fa.flagged, r_fa.action) == ("fa", False, False,
                                                                           "none")
    assert all(v == 0.0 for v in r_fa.scores.values())
    assert (r_en.language, r_en.supported, r_en.flagged) == ("en", True, True)
    d = r_fa.to_dict()
    assert d["language"] == "fa" and d["supported"] is False
    logits = clf.logits([farsi, english])
    assert np.isnan(logits[0]).all() and np.isfinite(logits[1]).all()


def test_mixed_post_judged_on_its_english_part(tiny_model_factory):
    clf = _trigger_classifier(tiny_model_factory)
    text = "الله أكبر الله أكبر the grenade is ready دې ورځ"
    r = clf.score(text)
    assert r.supported and r.flagged
    assert r.evidence.text == text[r.evidence.start : r.evidence.end]
    assert "grenade" in r.evidence.text and "الله" not in r.evidence.text
    # Arabic script alone carries nothing: the same post without the English part is unjudged
    assert not clf.score("الله أكبر الله أكبر دې ورځ").supported


def test_emoji_names_reach_the_model_and_evidence_points_at_the_emoji(tiny_model_factory):
    path = tiny_model_factory(max_length=32, stride=8)
    meta = modeldir.read(path)
    modeldir.write(path, dataclasses.replace(meta, emoji_names=True))
    clf = Classifier.load(path, precision="fp32")
    (tid,) = clf.backend.tokenizer.token_ids("bomb")
    clf.backend.model = TriggerModel(tid)
    text = "calm words here. " * 10 + "they deserve a 💣 tonight " + "calm words here. " * 10
    r = clf.score(text)
    assert r.flagged and r.evidence.text == text[r.evidence.start : r.evidence.end]
    assert "💣" in r.evidence.text
    # save() keeps what the model reads: a copy still spells emoji out
    copy = Classifier.load(path, precision="fp32").save(path.parent / "emoji_copy")
    assert modeldir.read(copy).emoji_names is True
    # without emoji_names the emoji is [UNK] for the model: nothing to trigger on
    modeldir.write(path, meta)
    clf_raw = Classifier.load(path, precision="fp32")
    clf_raw.backend.model = TriggerModel(tid)
    assert not clf_raw.score(text).flagged
