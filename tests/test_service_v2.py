"""Review queue v2 (issue #13) through the HTTP API, on SQLite and (when VEGUARD_TEST_PG_URL is
set) PostgreSQL: edited posts and per-client ids,
escalation to seniors, contradictory decisions, reason codes and the statement of reasons,
appeals, blind QA and kappa, undo, bulk decisions, search, stats and metrics, rate limits, the
OpenAI drop-in rules, `veguard serve` settings and the export's write-then-audit."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from veguard.service import Settings, create_app
from veguard.service.auth import create_key
from veguard.service.reasons import REASON_CODES
from veguard.service.sqlstore import SQLStore, make_engine, metadata
from veguard.service.stats import cohen_kappa
from veguard.taxonomy import CATEGORIES, POLICY_VERSION
from veguard.testing import FakeClassifier

ROOT = Path(__file__).resolve().parents[1]
HATE = "they are vermin"
THREAT = "i will shoot them tomorrow"


def h(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


PG_URL = os.environ.get("VEGUARD_TEST_PG_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres,
                                                                  pytest.mark.skipif(
    not PG_URL, reason="VEGUARD_TEST_PG_URL is unset (run `eval $(scripts/ci_services.sh)`)")])])
def db(request, tmp_path):
    """A fresh database URL: a SQLite file, or the PostgreSQL test database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/v2.db"
    engine = make_engine(PG_URL)
    metadata.drop_all(engine)
    engine.dispose()
    return PG_URL


def make_env(url, **settings):
    store = SQLStore(url)
    roles = {"client": "client", "client2": "client", "alice": "reviewer", "bob": "reviewer",
             "sen": "senior", "admin": "admin"}
    keys = {n: create_key(store, r, n, "test") for n, r in roles.items()}
    clf = FakeClassifier()
    clf.model_version = "sha256:0123456789abcdef"
    app = create_app(clf, store, Settings(batch_window_ms=1, **settings))
    return app, keys, store


@pytest.fixture
def env(db):
    app, keys, store = make_env(db, qa_share=0.0)
    with TestClient(app) as c:
        yield c, keys, store


def classify(c, key, item_id, text, **extra):
    r = c.post("/v1/classify", json={"item_id": item_id, "text": text, "source": "forum", **extra},
               headers=h(key))
    assert r.status_code == 200, r.text
    return r.json()["queue"]


def decide(c, key, qid, decision, code=None, **extra):
    body = {"decision": decision, **extra}
    if code:
        body["reason_code"] = code
    return c.post(f"/v1/queue/items/{qid}/decision", json=body, headers=h(key))


def claim_and_decide(c, key, qid, decision, code=None, **extra):
    assert c.post(f"/v1/queue/items/{qid}/claim", headers=h(key)).status_code == 200
    r = decide(c, key, qid, decision, code, **extra)
    assert r.status_code == 200, r.text
    return r.json()


def test_edited_post_is_a_new_version_and_ids_are_per_client(env):
    c, k, _store = env
    q1 = classify(c, k["client"], "post-1", HATE)
    claim_and_decide(c, k["alice"], q1["queue_id"], "benign", "NOT-OTHER")
    q2 = classify(c, k["client"], "post-1", HATE + " and worse")
    assert q2["created"] and q2["version"] == 2 and q2["queue_id"] != q1["queue_id"]
    assert "changed text" in q2["reason"]
    item = c.get(f"/v1/queue/items/{q2['queue_id']}", headers=h(k["alice"])).json()["item"]
    assert item["previous_id"] == q1["queue_id"] and item["text"] == HATE + " and worse"
    assert item["status"] == "pending" and item["client"] == "client"
    # Another client's id "post-1" is its own item: no pre-empting other clients' ids.
    q3 = classify(c, k["client2"], "post-1", HATE)
    assert q3["created"] and q3["version"] == 1 and q3["queue_id"] not in (q1["queue_id"],
                                                                            q2["queue_id"])


def test_escalation_queue_for_seniors(env):
    c, k, _store = env
    q = classify(c, k["client"], "e1", THREAT)["queue_id"]
    esc = claim_and_decide(c, k["alice"], q, "escalate", note="threat? check")
    assert esc["status"] == "escalated" and esc["lane"] == "escalation"
    listing = c.get("/v1/queue/items", params={"status": "escalated"}, headers=h(k["bob"])).json()
    assert [i["id"] for i in listing["items"]] == [q] and listing["depth"]["escalated"] == 1
    assert c.post("/v1/queue/claim", headers=h(k["bob"])).status_code == 204
    r = c.post("/v1/queue/claim", json={"queue": "escalation"}, headers=h(k["bob"]))
    assert r.status_code == 403 and "senior" in r.json()["error"]["message"]
    r = c.post(f"/v1/queue/items/{q}/claim", headers=h(k["bob"]))
    assert r.status_code == 403 and "senior" in r.json()["error"]["message"]
    got = c.post("/v1/queue/claim", json={"queue": "escalation"}, headers=h(k["sen"]))
    assert got.status_code == 200 and got.json()["id"] == q
    again = decide(c, k["sen"], q, "escalate")
    assert again.status_code == 422 and "for good" in again.json()["error"]["message"]
    final = decide(c, k["sen"], q, "violating", "VIO-THREAT")
    assert final.status_code == 200 and final.json()["decided_by"] == "sen"
    rows = c.get("/v1/queue/export", headers=h(k["admin"])).text.splitlines()
    assert [json.loads(r)["violence"] for r in rows] == [1]


def test_contradictory_decisions_are_refused_naming_the_field(env):
    c, k, _ = env
    q = classify(c, k["client"], "c1", HATE)["queue_id"]
    c.post(f"/v1/queue/items/{q}/claim", headers=h(k["alice"]))
    r = decide(c, k["alice"], q, "benign", "NOT-OTHER", categories={"hate": True})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("categories.hate:")
    r = decide(c, k["alice"], q, "violating", "HATE-SLUR", categories={"hate": False})
    assert r.status_code == 422 and "turn off every predicted one (hate)" in r.text
    r = decide(c, k["alice"], q, "violating")
    assert r.status_code == 422 and "reason_code: required" in r.text
    r = decide(c, k["alice"], q, "violating", "NOT-NEWS")
    assert r.status_code == 422 and "is not a 'violating' reason" in r.text
    # An item the model flagged in nothing (offensive only): the message says so.
    q2 = classify(c, k["client"], "c2", "you idiot")
    assert not q2["enqueued"]


def test_violating_needs_a_category_when_the_prediction_has_none(db):
    app, k, store = make_env(db, qa_share=0.0, enqueue_on="review")
    with TestClient(app) as c:
        app.state.classifier.thresholds.review = {cat: 0.99 for cat in CATEGORIES}
        q = classify(c, k["admin"], "n1", HATE, enqueue=True)
        assert not q["enqueued"]
        from veguard.service.store import NewItem

        res = app.state.classifier.score("nothing here")
        qid = store.enqueue(NewItem.from_result(res, item_id="n2", text="nothing here",
                                                source="s", model="fake"), "t")[0].id
        c.post(f"/v1/queue/items/{qid}/claim", headers=h(k["alice"]))
        r = decide(c, k["alice"], qid, "violating", "EXT-SUPPORT")
        assert r.status_code == 422
        assert "the prediction named none, so set one true in categories" in r.text


def test_statement_of_reasons_is_recorded_returned_and_exported(env):
    c, k, _ = env
    q = classify(c, k["client"], "s1", HATE)["queue_id"]
    claim_and_decide(c, k["alice"], q, "violating", "HATE-DEHUM", note="dehumanising")
    detail = c.get(f"/v1/queue/items/{q}", headers=h(k["alice"])).json()
    st = detail["item"]["statement"]
    assert st["decision"] == "violating" and st["reason_code"] == "HATE-DEHUM"
    assert st["reason"] == REASON_CODES["HATE-DEHUM"][1]
    assert st["model"] == "fake" and st["model_version"] == "sha256:0123456789abcdef"
    assert st["thresholds"]["review"] == {cat: 0.5 for cat in CATEGORIES}
    assert st["thresholds"]["auto"] == {cat: 0.9 for cat in CATEGORIES}
    assert st["policy_version"] == POLICY_VERSION and st["labels"]["hate"] is True
    assert [d["reason_code"] for d in detail["decisions"]] == ["HATE-DEHUM"]
    rows = [json.loads(x) for x in c.get("/v1/queue/export", params={"kind": "statements"},
                                         headers=h(k["admin"])).text.splitlines()]
    assert rows == [{"queue_id": q, "client": "client", "item_id": "s1", "version": 1, **st}]


def test_policy_md_lists_exactly_the_reason_codes():
    policy = (ROOT / "POLICY.md").read_text(encoding="utf-8")
    section = policy.split("## Reason codes", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([A-Z]+-[A-Z]+)` \| (violating|benign) \|", section, re.MULTILINE)
    assert dict(listed) == {code: d for code, (d, _) in REASON_CODES.items()}


def test_appeal_reopens_for_a_different_reviewer_and_export_carries_the_final(env):
    c, k, _ = env
    q = classify(c, k["client"], "a1", HATE)["queue_id"]
    claim_and_decide(c, k["alice"], q, "violating", "HATE-SLUR")
    # Only the client that sent the item (or an admin) may appeal; others see no such item.
    assert c.post(f"/v1/queue/items/{q}/appeal", json={"reason": "x"},
                  headers=h(k["client2"])).status_code == 404
    assert c.post(f"/v1/queue/items/{q}/appeal", json={"reason": "x"},
                  headers=h(k["bob"])).status_code == 403
    r = c.post(f"/v1/queue/items/{q}/appeal", json={"reason": "quoted to condemn it"},
               headers=h(k["client"]))
    assert r.status_code == 200 and r.json()["lane"] == "appeal" and r.json()["status"] == "pending"
    assert c.post(f"/v1/queue/items/{q}/appeal", json={"reason": "again"},
                  headers=h(k["client"])).status_code == 409
    assert c.get("/v1/queue/export", headers=h(k["admin"])).text == ""  # under appeal
    assert c.post("/v1/queue/claim", headers=h(k["alice"])).status_code == 204
    assert c.post(f"/v1/queue/items/{q}/claim", headers=h(k["alice"])).status_code == 403
    final = claim_and_decide(c, k["bob"], q, "benign", "NOT-COUNTERSPEECH")
    assert final["statement"]["appealed"] and final["decided_by"] == "bob"
    detail = c.get(f"/v1/queue/items/{q}", headers=h(k["bob"])).json()
    assert [(d["kind"], d["decision"]) for d in detail["decisions"]] == [
        ("review", "violating"), ("appeal", "benign")]
    assert detail["audit"][-1]["detail"]["reversed"] is True
    exported = c.get("/v1/queue/export", headers=h(k["admin"])).text
    (row,) = [json.loads(x) for x in exported.splitlines()]
    assert row["hate"] == 0


def test_qa_rereview_is_blind_and_feeds_kappa(db):
    app, k, _store = make_env(db, qa_share=1.0)
    with TestClient(app) as c:
        qids = [classify(c, k["client"], f"q{i}", HATE if i % 2 else THREAT)["queue_id"]
                for i in range(4)]
        for qid in qids:
            d = "violating"
            claim_and_decide(c, k["alice"], qid, d, "HATE-SLUR" if qid % 2 == 0 else "VIO-THREAT")
        assert c.post("/v1/queue/qa/claim", headers=h(k["alice"])).status_code == 204  # own
        for n in range(4):
            got = c.post("/v1/queue/qa/claim", headers=h(k["bob"]))
            assert got.status_code == 200
            blind = got.json()
            assert blind["decision"] is None and blind["decided_by"] is None
            # Reading the item another way while holding its QA lease is blind too.
            peek = c.get(f"/v1/queue/items/{blind['id']}", headers=h(k["bob"])).json()
            assert peek["item"]["decision"] is None and peek["decisions"] == []
            assert peek["audit"] == []
            assert blind["statement"] is None and blind["qa_status"] == "claimed"
            # bob agrees on two items and disagrees on two
            body = ({"decision": "violating", "reason_code": "VIO-INCITE"} if n < 2 else
                    {"decision": "benign", "reason_code": "NOT-OTHER",
                     "categories": {c_: False for c_ in CATEGORIES}})
            r = c.post(f"/v1/queue/items/{blind['id']}/qa", json=body, headers=h(k["bob"]))
            assert r.status_code == 200, r.text
        stats = c.get("/v1/queue/stats", headers=h(k["alice"])).json()
        qa = stats["qa"]
        assert qa["pairs"] == 4 and qa["per_reviewer"]["alice"]["agree"] == 2
        # alice said violating 4 times, bob 2 of 4: agreement 0.5 = chance, so kappa is 0.
        assert qa["per_reviewer"]["alice"]["kappa"] == 0.0
        assert qa["per_category"]["offensive"]["kappa"] is None  # all-false on both sides
        assert stats["items_per_reviewer_per_hour"] == {"alice": 4.0, "bob": 4.0}


def test_cohen_kappa_known_values():
    assert cohen_kappa([1, 1, 0, 0], [1, 1, 0, 0]) == 1.0
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == -1.0
    # 20 pairs: 8 yes/yes, 2 yes/no, 3 no/yes, 7 no/no -> po 0.75, pe 0.5, kappa 0.5
    a = [1] * 10 + [0] * 10
    b = [1] * 8 + [0] * 2 + [1] * 3 + [0] * 7
    assert cohen_kappa(a, b) == 0.5
    assert cohen_kappa([], []) is None and cohen_kappa([1, 1], [1, 1]) is None
    with pytest.raises(ValueError):
        cohen_kappa([1], [])


def test_undo_within_seconds(env):
    c, k, store = env
    q = classify(c, k["client"], "u1", HATE)["queue_id"]
    claim_and_decide(c, k["alice"], q, "benign", "NOT-OTHER")
    assert c.post(f"/v1/queue/items/{q}/undo", headers=h(k["bob"])).status_code == 403
    back = c.post(f"/v1/queue/items/{q}/undo", headers=h(k["alice"]))
    assert back.status_code == 200 and back.json()["status"] == "claimed"
    assert back.json()["decision"] is None
    assert decide(c, k["alice"], q, "violating", "HATE-SLUR").status_code == 200
    assert store.audit_log(q)[-2].action == "undo"


def test_bulk_decision_decides_each_and_audits_each(env):
    c, k, store = env
    qids = [classify(c, k["client"], f"camp-{i}", f"{HATE} campaign-7 #{i}")["queue_id"]
            for i in range(3)]
    other = classify(c, k["client"], "x", THREAT)["queue_id"]
    c.post(f"/v1/queue/items/{other}/claim", headers=h(k["bob"]))
    found = c.get("/v1/queue/items", params={"q": "CAMPAIGN-7"}, headers=h(k["alice"])).json()
    assert sorted(i["id"] for i in found["items"]) == qids
    r = c.post("/v1/queue/bulk-decision",
               json={"queue_ids": [*qids, other], "decision": "violating",
                     "reason_code": "HATE-DEHUM", "note": "campaign 7"}, headers=h(k["alice"]))
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["ok"] for x in res] == [True, True, True, False]
    assert "claimed by another reviewer" in res[3]["error"]
    for qid in qids:
        assert store.get(qid).decision == "violating" and store.get(qid).reason_code == "HATE-DEHUM"
        assert [a.action for a in store.audit_log(qid)][-3:] == ["claim", "decide", "bulk"]
    bad = c.post("/v1/queue/bulk-decision", json={"queue_ids": [other], "decision": "benign"},
                 headers=h(k["bob"]))
    assert bad.json()["results"][0]["ok"] is False and store.get(other).status == "pending"


def test_stats_and_metrics_report_depth_age_and_sla(db):
    app, k, store = make_env(db, qa_share=0.0, sla_seconds=60)
    with TestClient(app) as c:
        q1 = classify(c, k["client"], "old", HATE)["queue_id"]
        classify(c, k["client"], "new", THREAT)
        with store.engine.begin() as conn:  # age the first item past the SLA
            from veguard.service.sqlstore import items

            conn.execute(items.update().where(items.c.id == q1)
                         .values(created_at=store.clock() - 600))
        st = c.get("/v1/queue/stats", headers=h(k["alice"])).json()
        assert st["depth"]["hate"]["pending"] == 1 and st["depth"]["violence"]["pending"] == 1
        assert st["oldest_age_s"]["hate"] >= 600 and st["sla_breaches"] == {
            "extremism": 0, "violence": 0, "hate": 1, "offensive": 0, "none": 0}
        assert [a["queue_id"] for a in st["alerts"]] == [q1]
        claim_and_decide(c, k["alice"], q1, "violating", "HATE-SLUR")
        text = c.get("/metrics").text
        assert 'veguard_queue_category_depth{category="violence",status="pending"} 1.0' in text
        assert 'veguard_queue_sla_breaches{category="hate"} 0.0' in text
        assert 'veguard_reviewer_decisions_last_hour{reviewer="alice"} 1.0' in text
        assert 'veguard_queue_oldest_age_seconds{category="violence"}' in text


def test_rate_limit_answers_429_with_retry_after(db):
    app, k, _ = make_env(db, rate_limit_per_minute=60, rate_limit_burst=3)
    with TestClient(app) as c:
        codes = [c.post("/v1/moderations", json={"input": "hi"}, headers=h(k["client"])).status_code
                 for _ in range(3)]
        assert codes == [200, 200, 200]
        r = c.post("/v1/moderations", json={"input": "hi"}, headers=h(k["client"]))
        assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1 and "client" in r.json()["error"]["message"]
        r = c.post("/v1/classify", json={"item_id": "z", "text": "x", "source": "s"},
                   headers=h(k["client"]))
        assert r.status_code == 429
        # Buckets are per key: another client is unaffected.
        assert c.post("/v1/moderations", json={"input": "hi"},
                      headers=h(k["client2"])).status_code == 200
        assert "veguard_rate_limited_total 2.0" in c.get("/metrics").text


def test_openai_model_names_and_flagged_matches_categories(env):
    c, k, _ = env
    texts = ["hello", HATE, THREAT, "you idiot", "idiot, they are vermin", "caliphate soldiers"]
    for model in ("omni-moderation-latest", "text-moderation-latest", None):
        body = {"input": texts, **({"model": model} if model else {})}
        r = c.post("/v1/moderations", json=body, headers=h(k["client"]))
        assert r.status_code == 200, r.text
        assert r.json()["model"] == "fake"  # the served model is named, not the alias
        for res in r.json()["results"]:
            assert res["flagged"] == any(res["categories"].values())
    assert c.post("/v1/moderations", json={"input": "x", "model": "gpt-4o"},
                  headers=h(k["client"])).status_code == 422


def test_export_audits_only_after_a_successful_atomic_write(db, tmp_path):
    from veguard.service.export import write_decisions

    app, k, store = make_env(db)
    with TestClient(app) as c:
        q = classify(c, k["client"], "w1", HATE)["queue_id"]
        claim_and_decide(c, k["alice"], q, "violating", "HATE-SLUR")
    n_audit = len(store.audit_log())
    with pytest.raises(OSError):
        write_decisions(store, tmp_path / "missing-dir" / "out.jsonl", "t")
    assert len(store.audit_log()) == n_audit  # nothing claimed that did not happen
    out = tmp_path / "out.jsonl"
    out.write_text("old content\n")
    assert write_decisions(store, out, "t", statements=tmp_path / "sor.jsonl") == 1
    assert json.loads(out.read_text())["hate"] == 1
    from veguard.data.decisions import read_decisions

    (row,) = read_decisions(out)  # the corpus builder accepts the client-scoped ids
    assert row["id"] == "review_queue:client/w1" and row["group"] == "client/w1"
    assert json.loads((tmp_path / "sor.jsonl").read_text())["reason_code"] == "HATE-SLUR"
    assert store.audit_log()[-1].detail["rows"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_every_setting_is_settable_by_flag_or_environment(tmp_path, monkeypatch):
    import uvicorn

    from veguard.service.cli import serve_main

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app))
    monkeypatch.setenv("VEGUARD_COOKIE_SECURE", "true")
    monkeypatch.setenv("VEGUARD_LEASE_SECONDS", "42")
    db = f"sqlite:///{tmp_path}/s.db"
    assert serve_main(["--db", db, "--enqueue-on", "auto", "--lease-seconds", "77",
                       "--qa-share", "0.5", "--no-batching", "--rate-limit-per-minute", "5"]) == 0
    s = seen["app"].state.settings
    assert s.cookie_secure is True and s.enqueue_on == "auto" and s.batching is False
    assert s.lease_seconds == 77 and s.qa_share == 0.5  # the flag beats the environment
    assert s.rate_limit_per_minute == 5
    assert serve_main(["--db", db]) == 0
    assert seen["app"].state.settings.lease_seconds == 42
    monkeypatch.setenv("VEGUARD_LEASE_SECONDS", "soon")
    with pytest.raises(SystemExit):
        serve_main(["--db", db])
    from dataclasses import fields

    from veguard.service.settings import Settings as S

    docs = (ROOT / "docs" / "SERVICE.md").read_text(encoding="utf-8")
    for f in fields(S):
        if f.name != "api_keys":
            assert f"--{f.name.replace('_', '-')}" in docs, f.name


def test_weights_hash_changes_with_the_weights(tmp_path):
    from veguard.service.cli import weights_hash

    (tmp_path / "model.safetensors").write_bytes(b"abc")
    (tmp_path / "thresholds.json").write_text("{}")
    first = weights_hash(tmp_path)
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", first)
    (tmp_path / "thresholds.json").write_text('{"x": 1}')
    assert weights_hash(tmp_path) == first  # thresholds are recorded separately
    (tmp_path / "model.safetensors").write_bytes(b"abd")
    assert weights_hash(tmp_path) != first
    assert weights_hash(tmp_path / "nothing") == ""
