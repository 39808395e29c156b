"""Build, load and guard the processed training corpus.

`build_corpus()` runs the one-way pipeline: source specs (`sources.py`) + synthetic and
contrast rows + reviewer decisions -> `normalize()` -> drop empties -> duplicate rule and
grouped splits (`dedup.py`) -> remove evaluation-suite texts from train/validation ->
`corpus.parquet` + a stats dict that `datacard.py` renders.
`load_corpus()` reads the parquet; `suite_texts()` gives the normalised, case-folded texts
of `eval/suites/*.csv` that must never be trained on.
Left out: training-time sampling and class balancing (the trainer's job).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pandas as pd

from veguard.data.augment import make_contrasts, make_embedded
from veguard.data.decisions import read_decisions
from veguard.data.dedup import assign_splits, dedup_key, near_duplicate_pairs, resolve_duplicates
from veguard.data.normalize import normalize
from veguard.data.schema import COLUMNS, DataError, make_row
from veguard.data.sources import SOURCES
from veguard.data.synthetic import load_synthetic, row_id
from veguard.paths import REPO_ROOT
from veguard.taxonomy import CATEGORIES, CONTEXTS, SPLITS

DEFAULT_CORPUS = REPO_ROOT / "data" / "processed" / "corpus.parquet"
CONTRAST_SEED = 13


def suite_texts(root: str | Path = "eval/suites") -> set[str]:
    """Normalised, case-folded texts of the evaluation suites under `root` (recursively).

    Texts come from every CSV with a `text` column, and from template CSVs (a `template`
    column with a `{term}` slot) expanded with every `term` of the `terms.csv` beside them
    (the identity suite). Other CSVs (e.g. the term list itself) hold no texts and are
    skipped. A missing folder gives an empty set; an unparsable CSV is an error naming it.
    """
    root = Path(root)
    texts: set[str] = set()
    if not root.is_dir():
        return texts
    for path in sorted(root.rglob("*.csv")):
        df = _read_suite_csv(path)
        if "text" in df.columns:
            texts.update(dedup_key(normalize(t)) for t in df["text"])
        elif "template" in df.columns and (path.parent / "terms.csv").is_file():
            terms = _read_suite_csv(path.parent / "terms.csv")
            if "term" not in terms.columns:
                raise DataError(f"{path.parent / 'terms.csv'}: no 'term' column")
            texts.update(dedup_key(normalize(t.replace("{term}", term)))
                         for t in df["template"] for term in terms["term"])
    texts.discard("")
    return texts


def _read_suite_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot parse suite: {exc}") from exc


def load_corpus(path: str | Path | None = None) -> pd.DataFrame:
    """Load the processed corpus (default `data/processed/corpus.parquet` in the repo)."""
    path = Path(path) if path is not None else DEFAULT_CORPUS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: corpus not found; run `veguard data build` first")
    return pd.read_parquet(path)


def _synthetic_rows(root: Path, notes: list[str]) -> list[dict]:
    """Synthetic + contrast rows in raw-schema form, or none (with a note) if `root` is missing."""
    if not root.is_dir():
        notes.append(f"synthetic data skipped: {root} does not exist")
        return []
    synth = load_synthetic(root)
    # veguard_synthetic = the hand-written rows + half the violating ones embedded among
    # unrelated neutral sentences (labels kept); veguard_contrast = violations quoted in
    # benign frames (labels 0). Each balances the other.
    return (adapt_synthetic(synth + make_embedded(synth, CONTRAST_SEED), "veguard_synthetic")
            + adapt_synthetic(make_contrasts(synth, CONTRAST_SEED), "veguard_contrast"))


def adapt_synthetic(rows: list[dict], source: str) -> list[dict]:
    """Synthetic-schema dicts (docs/DESIGN.md) -> corpus rows; id is a hash of the text so it
    is stable across builds even if files are reordered."""
    out = []
    for i, r in enumerate(rows):
        for f in ("text", "extremism", "violence", "hate", "context", "pair"):
            if f not in r:
                raise DataError(f"{source} row {i}: missing field {f!r}")
        if r["context"] not in CONTEXTS:
            raise DataError(f"{source} row {i}: context {r['context']!r} not in {CONTEXTS}")
        labels = {c: r[c] for c in CATEGORIES if r.get(c) is not None}  # null: unknown
        out.append(make_row(row_id(source, str(r["text"])), str(r["text"]), context=r["context"],
                            source=source, group=r["pair"], where=f"{source} row {i}", **labels))
    return out


def build_corpus(raw: str | Path = "data/raw", synthetic: str | Path = "data/synthetic",
                 out: str | Path | None = "data/processed",
                 decisions: list[str | Path] = (), suites: str | Path = "eval/suites",
                 sources: list[str] | None = None) -> tuple[pd.DataFrame, dict]:
    """Build the corpus; write `<out>/corpus.parquet` unless `out` is None.

    Returns the frame and a stats dict (counts, drops, timings) for the data card.
    `sources` restricts the registry (tests use it); None means all.
    """
    t0 = time.perf_counter()
    raw = Path(raw)
    stats: dict = {"dropped": Counter(), "notes": [], "raw_rows": Counter()}
    rows: list[dict] = []
    for name in sources if sources is not None else SOURCES:
        folder = raw / name
        if not folder.is_dir():
            raise DataError(f"{folder}: source folder not found")
        got = SOURCES[name](folder)
        stats["raw_rows"][name] = len(got.rows) + sum(got.dropped.values())
        for reason, n in got.dropped.items():
            stats["dropped"][f"{name}: {reason}"] += n
        for r in got.rows:
            r.update(id=f"{name}:{r['id']}", source=name)
        rows += got.rows
    extra = _synthetic_rows(Path(synthetic), stats["notes"]) if synthetic is not None else []
    for path in decisions:
        for r in read_decisions(path):
            if not r["id"].startswith("review_queue:"):
                r["id"] = f"review_queue:{r['id']}"
            extra.append(r)
    for r in extra:
        stats["raw_rows"][r["source"]] += 1
    rows += extra

    kept = []
    for r in rows:
        r["text"] = normalize(r["text"])
        if r["text"]:
            kept.append(r)
        else:
            stats["dropped"][f"{r['source']}: empty after normalisation"] += 1
    t_read = time.perf_counter()

    near = near_duplicate_pairs([dedup_key(r["text"]) for r in kept])
    dup_stats: Counter = Counter()
    kept, near = resolve_duplicates(kept, near, dup_stats)
    stats["duplicates"] = dup_stats
    stats["largest_component"] = assign_splits(kept, near)
    t_dedup = time.perf_counter()

    banned = suite_texts(suites)
    final = []
    for r in kept:
        if r["split"] != "test" and dedup_key(r["text"]) in banned:
            stats["dropped"][
                f"{r['source']}: text in an evaluation suite (removed from {r['split']})"
            ] += 1
        else:
            final.append(r)
    stats["suite_texts"] = len(banned)

    df = pd.DataFrame(final, columns=list(COLUMNS))
    for c in CATEGORIES:
        df[c] = df[c].astype("int8")
    df = df.sort_values("id", kind="stable").reset_index(drop=True)
    if df["id"].duplicated().any():
        dupes = df.loc[df["id"].duplicated(), "id"].head(5).tolist()
        raise DataError(f"duplicate corpus ids after the build: {dupes}")
    assert set(df["split"]) <= set(SPLITS)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        df.to_parquet(Path(out) / "corpus.parquet", index=False)
    stats["seconds"] = {"read+normalise": t_read - t0, "dedup+split": t_dedup - t_read,
                        "total": time.perf_counter() - t0}
    return df, stats
