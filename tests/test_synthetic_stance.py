"""Checks on the hate-side stance data: `data/synthetic/stance_*.jsonl` and its templates.

The rows are expanded from hand-written templates in `data/synthetic/stance/*.yaml` by
`scripts/make_stance_data.py`. These tests check that the committed JSONL is what the script
writes (so the templates are the source of truth), and the shape the data must have to teach
stance rather than topic: enough rows and templates, contrast sets across many groups in which
no group name predicts the label, every violating set with benign contrasts, greetings for
many faiths, benign posts in many scripts, and emoji used both ways. Whether a label is right
is a human judgement, not a test. Schema checks go through `load_synthetic`, on a copy of
these files only, so another engineer's file cannot break (or hide a problem in) them.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml

from veguard.data.normalize import normalize
from veguard.data.synthetic import FLAGGING_LABELS, load_synthetic

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "data" / "synthetic"
FILES = sorted(ROOT.glob("stance_*.jsonl"))


def _positive(row: dict) -> bool:
    return any(row[label] == 1 for label in FLAGGING_LABELS)


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_stance_data",
                                                  REPO / "scripts" / "make_stance_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    assert FILES, f"no stance_*.jsonl under {ROOT}"
    copy = tmp_path_factory.mktemp("stance_synthetic")
    for path in FILES:
        shutil.copy(path, copy / path.name)
    return load_synthetic(copy)


def _file(rows: list[dict], name: str) -> list[dict]:
    return [r for r in rows if r["file"] == name]


def test_committed_files_are_what_the_script_writes(script) -> None:
    out = script.build()
    assert {p.name for p in FILES} == set(out)
    for name, built in out.items():
        committed = (ROOT / name).read_text(encoding="utf-8")
        assert committed == script.render(built), f"{name} is stale: rerun the script"
    # Deterministic: a second build is identical.
    assert script.build() == out


def test_size_namespace_and_no_normalised_duplicates(rows: list[dict]) -> None:
    assert len(rows) >= 3000
    assert all(r["pair"].startswith("stance:") for r in rows), "pair ids must not collide"
    keys = Counter(normalize(r["text"]).lower() for r in rows)
    assert not [t for t, n in keys.items() if n > 1]


def test_many_distinct_hand_written_templates() -> None:
    templates = set()
    for path in sorted((ROOT / "stance").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key in ("sets", "criticism_sets", "religion_sets", "festival_sets", "practice_sets"):
            for s in data.get(key, []):
                templates.update(row[2] for row in s["rows"])
    assert len(templates) >= 250, len(templates)


def test_groups_do_not_predict_the_label(rows: list[dict]) -> None:
    groups = _file(rows, "stance_groups.jsonl")
    by_target: dict[str, list[dict]] = defaultdict(list)
    for row in groups:
        by_target[row["target"]].append(row)
    big = {t: rs for t, rs in by_target.items() if len(rs) >= 40}
    assert len(big) >= 15, sorted(big)
    shares = {t: sum(map(_positive, rs)) / len(rs) for t, rs in big.items()}
    # Every group gets hateful and benign rows in similar proportions.
    assert all(0.15 <= s <= 0.50 for s in shares.values()), shares
    assert max(shares.values()) - min(shares.values()) <= 0.25, shares


def test_every_set_is_swapped_across_groups_and_has_both_stances(rows: list[dict]) -> None:
    by_pair: dict[str, list[dict]] = defaultdict(list)
    for row in _file(rows, "stance_groups.jsonl") + _file(rows, "stance_faith.jsonl"):
        by_pair[row["pair"]].append(row)
    for pair, members in by_pair.items():
        assert len({r["target"] for r in members}) >= 8, pair
        assert any(map(_positive, members)) and not all(map(_positive, members)), pair


def test_benign_kinds_of_the_hate_side_are_all_present(rows: list[dict]) -> None:
    kinds = Counter(r["kind"] for r in rows if not _positive(r))
    for kind, least in (("positive", 100), ("pro_diversity", 100), ("criticism", 50),
                        ("reclaimed", 30), ("profanity", 20), ("object_abuse", 50),
                        ("greeting", 100), ("foreign_language", 250), ("negation", 100),
                        ("counter_speech", 100), ("neutral_mention", 100)):
        assert kinds[kind] >= least, (kind, kinds[kind])
    # Criticism of an institution sits beside dehumanising its people, in the same pairs.
    crit_pairs = {r["pair"] for r in rows if r["kind"] == "criticism"}
    assert all(any(_positive(r) for r in rows if r["pair"] == p) for p in crit_pairs)


def test_faith_greetings_cover_at_least_eight_faiths(rows: list[dict]) -> None:
    greetings = [r for r in rows if r["kind"] == "greeting"]
    assert len({r["target"] for r in greetings if r["target"]}) >= 8
    for word in ("Eid", "Diwali", "Vaisakhi", "Christmas", "Hanukkah", "Easter", "Nowruz",
                 "Vesak"):
        assert any(word in r["text"] for r in greetings), word


def _scripts(text: str) -> set[str]:
    return {unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha()}


def test_foreign_posts_span_languages_and_scripts(rows: list[dict]) -> None:
    foreign = _file(rows, "stance_foreign.jsonl")
    assert all(r["kind"] == "foreign_language" and not _positive(r) for r in foreign)
    assert len({r["pair"] for r in foreign}) >= 15
    seen = set().union(*(_scripts(r["text"]) for r in foreign))
    assert {"ARABIC", "CYRILLIC", "CJK", "DEVANAGARI", "BENGALI", "GURMUKHI", "HEBREW",
            "LATIN"} <= seen, seen
    arabic_script = [r for r in foreign if "ARABIC" in _scripts(r["text"])]
    # Arabic, Urdu, Persian, Dari and Pashto: the script the current model treats as extremism.
    assert len(arabic_script) >= 75


EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF]")


def test_emoji_are_used_both_ways(rows: list[dict]) -> None:
    emoji_rows = [r for r in rows if EMOJI.search(r["text"])]
    assert len(emoji_rows) >= 180
    for emoji in ("🐀", "🔪", "🏳️‍🌈", "💣", "🐍", "🤮"):
        labels = {_positive(r) for r in emoji_rows if emoji in r["text"]}
        assert labels == {True, False}, emoji


def test_no_links_handles_or_contact_details(rows: list[dict]) -> None:
    # Violating examples must stay non-operational and name no real private person.
    bad = re.compile(r"https?://|www\.|@\w|\b\d{5,}\b")
    assert not [r["text"] for r in rows if bad.search(r["text"])]
