"""`veguard.Classifier`: load a model directory, score texts, explain the top score.

What it does: loads a model directory (docs/DESIGN.md) of kind `transformer` or `tfidf`,
normalises texts with the one `normalize`, splits long texts into overlapping token windows,
scores every window, takes the per-category max, calibrates (sigmoid(logit / temperature)),
decides with `Thresholds.decide`, and points `evidence` at the span of the ORIGINAL text whose
window drove the top flagging score. The transformer path is the fast one: bf16 autocast where
the CPU has native bf16 (avx512_bf16 / amx_bf16), length-sorted, token-budgeted batches with
dynamic padding, `torch.inference_mode`, batched fast-tokenizer calls, passive thread waiting.
A directory written by `veguard export` is scored through ONNX Runtime instead (no torch import).

What it leaves out: file reading and output formats (`veguard.scoring`), writing ONNX files
(`veguard.export`), training and calibration (other modules write the directory we read).

Windows: `max_length` is the window size in tokens (special tokens included) and `stride` is
the number of tokens consecutive windows share (Hugging Face tokenizer semantics).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, overload

import numpy as np

from veguard.data.normalize import normalize
from veguard.result import Evidence, ScoreResult
from veguard.taxonomy import CATEGORIES, FLAGGING, POLICY_VERSION
from veguard.thresholds import Thresholds

DEFAULT_MODEL = "models/veguard-minilm-v1"
PRECISIONS = ("fp32", "bf16")
MAX_BATCH_TOKENS = 8192  # padded tokens per model call (32 windows of 256)
SCORE_CHUNK = 4096  # texts tokenized and scored together inside one score() call


class ModelNotFoundError(FileNotFoundError):
    """The model directory (or a file it must contain) is missing."""


def repo_root() -> Path:
    # src/veguard/modeling.py -> repo root (an editable install keeps the package in src/).
    return Path(__file__).resolve().parents[2]


def resolve_model_path(path: str | os.PathLike | None = None) -> Path:
    """`path`, else `$VEGUARD_MODEL`, else the shipped default under the repository root."""
    if path is None:
        path = os.environ.get("VEGUARD_MODEL") or repo_root() / DEFAULT_MODEL
    p = Path(path)
    if not p.is_dir():
        raise ModelNotFoundError(
            f"model directory not found: {p} (pass a path / --model, or set VEGUARD_MODEL)"
        )
    if not (p / "veguard.json").is_file():
        raise ModelNotFoundError(f"{p}: not a veguard model directory (no veguard.json)")
    return p


def read_meta(path: Path) -> dict:
    try:
        meta = json.loads((path / "veguard.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path / 'veguard.json'}: cannot read: {e}") from e
    if not isinstance(meta, dict) or meta.get("kind") not in ("transformer", "tfidf"):
        raise ValueError(f"{path / 'veguard.json'}: field 'kind' must be 'transformer' or 'tfidf'")
    cats = tuple(meta.get("categories", CATEGORIES))
    if cats != CATEGORIES:
        raise ValueError(
            f"{path / 'veguard.json'}: categories {list(cats)} differ from {list(CATEGORIES)}"
        )
    return meta


# --- CPU capabilities -------------------------------------------------------------------


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def choose_precision() -> str:
    """`$VEGUARD_PRECISION` if set, else bf16 when the CPU does bf16 natively, else fp32.

    Without native bf16 instructions autocast emulates it and is slower than fp32.
    """
    env = os.environ.get("VEGUARD_PRECISION", "").strip().lower()
    if env:
        if env not in PRECISIONS:
            raise ValueError(f"VEGUARD_PRECISION={env!r}; expected one of {', '.join(PRECISIONS)}")
        return env
    import torch

    capability = torch.backends.cpu.get_cpu_capability()  # e.g. "AVX512", "AVX2", "DEFAULT"
    native = {"amx_bf16", "avx512_bf16"} & cpu_flags()
    return "bf16" if native and capability != "DEFAULT" else "fp32"


def spin_allowed() -> bool:
    """Whether worker threads may busy-wait between parallel regions (`VEGUARD_SPIN=1`).

    Off by default: on a CPU shared with other processes, a spinning thread waits at every
    barrier for a sibling the OS has descheduled, and two threads ran 4x slower than one here
    (docs/PERFORMANCE.md). Passive waiting costs little on an idle machine.
    """
    return os.environ.get("VEGUARD_SPIN", "") == "1"


def _prepare_openmp() -> None:
    # OpenMP reads its wait policy once, when torch loads it: only effective before that.
    if not spin_allowed() and "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def default_threads() -> int:
    # Cores this process may run on (containers and taskset restrict it below os.cpu_count()).
    env = os.environ.get("VEGUARD_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# --- backends: normalised texts in, one row of raw logits per window out -------------------


@dataclass
class Windows:
    """Raw logits per window; `owner[i]` is the text index, `spans[i]` its normalised char span."""

    logits: np.ndarray  # [n_windows, len(CATEGORIES)] float32
    owner: np.ndarray  # [n_windows] int
    spans: np.ndarray  # [n_windows, 2] int


class Backend(Protocol):
    kind: str

    def windows(self, texts: list[str], batch_size: int) -> Windows: ...


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


class WindowTokenizer:
    """The model's fast tokenizer (the `tokenizers` library: no transformers or torch import),
    cutting each text into windows of `max_length` tokens that overlap by `stride` tokens.

    Same ids and offsets as `AutoTokenizer(..., truncation=True, return_overflowing_tokens=True)`
    (a test checks this); special tokens are added to every window.
    """

    def __init__(self, path: Path, max_length: int, stride: int):
        from tokenizers import Tokenizer

        f = path / "tokenizer.json"
        if not f.is_file():
            raise ModelNotFoundError(f"{f}: missing (veguard needs the fast tokenizer's file)")
        if not 0 <= stride < max_length - 2:
            raise ValueError(f"{path}: stride ({stride}) must be in [0, max_length - 2) (max_length {max_length})")
        self.path = path
        self.tok = Tokenizer.from_file(str(f))
        self.tok.no_padding()
        self.tok.enable_truncation(max_length, stride=stride)
        self.pad_token_id = self._pad_id(path)

    def _pad_id(self, path: Path) -> int:
        pad = "[PAD]"
        try:
            special = json.loads((path / "special_tokens_map.json").read_text(encoding="utf-8"))
            pad = special.get("pad_token", pad)
            pad = pad["content"] if isinstance(pad, dict) else pad
        except (OSError, json.JSONDecodeError):
            pass
        pid = self.tok.token_to_id(pad)
        return 0 if pid is None else pid

    def token_ids(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode(self, texts: list[str]) -> tuple[list[list[int]], list[int], list[tuple[int, int]]]:
        """Token windows: ids per window, owning text index, normalised char span."""
        ids, owner, spans = [], [], []
        for j, enc in enumerate(self.tok.encode_batch(texts)):
            for w in (enc, *enc.overflowing):
                real = [o for o, special in zip(w.offsets, w.special_tokens_mask, strict=True)
                        if not special and o[1] > o[0]]
                ids.append(w.ids)
                owner.append(j)
                spans.append((real[0][0], real[-1][1]) if real else (0, 0))
        return ids, owner, spans

    def save(self, out: Path) -> None:
        for name in TOKENIZER_FILES:
            if (self.path / name).is_file() and (self.path / name).resolve() != (out / name).resolve():
                (out / name).write_bytes((self.path / name).read_bytes())


class TransformerBackend:
    """A BertForSequenceClassification and its fast tokenizer, scored window by window."""

    kind = "transformer"

    def __init__(self, model: Any, tokenizer: WindowTokenizer, precision: str):
        self.model, self.tokenizer, self.precision = model, tokenizer, precision

    @classmethod
    def load(cls, path: Path, meta: dict, precision: str) -> TransformerBackend:
        import torch
        from transformers import BertForSequenceClassification
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # the load report and progress bar are noise here
        hf_logging.disable_progress_bar()
        # Weights may be stored in fp16 to halve the download; compute in fp32 (or bf16 autocast).
        model = BertForSequenceClassification.from_pretrained(
            path, local_files_only=True, dtype=torch.float32
        )
        model.eval()
        if model.config.num_labels != len(CATEGORIES):
            raise ValueError(f"{path}: num_labels is {model.config.num_labels}, expected {len(CATEGORIES)}")
        max_length = min(int(meta.get("max_length", 256)), int(model.config.max_position_embeddings))
        return cls(model, _window_tokenizer(path, meta, max_length), precision)

    @property
    def max_length(self) -> int:
        return self.tokenizer.tok.truncation["max_length"]

    @property
    def stride(self) -> int:
        return self.tokenizer.tok.truncation["stride"]

    def encode(self, texts: list[str]):
        return self.tokenizer.encode(texts)

    def forward(self, ids: list[list[int]], batch_size: int) -> np.ndarray:
        """Logits for token windows, batched by length so padding stays small.

        A batch holds at most `batch_size` windows and at most MAX_BATCH_TOKENS padded tokens,
        so batches of full-length windows (long articles) do not balloon activation memory.
        """
        out = np.zeros((len(ids), len(CATEGORIES)), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        pad = self.tokenizer.pad_token_id
        b = 0
        while b < len(order):
            e = b + 1
            # Sorted ascending, so the last window taken sets the padded width.
            while e < len(order) and e - b < batch_size and (e - b + 1) * len(ids[order[e]]) <= MAX_BATCH_TOKENS:
                e += 1
            idx = order[b:e]
            width = len(ids[idx[-1]])
            input_ids = np.full((len(idx), width), pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            out[idx] = self.run(input_ids, mask)
            b = e
        return out

    def run(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode(), torch.autocast(
            "cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"
        ):
            logits = self.model(
                input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(mask)
            ).logits
        return logits.float().numpy()

    def windows(self, texts: list[str], batch_size: int) -> Windows:
        ids, owner, spans = self.encode(texts)
        return Windows(self.forward(ids, batch_size), np.asarray(owner), np.asarray(spans))


class OnnxBackend(TransformerBackend):
    """The same windows through an ONNX Runtime session (written by `veguard export`).

    Opt-in: `Classifier.load(dir, backend="onnx")` or `VEGUARD_BACKEND=onnx`, for a directory
    whose veguard.json names an `onnx` file. Not the default because it was not faster than
    the torch bf16 path at equal decisions (docs/PERFORMANCE.md: ONNX fp32 agrees but is
    slower on short posts; int8 is faster but flips decisions). It does start 10x faster.
    """

    def __init__(self, session: Any, tokenizer: WindowTokenizer, precision: str):
        super().__init__(None, tokenizer, precision)
        self.session = session

    @classmethod
    def load(cls, path: Path, meta: dict, precision: str) -> OnnxBackend:
        import onnxruntime as ort

        f = path / meta["onnx"]["file"]
        if not f.is_file():
            raise ModelNotFoundError(f"{f}: missing (named in {path / 'veguard.json'})")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = default_threads()
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_allowed() else "0")
        session = ort.InferenceSession(str(f), opts, providers=["CPUExecutionProvider"])
        tokenizer = _window_tokenizer(path, meta, int(meta.get("max_length", 256)))
        return cls(session, tokenizer, "onnx-" + meta["onnx"].get("dtype", "fp32"))

    def run(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": mask})[0]


def _window_tokenizer(path: Path, meta: dict, max_length: int) -> WindowTokenizer:
    stride = int(meta.get("stride", max_length // 4))
    return WindowTokenizer(path, max_length, stride)


class TfidfBackend:
    """The TF-IDF reference: one "window" per text, logits from decision_function."""

    kind = "tfidf"
    precision = "fp32"

    def __init__(self, vectorizer: Any, models: dict[str, Any]):
        missing = [c for c in CATEGORIES if c not in models]
        if missing:
            raise ValueError(f"tfidf.joblib lacks models for {', '.join(missing)}")
        self.vectorizer, self.models = vectorizer, models

    @classmethod
    def load(cls, path: Path, meta: dict, precision: str) -> TfidfBackend:
        import joblib

        f = path / "tfidf.joblib"
        if not f.is_file():
            raise ModelNotFoundError(f"{f}: missing")
        obj = joblib.load(f)  # a trusted local artefact: joblib unpickles
        return cls(obj["vectorizer"], obj["models"])

    def windows(self, texts: list[str], batch_size: int) -> Windows:
        x = self.vectorizer.transform(texts)
        logits = np.stack([self.models[c].decision_function(x) for c in CATEGORIES], axis=1)
        spans = np.array([(0, len(t)) for t in texts]).reshape(-1, 2)
        return Windows(logits.astype(np.float32), np.arange(len(texts)), spans)


# --- the public classifier -------------------------------------------------------------


class Classifier:
    """Scores texts with a model directory.

    >>> clf = Classifier.load()                      # doctest: +SKIP
    >>> clf.score("they deserve to be executed").flagged  # doctest: +SKIP
    True
    """

    def __init__(self, backend: Backend, thresholds: Thresholds, name: str, meta: dict | None = None):
        self.backend = backend
        self.thresholds = thresholds
        self.name = name
        self.meta = meta or {}
        self.load_seconds: float | None = None
        temps = np.array([thresholds.temperature[c] for c in CATEGORIES], dtype=np.float64)
        if np.any(temps <= 0):
            raise ValueError(f"{name}: temperatures must be positive, got {thresholds.temperature}")
        self._temps = temps

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, precision: str | None = None,
             backend: str | None = None) -> Classifier:
        """Load `path`, `$VEGUARD_MODEL` or the shipped default (offline only).

        `precision` (fp32 / bf16) defaults to `choose_precision()`; `backend` (torch / onnx)
        to `$VEGUARD_BACKEND`, else torch.
        """
        t0 = time.perf_counter()
        p = resolve_model_path(path)
        meta = read_meta(p)
        tpath = p / "thresholds.json"
        thresholds = Thresholds.load(tpath) if tpath.is_file() else Thresholds.default()
        backend = (backend or os.environ.get("VEGUARD_BACKEND") or "torch").strip().lower()
        if backend not in ("torch", "onnx"):
            raise ValueError(f"backend {backend!r}: expected 'torch' or 'onnx' (VEGUARD_BACKEND)")
        if backend == "onnx" and meta["kind"] == "transformer" and not meta.get("onnx"):
            raise ModelNotFoundError(f"{p}: no ONNX model (write one with `veguard export`)")
        if meta["kind"] == "transformer" and backend == "onnx":
            impl: Backend = OnnxBackend.load(p, meta, "fp32")
        elif meta["kind"] == "transformer":
            _prepare_openmp()
            import torch

            torch.set_num_threads(default_threads())
            prec = precision or choose_precision()
            impl = TransformerBackend.load(p, meta, prec)
        else:
            impl = TfidfBackend.load(p, meta, "fp32")
        clf = cls(impl, thresholds, str(meta.get("name") or p.name), meta)
        clf.load_seconds = time.perf_counter() - t0
        return clf

    def save(self, path: str | os.PathLike) -> Path:
        """Write a transformer model directory (docs/DESIGN.md) that `load` reads back."""
        b = self.backend
        if not isinstance(b, TransformerBackend) or isinstance(b, OnnxBackend):
            raise TypeError("save() writes transformer models; TF-IDF dirs come from training")
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        b.model.save_pretrained(out)
        b.tokenizer.save(out)
        meta = {
            "kind": "transformer",
            "name": self.name,
            "max_length": b.max_length,
            "stride": b.stride,
            "categories": list(CATEGORIES),
            "policy_version": self.meta.get("policy_version", POLICY_VERSION),
            "base_model": self.meta.get("base_model", ""),
            "trained": self.meta.get("trained", {}),
        }
        (out / "veguard.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        self.thresholds.save(out / "thresholds.json")
        return out

    @property
    def precision(self) -> str:
        return getattr(self.backend, "precision", "fp32")

    # -- scoring --

    def _calibrate(self, logits: np.ndarray) -> np.ndarray:
        z = logits.astype(np.float64) / self._temps
        return 1.0 / (1.0 + np.exp(-z))

    def _score_normalised(self, norm: list[str], batch_size: int):
        """(probs [n, C], per-text window count, per-text per-category best window span)."""
        n = len(norm)
        probs = np.zeros((n, len(CATEGORIES)))
        counts = np.zeros(n, dtype=int)
        best_span = np.zeros((n, len(CATEGORIES), 2), dtype=int)
        live_all = [i for i, t in enumerate(norm) if t.strip()]  # empty texts: no model call
        # Chunks bound the memory of token lists for very long inputs lists.
        for c in range(0, len(live_all), SCORE_CHUNK):
            live = live_all[c : c + SCORE_CHUNK]
            w = self.backend.windows([norm[i] for i in live], batch_size)
            p = self._calibrate(w.logits)
            best = np.full((len(live), len(CATEGORIES)), -1.0)
            for k in range(len(p)):  # per category the max over a text's windows
                j = int(w.owner[k])
                counts[live[j]] += 1
                better = p[k] > best[j]
                best[j] = np.where(better, p[k], best[j])
                best_span[live[j], better] = w.spans[k]
            probs[live] = best
        return probs, counts, best_span

    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Calibrated scores [len(texts), len(CATEGORIES)] in CATEGORIES order (for evaluation)."""
        norm = [normalize(t) for t in _check_texts(texts)]
        return self._score_normalised(norm, batch_size)[0]

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
        probs, counts, spans = self._score_normalised(norm, batch_size)
        results = []
        for i, text in enumerate(texts):
            if counts[i] == 0:
                results.append(_empty_result())
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
            results.append(ScoreResult(flagged, categories, scores, action, evidence, extra))
        return results


# --- normalised -> original character offsets ------------------------------------------
# `normalize` rewrites text (entities, NFKC, removals, URL/@user tokens, whitespace), so a span
# of the normalised text is not a span of the input. We replay the same steps while keeping,
# for every character, the input span it came from, and check the replay equals `normalize`.
# If it does not (a case the replay gets wrong, e.g. NFKC composing across clusters), we fall
# back to finding the normalised span's text in the input, and failing that to proportional
# positions: approximate, but always a valid span of the input.

Src = list[tuple[int, int]]


def _sub(s: str, src: Src, pattern: re.Pattern[str], repl) -> tuple[str, Src]:
    out, out_src, pos = [], [], 0
    for m in pattern.finditer(s):
        out.append(s[pos : m.start()])
        out_src.extend(src[pos : m.start()])
        r = repl(m) if callable(repl) else repl
        if m.end() > m.start():
            span = (src[m.start()][0], src[m.end() - 1][1])
        else:
            span = src[m.start()] if m.start() < len(src) else (src[-1][1], src[-1][1])
        out.append(r)
        out_src.extend([span] * len(r))
        pos = m.end()
    out.append(s[pos:])
    out_src.extend(src[pos:])
    return "".join(out), out_src


_CLUSTER = re.compile(r"(?s).[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u3099\u309a]*")


def normalize_with_offsets(text: str) -> tuple[str, Src]:
    """`normalize(text)` plus, per output character, the (start, end) input span it came from.

    Raises ValueError when the replay does not reproduce `normalize` exactly.
    """
    import html
    import unicodedata

    from veguard.data import normalize as N

    s, src = text, [(i, i + 1) for i in range(len(text))]
    for _ in range(3):
        if html.unescape(s) == s:
            break
        s, src = _sub(s, src, html._charref, html._replace_charref)  # what unescape() runs
    s, src = _sub(s, src, _CLUSTER, lambda m: unicodedata.normalize("NFKC", m.group()))
    s, src = _sub(s, src, N._INVISIBLE, "")
    s, src = _sub(s, src, re.compile(r"[\x00-\x1f\x7f-\x9f]"), lambda m: " " if not m.group().isspace() else m.group())
    s, src = _sub(s, src, N._URL, N.URL_TOKEN)
    s, src = _sub(s, src, N._USER, N.USER_TOKEN)
    s, src = _sub(s, src, N._WS, " ")
    lead = len(s) - len(s.lstrip())
    s, src = s.strip(), src[lead : lead + len(s.strip())]
    if s != normalize(text):
        raise ValueError("offset replay differs from normalize()")
    return s, src


def to_original_span(text: str, norm: str, a: int, b: int) -> tuple[int, int]:
    """Map the span [a, b) of `norm` (= normalize(text)) to a span of `text`."""
    a, b = max(0, a), min(len(norm), b)
    if b <= a:
        return 0, len(text)
    try:
        _, src = normalize_with_offsets(text)
        return src[a][0], src[b - 1][1]
    except ValueError:
        pass
    piece = norm[a:b]
    i = text.find(piece)
    if i < 0:
        i = text.lower().find(piece.lower())
    if i >= 0 and len(text.lower()) == len(text):
        return i, i + len(piece)
    scale = len(text) / max(1, len(norm))
    return int(a * scale), min(len(text), max(int(a * scale) + 1, round(b * scale)))


def _check_texts(texts) -> list[str]:
    if isinstance(texts, (bytes, bytearray)) or not hasattr(texts, "__iter__"):
        raise TypeError(f"score() takes a str or a list of str, got {type(texts).__name__}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, expected str")
    return texts


def _empty_result() -> ScoreResult:
    # Empty / whitespace-only: score 0 and never flagged, whatever the thresholds say.
    return ScoreResult(
        flagged=False,
        categories={c: False for c in CATEGORIES},
        scores={c: 0.0 for c in CATEGORIES},
        action="none",
    )
