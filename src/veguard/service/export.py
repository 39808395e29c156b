"""Reviewer decisions -> corpus rows (data/schema.py), for `veguard data build --decisions`.

Each decided item becomes one row: `id, text, extremism, violence, hate, offensive, context,
source, group`. Labels: `violating` starts from the model's predicted categories, `benign` from
all zeros; the reviewer's category corrections then override either. `escalate` carries no
label (a second opinion is pending), so it is left out.

What it leaves out: deciding which rows to train on (the corpus builder does that).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from veguard.data.normalize import normalize
from veguard.data.schema import make_row
from veguard.service.store import QueueItem, QueueStore
from veguard.taxonomy import CATEGORIES

SOURCE = "review_queue"


def decision_row(item: QueueItem) -> dict | None:
    if item.decision not in ("violating", "benign"):
        return None
    if item.decision == "violating":
        labels = {c: bool(item.categories.get(c)) for c in CATEGORIES}
    else:
        labels = {c: False for c in CATEGORIES}
    labels.update(
        {c: bool(v) for c, v in (item.decision_categories or {}).items() if c in CATEGORIES}
    )
    return make_row(f"{SOURCE}:{item.item_id}", normalize(item.text), context="review",
                    source=SOURCE, group=item.item_id, **{c: int(labels[c]) for c in CATEGORIES})


def decision_rows(items: Iterable[QueueItem]) -> list[dict]:
    return [r for r in map(decision_row, items) if r is not None]


def export_decisions(store: QueueStore, actor: str) -> list[dict]:
    """All exportable rows, with an `export` audit entry saying how many."""
    rows = decision_rows(store.decided_items())
    store.audit(actor, "export", None, {"rows": len(rows)})
    return rows


def to_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_decisions(store: QueueStore, output: str | Path, actor: str) -> int:
    rows = export_decisions(store, actor)
    Path(output).write_text(to_jsonl(rows), encoding="utf-8")
    return len(rows)
