"""Distillation: a teacher model's soft labels on every training row, and the loss that uses them.

A student (e.g. MiniLM) learns from a larger teacher (e.g. the MPNet stage of
`models/veguard-cascade-v3`) on a large transfer set: every row gets the teacher's
probability in all four categories, so rows whose source says nothing about a category
(label -1, masked out of the hard loss) still teach it. The loss mixes the two:

    loss = distil_weight * T^2 * BCE(student / T, sigmoid(teacher / T))
         + (1 - distil_weight) * masked BCE(student, hard labels)

The teacher reads each row exactly as the Classifier would (its own windows, max over them),
through its inference backend. Its logits are cached by text (`teacher_cache`), so a second
run with another mix or learning rate costs no teacher time.

Leaves out: the training loop (loop.py), which calls `teacher_logits` once per sampled epoch.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from veguard.taxonomy import CATEGORIES

CHUNK = 2000  # texts per backend call; the cache is written after each


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _read_cache(path: Path | None, teacher: str) -> dict[str, np.ndarray]:
    if path is None or not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as z:
        if str(z["teacher"]) != teacher or list(z["categories"]) != list(CATEGORIES):
            print(f"distil: {path} holds another teacher's logits; not used", file=sys.stderr)
            return {}
        return dict(zip(z["keys"].tolist(), z["logits"]))


def _write_cache(path: Path | None, teacher: str, cache: dict[str, np.ndarray]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, teacher=np.array(teacher), categories=np.array(CATEGORIES),
             keys=np.array(list(cache)), logits=np.stack(list(cache.values())))
    tmp.replace(path)


def teacher_identity(teacher_dir: Path) -> str:
    """What the cache is keyed on besides the text: the teacher's directory and its metadata."""
    meta = (teacher_dir / "veguard.json").read_bytes()
    return f"{teacher_dir.resolve()}:{hashlib.sha1(meta).hexdigest()[:12]}"


def teacher_logits(teacher: str | Path, texts: list[str], cache_path: str | Path | None = None,
                   batch_size: int = 64, log=None) -> np.ndarray:
    """[len(texts), len(CATEGORIES)] raw teacher logits, max over the teacher's windows.

    `texts` are model views (as training reads them). A cascade directory teaches with its
    own (larger) model, never through its prefilter. Texts in the cache are not rescored.
    """
    from veguard import modeldir
    from veguard.backends import load_backend

    t_dir = modeldir.resolve(teacher)
    ident = teacher_identity(t_dir)
    cpath = Path(cache_path) if cache_path else None
    cache = _read_cache(cpath, ident)
    keys = [_key(t) for t in texts]
    first: dict[str, int] = {}  # each uncached text once, at its first position
    for i, k in enumerate(keys):
        if k not in cache:
            first.setdefault(k, i)
    todo = sorted(first.values())
    if todo:
        backend = load_backend(t_dir, modeldir.read(t_dir))
        t0 = time.time()
        for c in range(0, len(todo), CHUNK):
            part = todo[c : c + CHUNK]
            w = backend.windows([texts[i] for i in part], batch_size)
            got = np.full((len(part), len(CATEGORIES)), -np.inf, dtype=np.float32)
            np.maximum.at(got, np.asarray(w.owner, dtype=int), np.asarray(w.logits, np.float32))
            for i, row in zip(part, got):
                cache[keys[i]] = row
            _write_cache(cpath, ident, cache)
            if log:
                done = c + len(part)
                rate = done / (time.time() - t0)
                log(f"teacher: {done}/{len(todo)} texts, {rate:.1f}/s, "
                    f"eta {(len(todo) - done) / rate / 60:.1f} min")
        del backend
    return np.stack([cache[k] for k in keys])


def soft_bce(student, teacher, temperature: float):
    """T^2-scaled BCE of the student's logits against the teacher's probabilities (all cells)."""
    import torch
    import torch.nn.functional as F

    t = temperature
    target = torch.sigmoid(teacher / t)
    return F.binary_cross_entropy_with_logits(student / t, target) * (t * t)
