"""Routing through the service (issue #14 items 6-7), on SQLite and (when VEGUARD_TEST_PG_URL
is set) PostgreSQL: `routing` in results and queue items, the queue's language filter for
listing and claiming, the unsupported-language action setting with the operator lexicon, and
the in-place upgrade of a queue database that predates the new columns."""

from __future__ import annotations

import os
import re

import pytest
from fastapi.testclient import TestClient

from veguard.result import ScoreResult
from veguard.service import Settings, create_app
from veguard.service.auth import create_key
from veguard.service.lexicon import Lexicon, apply_unsupported
from veguard.service.sqlstore import SQLStore, make_engine, metadata
from veguard.taxonomy import CATEGORIES
from veguard.testing import FakeClassifier
from veguard.training.routing import fit

PG_URL = os.environ.get("VEGUARD_TEST_PG_URL")
ARABIC_SCRIPT = re.compile("[\u0600-\u06ff]")
PASHTO = "د خلافت سرتیري راځي"       # Arabic-script text the English model cannot read
PASHTO_OTHER = "نن ورځ باران دی"      # another, without the lexicon term
EXTREMIST = "Caliphate soldiers of al-Kataib in Somalia"


class LanguageFake(FakeClassifier):
    """FakeClassifier that, like the real one, does not judge Arabic-script text."""

    def score_one(self, text: str) -> ScoreResult:
        if ARABIC_SCRIPT.search(text):
            return ScoreResult(False, {c: False for c in CATEGORIES}, {c: 0.0 for c in CATEGORIES},
                               "none", language="ps", supported=False)
        r = super().score_one(text)
        r.language = "en"
        return r


@pytest.fixture(scope="module")
def routing_model():
    rows = [{"text": t, "movement": m, "behaviour": b, "source": "t"} for t, m, b in [
        ("al-Kataib presents al-Shabaab in Somalia", "al_shabaab", "propaganda_branded"),
        ("al-Kataib video: al-Shabaab fighters in Somalia", "al_shabaab", "propaganda_branded"),
        ("join the active club, white men, and train", "white_supremacist",
         "recruitment_radicalisation_instruction"),
        ("white men: train and join an active club", "white_supremacist",
         "recruitment_radicalisation_instruction")]]
    return fit(rows, C=10.0)[0]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres,
                                                                  pytest.mark.skipif(
    not PG_URL, reason="VEGUARD_TEST_PG_URL is unset (run `eval $(scripts/ci_services.sh)`)")])])
def db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/routing.db"
    engine = make_engine(PG_URL)
    metadata.drop_all(engine)
    engine.dispose()
    return PG_URL


def h(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make(db, routing_model):
    made = []

    def _make(**settings):
        store = SQLStore(db)
        n = len(made)  # several apps may share the database: key names must differ
        keys = {name: create_key(store, role, f"{name}{n}", "test")
                for name, role in (("client", "client"), ("rev", "reviewer"))}
        app = create_app(LanguageFake(routing=routing_model), store,
                         Settings(batch_window_ms=1, qa_share=0.0, **settings))
        c = TestClient(app).__enter__()
        made.append((c, store))
        return c, keys, store

    yield _make
    for c, store in made:
        c.__exit__(None, None, None)
        store.close()


def classify(c, key, item_id, text):
    r = c.post("/v1/classify", json={"item_id": item_id, "text": text, "source": "s"},
               headers=h(key))
    assert r.status_code == 200, r.text
    return r.json()


def test_routing_field_only_when_extremism_is_flagged(make):
    c, k, _ = make()
    r = c.post("/v1/moderations", json={"input": [EXTREMIST, "they are vermin", "hello"]},
               headers=h(k["client"]))
    ext, hate, clean = r.json()["results"]
    assert ext["routing"]["movement"]["label"] == "al_shabaab"
    assert ext["routing"]["behaviour"]["label"] == "propaganda_branded"
    assert 0.0 <= ext["routing"]["movement"]["score"] <= 1.0
    assert hate["flagged"] and "routing" not in hate and "routing" not in clean
    body = classify(c, k["client"], "e1", EXTREMIST)
    assert body["result"]["routing"]["movement"]["label"] == "al_shabaab"
    item = c.get(f"/v1/queue/items/{body['queue']['queue_id']}", headers=h(k["rev"])).json()
    assert item["item"]["routing"]["movement"]["label"] == "al_shabaab"
    assert item["item"]["language"] == "en"
    login = c.post("/review/login", content=f"token={k['rev']}", follow_redirects=False,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert login.status_code == 303
    page = c.get(f"/review/items/{body['queue']['queue_id']}").text
    assert 'id="routing">al_shabaab (' in page and 'id="language">en<' in page


def test_queue_lists_and_claims_by_language(tmp_path, make):
    lex = tmp_path / "lexicon.txt"
    lex.write_text("# operator terms\nخلافت\n", encoding="utf-8")
    c, k, store = make(unsupported_lexicon=str(lex))
    en = classify(c, k["client"], "en1", EXTREMIST)["queue"]
    ps = classify(c, k["client"], "ps1", PASHTO)["queue"]
    assert en["enqueued"] and ps["enqueued"]
    listed = c.get("/v1/queue/items?language=ps", headers=h(k["rev"])).json()["items"]
    assert [i["id"] for i in listed] == [ps["queue_id"]]
    assert listed[0]["language"] == "ps" and listed[0]["routing"] is None
    assert len(c.get("/v1/queue/items", headers=h(k["rev"])).json()["items"]) == 2
    # The English item has the higher priority, but a Pashto reviewer claims the Pashto one.
    got = c.post("/v1/queue/claim", json={"language": "ps"}, headers=h(k["rev"]))
    assert got.status_code == 200 and got.json()["id"] == ps["queue_id"]
    assert c.post("/v1/queue/claim", json={"language": "ps"},
                  headers=h(k["rev"])).status_code == 204
    assert c.post("/v1/queue/claim", json={"language": "en"},
                  headers=h(k["rev"])).json()["id"] == en["queue_id"]
    bad = c.get("/v1/queue/items?language=P%20S", headers=h(k["rev"]))
    assert bad.status_code == 422 and "language" in bad.text
    assert c.post("/v1/queue/claim", json={"language": "x;1"},
                  headers=h(k["rev"])).status_code == 422
    assert store.list_items(language="ps")[0].id == ps["queue_id"]
    login = c.post("/review/login", content=f"token={k['rev']}", follow_redirects=False,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert login.status_code == 303
    page = c.get("/review?status=&language=ps").text  # the reviewer page filters the same way
    assert f'id="open-{ps["queue_id"]}"' in page and f'id="open-{en["queue_id"]}"' not in page


def test_unsupported_language_action_follows_the_setting(tmp_path, make):
    lex = tmp_path / "lexicon.txt"
    lex.write_text("خلافت\n", encoding="utf-8")
    c, k, _ = make(unsupported_lexicon=str(lex))
    hit = classify(c, k["client"], "a", PASHTO)
    miss = classify(c, k["client"], "b", PASHTO_OTHER)
    assert hit["result"]["action"] == "review" and hit["result"]["supported"] is False
    assert hit["result"]["lexicon"] == ["خلافت"] and not hit["result"]["flagged"]
    assert hit["queue"]["enqueued"]
    assert miss["result"]["action"] == "none" and "lexicon" not in miss["result"]
    assert not miss["queue"]["enqueued"]
    c2, k2, _ = make(unsupported_action="none", unsupported_lexicon=str(lex))
    assert classify(c2, k2["client"], "a", PASHTO)["result"]["action"] == "none"
    c3, k3, _ = make(unsupported_action="review")
    assert classify(c3, k3["client"], "b", PASHTO_OTHER)["queue"]["enqueued"]
    c4, k4, _ = make()  # the default, `lexicon`, without a lexicon: nothing is reviewed
    assert classify(c4, k4["client"], "a", PASHTO)["result"]["action"] == "none"


def test_lexicon_matching_and_file_errors(tmp_path):
    lex = Lexicon.from_terms(["Baqiyah", "خلافت", "圣战"])
    assert lex.find("BAQIYAH wa tatamadad") == ["baqiyah"]
    assert lex.find("baqiyahs") == []            # whole words in spaced scripts
    assert lex.find("为了圣战而来") == ["圣战"]    # any position in unspaced scripts
    assert lex.find("د خلافت") == ["خلافت"]
    p = tmp_path / "lex.txt"
    p.write_text("ok\n" + "x" * 201 + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lex.txt:2: a term must be at most 200"):
        Lexicon.load(p)
    p.write_bytes(b"\xff\xfe bad")
    with pytest.raises(ValueError, match="lex.txt: the lexicon is not UTF-8"):
        Lexicon.load(p)
    p.write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lex.txt: the lexicon has no terms"):
        Lexicon.load(p)
    with pytest.raises(ValueError, match="unsupported_action"):
        apply_unsupported([], [], "sometimes", None)
    with pytest.raises(ValueError, match="unsupported_action: expected one of none, lexicon"):
        Settings(unsupported_action="always")


def test_serve_refuses_a_bad_lexicon_or_action(tmp_path, monkeypatch, capsys):
    import uvicorn

    from veguard.service.cli import serve_main

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app))
    db = f"sqlite:///{tmp_path}/s.db"
    lex = tmp_path / "terms.txt"
    lex.write_text("ok\n" + "y" * 300 + "\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        serve_main(["--db", db, "--unsupported-lexicon", str(lex)])
    assert "terms.txt:2" in capsys.readouterr().err
    monkeypatch.setenv("VEGUARD_UNSUPPORTED_ACTION", "sometimes")
    with pytest.raises(SystemExit):
        serve_main(["--db", db])
    assert "unsupported_action" in capsys.readouterr().err
    monkeypatch.setenv("VEGUARD_UNSUPPORTED_ACTION", "review")
    lex.write_text("ok\n", encoding="utf-8")
    assert serve_main(["--db", db, "--unsupported-lexicon", str(lex)]) == 0
    assert seen["app"].state.settings.unsupported_action == "review"
    assert seen["app"].state.lexicon.terms == ("ok",)


def test_database_without_the_new_columns_is_upgraded(db):
    store = SQLStore(db)
    store.close()
    engine = make_engine(db)
    with engine.begin() as conn:  # what a queue database written before this change looks like
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_queue_items_language")
        conn.exec_driver_sql("ALTER TABLE queue_items DROP COLUMN language")
        conn.exec_driver_sql("ALTER TABLE queue_items DROP COLUMN routing")
        conn.exec_driver_sql(
            "INSERT INTO queue_items (client, item_id, version, text, source, model, "
            "model_version, policy_version, scores, categories, flags, action, priority, "
            "status, lane, created_at) VALUES ('c', 'old', 1, 'old text', 's', 'fake', '', '', "
            "'{}', '{}', ',', 'review', 0.5, 'pending', 'review', 1.0)")
    engine.dispose()
    from veguard.service.sqlstore import migrate_v2_columns

    store = SQLStore(db)  # opening upgrades it
    old = store.list_items()[0]
    assert old.language == "und" and old.routing is None
    assert store.list_items(language="und")[0].id == old.id
    assert not migrate_v2_columns(store.engine)  # idempotent
    store.close()
