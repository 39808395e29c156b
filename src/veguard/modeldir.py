"""The model directory: its file names and `veguard.json`, the one place either is spelled.

A model directory (docs/DESIGN.md) holds `veguard.json` (a `ModelMeta`), `thresholds.json`,
and the kind's weights. `resolve()` finds one (argument, `$VEGUARD_MODEL`, the shipped
default), `read()` parses and checks its metadata on every read (kind, categories, window
sizes), `write()` / `update()` write it. Training, `Classifier.save`, `veguard export` and the
test fixtures all write through here, and everything that reads goes through `read()`.

What it leaves out: the weights and tokenizer files (the backends read them), thresholds
(`veguard.thresholds`), and calibration (`veguard.training.recalibrate`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veguard.paths import REPO_ROOT
from veguard.taxonomy import CATEGORIES, POLICY_VERSION

META_FILE = "veguard.json"
THRESHOLDS_FILE = "thresholds.json"
VALIDATION_FILE = "validation_metrics.json"
TFIDF_FILE = "tfidf.npz"  # the TF-IDF reference as plain arrays (veguard.backends.TfidfBackend)
LEGACY_TFIDF_FILE = "tfidf.joblib"  # the pickled scikit-learn bundle (read, never written)
# Optional: the routing-label model (`veguard.routing`); absent, results carry no `routing`.
ROUTING_FILE = "routing.npz"
LEGACY_ROUTING_FILE = "routing.joblib"  # the pickled scikit-learn bundle (read, never written)
KINDS = ("transformer", "tfidf")
DEFAULT_MODEL = "models/veguard-cascade-v9"
DEFAULT_MAX_LENGTH = 256


class ModelNotFoundError(FileNotFoundError):
    """The model directory (or a file it must contain) is missing."""


@dataclass
class ModelMeta:
    """The contents of `veguard.json`.

    `stride` is the number of tokens consecutive windows share; a file without it gets
    `max_length // 4` (training always writes it: `TrainArgs.window_stride`). TF-IDF models
    record `max_length` and `stride` as 0: they read the whole text. `onnx` is set by
    `veguard export`; `routing` by a routing training run; `prefilter` by `veguard cascade`;
    `documents` by `veguard train --documents-only`.
    `emoji_names` says the model reads emoji as English names. Keys this version does not
    know are kept in `extra` and written back.
    """

    kind: str
    name: str = ""
    max_length: int = DEFAULT_MAX_LENGTH
    stride: int | None = None
    categories: tuple[str, ...] = CATEGORIES
    policy_version: str = POLICY_VERSION
    base_model: str = ""
    trained: dict = field(default_factory=dict)
    onnx: dict | None = None
    # True: the model was trained on emoji spelled as English names (`language.model_view`).
    # Absent (older directories): emoji reach the tokenizer as they are.
    emoji_names: bool = False
    # Set by `veguard train` with kind `routing`: what `routing.joblib` was trained on.
    routing: dict | None = None
    # Set by `veguard cascade`: the fast model that clears texts first (`veguard.cascade`).
    prefilter: dict | None = None
    # Set by `veguard train --documents-only`: how texts of several windows are decided
    # (`veguard.documents`). Absent: the maximum window.
    documents: dict | None = None
    extra: dict = field(default_factory=dict)

    @property
    def window_stride(self) -> int:
        return self.stride if self.stride is not None else self.max_length // 4

    @classmethod
    def from_dict(cls, d: Any, where: str = META_FILE) -> ModelMeta:
        """Checked: names `where` and the field on any problem (ValueError)."""
        if not isinstance(d, dict) or d.get("kind") not in KINDS:
            raise ValueError(f"{where}: field 'kind' must be 'transformer' or 'tfidf'")
        cats = tuple(d.get("categories", CATEGORIES))
        if cats != CATEGORIES:
            raise ValueError(f"{where}: categories {list(cats)} differ from {list(CATEGORIES)}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "categories"}
        kw = {k: d[k] for k in known if k in d}
        for k in ("max_length", "stride"):
            v = kw.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ValueError(f"{where}: field {k!r} must be a non-negative integer, got {v!r}")
        if "emoji_names" in kw and not isinstance(kw["emoji_names"], bool):
            raise ValueError(f"{where}: field 'emoji_names' must be true or false")
        for k in ("onnx", "routing"):
            if kw.get(k) is not None and not isinstance(kw[k], dict):
                raise ValueError(f"{where}: field {k!r} must be an object")
        if kw.get("prefilter") is not None:
            from veguard.cascade import check_prefilter

            check_prefilter(kw["prefilter"], where)
        if kw.get("documents") is not None:
            from veguard.documents import check_documents

            check_documents(kw["documents"], where)
        extra = {k: v for k, v in d.items() if k not in known and k != "categories"}
        return cls(**kw, extra=extra)

    def to_dict(self) -> dict:
        d = {
            "kind": self.kind,
            "name": self.name,
            "max_length": self.max_length,
            "stride": self.stride,
            "categories": list(self.categories),
            "policy_version": self.policy_version,
            "base_model": self.base_model,
            "trained": self.trained,
        }
        if self.stride is None:
            del d["stride"]
        if self.onnx is not None:
            d["onnx"] = self.onnx
        if self.emoji_names:
            d["emoji_names"] = True
        if self.routing is not None:
            d["routing"] = self.routing
        if self.prefilter is not None:
            d["prefilter"] = self.prefilter
        if self.documents is not None:
            d["documents"] = self.documents
        return {**d, **self.extra}


def resolve(path: str | os.PathLike | None = None) -> Path:
    """`path`, else `$VEGUARD_MODEL`, else the shipped default under the repository root."""
    if path is None:
        path = os.environ.get("VEGUARD_MODEL") or REPO_ROOT / DEFAULT_MODEL
    p = Path(path)
    if not p.is_dir():
        raise ModelNotFoundError(
            f"model directory not found: {p} (pass a path / --model, or set VEGUARD_MODEL)"
        )
    if not (p / META_FILE).is_file():
        raise ModelNotFoundError(f"{p}: not a veguard model directory (no {META_FILE})")
    return p


def read(path: str | os.PathLike) -> ModelMeta:
    """The checked metadata of the model directory `path`."""
    f = Path(path) / META_FILE
    if not f.is_file():
        raise ModelNotFoundError(f"{Path(path)}: not a veguard model directory (no {META_FILE})")
    try:
        d = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{f}: cannot read: {e}") from e
    return ModelMeta.from_dict(d, str(f))


def write(path: str | os.PathLike, meta: ModelMeta) -> Path:
    """Write `veguard.json` into the directory `path` (created)."""
    ModelMeta.from_dict(meta.to_dict(), f"{path}/{META_FILE} (being written)")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    # default=str: the training config may hold paths.
    text = json.dumps(meta.to_dict(), indent=2, default=str) + "\n"
    (out / META_FILE).write_text(text, encoding="utf-8")
    return out / META_FILE


def update(path: str | os.PathLike, **changes: Any) -> ModelMeta:
    """Read, replace the given fields, write back; returns the new metadata."""
    meta = dataclasses.replace(read(path), **changes)
    write(path, meta)
    return meta
