"""Banks over HTTP (FakeClassifier, SQLite): /v1/match, `matches` and the bank-adjusted action
in /v1/moderations and /v1/classify, benign suppression, entries and proposals (reviewer
proposes, admin approves), entry status, the role checks, the "known content" badge on the
reviewer page, and a server without banks."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from veguard.banks.matcher import Guard, Matcher
from veguard.banks.store import BankStore, NewEntry
from veguard.service import Settings, create_app
from veguard.service.auth import create_key
from veguard.service.sqlstore import SQLStore
from veguard.service.store import KNOWN_CONTENT_BOOST, priority
from veguard.testing import FakeClassifier

KNOWN = ("Statement from the media office: the soldiers carried out a blessed operation "
         "against the apostate police, killing twelve and wounding many more")
REPOST = "@mujahid_news " + KNOWN.replace(" the apostate", "\n\nthe apostate") + " 🏴🏴"
NEWS = ("Police said the attack on the station killed twelve officers, and the group claimed "
        "it in a statement, according to officials on Monday")
EXTREMIST = "caliphate soldiers will rise"  # the fake classifier flags it


def h(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def env(tmp_path):
    url = f"sqlite:///{tmp_path}/svc.db"
    store = SQLStore(url)
    banks = BankStore(url)
    banks.create_bank("claims", "violating", "setup")
    banks.create_bank("news", "benign", "setup", action="none")
    banks.add_entries("claims", [NewEntry.from_text(KNOWN, entity="islamic_state",
                                                    behaviour="propaganda_branded")], "setup")
    banks.add_entries("news", [NewEntry.from_text(NEWS), NewEntry.from_text(EXTREMIST * 3)],
                      "setup")
    keys = {r: create_key(store, r, f"{r}-1", "t") for r in ("client", "reviewer", "admin")}
    matcher = Matcher.from_store(banks, Guard(window=1000, max_share=0.5))
    app = create_app(FakeClassifier(), store, Settings(batch_window_ms=1), banks=matcher)
    with TestClient(app) as c:
        yield c, keys, store, banks


def test_match_endpoint(env):
    c, keys, _, _ = env
    r = c.post("/v1/match", json={"input": [REPOST, "hello world, how are you all today?"]},
               headers=h(keys["client"]))
    assert r.status_code == 200
    hit, miss = r.json()["results"]
    (m,) = hit["matches"]
    assert m["bank"] == "claims" and m["kind"] == "violating" and not m["exact"]
    assert m["labels"] == {"entity": "islamic_state", "behaviour": "propaganda_branded"}
    assert m["span"]["text"].startswith("Statement") and not m["quarantined"]
    assert m["span"]["start"] == REPOST.index("Statement")  # offsets of the input, not normalised
    assert REPOST[m["span"]["start"]:m["span"]["end"]] == m["span"]["text"]
    assert "\n\n" in m["span"]["text"]
    assert miss == {"matches": []}
    assert c.post("/v1/match", json={"input": []}, headers=h(keys["client"])).status_code == 422


def test_moderations_carry_matches_and_the_raised_action(env):
    c, keys, _, _ = env
    r = c.post("/v1/moderations", json={"input": [REPOST, "hello"]}, headers=h(keys["client"]))
    known, plain = r.json()["results"]
    assert not known["flagged"] and known["action"] == "review"  # the model saw nothing
    assert known["matches"][0]["entry_id"] == 1
    assert plain["action"] == "none" and plain["matches"] == []


def test_classify_enqueues_known_content_and_benign_bank_suppresses(env):
    c, keys, _, _ = env
    hc = h(keys["client"])
    r = c.post("/v1/classify", json={"item_id": "k1", "text": REPOST, "source": "s"}, headers=hc)
    body = r.json()
    assert body["queue"]["enqueued"] and body["result"]["action"] == "review"
    assert body["result"]["matches"][0]["bank"] == "claims"
    # known content is raised in the queue: its priority is its scores' plus the boost
    res = body["result"]
    plain = priority(res["category_scores"], res["action"])
    assert body["queue"]["priority"] == pytest.approx(plain + KNOWN_CONTENT_BOOST)
    # a text the model flags, but which a benign bank (action none) holds: not enqueued
    r = c.post("/v1/classify", json={"item_id": "n1", "text": EXTREMIST * 3, "source": "s"},
               headers=hc)
    body = r.json()
    assert body["result"]["flagged"] and body["result"]["action"] == "none"
    assert body["result"]["matches"][0]["kind"] == "benign"
    assert not body["queue"]["enqueued"]


def test_reviewer_page_shows_known_content_badge(env):
    c, keys, _, _ = env
    c.post("/v1/classify", json={"item_id": "k1", "text": REPOST, "source": "s"},
           headers=h(keys["client"]))
    r = c.get("/review/items/1", headers=h(keys["reviewer"]))
    assert r.status_code == 200
    assert 'id="known-content"' in r.text and "islamic_state" in r.text
    assert "propaganda_branded" in r.text and "claims (violating), entry 1" in r.text
    plain = c.post("/v1/classify", json={"item_id": "e1", "text": EXTREMIST, "source": "s"},
                   headers=h(keys["client"])).json()
    r = c.get(f"/review/items/{plain['queue']['queue_id']}", headers=h(keys["reviewer"]))
    assert 'id="known-content"' not in r.text


def test_add_entries_then_they_match(env):
    c, keys, _, banks = env
    text = "Every brother who can reach the festival should bring a truck and not stop driving"
    r = c.post("/v1/banks/claims/entries", json={"entries": [
        {"text": text, "entity": "islamic_state", "behaviour": "imminent_credible_threat"},
        {"text": KNOWN}]}, headers=h(keys["admin"]))
    assert r.status_code == 201, r.text
    assert r.json()["created"] == [True, False] and r.json()["entry_ids"][1] == 1
    got = c.post("/v1/match", json={"input": text.upper()}, headers=h(keys["client"])).json()
    assert got["results"][0]["matches"][0]["labels"]["behaviour"] == "imminent_credible_threat"
    assert banks.audit_log()[-1]["actor"] == "admin-1"
    bad = c.post("/v1/banks/claims/entries", json={"entries": [{"entity": "islamic_state"}]},
                 headers=h(keys["admin"]))
    assert bad.status_code == 422 and "text or sha256" in bad.text
    bad = c.post("/v1/banks/claims/entries", json={"entries": [{"text": "x", "entity": "x"}]},
                 headers=h(keys["admin"]))
    assert bad.status_code == 422 and "entity" in bad.text
    missing = c.post("/v1/banks/nope/entries", json={"entries": [{"text": text}]},
                     headers=h(keys["admin"]))
    assert missing.status_code == 404


def test_entry_status_quarantine_and_reactivate(env):
    c, keys, _, banks = env
    ha = h(keys["admin"])
    assert c.post("/v1/banks/entries/1/status", json={"status": "quarantined"},
                  headers=ha).status_code == 200
    r = c.post("/v1/moderations", json={"input": REPOST}, headers=h(keys["client"])).json()
    assert r["results"][0]["matches"][0]["quarantined"] and r["results"][0]["action"] == "none"
    assert banks.get_entry(1).status == "quarantined"
    c.post("/v1/banks/entries/1/status", json={"status": "active"}, headers=ha)
    r = c.post("/v1/moderations", json={"input": REPOST}, headers=h(keys["client"])).json()
    assert r["results"][0]["action"] == "review"
    assert c.post("/v1/banks/entries/99/status", json={"status": "active"},
                  headers=ha).status_code == 404


def test_reviewer_proposes_admin_approves(env):
    c, keys, _, banks = env
    text = "caliphate soldiers will rise again and the banners will fly over every city soon"
    c.post("/v1/classify", json={"item_id": "p1", "text": text, "source": "s"},
           headers=h(keys["client"]))
    hr, ha = h(keys["reviewer"]), h(keys["admin"])
    item = c.post("/v1/queue/claim", headers=hr).json()
    early = c.post("/v1/banks/claims/proposals", json={"queue_id": item["id"]}, headers=hr)
    assert early.status_code == 409  # not decided violating yet
    done = c.post(f"/v1/queue/items/{item['id']}/decision",
                  json={"decision": "violating", "reason_code": "EXT-GLORIFY"}, headers=hr)
    assert done.status_code == 200, done.text
    assert c.post("/v1/banks/news/proposals", json={"queue_id": item["id"]},
                  headers=hr).status_code == 422  # benign banks take no proposals
    r = c.post("/v1/banks/claims/proposals", json={"queue_id": item["id"],
                                                   "entity": "islamic_state"}, headers=hr)
    assert r.status_code == 201
    pid = r.json()["proposal_id"]
    assert c.get("/v1/banks/claims/proposals", headers=hr).status_code == 403
    pending = c.get("/v1/banks/claims/proposals", headers=ha).json()
    assert [p["proposal_id"] for p in pending] == [pid]
    assert c.post("/v1/match", json={"input": text}, headers=ha).json()["results"][0][
        "matches"] == []
    ok = c.post(f"/v1/banks/proposals/{pid}/approve", headers=ha)
    assert ok.status_code == 200 and ok.json()["created"]
    assert c.post(f"/v1/banks/proposals/{pid}/approve", headers=ha).status_code == 409
    found = c.post("/v1/match", json={"input": text}, headers=ha).json()["results"][0]["matches"]
    assert found[0]["entry_id"] == ok.json()["entry_id"]
    e = banks.get_entry(ok.json()["entry_id"])
    assert e.text is None and e.source == "review_queue:p1" and e.added_by == "admin-1"
    actions = [a["action"] for a in banks.audit_log("claims")]
    assert actions[-3:] == ["proposal_create", "proposal_approved", "entries_approved"]


@pytest.mark.parametrize("method,path,body,allowed", [
    ("post", "/v1/match", {"input": "x"}, {"client", "admin"}),
    ("get", "/v1/banks", None, {"admin"}),
    ("post", "/v1/banks/claims/entries", {"entries": [{"text": "hello there"}]}, {"admin"}),
    ("post", "/v1/banks/entries/1/status", {"status": "active"}, {"admin"}),
    ("post", "/v1/banks/claims/proposals", {"queue_id": 1}, {"reviewer", "admin"}),
    ("get", "/v1/banks/claims/proposals", None, {"admin"}),
    ("post", "/v1/banks/proposals/1/reject", None, {"admin"}),
])
def test_roles(env, method, path, body, allowed):
    c, keys, _, _ = env
    kwargs = {"json": body} if body is not None else {}
    assert getattr(c, method)(path, **kwargs).status_code == 401
    for role in ("client", "reviewer", "admin"):
        code = getattr(c, method)(path, headers=h(keys[role]), **kwargs).status_code
        # allowed roles get past auth (404 for the proposal and queue item that do not exist)
        assert (code != 403) == (role in allowed), (role, code)
        assert code != 401 and code < 500


def test_server_without_banks(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path}/plain.db")
    key = create_key(store, "client", "c", "t")
    with TestClient(create_app(FakeClassifier(), store)) as c:
        r = c.post("/v1/match", json={"input": "x"}, headers=h(key))
        assert r.status_code == 404 and "without banks" in r.json()["error"]["message"]
        res = c.post("/v1/moderations", json={"input": KNOWN}, headers=h(key)).json()
        assert "matches" not in res["results"][0]
        res = c.post("/v1/classify", json={"item_id": "a", "text": KNOWN, "source": "s"},
                     headers=h(key)).json()
        assert "matches" not in res["result"]
