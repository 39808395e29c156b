"""Reviewer decisions -> corpus rows (data/schema.py), for `veguard data build --decisions`, and
the statement of reasons for each final decision.

Each decided item becomes one row: `id, text, extremism, violence, hate, offensive, context,
source, group`. Labels: `violating` starts from the model's predicted categories, `benign` from
all zeros; the reviewer's category corrections then override either. Escalated items (waiting
for a senior) and items under appeal are not decided, so they are left out; after an appeal the
row carries the final decision. A row's id and group name the client and version, so two
clients' ids never collide and an edited post's versions group together.

`statement(item)` is what the platform owes the user (the DSA's statement of reasons): the
decision, its reason code and meaning, and the model, weights hash, thresholds and policy
version behind the flag. `statement_rows` exports them (`veguard queue export --statements`).

Files are written to a temporary file beside the target and renamed, and the `export` audit
entry is written only after that succeeded.

What it leaves out: deciding which rows to train on (the corpus builder does that).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from veguard.data.normalize import normalize
from veguard.data.schema import make_row
from veguard.service.reasons import REASON_CODES
from veguard.service.store import QueueItem, QueueStore
from veguard.taxonomy import CATEGORIES

SOURCE = "review_queue"


def final_labels(item: QueueItem) -> dict[str, bool] | None:
    if item.status != "decided" or item.decision not in ("violating", "benign"):
        return None
    if item.decision == "violating":
        labels = {c: bool(item.categories.get(c)) for c in CATEGORIES}
    else:
        labels = {c: False for c in CATEGORIES}
    labels.update({c: bool(v) for c, v in (item.decision_categories or {}).items()
                   if c in CATEGORIES})
    return labels


def _group(item: QueueItem) -> str:
    return f"{item.client}/{item.item_id}" if item.client else item.item_id


def decision_row(item: QueueItem) -> dict | None:
    labels = final_labels(item)
    if labels is None:
        return None
    group = _group(item)
    rid = f"{SOURCE}:{group}" + (f"@v{item.version}" if item.version > 1 else "")
    return make_row(rid, normalize(item.text), context="review", source=SOURCE, group=group,
                    **{c: int(labels[c]) for c in CATEGORIES})


def decision_rows(items: Iterable[QueueItem]) -> list[dict]:
    return [r for r in map(decision_row, items) if r is not None]


def statement(item: QueueItem) -> dict:
    code = item.reason_code
    return {"decision": item.decision, "reason_code": code,
            "reason": REASON_CODES[code][1] if code in REASON_CODES else None,
            "labels": final_labels(item), "decided_by": item.decided_by,
            "decided_at": item.decided_at, "appealed": item.lane == "appeal",
            "model": item.model, "model_version": item.model_version,
            "thresholds": item.thresholds, "policy_version": item.policy_version}


def statement_rows(items: Iterable[QueueItem]) -> list[dict]:
    return [{"queue_id": i.id, "client": i.client, "item_id": i.item_id, "version": i.version,
             **statement(i)} for i in items if final_labels(i) is not None]


def export_decisions(store: QueueStore, actor: str) -> list[dict]:
    """All exportable rows, with an `export` audit entry saying how many (HTTP export)."""
    rows = decision_rows(store.decided_items())
    store.audit(actor, "export", None, {"rows": len(rows)})
    return rows


def to_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same directory and a rename."""
    out = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_decisions(store: QueueStore, output: str | Path, actor: str,
                    statements: str | Path | None = None) -> int:
    items = store.decided_items()
    rows = decision_rows(items)
    write_atomic(output, to_jsonl(rows))
    detail = {"rows": len(rows), "output": str(output)}
    if statements is not None:
        write_atomic(statements, to_jsonl(statement_rows(items)))
        detail["statements"] = str(statements)
    store.audit(actor, "export", None, detail)
    return len(rows)
