"""Long documents: how a text longer than one window is decided from its windows.

A short post is one token window and its score is that window's. A longer text is cut into
overlapping windows (`veguard.backends`), and the maximum window alone over-flags documents:
a news report or a sermon that quotes propaganda to condemn it has one window that reads
like the propaganda, and every extra window is one more chance of a false positive. Measured
on the corpus's long documents, the maximum flagged 124 of 350 benign ones (v4, 5-fold).

A model directory may therefore carry a document rule in `veguard.json`:

    "documents": {"view_length": 512,                       # tokens the document view sees
                  "coef": {"extremism": [a, b, c], ...},    # per category
                  "temperature": {"extremism": 1.4, ...},   # the calibration it was fitted on
                  "bias": {"extremism": -0.8, ...},         # (absent: 0, as before biases)
                  "fitted_on": {...}, "held_back": {...}}   # what was measured

For a text of more than one window, per category, with `m` the calibrated logit of its best
window and `v` that of its *document view* (the text read in windows of `view_length` tokens,
so a document of up to ~380 words is read whole, framing and all; the best such window):

    score = sigmoid(a * m + b * v + c)

`a`, `b` and `c` are a logistic regression of the category's label on (m, v) over the long
documents of the corpus's train and validation splits, fitted by `veguard train
--documents-only` (`veguard.training.documents`); `c` includes a shift chosen so that those
documents' recall at the review points stays at least the review target. A category with
too few labelled documents keeps the maximum ([1, 0, 0]). Evidence still points at the best
window of the flagged category. Single-window texts are untouched, so short-post scores and
the thresholds chosen on them do not move.

The rule is fitted on calibrated logits, so it holds only for the calibration (temperatures
and biases) it was fitted on: a directory recalibrated afterwards is refused until the rule is
refitted.

What it leaves out: the windows and their scores (`veguard.backends`, `veguard.modeling`),
and fitting (`veguard.training.documents`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from veguard.taxonomy import CATEGORIES
from veguard.thresholds import Thresholds

IDENTITY = (1.0, 0.0, 0.0)  # a, b, c: the maximum window alone


def _number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


def check_documents(d: Any, where: str) -> None:
    """The `documents` object of veguard.json (ValueError naming the field)."""
    if not isinstance(d, dict):
        raise ValueError(f"{where}: field 'documents' must be an object")  # noqa: TRY004 - a file error
    n = d.get("view_length")
    if isinstance(n, bool) or not isinstance(n, int) or n < 8:
        raise ValueError(f"{where}: field 'documents.view_length' must be an integer >= 8, "
                         f"got {n!r}")
    for key in ("coef", "temperature"):
        if not isinstance(d.get(key), dict) or set(d[key]) != set(CATEGORIES):
            raise ValueError(f"{where}: field 'documents.{key}' needs exactly "
                             f"{', '.join(CATEGORIES)}")
    for c, v in d["coef"].items():
        if not isinstance(v, list) or len(v) != 3 or not all(_number(x) for x in v):
            raise ValueError(f"{where}: field 'documents.coef.{c}' must be three numbers "
                             f"[a, b, c], got {v!r}")
    for c, v in d["temperature"].items():
        if not _number(v) or v <= 0:
            raise ValueError(f"{where}: field 'documents.temperature.{c}' must be positive, "
                             f"got {v!r}")
    bias = d.get("bias", {c: 0.0 for c in CATEGORIES})
    if not isinstance(bias, dict) or set(bias) != set(CATEGORIES):
        raise ValueError(f"{where}: field 'documents.bias' needs exactly {', '.join(CATEGORIES)}")
    for c, v in bias.items():
        if not _number(v):
            raise ValueError(f"{where}: field 'documents.bias.{c}' must be a number, got {v!r}")


@dataclass(frozen=True)
class DocumentRule:
    """The rule of a model directory's `documents` object (see the module docstring)."""

    view_length: int
    coef: np.ndarray  # [len(CATEGORIES), 3]: a, b, c

    @classmethod
    def from_meta(cls, d: dict, thresholds: Thresholds, where: str) -> DocumentRule:
        """The rule of `d`, refused unless it was fitted on the calibration of `thresholds`."""
        check_documents(d, where)
        bias = d.get("bias", {c: 0.0 for c in CATEGORIES})
        for key, fitted, now in (("temperature", d["temperature"], thresholds.temperature),
                                 ("bias", bias, thresholds.bias)):
            moved = [c for c in CATEGORIES
                     if not math.isclose(fitted[c], now[c], rel_tol=1e-6, abs_tol=1e-9)]
            if moved:
                raise ValueError(
                    f"{where}: the document rule was fitted at {key} {fitted[moved[0]]:.4f} "
                    f"for {moved[0]}, the thresholds now say {now[moved[0]]:.4f}: refit it "
                    "with `veguard train --documents-only`")
        return cls(int(d["view_length"]),
                   np.array([d["coef"][c] for c in CATEGORIES], dtype=np.float64))

    def combine(self, best: np.ndarray, view: np.ndarray) -> np.ndarray:
        """Calibrated logits [n, C] of the best window and of the document view -> scores."""
        return combine(self.coef, best, view)


def combine(coef: np.ndarray, best: np.ndarray, view: np.ndarray) -> np.ndarray:
    """sigmoid(a * best + b * view + c) per category, for coefficients `coef` [C, 3]."""
    z = coef[:, 0] * best + coef[:, 1] * view + coef[:, 2]
    return 1.0 / (1.0 + np.exp(-z))


def to_logit(p: np.ndarray) -> np.ndarray:
    """The calibrated logit of a calibrated probability (clipped away from 0 and 1)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)
