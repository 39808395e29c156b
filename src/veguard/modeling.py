"""`veguard.Classifier`: load a model directory, score texts, explain the top score.

What it does: loads a model directory (`veguard.modeldir`) through a backend
(`veguard.backends`: torch, ONNX Runtime or TF-IDF), normalises texts with the one
`normalize`, reads their language (`veguard.language`: text the English model cannot read is
not judged, `supported: false`; a mixed post is judged on its English part; emoji are spelled
as words for models trained so), scores every token window, takes the per-category max,
calibrates (`veguard.metrics.sigmoid` of `Thresholds.scale`: logit / temperature + bias),
decides a text of several windows by the directory's document rule when it has one
(`veguard.documents`: the best window and a document view of up to 512 tokens), keeps a
bounded cache of results by normalised text (`ResultCache`), decides with
`Thresholds.decide`, and points `evidence` at the span of the ORIGINAL text
(`veguard.offsets`) whose window drove the top flagging score, and, when the directory has a
routing model (`veguard.routing`), adds the likely movement and behaviour to every result
flagged for extremism. `logits()` gives the
raw per-text logits the same way, for calibration.

What it leaves out: file reading and output formats (`veguard.scoring`), writing ONNX files
(`veguard.export`), training and calibration (other modules write the directory we read),
and the backends' tokenisation, batching and CPU policy (`veguard.backends`).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import overload

import numpy as np

from veguard import modeldir
from veguard.backends import (  # noqa: F401  (re-exported: the public names predate the split)
    Backend,
    OnnxBackend,
    TfidfBackend,
    TransformerBackend,
    Windows,
    WindowTokenizer,
    choose_precision,
    cpu_flags,
    default_threads,
    load_backend,
)
from veguard.cascade import LazyBackend, Prefilter, load_prefilter
from veguard.data.normalize import normalize
from veguard.documents import DocumentRule, to_logit
from veguard.language import Reading, map_span, model_view, read
from veguard.metrics import sigmoid
from veguard.modeldir import DEFAULT_MODEL, ModelMeta, ModelNotFoundError  # noqa: F401
from veguard.modeldir import resolve as resolve_model_path  # noqa: F401
from veguard.offsets import normalize_with_offsets, to_original_span  # noqa: F401
from veguard.result import Evidence, ScoreResult
from veguard.routing import RoutingModel, attach
from veguard.taxonomy import CATEGORIES, FLAGGING
from veguard.thresholds import Thresholds

SCORE_CHUNK = 4096  # texts tokenized and scored together inside one score() call
CACHE_SIZE = 20_000  # results kept (`VEGUARD_CACHE_SIZE`; 0 turns the cache off)
CACHE_MAX_CHARS = 1_000  # longer texts are not cached: they rarely repeat, and bound memory


def default_cache_size() -> int:
    env = os.environ.get("VEGUARD_CACHE_SIZE", "").strip()
    if not env:
        return CACHE_SIZE
    if not env.isdigit():
        raise ValueError(f"VEGUARD_CACHE_SIZE={env!r}: expected a whole number (0: no cache)")
    return int(env)


class ResultCache:
    """Model output per normalised text, least recently used first out; thread-safe (the
    service scores from several threads). At most `size` entries of at most CACHE_MAX_CHARS
    characters each, so its memory is bounded (~25 MB at the defaults).

    Queues repeat themselves (copypasta, spam waves, reposts); a hit skips tokenising and the
    model. Values are what `_score_normalised` computes for the text, which depends only on
    the normalised text and this classifier.
    """

    def __init__(self, size: int):
        self.size = size
        self.hits = self.misses = 0
        self._data: OrderedDict[str, tuple] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str):
        with self._lock:
            value = self._data.get(text)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(text)
            self.hits += 1
            return value

    def put(self, text: str, value: tuple) -> None:
        if len(text) > CACHE_MAX_CHARS:
            return
        with self._lock:
            self._data[text] = value
            self._data.move_to_end(text)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class Classifier:
    """Scores texts with a model directory.

    >>> clf = Classifier.load()                      # doctest: +SKIP
    >>> clf.score("they deserve to be executed").flagged  # doctest: +SKIP
    True
    """

    def __init__(
        self, backend: Backend, thresholds: Thresholds, name: str, meta: ModelMeta | None = None,
        routing: RoutingModel | None = None, prefilter: Prefilter | None = None,
    ):
        self.backend = backend
        self.routing = routing
        self.prefilter = prefilter
        self.thresholds = thresholds
        self.name = name
        self.meta = meta or ModelMeta(kind=backend.kind, name=name)
        if any(thresholds.temperature[c] <= 0 for c in CATEGORIES):
            raise ValueError(f"{name}: temperatures must be positive, got {thresholds.temperature}")
        size = default_cache_size()
        self.cache: ResultCache | None = ResultCache(size) if size else None
        # How texts of several windows are decided (None: the maximum window); `load` reads
        # it from veguard.json, a cascade's fast stage never has one.
        self.documents: DocumentRule | None = None

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, precision: str | None = None,
             backend: str | None = None, documents: bool = True) -> Classifier:
        """Load `path`, `$VEGUARD_MODEL` or the shipped default (offline only).

        `precision` (fp32 / bf16) defaults to `choose_precision()`; `backend` (torch / onnx)
        to `$VEGUARD_BACKEND`, else torch. `documents=False` leaves out the directory's
        document rule (the maximum window decides every text), as when refitting it.
        """
        p = modeldir.resolve(path)
        meta = modeldir.read(p)
        tpath = p / modeldir.THRESHOLDS_FILE
        thresholds = Thresholds.load(tpath) if tpath.is_file() else Thresholds.default()
        prefilter = load_prefilter(p, meta, precision, backend, thresholds.review)
        if prefilter is None:
            impl = load_backend(p, meta, backend, precision)
        else:  # the larger model loads on the first text the fast one does not clear
            impl = LazyBackend(lambda: load_backend(p, meta, backend, precision), precision)
        routing = RoutingModel.from_model_dir(p)
        if routing is None and prefilter is not None:
            routing = prefilter.clf.routing  # routing labels read the text alone
        clf = cls(impl, thresholds, str(meta.name or p.name), meta, routing, prefilter)
        if documents and meta.documents is not None:
            clf.documents = DocumentRule.from_meta(meta.documents, thresholds,
                                                   f"{p / modeldir.META_FILE}")
        return clf

    def save(self, path: str | os.PathLike) -> Path:
        """Write a transformer model directory (docs/DESIGN.md) that `load` reads back."""
        b = self.backend
        if self.prefilter is not None:
            raise TypeError("save() does not write cascades; `veguard cascade` builds them")
        if not isinstance(b, TransformerBackend) or isinstance(b, OnnxBackend):
            raise TypeError("save() writes transformer models; TF-IDF dirs come from training")
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        b.model.save_pretrained(out)
        b.tokenizer.save(out)
        meta = ModelMeta(
            kind="transformer",
            name=self.name,
            max_length=b.max_length,
            stride=b.stride,
            policy_version=self.meta.policy_version,
            base_model=self.meta.base_model,
            trained=self.meta.trained,
            emoji_names=self.meta.emoji_names,  # what the model reads travels with it
            routing=self.meta.routing if self.routing is not None else None,
            # the rule holds for the thresholds saved beside it (the same calibration)
            documents=self.meta.documents if self.documents is not None else None,
        )
        modeldir.write(out, meta)
        self.thresholds.save(out / modeldir.THRESHOLDS_FILE)
        if self.routing is not None:  # the routing model travels with the classifier
            self.routing.save(out)
        return out

    @property
    def precision(self) -> str:
        return getattr(self.backend, "precision", "fp32")

    # -- scoring --

    def _calibrate(self, logits: np.ndarray) -> np.ndarray:
        return sigmoid(self.thresholds.scale(logits))

    def logits(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Raw logits [len(texts), len(CATEGORIES)]: the max over each text's windows.

        The same normalisation, windows, backend and precision as `score`, before calibration.
        `score` takes the max of sigmoid(logit / T + b) over windows, which is monotone in the
        logit, so thresholds chosen on these logits hold for its scores (calibration uses this).
        Unlike `score`, blank texts are run through the model too (one window of special tokens).
        Texts the model cannot read (`supported` false) get NaN: they are never judged, so
        calibration leaves them out. The document rule is not applied: it is fitted after
        calibration, on these logits' calibrated values (`veguard.documents`).
        """
        norm = [normalize(t) for t in _check_texts(texts)]
        readings = [read(t) for t in norm]
        live = [i for i, r in enumerate(readings) if r.supported]
        views = [self._view(readings[i])[0] for i in live]
        out = np.full((len(norm), len(CATEGORIES)), np.nan)
        got = np.full((len(live), len(CATEGORIES)), -np.inf)
        for c in range(0, len(views), SCORE_CHUNK):
            w = self.backend.windows(views[c : c + SCORE_CHUNK], batch_size)
            owner = c + np.asarray(w.owner, dtype=int)
            np.maximum.at(got, owner, np.asarray(w.logits, dtype=np.float64))
        if not np.isfinite(got).all():
            raise ValueError(f"{self.name}: some texts produced no window")
        out[live] = got
        return out

    def _view(self, reading: Reading) -> tuple[str, list[tuple[int, int]] | None]:
        return model_view(reading, self.meta.emoji_names)

    def describe(self) -> str:
        """How this classifier computes, for calibration records."""
        rule = "max over windows" if self.documents is None else (
            f"max over windows, texts of several windows by the document rule "
            f"(view {self.documents.view_length} tokens)")
        how = f"veguard.modeling.Classifier ({self.backend.kind}, {self.precision}, {rule})"
        if self.prefilter is not None:
            how += f", after the prefilter {self.prefilter.clf.name}"
        return how

    def _score_normalised(self, norm: list[str], readings: list[Reading], batch_size: int):
        """(probs [n, C], per-text window count, per-text per-category best window span).

        Spans are in `norm` coordinates. Empty and unsupported texts get no model call and a
        window count of 0. A normalised text is run through the model once per call however
        often it occurs, and not at all when the result cache holds it: a text's model output
        does not depend on what it is batched with (`veguard.backends.bucket_width`), so a
        repeat's result is the result it would get.
        """
        n = len(norm)
        probs = np.zeros((n, len(CATEGORIES)))
        counts = np.zeros(n, dtype=int)
        best_span = np.zeros((n, len(CATEGORIES), 2), dtype=int)
        first: dict[str, int] = {}  # normalised text -> the index that is scored
        for i, t in enumerate(norm):
            if t.strip() and readings[i].supported:
                first.setdefault(t, i)
        todo = []
        for t, i in first.items():
            hit = self.cache.get(t) if self.cache is not None else None
            if hit is None:
                todo.append(i)
            else:
                probs[i], counts[i], best_span[i] = hit
        if self.prefilter is not None and todo:
            # The fast stage first: what it clears keeps its result (never flagged: every
            # `clear` is at most the larger model's review point); the rest go on.
            fast = self.prefilter.clf._score_normalised(
                [norm[i] for i in todo], [readings[i] for i in todo], batch_size)
            ok = self.prefilter.clears(fast[0])
            for k in np.flatnonzero(ok):
                i = todo[k]
                probs[i], counts[i], best_span[i] = fast[0][k], fast[1][k], fast[2][k]
            done = [todo[k] for k in np.flatnonzero(ok)]
            passed = {todo[k]: k for k in np.flatnonzero(~ok)}
            todo = list(passed)
        else:
            done, passed = [], {}
        views = {i: self._view(readings[i]) for i in todo}
        # Chunks bound the memory of token lists for very long inputs lists.
        for c in range(0, len(todo), SCORE_CHUNK):
            live = todo[c : c + SCORE_CHUNK]
            w = self.backend.windows([views[i][0] for i in live], batch_size)
            p = self._calibrate(w.logits)
            best = np.full((len(live), len(CATEGORIES)), -1.0)
            for k in range(len(p)):  # per category the max over a text's windows
                j = int(w.owner[k])
                counts[live[j]] += 1
                better = p[k] > best[j]
                best[j] = np.where(better, p[k], best[j])
                best_span[live[j], better] = map_span(views[live[j]][1], *map(int, w.spans[k]))
            long = ([j for j in range(len(live)) if counts[live[j]] > 1]
                    if self.documents is not None else [])
            if long:  # texts of several windows: the document rule
                view = self.window_logits([views[live[j]][0] for j in long], batch_size,
                                          self.documents.view_length)
                best[long] = self.documents.combine(to_logit(best[long]), view)
            probs[live] = best
        if passed and self.prefilter.categories:  # never-flagging categories the fast
            cols = self.prefilter.columns          # stage ranks better: its score for all
            for i, k in passed.items():
                probs[i, cols], best_span[i, cols] = fast[0][k, cols], fast[2][k, cols]
        if self.cache is not None:
            for i in done + todo:
                self.cache.put(norm[i], (probs[i].copy(), int(counts[i]), best_span[i].copy()))
        for i, t in enumerate(norm):  # repeats within this call
            j = first.get(t)
            if j is not None and j != i:
                probs[i], counts[i], best_span[i] = probs[j], counts[j], best_span[j]
        return probs, counts, best_span

    def window_logits(self, views: list[str], batch_size: int = 64,
                      length: int | None = None) -> np.ndarray:
        """Calibrated logits [n, C] of each model-view text: the best of its windows, the
        model's own or (`length`) windows of that many tokens, as the document view
        (`veguard.documents`) reads it."""
        w = self.backend.windows(views, batch_size, length)
        z = np.full((len(views), len(CATEGORIES)), -np.inf)
        np.maximum.at(z, np.asarray(w.owner, dtype=int), self.thresholds.scale(w.logits))
        return z

    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Calibrated scores [len(texts), len(CATEGORIES)] in CATEGORIES order (for evaluation)."""
        norm = [normalize(t) for t in _check_texts(texts)]
        return self._score_normalised(norm, [read(t) for t in norm], batch_size)[0]

    @overload
    def score(self, texts: str, batch_size: int = 64) -> ScoreResult: ...
    @overload
    def score(self, texts: list[str], batch_size: int = 64) -> list[ScoreResult]: ...

    def score(self, texts, batch_size: int = 64):
        """One ScoreResult for a string; a list of them, in input order, for a list."""
        if isinstance(texts, str):
            return self.score([texts], batch_size)[0]
        texts = _check_texts(texts)
        norm = [normalize(t) for t in texts]
        readings = [read(t) for t in norm]
        probs, counts, spans = self._score_normalised(norm, readings, batch_size)
        results = []
        for i, text in enumerate(texts):
            lang = readings[i].language
            if counts[i] == 0:
                results.append(_empty_result(lang, readings[i].supported))
                continue
            scores = {c: float(probs[i, k]) for k, c in enumerate(CATEGORIES)}
            categories, flagged, action = self.thresholds.decide(scores)
            evidence = None
            if flagged:
                top = max((c for c in FLAGGING if categories[c]), key=lambda c: scores[c])
                a, b = spans[i, CATEGORIES.index(top)]
                # Offsets are mapped lazily: only flagged texts pay for the offset map.
                start, end = to_original_span(text, norm[i], int(a), int(b))
                evidence = Evidence(start, end, text[start:end], top)
            extra = {"windows": int(counts[i])} if counts[i] > 1 else {}
            results.append(
                ScoreResult(flagged, categories, scores, action, evidence, extra, lang, True)
            )
        attach(results, norm, self.routing)
        return results

    def route(self, texts: list[str]) -> list[dict] | None:
        """The routing labels of every text, flagged or not (for evaluation); None without a
        routing model."""
        if self.routing is None:
            return None
        return self.routing.predict([normalize(t) for t in _check_texts(texts)])



def _check_texts(texts) -> list[str]:
    if isinstance(texts, (bytes, bytearray)) or not hasattr(texts, "__iter__"):
        raise TypeError(f"score() takes a str or a list of str, got {type(texts).__name__}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, expected str")
    return texts


def _empty_result(language: str = "und", supported: bool = True) -> ScoreResult:
    # Empty / whitespace-only, or unreadable (`supported` false): score 0 and never flagged,
    # whatever the thresholds say.
    return ScoreResult(
        flagged=False,
        categories={c: False for c in CATEGORIES},
        scores={c: 0.0 for c in CATEGORIES},
        action="none",
        language=language,
        supported=supported,
    )
