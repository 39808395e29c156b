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

from pathlib import Path

from veguard.data.schema import ROW_FIELDS, DataError, make_row, read_jsonl
from veguard.taxonomy import CATEGORIES

FIELDS = ROW_FIELDS  # a decision line is exactly a corpus row before splitting


def read_decisions(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: decisions file not found")
    return [_check(f"{path}:{lineno}", obj) for lineno, obj in read_jsonl(path)]


def _check(where: str, obj: dict) -> dict:
    missing = [f for f in FIELDS if f not in obj]
    extra = sorted(set(obj) - set(FIELDS))
    if missing:
        raise DataError(f"{where}: missing field(s) {missing}")
    if extra:
        raise DataError(f"{where}: unexpected field(s) {extra}")
    for f in ("id", "text", "group"):
        if not isinstance(obj[f], str) or not obj[f].strip():
            raise DataError(f"{where}: field {f!r} must be a non-empty string")
    row = make_row(obj["id"], obj["text"], context=obj["context"], source=obj["source"],
                   group=obj["group"], where=where, **{c: obj[c] for c in CATEGORIES})
    if obj["context"] != "review":
        raise DataError(f"{where}: field 'context' must be 'review', got {obj['context']!r}")
    if obj["source"] != "review_queue":
        raise DataError(f"{where}: field 'source' must be 'review_queue', got {obj['source']!r}")
    if all(row[c] == -1 for c in CATEGORIES):
        raise DataError(f"{where}: every label is -1; a decision must set at least one")
    return row
