"""The review queue's storage interface, its records, the priority rule, and an in-memory store.

`QueueStore` is what routes and the CLI talk to. `SQLStore` (sqlstore.py) implements it on
SQLite and PostgreSQL with one code path; `MemoryStore` here implements the same semantics
with a lock, for fast tests and for checking the SQL store against.

Queue semantics. An item sits in a *lane*: `review` (new items), `escalation` (a reviewer
escalated it; only `senior` reviewers claim it) or `appeal` (a decided item reopened by an
appeal; claimable by anyone but the reviewer who decided it). It waits as `pending` (review,
appeal) or `escalated` (escalation lane), is `claimed` under a lease that expires (an expired
claim is waiting again), and is `decided` once its lease holder records a final decision.
Each decision also lands in a history (`DecisionRecord`), so appeals keep the first decision,
QA re-reviews are stored beside it, and an undo within a few seconds can restore the one before.
Items are keyed by (client, item_id, version): a client re-sending an item_id with changed
text creates the next version, linked to the previous one. Every state change is audited.

What it leaves out: HTTP, auth (keys and sessions are stored here but checked in auth.py),
the decision rule (reasons.py) and the export format (export.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from veguard.result import ScoreResult
from veguard.service.reasons import DECISIONS, check_decision
from veguard.taxonomy import CATEGORIES, SEVERITY

__all__ = ["DECISIONS", "check_decision"]  # re-exported: routes import them from here

STATUSES: tuple[str, ...] = ("pending", "claimed", "escalated", "decided")
LANES: tuple[str, ...] = ("review", "escalation", "appeal")
ROLES: tuple[str, ...] = ("client", "reviewer", "senior", "admin")

# Added to an imminent-threat item's priority. Severity x confidence is at most 1.0, so the
# boost puts every such item ahead of every other one.
THREAT_BOOST = 1.0
# Added to a known-content item's priority (a live match in a violating bank, Banks issue):
# ahead of every unmatched item of the same score, behind imminent threats of any score.
KNOWN_CONTENT_BOOST = 0.5


class QueueError(Exception):
    """Base of the queue's expected failures; routes map each to an HTTP status."""

    status = 409


class NotFound(QueueError):
    status = 404


class AlreadyDecided(QueueError):
    status = 409


class NotLeaseHolder(QueueError):
    status = 409


class NotAllowed(QueueError):
    """The item exists but this reviewer may not take it (senior-only, own decision, undo late)."""

    status = 403


class WrongState(QueueError):
    status = 409


@dataclass
class NewItem:
    """What the scoring side hands the queue, with what the statement of reasons needs later."""

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
    client: str = ""
    model_version: str = ""
    thresholds: dict | None = None  # {"review": {...}, "auto": {...}} at scoring time
    policy_version: str = ""
    language: str = "und"  # the result's language: the queue filters and routes by it
    routing: dict | None = None  # the result's routing labels (extremism flagged), if any
    known_content: bool = False  # a live match in a violating bank raised its priority

    @classmethod
    def from_result(cls, result: ScoreResult, *, item_id: str, text: str, source: str,
                    model: str, author: str | None = None, context: str | None = None,
                    client: str = "", model_version: str = "", thresholds: dict | None = None,
                    policy_version: str = "") -> NewItem:
        ev = result.to_dict().get("evidence")
        return cls(item_id=item_id, text=text, source=source, model=model,
                   scores={c: float(result.scores[c]) for c in CATEGORIES},
                   categories={c: bool(result.categories[c]) for c in CATEGORIES},
                   action=result.action, evidence=ev, author=author, context=context,
                   client=client, model_version=model_version, thresholds=thresholds,
                   policy_version=policy_version, language=result.language,
                   routing=result.routing)


@dataclass
class QueueItem(NewItem):
    id: int = 0
    version: int = 1
    previous_id: int | None = None
    priority: float = 0.0
    status: str = "pending"
    lane: str = "review"
    claimed_by: str | None = None
    lease_until: float | None = None
    created_at: float = 0.0
    decision: str | None = None
    decision_categories: dict[str, bool] | None = None
    reason_code: str | None = None
    note: str | None = None
    decided_by: str | None = None
    decided_at: float | None = None
    appeal_reason: str | None = None
    qa_status: str | None = None  # None, pending, claimed, done
    qa_claimed_by: str | None = None
    qa_lease_until: float | None = None

    def waiting_status(self) -> str:
        return "escalated" if self.lane == "escalation" else "pending"

    def effective_status(self, now: float) -> str:
        """The waiting status for a claim whose lease has run out: how the queue treats it."""
        if self.status == "claimed" and (self.lease_until or 0) < now:
            return self.waiting_status()
        return self.status


@dataclass
class DecisionRecord:
    id: int
    queue_id: int
    kind: str  # the lane it was made in (review / escalation / appeal), or qa
    reviewer: str
    decision: str
    categories: dict[str, bool] | None
    reason_code: str | None
    note: str | None
    at: float
    undone: bool = False


@dataclass
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str  # enqueue / claim / release / decide / escalate / appeal / undo / qa_* / ...
    queue_id: int | None
    detail: dict = field(default_factory=dict)


@dataclass
class KeyRecord:
    id: int
    name: str
    role: str
    key_hash: str
    created_at: float = 0.0
    expires_at: float | None = None
    revoked: bool = False


@dataclass
class SessionRecord:
    session_hash: str
    key_name: str
    role: str
    key_hash: str
    created_at: float
    expires_at: float
    revoked: bool = False
    flash: str | None = None
    exposure: int = 0


def priority(scores: dict[str, float], action: str, known_content: bool = False) -> float:
    """Severity x confidence of the strongest category, plus the imminent-threat boost, plus
    the known-content boost.

    The threat boost applies when the result reached an `auto` operating point or when
    violence is the top score: those are the items a reviewer must see first. Known content
    (verified violating material, reposted) comes next.
    """
    base = max(SEVERITY[c] * float(scores[c]) for c in CATEGORIES)
    top = max(CATEGORIES, key=lambda c: scores[c])
    threat = action == "auto" or top == "violence"
    boost = (THREAT_BOOST if threat else 0.0) + (KNOWN_CONTENT_BOOST if known_content else 0.0)
    return round(base + boost, 6)


def flag_list(categories: dict[str, bool]) -> list[str]:
    return [c for c in CATEGORIES if categories.get(c)]


def undo_target(history: list[DecisionRecord], reviewer: str, now: float,
                window_s: float) -> tuple[DecisionRecord, DecisionRecord | None]:
    """(the decision to undo, the final decision it replaced or None); NotAllowed if none.

    Only the latest non-QA decision can be undone, by the reviewer who made it, within
    `window_s` seconds.
    """
    live = [d for d in history if not d.undone and d.kind != "qa"]
    if not live or live[-1].reviewer != reviewer:
        raise NotAllowed("nothing of yours to undo on this item")
    last = live[-1]
    if now - last.at > window_s:
        raise NotAllowed(f"the undo window ({window_s:g} s) has passed")
    before = next((d for d in reversed(live[:-1]) if d.decision != "escalate"), None)
    return last, before


class QueueStore(Protocol):
    clock: Callable[[], float]

    def enqueue(self, item: NewItem, actor: str) -> tuple[QueueItem, bool]: ...
    def get(self, queue_id: int) -> QueueItem | None: ...
    def list_items(self, *, status: str | None = None, category: str | None = None,
                   source: str | None = None, lane: str | None = None, q: str | None = None,
                   author: str | None = None, item_id: str | None = None,
                   language: str | None = None,
                   limit: int = 100, offset: int = 0) -> list[QueueItem]: ...
    def claim_next(self, reviewer: str, lease_seconds: float, *, category: str | None = None,
                   source: str | None = None, language: str | None = None,
                   escalated: bool = False) -> QueueItem | None: ...
    def claim(self, queue_id: int, reviewer: str, lease_seconds: float, *,
              senior: bool = False) -> QueueItem: ...
    def release(self, queue_id: int, reviewer: str) -> QueueItem: ...
    def decide(self, queue_id: int, reviewer: str, decision: str,
               corrections: dict[str, bool] | None, note: str | None,
               reason_code: str | None = None, *, qa: bool = False) -> QueueItem: ...
    def undo(self, queue_id: int, reviewer: str, window_s: float,
             lease_seconds: float) -> QueueItem: ...
    def appeal(self, queue_id: int, actor: str, reason: str) -> QueueItem: ...
    def qa_claim_next(self, reviewer: str, lease_seconds: float) -> QueueItem | None: ...
    def qa_decide(self, queue_id: int, reviewer: str, decision: str,
                  corrections: dict[str, bool] | None, reason_code: str | None,
                  note: str | None) -> QueueItem: ...
    def history(self, queue_id: int | None = None, since: float | None = None
                ) -> list[DecisionRecord]: ...
    def decided_items(self) -> list[QueueItem]: ...
    def open_items(self) -> list[QueueItem]: ...
    def depth(self) -> dict[str, int]: ...
    def audit(self, actor: str, action: str, queue_id: int | None, detail: dict) -> None: ...
    def audit_log(self, queue_id: int | None = None, limit: int = 200) -> list[AuditEntry]: ...
    def add_key(self, name: str, role: str, key_hash: str,
                expires_at: float | None = None) -> KeyRecord: ...
    def find_key(self, key_hash: str) -> KeyRecord | None: ...
    def list_keys(self, include_inactive: bool = False) -> list[KeyRecord]: ...
    def revoke_key(self, name: str) -> bool: ...
    def add_session(self, rec: SessionRecord) -> None: ...
    def find_session(self, session_hash: str) -> SessionRecord | None: ...
    def revoke_session(self, session_hash: str) -> None: ...
    def set_flash(self, session_hash: str, message: str | None) -> None: ...
    def pop_flash(self, session_hash: str) -> str | None: ...
    def bump_exposure(self, session_hash: str) -> int: ...


class MemoryStore:
    """The queue in a dict behind one lock: same semantics as SQLStore, no database."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._items: dict[int, QueueItem] = {}
        self._latest: dict[tuple[str, str], int] = {}
        self._history: list[DecisionRecord] = []
        self._audit: list[AuditEntry] = []
        self._keys: list[KeyRecord] = []
        self._sessions: dict[str, SessionRecord] = {}

    def _log(self, actor: str, action: str, queue_id: int | None, detail: dict) -> None:
        self._audit.append(AuditEntry(len(self._audit) + 1, self.clock(), actor, action,
                                      queue_id, dict(detail)))

    def _record(self, row: QueueItem, kind: str, reviewer: str, decision: str, corrections,
                reason_code, note) -> None:
        self._history.append(DecisionRecord(len(self._history) + 1, row.id, kind, reviewer,
                                            decision, corrections, reason_code, note,
                                            self.clock()))

    def enqueue(self, item: NewItem, actor: str) -> tuple[QueueItem, bool]:
        with self._lock:
            key = (item.client, item.item_id)
            prev = self._items.get(self._latest.get(key, 0))
            if prev is not None and prev.text == item.text:
                return replace(prev), False
            qid = len(self._items) + 1
            prio = priority(item.scores, item.action, item.known_content)
            row = QueueItem(**vars(item), id=qid, priority=prio,
                            created_at=self.clock(), version=prev.version + 1 if prev else 1,
                            previous_id=prev.id if prev else None)
            self._items[qid] = row
            self._latest[key] = qid
            detail = {"item_id": item.item_id, "client": item.client, "priority": row.priority,
                      "version": row.version}
            if prev is not None:
                detail["previous_id"] = prev.id
            self._log(actor, "enqueue", qid, detail)
            return replace(row), True

    def get(self, queue_id: int) -> QueueItem | None:
        with self._lock:
            row = self._items.get(queue_id)
            return replace(row) if row else None

    def _matches(self, row: QueueItem, now: float, status, category, source, lane=None, q=None,
                 author=None, item_id=None, language=None) -> bool:
        return ((status is None or row.effective_status(now) == status)
                and (language is None or row.language == language)
                and (category is None or row.categories.get(category))
                and (source is None or row.source == source)
                and (lane is None or row.lane == lane)
                and (q is None or q.lower() in row.text.lower())
                and (author is None or row.author == author)
                and (item_id is None or row.item_id == item_id))

    def list_items(self, *, status=None, category=None, source=None, lane=None, q=None,
                   author=None, item_id=None, language=None, limit=100, offset=0):
        with self._lock:
            now = self.clock()
            rows = [r for r in self._items.values()
                    if self._matches(r, now, status, category, source, lane, q, author, item_id,
                                     language)]
            rows.sort(key=lambda r: (-r.priority, r.id))
            return [replace(r) for r in rows[offset : offset + limit]]

    def _may_take(self, row: QueueItem, reviewer: str, senior: bool) -> str | None:
        """Why `reviewer` may not claim `row` (None: they may)."""
        if row.lane == "escalation" and not senior:
            return f"queue item {row.id} is escalated: only a senior reviewer may claim it"
        if row.lane == "appeal" and row.decided_by == reviewer:
            return (f"queue item {row.id} is an appeal of your own decision: another reviewer "
                    "decides it")
        return None

    def claim_next(self, reviewer, lease_seconds, *, category=None, source=None, language=None,
                   escalated=False):
        # `escalated` takes from the escalation queue; the route admits only seniors to it.
        with self._lock:
            now = self.clock()
            waiting = "escalated" if escalated else "pending"
            rows = [r for r in self._items.values()
                    if self._matches(r, now, waiting, category, source, language=language)
                    and self._may_take(r, reviewer, escalated) is None]
            if not rows:
                return None
            row = min(rows, key=lambda r: (-r.priority, r.id))
            return self._claim_row(row, reviewer, lease_seconds, now)

    def _claim_row(self, row: QueueItem, reviewer: str, lease_seconds: float, now: float):
        row.status, row.claimed_by, row.lease_until = "claimed", reviewer, now + lease_seconds
        self._log(reviewer, "claim", row.id, {"lease_until": row.lease_until, "lane": row.lane})
        return replace(row)

    def claim(self, queue_id, reviewer, lease_seconds, *, senior=False):
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
            why = self._may_take(row, reviewer, senior)
            if why:
                raise NotAllowed(why)
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
            row.status, row.claimed_by, row.lease_until = row.waiting_status(), None, None
            self._log(reviewer, "release", queue_id, {})
            return replace(row)

    def decide(self, queue_id, reviewer, decision, corrections, note, reason_code=None, *,
               qa=False):
        with self._lock:
            row = self._items.get(queue_id)
            if row is None:
                raise NotFound(f"queue item {queue_id} does not exist")
            check_decision(decision, corrections, row.categories, reason_code)
            if decision == "escalate" and row.lane == "escalation":
                raise ValueError("decision: an escalated item is decided for good: "
                                 "'violating' or 'benign'")
            row = self._held(queue_id, reviewer)
            kind, previous = row.lane, row.decision
            self._record(row, kind, reviewer, decision, corrections, reason_code, note)
            if decision == "escalate":
                row.status, row.lane, row.claimed_by, row.lease_until = (
                    "escalated", "escalation", None, None)
                self._log(reviewer, "escalate", queue_id, {"from": kind, "note": note})
                return replace(row)
            row.status, row.decision, row.decision_categories = "decided", decision, corrections
            row.reason_code, row.note, row.decided_by = reason_code, note, reviewer
            row.decided_at, row.lease_until = self.clock(), None
            if qa and kind == "review":
                row.qa_status = "pending"
            detail = {"decision": decision, "categories": corrections or {},
                      "reason_code": reason_code, "lane": kind}
            if kind == "appeal":
                detail["reversed"] = previous != decision
            self._log(reviewer, "decide", queue_id, detail)
            return replace(row)

    def undo(self, queue_id, reviewer, window_s, lease_seconds):
        with self._lock:
            row = self._items.get(queue_id)
            if row is None:
                raise NotFound(f"queue item {queue_id} does not exist")
            hist = [d for d in self._history if d.queue_id == queue_id]
            last, before = undo_target(hist, reviewer, self.clock(), window_s)
            if row.status != ("escalated" if last.decision == "escalate" else "decided"):
                raise NotAllowed(f"queue item {queue_id} has moved on: too late to undo")
            last.undone = True
            now = self.clock()
            row.status, row.lane, row.claimed_by = "claimed", last.kind, reviewer
            row.lease_until = now + lease_seconds
            row.decision = before.decision if before else None
            row.decision_categories = before.categories if before else None
            row.reason_code = before.reason_code if before else None
            row.note = before.note if before else None
            row.decided_by = before.reviewer if before else None
            row.decided_at = before.at if before else None
            if row.qa_status in ("pending", "claimed"):
                row.qa_status, row.qa_claimed_by, row.qa_lease_until = None, None, None
            self._log(reviewer, "undo", queue_id, {"undid": last.decision})
            return replace(row)

    def appeal(self, queue_id, actor, reason):
        with self._lock:
            row = self._items.get(queue_id)
            if row is None:
                raise NotFound(f"queue item {queue_id} does not exist")
            if row.status != "decided":
                raise WrongState(f"queue item {queue_id} is not decided: nothing to appeal")
            row.status, row.lane, row.appeal_reason = "pending", "appeal", reason
            row.claimed_by = row.lease_until = None
            self._log(actor, "appeal", queue_id, {"reason": reason, "was": row.decision})
            return replace(row)

    def qa_claim_next(self, reviewer, lease_seconds):
        with self._lock:
            now = self.clock()
            rows = [r for r in self._items.values()
                    if r.status == "decided" and r.decided_by != reviewer
                    and (r.qa_status == "pending"
                         or (r.qa_status == "claimed" and (r.qa_lease_until or 0) < now))]
            if not rows:
                return None
            row = min(rows, key=lambda r: (-r.priority, r.id))
            row.qa_status, row.qa_claimed_by = "claimed", reviewer
            row.qa_lease_until = now + lease_seconds
            self._log(reviewer, "qa_claim", row.id, {})
            return replace(row)

    def qa_decide(self, queue_id, reviewer, decision, corrections, reason_code, note):
        with self._lock:
            row = self._items.get(queue_id)
            if row is None:
                raise NotFound(f"queue item {queue_id} does not exist")
            if decision == "escalate":
                raise ValueError("decision: a QA re-review is 'violating' or 'benign'")
            check_decision(decision, corrections, row.categories, reason_code)
            if (row.qa_status != "claimed" or row.qa_claimed_by != reviewer
                    or (row.qa_lease_until or 0) < self.clock()):
                raise NotLeaseHolder(f"queue item {queue_id}: you do not hold its QA lease")
            row.qa_status, row.qa_lease_until = "done", None
            self._record(row, "qa", reviewer, decision, corrections, reason_code, note)
            self._log(reviewer, "qa_decide", queue_id, {"decision": decision,
                                                        "reason_code": reason_code})
            return replace(row)

    def history(self, queue_id=None, since=None):
        with self._lock:
            return [replace(d) for d in self._history
                    if (queue_id is None or d.queue_id == queue_id)
                    and (since is None or d.at >= since)]

    def decided_items(self):
        with self._lock:
            return [replace(r) for r in sorted(self._items.values(), key=lambda r: r.id)
                    if r.status == "decided"]

    def open_items(self):
        with self._lock:
            return [replace(r) for r in sorted(self._items.values(), key=lambda r: r.id)
                    if r.status != "decided"]

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

    # -- keys and sessions ---------------------------------------------------------------
    def _active(self, k: KeyRecord) -> bool:
        return not k.revoked and (k.expires_at is None or k.expires_at > self.clock())

    def add_key(self, name, role, key_hash, expires_at=None):
        with self._lock:
            if any(k.name == name for k in self._keys):
                raise ValueError(f"a key named {name!r} already exists")
            rec = KeyRecord(len(self._keys) + 1, name, role, key_hash, self.clock(), expires_at)
            self._keys.append(rec)
            return replace(rec)

    def find_key(self, key_hash):
        with self._lock:
            return next((replace(k) for k in self._keys
                         if k.key_hash == key_hash and self._active(k)), None)

    def list_keys(self, include_inactive=False):
        with self._lock:
            return [replace(k) for k in self._keys if include_inactive or self._active(k)]

    def revoke_key(self, name):
        with self._lock:
            for k in self._keys:
                if k.name == name and not k.revoked:
                    k.revoked = True
                    return True
            return False

    def add_session(self, rec):
        with self._lock:
            self._sessions[rec.session_hash] = replace(rec)

    def find_session(self, session_hash):
        with self._lock:
            s = self._sessions.get(session_hash)
            if s is None or s.revoked or s.expires_at <= self.clock():
                return None
            return replace(s)

    def revoke_session(self, session_hash):
        with self._lock:
            if session_hash in self._sessions:
                self._sessions[session_hash].revoked = True

    def set_flash(self, session_hash, message):
        with self._lock:
            if session_hash in self._sessions:
                self._sessions[session_hash].flash = message

    def pop_flash(self, session_hash):
        with self._lock:
            s = self._sessions.get(session_hash)
            if s is None:
                return None
            msg, s.flash = s.flash, None
            return msg

    def bump_exposure(self, session_hash):
        with self._lock:
            s = self._sessions.get(session_hash)
            if s is None:
                return 0
            s.exposure += 1
            return s.exposure
