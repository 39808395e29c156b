"""The review queue's storage interface, its records, the priority rule, and an in-memory store.

`QueueStore` is what routes and the CLI talk to. `SQLStore` (sqlstore.py) implements it on
SQLite and PostgreSQL with one code path; `MemoryStore` here implements the same semantics
with a lock, for fast tests and for checking the SQL store against.

Queue semantics: an item is `pending` until a reviewer claims it (`claimed`, with a lease that
expires: an expired claim is claimable again), and `decided` once its lease holder records a
decision. A decision is final. Every state change appends to the audit log.

What it leaves out: HTTP, auth (keys are stored here but checked in auth.py) and the export
format (export.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from veguard.result import ScoreResult
from veguard.taxonomy import CATEGORIES, FLAGGING, SEVERITY

DECISIONS: tuple[str, ...] = ("violating", "benign", "escalate")
STATUSES: tuple[str, ...] = ("pending", "claimed", "decided")
ROLES: tuple[str, ...] = ("client", "reviewer", "admin")

# Added to an imminent-threat item's priority. Severity x confidence is at most 1.0, so the
# boost puts every such item ahead of every other one.
THREAT_BOOST = 1.0


class QueueError(Exception):
    """Base of the queue's expected failures; routes map each to an HTTP status."""

    status = 409


class NotFound(QueueError):
    status = 404


class AlreadyDecided(QueueError):
    status = 409


class NotLeaseHolder(QueueError):
    status = 409


@dataclass
class NewItem:
    """What the scoring side hands the queue."""

    item_id: str
    text: str
    source: str
    model: str
    scores: dict[str, float]
    categories: dict[str, bool]
    action: str
    evidence: dict | None = None
    author: str | None = None
    context: str | None = None

    @classmethod
    def from_result(cls, result: ScoreResult, *, item_id: str, text: str, source: str,
                    model: str, author: str | None = None, context: str | None = None) -> NewItem:
        ev = result.to_dict().get("evidence")
        return cls(item_id=item_id, text=text, source=source, model=model,
                   scores={c: float(result.scores[c]) for c in CATEGORIES},
                   categories={c: bool(result.categories[c]) for c in CATEGORIES},
                   action=result.action, evidence=ev, author=author, context=context)


@dataclass
class QueueItem(NewItem):
    id: int = 0
    priority: float = 0.0
    status: str = "pending"
    claimed_by: str | None = None
    lease_until: float | None = None
    created_at: float = 0.0
    decision: str | None = None
    decision_categories: dict[str, bool] | None = None
    note: str | None = None
    decided_by: str | None = None
    decided_at: float | None = None

    def effective_status(self, now: float) -> str:
        """`pending` for a claim whose lease has run out: that is how the queue treats it."""
        if self.status == "claimed" and (self.lease_until or 0) < now:
            return "pending"
        return self.status


@dataclass
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str  # enqueue / claim / release / decide / export / key_create
    queue_id: int | None
    detail: dict = field(default_factory=dict)


@dataclass
class KeyRecord:
    id: int
    name: str
    role: str
    key_hash: str
    created_at: float = 0.0


def priority(scores: dict[str, float], action: str) -> float:
    """Severity x confidence of the strongest category, plus the imminent-threat boost.

    The boost applies when the result reached an `auto` operating point or when violence is
    the top score: those are the items a reviewer must see first.
    """
    base = max(SEVERITY[c] * float(scores[c]) for c in CATEGORIES)
    top = max(CATEGORIES, key=lambda c: scores[c])
    threat = action == "auto" or top == "violence"
    return round(base + (THREAT_BOOST if threat else 0.0), 6)


def flag_list(categories: dict[str, bool]) -> list[str]:
    return [c for c in CATEGORIES if categories.get(c)]


def check_decision(decision: str, corrections: dict[str, bool] | None,
                   predicted: dict[str, bool]) -> None:
    """Raise ValueError for a decision the export could not turn into labels."""
    if decision not in DECISIONS:
        raise ValueError(f"decision: expected one of {', '.join(DECISIONS)}, got {decision!r}")
    for c in corrections or {}:
        if c not in CATEGORIES:
            raise ValueError(f"categories.{c}: unknown category; expected {', '.join(CATEGORIES)}")
    if decision == "violating":
        merged = {**predicted, **(corrections or {})}
        if not any(merged.get(c) for c in FLAGGING):
            raise ValueError("categories: a 'violating' decision needs at least one of "
                             f"{', '.join(FLAGGING)} set (the prediction has none)")


class QueueStore(Protocol):
    def enqueue(self, item: NewItem, actor: str) -> tuple[QueueItem, bool]: ...
    def get(self, queue_id: int) -> QueueItem | None: ...
    def list_items(self, *, status: str | None = None, category: str | None = None,
                   source: str | None = None, limit: int = 100,
                   offset: int = 0) -> list[QueueItem]: ...
    def claim_next(self, reviewer: str, lease_seconds: float, *, category: str | None = None,
                   source: str | None = None) -> QueueItem | None: ...
    def claim(self, queue_id: int, reviewer: str, lease_seconds: float) -> QueueItem: ...
    def release(self, queue_id: int, reviewer: str) -> QueueItem: ...
    def decide(self, queue_id: int, reviewer: str, decision: str,
               corrections: dict[str, bool] | None, note: str | None) -> QueueItem: ...
    def decided_items(self) -> list[QueueItem]: ...
    def depth(self) -> dict[str, int]: ...
    def audit(self, actor: str, action: str, queue_id: int | None, detail: dict) -> None: ...
    def audit_log(self, queue_id: int | None = None, limit: int = 200) -> list[AuditEntry]: ...
    def add_key(self, name: str, role: str, key_hash: str) -> KeyRecord: ...
    def find_key(self, key_hash: str) -> KeyRecord | None: ...
    def list_keys(self) -> list[KeyRecord]: ...


class MemoryStore:
    """The queue in a dict behind one lock: same semantics as SQLStore, no database."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._items: dict[int, QueueItem] = {}
        self._by_item_id: dict[str, int] = {}
        self._audit: list[AuditEntry] = []
        self._keys: list[KeyRecord] = []

    def _log(self, actor: str, action: str, queue_id: int | None, detail: dict) -> None:
        self._audit.append(AuditEntry(len(self._audit) + 1, self.clock(), actor, action,
                                      queue_id, dict(detail)))

    def enqueue(self, item: NewItem, actor: str) -> tuple[QueueItem, bool]:
        with self._lock:
            if item.item_id in self._by_item_id:
                return replace(self._items[self._by_item_id[item.item_id]]), False
            qid = len(self._items) + 1
            row = QueueItem(**vars(item), id=qid, priority=priority(item.scores, item.action),
                            created_at=self.clock())
            self._items[qid] = row
            self._by_item_id[item.item_id] = qid
            self._log(actor, "enqueue", qid, {"item_id": item.item_id, "priority": row.priority})
            return replace(row), True

    def get(self, queue_id: int) -> QueueItem | None:
        with self._lock:
            row = self._items.get(queue_id)
            return replace(row) if row else None

    def _matches(self, row: QueueItem, now: float, status, category, source) -> bool:
        return ((status is None or row.effective_status(now) == status)
                and (category is None or row.categories.get(category))
                and (source is None or row.source == source))

    def list_items(self, *, status=None, category=None, source=None, limit=100, offset=0):
        with self._lock:
            now = self.clock()
            rows = [
                r for r in self._items.values() if self._matches(r, now, status, category, source)
            ]
            rows.sort(key=lambda r: (-r.priority, r.id))
            return [replace(r) for r in rows[offset : offset + limit]]

    def claim_next(self, reviewer, lease_seconds, *, category=None, source=None):
        with self._lock:
            now = self.clock()
            rows = [r for r in self._items.values()
                    if self._matches(r, now, "pending", category, source)]
            if not rows:
                return None
            row = min(rows, key=lambda r: (-r.priority, r.id))
            return self._claim_row(row, reviewer, lease_seconds, now)

    def _claim_row(self, row: QueueItem, reviewer: str, lease_seconds: float, now: float):
        row.status, row.claimed_by, row.lease_until = "claimed", reviewer, now + lease_seconds
        self._log(reviewer, "claim", row.id, {"lease_until": row.lease_until})
        return replace(row)

    def claim(self, queue_id, reviewer, lease_seconds):
        with self._lock:
            row = self._items.get(queue_id)
            if row is None:
                raise NotFound(f"queue item {queue_id} does not exist")
            now = self.clock()
            state = row.effective_status(now)
            if state == "decided":
                raise AlreadyDecided(f"queue item {queue_id} is already decided")
            if state == "claimed" and row.claimed_by != reviewer:
                raise NotLeaseHolder(f"queue item {queue_id} is claimed by another reviewer")
            return self._claim_row(row, reviewer, lease_seconds, now)

    def _held(self, queue_id: int, reviewer: str) -> QueueItem:
        row = self._items.get(queue_id)
        if row is None:
            raise NotFound(f"queue item {queue_id} does not exist")
        if row.status == "decided":
            raise AlreadyDecided(f"queue item {queue_id} is already decided")
        if row.effective_status(self.clock()) != "claimed" or row.claimed_by != reviewer:
            raise NotLeaseHolder(
                f"queue item {queue_id}: you do not hold its lease (claim it first)"
            )
        return row

    def release(self, queue_id, reviewer):
        with self._lock:
            row = self._held(queue_id, reviewer)
            row.status, row.claimed_by, row.lease_until = "pending", None, None
            self._log(reviewer, "release", queue_id, {})
            return replace(row)

    def decide(self, queue_id, reviewer, decision, corrections, note):
        with self._lock:
            row = self._items.get(queue_id)
            if row is None:
                raise NotFound(f"queue item {queue_id} does not exist")
            check_decision(decision, corrections, row.categories)
            row = self._held(queue_id, reviewer)
            row.status, row.decision, row.decision_categories = "decided", decision, corrections
            row.note, row.decided_by, row.decided_at = note, reviewer, self.clock()
            row.lease_until = None
            self._log(reviewer, "decide", queue_id, {"decision": decision,
                                                     "categories": corrections or {}})
            return replace(row)

    def decided_items(self):
        with self._lock:
            return [replace(r) for r in sorted(self._items.values(), key=lambda r: r.id)
                    if r.status == "decided"]

    def depth(self):
        with self._lock:
            now = self.clock()
            out = {s: 0 for s in STATUSES}
            for r in self._items.values():
                out[r.effective_status(now)] += 1
            return out

    def audit(self, actor, action, queue_id, detail):
        with self._lock:
            self._log(actor, action, queue_id, detail)

    def audit_log(self, queue_id=None, limit=200):
        with self._lock:
            rows = [a for a in self._audit if queue_id is None or a.queue_id == queue_id]
            return [replace(a) for a in rows[-limit:]]

    def add_key(self, name, role, key_hash):
        with self._lock:
            if any(k.name == name for k in self._keys):
                raise ValueError(f"a key named {name!r} already exists")
            rec = KeyRecord(len(self._keys) + 1, name, role, key_hash, self.clock())
            self._keys.append(rec)
            return replace(rec)

    def find_key(self, key_hash):
        with self._lock:
            return next((replace(k) for k in self._keys if k.key_hash == key_hash), None)

    def list_keys(self):
        with self._lock:
            return [replace(k) for k in self._keys]
