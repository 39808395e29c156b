"""Re-calibrating a model directory: thresholds.json and validation_metrics.json.

`calibrate_model_dir(dir, corpus)` scores the corpus validation split with
`Classifier.logits` (the inference code path: its normalisation, windows, backend and the
precision it picks on this machine) and recomputes the calibration, e.g. after converting
weights to fp16. Training runs it at the end of every run, on the directory just saved.

Leaves out: the calibration maths (`veguard.calibration`), scoring (`veguard.modeling`) and
the directory's metadata (`veguard.modeldir`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from veguard import modeldir
from veguard.taxonomy import CATEGORIES
from veguard.thresholds import Thresholds


def save_calibration(out: Path, thresholds: Thresholds, metrics: dict) -> None:
    thresholds.save(out / modeldir.THRESHOLDS_FILE)
    text = json.dumps(metrics, indent=2) + "\n"
    (out / modeldir.VALIDATION_FILE).write_text(text, encoding="utf-8")


def validation_rows(df, meta: modeldir.ModelMeta, max_val_rows: int | None = None,
                    seed: int | None = None, val_source_cap: int | None = None):
    """The validation rows a model calibrates on: the sampling its training config recorded in
    veguard.json (`max_val_rows`, `seed`, `val_source_cap`), each overridable."""
    from veguard.training.data import split_rows

    config = (meta.trained or {}).get("config", {})
    return split_rows(
        df, "validation",
        config.get("max_val_rows") if max_val_rows is None else max_val_rows,
        config.get("seed", 13) if seed is None else seed,
        config.get("val_source_cap") if val_source_cap is None else val_source_cap,
    )


def calibrate_model_dir(
    model_dir: str | Path,
    corpus=None,
    review_recall: float | None = None,
    auto_precision: float | None = None,
    max_val_rows: int | None = None,
    seed: int | None = None,
    review_min_precision: float | None = None,
    val_source_cap: int | None = None,
) -> Thresholds:
    """Recompute thresholds.json + validation_metrics.json for an existing model directory.

    `corpus` is a path or a DataFrame (None = the default corpus). Targets default to the ones
    recorded in the existing thresholds.json, else 0.90 / 0.95. The validation rows
    (`max_val_rows`, `seed`, `val_source_cap`) default to the ones the model's training config
    recorded in veguard.json, so a re-calibration sees the mix training calibrated on.
    """
    from veguard.calibration import calibrate
    from veguard.modeling import Classifier
    from veguard.training.data import check_corpus, label_matrix, read_corpus

    model_dir = Path(model_dir)
    meta = modeldir.read(model_dir)  # fail early, naming the file, on a non-model directory
    df = (
        check_corpus(corpus)
        if corpus is not None and not isinstance(corpus, (str, Path))
        else read_corpus(corpus)
    )
    val = validation_rows(df, meta, max_val_rows, seed, val_source_cap)
    if len(val) == 0:
        raise ValueError("corpus has no validation rows to calibrate on")
    old_targets = {}
    if (model_dir / modeldir.THRESHOLDS_FILE).exists():
        old = Thresholds.load(model_dir / modeldir.THRESHOLDS_FILE)
        old_targets = old.meta.get("targets", {})
    rr = review_recall if review_recall is not None else old_targets.get("review_recall", 0.90)
    ap = auto_precision if auto_precision is not None else old_targets.get("auto_precision", 0.95)
    if review_min_precision is None:
        review_min_precision = old_targets.get("review_min_precision", 0.0)
    print(
        f"calibration: scoring {len(val)} validation rows with {model_dir}",
        file=sys.stderr,
        flush=True,
    )
    t0 = time.time()
    clf = Classifier.load(model_dir, documents=False)  # logits() never applies the rule
    logits, how = clf.logits(val["text"].tolist()), clf.describe()
    print(f"calibration: scored in {time.time() - t0:.0f} s ({how})", file=sys.stderr, flush=True)
    # Texts the model cannot read are never judged (NaN logits): calibrate on the rest, and
    # record how many validation rows (and positives) that leaves out.
    readable = np.isfinite(logits).all(axis=1)
    labels = label_matrix(val)
    unjudged = {"rows": int((~readable).sum()),
                "positives": {c: int((labels[~readable, j] == 1).sum())
                              for j, c in enumerate(CATEGORIES)}}
    thresholds, metrics = calibrate(
        logits[readable], labels[readable], rr, ap, review_min_precision=review_min_precision
    )
    if meta.prefilter:  # a cascade decides its fast categories at the prefilter's points
        from veguard.cascade import take_fast_points

        take_fast_points(thresholds, model_dir, meta)
    thresholds.meta["logits"] = how
    metrics["logits"] = how
    metrics["validation_rows"] = len(val)
    sources = val["source"].value_counts().items()
    metrics["validation_sources"] = {str(k): int(v) for k, v in sources}
    metrics["unreadable_not_judged"] = unjudged
    save_calibration(model_dir, thresholds, metrics)
    if meta.documents is not None:  # fitted on the old temperatures: it no longer holds
        modeldir.update(model_dir, documents=None)
        print("calibration: the document rule was fitted on the old calibration and is "
              "removed; refit it with `veguard train --documents-only`", file=sys.stderr)
    return thresholds
