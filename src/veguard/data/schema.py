"""The corpus schema: its columns, the one row builder, the one label check, JSONL lines.

Every producer of corpus rows (source readers, synthetic data, reviewer decisions, the
service's export) builds them with `make_row`, which takes the labels by keyword, so a label
can never land in the wrong category by position. `check_label` is the one check of a label
value; `check_corpus` the one check of a built corpus frame (training and evaluation read
through it); `read_jsonl` the one reader of JSON-object-per-line files, naming file:line.

What it leaves out: where rows come from (sources.py, synthetic.py, decisions.py), text
normalisation (normalize.py), and deduplication and splitting (dedup.py, corpus.py).
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Iterator
from pathlib import Path

from veguard.taxonomy import CATEGORIES, SPLITS, UNKNOWN

# A corpus row before splitting (what sources, synthetic data and decisions produce) ...
ROW_FIELDS = ("id", "text", *CATEGORIES, "context", "source", "group")
# ... and the processed corpus's columns (docs/DESIGN.md).
COLUMNS = (*ROW_FIELDS, "split")
# What evaluation reads from a corpus file (a suite's fixture may leave out context and group).
SCORED_COLUMNS = ("id", "text", "source", "split", *CATEGORIES)
LABEL_VALUES = (1, 0, -1)  # positive, negative, unknown (the source says nothing)


class DataError(ValueError):
    """A source, suite or decisions file is missing or malformed; the message names it."""


def check_label(value: object, where: str, field: str, allowed=LABEL_VALUES) -> int:
    """`value` as an int label, or DataError naming `where` and `field`.

    bool is an int subclass; JSON true/false would silently become 1/0, so it is refused.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value not in allowed:
        shown = ", ".join(map(str, allowed[:-1])) + f" or {allowed[-1]}"
        raise DataError(f"{where}: field {field!r} must be {shown}, got {value!r}")
    return int(value)


def make_row(id_: object, text: str, *, context: str, source: str, group: object,
             where: str = "row", **labels: int) -> dict:
    """A corpus row (`ROW_FIELDS` order). Labels by keyword; a category left out is unknown."""
    unknown = sorted(set(labels) - set(CATEGORIES))
    if unknown:
        raise DataError(f"{where}: unknown label field(s) {unknown}")
    row = {"id": str(id_), "text": text}
    for c in CATEGORIES:
        row[c] = check_label(labels.get(c, UNKNOWN), where, c)
    row.update(context=context, source=source, group=str(group))
    return row


def read_jsonl(path: str | Path, label: str | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line; DataError naming `label:line` otherwise."""
    path = Path(path)
    name = label or str(path)
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                yield lineno, json_object(line, f"{name}:{lineno}")


def json_object(line: str, where: str) -> dict:
    """One JSONL line parsed as an object, or DataError naming `where`."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: broken JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    return obj


def check_corpus(df, where: str = "corpus"):
    """The corpus frame checked (columns, labels, splits, non-empty texts); index reset."""
    import numpy as np

    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{where}: missing columns {', '.join(missing)}")
    df = df.reset_index(drop=True)

    def first(bad) -> int:
        return int(np.flatnonzero(bad.to_numpy())[0])

    for c in CATEGORIES:
        bad = ~df[c].isin(LABEL_VALUES)
        if bad.any():
            i = first(bad)
            raise DataError(f"{where}: row {i} (id {df['id'].iat[i]!r}): {c}={df[c].iat[i]}, "
                            "expected 1/0/-1")
    bad = ~df["split"].isin(SPLITS)
    if bad.any():
        i = first(bad)
        raise DataError(f"{where}: row {i}: split={str(df['split'].iat[i])!r}, "
                        f"expected one of {SPLITS}")
    bad = ~df["text"].map(lambda t: isinstance(t, str) and bool(t.strip()))
    if bad.any():
        i = first(bad)
        raise DataError(f"{where}: row {i} (id {df['id'].iat[i]!r}): empty or non-string text")
    return df
