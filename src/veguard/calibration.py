"""Calibration: per-category Platt scaling, ECE, and the two operating points.

Given raw validation logits [n, len(CATEGORIES)] and labels (1 / 0 / -1 unknown), this fits a
temperature and a bias per category (minimising the NLL of sigmoid(z / T + b) on known labels),
measures ECE (`veguard.metrics.calibration`, 15 equal-width bins) before and after, and picks
per category on the scaled scores:
  review = the highest threshold whose recall >= the target (default 0.90),
  auto   = the lowest threshold whose precision >= the target (default 0.95); when no threshold
           reaches it, the threshold of maximal precision, with a note saying so.
The result is written with `veguard.thresholds.Thresholds` (records go in `meta`).

Why a bias: training weights positives up (`pos_weight`, up to 10x), which moves every logit
up by about log(weight), and a temperature alone cannot move it back. With temperature only,
the shipped v5 said 0.37 for hate where 7% of corpus-test texts were hateful (ECE 0.17); with
the bias the same logits give ECE 0.02. Both maps are monotone, so the texts over any
operating point chosen on validation are the same ones: the bias changes what a score means,
not what is flagged.

Leaves out: computing logits (`Classifier.logits`), the metric formulas (`veguard.metrics`:
sigmoid, ECE, P/R/F1 are the evaluation's own) and per-slice thresholds.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from sklearn.metrics import average_precision_score

from veguard import metrics as M
from veguard.metrics import sigmoid
from veguard.taxonomy import CATEGORIES
from veguard.thresholds import Thresholds

N_BINS = 15
_LOG_T_BOUNDS = (math.log(0.05), math.log(20.0))
_BIAS_BOUNDS = (-20.0, 20.0)


def _nll(z: np.ndarray, y: np.ndarray, temperature: float, bias: float = 0.0) -> float:
    """Mean binary NLL of sigmoid(z / T + b), computed stably with logaddexp."""
    s = z / temperature + bias
    return float(np.mean(np.logaddexp(0.0, -s) * y + np.logaddexp(0.0, s) * (1 - y)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """T > 0 minimising NLL on known labels (1-D bounded search over log T, 0.05..20).

    Returns 1.0 when there is nothing to fit (no known labels, or only one class).
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)
    known = labels >= 0
    z, y = logits[known], labels[known].astype(np.float64)
    if len(y) == 0 or y.min() == y.max():
        return 1.0
    res = minimize_scalar(lambda lt: _nll(z, y, math.exp(lt)), bounds=_LOG_T_BOUNDS,
                          method="bounded", options={"xatol": 1e-5})
    return float(math.exp(res.x))


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(T, b) minimising the NLL of sigmoid(z / T + b) on known labels (T in 0.05..20).

    Returns (1.0, 0.0) when there is nothing to fit (no known labels, or only one class).
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)
    known = labels >= 0
    z, y = logits[known], labels[known].astype(np.float64)
    if len(y) == 0 or y.min() == y.max():
        return 1.0, 0.0
    start = [math.log(fit_temperature(z, y)), 0.0]
    res = minimize(lambda p: _nll(z, y, math.exp(p[0]), p[1]), start, method="L-BFGS-B",
                   bounds=[_LOG_T_BOUNDS, _BIAS_BOUNDS])
    return float(math.exp(res.x[0])), float(res.x[1])


def ece(probs: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    """`veguard.metrics.calibration`'s ECE on known labels (unknown -1 ignored); NaN if none."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    known = labels >= 0
    if not known.any():
        return float("nan")
    return float(M.calibration(labels[known].astype(int), probs[known], n_bins)["ece"])


def _curve(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds descending, precision, recall) for `score >= threshold` at each unique score."""
    order = np.argsort(-probs, kind="stable")
    p, t = probs[order], y[order]
    tp = np.cumsum(t)
    fp = np.cumsum(1 - t)
    # Keep the last position of each run of equal scores: all tied rows share one decision.
    last = np.r_[p[1:] != p[:-1], True]
    thr, tp, fp = p[last], tp[last], fp[last]
    n_pos = max(int(t.sum()), 1)
    return thr, tp / (tp + fp), tp / n_pos


def operating_point(probs: np.ndarray, labels: np.ndarray, metric: str, target: float) -> dict:
    """One operating point. metric "recall": highest threshold with recall >= target;
    metric "precision": lowest threshold with precision >= target, else max precision + note.
    """
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    known = labels >= 0
    p, y = probs[known], labels[known].astype(np.float64)
    record: dict = {"target": f"{metric}>={target:.2f}", "n": len(y), "n_positives": int(y.sum())}
    if len(y) == 0 or y.sum() == 0:
        # Nothing to choose on: fall back to the uncalibrated default points and say why.
        default = Thresholds.default()
        points = default.review if metric == "recall" else default.auto
        record.update(threshold=points[CATEGORIES[0]], precision=None, recall=None,
                      note="no known positives on validation; default threshold")
        return record
    thr, prec, rec = _curve(p, y)
    if metric == "recall":
        ok = np.flatnonzero(rec >= target - 1e-12)
        i = int(ok[0])  # thresholds descend, recall ascends: the first hit is the highest threshold
    elif metric == "precision":
        ok = np.flatnonzero(prec >= target - 1e-12)
        if len(ok):
            i = int(ok[-1])  # the lowest threshold that still reaches the precision target
        else:
            best = prec.max()
            i = int(np.flatnonzero(prec == best)[-1])
            record["note"] = (
                f"precision target {target:.2f} unreachable; max precision {best:.4f} used"
            )
    else:
        raise ValueError(f"metric must be 'recall' or 'precision', got {metric!r}")
    record.update(threshold=float(thr[i]), precision=float(prec[i]), recall=float(rec[i]))
    return record


def _prf(probs: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    # veguard.metrics' values: None (not 0.0) where precision or recall is undefined.
    r = M.at_threshold(np.asarray(y).astype(int), probs, threshold)
    return {"threshold": float(threshold), "precision": r["precision"], "recall": r["recall"],
            "f1": r["f1"]}


def category_metrics(probs: np.ndarray, labels: np.ndarray) -> dict:
    """P/R/F1 at 0.5, AUPRC and ECE on known labels."""
    known = labels >= 0
    p, y = np.asarray(probs, dtype=np.float64)[known], labels[known]
    out = {"n": len(y), "n_positives": int((y == 1).sum()), **_prf(p, y, 0.5)}
    out["auprc"] = float(average_precision_score(y, p)) if 0 < y.sum() < len(y) else None
    out["ece"] = ece(p, y)
    return out


def calibrate(
    logits: np.ndarray,
    labels: np.ndarray,
    review_recall: float = 0.90,
    auto_precision: float = 0.95,
    chosen_on: str = "corpus validation split",
    review_min_precision: float = 0.0,
) -> tuple[Thresholds, dict]:
    """Fit temperatures, biases and operating points; (Thresholds, validation_metrics dict).

    `review` is the highest threshold reaching `review_recall`, unless that leaves a queue whose
    precision is below `review_min_precision`: then it is raised to the lowest threshold that
    reaches the floor (a queue mostly of false alarms trains reviewers to click through it).
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)
    if logits.shape != labels.shape or logits.ndim != 2 or logits.shape[1] != len(CATEGORIES):
        raise ValueError(
            f"logits {logits.shape} and labels {labels.shape} must both be [n, {len(CATEGORIES)}]"
        )
    temps, biases, review, auto, ops, metrics = {}, {}, {}, {}, {}, {}
    for j, c in enumerate(CATEGORIES):
        z, y = logits[:, j], labels[:, j]
        temps[c], biases[c] = fit_platt(z, y)
        raw_p, cal_p = sigmoid(z), sigmoid(z / temps[c] + biases[c])
        rp = operating_point(cal_p, y, "recall", review_recall)
        if rp["precision"] is not None and rp["precision"] < review_min_precision:
            floor = operating_point(cal_p, y, "precision", review_min_precision)
            if "note" not in floor and floor["threshold"] > rp["threshold"]:
                floor["note"] = (
                    f"recall target {review_recall:.2f} gave precision {rp['precision']:.3f}, "
                    f"below the floor {review_min_precision:.2f}; review raised to the floor"
                )
                floor["target"] = (
                    f"recall>={review_recall:.2f}, precision>={review_min_precision:.2f}"
                )
                rp = floor
        ap = operating_point(cal_p, y, "precision", auto_precision)
        if ap["threshold"] < rp["threshold"]:
            # Auto action below the review point would act on texts that are not even
            # flagged (Thresholds.decide); lift it to the review point and say so.
            known = y >= 0
            ap.update(_prf(cal_p[known], y[known], rp["threshold"]))
            ap.pop("f1")
            ap["note"] = "precision target met below the review point; auto raised to review"
        review[c], auto[c] = rp["threshold"], ap["threshold"]
        ops[c] = {"review": rp, "auto": ap}
        known = y >= 0
        metrics[c] = {
            "temperature": temps[c],
            "bias": biases[c],
            "before": category_metrics(raw_p, y),
            "after": category_metrics(cal_p, y),
            "at_review": _prf(cal_p[known], y[known], rp["threshold"]) if known.any() else None,
            "at_auto": _prf(cal_p[known], y[known], ap["threshold"]) if known.any() else None,
        }
    meta = {
        "operating_points": ops,
        "chosen_on": f"{chosen_on}, {date.today().isoformat()}",
        "targets": {
            "review_recall": review_recall,
            "review_min_precision": review_min_precision,
            "auto_precision": auto_precision,
        },
    }
    th = Thresholds(review=review, auto=auto, temperature=temps, bias=biases, meta=meta)
    return th, {"n_validation": len(labels), "categories": metrics}
