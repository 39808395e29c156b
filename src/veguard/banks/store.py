"""Banks of known content in the queue's database: banks, entries, proposals and their audit log.

Same URL conventions and engine as the review queue (`veguard.service.sqlstore.make_engine`:
SQLite with WAL by default, PostgreSQL in production); the tables are the queue's neighbours
(`banks`, `bank_entries`, `bank_proposals`, `bank_audit`), created if missing.

An entry holds the SHA-256 of the normalised text, its passage signatures (signature.py),
labels, source, who added it and when, a note, and a status (`active` or `quarantined`). The
text itself is stored only when the bank was created with `store_text`; the optional TLSH
digest is kept for exchange with threatexchange (interchange.py). A bank holds each exact
hash once: adding it again is reported as a duplicate, not stored twice.

What it leaves out: matching (index.py, matcher.py) and file formats (interchange.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from veguard.banks import signature as sg
from veguard.taxonomy import BANK_KINDS, BEHAVIOURS, ENTITIES

# What a match in a bank of each kind does to a result's action (matcher.apply).
BANK_ACTIONS: dict[str, tuple[str, ...]] = {
    "violating": ("review", "auto"),       # at least review (default) / at least auto
    "benign": ("show", "review", "none"),  # only show (default) / at most review / at most none
}
ENTRY_STATUSES: tuple[str, ...] = ("active", "quarantined")
DEFAULT_THRESHOLD = 0.4

metadata = MetaData()

banks = Table(
    "banks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("action", String(20), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("store_text", Boolean, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
)

entries = Table(
    "bank_entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bank_id", Integer, ForeignKey("banks.id", ondelete="CASCADE"), nullable=False,
           index=True),
    # NULL only for an entry imported as a bare TLSH digest (interchange.py).
    Column("sha256", String(64), index=True),
    # NUM_PERM little-endian uint32 per passage, passages concatenated.
    Column("signature", LargeBinary, nullable=False),
    Column("entity", String(60)),
    Column("behaviour", String(60)),
    Column("source", String(200)),
    Column("note", Text),
    Column("text", Text),
    Column("tlsh", String(80)),
    Column("status", String(20), nullable=False),
    Column("added_by", String(200), nullable=False),
    Column("added_at", Float, nullable=False),
    UniqueConstraint("bank_id", "sha256", name="uq_bank_entry_hash"),
)

proposals = Table(
    "bank_proposals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bank_id", Integer, ForeignKey("banks.id", ondelete="CASCADE"), nullable=False),
    Column("entry", JSON, nullable=False),  # a NewEntry, as its interchange dict
    Column("queue_id", Integer),
    Column("status", String(20), nullable=False),  # pending / approved / rejected
    Column("proposed_by", String(200), nullable=False),
    Column("proposed_at", Float, nullable=False),
    Column("decided_by", String(200)),
)

audit = Table(
    "bank_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("bank", String(100), nullable=False),
    Column("entry_id", Integer),
    Column("detail", JSON, nullable=False),
)


class BankError(ValueError):
    """An expected failure; `status` is the HTTP status the service answers with."""

    status = 422


class BankNotFound(BankError):
    status = 404


class BankConflict(BankError):
    status = 409


def check_label(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise BankError(f"{name}: unknown value {value!r}; expected one of {', '.join(allowed)}")
    return value


@dataclass
class Bank:
    id: int
    name: str
    kind: str
    action: str
    threshold: float
    store_text: bool
    created_by: str = ""
    created_at: float = 0.0


@dataclass
class NewEntry:
    """What is stored about one text. Build it with `from_text` (or from an interchange row)."""

    sha256: str | None
    signatures: np.ndarray  # (passages, NUM_PERM) uint32; zero passages for hash-only entries
    entity: str | None = None
    behaviour: str | None = None
    source: str | None = None
    note: str | None = None
    text: str | None = None
    tlsh: str | None = None

    def __post_init__(self) -> None:
        self.entity = check_label(self.entity, ENTITIES, "entity")
        self.behaviour = check_label(self.behaviour, BEHAVIOURS, "behaviour")
        if self.sha256 is None:
            if not self.tlsh:
                raise BankError("sha256: required (only a TLSH-only entry may lack it)")
        else:
            h = str(self.sha256).lower()
            if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
                raise BankError("sha256: expected 64 hex digits")
            self.sha256 = h
        self.signatures = np.asarray(self.signatures, np.uint32).reshape(-1, sg.NUM_PERM)

    @classmethod
    def from_text(cls, text: str, **labels) -> NewEntry:
        if not text.strip():
            raise BankError("text: empty")
        digest, ps = sg.entry_passages(text)
        # Too few words for near-duplicate matching to mean anything: exact only.
        if sum(p.n_tokens for p in ps[:1]) >= sg.MIN_TOKENS:
            sigs = np.stack([p.signature for p in ps])
        else:
            sigs = np.zeros((0, sg.NUM_PERM), np.uint32)
        labels.setdefault("tlsh", sg.tlsh_digest(text))
        return cls(sha256=digest, signatures=sigs, text=text, **labels)


@dataclass
class Entry(NewEntry):
    id: int = 0
    bank: str = ""
    status: str = "active"
    added_by: str = ""
    added_at: float = 0.0
    extra: dict = field(default_factory=dict)


def _pack_sigs(sigs: np.ndarray) -> bytes:
    return np.ascontiguousarray(sigs, dtype="<u4").tobytes()


def _unpack_sigs(raw: bytes) -> np.ndarray:
    if len(raw) % (4 * sg.NUM_PERM):
        raise BankError(f"stored signature of {len(raw)} bytes is not whole passages")
    return np.frombuffer(raw, dtype="<u4").reshape(-1, sg.NUM_PERM).astype(np.uint32)


def _bank(r) -> Bank:
    m = r._mapping
    return Bank(m["id"], m["name"], m["kind"], m["action"], m["threshold"], m["store_text"],
                m["created_by"], m["created_at"])


class BankStore:
    """Banks on a SQLAlchemy URL. Every change appends to `bank_audit` in the same transaction."""

    def __init__(self, url: str, clock: Callable[[], float] = time.time, create: bool = True):
        from veguard.service.sqlstore import make_engine

        self.url = url
        self.clock = clock
        self.engine = make_engine(url)
        if create:
            metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def _log(self, conn, actor: str, action: str, bank: str, entry_id: int | None,
             detail: dict) -> None:
        conn.execute(insert(audit).values(at=self.clock(), actor=actor, action=action, bank=bank,
                                          entry_id=entry_id, detail=detail))

    # -- banks ----------------------------------------------------------------------------
    def create_bank(self, name: str, kind: str, actor: str, *, action: str | None = None,
                    threshold: float = DEFAULT_THRESHOLD, store_text: bool = False) -> Bank:
        if not name or len(name) > 100 or not all(
                c.isascii() and (c.isalnum() or c in "-_.") for c in name):
            raise BankError(f"name: {name!r} must be 1-100 letters, digits, '-', '_' or '.'")
        if kind not in BANK_KINDS:
            raise BankError(f"kind: expected one of {', '.join(BANK_KINDS)}, got {kind!r}")
        action = action or BANK_ACTIONS[kind][0]
        if action not in BANK_ACTIONS[kind]:
            raise BankError(f"action: a {kind} bank takes one of "
                            f"{', '.join(BANK_ACTIONS[kind])}, got {action!r}")
        if not 0.0 < threshold <= 1.0:
            raise BankError(f"threshold: must be in (0, 1], got {threshold}")
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(banks).values(
                    name=name, kind=kind, action=action, threshold=threshold,
                    store_text=store_text, created_by=actor, created_at=self.clock()))
                self._log(conn, actor, "bank_create", name, None,
                          {"kind": kind, "action": action, "threshold": threshold,
                           "store_text": store_text})
        except IntegrityError:
            raise BankConflict(f"bank {name!r} already exists") from None
        return self.get_bank(name)

    def get_bank(self, name: str) -> Bank:
        with self.engine.connect() as conn:
            r = conn.execute(select(banks).where(banks.c.name == name)).first()
        if r is None:
            raise BankNotFound(f"bank {name!r} does not exist")
        return _bank(r)

    def list_banks(self) -> list[tuple[Bank, int]]:
        q = (select(banks, func.count(entries.c.id).label("n"))
             .select_from(banks.outerjoin(entries, entries.c.bank_id == banks.c.id))
             .group_by(*banks.c).order_by(banks.c.name))
        with self.engine.connect() as conn:
            return [(_bank(r), int(r.n)) for r in conn.execute(q)]

    def remove_bank(self, name: str, actor: str) -> int:
        bank = self.get_bank(name)
        with self.engine.begin() as conn:
            n = conn.execute(delete(entries).where(entries.c.bank_id == bank.id)).rowcount
            conn.execute(delete(proposals).where(proposals.c.bank_id == bank.id))
            conn.execute(delete(banks).where(banks.c.id == bank.id))
            self._log(conn, actor, "bank_remove", name, None, {"entries": n})
        return n

    # -- entries --------------------------------------------------------------------------
    def add_entries(self, name: str, new: list[NewEntry], actor: str,
                    how: str = "add") -> list[tuple[int, bool]]:
        """Store entries; (entry id, created) per entry, in order. An existing hash is
        (its id, False). The text is dropped unless the bank stores text."""
        bank = self.get_bank(name)
        out = []
        with self.engine.begin() as conn:
            have = {}
            hashes = [e.sha256 for e in new if e.sha256 is not None]
            for i in range(0, len(hashes), 500):
                q = select(entries.c.sha256, entries.c.id).where(
                    entries.c.bank_id == bank.id, entries.c.sha256.in_(hashes[i : i + 500]))
                have.update(dict(conn.execute(q).all()))
            rows, created, seen = [], set(), set()
            for e in new:
                key = self._key(e)
                if key not in have and e.sha256 is None:
                    # A bare TLSH digest duplicates any entry with that digest, including
                    # one inserted earlier in this call (same transaction: visible).
                    found = conn.execute(select(entries.c.id).where(
                        entries.c.bank_id == bank.id, entries.c.tlsh == e.tlsh)).scalar()
                    if found is not None:
                        have[key] = found
                if key not in have:
                    row = {"bank_id": bank.id, "sha256": e.sha256,
                           "signature": _pack_sigs(e.signatures), "entity": e.entity,
                           "behaviour": e.behaviour, "source": e.source, "note": e.note,
                           "text": e.text if bank.store_text else None, "tlsh": e.tlsh,
                           "status": "active", "added_by": actor, "added_at": self.clock()}
                    row["id"] = conn.execute(insert(entries).values(**row)).inserted_primary_key[0]
                    rows.append(row)
                    have[key] = row["id"]
                    created.add(key)
                out.append((int(have[key]), key in created and key not in seen))
                seen.add(key)
            if rows:
                self._log(conn, actor, f"entries_{how}", name, rows[0]["id"] if len(rows) == 1
                          else None, {"added": len(rows), "duplicates": len(new) - len(rows),
                                      "first_id": rows[0]["id"], "last_id": rows[-1]["id"]})
        return out

    @staticmethod
    def _key(e: NewEntry) -> str:
        return e.sha256 or "tlsh:" + str(e.tlsh)

    def get_entry(self, entry_id: int) -> Entry:
        q = select(entries, banks.c.name.label("bank_name")).join(
            banks, banks.c.id == entries.c.bank_id).where(entries.c.id == entry_id)
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        if r is None:
            raise BankNotFound(f"entry {entry_id} does not exist")
        return self._entry(r)

    @staticmethod
    def _entry(r) -> Entry:
        m = r._mapping
        return Entry(sha256=m["sha256"], signatures=_unpack_sigs(m["signature"]),
                     entity=m["entity"], behaviour=m["behaviour"], source=m["source"],
                     note=m["note"], text=m["text"], tlsh=m["tlsh"], id=m["id"],
                     bank=m["bank_name"], status=m["status"], added_by=m["added_by"],
                     added_at=m["added_at"])

    def iter_entries(self, name: str | None = None, batch: int = 5000) -> Iterator[Entry]:
        """Entries in id order (all banks, or one), read in batches: memory stays flat."""
        if name is not None:
            self.get_bank(name)
        last = 0
        while True:
            q = select(entries, banks.c.name.label("bank_name")).join(
                banks, banks.c.id == entries.c.bank_id).where(entries.c.id > last)
            if name is not None:
                q = q.where(banks.c.name == name)
            with self.engine.connect() as conn:
                rows = conn.execute(q.order_by(entries.c.id).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                yield self._entry(r)
            last = rows[-1].id

    def remove_entry(self, entry_id: int, actor: str) -> Entry:
        e = self.get_entry(entry_id)
        with self.engine.begin() as conn:
            conn.execute(delete(entries).where(entries.c.id == entry_id))
            self._log(conn, actor, "entry_remove", e.bank, entry_id, {"sha256": e.sha256})
        return e

    def set_status(self, entry_id: int, status: str, actor: str, detail: dict) -> None:
        if status not in ENTRY_STATUSES:
            raise BankError(f"status: expected one of {', '.join(ENTRY_STATUSES)}")
        e = self.get_entry(entry_id)
        with self.engine.begin() as conn:
            conn.execute(update(entries).where(entries.c.id == entry_id).values(status=status))
            self._log(conn, actor, f"entry_{status}", e.bank, entry_id, detail)

    # -- proposals (a reviewer proposes, an admin approves) -------------------------------
    def propose(self, name: str, entry: dict, actor: str, queue_id: int | None) -> int:
        bank = self.get_bank(name)
        with self.engine.begin() as conn:
            pid = conn.execute(insert(proposals).values(
                bank_id=bank.id, entry=entry, queue_id=queue_id, status="pending",
                proposed_by=actor, proposed_at=self.clock())).inserted_primary_key[0]
            self._log(conn, actor, "proposal_create", name, None,
                      {"proposal": pid, "queue_id": queue_id, "sha256": entry.get("sha256")})
        return int(pid)

    def pending_proposals(self, name: str) -> list[dict]:
        bank = self.get_bank(name)
        q = select(proposals).where(proposals.c.bank_id == bank.id,
                                    proposals.c.status == "pending").order_by(proposals.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def decide_proposal(self, proposal_id: int, approve: bool, actor: str) -> dict:
        with self.engine.begin() as conn:
            r = conn.execute(select(proposals, banks.c.name.label("bank_name")).join(
                banks, banks.c.id == proposals.c.bank_id).where(
                proposals.c.id == proposal_id)).first()
            if r is None:
                raise BankNotFound(f"proposal {proposal_id} does not exist")
            if r.status != "pending":
                raise BankConflict(f"proposal {proposal_id} is already {r.status}")
            status = "approved" if approve else "rejected"
            conn.execute(update(proposals).where(proposals.c.id == proposal_id).values(
                status=status, decided_by=actor))
            self._log(conn, actor, f"proposal_{status}", r.bank_name, None,
                      {"proposal": proposal_id})
            return {**dict(r._mapping), "status": status}

    # -- audit ----------------------------------------------------------------------------
    def audit(self, actor: str, action: str, bank: str, detail: dict,
              entry_id: int | None = None) -> None:
        with self.engine.begin() as conn:
            self._log(conn, actor, action, bank, entry_id, detail)

    def audit_log(self, name: str | None = None, limit: int = 200) -> list[dict]:
        q = select(audit)
        if name is not None:
            q = q.where(audit.c.bank == name)
        q = q.order_by(audit.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)][::-1]
