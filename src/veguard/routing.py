"""Routing labels: for a text flagged `extremism`, the likely producing movement and the
behaviour (GIFCT categories), each with a score, so a queue can send IS-K recruitment to a
Pashto-speaking specialist and an accelerationist threat to another team.

The model is deliberately light: word + character TF-IDF and one multinomial logistic
regression per dimension (`taxonomy.ROUTING`), stored as `routing.joblib` beside the
classifier's weights (`modeldir.ROUTING_FILE`) and trained by `veguard train` with
`kind: routing` (`veguard.training.routing`). It reads the normalised text the classifier
read, and is asked only about texts the classifier flagged for extremism: it says *whose*
and *what kind*, never *whether*.

The artefact is a dict {"vectorizer": FeatureUnion, "movement": LogisticRegression,
"behaviour": LogisticRegression}; each classifier's `classes_` are label names from the
taxonomy. Security: joblib files are pickles; load only model directories you trust.
What it leaves out: training data and fitting (`veguard.training.routing`), evaluation
(the `routing` suite kind in `veguard.evaluation`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from veguard.modeldir import ROUTING_FILE
from veguard.taxonomy import ROUTING


class RoutingModel:
    """`predict(texts)` -> one {"movement": {"label", "score"}, "behaviour": {...}} per text.

    `load` / `from_model_dir` read the file on first use, not at once: unpickling it imports
    scikit-learn (about 1 s), which a process that flags nothing for extremism never needs.
    """

    def __init__(self, bundle: dict | None = None, where: str = ROUTING_FILE,
                 path: Path | None = None):
        self.where, self._path = where, path
        self._bundle = None if bundle is None else self._check(bundle, where)
        self._lock = threading.Lock()  # the service scores from several threads

    @staticmethod
    def _check(bundle: dict, where: str) -> dict:
        missing = [k for k in ("vectorizer", *ROUTING) if k not in bundle]
        if missing:
            raise ValueError(f"{where}: routing bundle lacks {', '.join(missing)}")
        for dim, labels in ROUTING.items():
            bad = [c for c in bundle[dim].classes_ if c not in labels]
            if bad:
                raise ValueError(f"{where}: {dim} label {str(bad[0])!r} is not one of "
                                 f"{', '.join(labels)} (taxonomy.ROUTING)")
        return bundle

    @property
    def bundle(self) -> dict:
        if self._bundle is None:
            with self._lock:
                if self._bundle is None:
                    import joblib

                    self._bundle = self._check(joblib.load(self._path), self.where)
        return self._bundle

    @classmethod
    def load(cls, path: str | os.PathLike) -> RoutingModel:
        """The routing model in the file `path`, read on first use."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no routing model")
        return cls(where=str(path), path=Path(path))

    @classmethod
    def from_model_dir(cls, model_dir: str | os.PathLike) -> RoutingModel | None:
        """The model directory's routing model, or None when it has none."""
        p = Path(model_dir) / ROUTING_FILE
        return cls.load(p) if p.is_file() else None

    def save(self, model_dir: str | os.PathLike) -> Path:
        import joblib

        out = Path(model_dir) / ROUTING_FILE
        joblib.dump(self.bundle, out, compress=3)
        return out

    def predict(self, texts: list[str]) -> list[dict]:
        """Texts as the classifier read them (normalised); the top label per dimension."""
        if not texts:
            return []
        X = self.bundle["vectorizer"].transform(texts)
        out: list[dict] = [{} for _ in texts]
        for dim in ROUTING:
            clf = self.bundle[dim]
            probs = clf.predict_proba(X)
            best = np.argmax(probs, axis=1)
            for i, j in enumerate(best):
                out[i][dim] = {"label": str(clf.classes_[j]), "score": round(float(probs[i, j]), 6)}
        return out


def attach(results: list, texts: list[str], model: RoutingModel | None) -> None:
    """Set `routing` on each ScoreResult flagged for extremism (in place); others keep None."""
    if model is None:
        return
    todo = [i for i, r in enumerate(results) if r.categories.get("extremism")]
    for i, routing in zip(todo, model.predict([texts[i] for i in todo]), strict=True):
        results[i].routing = routing
