"""The build: dedup, conflict rule, leakage-free splits, suite exclusion, decisions, CLI."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from veguard.data import cli
from veguard.data.corpus import adapt_synthetic, build_corpus, load_corpus, suite_texts
from veguard.data.decisions import read_decisions
from veguard.data.dedup import (
    assign_splits,
    dedup_key,
    near_duplicate_pairs,
    resolve_duplicates,
    split_of,
)
from veguard.data.sources import DataError
from veguard.taxonomy import SPLITS

FIX = Path(__file__).parent / "fixtures" / "data"
LONG = ("the convoy moved north along the river road before dawn and reached the old bridge "
        "where the villagers had gathered to watch the trucks pass slowly")


def row(text, source="davidson_hate_offensive", hate=0, ext=-1, vio=-1, off=-1, group=None,
        id_=None):
    return {"id": id_ or f"{source}:{text[:20]}", "text": text, "extremism": ext,
            "violence": vio, "hate": hate, "offensive": off, "context": "social",
            "source": source, "group": group or text[:10]}


def resolve(rows):
    stats = Counter()
    near = near_duplicate_pairs([dedup_key(r["text"]) for r in rows])
    kept, near = resolve_duplicates(rows, near, stats)
    return kept, near, stats


# ------------------------------------------------------------------ dedup and conflicts

def test_exact_duplicates_case_folded_collapse():
    kept, _, stats = resolve([row("Death to them all"), row("death to THEM all"), row("hello")])
    assert len(kept) == 2 and stats["exact duplicate: dropped"] == 1


def test_near_duplicates_collapse_and_unrelated_do_not():
    variant = LONG.replace("slowly", "quickly")
    kept, _, stats = resolve([row(LONG), row(variant), row("a completely different sentence here")])
    assert len(kept) == 2 and stats["near duplicate: dropped"] == 1
    assert near_duplicate_pairs([dedup_key(LONG), dedup_key(variant)]) == [(0, 1)]
    assert near_duplicate_pairs([dedup_key(LONG), "something else entirely, nothing shared"]) == []


def test_conflict_same_source_positive_wins():
    kept, _, stats = resolve([row("they are vermin", hate=0), row("They are vermin", hate=1)])
    assert len(kept) == 1 and kept[0]["hate"] == 1
    assert stats["exact duplicate: label conflict, same source (positive wins)"] == 1


def test_conflict_across_sources_priority_source_wins():
    # ethos is more specific than davidson in SOURCE_PRIORITY; its negative is kept.
    kept, _, stats = resolve([row("they are vermin", hate=1),
                              row("they are vermin", source="ethos", hate=0)])
    assert len(kept) == 1 and kept[0]["source"] == "ethos" and kept[0]["hate"] == 0
    assert stats["exact duplicate: label conflict, across sources (priority source wins)"] == 1


def test_minimal_pairs_survive_near_dedup():
    a = LONG + " 🔪"
    b = LONG + " 👏"
    kept, _near, _ = resolve([row(a, source="hatemoji_build", hate=1, group="p1"),
                             row(b, source="hatemoji_build", hate=0, group="p1")])
    assert len(kept) == 2 and {r["hate"] for r in kept} == {0, 1}


def test_review_decision_beats_source_label():
    kept, _, _ = resolve([row("kill count rising in my game", hate=1),
                          row("kill count rising in my game", source="review_queue", hate=0)])
    assert len(kept) == 1 and kept[0]["source"] == "review_queue" and kept[0]["hate"] == 0


# ------------------------------------------------------------------ splits

def test_split_of_is_stable_and_roughly_80_10_10():
    assert split_of("user:abc") == split_of("user:abc")
    got = Counter(split_of(f"g{i}") for i in range(5000))
    assert set(got) == set(SPLITS)
    assert 0.77 < got["train"] / 5000 < 0.83 and 0.08 < got["test"] / 5000 < 0.12


def test_near_duplicate_cluster_never_crosses_splits():
    # 40 distinct groups each holding a near-copy of LONG: one cluster -> one split.
    rows = [row(LONG.replace("slowly", f"slowly{i}"), source="hatemoji_build", group=f"g{i}",
                hate=i % 2) for i in range(40)]
    kept, near, _ = resolve(rows)
    assert len(kept) == 40 and near  # kept as minimal pairs, linked as near-duplicates
    assign_splits(kept, near)
    assert len({r["split"] for r in kept}) == 1


def fixture_build(tmp_path, **kw):
    return build_corpus(raw=FIX, synthetic=None, out=tmp_path / "out",
                        suites=kw.pop("suites", tmp_path / "no_suites"), **kw)


def test_fixture_build_has_no_leakage(tmp_path):
    df, stats = fixture_build(tmp_path)
    assert set(df["split"]) <= set(SPLITS)
    per_group = df.groupby(["source", "group"])["split"].nunique()
    assert (per_group == 1).all()
    keys = [dedup_key(t) for t in df["text"]]
    assert len(set(keys)) == len(keys)  # no exact duplicates left
    for i, j in near_duplicate_pairs(keys):
        assert df["split"][i] == df["split"][j]
    assert df["id"].is_unique and all(df["id"].str.contains(":"))
    assert (tmp_path / "out" / "corpus.parquet").is_file()
    assert stats["dropped"]["stormfront: label relation (no sentence-level label)"] == 1


def test_suite_texts_are_excluded_from_train_and_validation(tmp_path):
    df, _ = fixture_build(tmp_path)
    victims = df[df["split"] != "test"]["text"].head(3).tolist()
    suites = tmp_path / "suites" / "sub"
    suites.mkdir(parents=True)
    pd.DataFrame({"text": [v.upper() + "\u200b" for v in victims], "label": 1}).to_csv(
        suites / "s.csv", index=False)
    assert suite_texts(tmp_path / "suites") == {dedup_key(v) for v in victims}
    df2, stats = fixture_build(tmp_path, suites=tmp_path / "suites")
    assert not set(victims) & set(df2["text"])
    assert sum(n for k, n in stats["dropped"].items() if "evaluation suite" in k) == 3
    assert len(df2) == len(df) - 3


def test_suite_templates_expanded_and_other_csvs_skipped(tmp_path):
    (tmp_path / "terms.csv").write_text("term,group\nMuslim,muslims\nShia,shia\n")
    (tmp_path / "templates.csv").write_text("template_id,template,label\nt1,I am {term}.,0\n")
    assert suite_texts(tmp_path) == {"i am muslim.", "i am shia."}
    assert suite_texts(tmp_path / "absent") == set()


def test_unparsable_suite_is_an_error(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"text\n\xff\xfe bad bytes\n")
    with pytest.raises(DataError, match="bad.csv"):
        suite_texts(tmp_path)


# ------------------------------------------------------------------ synthetic and decisions

def test_adapt_synthetic_rows():
    rows = [{"text": "Join the caravan", "extremism": 1, "violence": 0, "hate": 0,
             "offensive": None, "kind": "recruitment", "context": "synthetic",
             "ideology": "is", "target": None, "style": "plain", "pair": "p7"}]
    got = adapt_synthetic(rows, "veguard_synthetic")
    assert got[0]["offensive"] == -1 and got[0]["group"] == "p7"
    assert got[0]["id"].startswith("veguard_synthetic:") and got[0]["source"] == "veguard_synthetic"
    with pytest.raises(DataError, match="context"):
        adapt_synthetic([dict(rows[0], context="forum")], "veguard_synthetic")


GOOD = {"id": "d1", "text": "this traffic is murder", "extremism": 0, "violence": 0, "hate": 0,
        "offensive": -1, "context": "review", "source": "review_queue", "group": "d1"}


def write_jsonl(path, objs):
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs))
    return path


def test_decisions_included_in_build(tmp_path):
    p = write_jsonl(tmp_path / "d.jsonl", [GOOD])
    df, _ = fixture_build(tmp_path, decisions=[p])
    got = df[df["source"] == "review_queue"]
    assert got["id"].tolist() == ["review_queue:d1"] and got["context"].tolist() == ["review"]


@pytest.mark.parametrize("bad, message", [
    ("{not json", "broken JSON"),  # the shared JSONL reader's wording (was "not valid JSON")
    (dict(GOOD, hate=2), "'hate' must be 1, 0 or -1"),
    (dict(GOOD, hate=True), "'hate' must be 1, 0 or -1"),
    ({k: v for k, v in GOOD.items() if k != "group"}, "missing field"),
    (dict(GOOD, extra=1), "unexpected field"),
    (dict(GOOD, context="social"), "'context' must be 'review'"),
    (dict(GOOD, text=""), "'text' must be a non-empty string"),
])
def test_decisions_validation_names_file_and_line(tmp_path, bad, message):
    p = write_jsonl(tmp_path / "d.jsonl", [GOOD, "", bad])
    with pytest.raises(DataError) as err:
        read_decisions(p)
    assert f"{p}:3" in str(err.value) and message in str(err.value)


# ------------------------------------------------------------------ CLI and loading

def test_cli_missing_source_exits_2_naming_file(tmp_path, capsys):
    raw = tmp_path / "raw"
    for d in FIX.iterdir():
        (raw / d.name).mkdir(parents=True)
    rc = cli.main(["build", "--raw", str(raw), "--out", str(tmp_path / "o"),
                   "--card", str(tmp_path / "card.md")])
    err = capsys.readouterr().err
    assert rc == 2 and "IsisFanboy.csv" in err and "not found" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_cli_missing_decisions_file(tmp_path, capsys):
    rc = cli.main(["build", "--raw", str(FIX), "--out", str(tmp_path / "o"),
                   "--decisions", str(tmp_path / "nope.jsonl"), "--card", str(tmp_path / "c.md")])
    assert rc == 2 and "nope.jsonl" in capsys.readouterr().err


def test_cli_build_writes_corpus_and_card(tmp_path, capsys):
    rc = cli.main(["build", "--raw", str(FIX), "--synthetic", str(tmp_path / "none"),
                   "--out", str(tmp_path / "o"), "--card", str(tmp_path / "card.md"),
                   "--suites", str(tmp_path / "suites")])
    assert rc == 0
    df = load_corpus(tmp_path / "o" / "corpus.parquet")
    assert str(df["hate"].dtype) == "int8" and set(df["source"]) >= {"quran_en", "stormfront"}
    card = (tmp_path / "card.md").read_text()
    assert f"**{len(df)} rows**" in card and "synthetic data skipped" in card


def test_load_corpus_missing_says_how_to_build(tmp_path):
    with pytest.raises(FileNotFoundError, match="veguard data build"):
        load_corpus(tmp_path / "missing.parquet")
