"""Each source spec on a few-row fixture in its real format (tests/fixtures/data/<source>/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from veguard.data.sources import SOURCES, DataError, content_words
from veguard.taxonomy import CATEGORIES, CONTEXTS

FIX = Path(__file__).parent / "fixtures" / "data"


def read(name: str):
    return SOURCES[name](FIX / name)


def labels(row: dict) -> tuple[int, ...]:
    return tuple(row[c] for c in CATEGORIES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_yields_valid_rows(name):
    got = read(name)
    assert got.rows, name
    for r in got.rows:
        assert r["text"].strip() and r["group"] and r["id"]
        assert r["context"] in CONTEXTS
        assert all(v in (1, 0, -1) for v in labels(r))
        assert any(v != -1 for v in labels(r)), "a row with no known label teaches nothing"
    assert len({r["id"] for r in got.rows}) == len(got.rows)


def test_isis_fanboy_rule_drops_replies_and_shells():
    got = read("isis_fanboy_tweets")
    assert sum(got.dropped.values()) == 2  # one @reply, one bare short tweet in the fixture
    assert len(got.rows) == 3
    assert all(labels(r) == (1, -1, -1, -1) and r["context"] == "extremist_forum" for r in got.rows)
    assert all(r["group"].startswith("user:") for r in got.rows)


def test_content_words_ignores_placeholders():
    assert content_words("RT @abu: https://t.co/x #ISIS") == 1
    assert content_words("The soldiers of the state advance") == 6


def test_miws_all_extremist_violence_unknown():
    got = read("miws_seed")
    assert len(got.rows) == 6
    assert {labels(r) for r in got.rows} == {(1, -1, -1, -1)}


def test_implicit_hate_stage2_joined():
    rows = {r["text"]: r for r in read("implicit_hate").rows}
    by = {labels(r) for r in rows.values()}
    assert (1, -1, 1, -1) in by  # incitement -> extremism
    assert (-1, 1, 1, -1) in by  # threatening -> violence
    assert (-1, -1, 1, -1) in by  # irony / explicit: hate only
    assert (-1, -1, 0, -1) in by  # not_hate


def test_davidson_classes():
    got = sorted(labels(r) for r in read("davidson_hate_offensive").rows)
    assert got == sorted([(0, -1, 1, 1)] * 2 + [(0, -1, 0, 1)] * 2 + [(0, -1, 0, 0)] * 2)


def test_ethos_violence_only_where_annotated():
    rows = read("ethos").rows
    hateful = [r for r in rows if r["hate"] == 1]
    benign = [r for r in rows if r["hate"] == 0]
    assert len(hateful) == 3 and len(benign) == 2
    assert {r["violence"] for r in hateful} == {0, 1}  # "go kill yourself" row is violent
    assert {r["violence"] for r in benign} == {-1}


def test_hatemoji_pairs_share_a_group_and_keep_emoji():
    rows = {r["id"]: r for r in read("hatemoji_build").rows}
    # 0<->1 and 2<->3 are matched pairs across files; 4<->5 too.
    assert rows["0"]["group"] == rows["1"]["group"]
    assert rows["2"]["group"] == rows["3"]["group"]
    assert rows["4"]["group"] == rows["5"]["group"]
    assert rows["0"]["violence"] == 1 and rows["5"]["violence"] == 0 and rows["1"]["violence"] == -1
    assert "🔪" in rows["0"]["text"]


def test_stormfront_drops_relation_and_idk():
    got = read("stormfront")
    assert sum(got.dropped.values()) == 2
    assert all(r["group"].startswith("user:") and r["extremism"] == -1 for r in got.rows)


def test_counterspeech_replies_are_hard_negatives_and_abusive_rows_unused():
    got = read("counterspeech_reddit")
    rows = got.rows
    counter = [r for r in rows if r["context"] == "counter_speech"]
    assert counter and all(labels(r)[:3] == (0, 0, 0) for r in counter)
    # the source's "hate" (abusive replies, the 2023 parents) is not POLICY.md's hate: no row
    # carries it, as hate or as not-hate; each is counted where it was dropped
    assert all(r["hate"] != 1 for r in rows)
    assert not [r for r in rows if r["id"].startswith("y23:") and r["id"].count(":") == 1]
    dropped = {k: v for k, v in got.dropped.items() if "abusive" in k}
    assert sum(dropped.values()) >= 2 and any("parent" in k for k in dropped)
    # a 2023 reply is grouped by its parent, so a thread stays in one split
    replies = [r for r in rows if r["id"].startswith("y23:") and r["id"].count(":") == 2]
    assert replies and len({r["group"] for r in replies}) == 1


def test_hard_negatives_all_zero():
    for name, ctx in (("ag_news_test", "news"), ("quran_en", "religious")):
        rows = read(name).rows
        assert rows and all(labels(r) == (0, 0, 0, 0) and r["context"] == ctx for r in rows)


def test_missing_file_named(tmp_path):
    with pytest.raises(DataError, match="IsisFanboy.csv"):
        SOURCES["isis_fanboy_tweets"](tmp_path)


def test_missing_column_named(tmp_path):
    (tmp_path / "labeled_data.csv").write_text(",count,tweet\n0,3,hi\n")
    with pytest.raises(DataError, match=r"labeled_data\.csv.*class"):
        SOURCES["davidson_hate_offensive"](tmp_path)


def test_bad_label_names_file_and_row(tmp_path):
    shutil.copy(FIX / "toxigen_seed_sentences" / "toxigen_seed_sentences.csv", tmp_path)
    p = tmp_path / "toxigen_seed_sentences.csv"
    p.write_text(p.read_text() + "some text,asian,maybe,x.txt\n")
    with pytest.raises(DataError, match=r"toxigen_seed_sentences\.csv: row 5.*'maybe'"):
        SOURCES["toxigen_seed_sentences"](tmp_path)
