"""`veguard serve --init`, `veguard serve` wiring, and `veguard queue keys|export` on SQLite."""

from __future__ import annotations

import json
import sys
import time
import types

import pytest
from fastapi.testclient import TestClient

from veguard.service.auth import hash_token
from veguard.service.cli import queue_main, serve_main
from veguard.service.sqlstore import SQLStore
from veguard.service.store import NewItem
from veguard.testing import FakeClassifier


def _token(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_init_prints_one_admin_key_once(tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/v.db"
    assert serve_main(["--init", "--db", db]) == 0
    token = _token(capsys.readouterr().out)
    store = SQLStore(db)
    rec = store.find_key(hash_token(token))
    assert rec is not None and rec.role == "admin"
    assert serve_main(["--init", "--db", db]) == 1
    assert "already exists" in capsys.readouterr().err
    assert queue_main(["keys", "create", "--role", "reviewer", "--name", "ann", "--db", db]) == 0
    rtoken = _token(capsys.readouterr().out)
    assert store.find_key(hash_token(rtoken)).role == "reviewer"
    assert queue_main(["keys", "create", "--role", "reviewer", "--name", "ann", "--db", db]) == 1
    assert queue_main(["keys", "list", "--db", db]) == 0
    listing = capsys.readouterr().out
    assert "ann\treviewer\tactive\texpires never" in listing and "admin\tadmin" in listing
    assert token not in listing and rtoken not in listing
    assert [a.action for a in store.audit_log()] == ["key_create", "key_create"]


def test_keys_expire_and_revoke_from_the_cli(tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/v.db"
    assert queue_main(["keys", "create", "--role", "senior", "--name", "sue",
                       "--expires-days", "30", "--db", db]) == 0
    token = _token(capsys.readouterr().out)
    store = SQLStore(db)
    rec = store.find_key(hash_token(token))
    assert rec.role == "senior" and 29.9 * 86400 < rec.expires_at - time.time() <= 30 * 86400
    assert queue_main(["keys", "revoke", "--name", "sue", "--db", db]) == 0
    assert store.find_key(hash_token(token)) is None
    assert queue_main(["keys", "revoke", "--name", "sue", "--db", db]) == 1
    assert "no active key named 'sue'" in capsys.readouterr().err
    assert queue_main(["keys", "list", "--db", db]) == 0
    assert "sue" not in capsys.readouterr().out
    assert queue_main(["keys", "list", "--all", "--db", db]) == 0
    assert "sue\tsenior\trevoked" in capsys.readouterr().out
    assert store.audit_log()[-1].action == "key_revoke"
    with pytest.raises(SystemExit):
        queue_main(["keys", "create", "--role", "client", "--expires-days", "0", "--db", db])


def test_bad_db_url_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as e:
        serve_main(["--init", "--db", "veguard.db"])
    assert e.value.code == 2 and "not a SQLAlchemy URL" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        queue_main(["keys", "list", "--db", "postgresql+psycopg://u:hunter2@127.0.0.1:1/x"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "cannot open database" in err and "hunter2" not in err


def test_queue_export_writes_the_corpus_schema(tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/v.db"
    store = SQLStore(db)
    clf = FakeClassifier()
    for item_id, text in [("a", "they are vermin"), ("b", "join the state now")]:
        new = NewItem.from_result(
            clf.score(text), item_id=item_id, text=text, source="s", model="fake"
        )
        qid = store.enqueue(new, "t")[0].id
        store.claim(qid, "r", 60)
        decision, code = ("violating", "HATE-SLUR") if item_id == "a" else ("benign", "NOT-NEWS")
        store.decide(qid, "r", decision, None, None, code)
    out = tmp_path / "decisions.jsonl"
    assert queue_main(["export", "--output", str(out), "--db", db]) == 0
    assert "wrote 2 decisions" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["hate"], r["extremism"]) for r in rows] == [("review_queue:a", 1, 0),
                                                                    ("review_queue:b", 0, 0)]
    assert store.audit_log()[-1].action == "export" and store.audit_log()[-1].actor.startswith(
        "cli"
    )
    n = len(store.audit_log())
    assert queue_main(["export", "--output", str(tmp_path / "no" / "x.jsonl"), "--db", db]) == 1
    assert len(store.audit_log()) == n  # a failed export is not audited as one
    sor = tmp_path / "sor.jsonl"
    assert queue_main(["export", "--output", str(out), "--statements", str(sor), "--db", db]) == 0
    assert [json.loads(x)["reason_code"] for x in sor.read_text().splitlines()] == [
        "HATE-SLUR", "NOT-NEWS"]


def test_serve_wires_db_model_and_loader(tmp_path, monkeypatch):
    seen = {}
    fake_modeling = types.ModuleType("veguard.modeling")

    class Classifier:
        @staticmethod
        def load(path=None):
            seen["path"] = path
            return FakeClassifier(name="loaded")

    fake_modeling.Classifier = Classifier
    monkeypatch.setitem(sys.modules, "veguard.modeling", fake_modeling)
    import uvicorn

    monkeypatch.setattr(
        uvicorn, "run", lambda app, host, port, **kw: seen.update(app=app, host=host, port=port)
    )
    db = f"sqlite:///{tmp_path}/v.db"
    assert serve_main(["--db", db, "--model", "models/x", "--port", "9123"]) == 0
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 9123)
    with TestClient(seen["app"]) as c:
        for _ in range(200):
            if c.get("/readyz").status_code == 200:
                break
            time.sleep(0.01)
        assert c.get("/readyz").json()["model"] == "loaded"
    assert seen["path"] == "models/x"
    assert (tmp_path / "v.db").exists()


@pytest.mark.slow
def test_real_classifier_through_the_api(tiny_model_dir, tmp_path):
    """The real Classifier (tiny random model from conftest) behind the batcher and the queue."""
    from veguard.modeling import Classifier
    from veguard.service import Settings, create_app
    from veguard.service.auth import create_key

    store = SQLStore(f"sqlite:///{tmp_path}/v.db")
    key = create_key(store, "client", "c", "t")
    # Thresholds at 0 so every text is flagged and enqueued, whatever the random weights say.
    clf = Classifier.load(tiny_model_dir)
    clf.thresholds.review = {c: 0.0 for c in clf.thresholds.review}
    with TestClient(create_app(clf, store, Settings())) as c:
        h = {"Authorization": f"Bearer {key}"}
        r = c.post(
            "/v1/moderations", json={"input": ["one text", "another, longer text " * 20]}, headers=h
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["results"]) == 2
        r = c.post(
            "/v1/classify", json={"item_id": "z", "text": "a text", "source": "s"}, headers=h
        )
        assert r.status_code == 200 and r.json()["queue"]["created"], r.text
    assert store.get(1).model == clf.name
    # The statement of reasons reads the real Classifier's metadata (a modeldir.ModelMeta).
    assert store.get(1).policy_version == clf.meta.policy_version
    assert store.get(1).thresholds["review"] == {c: 0.0 for c in clf.thresholds.review}
