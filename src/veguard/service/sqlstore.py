"""The review queue on SQLAlchemy 2.x: one code path for SQLite (WAL) and PostgreSQL.

Concurrency, which is the point of this module:
- `claim_next` picks a candidate with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite
  renders no locking clause) and then takes it with a conditional `UPDATE ... WHERE <still
  claimable>`, checking the row count. On SQLite every transaction starts with
  `BEGIN IMMEDIATE`, so writers queue on the busy timeout instead of failing with
  "database is locked" when a read transaction tries to upgrade.
- `enqueue` relies on the unique constraint on (client, item_id, version): a losing racer
  catches the IntegrityError and re-reads (same text: the winner's row; new text: next version).
- `decide`, `release`, `undo` and the QA calls are conditional updates too, so a decision is
  recorded once.

Schema version 2. The store creates missing tables itself; a version-1 database (from the
first queue release) is migrated in place when opened (`migrate_v1`), see docs/SERVICE.md,
and a version-2 one gets the later `language` and `routing` columns (`migrate_v2_columns`).

What it leaves out: a general migration framework (one known upgrade is all there is).
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
    UniqueConstraint,
    and_,
    create_engine,
    event,
    false,
    func,
    insert,
    inspect,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateIndex, CreateTable

from veguard.service.store import (
    STATUSES,
    AlreadyDecided,
    AuditEntry,
    DecisionRecord,
    KeyRecord,
    NewItem,
    NotAllowed,
    NotFound,
    NotLeaseHolder,
    QueueItem,
    SessionRecord,
    WrongState,
    check_decision,
    flag_list,
    priority,
    undo_target,
)

metadata = MetaData()

items = Table(
    "queue_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client", String(200), nullable=False, default=""),
    Column("item_id", String(200), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("previous_id", Integer),
    Column("text", Text, nullable=False),
    Column("source", String(100), nullable=False),
    Column("author", String(200)),
    Column("context", Text),
    Column("model", String(200), nullable=False),
    Column("model_version", String(100), nullable=False, default=""),
    Column("thresholds", JSON),
    Column("policy_version", String(40), nullable=False, default=""),
    Column("scores", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    # ",extremism,violence," so a category filter is a portable LIKE, not a JSON operator.
    Column("flags", String(200), nullable=False),
    Column("action", String(20), nullable=False),
    Column("evidence", JSON),
    # Added after version 2 (`migrate_v2_columns`): the result's language and routing labels.
    Column("language", String(20), nullable=False, default="und", server_default="und",
           index=True),
    Column("routing", JSON),
    Column("known_content", Boolean, nullable=False, default=False, server_default=false()),
    Column("priority", Float, nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("lane", String(20), nullable=False, default="review"),
    Column("claimed_by", String(200)),
    Column("lease_until", Float),
    Column("created_at", Float, nullable=False),
    Column("decision", String(20)),
    Column("decision_categories", JSON),
    Column("reason_code", String(40)),
    Column("note", Text),
    Column("decided_by", String(200)),
    Column("decided_at", Float),
    Column("appeal_reason", Text),
    Column("qa_status", String(20)),
    Column("qa_claimed_by", String(200)),
    Column("qa_lease_until", Float),
    UniqueConstraint("client", "item_id", "version", name="uq_queue_items_version"),
)

decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue_id", Integer, ForeignKey("queue_items.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("categories", JSON),
    Column("reason_code", String(40)),
    Column("note", Text),
    Column("at", Float, nullable=False, index=True),
    Column("undone", Boolean, nullable=False, default=False),
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
    Column("expires_at", Float),
)

sessions = Table(
    "review_sessions", metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("key_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("flash", Text),
    Column("exposure", Integer, nullable=False, default=0),
)

# Columns version 1 had in queue_items (everything else is new in version 2).
V1_ITEM_COLUMNS = ("id", "item_id", "text", "source", "author", "context", "model", "scores",
                   "categories", "flags", "action", "evidence", "priority", "status",
                   "claimed_by", "lease_until", "created_at", "decision", "decision_categories",
                   "note", "decided_by", "decided_at")


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


def migrate_v1(engine: Engine) -> bool:
    """Upgrade a version-1 database in place; True if it did. Idempotent.

    Version 1 had `item_id` unique across clients and no lanes: rows keep their ids, get
    client '' and version 1, and v1's escalate "decisions" become escalated items (v1 had
    made them a dead end). SQLite cannot drop a unique constraint, so there the table is
    rebuilt (foreign keys off for the copy); PostgreSQL alters it.
    """
    insp = inspect(engine)
    if "queue_items" not in insp.get_table_names():
        return False
    if "lane" in {c["name"] for c in insp.get_columns("queue_items")}:
        return False
    key_cols = {c["name"] for c in insp.get_columns("api_keys")}
    cols = ", ".join(V1_ITEM_COLUMNS)
    fix = ("UPDATE queue_items SET status = 'escalated', lane = 'escalation', decision = NULL, "
           "decided_by = NULL, decided_at = NULL "
           "WHERE status = 'decided' AND decision = 'escalate'")
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA foreign_keys=OFF")
            # Keep audit_log's foreign key pointing at the name queue_items across the rename.
            cur.execute("PRAGMA legacy_alter_table=ON")
            cur.execute("BEGIN IMMEDIATE")
            cur.execute("ALTER TABLE queue_items RENAME TO queue_items_v1")
            for ix in ("ix_queue_items_priority", "ix_queue_items_status"):
                cur.execute(f"DROP INDEX IF EXISTS {ix}")
            cur.execute(str(CreateTable(items).compile(engine)))
            for ix in items.indexes:
                cur.execute(str(CreateIndex(ix).compile(engine)))
            cur.execute(f"INSERT INTO queue_items ({cols}, client, version, model_version, "
                        f"policy_version, lane) SELECT {cols}, '', 1, '', '', 'review' "
                        "FROM queue_items_v1")
            cur.execute("DROP TABLE queue_items_v1")
            cur.execute(fix)
            if "expires_at" not in key_cols:
                cur.execute("ALTER TABLE api_keys ADD COLUMN expires_at FLOAT")
            cur.execute("COMMIT")
            cur.execute("PRAGMA legacy_alter_table=OFF")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            raw.close()
        return True
    uniques = insp.get_unique_constraints("queue_items")
    with engine.begin() as conn:
        for u in uniques:
            if u["column_names"] == ["item_id"]:
                conn.exec_driver_sql(f'ALTER TABLE queue_items DROP CONSTRAINT "{u["name"]}"')
        existing = {c["name"] for c in insp.get_columns("queue_items")}
        defaults = {"client": "''", "version": "1", "model_version": "''",
                    "policy_version": "''", "lane": "'review'", "language": "'und'"}
        for col in items.columns:
            if col.name in existing:
                continue
            type_ = col.type.compile(engine.dialect)
            ddl = f"ALTER TABLE queue_items ADD COLUMN {col.name} {type_}"
            if col.name in defaults:
                ddl += f" NOT NULL DEFAULT {defaults[col.name]}"
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql("ALTER TABLE queue_items ADD CONSTRAINT uq_queue_items_version "
                             "UNIQUE (client, item_id, version)")
        conn.exec_driver_sql(fix)
        if "expires_at" not in key_cols:
            conn.exec_driver_sql("ALTER TABLE api_keys ADD COLUMN expires_at FLOAT")
    return True


def migrate_v2_columns(engine: Engine) -> bool:
    """Add `language`, `routing` and `known_content` to a version-2 queue_items table; True if
    it did.

    Plain `ADD COLUMN`s, the same on SQLite and PostgreSQL: existing rows read as language
    'und' (unknown) and no routing. Idempotent; the language index is created either way.
    """
    insp = inspect(engine)
    if "queue_items" not in insp.get_table_names():
        return False
    existing = {c["name"] for c in insp.get_columns("queue_items")}
    added = False
    with engine.begin() as conn:
        if "language" not in existing:
            conn.exec_driver_sql("ALTER TABLE queue_items ADD COLUMN language VARCHAR(20) "
                                 "NOT NULL DEFAULT 'und'")
            added = True
        if "routing" not in existing:
            type_ = items.c.routing.type.compile(engine.dialect)
            conn.exec_driver_sql(f"ALTER TABLE queue_items ADD COLUMN routing {type_}")
            added = True
        if "known_content" not in existing:
            conn.exec_driver_sql("ALTER TABLE queue_items ADD COLUMN known_content BOOLEAN "
                                 "NOT NULL DEFAULT FALSE")
            added = True
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_queue_items_language "
                             "ON queue_items (language)")
    return added


def _row_to_item(r) -> QueueItem:
    m = dict(r._mapping)
    m.pop("flags", None)
    m["scores"], m["categories"] = dict(m["scores"]), dict(m["categories"])
    return QueueItem(**m)


def _row_to_decision(r) -> DecisionRecord:
    m = r._mapping
    return DecisionRecord(m["id"], m["queue_id"], m["kind"], m["reviewer"], m["decision"],
                          m["categories"], m["reason_code"], m["note"], m["at"],
                          bool(m["undone"]))


def _row_to_key(r) -> KeyRecord:
    return KeyRecord(r.id, r.name, r.role, r.key_hash, r.created_at, r.expires_at,
                     bool(r.revoked))


def _waiting(now: float, escalated: bool):
    """Rows waiting for a reviewer: pending (or escalated), or claimed with a lapsed lease."""
    lane = items.c.lane == "escalation"
    lane = lane if escalated else not_(lane)
    return and_(lane, or_(items.c.status == ("escalated" if escalated else "pending"),
                          and_(items.c.status == "claimed", items.c.lease_until < now)))


def _may_take(reviewer: str, senior: bool):
    cond = or_(items.c.lane != "appeal", items.c.decided_by.is_(None),
               items.c.decided_by != reviewer)
    if not senior:
        cond = and_(cond, items.c.lane != "escalation")
    return cond


class SQLStore:
    """QueueStore on a SQLAlchemy URL (`sqlite:///veguard.db`, `postgresql+psycopg://...`)."""

    def __init__(self, url: str, clock: Callable[[], float] = time.time, create: bool = True):
        self.url = url
        self.clock = clock
        self.engine = make_engine(url)
        if create:
            migrate_v1(self.engine)
            migrate_v2_columns(self.engine)
            metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- helpers -------------------------------------------------------------------------
    def _log(self, conn: Connection, actor: str, action: str, queue_id: int | None,
             detail: dict) -> None:
        conn.execute(insert(audit).values(at=self.clock(), actor=actor, action=action,
                                          queue_id=queue_id, detail=detail))

    def _record(self, conn, queue_id, kind, reviewer, decision, corrections, reason_code, note):
        conn.execute(insert(decisions).values(
            queue_id=queue_id, kind=kind, reviewer=reviewer, decision=decision,
            categories=corrections, reason_code=reason_code, note=note, at=self.clock(),
            undone=False))

    def _get(self, conn: Connection, queue_id: int) -> QueueItem | None:
        r = conn.execute(select(items).where(items.c.id == queue_id)).first()
        return _row_to_item(r) if r else None

    # -- queue ---------------------------------------------------------------------------
    def _latest(self, conn, client: str, item_id: str) -> QueueItem | None:
        r = conn.execute(select(items).where(items.c.client == client, items.c.item_id == item_id)
                         .order_by(items.c.version.desc()).limit(1)).first()
        return _row_to_item(r) if r else None

    def enqueue(self, item: NewItem, actor: str) -> tuple[QueueItem, bool]:
        prio = priority(item.scores, item.action, item.known_content)
        for _ in range(20):  # a lost race on the next version: re-read and try again
            try:
                with self.engine.begin() as conn:
                    prev = self._latest(conn, item.client, item.item_id)
                    if prev is not None and prev.text == item.text:
                        return prev, False
                    values = dict(vars(item),
                                  flags="," + ",".join(flag_list(item.categories)) + ",",
                                  priority=prio, status="pending", lane="review",
                                  created_at=self.clock(),
                                  version=prev.version + 1 if prev else 1,
                                  previous_id=prev.id if prev else None)
                    qid = conn.execute(insert(items).values(**values)).inserted_primary_key[0]
                    detail = {"item_id": item.item_id, "client": item.client, "priority": prio,
                              "version": values["version"]}
                    if prev is not None:
                        detail["previous_id"] = prev.id
                    self._log(conn, actor, "enqueue", qid, detail)
                    return self._get(conn, qid), True
            except IntegrityError:
                continue
        raise RuntimeError(f"enqueue of {item.item_id!r}: too many concurrent versions")

    def get(self, queue_id: int) -> QueueItem | None:
        with self.engine.connect() as conn:
            return self._get(conn, queue_id)

    def _filtered(self, q, now: float, status, category, source, lane=None, text=None,
                  author=None, item_id=None, language=None):
        if status == "pending":
            q = q.where(_waiting(now, False))
        elif status == "escalated":
            q = q.where(_waiting(now, True))
        elif status == "claimed":
            q = q.where(items.c.status == "claimed", items.c.lease_until >= now)
        elif status is not None:
            q = q.where(items.c.status == status)
        if category is not None:
            q = q.where(items.c.flags.like(f"%,{category},%"))
        for col, value in ((items.c.source, source), (items.c.lane, lane),
                           (items.c.author, author), (items.c.item_id, item_id),
                           (items.c.language, language)):
            if value is not None:
                q = q.where(col == value)
        if text is not None:
            # Escape LIKE's wildcards so a search for "100%" means the characters.
            pat = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(func.lower(items.c.text).like(f"%{pat}%", escape="\\"))
        return q

    def list_items(self, *, status=None, category=None, source=None, lane=None, q=None,
                   author=None, item_id=None, language=None, limit=100, offset=0):
        sel = self._filtered(select(items), self.clock(), status, category, source, lane, q,
                             author, item_id, language)
        sel = sel.order_by(items.c.priority.desc(), items.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_row_to_item(r) for r in conn.execute(sel)]

    def claim_next(self, reviewer, lease_seconds, *, category=None, source=None, language=None,
                   escalated=False):
        for _ in range(50):  # a lost race means someone else took it: try the next one
            now = self.clock()
            with self.engine.begin() as conn:
                q = self._filtered(select(items.c.id), now, None, category, source,
                                   language=language)
                q = q.where(_waiting(now, escalated), _may_take(reviewer, escalated))
                q = q.order_by(items.c.priority.desc(), items.c.id).limit(1)
                qid = conn.execute(q.with_for_update(skip_locked=True)).scalar()
                if qid is None:
                    return None
                cond = and_(_waiting(now, escalated), _may_take(reviewer, escalated))
                if self._take(conn, qid, reviewer, lease_seconds, now, cond):
                    return self._get(conn, qid)
        return None

    def _take(self, conn, qid, reviewer, lease_seconds, now, condition) -> bool:
        res = conn.execute(update(items).where(items.c.id == qid, condition).values(
            status="claimed", claimed_by=reviewer, lease_until=now + lease_seconds))
        if res.rowcount != 1:
            return False
        lane = conn.execute(select(items.c.lane).where(items.c.id == qid)).scalar()
        self._log(conn, reviewer, "claim", qid, {"lease_until": now + lease_seconds, "lane": lane})
        return True

    def claim(self, queue_id, reviewer, lease_seconds, *, senior=False):
        now = self.clock()
        with self.engine.begin() as conn:
            mine = and_(items.c.status == "claimed", items.c.claimed_by == reviewer)
            waiting = or_(_waiting(now, False), _waiting(now, True))
            if self._take(conn, queue_id, reviewer, lease_seconds, now,
                          and_(or_(waiting, mine), _may_take(reviewer, senior))):
                return self._get(conn, queue_id)
            row = self._get(conn, queue_id)
        if row is None:
            raise NotFound(f"queue item {queue_id} does not exist")
        if row.status == "decided":
            raise AlreadyDecided(f"queue item {queue_id} is already decided")
        state = row.effective_status(now)
        if state == "claimed" and row.claimed_by != reviewer:
            raise NotLeaseHolder(f"queue item {queue_id} is claimed by another reviewer")
        if row.lane == "escalation" and not senior:
            raise NotAllowed(f"queue item {queue_id} is escalated: only a senior reviewer may "
                             "claim it")
        raise NotAllowed(f"queue item {queue_id} is an appeal of your own decision: another "
                         "reviewer decides it")

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
        row = self.get(queue_id)
        waiting = row.waiting_status() if row else "pending"
        with self.engine.begin() as conn:
            res = conn.execute(update(items).where(
                self._held_condition(queue_id, reviewer, self.clock())).values(
                status=waiting, claimed_by=None, lease_until=None))
            if res.rowcount == 1:
                self._log(conn, reviewer, "release", queue_id, {})
                return self._get(conn, queue_id)
        raise self._why_not_held(queue_id)

    def decide(self, queue_id, reviewer, decision, corrections, note, reason_code=None, *,
               qa=False):
        row = self.get(queue_id)
        if row is None:
            raise NotFound(f"queue item {queue_id} does not exist")
        check_decision(decision, corrections, row.categories, reason_code)
        if decision == "escalate" and row.lane == "escalation":
            raise ValueError("decision: an escalated item is decided for good: "
                             "'violating' or 'benign'")
        now = self.clock()
        kind = row.lane
        held = and_(self._held_condition(queue_id, reviewer, now), items.c.lane == kind)
        if decision == "escalate":
            values = {"status": "escalated", "lane": "escalation", "claimed_by": None,
                          "lease_until": None}
        else:
            values = {"status": "decided", "decision": decision, "decision_categories": corrections,
                          "reason_code": reason_code, "note": note, "decided_by": reviewer,
                          "decided_at": now, "lease_until": None}
            if qa and kind == "review":
                values["qa_status"] = "pending"
        with self.engine.begin() as conn:
            res = conn.execute(update(items).where(held).values(**values))
            if res.rowcount == 1:
                self._record(conn, queue_id, kind, reviewer, decision, corrections, reason_code,
                             note)
                if decision == "escalate":
                    self._log(conn, reviewer, "escalate", queue_id, {"from": kind, "note": note})
                else:
                    detail = {"decision": decision, "categories": corrections or {},
                              "reason_code": reason_code, "lane": kind}
                    if kind == "appeal":
                        detail["reversed"] = row.decision != decision
                    self._log(conn, reviewer, "decide", queue_id, detail)
                return self._get(conn, queue_id)
        raise self._why_not_held(queue_id)

    def undo(self, queue_id, reviewer, window_s, lease_seconds):
        now = self.clock()
        with self.engine.begin() as conn:
            row = self._get(conn, queue_id)
            if row is None:
                raise NotFound(f"queue item {queue_id} does not exist")
            hist = [_row_to_decision(r) for r in conn.execute(
                select(decisions).where(decisions.c.queue_id == queue_id)
                .order_by(decisions.c.id))]
            last, before = undo_target(hist, reviewer, now, window_s)
            was = "escalated" if last.decision == "escalate" else "decided"
            values = {"status": "claimed", "lane": last.kind, "claimed_by": reviewer,
                          "lease_until": now + lease_seconds,
                          "decision": before.decision if before else None,
                          "decision_categories": before.categories if before else None,
                          "reason_code": before.reason_code if before else None,
                          "note": before.note if before else None,
                          "decided_by": before.reviewer if before else None,
                          "decided_at": before.at if before else None}
            if row.qa_status in ("pending", "claimed"):
                values.update(qa_status=None, qa_claimed_by=None, qa_lease_until=None)
            res = conn.execute(update(items).where(items.c.id == queue_id,
                                                   items.c.status == was).values(**values))
            if res.rowcount != 1:
                raise NotAllowed(f"queue item {queue_id} has moved on: too late to undo")
            conn.execute(update(decisions).where(decisions.c.id == last.id).values(undone=True))
            self._log(conn, reviewer, "undo", queue_id, {"undid": last.decision})
            return self._get(conn, queue_id)

    def appeal(self, queue_id, actor, reason):
        with self.engine.begin() as conn:
            res = conn.execute(update(items).where(
                items.c.id == queue_id, items.c.status == "decided").values(
                status="pending", lane="appeal", appeal_reason=reason, claimed_by=None,
                lease_until=None))
            if res.rowcount == 1:
                row = self._get(conn, queue_id)
                self._log(conn, actor, "appeal", queue_id, {"reason": reason, "was": row.decision})
                return row
        if self.get(queue_id) is None:
            raise NotFound(f"queue item {queue_id} does not exist")
        raise WrongState(f"queue item {queue_id} is not decided: nothing to appeal")

    def qa_claim_next(self, reviewer, lease_seconds):
        for _ in range(50):
            now = self.clock()
            open_qa = and_(items.c.status == "decided", items.c.decided_by != reviewer,
                           or_(items.c.qa_status == "pending",
                               and_(items.c.qa_status == "claimed",
                                    items.c.qa_lease_until < now)))
            with self.engine.begin() as conn:
                q = select(items.c.id).where(open_qa).order_by(items.c.priority.desc(),
                                                               items.c.id).limit(1)
                qid = conn.execute(q.with_for_update(skip_locked=True)).scalar()
                if qid is None:
                    return None
                res = conn.execute(update(items).where(items.c.id == qid, open_qa).values(
                    qa_status="claimed", qa_claimed_by=reviewer,
                    qa_lease_until=now + lease_seconds))
                if res.rowcount == 1:
                    self._log(conn, reviewer, "qa_claim", qid, {})
                    return self._get(conn, qid)
        return None

    def qa_decide(self, queue_id, reviewer, decision, corrections, reason_code, note):
        row = self.get(queue_id)
        if row is None:
            raise NotFound(f"queue item {queue_id} does not exist")
        if decision == "escalate":
            raise ValueError("decision: a QA re-review is 'violating' or 'benign'")
        check_decision(decision, corrections, row.categories, reason_code)
        with self.engine.begin() as conn:
            res = conn.execute(update(items).where(
                items.c.id == queue_id, items.c.qa_status == "claimed",
                items.c.qa_claimed_by == reviewer, items.c.qa_lease_until >= self.clock()
            ).values(qa_status="done", qa_lease_until=None))
            if res.rowcount == 1:
                self._record(conn, queue_id, "qa", reviewer, decision, corrections, reason_code,
                             note)
                self._log(conn, reviewer, "qa_decide", queue_id,
                          {"decision": decision, "reason_code": reason_code})
                return self._get(conn, queue_id)
        raise NotLeaseHolder(f"queue item {queue_id}: you do not hold its QA lease")

    def history(self, queue_id=None, since=None):
        q = select(decisions)
        if queue_id is not None:
            q = q.where(decisions.c.queue_id == queue_id)
        if since is not None:
            q = q.where(decisions.c.at >= since)
        with self.engine.connect() as conn:
            return [_row_to_decision(r) for r in conn.execute(q.order_by(decisions.c.id))]

    def decided_items(self):
        q = select(items).where(items.c.status == "decided").order_by(items.c.id)
        with self.engine.connect() as conn:
            return [_row_to_item(r) for r in conn.execute(q)]

    def open_items(self):
        q = select(items).where(items.c.status != "decided").order_by(items.c.id)
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

    # -- keys and sessions ---------------------------------------------------------------
    def _active_key(self):
        return and_(api_keys.c.revoked.is_(False),
                    or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > self.clock()))

    def add_key(self, name, role, key_hash, expires_at=None):
        try:
            with self.engine.begin() as conn:
                kid = conn.execute(insert(api_keys).values(
                    name=name, role=role, key_hash=key_hash, created_at=self.clock(),
                    revoked=False, expires_at=expires_at)).inserted_primary_key[0]
        except IntegrityError as e:
            raise ValueError(f"a key named {name!r} already exists") from e
        return KeyRecord(kid, name, role, key_hash, self.clock(), expires_at)

    def find_key(self, key_hash):
        q = select(api_keys).where(api_keys.c.key_hash == key_hash, self._active_key())
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        return _row_to_key(r) if r else None

    def list_keys(self, include_inactive=False):
        q = select(api_keys).order_by(api_keys.c.id)
        if not include_inactive:
            q = q.where(self._active_key())
        with self.engine.connect() as conn:
            return [_row_to_key(r) for r in conn.execute(q)]

    def revoke_key(self, name):
        with self.engine.begin() as conn:
            res = conn.execute(update(api_keys).where(api_keys.c.name == name,
                                                      api_keys.c.revoked.is_(False))
                               .values(revoked=True))
            return res.rowcount == 1

    def add_session(self, rec):
        with self.engine.begin() as conn:
            conn.execute(insert(sessions).values(**vars(rec)))

    def find_session(self, session_hash):
        q = select(sessions).where(sessions.c.session_hash == session_hash,
                                   sessions.c.revoked.is_(False),
                                   sessions.c.expires_at > self.clock())
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        if r is None:
            return None
        m = dict(r._mapping)
        m["revoked"] = bool(m["revoked"])
        return SessionRecord(**m)

    def revoke_session(self, session_hash):
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.session_hash == session_hash)
                         .values(revoked=True))

    def set_flash(self, session_hash, message):
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.session_hash == session_hash)
                         .values(flash=message))

    def pop_flash(self, session_hash):
        with self.engine.begin() as conn:
            msg = conn.execute(select(sessions.c.flash).where(
                sessions.c.session_hash == session_hash)).scalar()
            if msg is not None:
                conn.execute(update(sessions).where(sessions.c.session_hash == session_hash)
                             .values(flash=None))
            return msg

    def bump_exposure(self, session_hash):
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.session_hash == session_hash)
                         .values(exposure=sessions.c.exposure + 1))
            return conn.execute(select(sessions.c.exposure).where(
                sessions.c.session_hash == session_hash)).scalar() or 0
