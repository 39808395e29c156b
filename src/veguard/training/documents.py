"""Fitting a model directory's document rule (`veguard.documents`): `veguard train
--documents-only --model DIR`.

`fit_documents(dir, corpus)`:
1. takes the corpus rows of the train and validation splits that the model reads as more than
   one window (the long documents: news, op-eds, sermons, testimonies, propaganda, chatter
   with a violation in it, long forum posts);
2. scores each with the model alone (a cascade's larger model: the rule only ever sees the
   texts its fast stage passes up): the calibrated logit of the best window and of the
   document view;
3. per category, fits a logistic regression of the label on the two, over the documents that
   category is labelled on (a category with fewer than MIN_CLASS positives or negatives keeps
   the maximum window);
4. adds one shift to the flagging categories, the smallest that keeps the documents' recall at
   the review points (flagged on any flagging category, violating on any) at least
   `recall` (default: the review target of thresholds.json) or at the maximum's own recall
   if that is lower;
5. measures the maximum and the rule on the corpus test split's long documents through the
   whole classifier (its fast stage included), and writes both into `veguard.json`.

The evaluation suites are never read here.

Leaves out: the rule itself and how scoring applies it (`veguard.documents`,
`veguard.modeling`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from veguard import modeldir
from veguard.documents import IDENTITY, DocumentRule, combine
from veguard.taxonomy import CATEGORIES, FLAGGING

VIEW_LENGTH = 512
MIN_CLASS = 10  # labelled documents of each class a category needs for its own rule
MIN_WORDS = 40  # shorter texts are one window at any window size the project uses
SHIFTS = np.round(np.arange(0.0, 6.01, 0.05), 2)
_FLAG = [CATEGORIES.index(c) for c in FLAGGING]
MAXIMUM = np.tile(np.array(IDENTITY), (len(CATEGORIES), 1))  # the best window alone


def _log(msg: str) -> None:
    print(f"documents: {msg}", file=sys.stderr, flush=True)


def long_rows(clf, df, splits: tuple[str, ...]):
    """The rows of `splits` that `clf` reads as more than one window, and their window counts."""
    from veguard.data.normalize import normalize
    from veguard.language import read

    rows = df[df["split"].isin(splits)]
    rows = rows[rows["text"].str.split().str.len() >= MIN_WORDS]
    readings = [read(normalize(t)) for t in rows["text"]]
    keep = [i for i, r in enumerate(readings) if r.supported]
    rows = rows.iloc[keep]
    views = [clf._view(readings[i])[0] for i in keep]
    _, owner, _ = clf.backend.tokenizer.encode(views)
    n = np.bincount(np.asarray(owner, dtype=int), minlength=len(views))
    multi = n > 1
    return rows[multi], [v for v, m in zip(views, multi, strict=True) if m]


def features(clf, views: list[str], view_length: int, batch_size: int = 32):
    """(best-window calibrated logits [n, C], document-view calibrated logits [n, C]) from the
    model alone (no prefilter, no rule)."""
    return (clf.window_logits(views, batch_size),
            clf.window_logits(views, batch_size, view_length))


def _flags(probs: np.ndarray, review: np.ndarray) -> np.ndarray:
    return (probs[:, _FLAG] >= review[_FLAG]).any(axis=1)


def _violating(labels: np.ndarray) -> np.ndarray:
    return (labels[:, _FLAG] == 1).any(axis=1)


def fit_rule(best: np.ndarray, view: np.ndarray, labels: np.ndarray, review: np.ndarray,
             recall: float) -> tuple[np.ndarray, dict]:
    """Coefficients [C, 3] and what was measured on the fitting documents."""
    from sklearn.linear_model import LogisticRegression

    coef = MAXIMUM.copy()
    per = {}
    for k, c in enumerate(CATEGORIES):
        known = labels[:, k] >= 0
        y = labels[known, k]
        pos, neg = int((y == 1).sum()), int((y == 0).sum())
        per[c] = {"documents": int(known.sum()), "positives": pos}
        if min(pos, neg) < MIN_CLASS:
            per[c]["rule"] = "maximum window (too few labelled documents)"
            continue
        x = np.stack([best[known, k], view[known, k]], axis=1)
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
        coef[k] = [float(lr.coef_[0, 0]), float(lr.coef_[0, 1]), float(lr.intercept_[0])]
    violating = _violating(labels)
    max_recall = float(_flags(combine(MAXIMUM, best, view), review)[violating].mean())
    goal = min(recall, max_recall)
    shift = SHIFTS[-1]
    for s in SHIFTS:
        trial = coef.copy()
        trial[_FLAG, 2] += s
        if _flags(combine(trial, best, view), review)[violating].mean() >= goal - 1e-12:
            shift = s
            break
    coef[_FLAG, 2] += shift
    return coef, {"per_category": per, "shift": float(shift), "recall_goal": round(goal, 4)}


def _measure(flags: np.ndarray, violating: np.ndarray) -> dict:
    return {"accuracy": round(float((flags == violating).mean()), 4),
            "false_positives": int((flags & ~violating).sum()),
            "false_negatives": int((~flags & violating).sum())}


def fit_documents(model_dir: str | Path, corpus=None, recall: float | None = None,
                  view_length: int = VIEW_LENGTH, batch_size: int = 32) -> dict:
    """Fit and write the document rule of `model_dir`; returns the `documents` object."""
    from veguard.backends import load_backend
    from veguard.cascade import LazyBackend
    from veguard.modeling import Classifier
    from veguard.training.data import check_corpus, label_matrix, read_corpus

    model_dir = Path(model_dir)
    meta = modeldir.read(model_dir)
    if meta.kind != "transformer":
        raise ValueError(f"{model_dir}: a document rule needs a transformer model (TF-IDF reads "
                         "each text whole)")
    df = (check_corpus(corpus) if corpus is not None and not isinstance(corpus, (str, Path))
          else read_corpus(corpus))
    t0 = time.time()
    clf = Classifier.load(model_dir, documents=False)
    review = np.array([clf.thresholds.review[c] for c in CATEGORIES])
    if recall is None:
        recall = float(clf.thresholds.meta.get("targets", {}).get("review_recall", 0.90))
    if isinstance(clf.backend, LazyBackend):  # a cascade's larger model: loaded now
        clf.backend = load_backend(model_dir, meta)
    alone = Classifier(clf.backend, clf.thresholds, clf.name, clf.meta)  # no prefilter
    rows, views = long_rows(alone, df, ("train", "validation"))
    if len(rows) < 2 * MIN_CLASS:
        raise ValueError(f"corpus has {len(rows)} long documents in train and validation; "
                         f"a document rule needs at least {2 * MIN_CLASS}")
    _log(f"scoring {len(rows)} long documents of the train and validation splits with "
         f"{model_dir} ({clf.describe()})")
    best, view = features(alone, views, view_length, batch_size)
    labels = label_matrix(rows)
    coef, fitted = fit_rule(best, view, labels, review, recall)
    violating = _violating(labels)
    fitted.update({
        "documents": len(rows), "violating": int(violating.sum()),
        "splits": ["train", "validation"],
        "maximum": _measure(_flags(combine(MAXIMUM, best, view), review), violating),
        "rule": _measure(_flags(combine(coef, best, view), review), violating),
    })
    _log(f"fitted in {time.time() - t0:.0f} s: maximum {fitted['maximum']}, "
         f"rule {fitted['rule']} (in sample)")

    test, _ = long_rows(alone, df, ("test",))
    documents = {
        "view_length": int(view_length),
        "coef": {c: [round(float(x), 6) for x in coef[k]] for k, c in enumerate(CATEGORIES)},
        "temperature": {c: float(clf.thresholds.temperature[c]) for c in CATEGORIES},
        "bias": {c: float(clf.thresholds.bias[c]) for c in CATEGORIES},
        "fitted_on": fitted,
    }
    if len(test):
        y = _violating(label_matrix(test))
        texts = test["text"].tolist()
        clf.cache = None
        before = np.array([r.flagged for r in clf.score(texts, batch_size)])
        clf.documents = DocumentRule.from_meta(documents, clf.thresholds,
                                               "documents (new)")
        after = np.array([r.flagged for r in clf.score(texts, batch_size)])
        documents["held_back"] = {"split": "test", "documents": len(test),
                                  "violating": int(y.sum()), "maximum": _measure(before, y),
                                  "rule": _measure(after, y)}
        _log(f"held back (test split, {len(test)} documents): maximum "
             f"{documents['held_back']['maximum']}, rule {documents['held_back']['rule']}")
    documents["fitted"] = time.strftime("%Y-%m-%d")
    modeldir.update(model_dir, documents=documents)
    return documents
