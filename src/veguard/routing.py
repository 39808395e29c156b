"""Routing labels: for a text flagged `extremism`, the likely producing movement and the
behaviour (GIFCT categories), each with a score, so a queue can send IS-K recruitment to a
Pashto-speaking specialist and an accelerationist threat to another team.

The model is deliberately light: word + character TF-IDF and one multinomial logistic
regression per dimension (`taxonomy.ROUTING`), trained with scikit-learn by `veguard train`
with `kind: routing` (`veguard.training.routing`) and stored as `routing.npz` beside the
classifier's weights (`modeldir.ROUTING_FILE`): plain arrays (vocabularies, idf weights,
coefficients) read without pickle and applied here in numpy, so scoring never imports
scikit-learn (about 1.4 s) nor unpickles a 3 MB file (about 1 s). It reads the normalised text
the classifier read, and is asked only about texts the classifier flagged for extremism: it
says *whose* and *what kind*, never *whether*.

`RoutingModel(bundle)` takes what training fits, a dict {"vectorizer": FeatureUnion of
TfidfVectorizers, "movement": LogisticRegression, "behaviour": LogisticRegression}, and keeps
its arrays; the analyzers below reproduce scikit-learn's `word` and `char_wb` ones (a test
holds the two to the same probabilities). A directory from before 2026-12-07 may hold
`routing.joblib` (the pickled bundle) instead: it is still read, with scikit-learn; joblib
files are pickles, so load only model directories you trust.
What it leaves out: training data and fitting (`veguard.training.routing`), evaluation
(the `routing` suite kind in `veguard.evaluation`).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from veguard import tfidf
from veguard.modeldir import LEGACY_ROUTING_FILE, ROUTING_FILE
from veguard.taxonomy import ROUTING
from veguard.tfidf import Tfidf

FORMAT = "veguard-routing-1"
class RoutingModel:
    """`predict(texts)` -> one {"movement": {"label", "score"}, "behaviour": {...}} per text.

    `load` / `from_model_dir` read the file on first use, not at once: a process that flags
    nothing for extremism never reads it.
    """

    def __init__(self, bundle: dict | None = None, where: str = ROUTING_FILE,
                 path: Path | None = None):
        self.where, self._path = where, path
        self._parts = None if bundle is None else self._from_sklearn(bundle, where)
        self._lock = threading.Lock()  # the service scores from several threads

    @staticmethod
    def _check_classes(dim: str, classes, where: str) -> None:
        bad = [c for c in classes if c not in ROUTING[dim]]
        if bad:
            raise ValueError(f"{where}: {dim} label {str(bad[0])!r} is not one of "
                             f"{', '.join(ROUTING[dim])} (taxonomy.ROUTING)")

    @classmethod
    def _from_sklearn(cls, bundle: dict, where: str) -> dict:
        missing = [k for k in ("vectorizer", *ROUTING) if k not in bundle]
        if missing:
            raise ValueError(f"{where}: routing bundle lacks {', '.join(missing)}")
        parts = {"vectorizers": [Tfidf.from_sklearn(v, where)
                                 for _, v in bundle["vectorizer"].transformer_list]}
        width = sum(len(v.terms) for v in parts["vectorizers"])
        for dim in ROUTING:
            clf = bundle[dim]
            cls._check_classes(dim, clf.classes_, where)
            coef = np.asarray(clf.coef_, dtype=np.float64)
            intercept = np.asarray(clf.intercept_, dtype=np.float64)
            if len(clf.classes_) == 2 and coef.shape[0] == 1:  # binary: p = sigmoid(z), the
                coef, intercept = np.r_[-coef, coef] / 2, np.r_[-intercept, intercept] / 2
                # softmax of (-z/2, z/2)
            if coef.shape != (len(clf.classes_), width):
                raise ValueError(f"{where}: {dim} needs one row per label over {width} "
                                 f"features, got coefficients {coef.shape}")
            parts[dim] = (coef, intercept, [str(c) for c in clf.classes_])
        return parts

    @classmethod
    def _read(cls, path: Path) -> dict:
        if path.name == LEGACY_ROUTING_FILE:
            import joblib

            return cls._from_sklearn(joblib.load(path), str(path))
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            header = json.loads(str(arrays["header"]))
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{path}: cannot read the routing model: {e}") from e
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} file (format {header.get('format')!r})")
        parts = {"vectorizers": tfidf.read(arrays, header["vectorizers"])}
        for dim in ROUTING:
            classes = [str(c) for c in arrays[f"{dim}_classes"]]
            cls._check_classes(dim, classes, str(path))
            parts[dim] = (arrays[f"{dim}_coef"], arrays[f"{dim}_intercept"], classes)
        return parts

    @property
    def parts(self) -> dict:
        if self._parts is None:
            with self._lock:
                if self._parts is None:
                    self._parts = self._read(self._path)
        return self._parts

    @classmethod
    def load(cls, path: str | os.PathLike) -> RoutingModel:
        """The routing model in the file `path`, read on first use."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no routing model")
        return cls(where=str(path), path=Path(path))

    @classmethod
    def from_model_dir(cls, model_dir: str | os.PathLike) -> RoutingModel | None:
        """The model directory's routing model (`routing.npz`, else a legacy
        `routing.joblib`), or None when it has none."""
        for name in (ROUTING_FILE, LEGACY_ROUTING_FILE):
            p = Path(model_dir) / name
            if p.is_file():
                return cls.load(p)
        return None

    def save(self, model_dir: str | os.PathLike) -> Path:
        """Write `routing.npz` into `model_dir` (and remove a legacy `routing.joblib`)."""
        parts = self.parts
        vs = parts["vectorizers"]
        arrays: dict = {}
        settings = tfidf.write(arrays, vs)
        arrays["header"] = np.array(json.dumps({"format": FORMAT, "vectorizers": settings}))
        for dim in ROUTING:
            coef, intercept, classes = parts[dim]
            arrays[f"{dim}_coef"], arrays[f"{dim}_intercept"] = coef, intercept
            arrays[f"{dim}_classes"] = np.array(classes, dtype=str)
        out = Path(model_dir) / ROUTING_FILE
        with open(out, "wb") as f:
            np.savez_compressed(f, **arrays)
        (Path(model_dir) / LEGACY_ROUTING_FILE).unlink(missing_ok=True)
        return out

    def predict(self, texts: list[str]) -> list[dict]:
        """Texts as the classifier read them (normalised); the top label per dimension."""
        if not texts:
            return []
        parts = self.parts
        out: list[dict] = []
        for text in texts:
            cols, x = tfidf.features(parts["vectorizers"], text)
            row = {}
            for dim in ROUTING:
                coef, intercept, classes = parts[dim]
                z = coef[:, cols] @ x + intercept
                p = np.exp(z - z.max())
                p /= p.sum()
                j = int(np.argmax(p))
                row[dim] = {"label": classes[j], "score": round(float(p[j]), 6)}
            out.append(row)
        return out


def attach(results: list, texts: list[str], model: RoutingModel | None) -> None:
    """Set `routing` on each ScoreResult flagged for extremism (in place); others keep None."""
    if model is None:
        return
    todo = [i for i, r in enumerate(results) if r.categories.get("extremism")]
    for i, routing in zip(todo, model.predict([texts[i] for i in todo]), strict=True):
        results[i].routing = routing
