"""The TF-IDF reference model: word 1-2gram + char_wb 2-5gram TF-IDF, one LogisticRegression
per category, trained only on rows where that category's label is known.

It uses the same source-capped sampling and the same calibration as the transformer, so the
two are comparable. Fitted with scikit-learn, saved as `tfidf.npz`: the vectorizers' terms
and idf and each category's coefficients as plain arrays (no pickle); raw logits are what
`models[c].decision_function(X)` gives. Inference is `veguard.backends.TfidfBackend`
(numpy, `veguard.tfidf`), through the Classifier like any model.
Leaves out: hyper-parameter search.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from veguard import modeldir
from veguard.backends import TfidfBackend
from veguard.taxonomy import CATEGORIES
from veguard.training.args import TrainArgs, model_meta
from veguard.training.data import (
    corpus_summary,
    label_matrix,
    positive_weights,
    sample_epoch,
    source_targets,
    train_and_validation,
)
from veguard.training.recalibrate import calibrate_model_dir

MODEL_FILE = modeldir.TFIDF_FILE


def build_vectorizer(args: TrainArgs) -> FeatureUnion:
    common = {
        "sublinear_tf": True,
        "min_df": args.tfidf_min_df,
        "lowercase": True,
        "dtype": np.float32,
    }
    return FeatureUnion([
        ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2),
                                 max_features=args.tfidf_word_features,
                                 token_pattern=r"(?u)\b\w+\b", **common)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                 max_features=args.tfidf_char_features, **common)),
    ])


def _drop_stop_words(union: FeatureUnion) -> None:
    # `stop_words_` keeps every pruned n-gram: often larger than the model itself, and unused
    # at transform time (sklearn documents it as safe to delete before pickling).
    for _, vec in union.transformer_list:
        if hasattr(vec, "stop_words_"):
            del vec.stop_words_


def train_tfidf(args: TrainArgs, corpus=None) -> Path:
    """Fit, calibrate and save the TF-IDF reference; returns the model directory."""
    t0 = time.time()
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df, train_df, val_df = train_and_validation(args, corpus)
    targets = source_targets(train_df["source"].value_counts().to_dict(), args.source_cap,
                             args.source_caps, args.source_weights, args.epoch_size)
    idx = sample_epoch(train_df, targets, rng)  # one "epoch": the same caps as the transformer
    texts = train_df["text"].to_numpy()[idx].tolist()
    labels = label_matrix(train_df)[idx]
    pos_w = positive_weights(labels, args.pos_weight_cap)
    print(f"tfidf: fitting vectorizer on {len(texts)} sampled rows", file=sys.stderr, flush=True)
    vec = build_vectorizer(args)
    X = vec.fit_transform(texts)
    _drop_stop_words(vec)
    models = {}
    for j, c in enumerate(CATEGORIES):
        known = labels[:, j] >= 0
        y = labels[known, j].astype(int)
        if len(np.unique(y)) < 2:
            raise ValueError(
                f"category {c}: train sample has {len(y)} known labels of one class; cannot fit"
            )
        clf = LogisticRegression(C=args.tfidf_C, max_iter=args.tfidf_max_iter,
                                 class_weight={0: 1.0, 1: float(pos_w[j])})
        models[c] = clf.fit(X[known], y)
        print(
            f"tfidf: {c}: {known.sum()} known rows, {y.sum()} positive", file=sys.stderr, flush=True
        )
    # Stored as plain arrays (tfidf.npz): scoring reads them without pickle or scikit-learn.
    TfidfBackend.from_sklearn({"vectorizer": vec, "models": models}, str(out)).save(out)

    trained = {
        "config": args.to_dict(),
        "corpus": corpus_summary(train_df, val_df),
        "sampling": {"rows": len(idx), "per_source": targets,
                     "positive_weights": dict(zip(CATEGORIES, map(float, pos_w)))},
        "n_features": int(X.shape[1]),
        "wall_seconds": round(time.time() - t0, 1),
    }
    modeldir.write(out, model_meta(args, "tfidf", trained))
    calibrate_model_dir(
        out, df, args.review_recall, args.auto_precision, args.max_val_rows, args.seed,
        review_min_precision=args.review_min_precision, val_source_cap=args.val_source_cap,
    )
    print(f"wrote {out} ({trained['wall_seconds']} s)", file=sys.stderr, flush=True)
    return out
