"""Review-queue semantics on every store: in-memory, SQLite, and PostgreSQL when
VEGUARD_TEST_PG_URL is set (scripts/ci_services.sh prints it). Includes the concurrency test:
16 reviewer threads x 50 claims, no item claimed twice while leased, none decided twice,
none lost."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from veguard.service.export import decision_row, write_decisions
from veguard.service.sqlstore import SQLStore, make_engine, metadata
from veguard.service.store import (
    AlreadyDecided,
    MemoryStore,
    NewItem,
    NotAllowed,
    NotFound,
    NotLeaseHolder,
    SessionRecord,
    WrongState,
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
    # known content (a violating-bank match) goes ahead of unmatched items of the same or a
    # somewhat higher score, and behind imminent threats
    low = {"extremism": 0.2, "violence": 0.1, "hate": 0.1, "offensive": 0.1}
    known = priority(low, "review", known_content=True)
    assert known > priority({**low, "extremism": 0.6}, "review") > priority(low, "review")
    assert known < threat


def test_enqueue_is_idempotent_and_ordered_by_priority(make_store):
    s = make_store()
    low, new = s.enqueue(item("low", hate=0.6), "c")
    assert new and low.status == "pending" and low.author == "<b>a</b>"
    s.enqueue(item("high", extremism=0.8), "c")
    again, created = s.enqueue(item("low", extremism=0.99), "c")  # same text: the same item
    assert not created and again.id == low.id and again.scores["hate"] == 0.6
    assert [i.item_id for i in s.list_items()] == ["high", "low"]
    assert [i.item_id for i in s.list_items(category="hate")] == ["low"]
    assert s.list_items(source="elsewhere") == []
    assert s.depth() == {"pending": 2, "claimed": 0, "escalated": 0, "decided": 0}
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
        s.decide(a.id, "bob", "benign", None, None, "NOT-OTHER")
    with pytest.raises(NotLeaseHolder):
        s.claim(a.id, "bob", 60)
    with pytest.raises(NotLeaseHolder):
        s.release(a.id, "bob")
    clock.t += 61  # alice's lease runs out: the item is claimable again, alice can't decide
    assert s.list_items(status="pending")[0].id == a.id
    with pytest.raises(NotLeaseHolder):
        s.decide(a.id, "alice", "benign", None, None, "NOT-OTHER")
    assert s.claim_next("carol", 60).id == a.id
    s.release(a.id, "carol")
    assert s.get(a.id).status == "pending"
    s.claim(a.id, "dave", 60)
    done = s.decide(a.id, "dave", "violating", {"hate": True}, "<script>x</script>", "HATE-SLUR")
    assert done.status == "decided" and done.decision_categories == {"hate": True}
    assert done.note == "<script>x</script>" and done.decided_by == "dave"
    with pytest.raises(AlreadyDecided):
        s.decide(a.id, "dave", "benign", None, None, "NOT-OTHER")
    with pytest.raises(AlreadyDecided):
        s.claim(a.id, "dave", 60)
    with pytest.raises(NotFound):
        s.claim(999, "dave", 60)
    with pytest.raises(NotFound):
        s.decide(999, "dave", "benign", None, None, "NOT-OTHER")
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
        s.decide(a.id, "r", "benign", {"bogus": True}, None, "NOT-OTHER")
    with pytest.raises(ValueError, match="violating"):
        s.decide(a.id, "r", "violating", None, None, "VIO-THREAT")
    with pytest.raises(ValueError, match="reason_code: required"):
        s.decide(a.id, "r", "violating", {"violence": True}, None)
    with pytest.raises(ValueError, match="reason_code: 'NOT-NEWS' is not a 'violating'"):
        s.decide(a.id, "r", "violating", {"violence": True}, None, "NOT-NEWS")
    done = s.decide(a.id, "r", "violating", {"violence": True}, None, "VIO-THREAT")
    assert done.status == "decided"


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
    for name, decision, corr, code in [("v", "violating", None, "EXT-SUPPORT"),
                                       ("b", "benign", None, "NOT-NEWS"),
                                       ("c", "violating", {"hate": True, "violence": False},
                                        "HATE-DEHUM"),
                                       ("e", "escalate", None, None)]:
        s.claim(ids[name], "r", 60)
        s.decide(ids[name], "r", decision, corr, None, code)
    out = tmp_path / "decisions.jsonl"
    assert write_decisions(s, out, "admin") == 3
    rows = {r["group"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"v", "b", "c"}  # escalate has no label; pending is not decided
    assert rows["v"] == {"id": "review_queue:v", "text": "text of v", "extremism": 1, "violence": 0,
                         "hate": 0, "offensive": 0, "context": "review", "source": "review_queue",
                         "group": "v"}
    assert [rows["b"][c] for c in CATEGORIES] == [0, 0, 0, 0]
    assert [rows["c"][c] for c in CATEGORIES] == [0, 0, 1, 0]
    assert s.audit_log()[-1].action == "export" and s.audit_log()[-1].detail["rows"] == 3
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
                s.decide(got.id, name, "benign", None, None, "NOT-OTHER")
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


# ---- queue v2 (issue #13) ----------------------------------------------------------------
def test_changed_text_is_a_new_linked_version_and_ids_are_per_client(make_store):
    s = make_store()
    a = item("p1", hate=0.6)
    first, _ = s.enqueue(a, "c")
    s.claim(first.id, "r", 60)
    s.decide(first.id, "r", "benign", None, None, "NOT-OTHER")
    edited, created = s.enqueue(NewItem(**{**vars(a), "text": "edited text"}), "c")
    assert created and edited.id != first.id and edited.text == "edited text"
    assert edited.version == 2 and edited.previous_id == first.id and edited.status == "pending"
    assert s.get(first.id).text == "text of p1"  # the decided version keeps its text
    assert s.audit_log(edited.id)[0].detail["previous_id"] == first.id
    again, created = s.enqueue(NewItem(**{**vars(a), "text": "edited text"}), "c")
    assert not created and again.id == edited.id
    other, created = s.enqueue(NewItem(**{**vars(a), "client": "other-client"}), "c2")
    assert created and other.version == 1 and other.id not in (first.id, edited.id)
    assert [i.id for i in s.list_items(item_id="p1")] == sorted([first.id, edited.id, other.id])


def test_escalation_goes_to_seniors_and_is_decided_for_good(make_store):
    s = make_store()
    a, _ = s.enqueue(item("a", extremism=0.8), "c")
    s.claim(a.id, "junior", 60)
    esc = s.decide(a.id, "junior", "escalate", None, "not sure", None)
    assert esc.status == "escalated" and esc.lane == "escalation" and esc.decision is None
    assert [i.id for i in s.list_items(status="escalated")] == [a.id]
    assert s.depth()["escalated"] == 1 and s.depth()["decided"] == 0
    assert s.claim_next("junior2", 60) is None  # not in the ordinary queue
    with pytest.raises(NotAllowed):
        s.claim(a.id, "junior2", 60)
    got = s.claim_next("senior", 60, escalated=True)
    assert got.id == a.id and got.status == "claimed" and got.lane == "escalation"
    with pytest.raises(ValueError, match="for good"):
        s.decide(a.id, "senior", "escalate", None, None)
    s.release(a.id, "senior")
    assert s.get(a.id).status == "escalated"  # back to the escalation queue, not pending
    s.claim(a.id, "senior", 60, senior=True)
    done = s.decide(a.id, "senior", "violating", None, None, "EXT-SUPPORT")
    assert done.status == "decided" and done.decided_by == "senior"
    assert [d.decision for d in s.history(a.id)] == ["escalate", "violating"]
    assert decision_row(s.get(a.id))["extremism"] == 1  # exported with the senior's decision


def test_escalated_lease_expiry_returns_to_escalation(make_store):
    clock = Clock()
    s = make_store(clock)
    a, _ = s.enqueue(item("a", hate=0.6), "c")
    s.claim(a.id, "r", 60)
    s.decide(a.id, "r", "escalate", None, None)
    s.claim_next("senior", 60, escalated=True)
    clock.t += 61
    assert s.get(a.id).effective_status(clock()) == "escalated"
    assert [i.id for i in s.list_items(status="escalated")] == [a.id]
    assert s.list_items(status="pending") == []


def test_contradictory_decisions_name_the_field(make_store):
    s = make_store()
    a, _ = s.enqueue(item("a", hate=0.7), "c")
    s.claim(a.id, "r", 60)
    with pytest.raises(ValueError, match=r"^categories\.hate: a 'benign' decision cannot set"):
        s.decide(a.id, "r", "benign", {"hate": True}, None, "NOT-OTHER")
    with pytest.raises(ValueError, match="turn off every predicted one \\(hate\\)"):
        s.decide(a.id, "r", "violating", {"hate": False}, None, "HATE-SLUR")
    ok = s.decide(a.id, "r", "benign", {"hate": False}, None, "NOT-COUNTERSPEECH")
    assert ok.status == "decided" and ok.reason_code == "NOT-COUNTERSPEECH"


def test_appeal_reopens_for_another_reviewer_and_export_has_the_final(make_store):
    s = make_store()
    a, _ = s.enqueue(item("a", hate=0.7), "c")
    s.claim(a.id, "alice", 60)
    s.decide(a.id, "alice", "violating", None, None, "HATE-DEHUM")
    assert decision_row(s.get(a.id))["hate"] == 1
    with pytest.raises(WrongState):
        s.appeal(s.enqueue(item("b", hate=0.6), "c")[0].id, "client", "x")
    ap = s.appeal(a.id, "client", "it was satire")
    assert ap.status == "pending" and ap.lane == "appeal" and ap.appeal_reason == "it was satire"
    assert decision_row(s.get(a.id)) is None  # under appeal: not exported
    assert s.claim_next("alice", 60).item_id == "b"  # alice may not take her own appeal
    with pytest.raises(NotAllowed):
        s.claim(a.id, "alice", 60)
    s.claim(a.id, "bob", 60)
    final = s.decide(a.id, "bob", "benign", None, "satire", "NOT-OTHER")
    assert final.decision == "benign" and final.decided_by == "bob"
    assert [(d.kind, d.reviewer, d.decision) for d in s.history(a.id)] == [
        ("review", "alice", "violating"), ("appeal", "bob", "benign")]
    assert s.audit_log(a.id)[-1].detail["reversed"] is True
    assert decision_row(s.get(a.id))["hate"] == 0


def test_undo_within_the_window_restores_the_claim(make_store):
    clock = Clock()
    s = make_store(clock)
    a, _ = s.enqueue(item("a", hate=0.7), "c")
    s.claim(a.id, "r", 60)
    s.decide(a.id, "r", "violating", None, None, "HATE-SLUR", qa=True)
    with pytest.raises(NotAllowed):
        s.undo(a.id, "someone-else", 10, 60)
    clock.t += 5
    back = s.undo(a.id, "r", 10, 60)
    assert back.status == "claimed" and back.claimed_by == "r" and back.decision is None
    assert back.qa_status is None and s.history(a.id)[0].undone
    s.decide(a.id, "r", "benign", None, None, "NOT-OTHER")
    clock.t += 11
    with pytest.raises(NotAllowed, match="window"):
        s.undo(a.id, "r", 10, 60)
    assert s.get(a.id).decision == "benign"


def test_qa_rereview_is_blind_to_the_first_reviewer_and_recorded(make_store):
    s = make_store()
    a, _ = s.enqueue(item("a", hate=0.7), "c")
    b, _ = s.enqueue(item("b", hate=0.6), "c")
    for x, qa in ((a, True), (b, False)):
        s.claim(x.id, "alice", 60)
        s.decide(x.id, "alice", "violating", None, None, "HATE-SLUR", qa=qa)
    assert s.get(a.id).qa_status == "pending" and s.get(b.id).qa_status is None
    assert s.qa_claim_next("alice", 60) is None  # never your own decision
    got = s.qa_claim_next("bob", 60)
    assert got.id == a.id and s.qa_claim_next("carol", 60) is None
    with pytest.raises(NotLeaseHolder):
        s.qa_decide(a.id, "carol", "benign", None, "NOT-OTHER", None)
    s.qa_decide(a.id, "bob", "benign", None, "NOT-OTHER", None)
    assert s.get(a.id).qa_status == "done" and s.get(a.id).decision == "violating"  # unchanged
    assert [d.kind for d in s.history(a.id)] == ["review", "qa"]


def test_search_by_text_author_source_and_id(make_store):
    s = make_store()
    s.enqueue(item("a", hate=0.7), "c")
    s.enqueue(NewItem(**{**vars(item("b", hate=0.6)), "text": "100% Campaign_X text",
                         "author": "bob", "source": "forum"}), "c")
    assert [i.item_id for i in s.list_items(q="campaign_x")] == ["b"]
    assert [i.item_id for i in s.list_items(q="100%")] == ["b"]
    assert s.list_items(q="0%c") == []  # LIKE wildcards are literal
    assert [i.item_id for i in s.list_items(author="bob")] == ["b"]
    assert [i.item_id for i in s.list_items(source="forum")] == ["b"]
    assert [i.item_id for i in s.list_items(item_id="a")] == ["a"]


def test_keys_expire_and_revoke_and_sessions_end(make_store):
    clock = Clock()
    s = make_store(clock)
    s.add_key("temp", "reviewer", "aa" * 32, expires_at=clock.t + 100)
    s.add_key("perm", "reviewer", "bb" * 32)
    assert s.find_key("aa" * 32).name == "temp"
    clock.t += 101
    assert s.find_key("aa" * 32) is None
    assert [k.name for k in s.list_keys()] == ["perm"]
    assert s.revoke_key("perm") and not s.revoke_key("perm")
    assert s.find_key("bb" * 32) is None
    assert {k.name for k in s.list_keys(include_inactive=True)} == {"temp", "perm"}
    s.add_session(SessionRecord("cc" * 32, "perm", "reviewer", "bb" * 32, clock.t, clock.t + 50))
    assert s.find_session("cc" * 32).key_name == "perm"
    s.set_flash("cc" * 32, "hello")
    assert s.pop_flash("cc" * 32) == "hello" and s.pop_flash("cc" * 32) is None
    assert s.bump_exposure("cc" * 32) == 1 and s.bump_exposure("cc" * 32) == 2
    s.revoke_session("cc" * 32)
    assert s.find_session("cc" * 32) is None
    s.add_session(SessionRecord("dd" * 32, "perm", "reviewer", "bb" * 32, clock.t, clock.t + 50))
    clock.t += 51
    assert s.find_session("dd" * 32) is None


def _v1_database(engine) -> None:
    ddl = (Path(__file__).parent / "fixtures" / "queue_v1_sqlite.sql").read_text()
    ddl = "\n".join(x for x in ddl.splitlines() if not x.startswith("--"))
    if engine.dialect.name == "postgresql":  # what SQLAlchemy made of v1's autoincrement ids
        ddl = ddl.replace("id INTEGER NOT NULL", "id SERIAL NOT NULL")
    stmts = [x.strip() for x in ddl.split(";") if x.strip()]
    scores = json.dumps({c: 0.8 if c == "hate" else 0.02 for c in CATEGORIES})
    cats = json.dumps({c: c == "hate" for c in CATEGORIES})
    with engine.begin() as conn:
        for stmt in stmts:
            conn.exec_driver_sql(stmt)
        for qid, status, decision in ((1, "decided", "violating"), (2, "decided", "escalate"),
                                      (3, "pending", None)):
            conn.execute(text(
                "INSERT INTO queue_items (item_id, text, source, model, scores, categories, "
                "flags, action, priority, status, created_at, decision, decided_by) VALUES "
                "(:iid, 'old text', 's', 'fake', :sc, :ca, ',hate,', 'review', 0.5, "
                ":st, 1.0, :d, :by)"),
                {"iid": f"v1-{qid}", "sc": scores, "ca": cats, "st": status,
                 "d": decision, "by": "old" if decision else None})
            conn.execute(text("INSERT INTO audit_log (at, actor, action, queue_id, detail) "
                              "VALUES (1.0, 'c', 'enqueue', :q, '{}')"), {"q": qid})
        conn.execute(text("INSERT INTO api_keys (name, role, key_hash, created_at, revoked) "
                          "VALUES ('adm', 'admin', :h, 1.0, false)"), {"h": "ee" * 32})


@pytest.mark.parametrize("backend", ["sqlite", pytest.param(
    "postgres", marks=[needs_pg, pytest.mark.postgres])])
def test_v1_database_migrates(tmp_path, backend):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/v1.db"
        engine = make_engine(url)
    else:
        url = PG_URL
        engine = make_engine(url)
        metadata.drop_all(engine)
        with engine.begin() as conn:
            for t in ("audit_log", "queue_items", "api_keys"):
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t} CASCADE")
    _v1_database(engine)
    engine.dispose()
    s = SQLStore(url, clock=Clock())
    assert s.get(1).decision == "violating" and s.get(1).version == 1 and s.get(1).client == ""
    assert s.get(2).status == "escalated" and s.get(2).lane == "escalation"  # v1's dead end
    assert [a.action for a in s.audit_log(3)] == ["enqueue"]
    assert s.find_key("ee" * 32).name == "adm"
    # Version-2 behaviour works on the migrated tables: a new version of an old item id.
    new, created = s.enqueue(NewItem(**{**vars(item("v1-1")), "text": "changed"}), "c")
    assert created and new.version == 2 and new.previous_id == 1
    s.close()
    SQLStore(url).close()  # opening again is a no-op


def test_stats_on_every_store(make_store):
    from veguard.service.stats import queue_stats

    clock = Clock()
    s = make_store(clock)
    old, _ = s.enqueue(item("old", hate=0.7), "c")
    clock.t += 500
    new, _ = s.enqueue(item("new", violence=0.7), "c")
    s.claim(new.id, "r", 60)
    s.decide(new.id, "r", "escalate", None, None)
    done, _ = s.enqueue(item("done", extremism=0.8), "c")
    s.claim(done.id, "r", 60)
    s.decide(done.id, "r", "violating", None, None, "EXT-SUPPORT", qa=True)
    s.qa_claim_next("q", 60)
    s.qa_decide(done.id, "q", "violating", None, "EXT-GLORIFY", None)
    st = queue_stats(s, sla_seconds=300)
    assert st["depth"]["hate"]["pending"] == 1 and st["depth"]["violence"]["escalated"] == 1
    assert st["depth"]["extremism"] == {"pending": 0, "claimed": 0, "escalated": 0}
    assert st["oldest_age_s"]["hate"] == 500 and st["sla_breaches"]["hate"] == 1
    assert [a["queue_id"] for a in st["alerts"]] == [old.id]
    assert st["items_per_reviewer_per_hour"] == {"q": 1.0, "r": 2.0}
    assert st["qa"]["pairs"] == 1 and st["qa"]["per_reviewer"]["r"]["agree"] == 1
