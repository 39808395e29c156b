"""Checks on the hand-written non-jihadist examples in `data/synthetic/other_*.jsonl`.

They cover white-supremacist/accelerationist and other movements, plain threats, hate,
offensive-only insults and their benign contrasts (hyperbole, gaming, reporting, ...).
Schema checks go through `veguard.data.synthetic.load_synthetic`, run on a copy of only these
files so another engineer's file cannot break (or hide a problem in) this test. What is checked
here is the shape of the set: size, balance, style mix, and that every violating example has a
matching contrast under the same `pair`. Whether a label is right is a human judgement, not a test.
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from veguard.data.normalize import normalize
from veguard.data.synthetic import BENIGN_KINDS, FLAGGING_LABELS, VIOLATING_KINDS, load_synthetic

ROOT = Path(__file__).resolve().parents[1] / "data" / "synthetic"
FILES = sorted(ROOT.glob("other_*.jsonl"))


def _positive(row: dict) -> bool:
    return any(row[label] == 1 for label in FLAGGING_LABELS)


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    assert FILES, f"no other_*.jsonl under {ROOT}"
    copy = tmp_path_factory.mktemp("other_synthetic")
    for path in FILES:
        shutil.copy(path, copy / path.name)
    # load_synthetic validates every field and refuses repeated texts (lower-cased).
    return load_synthetic(copy)


def test_enough_rows_all_synthetic_context(rows: list[dict]) -> None:
    assert len(rows) >= 1000
    assert {row["context"] for row in rows} == {"synthetic"}
    assert all(row["pair"].startswith("other:") for row in rows), "pair ids must not collide"


def test_no_duplicates_after_normalising(rows: list[dict]) -> None:
    # Stricter than the loader: the model sees normalize()d text, so compare that.
    keys = Counter(normalize(row["text"]).lower() for row in rows)
    repeated = [text for text, n in keys.items() if n > 1]
    assert not repeated, repeated[:5]


def test_positive_share_between_35_and_65_percent(rows: list[dict]) -> None:
    share = sum(_positive(row) for row in rows) / len(rows)
    assert 0.35 <= share <= 0.65, share


def test_labels_agree_with_kind(rows: list[dict]) -> None:
    for row in rows:
        if row["kind"] == "offensive_only":
            assert row["offensive"] == 1 and not _positive(row), row["text"]
        elif row["kind"] in VIOLATING_KINDS:
            assert _positive(row), row["text"]
        else:
            assert row["kind"] in BENIGN_KINDS and not _positive(row), row["text"]


def test_every_violating_pair_has_a_contrast(rows: list[dict]) -> None:
    by_pair: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_pair[row["pair"]].append(row)
    missing = [
        pair
        for pair, members in by_pair.items()
        if any(_positive(r) or r["kind"] == "offensive_only" for r in members)
        and not any(not _positive(r) and r["kind"] != "offensive_only" for r in members)
    ]
    assert not missing, missing[:10]
    violating_kinds = {r["kind"] for r in rows if _positive(r) or r["kind"] == "offensive_only"}
    assert {
        "glorification",
        "recruitment",
        "incitement",
        "threat",
        "propaganda",
        "dehumanisation",
        "offensive_only",
    } <= violating_kinds


def test_style_mix_of_positives(rows: list[dict]) -> None:
    styles = Counter(row["style"] for row in rows if _positive(row))
    total = sum(styles.values())
    assert styles["plain"] / total >= 0.40, styles
    # Obfuscated variants are derived from plain ones; they must stay a minority.
    assert 0 < styles["obfuscated"] / total <= 0.25, styles
    assert styles["jargon"] and styles["slang"] and styles["formal"], styles
    # Benign rows are obfuscated too, or odd spelling alone would teach "violation".
    benign_obfuscated = sum(row["style"] == "obfuscated" and not _positive(row) for row in rows)
    assert benign_obfuscated >= 0.3 * styles["obfuscated"], benign_obfuscated


def test_contrast_kinds_cover_the_exclusions(rows: list[dict]) -> None:
    kinds = {row["kind"] for row in rows if not _positive(row)}
    assert {
        "reporting",
        "condemnation",
        "counter_speech",
        "analysis",
        "victim_support",
        "negation",
        "neutral_mention",
        "hyperbole",
        "gaming",
        "fiction",
    } <= kinds


def test_lengths_vary_within_bounds(rows: list[dict]) -> None:
    # Obfuscation splits words into letters, so only hand-written rows are counted.
    lengths = [len(row["text"].split()) for row in rows if row["style"] != "obfuscated"]
    assert min(lengths) >= 3 and max(lengths) <= 60, (min(lengths), max(lengths))
    assert sum(n <= 12 for n in lengths) > 0.15 * len(lengths)
    assert sum(n >= 25 for n in lengths) > 0.05 * len(lengths)


def test_movements_and_targets_are_covered(rows: list[dict]) -> None:
    ideologies = {row["ideology"] for row in rows if _positive(row)}
    assert {
        "white_supremacist",
        "accelerationist",
        "eco_fascist",
        "anti_government",
        "incel",
        "none",
    } <= ideologies
    targets = {row["target"] for row in rows if row["hate"] == 1}
    assert {
        "migrants",
        "jews",
        "muslims",
        "black_people",
        "women",
        "lgbtq",
        "hazara",
        "roma",
    } <= targets
