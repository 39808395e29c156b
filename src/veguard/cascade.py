"""The cascade: a fast model clears what it is confidently benign on, a larger one decides the
rest.

A cascade directory is the larger model's directory (its config, weights, tokenizer and
`thresholds.json`) whose `veguard.json` has a `prefilter` object:

    "prefilter": {"model": "../veguard-minilm-v2",          # relative to the directory
                  "clear": {"extremism": 0.04, "violence": 0.03, "hate": 0.05},
                  "chosen_on": {...}}                         # how `clear` was measured

A text whose fast-model score is under `clear` on every flagging category is *cleared*: its
result is the fast model's scores, decided by the cascade's thresholds. The fast model scores
every text, so a category that never flags (`offensive`) may be taken from it for every text:
`"fast_categories": ["offensive"]`, chosen by `build()` where the fast model ranks that
category better on validation (v5: offensive AUPRC 0.980 fast vs 0.966 MPNet), and decided at
the fast model's own operating points (`take_fast_points` copies them into the cascade's
thresholds.json; calibrating a cascade does it again). Every `clear` is at
most the larger model's `review` point, so a cleared text is never flagged. Every other text
is scored by the larger model, which loads on the first such text (`LazyBackend`), so a
process that only sees benign traffic never pays its start-up. Without a routing model of
its own, a cascade uses the prefilter's (routing labels read the text alone).

`build()` writes a cascade directory: it scores the validation split (the queue-like mix
calibration uses) with both models, sets the `clear` points that clear the most validation
negatives while clearing at most `max_loss` of the violations the larger model catches (one
budget shared by the flagging categories: `choose_clear`), and picks the `fast_categories`.

What it leaves out: the Classifier's scoring path (`veguard.modeling`, which asks `Prefilter`
which texts to clear), calibration of the larger model (done when it was trained), and the
weight format (`veguard.weights`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veguard import modeldir
from veguard.taxonomy import CATEGORIES, FLAGGING

MAX_LOSS = 0.01  # share of the validation violations the larger model catches a cascade may clear
GRID = 100  # candidate clear points per category (quantiles of the fast scores)
_FLAG_IDX = [CATEGORIES.index(c) for c in FLAGGING]


@dataclass
class Prefilter:
    """The fast stage: a Classifier, the per-category `clear` scores, and the non-flagging
    categories whose score the cascade takes from it for every text."""

    clf: Any  # veguard.modeling.Classifier (imported lazily: modeling imports this module)
    clear: dict[str, float]
    counts: dict[str, int] = field(default_factory=lambda: {"cleared": 0, "passed": 0})
    categories: tuple[str, ...] = ()

    @property
    def columns(self) -> list[int]:
        """CATEGORIES indices of `categories`."""
        return [CATEGORIES.index(c) for c in self.categories]

    def clears(self, probs: np.ndarray) -> np.ndarray:
        """Which rows of fast-model scores [n, len(CATEGORIES)] are cleared."""
        limits = np.array([self.clear[c] for c in FLAGGING])
        ok = (probs[:, _FLAG_IDX] < limits).all(axis=1)
        self.counts["cleared"] += int(ok.sum())
        self.counts["passed"] += int((~ok).sum())
        return ok

    @property
    def passed_share(self) -> float | None:
        n = self.counts["cleared"] + self.counts["passed"]
        return self.counts["passed"] / n if n else None


class LazyBackend:
    """A backend loaded on its first use (the cascade's larger model)."""

    kind = "transformer"

    def __init__(self, load: Callable[[], Any], precision: str | None = None):
        self._load, self._impl, self._precision = load, None, precision
        self._lock = threading.Lock()  # the service scores from several threads

    @property
    def loaded(self) -> bool:
        return self._impl is not None

    @property
    def precision(self) -> str:
        """The larger model's precision: as loaded, else as asked, else the CPU's choice
        (asked only when someone wants to know: choosing imports torch)."""
        if self._impl is not None:
            return self._impl.precision
        if self._precision is None:
            from veguard.backends import choose_precision

            self._precision = choose_precision()
        return self._precision

    def windows(self, texts: list[str], batch_size: int, length: int | None = None):
        if self._impl is None:
            with self._lock:
                if self._impl is None:
                    self._impl = self._load()
        if length is None:
            return self._impl.windows(texts, batch_size)
        return self._impl.windows(texts, batch_size, length)


def check_prefilter(d: Any, where: str) -> None:
    """The `prefilter` object of veguard.json (ValueError naming the field)."""
    if not isinstance(d, dict) or not isinstance(d.get("model"), str) or not d["model"]:
        raise ValueError(f"{where}: field 'prefilter' needs 'model', a directory path")
    clear = d.get("clear")
    if not isinstance(clear, dict) or set(clear) != set(FLAGGING):
        raise ValueError(f"{where}: field 'prefilter.clear' needs exactly {', '.join(FLAGGING)}")
    for c, v in clear.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise ValueError(f"{where}: field 'prefilter.clear.{c}' must be in [0, 1], got {v!r}")
    cats = d.get("fast_categories", [])
    allowed = [c for c in CATEGORIES if c not in FLAGGING]
    if not isinstance(cats, list) or any(c not in allowed for c in cats):
        raise ValueError(f"{where}: field 'prefilter.fast_categories' must list categories "
                         f"that never flag ({', '.join(allowed)}), got {cats!r}")


def load_fast(path: Path, precision: str | None = None, backend: str | None = None) -> Any:
    """The fast stage's Classifier, computing in fp32 on every CPU.

    ONNX Runtime when its directory carries an fp32 graph (`veguard export --in-place`, over
    its own weights) and onnxruntime is installed, else torch in fp32: the same numbers
    within 1e-5 either way, so a post the fast stage clears gets the same scores on every
    machine and with either runtime. ONNX Runtime starts without importing torch, so a
    process that only sees posts the fast stage clears never imports it (docs/PERFORMANCE.md,
    "Start-up"). `veguard cascade` chooses `clear` on these same scores. An explicit
    `backend` or `precision` (or `$VEGUARD_BACKEND`, `$VEGUARD_PRECISION`) is used as given:
    `VEGUARD_PRECISION=bf16` runs it on torch in bf16, which on the shipped cascade scored the
    queue-like mix about 1.2x faster but starts 2 s slower, with scores up to ~0.01 apart.
    """
    from veguard.backends import choose_precision
    from veguard.modeling import Classifier

    if precision is None and os.environ.get("VEGUARD_PRECISION", "").strip():
        precision = choose_precision()  # the variable, checked where it is read for any model
    if backend is None and not os.environ.get("VEGUARD_BACKEND"):
        onnx = modeldir.read(path).onnx or {}
        fp32 = precision in (None, "fp32")
        backend = ("onnx" if fp32 and onnx.get("dtype") == "fp32" and _has_onnxruntime()
                   else "torch")
    return Classifier.load(path, precision=precision or "fp32", backend=backend)


def _has_onnxruntime() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def load_prefilter(path: Path, meta: modeldir.ModelMeta, precision: str | None,
                   backend: str | None, review: dict[str, float]) -> Prefilter | None:
    """The fast stage named by `meta.prefilter` (None when the directory is not a cascade).

    `review` is the larger model's review points: a `clear` above one (the thresholds were
    recalibrated after the cascade was built) would let the fast stage clear texts the
    cascade must flag, so it is refused.
    """
    if not meta.prefilter:
        return None
    above = [c for c in FLAGGING if meta.prefilter["clear"][c] > review[c]]
    if above:
        raise ValueError(
            f"{path}: prefilter.clear.{above[0]} ({meta.prefilter['clear'][above[0]]:.4f}) is "
            f"above the review point ({review[above[0]]:.4f}); the thresholds changed after "
            "the cascade was built: rebuild it with `veguard cascade`")

    fast_path = (Path(path) / meta.prefilter["model"]).resolve()
    fast = load_fast(fast_path, precision, backend)
    if fast.meta.prefilter:
        raise ValueError(f"{path}: the prefilter {fast_path} is itself a cascade")
    fast.documents = None  # `clear` was chosen on the maximum window; it clears by that

    return Prefilter(fast, {c: float(meta.prefilter["clear"][c]) for c in FLAGGING},
                     categories=tuple(meta.prefilter.get("fast_categories", [])))


def choose_fast_categories(fast: np.ndarray, big: np.ndarray,
                           labels: np.ndarray) -> tuple[list[str], dict]:
    """The categories that never flag whose validation AUPRC is higher with the fast model's
    scores than with the larger model's; and both AUPRCs (the evaluation's own formula)."""
    from veguard.metrics import auprc

    chosen, record = [], {}
    for c in CATEGORIES:
        if c in FLAGGING:
            continue
        j = CATEGORIES.index(c)
        known = (labels[:, j] >= 0) & np.isfinite(fast[:, j]) & np.isfinite(big[:, j])
        y = labels[known, j]
        if len(y) == 0 or y.min() == y.max():
            continue  # nothing to rank on: keep the larger model's
        record[c] = {"auprc_fast": round(auprc(y, fast[known, j]), 4),
                     "auprc_model": round(auprc(y, big[known, j]), 4)}
        if record[c]["auprc_fast"] > record[c]["auprc_model"]:
            chosen.append(c)
    return chosen, record


def choose_clear(fast: np.ndarray, big_flagged: np.ndarray, labels: np.ndarray,
                 review: dict[str, float], max_loss: float = MAX_LOSS,
                 grid: int = GRID) -> tuple[dict, dict]:
    """The `clear` points that clear the most validation negatives while clearing at most
    `max_loss` of the violations the larger model catches, capped at each `review` point;
    and what was measured.

    A violation is a text positive on some flagging category that the larger model flags in
    that category (`big_flagged`, bool [n, C]); it is lost when the fast model clears it. The
    budget, floor(`max_loss` x violations), is shared by the categories: one per-category budget
    of 1% rounds to nothing on a category with under 100 such positives (violence had 87 in
    v6's validation rows, so its clear fell under the lowest-scored one, 0.005, and the fast
    stage passed up nearly every offensive post for it). A negative is a text positive on no
    flagging category. Each category's candidates are 0 (clear nothing), `grid` quantiles of
    its fast scores and its `review` point; every combination is counted exactly through prefix
    sums over a histogram of the rows' candidate ranks. Ties go to fewer violations lost, then
    to the lower points. Rows without a finite fast score on every
    flagging category (texts the model cannot read) are left out.
    """
    scores = fast[:, _FLAG_IDX]
    finite = np.isfinite(scores).all(axis=1)
    pos = (labels[:, _FLAG_IDX] == 1) & big_flagged[:, _FLAG_IDX]
    caught = pos.any(axis=1) & finite
    negative = ~(labels[:, _FLAG_IDX] == 1).any(axis=1) & finite
    cands = []
    for k, c in enumerate(FLAGGING):
        q = np.quantile(scores[finite, k], np.linspace(0, 1, grid)) if finite.any() else []
        v = np.unique(np.concatenate([[0.0], np.asarray(q, dtype=np.float64), [review[c]]]))
        cands.append(v[v <= review[c]])
    shape = tuple(len(v) + 1 for v in cands)
    # A row is cleared at candidate indices (i, j, k) when score < cands[i] for each category,
    # i.e. when its rank (how many candidates are <= its score) is <= the index.
    ranks = [np.searchsorted(v, scores[finite, k], side="right") for k, v in enumerate(cands)]

    def cleared_counts(rows: np.ndarray) -> np.ndarray:
        h = np.zeros(shape, dtype=np.int64)
        np.add.at(h, tuple(r[rows[finite]] for r in ranks), 1)
        for axis in range(h.ndim):
            h = np.cumsum(h, axis=axis)
        return h[tuple(slice(0, len(v)) for v in cands)]  # index i <-> candidate cands[i]

    budget = int(np.floor(max_loss * caught.sum()))
    lost, gained = cleared_counts(caught), cleared_counts(negative)
    score = np.where(lost <= budget, gained * (budget + 2) - lost, -1)  # ties: fewer lost
    best = np.unravel_index(int(np.argmax(score)), score.shape)
    clear = {c: float(cands[k][best[k]]) for k, c in enumerate(FLAGGING)}
    ok = (scores < np.array([clear[c] for c in FLAGGING])).all(axis=1) & finite
    record = {c: {"flagged_positives": int(pos[:, k].sum()),
                  "cleared": int((pos[:, k] & ok).sum())} for k, c in enumerate(FLAGGING)}
    record["violations"] = {"flagged": int(caught.sum()), "budget": budget,
                            "cleared": int((caught & ok).sum())}
    record["negatives"] = {"rows": int(negative.sum()), "cleared": int((negative & ok).sum())}
    return clear, record


def build(model: str | Path, fast: str | Path, out: str | Path, corpus=None,
          max_loss: float = MAX_LOSS, int8: bool = True) -> Path:
    """Write a cascade directory at `out` from the larger model directory `model` and the fast
    one `fast`; `int8` stores the larger model's weights as `veguard.weights` int8 shards.

    `model` may itself be a cascade: its larger model is reused (its int8 shards copied as
    they are with `int8=False`), its prefilter and document rule dropped. A document rule is
    fitted afterwards (`veguard train --documents-only`).
    """
    from veguard.modeling import Classifier
    from veguard.thresholds import Thresholds
    from veguard.training.data import label_matrix, read_corpus
    from veguard.training.recalibrate import calibrate_model_dir, validation_rows

    model, fast, out = Path(model), Path(fast), Path(out)
    meta = modeldir.read(model)
    if meta.kind != "transformer" or modeldir.read(fast).kind != "transformer":
        raise ValueError("a cascade joins two transformer model directories")
    _copy_model(model, out, int8)
    earlier = meta.prefilter or {}
    meta.prefilter = meta.documents = None  # the larger model alone, until the end
    modeldir.write(out, meta)
    fast_rel = os.path.relpath(fast.resolve(), out.resolve())
    df = read_corpus(corpus) if corpus is None or isinstance(corpus, (str, Path)) else corpus
    if int8:  # thresholds must hold for the stored (rounded) weights the cascade will run
        calibrate_model_dir(out, df)
    big = Classifier.load(out)
    thresholds = big.thresholds
    val = validation_rows(df, meta)  # the rows the larger model was calibrated on
    texts, labels = val["text"].tolist(), label_matrix(val)
    t0 = time.time()
    fast_probs = load_fast(fast).predict_proba(texts)  # as the cascade will run it
    t1 = time.time()
    big_probs = big.predict_proba(texts)
    t2 = time.time()
    review = {c: thresholds.review[c] for c in FLAGGING}
    big_flagged = np.zeros_like(big_probs, dtype=bool)
    for c in FLAGGING:
        j = CATEGORIES.index(c)
        big_flagged[:, j] = big_probs[:, j] >= review[c]
    clear, record = choose_clear(fast_probs, big_flagged, labels, review, max_loss)
    fast_categories, ranking = choose_fast_categories(fast_probs, big_probs, labels)
    from veguard import weights

    stored = {"weights": "int8 (veguard.weights)" if int8 else "as trained"}
    if not int8 and weights.files(model):  # int8 shards copied as they are: say so, and keep
        # what storing them did, as recorded by the cascade they come from
        stored = {**((earlier.get("chosen_on") or {}).get("stored") or {}),
                  "weights": "int8 (veguard.weights)", "copied_from": model.name}
    if int8:  # what rounding the stored weights did to decisions, each with its own thresholds
        original = Classifier.load(model)
        stored["flagged_flips_vs_float"] = _flips(original, original.predict_proba(texts),
                                                  big, big_probs)
    cleared = (fast_probs[:, _FLAG_IDX] < np.array([clear[c] for c in FLAGGING])).all(axis=1)
    meta.name = out.name  # the cascade, not its larger model alone, is what reports name
    meta.prefilter = {
        "model": fast_rel,
        "clear": clear,
        "fast_categories": fast_categories,
        "chosen_on": {
            "validation_rows": len(val),
            "max_loss": max_loss,
            "per_category": record,
            "ranking": ranking,
            "cleared_share": round(float(cleared.mean()), 4),
            "stored": stored,
            "seconds": {"fast": round(t1 - t0, 1), "model": round(t2 - t1, 1)},
        },
    }
    modeldir.write(out, meta)
    if fast_categories:  # decided where they are scored: at the fast model's own points
        thresholds = Thresholds.load(out / modeldir.THRESHOLDS_FILE)
        take_fast_points(thresholds, out, meta)
        thresholds.save(out / modeldir.THRESHOLDS_FILE)
    print(f"cascade: clear {json.dumps(clear)}; validation cleared {cleared.mean():.1%} "
          f"of {len(val)} rows; from the fast model for every text: "
          f"{', '.join(fast_categories) or 'nothing'} ({json.dumps(ranking)}); fit the "
          "document rule next (veguard train --documents-only)", file=sys.stderr)
    return out


def take_fast_points(thresholds, model_dir: str | Path, meta: modeldir.ModelMeta) -> list[str]:
    """Give `thresholds` (a cascade's) the prefilter's own operating points, records included,
    for the categories the cascade takes from it (`fast_categories`); returns those."""
    from veguard.thresholds import Thresholds

    cats = list((meta.prefilter or {}).get("fast_categories", []))
    if not cats:
        return cats
    source = Thresholds.load(Path(model_dir) / meta.prefilter["model"] / modeldir.THRESHOLDS_FILE)
    ops = thresholds.meta.setdefault("operating_points", {})
    note = "the prefilter's own thresholds.json (the cascade takes this category's score from it)"
    for c in cats:
        thresholds.review[c], thresholds.auto[c] = source.review[c], source.auto[c]
        theirs = source.meta.get("operating_points", {}).get(c, {})
        ops[c] = {point: {**theirs.get(point, {}), "from": note} for point in ("review", "auto")}
    return cats


def _flips(a, pa: np.ndarray, b, pb: np.ndarray) -> dict:
    """How many texts `a` and `b` decide differently (flagged, and action)."""
    da = [a.thresholds.decide(dict(zip(CATEGORIES, map(float, p)))) for p in pa]
    db = [b.thresholds.decide(dict(zip(CATEGORIES, map(float, p)))) for p in pb]
    return {"texts": len(da), "flagged": sum(x[1] != y[1] for x, y in zip(da, db)),
            "action": sum(x[2] != y[2] for x, y in zip(da, db))}


def _copy_model(src: Path, out: Path, int8: bool) -> None:
    """Copy a transformer directory, its weights as int8 shards (or as they are)."""
    from veguard import weights

    out.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if not f.is_file() or f.resolve() == (out / f.name).resolve():
            continue
        if int8 and f.suffix == ".safetensors":
            continue
        shutil.copy2(f, out / f.name)
    if int8:
        from safetensors.torch import load_file

        if weights.files(src):
            state = weights.load(src)
        else:
            state = {}
            for f in sorted(src.glob("model*.safetensors")):
                state.update(load_file(str(f)))
        if not state:
            raise modeldir.ModelNotFoundError(f"{src}: no weights (model*.safetensors)")
        weights.save(state, out)


def main(argv: list[str] | None = None) -> int:
    """`veguard cascade --model BIG --fast SMALL --out DIR`."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="veguard cascade",
        description="Join a larger model and a fast one into a cascade directory: the fast "
        "model clears what it is confidently benign on, the larger one decides the rest.")
    ap.add_argument("--model", required=True, help="the larger model directory (trained)")
    ap.add_argument("--fast", required=True, help="the fast model directory (the prefilter)")
    ap.add_argument("--out", required=True, help="the cascade directory to write")
    ap.add_argument("--corpus", default=None, help="corpus with the validation split "
                    "(default: data/processed/corpus.parquet)")
    ap.add_argument("--max-loss", type=float, default=MAX_LOSS,
                    help="share of the validation violations the larger model catches that the "
                    "prefilter may clear, all flagging categories together (default 0.01)")
    ap.add_argument("--float-weights", action="store_true",
                    help="copy the larger model's weights as they are (default: int8 shards, "
                    "veguard.weights)")
    opts = ap.parse_args(argv)
    if not 0.0 <= opts.max_loss < 1.0:
        ap.error(f"--max-loss must be in [0, 1), got {opts.max_loss}")
    try:
        out = build(opts.model, opts.fast, opts.out, opts.corpus, opts.max_loss,
                    int8=not opts.float_weights)
    except (ValueError, FileNotFoundError) as e:
        print(f"veguard cascade: {e}", file=sys.stderr)
        return 2
    print(out)
    return 0
