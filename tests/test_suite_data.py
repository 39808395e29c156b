"""Format checks for the hand-written evaluation suites under eval/suites/ (data, not code).

Covers the extremism functional suite (eval/suites/functional/cases.csv) and the identity
suite (eval/suites/identity/terms.csv, templates.csv): exact columns, allowed values,
minimum sizes, duplicates, pair structure. It leaves out whether the suites overlap the
training corpus (the evaluation tests check that) and whether any model passes them.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from veguard.data.normalize import normalize
from veguard.taxonomy import CATEGORIES, FLAGGING

ROOT = Path(__file__).resolve().parents[1] / "eval" / "suites"
CASES = ROOT / "functional" / "cases.csv"
TERMS = ROOT / "identity" / "terms.csv"
TEMPLATES = ROOT / "identity" / "templates.csv"

CASE_COLUMNS = [
    "case_id",
    "functionality",
    "text",
    "label",
    "category",
    "ideology",
    "target",
    "pair",
]
VIOLATING = {
    "support_named_group", "glorify_attack", "glorify_attacker", "recruit_join_travel",
    "recruit_fund", "incite_violence", "direct_threat", "propaganda_news", "dehumanisation",
    "obfuscated_support", "plain_language_advocacy",
}
CONTRASTS = {
    "news_reporting", "condemnation", "counter_speech_quote", "academic_analysis",
    "religious_practice", "victim_support", "negation", "neutral_mention", "hyperbole",
    "gaming_sport", "offensive_not_extremist",
}
IDEOLOGIES = {"is", "isk", "aq", "ttp", "shabaab", "white_supremacist", "accelerationist", "none"}
TARGETS = {
    "shia", "hazara", "christians", "jews", "muslims", "pashtuns", "women", "migrants",
    "journalists", "security_forces", "civilians", "none",
}


def read_csv(path: Path, columns: list[str]) -> list[dict[str, str]]:
    """Read a suite CSV, failing with the file name if its header is not exactly `columns`."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == columns, f"{path}: header {reader.fieldnames} != {columns}"
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        # A stray comma or quote shows up as an extra (None) key or a missing (None) value.
        assert None not in row and None not in row.values(), f"{path}:{line}: wrong field count"
        assert all(v.strip() == v and v for v in row.values()), (
            f"{path}:{line}: empty or padded field"
        )
    return rows


@pytest.fixture(scope="module")
def cases() -> list[dict[str, str]]:
    return read_csv(CASES, CASE_COLUMNS)


def test_case_values_are_allowed(cases):
    for row in cases:
        where = f"{CASES}: {row['case_id']}"
        assert row["label"] in {"0", "1"}, where
        assert row["functionality"] in VIOLATING | CONTRASTS, where
        # The label follows from the functionality: no violating case hides in a contrast set.
        assert (row["label"] == "1") == (row["functionality"] in VIOLATING), where
        assert row["ideology"] in IDEOLOGIES, where
        assert row["target"] in TARGETS, where
        assert row["category"] in CATEGORIES, where
        if row["label"] == "1":
            assert row["category"] in FLAGGING, where
        if row["functionality"] == "offensive_not_extremist":
            assert row["category"] == "offensive", where


def test_case_ids_unique_and_texts_short(cases):
    ids = Counter(r["case_id"] for r in cases)
    assert not [i for i, n in ids.items() if n > 1]
    for row in cases:
        assert re.fullmatch(r"fx\d{4}", row["case_id"]), row["case_id"]
        words = len(row["text"].split())
        assert 5 <= words <= 40, f"{row['case_id']}: {words} words"


def test_no_duplicate_texts(cases):
    # Compare after the project normalisation and case-folding: that is what the model sees.
    seen: dict[str, str] = {}
    for row in cases:
        key = normalize(row["text"]).casefold()
        assert key not in seen, f"{row['case_id']} duplicates {seen[key]}"
        seen[key] = row["case_id"]


def test_functionality_coverage(cases):
    counts = Counter(r["functionality"] for r in cases)
    assert len(cases) >= 420
    assert len(counts) >= 18
    assert VIOLATING <= counts.keys(), VIOLATING - counts.keys()
    assert CONTRASTS <= counts.keys(), CONTRASTS - counts.keys()
    small = {f: n for f, n in counts.items() if n < 15}
    assert not small, f"functionalities with fewer than 15 cases: {small}"


def test_ideologies_and_targets_covered(cases):
    assert {r["ideology"] for r in cases} == IDEOLOGIES
    assert {r["target"] for r in cases} == TARGETS


def test_pairs_hold_one_violating_case(cases):
    pairs: dict[str, list[str]] = defaultdict(list)
    for row in cases:
        pairs[row["pair"]].append(row["label"])
    for pair, labels in pairs.items():
        if pair.startswith("solo-"):
            assert labels == ["0"], f"solo pair {pair} must be one contrast"
        else:
            assert labels.count("1") == 1, f"pair {pair} needs exactly one violating case"
    mirrored = sum(1 for ls in pairs.values() if "1" in ls and "0" in ls)
    assert mirrored >= 100, f"only {mirrored} violating cases have a mirrored contrast"


def test_obfuscated_cases_are_obfuscated(cases):
    # Each must carry at least one trick: a digit inside a word, spaced or dotted letters,
    # non-ASCII letters (homoglyphs), or emoji.
    trick = re.compile(r"[A-Za-z]\d|\d[A-Za-z]|\b\w \w \w\b|\w\.\w|[^\x00-\x7f]")
    for row in cases:
        if row["functionality"] == "obfuscated_support":
            assert trick.search(row["text"]), row["case_id"]


def test_identity_terms():
    terms = read_csv(TERMS, ["term", "group"])
    assert len(terms) >= 25
    names = [t["term"].casefold() for t in terms]
    assert len(names) == len(set(names)), "duplicate term"
    for t in terms:
        assert re.fullmatch(r"[a-z_]+", t["group"]), t
        assert "{" not in t["term"] and "}" not in t["term"], t


def test_identity_templates():
    templates = read_csv(TEMPLATES, ["template_id", "template", "label"])
    labels = Counter(t["label"] for t in templates)
    assert set(labels) == {"0", "1"}
    assert labels["0"] >= 30 and labels["1"] >= 15, labels
    assert len({t["template_id"] for t in templates}) == len(templates)
    assert len({t["template"].casefold() for t in templates}) == len(templates)
    for t in templates:
        # Exactly one slot and no other braces, so filling is a plain replace.
        assert t["template"].count("{term}") == 1, t["template_id"]
        assert t["template"].replace("{term}", "").count("{") == 0, t["template_id"]
        assert t["template"].replace("{term}", "").count("}") == 0, t["template_id"]
