"""The long-document rule (`veguard.documents`) and its fitting
(`veguard.training.documents`), on tiny random models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from veguard import modeldir
from veguard.documents import IDENTITY
from veguard.modeling import Classifier
from veguard.taxonomy import CATEGORIES
from veguard.thresholds import Thresholds

LONG = ("The council met on Tuesday to discuss the new bus timetable, the library's opening "
        "hours and a proposal to plant more trees along the river path. Residents asked "
        "about parking near the school, and the chair promised a survey before the summer. ")
SHORT = "a short post about lunch"


def _temps(path) -> dict[str, float]:
    return Thresholds.load(path / modeldir.THRESHOLDS_FILE).temperature


def _with_rule(path, coef, view_length=512, temperature=None):
    rule = {"view_length": view_length, "coef": {c: list(coef) for c in CATEGORIES},
            "temperature": temperature or _temps(path)}
    modeldir.update(path, documents=rule)
    return path


@pytest.fixture
def model(tiny_model_factory):
    return tiny_model_factory(max_length=32, stride=8)


def _scores(clf, texts):
    return np.array([[r.scores[c] for c in CATEGORIES] for r in clf.score(texts)])


def test_identity_rule_is_the_maximum_window(model):
    plain = _scores(Classifier.load(model), [LONG, SHORT])
    rule = _scores(Classifier.load(_with_rule(model, IDENTITY)), [LONG, SHORT])
    assert Classifier.load(model).score(LONG).extra["windows"] > 1
    np.testing.assert_allclose(rule, plain, atol=1e-6)


def test_rule_decides_long_texts_only_and_evidence_stays_in_the_text(model):
    short_before = _scores(Classifier.load(model), [SHORT])
    low = Classifier.load(_with_rule(model, [0.0, 0.0, -10.0]))
    assert np.allclose(_scores(low, [LONG]), 1 / (1 + np.exp(10)))
    np.testing.assert_allclose(_scores(low, [SHORT]), short_before, atol=1e-6)
    assert not low.score(LONG).flagged

    high = Classifier.load(_with_rule(model, [0.0, 0.0, 10.0]))
    res = high.score(LONG)
    assert res.flagged and res.extra["windows"] > 1
    ev = res.evidence
    assert ev is not None and 0 <= ev.start < ev.end <= len(LONG)
    assert LONG[ev.start:ev.end] == ev.text
    assert len(ev.text) < len(LONG)  # a window, not the whole document


def test_document_view_reads_the_text_in_one_long_window(model, tiny_model_factory):
    # [0, 1, 0]: the score is the document view's, i.e. the same model reading the whole
    # text as one window (the tiny model's windows are 32 tokens, the view 512).
    view = Classifier.load(_with_rule(model, [0.0, 1.0, 0.0]))
    whole_dir = tiny_model_factory(max_length=512, stride=8)  # same seed: same weights
    whole = Classifier.load(whole_dir)
    assert whole.score(LONG).extra == {}  # one window
    np.testing.assert_allclose(_scores(view, [LONG]), _scores(whole, [LONG]), atol=2e-3)


def test_rule_fitted_at_other_temperatures_is_refused(model):
    temps = {c: t * 2 for c, t in _temps(model).items()}
    _with_rule(model, IDENTITY, temperature=temps)
    with pytest.raises(ValueError, match="documents-only"):
        Classifier.load(model)
    assert Classifier.load(model, documents=False).documents is None


def test_rule_fitted_at_other_biases_is_refused(model):
    _with_rule(model, IDENTITY)  # no "bias": fitted before biases, i.e. at 0
    assert Classifier.load(model).documents is not None
    th = Thresholds.load(model / modeldir.THRESHOLDS_FILE)
    th.bias["hate"] = -0.7  # recalibrated afterwards
    th.save(model / modeldir.THRESHOLDS_FILE)
    with pytest.raises(ValueError, match="bias.*documents-only"):
        Classifier.load(model)
    meta = json.loads((model / modeldir.META_FILE).read_text())
    meta["documents"]["bias"] = dict(th.bias)
    (model / modeldir.META_FILE).write_text(json.dumps(meta))
    assert Classifier.load(model).documents is not None


@pytest.mark.parametrize("change, field", [
    ({"view_length": 4}, "documents.view_length"),
    ({"coef": {"extremism": [1, 0, 0]}}, "documents.coef"),
    ({"coef": {c: [1, 0] for c in CATEGORIES}}, "documents.coef.extremism"),
    ({"coef": {c: [1, 0, float("nan")] for c in CATEGORIES}}, "documents.coef.extremism"),
    ({"temperature": {c: -1.0 for c in CATEGORIES}}, "documents.temperature.extremism"),
    ({"bias": {"hate": 0.0}}, "documents.bias"),
    ({"bias": {c: "0" for c in CATEGORIES}}, "documents.bias.extremism"),
])
def test_a_broken_rule_names_its_field(model, change, field):
    meta = json.loads((model / modeldir.META_FILE).read_text())
    meta["documents"] = {"view_length": 512, "coef": {c: [1, 0, 0] for c in CATEGORIES},
                         "temperature": _temps(model), **change}
    (model / modeldir.META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        Classifier.load(model)


def _long_corpus(n_per_split=16):
    """Long benign and long violating documents in every split, and short rows."""
    rows = []
    rng = np.random.default_rng(0)
    words = LONG.split()
    for split in ("train", "validation", "test"):
        for i in range(n_per_split):
            bad = i % 2
            text = " ".join(rng.permutation(words)) + (" they must all be killed" if bad else "")
            rows.append({"id": f"{split}-{i}", "text": text, "extremism": bad, "violence": bad,
                         "hate": 0, "offensive": -1, "context": "", "source": "toy",
                         "group": f"g{i}", "split": split})
        rows.append({"id": f"{split}-short", "text": SHORT, "extremism": 0, "violence": 0,
                     "hate": 0, "offensive": 0, "context": "", "source": "toy",
                     "group": "s", "split": split})
    return pd.DataFrame(rows)


def test_fit_writes_a_rule_that_loads_and_is_measured_on_held_back_documents(model):
    from veguard.training.documents import MIN_CLASS, fit_documents

    corpus = _long_corpus()
    rule = fit_documents(model, corpus)
    meta = modeldir.read(model)
    assert meta.documents == json.loads(json.dumps(rule))
    fitted = rule["fitted_on"]
    assert fitted["documents"] == 32 and fitted["violating"] == 16  # short rows left out
    # hate has no positives: the maximum; offensive is unknown everywhere: the maximum
    assert rule["coef"]["hate"] == [1.0, 0.0, 0.0] and rule["coef"]["offensive"] == [1.0, 0.0, 0.0]
    assert fitted["per_category"]["extremism"]["positives"] == 16 >= MIN_CLASS
    # the shift keeps the fitting documents' recall at the goal
    recall = 1 - fitted["rule"]["false_negatives"] / fitted["violating"]
    assert recall >= fitted["recall_goal"] - 1e-9
    held = rule["held_back"]
    assert held["documents"] == 16 and held["violating"] == 8
    for k in ("maximum", "rule"):
        assert held[k]["false_positives"] + held[k]["false_negatives"] == round(
            16 * (1 - held[k]["accuracy"]))
    clf = Classifier.load(model)
    assert clf.documents is not None and "document rule" in clf.describe()


def test_fit_needs_enough_long_documents(model):
    from veguard.training.documents import fit_documents

    with pytest.raises(ValueError, match="long documents"):
        fit_documents(model, _long_corpus(n_per_split=4))


def test_recalibration_removes_a_rule_fitted_on_the_old_temperatures(model):
    from veguard.training.recalibrate import calibrate_model_dir

    _with_rule(model, IDENTITY)
    calibrate_model_dir(model, _long_corpus())
    assert modeldir.read(model).documents is None
    Classifier.load(model)  # loads: no stale rule left behind


def test_save_keeps_the_rule(model, tmp_path):
    clf = Classifier.load(_with_rule(model, [0.0, 0.0, -10.0]))
    back = Classifier.load(clf.save(tmp_path / "saved"))
    assert back.documents is not None
    np.testing.assert_allclose(_scores(back, [LONG]), _scores(clf, [LONG]), atol=1e-6)
