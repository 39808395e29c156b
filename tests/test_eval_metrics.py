"""Evaluation metrics against values worked out by hand (the working is in the comments)."""

from __future__ import annotations

import pytest

from veguard import metrics as M


def test_precision_recall_f1_by_hand():
    # y = 1 1 0 0 1, p = 1 0 1 0 1 -> TP=2 (idx 0,4), FP=1 (idx 2), FN=1 (idx 1), TN=1 (idx 3)
    # precision = 2/3, recall = 2/3, F1 = 2*2 / (2*2 + 1 + 1) = 4/6
    m = M.precision_recall_f1([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])
    assert (m["tp"], m["fp"], m["fn"], m["tn"], m["n"]) == (2, 1, 1, 1, 5)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)


def test_at_threshold_is_inclusive():
    # scores >= 0.5 -> predictions 1 0 1 0 1: the same confusion as above; 0.5 itself counts.
    m = M.at_threshold([1, 1, 0, 0, 1], [0.9, 0.4, 0.6, 0.1, 0.5], 0.5)
    assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 1)


def test_undefined_metrics_are_none_not_zero():
    # Nothing predicted positive: precision undefined; there are positives, so recall = F1 = 0.
    m = M.precision_recall_f1([1, 0], [0, 0])
    assert m["precision"] is None and m["recall"] == 0.0 and m["f1"] == 0.0
    # No positives and nothing predicted: recall and F1 undefined too.
    m = M.precision_recall_f1([0, 0], [0, 0])
    assert m["recall"] is None and m["f1"] is None
    assert M.auprc([0, 0], [0.1, 0.9]) is None
    assert M.roc_auc([1, 1], [0.1, 0.9]) is None
    assert M.pr_curve([0, 0], [0.1, 0.2]) == []


def test_auprc_is_average_precision():
    # ranked: 0.9 (pos) P=1 R=.5 | 0.8 (neg) | 0.7 (pos) P=2/3 R=1 | 0.1 (neg)
    # AP = sum (R_k - R_{k-1}) * P_k = 0.5*1 + 0.5*2/3 = 5/6
    assert M.auprc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(5 / 6)


def test_roc_auc_counts_ordered_pairs():
    # positive x negative pairs: (.9,.8) ok, (.9,.1) ok, (.7,.8) wrong, (.7,.1) ok -> 3/4
    assert M.roc_auc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.75)


def test_borkan_bias_aucs_by_hand():
    y = [1, 0, 1, 0, 1, 0]
    s = [0.25, 0.75, 0.8, 0.3, 0.7, 0.2]
    g = [True, True, False, False, False, False]  # subgroup = first two cases
    # subgroup AUC: positive .25 vs negative .75 -> 0 of 1 pairs ordered -> 0.0
    assert M.subgroup_auc(y, s, g) == pytest.approx(0.0)
    # BPSN: background positives {.8, .7} vs subgroup negative {.75}: .8 > .75 ok, .7 < .75 -> 1/2
    assert M.bpsn_auc(y, s, g) == pytest.approx(0.5)
    # BNSP: subgroup positive {.25} vs background negatives {.3, .2}: .25 < .3, .25 > .2 -> 1/2
    assert M.bnsp_auc(y, s, g) == pytest.approx(0.5)


def test_ece_by_hand_two_bins():
    # bin (0, .5]: p .1, .4 -> mean .25, fraction positive 1/2 -> |.5 - .25| * 2/4 = .125
    # bin (.5, 1]: p .9, .8 -> mean .85, fraction positive 1   -> |1 - .85| * 2/4 = .075
    cal = M.calibration([1, 0, 1, 1], [0.9, 0.1, 0.8, 0.4], n_bins=2)
    assert cal["ece"] == pytest.approx(0.2)
    assert [b["count"] for b in cal["bins"]] == [2, 2]
    assert cal["bins"][0]["mean_prob"] == pytest.approx(0.25)
    assert cal["bins"][1]["frac_positive"] == pytest.approx(1.0)


def test_ece_edges_and_empty_bins():
    # p = 0 falls in the first bin, p = 1 in the last; the 13 bins between stay empty.
    # A perfectly calibrated pair (0 -> negative, 1 -> positive) has ECE 0.
    cal = M.calibration([0, 1], [0.0, 1.0], n_bins=15)
    assert cal["ece"] == pytest.approx(0.0)
    assert cal["bins"][0]["count"] == 1 and cal["bins"][14]["count"] == 1
    assert sum(b["count"] for b in cal["bins"]) == 2
    assert cal["bins"][7]["mean_prob"] is None
    # p = 1/15 exactly belongs to bin 0, (1/15, 2/15] to bin 1.
    cal = M.calibration([0, 0], [1 / 15, 0.1], n_bins=15)
    assert [b["count"] for b in cal["bins"][:2]] == [1, 1]


def test_accuracy_by_slice():
    # slice a: (1,1) right, (0,1) wrong -> 1/2; slice b: both right -> 1; "" is skipped.
    out = M.accuracy_by_slice([1, 0, 1, 0, 1], [1, 1, 1, 0, 0], ["a", "a", "b", "b", ""])
    assert out == {"a": {"n": 2, "correct": 1, "accuracy": 0.5},
                   "b": {"n": 2, "correct": 2, "accuracy": 1.0}}
    assert M.accuracy([1, 0, 1, 0], [1, 1, 1, 0]) == pytest.approx(0.75)


def test_pr_curve_points():
    # threshold .5: predicted {.9, .6}: TP 1 of 2 predicted, 1 of 1 positive -> P .5, R 1
    curve = M.pr_curve([1, 0, 0], [0.9, 0.6, 0.2], points=3)  # thresholds 0, .5, 1
    assert curve[1] == [0.5, 0.5, 1.0]
    assert curve[0] == [0.0, 1 / 3, 1.0]
    assert len(curve) == 2  # nothing reaches 1.0, so that point is left out


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="length mismatch"):
        M.precision_recall_f1([1, 0], [1])
    with pytest.raises(ValueError, match="unknown -1"):
        M.auprc([1, -1], [0.5, 0.5])
