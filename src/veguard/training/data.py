"""Training data: read and check the corpus, sample epochs against source shortcuts, batch.

Sampling: each epoch draws rows per source, capped (`source_cap` / `source_caps`) and then
weighted (`source_weights`, >1 repeats rows), then rescaled to `epoch_size`. This stops one
large source's style (e.g. all tweets from one scrape) from becoming the thing the model
learns, and lets small hand-written sources (`veguard_synthetic`, `veguard_contrast`) count.
Batches are length-bucketed: shuffled rows are cut into chunks, sorted by length inside each
chunk, and cut into batches whose order is shuffled, so padding stays small without putting
all the short texts in one part of the epoch.

Leaves out: building the corpus (veguard.data) and normalisation (texts arrive normalised).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from veguard.data.schema import COLUMNS as REQUIRED_COLUMNS  # noqa: F401  (the corpus schema)
from veguard.data.schema import check_corpus
from veguard.taxonomy import CATEGORIES


def read_corpus(path: str | Path | None) -> pd.DataFrame:
    """The processed corpus (docs/DESIGN.md schema), checked. `.jsonl` is accepted for fixtures."""
    if path is not None and str(path).endswith(".jsonl"):
        try:
            df = pd.read_json(path, lines=True, dtype=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: cannot read corpus: {e}") from e
    else:
        from veguard.data.corpus import load_corpus

        try:
            df = load_corpus(path)
        except (OSError, ValueError) as e:
            raise ValueError(f"cannot read corpus: {e}") from e
    return check_corpus(df, str(path))


def split_rows(
    df: pd.DataFrame, split: str, limit: int | None, seed: int, source_cap: int | None = None
) -> pd.DataFrame:
    """Rows of one split: at most `source_cap` per source, then at most `limit` (seeded)."""
    part = df[df["split"] == split]
    if source_cap is not None:
        part = pd.concat([g.sample(n=min(len(g), source_cap), random_state=seed)
                          for _, g in part.groupby("source", sort=True)])
    if limit is not None and len(part) > limit:
        part = part.sample(n=limit, random_state=seed)
    return part.reset_index(drop=True)


def train_and_validation(args, corpus: pd.DataFrame | None = None
                         ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(checked corpus, train rows, validation rows) for one training job.

    `corpus` (a DataFrame) skips reading `args.corpus`; `args.max_train_rows` /
    `args.max_val_rows` subsample with `args.seed`. Both splits must be non-empty.
    """
    df = read_corpus(args.corpus) if corpus is None else check_corpus(corpus, "corpus DataFrame")
    train = model_readable(split_rows(df, "train", args.max_train_rows, args.seed),
                           args.emoji_names)
    val = split_rows(df, "validation", args.max_val_rows, args.seed, args.val_source_cap)
    if len(train) == 0 or len(val) == 0:
        raise ValueError(
            f"{args.corpus}: need train and validation rows (got {len(train)}, {len(val)})"
        )
    return df, train, val


def model_readable(part: pd.DataFrame, emoji_names: bool) -> pd.DataFrame:
    """The rows the model can read (`veguard.language`), with `text` as the model reads it.

    Training sees exactly what the Classifier will feed the model: texts in languages or
    scripts it cannot read are dropped (they are never judged, so learning from them would
    only teach script or hashtag shortcuts), other scripts in mixed posts are blanked, and
    emoji are spelled out when `emoji_names`. The count dropped is kept in `attrs`.
    """
    from veguard.language import model_view, read

    readings = [read(t) for t in part["text"]]
    keep = np.array([r.supported for r in readings], dtype=bool)
    out = part[keep].copy()
    out["text"] = [model_view(r, emoji_names)[0] for r, k in zip(readings, keep) if k]
    out = out.reset_index(drop=True)
    out.attrs["unreadable_dropped"] = int((~keep).sum())
    return out


def label_matrix(df: pd.DataFrame) -> np.ndarray:
    """[n, len(CATEGORIES)] float32 labels with -1 for unknown."""
    return df[list(CATEGORIES)].to_numpy(dtype=np.float32)


def source_targets(
    counts: dict[str, int],
    cap: int | None,
    caps: dict[str, int],
    weights: dict[str, float],
    epoch_size: int | None,
) -> dict[str, int]:
    """Rows to draw per source in one epoch: min(count, cap) * weight, rescaled to epoch_size."""
    unknown = sorted(set(caps) | set(weights))
    unknown = [s for s in unknown if s not in counts]
    # A typo in a source name would silently do nothing; say so (a warning, not an error: a
    # smoke subset of the corpus may simply lack a small source).
    if unknown:
        print(f"warning: source_caps/source_weights name sources absent from the train rows: "
              f"{', '.join(unknown)}", file=sys.stderr)
    raw = {}
    for source, n in counts.items():
        c = caps.get(source, cap)
        raw[source] = (min(n, c) if c is not None else n) * float(weights.get(source, 1.0))
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("sampling gives an empty epoch (all caps or weights are 0)")
    scale = epoch_size / total if epoch_size else 1.0
    return {s: round(v * scale) for s, v in raw.items()}


def sample_epoch(df: pd.DataFrame, targets: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    """Row positions for one epoch: `targets[source]` rows from each source, shuffled.

    Up to a source's size rows are drawn without replacement; beyond it the whole source is
    repeated and the remainder drawn without replacement, so upweighting is exact and even.
    """
    picks = []
    sources = df["source"].to_numpy()
    for source, k in targets.items():
        pool = np.flatnonzero(sources == source)
        if k <= 0 or len(pool) == 0:
            continue
        reps, rest = divmod(k, len(pool))
        picks.extend([pool] * reps)
        picks.append(rng.choice(pool, size=rest, replace=False))
    idx = np.concatenate(picks) if picks else np.empty(0, dtype=np.int64)
    rng.shuffle(idx)
    return idx


def positive_weights(labels: np.ndarray, cap: float) -> np.ndarray:
    """Per-category neg/pos over known labels, clipped to [1, cap]; all ones when cap <= 1."""
    out = np.ones(labels.shape[1], dtype=np.float32)
    if cap <= 1:
        return out
    for j in range(labels.shape[1]):
        pos = float((labels[:, j] == 1).sum())
        neg = float((labels[:, j] == 0).sum())
        if pos > 0:
            out[j] = float(np.clip(neg / pos, 1.0, cap))
    return out


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, chunk_batches: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Batches of positions into `lengths` (already in shuffled order), sorted within chunks."""
    n = len(lengths)
    chunk = batch_size * chunk_batches
    batches = []
    for start in range(0, n, chunk):
        pos = np.arange(start, min(start + chunk, n))
        pos = pos[np.argsort(lengths[pos], kind="stable")]
        batches.extend(pos[i : i + batch_size] for i in range(0, len(pos), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def corpus_summary(train: pd.DataFrame, val: pd.DataFrame) -> dict:
    """Counts recorded in veguard.json's `trained` block."""
    def counts(part: pd.DataFrame) -> dict:
        return {
            "rows": len(part),
            "sources": {str(k): int(v)
                        for k, v in part["source"].value_counts().sort_index().items()},
            "positives": {c: int((part[c] == 1).sum()) for c in CATEGORIES},
            "unknown": {c: int((part[c] == -1).sum()) for c in CATEGORIES},
        }

    summary = {"train": counts(train), "validation": counts(val)}
    if "unreadable_dropped" in train.attrs:
        summary["train"]["unreadable_dropped"] = train.attrs["unreadable_dropped"]
    return summary
