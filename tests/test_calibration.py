"""Calibration: temperature recovery, hand-computed ECE, operating-point selection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from veguard.calibration import (
    calibrate,
    ece,
    fit_platt,
    fit_temperature,
    operating_point,
    sigmoid,
)
from veguard.taxonomy import CATEGORIES
from veguard.thresholds import Thresholds


def test_fit_temperature_recovers_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2.0, size=20000)
    labels = (rng.random(20000) < sigmoid(true_logits)).astype(int)
    # The model is over-confident by a factor of 2.5: logits = 2.5 * true logits.
    t = fit_temperature(2.5 * true_logits, labels)
    assert t == pytest.approx(2.5, rel=0.06)


def test_fit_temperature_ignores_unknown_labels_and_degenerate_cases():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2.0, size=5000)
    y = (rng.random(5000) < sigmoid(z / 0.5)).astype(int)
    y_masked = y.copy()
    y_masked[:2000] = -1
    t_all = fit_temperature(z, y)
    t_masked = fit_temperature(z, y_masked)
    assert t_all == pytest.approx(0.5, rel=0.1)
    assert t_masked == pytest.approx(fit_temperature(z[2000:], y[2000:]), rel=1e-4)
    assert fit_temperature(z, np.zeros(5000, dtype=int)) == 1.0
    assert fit_temperature(z, np.full(5000, -1)) == 1.0


def test_fit_platt_recovers_temperature_and_bias():
    rng = np.random.default_rng(3)
    true_logits = rng.normal(0, 2.0, size=20000)
    labels = (rng.random(20000) < sigmoid(true_logits)).astype(int)
    # Over-confident by 2 and shifted up by 3 (as training with pos_weight ~20 shifts logits):
    # z = 2 * (true + 1.5), so true = z / 2 - 1.5.
    t, b = fit_platt(2.0 * (true_logits + 1.5), labels)
    assert t == pytest.approx(2.0, rel=0.06) and b == pytest.approx(-1.5, abs=0.1)
    # A temperature alone cannot undo the shift: its calibration is measurably worse.
    z = 2.0 * (true_logits + 1.5)
    assert ece(sigmoid(z / t + b), labels) < ece(sigmoid(z / fit_temperature(z, labels)), labels)
    assert fit_platt(z, np.zeros(20000, dtype=int)) == (1.0, 0.0)
    assert fit_platt(z, np.full(20000, -1)) == (1.0, 0.0)


def test_calibrated_operating_points_keep_the_same_validation_rows():
    # Platt scaling is monotone: the rows over the review point are the ones over the same
    # recall target on the raw logits.
    rng = np.random.default_rng(4)
    y = (rng.random((3000, len(CATEGORIES))) < 0.2).astype(int)
    z = y * 2.0 + rng.normal(0, 1.5, size=y.shape) + 2.5  # shifted up
    th, metrics = calibrate(z, y, review_recall=0.9)
    scaled = sigmoid(th.scale(z))
    for j, c in enumerate(CATEGORIES):
        raw_rp = operating_point(sigmoid(z[:, j]), y[:, j], "recall", 0.9)
        assert ((scaled[:, j] >= th.review[c]) == (sigmoid(z[:, j]) >= raw_rp["threshold"])).all()
        assert th.bias[c] < -1.0  # the shift is taken back out
        assert metrics["categories"][c]["bias"] == th.bias[c]
        assert metrics["categories"][c]["after"]["ece"] < metrics["categories"][c]["before"]["ece"]


def test_thresholds_without_bias_load_as_zero(tmp_path):
    th = Thresholds.default()
    th.bias["hate"] = -1.25
    th.save(tmp_path / "t.json")
    assert Thresholds.load(tmp_path / "t.json").bias["hate"] == -1.25
    raw = json.loads((tmp_path / "t.json").read_text())
    del raw["bias"]  # a file written before biases existed
    (tmp_path / "t.json").write_text(json.dumps(raw))
    old = Thresholds.load(tmp_path / "t.json")
    assert old.bias == {c: 0.0 for c in CATEGORIES}
    np.testing.assert_allclose(old.scale(np.full((1, len(CATEGORIES)), 2.0)), 2.0)


def test_ece_hand_computed():
    # 15 bins of width 1/15. 0.05 and 0.06 share bin 0; 0.95 and 1.0 share bin 14.
    probs = np.array([0.05, 0.06, 0.95, 1.0, 0.5])
    labels = np.array([0, 1, 1, 1, -1])  # the last one is unknown: ignored
    # bin 0: mean p 0.055, mean y 0.5 -> |0.445| * 2/4 ; bin 14: mean p 0.975, y 1 -> 0.025 * 2/4
    expected = 0.445 * 0.5 + 0.025 * 0.5
    assert ece(probs, labels) == pytest.approx(expected)


def test_ece_perfect_and_worst():
    assert ece(np.array([0.0, 1.0]), np.array([0, 1])) == pytest.approx(0.0)
    assert ece(np.array([0.0, 1.0]), np.array([1, 0])) == pytest.approx(1.0)


SCORES = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
LABELS = np.array([1, 1, 0, 1, 1, 0, 1, 0, 0, 0])  # 5 positives


def test_review_point_is_highest_threshold_reaching_recall():
    rp = operating_point(SCORES, LABELS, "recall", 0.8)
    # recall >= 0.8 needs 4 of 5 positives: first reached at 0.6 (TP 4, FP 1).
    assert rp["threshold"] == 0.6
    assert rp["recall"] == pytest.approx(0.8)
    assert rp["precision"] == pytest.approx(0.8)
    assert rp["n_positives"] == 5 and rp["n"] == 10 and rp["target"] == "recall>=0.80"
    assert operating_point(SCORES, LABELS, "recall", 1.0)["threshold"] == 0.4


def test_auto_point_is_lowest_threshold_reaching_precision():
    ap = operating_point(SCORES, LABELS, "precision", 0.75)
    # precision at 0.9: 1.0, 0.8: 2/3, 0.7: 3/4, 0.6: 4/5, 0.5: 4/6, 0.4: 5/7
    # -> the lowest threshold with precision >= .75 is 0.6
    assert ap["threshold"] == 0.6
    assert ap["precision"] == pytest.approx(0.8)
    assert "note" not in ap


def test_auto_point_unreachable_uses_max_precision_with_note():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([0, 1, 1, 0])  # best precision 2/3 at 0.7
    ap = operating_point(scores, labels, "precision", 0.95)
    assert ap["threshold"] == 0.7
    assert ap["precision"] == pytest.approx(2 / 3)
    assert "unreachable" in ap["note"]


def test_tied_scores_share_one_decision():
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    labels = np.array([1, 1, 0, 0, 0])
    rp = operating_point(scores, labels, "recall", 1.0)
    # All three 0.5 rows go in together: recall 1 at 0.5 with precision 2/4, never 2/3.
    assert rp["threshold"] == 0.5 and rp["precision"] == pytest.approx(2 / 4)


def test_no_positives_falls_back_with_note():
    rp = operating_point(np.array([0.1, 0.2]), np.array([0, 0]), "recall", 0.9)
    assert rp["threshold"] == Thresholds.default().review["extremism"]
    assert "no known positives" in rp["note"]


def test_calibrate_writes_loadable_thresholds(tmp_path):
    rng = np.random.default_rng(2)
    n = 400
    labels = (rng.random((n, len(CATEGORIES))) < 0.3).astype(int)
    logits = (labels * 2 - 1) * 3.0 + rng.normal(0, 2.0, size=labels.shape)
    labels[:50, 0] = -1
    th, metrics = calibrate(logits, labels, review_recall=0.9, auto_precision=0.95)
    th.save(tmp_path / "thresholds.json")
    back = Thresholds.load(tmp_path / "thresholds.json")
    for c in CATEGORIES:
        assert back.review[c] == pytest.approx(th.review[c])
        assert back.auto[c] >= back.review[c]
        assert back.temperature[c] > 0 and back.bias[c] == pytest.approx(th.bias[c])
        rec = back.meta["operating_points"][c]["review"]
        assert rec["recall"] >= 0.9 and rec["target"] == "recall>=0.90"
        m = metrics["categories"][c]
        assert set(m["before"]) >= {"precision", "recall", "f1", "auprc", "ece"}
        # AUPRC is rank-based: Platt scaling (monotone) must not change it.
        assert m["before"]["auprc"] == pytest.approx(m["after"]["auprc"])
        # Platt scaling minimises NLL; ECE usually follows. Allow slack for binning noise.
        assert m["after"]["ece"] <= m["before"]["ece"] + 0.02
    assert metrics["categories"]["extremism"]["before"]["n"] == n - 50


def test_calibrate_rejects_bad_shapes():
    with pytest.raises(ValueError, match="must both be"):
        calibrate(np.zeros((3, 2)), np.zeros((3, 2)))


def test_review_precision_floor_raises_the_review_point():
    # One category; scores 0.9..0.1 with labels chosen so recall 0.9 needs the lowest threshold.
    # Labels (descending score): 1 1 0 0 0 0 0 0 1 -> recall>=0.9 only at 0.1 (precision 3/9).
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 1])
    logits = np.log(scores / (1 - scores))
    z = np.tile(logits[:, None], (1, len(CATEGORIES)))
    labels = np.tile(y[:, None], (1, len(CATEGORIES)))
    plain, _ = calibrate(z, labels, review_recall=0.9, auto_precision=0.95)
    floored, _ = calibrate(
        z, labels, review_recall=0.9, auto_precision=0.95, review_min_precision=0.5
    )
    c = CATEGORIES[0]
    assert plain.meta["operating_points"][c]["review"]["precision"] == pytest.approx(3 / 9)
    rec = floored.meta["operating_points"][c]["review"]
    # the lowest threshold with precision >= 0.5 is the 4th score (2 of 4 positive)
    assert rec["precision"] >= 0.5 and rec["recall"] == pytest.approx(2 / 3)
    assert floored.review[c] > plain.review[c]
    assert "floor" in rec["note"]
    assert floored.meta["targets"]["review_min_precision"] == 0.5
