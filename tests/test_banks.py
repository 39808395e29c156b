"""Banks of known content: signatures, the store (SQLite and PostgreSQL), matching edited
reposts and not unrelated texts, long-document passages, applying matches (benign-bank
suppression), quarantine, the interchange formats and the `veguard bank` CLI."""

from __future__ import annotations

import hashlib
import json
import os
import random
import zlib

import numpy as np
import pytest

from veguard.banks import signature as sg
from veguard.banks.interchange import (
    InterchangeError,
    entry_to_dict,
    read_jsonl,
    read_threatexchange,
    to_threatexchange,
)
from veguard.banks.matcher import Guard, Matcher, apply, known_labels
from veguard.banks.store import BankConflict, BankError, BankNotFound, BankStore, NewEntry
from veguard.result import ScoreResult
from veguard.taxonomy import CATEGORIES

PG_URL = os.environ.get("VEGUARD_TEST_PG_URL")
needs_pg = pytest.mark.skipif(
    not PG_URL, reason="VEGUARD_TEST_PG_URL is unset (run `eval $(scripts/ci_services.sh)`)")

KNOWN = [
    ("The brothers who struck the airport are heroes of the ummah, join the caravan now and "
     "take up arms against the crusaders who bomb our families"),
    ("We call on every lion in the west to strike the disbelievers in their homes with knives "
     "and cars, do not wait for orders, the reward is paradise"),
    ("Statement from the media office: the soldiers of the caliphate carried out a blessed "
     "operation against the apostate police, killing twelve and wounding many more"),
    ("The white race is being replaced and only action will save it, the time for talking is "
     "over, our people must fight back before it is too late"),
    ("Learn how to build the device from household items, the instructions are in the next "
     "issue of the magazine, share it with trusted brothers only"),
    ("Do not mourn the martyr, celebrate him, for he has gone to his Lord smiling and his "
     "blood will water the tree of the state for generations"),
]
UNRELATED = [
    "The council meeting on Tuesday approved the new budget for the public library and parks",
    "Scientists found that the river's water quality improved after the factory closed down",
    "Our team won the match three to one after a great second half from the young striker",
    "The recipe calls for two cups of flour, a pinch of salt and three fresh eggs from the farm",
    "Police arrested a man suspected of planning an attack on the airport, officials said today",
    "Join us this weekend for the charity run through the city centre, all ages are welcome",
    "Researchers say extremist propaganda online often reuses the same statements again",
    "The new phone has a better camera, longer battery life and a brighter screen than before",
]


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _pg_url(n: int) -> str:
    """Databases of our own on the shared test cluster, so nobody else's tables are touched;
    one per store in a test, as two deployments have two databases."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        name = f"veguard_banks_test_{n}"
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                            ).scalar():
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[needs_pg, pytest.mark.postgres])])
def make_store(request, tmp_path):
    from veguard.banks.store import metadata

    made = []

    def make(clock=None) -> BankStore:
        if request.param == "sqlite":
            s = BankStore(f"sqlite:///{tmp_path}/b{len(made)}.db", clock=clock or Clock())
        else:
            s = BankStore(_pg_url(len(made)), clock=clock or Clock(), create=False)
            metadata.drop_all(s.engine)
            metadata.create_all(s.engine)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def result(action: str = "none") -> ScoreResult:
    return ScoreResult(False, dict.fromkeys(CATEGORIES, False), dict.fromkeys(CATEGORIES, 0.02),
                       action)


# -- edits, as the benchmark makes them (bench/banks.py), seeded ---------------------------
def edit_handles(t: str) -> str:
    return "@abu_nasr_77 " + t + " https://t.me/somechannel"


def edit_emoji(t: str) -> str:
    w = t.split()
    return " ".join(w[:3] + ["🔥🔥"] + w[3:] + ["⚔️"])


def edit_linebreaks(t: str) -> str:
    w = t.split()
    return "\n".join(" ".join(w[i : i + 5]) for i in range(0, len(w), 5))


def edit_words(t: str, share: float = 0.15, seed: int = 0) -> str:
    rng = random.Random(seed)
    w = t.split()
    for i in rng.sample(range(len(w)), round(len(w) * share)):
        w[i] = rng.choice(["very", "truly", "indeed", "now", "people", "brave"])
    return " ".join(w)


# -- signatures ---------------------------------------------------------------------------
def test_exact_hash_is_sha256_of_normalised_text():
    assert sg.exact_hash("Join the caravan") == hashlib.sha256(b"Join the caravan").hexdigest()
    base = sg.exact_hash("join us @abu_x now https://t.co/x")
    assert sg.exact_hash("join\u200b us   @other_handle now http://bit.ly/y") == base
    assert sg.exact_hash("join us now") != base


def test_signature_is_pinned_so_banks_can_be_exchanged():
    # Changing these values breaks every exported bank: bump SIGNATURE_VERSION instead.
    assert sg.signature(["join", "the", "caravan"])[:4].tolist() == [
        700135733, 598005207, 589564033, 1251994525]
    assert sg.shingle_hashes(["a", "b", "c"]) == {
        zlib.crc32(s.encode()) for s in ("a", "b", "c", "a b", "b c")}


def test_tokens_drop_emoji_punctuation_placeholders_and_fold_case():
    toks = sg.tokens("@Abu_X JOIN, the Caravan!! 🔥 https://t.co/z Café")
    assert toks.words == ["join", "the", "caravan", "cafe"]
    start, end = toks.span(0, 1)
    assert toks.norm[start:end] == "JOIN"
    assert toks.norm[slice(*toks.span(1, 3))] == "the Caravan"


def test_similarity_tracks_jaccard():
    a, b = list("abcdefghij"), list("abcdefghXY")  # words; shingles 19 vs 19, 15 shared
    shared = len(sg.shingles(a) & sg.shingles(b)) / len(sg.shingles(a) | sg.shingles(b))
    est = sg.similarity(sg.signature(a), sg.signature(b))
    assert abs(est - shared) < 0.2


# -- store --------------------------------------------------------------------------------
def test_store_banks_entries_duplicates_and_audit(make_store):
    s = make_store()
    s.create_bank("isis", "violating", "alice")
    with pytest.raises(BankConflict):
        s.create_bank("isis", "violating", "alice")
    with pytest.raises(BankError, match="kind"):
        s.create_bank("x", "grey", "alice")
    with pytest.raises(BankError, match="action"):
        s.create_bank("x", "benign", "alice", action="auto")
    with pytest.raises(BankError, match="name"):
        s.create_bank("bad name!", "benign", "alice")
    with pytest.raises(BankError, match="entity"):
        NewEntry.from_text(KNOWN[0], entity="nobody")
    new = [NewEntry.from_text(KNOWN[0], entity="islamic_state", behaviour="glorification"),
           NewEntry.from_text(KNOWN[1]), NewEntry.from_text(KNOWN[0])]
    res = s.add_entries("isis", new, "alice")
    assert [c for _, c in res] == [True, True, False] and res[0][0] == res[2][0]
    same = KNOWN[1].replace(" ", " \u200b\n ", 1)  # the same normalised text: the same entry
    assert s.add_entries("isis", [NewEntry.from_text(same)], "bob") == [(res[1][0], False)]
    e = s.get_entry(res[0][0])
    assert e.text is None  # the bank does not store text
    assert e.entity == "islamic_state" and e.added_by == "alice" and e.bank == "isis"
    assert e.signatures.shape == (1, sg.NUM_PERM)
    assert [(b.name, n) for b, n in s.list_banks()] == [("isis", 2)]
    s.remove_entry(res[1][0], "bob")
    with pytest.raises(BankNotFound):
        s.get_entry(res[1][0])
    assert s.remove_bank("isis", "bob") == 1
    with pytest.raises(BankNotFound):
        s.get_bank("isis")
    actions = [a["action"] for a in s.audit_log()]
    assert actions == ["bank_create", "entries_add", "entry_remove", "bank_remove"]


def test_store_keeps_text_only_when_the_bank_says_so(make_store):
    s = make_store()
    s.create_bank("news", "benign", "a", store_text=True)
    ((i, _),) = s.add_entries("news", [NewEntry.from_text(UNRELATED[4])], "a")
    assert s.get_entry(i).text == UNRELATED[4]


# -- matching -----------------------------------------------------------------------------
@pytest.fixture
def banks(make_store):
    s = make_store()
    s.create_bank("known", "violating", "admin")
    s.add_entries("known", [NewEntry.from_text(t, entity="islamic_state") for t in KNOWN],
                  "admin")
    return s


@pytest.mark.parametrize("edit", [edit_handles, edit_emoji, edit_linebreaks, edit_words],
                         ids=["handles", "emoji", "linebreaks", "words15"])
def test_edited_reposts_are_found(banks, edit):
    m = Matcher.from_store(banks)
    for i, t in enumerate(KNOWN):
        found = m.match(edit(t))
        assert [f["entry_id"] for f in found] == [i + 1], (edit.__name__, t)
        assert found[0]["labels"]["entity"] == "islamic_state"
        assert found[0]["similarity"] >= 0.4


def test_exact_match_and_unrelated_texts_not_found(banks):
    m = Matcher.from_store(banks)
    hit = m.match(KNOWN[2].replace(" ", "  "))
    assert hit[0]["exact"] and hit[0]["similarity"] == 1.0
    for t in UNRELATED:
        assert m.match(t) == [], t
    assert m.match("") == [] and m.match("🔥🔥🔥") == []


def test_long_document_matches_by_passage(make_store):
    rng = random.Random(3)
    vocab = ["the", "of", "state", "brothers", "light", "war", "truth", "victory", "sword",
             "faith", "land", "will", "people", "enemy", "fight", "blood", "path", "nation",
             "day", "right", "world", "hour", "oath", "call", "soul"]
    manifesto = " ".join(rng.choice(vocab) + str(rng.randint(0, 9)) for _ in range(300))
    s = make_store()
    s.create_bank("manifestos", "violating", "a")
    ((eid, _),) = s.add_entries("manifestos", [NewEntry.from_text(
        manifesto, behaviour="attacker_manifesto")], "a")
    assert s.get_entry(eid).signatures.shape[0] > 10  # cut into passages
    words = manifesto.split()
    quote = " ".join(words[137:187])
    post = f"{UNRELATED[0]} He wrote this before the attack: {quote} {UNRELATED[1]}"
    (hit,) = Matcher.from_store(s).match(post)
    assert hit["entry_id"] == eid and not hit["exact"]
    assert hit["labels"]["behaviour"] == "attacker_manifesto"
    span = hit["span"]["text"].split()
    assert len(set(span) & set(words[137:187])) >= 30  # the span is the quoted part


def test_short_texts_match_only_exactly(make_store):
    s = make_store()
    s.create_bank("b", "violating", "a")
    s.add_entries("b", [NewEntry.from_text("Baqiyah wa tatamadad")], "a")
    m = Matcher.from_store(s)
    assert m.match("Baqiyah  wa\ntatamadad")[0]["exact"]  # normalize() keeps case
    assert m.match("Baqiyah wa tatamadad forever") == []


def test_apply_violating_floor_benign_suppression_and_quarantine(make_store):
    s = make_store()
    s.create_bank("v", "violating", "a")
    s.create_bank("v_auto", "violating", "a", action="auto")
    s.create_bank("news", "benign", "a", action="none")
    s.create_bank("shown", "benign", "a")
    banks = {b.name: b for b, _ in s.list_banks()}

    def m(bank, kind, q=False):
        return {"bank": bank, "kind": kind, "quarantined": q, "labels": {"entity": "ttp",
                                                                         "behaviour": None}}

    assert apply(result("none"), [m("v", "violating")], banks).action == "review"
    assert apply(result("auto"), [m("v", "violating")], banks).action == "auto"
    assert apply(result("none"), [m("v_auto", "violating")], banks).action == "auto"
    assert apply(result("auto"), [m("news", "benign")], banks).action == "none"
    assert apply(result("review"), [m("shown", "benign")], banks).action == "review"
    assert apply(result("none"), [m("v", "violating"), m("news", "benign")],
                 banks).action == "review"  # known violating content is never suppressed
    assert apply(result("none"), [m("v", "violating", q=True)], banks).action == "none"
    assert known_labels([m("v", "violating"), m("news", "benign")]) == ["ttp"]


def test_benign_bank_suppresses_a_matching_text(make_store):
    s = make_store()
    s.create_bank("news", "benign", "a", action="none")
    s.add_entries("news", [NewEntry.from_text(UNRELATED[4])], "a")
    matcher = Matcher.from_store(s)
    found = matcher.match(edit_linebreaks(UNRELATED[4]))
    assert found[0]["kind"] == "benign"
    assert apply(result("review"), found, matcher.bank_map()).action == "none"


def test_an_entry_matching_too_much_traffic_is_quarantined(banks):
    m = Matcher.from_store(banks, Guard(window=100, max_share=0.05))
    for _ in range(5):  # 5 of 100 lookups: at the limit, not over it
        assert not m.match(KNOWN[0])[0]["quarantined"]
    found = m.match(KNOWN[0])  # the 6th
    assert found[0]["quarantined"]
    assert apply(result("none"), found, m.bank_map()).action == "none"
    assert banks.get_entry(1).status == "quarantined"
    log = banks.audit_log()[-1]
    assert log["action"] == "entry_quarantined" and log["entry_id"] == 1
    assert log["detail"] == {"hits": 6, "window": 100, "max_share": 0.05}
    # other entries are untouched, and a reload keeps the quarantine
    assert not m.match(KNOWN[1])[0]["quarantined"]
    assert Matcher.from_store(banks).match(KNOWN[0])[0]["quarantined"]
    banks.set_status(1, "active", "admin", {})
    assert not Matcher.from_store(banks).match(KNOWN[0])[0]["quarantined"]


def test_guard_counts_windows_not_totals(banks):
    m = Matcher.from_store(banks, Guard(window=10, max_share=0.2))
    for _ in range(5):  # 2 hits per window of 10 lookups: never more than 20%
        m.match(KNOWN[0])
        m.match(KNOWN[0])
        for t in UNRELATED[:8]:
            m.match(t)
    assert not m.match(KNOWN[1])[0]["quarantined"]
    assert banks.get_entry(1).status == "active"


def test_page_views_do_not_count_towards_quarantine(banks):
    m = Matcher.from_store(banks, Guard(window=100, max_share=0.01))
    for _ in range(5):
        m.match(KNOWN[0], count=False)
    assert banks.get_entry(1).status == "active"


def test_matcher_add_and_remove_without_reload(banks):
    m = Matcher.from_store(banks)
    new = [NewEntry.from_text(UNRELATED[0])]
    ids = banks.add_entries("known", new, "a")
    assert m.match(UNRELATED[0]) == []
    m.add(banks.get_bank("known"), [i for i, _ in ids], new)
    assert m.match(UNRELATED[0])[0]["entry_id"] == ids[0][0]
    m.remove(ids[0][0])
    assert m.match(UNRELATED[0]) == []


# -- interchange --------------------------------------------------------------------------
def test_jsonl_round_trip_between_deployments(make_store, tmp_path):
    a = make_store()
    a.create_bank("known", "violating", "a")
    a.add_entries("known", [NewEntry.from_text(t, entity="al_shabaab", behaviour="glorification",
                                               source="tcap") for t in KNOWN], "a")
    lines = [json.dumps(entry_to_dict(e, "violating")) for e in a.iter_entries("known")]
    assert all("text" not in json.loads(x) for x in lines)  # hashes and signatures only
    b = make_store()
    b.create_bank("imported", "violating", "b")
    new = list(read_jsonl(lines, "known.jsonl"))
    b.add_entries("imported", new, "b", how="import")
    got = list(b.iter_entries("imported"))
    orig = list(a.iter_entries("known"))
    assert [e.sha256 for e in got] == [e.sha256 for e in orig]
    assert all(np.array_equal(x.signatures, y.signatures) for x, y in zip(got, orig, strict=True))
    assert {(e.entity, e.behaviour, e.source) for e in got} == {("al_shabaab", "glorification",
                                                                 "tcap")}
    assert Matcher.from_store(b).match(edit_emoji(KNOWN[3]))[0]["bank"] == "imported"
    assert b.audit_log()[-1]["action"] == "entries_import"


@pytest.mark.parametrize("line,problem", [
    ("{broken", "line 1: broken JSON"),
    ('{"sha256": "abc"}', "line 1: sha256: expected 64 hex"),
    ('{"sha256": "' + "0" * 64 + '", "signature": "!!"}', "not valid base64"),
    ('{"sha256": "' + "0" * 64 + '", "evil": 1}', "unknown field"),
    ('{"text": "join the caravan now brothers and sisters", "sha256": "' + "0" * 64 + '"}',
     "does not match"),
    ('{"v": 2, "sha256": "' + "0" * 64 + '"}', "format version"),
])
def test_jsonl_bad_lines_name_the_line(line, problem):
    with pytest.raises(InterchangeError, match=problem):
        list(read_jsonl([line], "in.jsonl"))


def test_threatexchange_signal_round_trip(make_store):
    pytest.importorskip("tlsh")
    pytest.importorskip("threatexchange")
    s = make_store()
    s.create_bank("te", "violating", "a", store_text=True)
    s.add_entries("te", [NewEntry.from_text(t) for t in KNOWN[:3]], "a")
    lines = [x for e in s.iter_entries("te") for x in to_threatexchange(e)]
    assert [x.split(" ", 1)[0] for x in lines] == ["raw_text", "text_tlsh"] * 3
    # what threatexchange itself computes for the same text
    from threatexchange.extensions.tlsh.text_tlsh import TextTLSHSignal

    assert lines[1] == "text_tlsh " + TextTLSHSignal.hash_from_str(KNOWN[0])
    t = make_store()
    t.create_bank("hma", "violating", "b")
    new = list(read_threatexchange(lines, "signals.txt", entity="ttp"))
    res = t.add_entries("hma", new, "b", how="import")
    assert sum(c for _, c in res) == 3  # each text_tlsh is its raw_text's digest: a duplicate
    only_tlsh = list(read_threatexchange([lines[3]], "x"))
    u = make_store()
    u.create_bank("tl", "violating", "c")
    u.add_entries("tl", only_tlsh, "c")
    (hit,) = Matcher.from_store(u).match(KNOWN[1])  # a TLSH-only entry matches by TLSH
    assert hit["entry_id"] == 1 and not hit["exact"]
    with pytest.raises(InterchangeError, match="line 1: signal type 'pdq'"):
        list(read_threatexchange(["pdq abc"], "x"))


# -- CLI ----------------------------------------------------------------------------------
def test_cli_create_add_match_export_import_list_remove(tmp_path, capsys):
    from veguard.cli import main

    db = f"sqlite:///{tmp_path}/cli.db"
    assert main(["bank", "create", "isis", "--kind", "violating", "--db", db]) == 0
    src = tmp_path / "add.jsonl"
    src.write_text("".join(json.dumps({"text": t, "behaviour": "glorification"}) + "\n"
                           for t in KNOWN), encoding="utf-8")
    assert main(["bank", "add", "isis", "--input", str(src), "--entity", "islamic_state",
                 "--db", db]) == 0
    assert main(["bank", "add", "isis", "--text", UNRELATED[0], "--db", db]) == 0
    capsys.readouterr()
    assert main(["bank", "match", edit_words(KNOWN[0]), UNRELATED[1], "--db", db]) == 0
    first, second = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    (m,) = first["matches"]
    assert m["entry_id"] == 1 and set(m) >= {"bank", "entry_id", "exact", "similarity",
                                             "labels", "span"}
    assert m["labels"] == {"entity": "islamic_state", "behaviour": "glorification"}
    assert second == {"matches": []}
    out = tmp_path / "isis.jsonl"
    assert main(["bank", "export", "isis", "--output", str(out), "--db", db]) == 0
    assert len(out.read_text().splitlines()) == 7
    db2 = f"sqlite:///{tmp_path}/other.db"
    main(["bank", "create", "copy", "--kind", "violating", "--db", db2])
    assert main(["bank", "import", "copy", "--input", str(out), "--db", db2]) == 0
    capsys.readouterr()
    main(["bank", "list", "--db", db2])
    assert json.loads(capsys.readouterr().out)["entries"] == 7
    assert main(["bank", "remove", "copy", "--entry", "7", "--db", db2]) == 0
    assert main(["bank", "remove", "copy", "--db", db2]) == 0
    capsys.readouterr()
    main(["bank", "list", "--db", db2])
    assert capsys.readouterr().out == ""


def test_cli_bad_input_fails_before_writing(tmp_path, capsys):
    from veguard.cli import main

    db = f"sqlite:///{tmp_path}/cli.db"
    main(["bank", "create", "b", "--kind", "benign", "--db", db])
    src = tmp_path / "add.jsonl"
    src.write_text(json.dumps({"text": KNOWN[0]}) + "\n" + json.dumps({"text": 3}) + "\n")
    capsys.readouterr()
    assert main(["bank", "add", "b", "--input", str(src), "--db", db]) == 2
    assert "add.jsonl: line 2" in capsys.readouterr().err
    assert main(["bank", "add", "nope", "--text", "x", "--db", db]) == 2
    assert "bank 'nope' does not exist" in capsys.readouterr().err
    main(["bank", "list", "--db", db])
    assert json.loads(capsys.readouterr().out)["entries"] == 0


def test_score_with_banks_adds_matches(tmp_path, capsys, tiny_model_factory):
    from veguard.cli import main

    model = tiny_model_factory()
    db = f"sqlite:///{tmp_path}/s.db"
    main(["bank", "create", "isis", "--kind", "violating", "--db", db])
    main(["bank", "add", "isis", "--text", KNOWN[0], "--entity", "islamic_state", "--db", db])
    capsys.readouterr()
    texts = [edit_emoji(KNOWN[0]), UNRELATED[0]]
    assert main(["score", *texts, "--model", str(model), "--banks", db]) == 0
    hit, miss = (json.loads(x) for x in capsys.readouterr().out.splitlines())
    assert hit["matches"][0]["entry_id"] == 1 and hit["action"] in ("review", "auto")
    assert miss["matches"] == []
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    assert main(["score", "--input", str(src), "--model", str(model), "--banks", db]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == [0, 1] and len(rows[0]["matches"]) == 1
    assert main(["score", *texts, "--model", str(model)]) == 0
    assert all("matches" not in json.loads(x) for x in capsys.readouterr().out.splitlines())


def test_entries_added_while_matching_past_the_rebuild_limit():
    # What this checks is that matching keeps working while another thread adds entries past
    # the index's tail limit (a rebuild), and that all of them match afterwards. A torn read
    # of the index's arrays (what the matcher's lock prevents) is too rare under the GIL for a
    # test to provoke reliably.
    import threading

    from veguard.banks.store import Bank

    m = Matcher()  # no store: the index alone
    bank = Bank(1, "b", "violating", "review", 0.4, False)
    m.add(bank, [1], [NewEntry.from_text(KNOWN[0])])
    rng = random.Random(5)
    words = " ".join(UNRELATED).split()
    extra = [NewEntry.from_text(" ".join(rng.choice(words) for _ in range(12)))
             for _ in range(6000)]  # past the index's tail limit: a rebuild happens meanwhile
    errors, done = [], threading.Event()

    def add():
        try:
            for i in range(0, len(extra), 500):
                m.add(bank, list(range(2 + i, 2 + i + len(extra[i : i + 500]))),
                      extra[i : i + 500])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            done.set()

    t = threading.Thread(target=add)
    t.start()
    while not done.is_set():
        try:
            assert m.match(edit_emoji(KNOWN[0]), count=False)[0]["entry_id"] == 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)
            break
    t.join()
    assert not errors
    assert len(m.index) == 6001 and m.index.n_passages >= 6000
    probe = extra[4321]
    assert any(f["entry_id"] == 4323 and f["exact"] for f in m.match(probe.text))
