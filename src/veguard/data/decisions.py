"""Reviewer decisions (JSONL exported by `veguard queue export`) read into corpus rows.

Each line is one object already in the corpus schema:
`{"id", "text", "extremism", "violence", "hate", "offensive", "context": "review",
  "source": "review_queue", "group"}`. Every field is checked; the first bad one raises a
`DataError` naming file:line and the field. Extra keys are rejected too, so a wrongly
exported file is noticed instead of half-read.
Left out: merging with the rest of the corpus (the duplicate rule in `dedup.py` makes a
reviewer's decision win over the source label of the same text).
"""

from __future__ import annotations

import json
from pathlib import Path

from veguard.data.sources import DataError
from veguard.taxonomy import CATEGORIES

FIELDS = ("id", "text", *CATEGORIES, "context", "source", "group")


def read_decisions(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: decisions file not found")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rows.append(_check(path, lineno, line))
    return rows


def _check(path: Path, lineno: int, line: str) -> dict:
    where = f"{path}:{lineno}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [f for f in FIELDS if f not in obj]
    extra = sorted(set(obj) - set(FIELDS))
    if missing:
        raise DataError(f"{where}: missing field(s) {missing}")
    if extra:
        raise DataError(f"{where}: unexpected field(s) {extra}")
    for f in ("id", "text", "group"):
        if not isinstance(obj[f], str) or not obj[f].strip():
            raise DataError(f"{where}: field {f!r} must be a non-empty string")
    for c in CATEGORIES:
        # bool is an int subclass; true/false would silently become 1/0, so refuse it.
        if isinstance(obj[c], bool) or obj[c] not in (1, 0, -1):
            raise DataError(f"{where}: field {c!r} must be 1, 0 or -1, got {obj[c]!r}")
    if obj["context"] != "review":
        raise DataError(f"{where}: field 'context' must be 'review', got {obj['context']!r}")
    if obj["source"] != "review_queue":
        raise DataError(f"{where}: field 'source' must be 'review_queue', got {obj['source']!r}")
    if all(obj[c] == -1 for c in CATEGORIES):
        raise DataError(f"{where}: every label is -1; a decision must set at least one")
    return {f: obj[f] for f in FIELDS}
