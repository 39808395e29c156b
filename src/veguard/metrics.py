"""The metrics, written once and plainly so a reader can check them against the papers.

Used by calibration (`veguard.calibration`), the Classifier (`sigmoid`) and evaluation alike.
Every function takes plain sequences (lists or numpy arrays) of gold labels (0/1) and
predictions or scores, and returns floats (or small dicts of them). A metric that is not
defined on the given cases (no positives for recall, one class only for an AUC) is `None`,
never a made-up 0: the report shows it as a dash.

What it leaves out: choosing which rows count (unknown labels, slices) is the caller's job;
plotting is the report's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sigmoid(z, temperature=1.0) -> np.ndarray:
    """sigmoid(z / temperature) in float64, stable for large |z| (no overflow warning).

    `temperature` is a scalar or broadcasts against `z` (one per category column).
    """
    z = np.asarray(z, dtype=np.float64) / np.asarray(temperature, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def _arrays(y_true: Sequence, other: Sequence) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=int)
    o = np.asarray(other, dtype=float)
    if y.shape != o.shape:
        raise ValueError(f"length mismatch: {y.shape[0]} labels vs {o.shape[0]} values")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1 (drop unknown -1 labels before calling)")
    return y, o


def precision_recall_f1(y_true: Sequence, y_pred: Sequence) -> dict:
    """Precision, recall and F1 of binary predictions, with the confusion counts.

    F1 is 2TP / (2TP + FP + FN), which equals the harmonic mean where both are defined and
    is 0 (not undefined) when there are positives but none are found.
    """
    y, p = _arrays(y_true, y_pred)
    p = p.astype(int)
    tp = int(((y == 1) & (p == 1)).sum())
    fp = int(((y == 0) & (p == 1)).sum())
    fn = int(((y == 1) & (p == 0)).sum())
    tn = int(((y == 0) & (p == 0)).sum())
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else None,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "n": int(y.size),
    }


def at_threshold(y_true: Sequence, scores: Sequence, threshold: float) -> dict:
    """`precision_recall_f1` of the prediction `score >= threshold` (the flag rule)."""
    y, s = _arrays(y_true, scores)
    return precision_recall_f1(y, (s >= threshold).astype(int))


def auprc(y_true: Sequence, scores: Sequence) -> float | None:
    """Area under the precision-recall curve as average precision (sklearn's step rule)."""
    y, s = _arrays(y_true, scores)
    if not (y == 1).any():
        return None
    from sklearn.metrics import average_precision_score  # ~1 s: scoring never needs it

    return float(average_precision_score(y, s))


def pr_curve(y_true: Sequence, scores: Sequence, points: int = 101) -> list[list[float]]:
    """[threshold, precision, recall] at `points` evenly spaced thresholds in [0, 1].

    A fixed grid (rather than every distinct score) keeps results.json small and stable;
    thresholds where nothing is predicted positive are left out (precision undefined).
    """
    y, s = _arrays(y_true, scores)
    positives = int((y == 1).sum())
    if positives == 0:
        return []
    out = []
    for t in np.linspace(0.0, 1.0, points):
        pred = s >= t
        if not pred.any():
            continue
        tp = int((pred & (y == 1)).sum())
        out.append([float(t), tp / int(pred.sum()), tp / positives])
    return out


def roc_auc(y_true: Sequence, scores: Sequence) -> float | None:
    """ROC AUC, or None when only one class is present."""
    y, s = _arrays(y_true, scores)
    if y.size == 0 or (y == y[0]).all():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def subgroup_auc(y_true: Sequence, scores: Sequence, in_subgroup: Sequence[bool]) -> float | None:
    """Borkan et al. 2019: ROC AUC on the subgroup's cases only."""
    y, s = _arrays(y_true, scores)
    g = np.asarray(in_subgroup, dtype=bool)
    return roc_auc(y[g], s[g])


def bpsn_auc(y_true: Sequence, scores: Sequence, in_subgroup: Sequence[bool]) -> float | None:
    """Background-positive, subgroup-negative AUC (Borkan et al. 2019).

    AUC on the subgroup's negatives together with the background's positives. Low values
    mean the model scores innocent mentions of the subgroup above real violations elsewhere:
    the false-positive bias this project most fears (e.g. ordinary talk about Muslims).
    """
    y, s = _arrays(y_true, scores)
    g = np.asarray(in_subgroup, dtype=bool)
    keep = (g & (y == 0)) | (~g & (y == 1))
    return roc_auc(y[keep], s[keep])


def bnsp_auc(y_true: Sequence, scores: Sequence, in_subgroup: Sequence[bool]) -> float | None:
    """Background-negative, subgroup-positive AUC (Borkan et al. 2019).

    AUC on the subgroup's positives together with the background's negatives. Low values
    mean violations aimed at the subgroup score below innocent background text (missed harm).
    """
    y, s = _arrays(y_true, scores)
    g = np.asarray(in_subgroup, dtype=bool)
    keep = (g & (y == 1)) | (~g & (y == 0))
    return roc_auc(y[keep], s[keep])


def calibration(y_true: Sequence, probs: Sequence, n_bins: int = 15) -> dict:
    """Expected calibration error over `n_bins` equal-width bins, and the reliability data.

    Bin i holds probabilities in (i/n, (i+1)/n]; the first bin also holds exactly 0.
    ECE = sum over bins of (bin size / N) * |fraction positive - mean probability|.
    Empty bins are listed with count 0 and contribute nothing.
    """
    y, p = _arrays(y_true, probs)
    if y.size == 0:
        return {"ece": None, "n": 0, "bins": []}
    # ceil(p * n) - 1 maps (i/n, (i+1)/n] to i; clip puts p == 0 into bin 0.
    idx = np.clip(np.ceil(p * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece, bins = 0.0, []
    for i in range(n_bins):
        m = idx == i
        count = int(m.sum())
        row = {"lower": i / n_bins, "upper": (i + 1) / n_bins, "count": count,
               "mean_prob": None, "frac_positive": None}
        if count:
            row["mean_prob"] = float(p[m].mean())
            row["frac_positive"] = float(y[m].mean())
            ece += count / y.size * abs(row["frac_positive"] - row["mean_prob"])
        bins.append(row)
    return {"ece": float(ece), "n": int(y.size), "bins": bins}


def accuracy(y_true: Sequence, y_pred: Sequence) -> float | None:
    y, p = _arrays(y_true, y_pred)
    return float((y == p.astype(int)).mean()) if y.size else None


def accuracy_by_slice(y_true: Sequence, y_pred: Sequence, slices: Sequence[str]) -> dict:
    """{slice value: {"n", "correct", "accuracy"}} with keys sorted; empty slice values skipped."""
    y, p = _arrays(y_true, y_pred)
    p = p.astype(int)
    keys = np.asarray(slices, dtype=object)
    out = {}
    for key in sorted({k for k in keys if k not in (None, "")}):
        m = keys == key
        correct = int((y[m] == p[m]).sum())
        out[str(key)] = {"n": int(m.sum()), "correct": correct, "accuracy": correct / int(m.sum())}
    return out


def per_label(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> dict:
    """One-vs-rest precision / recall / F1 per label of a single-label task, plus macro F1.

    `pred` may hold None (no prediction for that case): it counts as a miss for the gold
    label and a false positive for none. Labels with no gold case and no prediction are
    left out; macro F1 averages the labels that have gold cases.
    """
    if len(gold) != len(pred):
        raise ValueError(f"length mismatch: {len(gold)} gold labels vs {len(pred)} predictions")
    out: dict = {}
    for lab in labels:
        y = [int(g == lab) for g in gold]
        p = [int(q == lab) for q in pred]
        if sum(y) or sum(p):
            out[lab] = precision_recall_f1(y, p)
    f1s = [v["f1"] for k, v in out.items() if v["tp"] + v["fn"] and v["f1"] is not None]
    correct = sum(int(g == q) for g, q in zip(gold, pred))
    return {"labels": out, "macro_f1": sum(f1s) / len(f1s) if f1s else None,
            "accuracy": correct / len(gold) if gold else None}
