"""Inference backends: normalised texts in, one row of raw logits per token window out.

The fast tokenizer cut into overlapping windows (`WindowTokenizer`), the torch transformer,
the same graph through ONNX Runtime, the TF-IDF reference, and the CPU policy they run under
(precision, thread count, passive OpenMP waiting). `load_backend` picks one for a model
directory. `pad_batch` is the one padding, shared with the training loop; `bucket_width` the
fixed widths scoring pads to.

What it leaves out: normalisation (`veguard.data.normalize`), calibration, decisions and
evidence (`veguard.modeling.Classifier`), and the model directory's metadata
(`veguard.modeldir`).

Windows: `max_length` is the window size in tokens (special tokens included) and `stride` is
the number of tokens consecutive windows share (Hugging Face tokenizer semantics).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from veguard.modeldir import LEGACY_TFIDF_FILE, TFIDF_FILE, ModelMeta, ModelNotFoundError
from veguard.taxonomy import CATEGORIES

PRECISIONS = ("fp32", "bf16")
BACKENDS = ("torch", "onnx")
MAX_BATCH_TOKENS = 8192  # padded tokens per model call (32 windows of 256)


# --- CPU policy --------------------------------------------------------------------------


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


TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


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
            raise ValueError(
                f"{path}: stride ({stride}) must be in [0, max_length - 2) "
                f"(max_length {max_length})"
            )
        self.path = path
        self.tok = Tokenizer.from_file(str(f))
        self.tok.no_padding()
        self.tok.enable_truncation(max_length, stride=stride)
        self.pad_token_id = self._pad_id(path)

    def _pad_id(self, path: Path) -> int:
        # special_tokens_map.json where the saving library wrote one (transformers < 5), else
        # tokenizer_config.json (MPNet pads with "<pad>" = 1, BERT with "[PAD]" = 0).
        pad = "[PAD]"
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            try:
                found = json.loads((path / name).read_text(encoding="utf-8")).get("pad_token")
            except (OSError, json.JSONDecodeError, AttributeError):
                continue
            if found:
                pad = found["content"] if isinstance(found, dict) else found
                break
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
            src = self.path / name
            if src.is_file() and src.resolve() != (out / name).resolve():
                (out / name).write_bytes(src.read_bytes())


class TransformerBackend:
    """A sequence-classification transformer (BERT, MPNet, ...: the Auto classes read
    config.json) and its fast tokenizer, scored window by window."""

    kind = "transformer"

    def __init__(self, model: Any, tokenizer: WindowTokenizer, precision: str):
        self.model, self.tokenizer, self.precision = model, tokenizer, precision
        self._views: dict[int, WindowTokenizer] = {}  # other window sizes (document views)

    @classmethod
    def load(cls, path: Path, meta: ModelMeta, precision: str) -> TransformerBackend:
        model = lean = _load_lean(path)
        if model is None:
            model = _load_auto(path)
        num_labels = getattr(model, "num_labels", None) or model.config.num_labels
        if num_labels != len(CATEGORIES):
            raise ValueError(f"{path}: num_labels is {num_labels}, expected {len(CATEGORIES)}")
        positions = getattr(model, "max_position_embeddings", None) or int(
            model.config.max_position_embeddings)
        max_length = min(meta.max_length, int(positions))
        if precision == "bf16" and lean is not None:  # veguard's own modules: nothing else
            bf16_linears(model)  # reads a parameter's dtype to build masks
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
        """Logits for token windows, batched by width bucket so padding stays small.

        Each window is padded to `bucket_width(len)`, a function of its own length only, and
        batched only with windows of the same bucket: its padded width, and so the bf16
        arithmetic, does not depend on what else is in the batch (a text scores the same alone,
        in a file or in a service batch with long texts). A batch holds at most `batch_size`
        windows and at most MAX_BATCH_TOKENS padded tokens, so batches of full-length windows
        (long articles) do not balloon activation memory.
        """
        out = np.zeros((len(ids), len(CATEGORIES)), dtype=np.float32)
        pad = self.tokenizer.pad_token_id
        buckets: dict[int, list[int]] = {}
        for i, x in enumerate(ids):
            buckets.setdefault(bucket_width(len(x), self.max_length), []).append(i)
        for width in sorted(buckets):
            idx = buckets[width]
            step = max(1, min(batch_size, MAX_BATCH_TOKENS // width))
            for b in range(0, len(idx), step):
                part = idx[b : b + step]
                input_ids, mask = pad_batch([ids[i] for i in part], pad, width)
                out[part] = self.run(input_ids, mask)
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

    def windows(self, texts: list[str], batch_size: int, length: int | None = None) -> Windows:
        """Logits per window; `length` reads the texts in windows of that many tokens instead
        of the model's own (the document view, `veguard.documents`), overlapping by a quarter."""
        tok = self.tokenizer if length is None else self._tokenizer_for(length)
        ids, owner, spans = tok.encode(texts)
        return Windows(self.forward(ids, batch_size), np.asarray(owner), np.asarray(spans))

    def _tokenizer_for(self, length: int) -> WindowTokenizer:
        if length not in self._views:
            # the position table bounds a window: the lean models say how far (MPNet's 514
            # rows hold 512 tokens); 512 for the rest (transformers' classes, ONNX)
            n = min(length, int(getattr(self.model, "max_position_embeddings", None) or 512))
            self._views[length] = WindowTokenizer(self.tokenizer.path, n, n // 4)
        return self._views[length]


def bf16_linears(model: Any) -> int:
    """Store the linear layers' weights and biases in bf16; returns how many.

    Under bf16 autocast a linear layer casts its fp32 weight and bias to bf16 on every call
    (round to nearest even, as `.to(bfloat16)` does), so casting them once gives bit-identical
    logits (a test checks it) without the per-call cast: a single short post through MPNet
    28.8 -> 22.3 ms median here, and the fp32 copies' memory back. Everything else (embeddings,
    LayerNorm) stays fp32, as autocast keeps it. Only for the bf16 path: without autocast the
    bf16 weights would change the arithmetic.
    """
    import torch

    n = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.weight.data = module.weight.data.to(torch.bfloat16)
            if module.bias is not None:
                module.bias.data = module.bias.data.to(torch.bfloat16)
            n += 1
    return n


def _load_lean(path: Path) -> Any:
    """`veguard.bert.LeanBert` or `veguard.mpnet.LeanMPNet` when it computes this config
    exactly (no transformers import: ~2 s of start-up, more for MPNet), else None."""
    from veguard import bert, mpnet, weights

    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # transformers reports a missing or broken config in its own words
    if mpnet.supports(config) and ((path / mpnet.WEIGHTS).is_file() or weights.files(path)):
        return mpnet.LeanMPNet.from_dir(path)
    if not bert.supports(config) or not (path / bert.WEIGHTS).is_file():
        return None
    return bert.LeanBert.from_dir(path)


def _load_auto(path: Path) -> Any:
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the load report and progress bar are noise here
    hf_logging.disable_progress_bar()
    from veguard import weights

    if weights.files(path):  # int8-stored weights (veguard.weights), computed in float
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
        model.load_state_dict(weights.load(path), strict=True)
        return model.eval()
    # Weights may be stored in fp16 to halve the download; compute in fp32 (or bf16 autocast).
    model = AutoModelForSequenceClassification.from_pretrained(
        path, local_files_only=True, dtype=torch.float32
    )
    return model.eval()


class OnnxBackend(TransformerBackend):
    """The same windows through an ONNX Runtime session (written by `veguard export`).

    For a directory whose veguard.json names an `onnx` file: `Classifier.load(dir,
    backend="onnx")` or `VEGUARD_BACKEND=onnx`, and by default for a cascade's fast stage
    with an fp32 graph (`veguard.cascade.load_fast`), because it starts without importing
    torch. A model used alone stays on torch by default: ONNX fp32 was slower than the torch
    bf16 path on short posts, and int8 flipped decisions (docs/PERFORMANCE.md).
    """

    def __init__(self, session: Any, tokenizer: WindowTokenizer, precision: str):
        super().__init__(None, tokenizer, precision)
        self.session = session

    @classmethod
    def load(cls, path: Path, meta: ModelMeta, precision: str) -> OnnxBackend:
        import onnxruntime as ort

        f = path / meta.onnx["file"]
        if not f.is_file():
            raise ModelNotFoundError(f"{f}: missing (named in {path / 'veguard.json'})")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = default_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # errors only: its optimiser's notes are not the user's
        opts.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if spin_allowed() else "0"
        )
        session = ort.InferenceSession(str(f), opts, providers=["CPUExecutionProvider"])
        tokenizer = _window_tokenizer(path, meta, meta.max_length)
        return cls(session, tokenizer, "onnx-" + meta.onnx.get("dtype", "fp32"))

    def run(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": mask})[0]


def _window_tokenizer(path: Path, meta: ModelMeta, max_length: int) -> WindowTokenizer:
    stride = meta.stride if meta.stride is not None else max_length // 4
    return WindowTokenizer(path, max_length, stride)


class TfidfBackend:
    """The TF-IDF reference: one "window" per text, logits = coef @ tf-idf + intercept.

    Stored as `tfidf.npz` (plain arrays: vectorizer terms and idf, one coefficient row and
    intercept per category; `veguard.tfidf` computes the features in numpy), read without
    pickle or scikit-learn. A directory from before 2026-12-07 holds `tfidf.joblib` (the
    pickled {"vectorizer": FeatureUnion, "models": {category: LogisticRegression}}): it is
    still read, with scikit-learn, into the same arrays; joblib files are pickles, so load
    only model directories you trust.
    """

    kind = "tfidf"
    precision = "fp32"
    FORMAT = "veguard-tfidf-1"

    def __init__(self, vectorizers: list, coef: np.ndarray, intercept: np.ndarray):
        self.vectorizers = vectorizers
        self.coef = np.asarray(coef, dtype=np.float64)  # [len(CATEGORIES), n_features]
        self.intercept = np.asarray(intercept, dtype=np.float64)  # [len(CATEGORIES)]

    @classmethod
    def from_sklearn(cls, obj: Any, where: str) -> TfidfBackend:
        """From the trained bundle {"vectorizer": FeatureUnion, "models": {c: LR}}."""
        from veguard.tfidf import Tfidf

        ok = isinstance(obj, dict) and "vectorizer" in obj and isinstance(obj.get("models"), dict)
        if not ok:
            raise ValueError(f"{where}: expected a dict with 'vectorizer' and 'models'")
        missing = [c for c in CATEGORIES if c not in obj["models"]]
        if missing:
            raise ValueError(f"{where}: lacks models for {', '.join(missing)}")
        union = obj["vectorizer"]
        parts = getattr(union, "transformer_list", None) or [("", union)]
        vectorizers = [Tfidf.from_sklearn(v, where) for _, v in parts]
        models = [obj["models"][c] for c in CATEGORIES]
        coef = np.stack([np.ravel(m.coef_) for m in models])
        intercept = np.array([float(np.ravel(m.intercept_)[0]) for m in models])
        return cls(vectorizers, coef, intercept)

    @classmethod
    def load(cls, path: Path, meta: ModelMeta, precision: str) -> TfidfBackend:
        from veguard import tfidf

        f = path / TFIDF_FILE
        if not f.is_file() and (path / LEGACY_TFIDF_FILE).is_file():
            return cls._load_legacy(path / LEGACY_TFIDF_FILE)
        if not f.is_file():
            raise ModelNotFoundError(f"{f}: missing")
        try:
            with np.load(f, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            header = json.loads(str(arrays["header"]))
            if header.get("format") != cls.FORMAT:
                raise ValueError(f"not a {cls.FORMAT} file (format {header.get('format')!r})")
            if header.get("categories") != list(CATEGORIES):
                raise ValueError(f"categories {header.get('categories')!r}, expected "
                                 f"{list(CATEGORIES)!r}")
            return cls(tfidf.read(arrays, header["vectorizers"]), arrays["coef"],
                       arrays["intercept"])
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{f}: cannot load TF-IDF model: {e}") from e

    @classmethod
    def _load_legacy(cls, f: Path) -> TfidfBackend:
        import joblib

        try:
            obj = joblib.load(f)  # a trusted local artefact: joblib unpickles
        except Exception as e:  # unpickling a corrupt file raises almost anything
            raise ValueError(f"{f}: cannot load TF-IDF model: {e!r}") from e
        return cls.from_sklearn(obj, str(f))

    def save(self, model_dir: Path) -> Path:
        """Write `tfidf.npz` into `model_dir` (and remove a legacy `tfidf.joblib`)."""
        from veguard import tfidf

        arrays: dict = {"coef": self.coef, "intercept": self.intercept}
        settings = tfidf.write(arrays, self.vectorizers)
        arrays["header"] = np.array(json.dumps(
            {"format": self.FORMAT, "categories": list(CATEGORIES), "vectorizers": settings}))
        out = Path(model_dir) / TFIDF_FILE
        with open(out, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        (Path(model_dir) / LEGACY_TFIDF_FILE).unlink(missing_ok=True)
        return out

    def windows(self, texts: list[str], batch_size: int) -> Windows:
        from veguard import tfidf

        logits = np.empty((len(texts), len(CATEGORIES)), dtype=np.float32)
        for i, text in enumerate(texts):
            cols, x = tfidf.features(self.vectorizers, text)
            logits[i] = self.coef[:, cols] @ x + self.intercept
        spans = np.array([(0, len(t)) for t in texts]).reshape(-1, 2)
        return Windows(logits, np.arange(len(texts)), spans)


BUCKET_STEP = 8  # window widths are padded to a multiple of this (at most ~1/3 padding)


def bucket_width(length: int, max_length: int) -> int:
    """The padded width of a window of `length` tokens: the next multiple of BUCKET_STEP,
    capped at the window size. Depends on nothing else, which is what keeps scores
    independent of batch composition."""
    return max(1, min(max(length, max_length), -(-length // BUCKET_STEP) * BUCKET_STEP))


def pad_batch(ids: list[list[int]], pad_id: int,
              width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) int64 arrays, padded to `width` (default: the longest
    sequence in `ids`)."""
    width = max(len(x) for x in ids) if width is None else width
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = x
        mask[row, : len(x)] = 1
    return input_ids, mask


def load_backend(
    path: Path, meta: ModelMeta, backend: str | None = None, precision: str | None = None
) -> Backend:
    """The backend for the model directory `path`.

    `backend` (torch / onnx) defaults to `$VEGUARD_BACKEND`, else torch; `precision`
    (fp32 / bf16) to `choose_precision()`. TF-IDF directories ignore both.
    """
    backend = (backend or os.environ.get("VEGUARD_BACKEND") or "torch").strip().lower()
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: expected 'torch' or 'onnx' (VEGUARD_BACKEND)")
    if meta.kind == "tfidf":
        return TfidfBackend.load(path, meta, "fp32")
    if backend == "onnx":
        if not meta.onnx:
            raise ModelNotFoundError(f"{path}: no ONNX model (write one with `veguard export`)")
        return OnnxBackend.load(path, meta, "fp32")
    _prepare_openmp()
    import torch

    torch.set_num_threads(default_threads())
    return TransformerBackend.load(path, meta, precision or choose_precision())
