"""Review-queue semantics on every store: in-memory, SQLite, and PostgreSQL when
VEGUARD_TEST_PG_URL is set (scripts/ci_services.sh prints it). Includes the concurrency test:
16 reviewer threads x 50 claims, no item claimed twice while leased, none decided twice,
none lost."""

from __future__ import annotations

import json
import os
import threading

import pytest

from veguard.service.export import decision_row, write_decisions
from veguard.service.sqlstore import SQLStore, metadata
from veguard.service.store import (
    AlreadyDecided,
    MemoryStore,
    NewItem,
    NotFound,
    NotLeaseHolder,
    priority,
)
from veguard.taxonomy import CATEGORIES

PG_URL = os.environ.get("VEGUARD_TEST_PG_URL")
needs_pg = pytest.mark.skipif(
    not PG_URL, reason="VEGUARD_TEST_PG_URL is unset (run `eval $(scripts/ci_services.sh)`)")


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _pg_store(clock) -> SQLStore:
    store = SQLStore(PG_URL, clock=clock, create=False)
    metadata.drop_all(store.engine)
    metadata.create_all(store.engine)
    return store


@pytest.fixture(params=["memory", "sqlite",
                        pytest.param("postgres", marks=[needs_pg, pytest.mark.postgres])])
def make_store(request, tmp_path):
    made = []

    def make(clock=None):
        clock = clock or Clock()
        if request.param == "memory":
            s = MemoryStore(clock=clock)
        elif request.param == "sqlite":
            s = SQLStore(f"sqlite:///{tmp_path}/q{len(made)}.db", clock=clock)
        else:
            s = _pg_store(clock)
        made.append(s)
        return s

    yield make
    for s in made:
        if hasattr(s, "close"):
            s.close()


def item(item_id: str, **scores) -> NewItem:
    sc = {c: scores.get(c, 0.02) for c in CATEGORIES}
    cats = {c: sc[c] >= 0.5 for c in CATEGORIES}
    action = "auto" if any(sc[c] >= 0.9 for c in ("extremism", "violence", "hate")) else "review"
    return NewItem(item_id=item_id, text=f"text of {item_id}", source="unit", model="fake",
                   scores=sc, categories=cats, action=action,
                   evidence={"start": 0, "end": 4, "text": "text", "category": "hate"},
                   author="<b>a</b>", context="ctx")


def test_priority_orders_threats_first_and_offensive_last():
    hate = priority({"extremism": 0.1, "violence": 0.1, "hate": 0.8, "offensive": 0.1}, "review")
    ext = priority({"extremism": 0.8, "violence": 0.1, "hate": 0.1, "offensive": 0.1}, "review")
    off = priority({"extremism": 0.1, "violence": 0.1, "hate": 0.1, "offensive": 0.99}, "review")
    threat = priority({"extremism": 0.1, "violence": 0.6, "hate": 0.1, "offensive": 0.1}, "review")
    auto = priority({"extremism": 0.1, "violence": 0.1, "hate": 0.6, "offensive": 0.1}, "auto")
    assert ext > hate > off
    assert threat > ext and auto > ext  # the boost beats any severity x confidence


def test_enqueue_is_idempotent_and_ordered_by_priority(make_store):
    s = make_store()
    low, new = s.enqueue(item("low", hate=0.6), "c")
    assert new and low.status == "pending" and low.author == "<b>a</b>"
    s.enqueue(item("high", extremism=0.8), "c")
    again, created = s.enqueue(item("low", extremism=0.99), "c")
    assert not created and again.id == low.id and again.scores["hate"] == 0.6
    assert [i.item_id for i in s.list_items()] == ["high", "low"]
    assert [i.item_id for i in s.list_items(category="hate")] == ["low"]
    assert s.list_items(source="elsewhere") == []
    assert s.depth() == {"pending": 2, "claimed": 0, "decided": 0}
    assert [a.action for a in s.audit_log(low.id)] == ["enqueue"]


def test_claim_lease_release_decide_lifecycle(make_store):
    clock = Clock()
    s = make_store(clock)
    a, _ = s.enqueue(item("a", violence=0.7), "c")
    b, _ = s.enqueue(item("b", hate=0.6), "c")
    got = s.claim_next("alice", 60)
    assert got.id == a.id and got.claimed_by == "alice" and got.status == "claimed"
    assert s.claim_next("bob", 60).id == b.id
    assert s.claim_next("carol", 60) is None  # both leased
    with pytest.raises(NotLeaseHolder):
        s.decide(a.id, "bob", "benign", None, None)
    with pytest.raises(NotLeaseHolder):
        s.claim(a.id, "bob", 60)
    with pytest.raises(NotLeaseHolder):
        s.release(a.id, "bob")
    clock.t += 61  # alice's lease runs out: the item is claimable again, alice can't decide
    assert s.list_items(status="pending")[0].id == a.id
    with pytest.raises(NotLeaseHolder):
        s.decide(a.id, "alice", "benign", None, None)
    assert s.claim_next("carol", 60).id == a.id
    s.release(a.id, "carol")
    assert s.get(a.id).status == "pending"
    s.claim(a.id, "dave", 60)
    done = s.decide(a.id, "dave", "violating", {"hate": True}, "<script>x</script>")
    assert done.status == "decided" and done.decision_categories == {"hate": True}
    assert done.note == "<script>x</script>" and done.decided_by == "dave"
    with pytest.raises(AlreadyDecided):
        s.decide(a.id, "dave", "benign", None, None)
    with pytest.raises(AlreadyDecided):
        s.claim(a.id, "dave", 60)
    with pytest.raises(NotFound):
        s.claim(999, "dave", 60)
    with pytest.raises(NotFound):
        s.decide(999, "dave", "benign", None, None)
    actions = [e.action for e in s.audit_log(a.id)]
    assert actions == ["enqueue", "claim", "claim", "release", "claim", "decide"]
    assert [e.actor for e in s.audit_log(a.id)][1:] == ["alice", "carol", "carol", "dave", "dave"]


def test_decision_validation(make_store):
    s = make_store()
    a, _ = s.enqueue(item("a", offensive=0.9), "c")  # offensive only: not a flagging category
    s.claim(a.id, "r", 60)
    with pytest.raises(ValueError, match="decision"):
        s.decide(a.id, "r", "maybe", None, None)
    with pytest.raises(ValueError, match="categories.bogus"):
        s.decide(a.id, "r", "benign", {"bogus": True}, None)
    with pytest.raises(ValueError, match="violating"):
        s.decide(a.id, "r", "violating", None, None)
    assert s.decide(a.id, "r", "violating", {"violence": True}, None).status == "decided"


def test_claim_filters(make_store):
    s = make_store()
    s.enqueue(item("e", extremism=0.8), "c")
    h, _ = s.enqueue(item("h", hate=0.6), "c")
    assert s.claim_next("r", 60, category="hate").id == h.id
    assert s.claim_next("r", 60, category="hate") is None
    assert s.claim_next("r", 60, source="nowhere") is None


def test_keys_store_hash_only(make_store):
    s = make_store()
    rec = s.add_key("alice", "reviewer", "ab" * 32)
    assert s.find_key("ab" * 32).name == "alice" and s.find_key("cd" * 32) is None
    with pytest.raises(ValueError, match="alice"):
        s.add_key("alice", "admin", "ef" * 32)
    assert [k.name for k in s.list_keys()] == ["alice"] and rec.role == "reviewer"


def test_export_rows_follow_the_corpus_schema(make_store, tmp_path):
    s = make_store()
    ids = {}
    for name, scores in [("v", {"extremism": 0.8}), ("b", {"hate": 0.7}), ("c", {"violence": 0.6}),
                         ("e", {"hate": 0.6}), ("p", {"hate": 0.6})]:
        ids[name] = s.enqueue(item(name, **scores), "c")[0].id
    for name, decision, corr in [("v", "violating", None), ("b", "benign", None),
                                 ("c", "violating", {"hate": True, "violence": False}),
                                 ("e", "escalate", None)]:
        s.claim(ids[name], "r", 60)
        s.decide(ids[name], "r", decision, corr, None)
    out = tmp_path / "decisions.jsonl"
    assert write_decisions(s, out, "admin") == 3
    rows = {r["group"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"v", "b", "c"}  # escalate has no label; pending is not decided
    assert rows["v"] == {"id": "review_queue:v", "text": "text of v", "extremism": 1, "violence": 0,
                         "hate": 0, "offensive": 0, "context": "review", "source": "review_queue",
                         "group": "v"}
    assert [rows["b"][c] for c in CATEGORIES] == [0, 0, 0, 0]
    assert [rows["c"][c] for c in CATEGORIES] == [0, 0, 1, 0]
    assert s.audit_log()[-1].action == "export" and s.audit_log()[-1].detail == {"rows": 3}
    assert decision_row(s.get(ids["p"])) is None


def test_enqueue_race_creates_one_item(make_store):
    s = make_store()
    results, barrier = [], threading.Barrier(8)

    def go(i):
        barrier.wait()
        results.append(s.enqueue(item("same", hate=0.6 + i / 100), f"c{i}"))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sum(created for _, created in results) == 1
    assert len({it.id for it, _ in results}) == 1
    assert s.depth()["pending"] == 1


@pytest.mark.parametrize("n_items", [300])
def test_concurrent_reviewers_never_share_or_lose_an_item(make_store, n_items):
    s = make_store(clock=__import__("time").time)
    for i in range(n_items):
        s.enqueue(item(f"i{i}", hate=0.5 + (i % 50) / 100), "c")
    lock = threading.Lock()
    holder: dict[int, str] = {}
    claims: list[int] = []
    decided: list[int] = []
    errors: list[str] = []

    def reviewer(name: str):
        for n in range(50):
            try:
                got = s.claim_next(name, 300)
                if got is None:
                    return
                with lock:
                    claims.append(got.id)
                    if got.id in holder:
                        errors.append(f"{got.id} claimed by {name} while {holder[got.id]} holds it")
                    holder[got.id] = name
                if n % 7 == 3:  # give some back, so re-claims are exercised too
                    with lock:
                        del holder[got.id]
                    s.release(got.id, name)
                    continue
                s.decide(got.id, name, "benign", None, None)
                with lock:
                    decided.append(got.id)
                    del holder[got.id]
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append(f"{name}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=reviewer, args=(f"r{k}",)) for k in range(16)]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert not errors, errors[:5]
    assert len(decided) == len(set(decided))  # none decided twice
    assert len(claims) == 16 * 50 or len(decided) == n_items
    depth = s.depth()
    assert depth["claimed"] == 0 and depth["pending"] + depth["decided"] == n_items  # none lost
    assert depth["decided"] == len(decided)
    assert len(s.decided_items()) == len(decided)
