"""The review queue on SQLAlchemy 2.x: one code path for SQLite (WAL) and PostgreSQL.

Concurrency, which is the point of this module:
- `claim_next` picks a candidate with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite
  renders no locking clause) and then takes it with a conditional `UPDATE ... WHERE <still
  claimable>`, checking the row count. On SQLite every transaction starts with
  `BEGIN IMMEDIATE`, so writers queue on the busy timeout instead of failing with
  "database is locked" when a read transaction tries to upgrade.
- `enqueue` relies on the unique constraint on `item_id`: a losing racer catches the
  IntegrityError and returns the winner's row.
- `decide` and `release` are conditional updates too, so a decision is recorded once.

What it leaves out: migrations (tables are created if missing; the schema is version 1).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from veguard.service.store import (
    STATUSES,
    AlreadyDecided,
    AuditEntry,
    KeyRecord,
    NewItem,
    NotFound,
    NotLeaseHolder,
    QueueItem,
    check_decision,
    flag_list,
    priority,
)

metadata = MetaData()

items = Table(
    "queue_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", String(200), nullable=False, unique=True),
    Column("text", Text, nullable=False),
    Column("source", String(100), nullable=False),
    Column("author", String(200)),
    Column("context", Text),
    Column("model", String(200), nullable=False),
    Column("scores", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    # ",extremism,violence," so a category filter is a portable LIKE, not a JSON operator.
    Column("flags", String(200), nullable=False),
    Column("action", String(20), nullable=False),
    Column("evidence", JSON),
    Column("priority", Float, nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("claimed_by", String(200)),
    Column("lease_until", Float),
    Column("created_at", Float, nullable=False),
    Column("decision", String(20)),
    Column("decision_categories", JSON),
    Column("note", Text),
    Column("decided_by", String(200)),
    Column("decided_at", Float),
)

audit = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("queue_id", Integer, ForeignKey("queue_items.id"), index=True),
    Column("detail", JSON, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE transactions."""
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        # An in-memory database exists once per connection: share one (StaticPool).
        pool = {"poolclass": StaticPool} if memory else {"pool_size": 20, "max_overflow": 10}
        engine = create_engine(url, **pool,
                               connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=20, max_overflow=10, pool_pre_ping=True)


def _row_to_item(r) -> QueueItem:
    m = r._mapping
    return QueueItem(
        item_id=m["item_id"], text=m["text"], source=m["source"], model=m["model"],
        scores=dict(m["scores"]), categories=dict(m["categories"]), action=m["action"],
        evidence=m["evidence"], author=m["author"], context=m["context"], id=m["id"],
        priority=m["priority"], status=m["status"], claimed_by=m["claimed_by"],
        lease_until=m["lease_until"], created_at=m["created_at"], decision=m["decision"],
        decision_categories=m["decision_categories"], note=m["note"],
        decided_by=m["decided_by"], decided_at=m["decided_at"],
    )


def _claimable(now: float):
    return or_(items.c.status == "pending",
               and_(items.c.status == "claimed", items.c.lease_until < now))


class SQLStore:
    """QueueStore on a SQLAlchemy URL (`sqlite:///veguard.db`, `postgresql+psycopg://...`)."""

    def __init__(self, url: str, clock: Callable[[], float] = time.time, create: bool = True):
        self.url = url
        self.clock = clock
        self.engine = make_engine(url)
        if create:
            metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- helpers -------------------------------------------------------------------------
    def _log(self, conn: Connection, actor: str, action: str, queue_id: int | None,
             detail: dict) -> None:
        conn.execute(insert(audit).values(at=self.clock(), actor=actor, action=action,
                                          queue_id=queue_id, detail=detail))

    def _get(self, conn: Connection, queue_id: int) -> QueueItem | None:
        r = conn.execute(select(items).where(items.c.id == queue_id)).first()
        return _row_to_item(r) if r else None

    # -- queue ---------------------------------------------------------------------------
    def enqueue(self, item: NewItem, actor: str) -> tuple[QueueItem, bool]:
        prio = priority(item.scores, item.action)
        values = dict(vars(item), flags="," + ",".join(flag_list(item.categories)) + ",",
                      priority=prio, status="pending", created_at=self.clock())
        try:
            with self.engine.begin() as conn:
                qid = conn.execute(insert(items).values(**values)).inserted_primary_key[0]
                self._log(conn, actor, "enqueue", qid, {"item_id": item.item_id, "priority": prio})
                return self._get(conn, qid), True
        except IntegrityError:
            # Someone enqueued the same item_id first (now or earlier): theirs is the item.
            with self.engine.begin() as conn:
                r = conn.execute(select(items).where(items.c.item_id == item.item_id)).first()
            if r is None:  # the IntegrityError was about something else
                raise
            return _row_to_item(r), False

    def get(self, queue_id: int) -> QueueItem | None:
        with self.engine.connect() as conn:
            return self._get(conn, queue_id)

    def _filtered(self, q, now: float, status, category, source):
        if status == "pending":
            q = q.where(_claimable(now))
        elif status == "claimed":
            q = q.where(items.c.status == "claimed", items.c.lease_until >= now)
        elif status is not None:
            q = q.where(items.c.status == status)
        if category is not None:
            q = q.where(items.c.flags.like(f"%,{category},%"))
        if source is not None:
            q = q.where(items.c.source == source)
        return q

    def list_items(self, *, status=None, category=None, source=None, limit=100, offset=0):
        q = self._filtered(select(items), self.clock(), status, category, source)
        q = q.order_by(items.c.priority.desc(), items.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_row_to_item(r) for r in conn.execute(q)]

    def claim_next(self, reviewer, lease_seconds, *, category=None, source=None):
        for _ in range(50):  # a lost race means someone else took it: try the next one
            now = self.clock()
            with self.engine.begin() as conn:
                q = self._filtered(select(items.c.id), now, "pending", category, source)
                q = q.order_by(items.c.priority.desc(), items.c.id).limit(1)
                qid = conn.execute(q.with_for_update(skip_locked=True)).scalar()
                if qid is None:
                    return None
                if self._take(conn, qid, reviewer, lease_seconds, now, _claimable(now)):
                    return self._get(conn, qid)
        return None

    def _take(self, conn, qid, reviewer, lease_seconds, now, condition) -> bool:
        res = conn.execute(update(items).where(items.c.id == qid, condition).values(
            status="claimed", claimed_by=reviewer, lease_until=now + lease_seconds))
        if res.rowcount != 1:
            return False
        self._log(conn, reviewer, "claim", qid, {"lease_until": now + lease_seconds})
        return True

    def claim(self, queue_id, reviewer, lease_seconds):
        now = self.clock()
        with self.engine.begin() as conn:
            mine = and_(items.c.status == "claimed", items.c.claimed_by == reviewer)
            if self._take(conn, queue_id, reviewer, lease_seconds, now,
                          or_(_claimable(now), mine)):
                return self._get(conn, queue_id)
            row = self._get(conn, queue_id)
        if row is None:
            raise NotFound(f"queue item {queue_id} does not exist")
        if row.status == "decided":
            raise AlreadyDecided(f"queue item {queue_id} is already decided")
        raise NotLeaseHolder(f"queue item {queue_id} is claimed by another reviewer")

    def _held_condition(self, queue_id: int, reviewer: str, now: float):
        return and_(items.c.id == queue_id, items.c.status == "claimed",
                    items.c.claimed_by == reviewer, items.c.lease_until >= now)

    def _why_not_held(self, queue_id: int) -> Exception:
        row = self.get(queue_id)
        if row is None:
            return NotFound(f"queue item {queue_id} does not exist")
        if row.status == "decided":
            return AlreadyDecided(f"queue item {queue_id} is already decided")
        return NotLeaseHolder(f"queue item {queue_id}: you do not hold its lease (claim it first)")

    def release(self, queue_id, reviewer):
        with self.engine.begin() as conn:
            res = conn.execute(update(items).where(
                self._held_condition(queue_id, reviewer, self.clock())).values(
                status="pending", claimed_by=None, lease_until=None))
            if res.rowcount == 1:
                self._log(conn, reviewer, "release", queue_id, {})
                return self._get(conn, queue_id)
        raise self._why_not_held(queue_id)

    def decide(self, queue_id, reviewer, decision, corrections, note):
        row = self.get(queue_id)
        if row is None:
            raise NotFound(f"queue item {queue_id} does not exist")
        check_decision(decision, corrections, row.categories)
        now = self.clock()
        with self.engine.begin() as conn:
            res = conn.execute(update(items).where(
                self._held_condition(queue_id, reviewer, now)).values(
                status="decided", decision=decision, decision_categories=corrections,
                note=note, decided_by=reviewer, decided_at=now, lease_until=None))
            if res.rowcount == 1:
                self._log(conn, reviewer, "decide", queue_id,
                          {"decision": decision, "categories": corrections or {}})
                return self._get(conn, queue_id)
        raise self._why_not_held(queue_id)

    def decided_items(self):
        q = select(items).where(items.c.status == "decided").order_by(items.c.id)
        with self.engine.connect() as conn:
            return [_row_to_item(r) for r in conn.execute(q)]

    def depth(self):
        now = self.clock()
        out = {s: 0 for s in STATUSES}
        with self.engine.connect() as conn:
            for status in STATUSES:
                q = self._filtered(select(func.count()).select_from(items), now, status, None, None)
                out[status] = conn.execute(q).scalar() or 0
        return out

    # -- audit ---------------------------------------------------------------------------
    def audit(self, actor, action, queue_id, detail):
        with self.engine.begin() as conn:
            self._log(conn, actor, action, queue_id, detail)

    def audit_log(self, queue_id=None, limit=200):
        q = select(audit)
        if queue_id is not None:
            q = q.where(audit.c.queue_id == queue_id)
        q = q.order_by(audit.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = [AuditEntry(r.id, r.at, r.actor, r.action, r.queue_id, dict(r.detail or {}))
                    for r in conn.execute(q)]
        return rows[::-1]

    # -- keys ----------------------------------------------------------------------------
    def add_key(self, name, role, key_hash):
        try:
            with self.engine.begin() as conn:
                kid = conn.execute(insert(api_keys).values(
                    name=name, role=role, key_hash=key_hash, created_at=self.clock(),
                    revoked=False)).inserted_primary_key[0]
        except IntegrityError as e:
            raise ValueError(f"a key named {name!r} already exists") from e
        return KeyRecord(kid, name, role, key_hash, self.clock())

    def find_key(self, key_hash):
        q = select(api_keys).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked.is_(False))
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        return KeyRecord(r.id, r.name, r.role, r.key_hash, r.created_at) if r else None

    def list_keys(self):
        q = select(api_keys).where(api_keys.c.revoked.is_(False)).order_by(api_keys.c.id)
        with self.engine.connect() as conn:
            return [KeyRecord(r.id, r.name, r.role, r.key_hash, r.created_at)
                    for r in conn.execute(q)]
