"""Format and structure checks for the development suite (eval/suites/development/).

The suite is data written apart from the training data (its README says how); these tests
keep its shape honest as it is edited: columns and allowed values, a label that follows from
the functionality, unique ids and texts, minimal pairs that really hold both labels, the
faith-swap and other-language sets, the long-form share, and no text shared with the other
suites. It leaves out overlap with training data (tests/test_eval_no_overlap.py) and how any
model scores on it (`veguard eval --suite development`).
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from veguard.data.normalize import normalize
from veguard.evaluation.suites import discover, load_functional_cases, load_identity_cases
from veguard.taxonomy import FLAGGING

SUITES = Path(__file__).resolve().parents[1] / "eval" / "suites"
CASES = SUITES / "development" / "cases.csv"
COLUMNS = ["case_id", "functionality", "text", "label", "category", "ideology", "target", "faith",
           "language", "register", "length", "genre", "pair"]
VIOLATING = {
    "support", "support_plain", "glorification", "recruitment", "incitement", "threat",
    "hate_dehumanising", "hate_generalisation", "hate_people", "hate_sectarian",
    "quote_endorsed", "emoji_hate", "jargon", "obfuscated", "propaganda_agency",
    "code_mixed_violating", "longform_violating", "diluted_violation", "faith_hate",
}
BENIGN = {
    "faith_practice", "proud_identity", "identity_positive", "identity_neutral", "negated_hate",
    "counter_speech_quote", "counter_speech_refer", "pro_diversity_policy", "condemnation",
    "news_report", "analysis", "mourning", "deradicalisation", "criticism_institution",
    "neutral_names", "reclaimed_ingroup", "profanity_nobody", "abuse_nonprotected", "hyperbole",
    "gaming_sport", "emoji_benign", "other_language", "code_mixed_benign", "longform_benign",
    "long_chatter",
}
FAITHS = {"islam", "christianity", "hinduism", "sikhism", "judaism", "buddhism", "bahai",
          "jainism"}
LANGUAGES = {"ar", "ur", "fa", "ps", "ru", "zh", "hi", "tr", "tg", "uz", "ur-Latn"}
IDEOLOGIES = {"", "is", "is-k", "al-qaeda", "ttp", "al-shabaab", "boko-haram", "accelerationist"}
REGISTERS = {"plain", "jargon", "obfuscated", "emoji"}


@pytest.fixture(scope="module")
def cases() -> list[dict[str, str]]:
    with CASES.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS, f"{CASES}: header {reader.fieldnames}"
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        # A stray comma or quote shows up as an extra (None) key or a missing (None) value.
        assert None not in row and None not in row.values(), f"{CASES}:{line}: wrong field count"
        assert all(v.strip() == v for v in row.values()), f"{CASES}:{line}: padded field"
    return rows


def test_values_follow_the_functionality(cases):
    for row in cases:
        where = f"{CASES}: {row['case_id']}"
        assert row["functionality"] in VIOLATING | BENIGN, where
        assert row["label"] == ("1" if row["functionality"] in VIOLATING else "0"), where
        if row["label"] == "1":
            assert row["category"] in FLAGGING, where
            assert row["register"] in REGISTERS, where
        else:
            assert row["category"] == "" and row["register"] == "", where
        assert row["ideology"] in IDEOLOGIES, where
        assert row["faith"] in FAITHS | {""}, where
        assert re.fullmatch(r"[a-z_]*", row["target"]), where
        lang = row["language"]
        assert lang == "en" or lang in LANGUAGES or (
            lang.endswith("+en") and lang[:-3] in LANGUAGES), where


def test_ids_and_texts_unique(cases):
    ids = Counter(r["case_id"] for r in cases)
    assert not [i for i, n in ids.items() if n > 1]
    seen: dict[str, str] = {}
    for row in cases:
        assert re.fullmatch(rf"dev-{row['functionality']}-\d{{3}}", row["case_id"]), row["case_id"]
        assert row["text"].strip(), row["case_id"]
        key = normalize(row["text"]).casefold()
        assert key not in seen, f"{row['case_id']} duplicates {seen[key]}"
        seen[key] = row["case_id"]


def test_size_and_balance(cases):
    assert 550 <= len(cases) <= 750, len(cases)
    share = sum(r["label"] == "1" for r in cases) / len(cases)
    assert 0.33 <= share <= 0.45, f"violating share {share:.2f}"
    counts = Counter(r["functionality"] for r in cases)
    assert (VIOLATING | BENIGN) == counts.keys(), (VIOLATING | BENIGN) ^ counts.keys()
    assert len({r["target"] for r in cases if r["functionality"] == "identity_positive"}) >= 15


def test_pairs_are_minimal_contrasts(cases):
    pairs: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in cases:
        if row["pair"]:
            pairs[row["pair"]].append(row)
    stance_pairs = 0
    for name, rows in pairs.items():
        labels = {r["label"] for r in rows}
        if name.startswith("faith-"):
            # The same sentence with only the faith swapped: one case per faith, all benign.
            assert labels == {"0"} and sorted(r["faith"] for r in rows) == sorted(FAITHS), name
        elif name != "proud":
            assert labels == {"0", "1"}, f"pair {name} must hold a benign and a violating case"
            stance_pairs += 1
    assert sum(n.startswith("faith-") for n in pairs) >= 5
    assert stance_pairs >= 80, stance_pairs


def test_emoji_pairs_differ_only_in_emoji(cases):
    pairs: dict[str, list[str]] = defaultdict(list)
    for row in cases:
        if row["functionality"] in ("emoji_benign", "emoji_hate"):
            pairs[row["pair"]].append(row["text"])
    assert len(pairs) >= 10
    for name, (a, b) in pairs.items():
        words = re.compile(r"[A-Za-z']+")
        assert words.findall(a) == words.findall(b), name


def test_other_languages_and_long_form(cases):
    foreign = [r for r in cases if r["functionality"] == "other_language"]
    assert len(foreign) >= 60 and {r["label"] for r in foreign} == {"0"}
    assert {r["language"] for r in foreign} == LANGUAGES
    for row in cases:
        long = len(row["text"].split()) >= 150
        assert row["length"] == ("long" if long else "short"), row["case_id"]
        if row["functionality"].startswith("longform_"):
            assert long and row["genre"], row["case_id"]
    labels = Counter(r["label"] for r in cases if r["length"] == "long")
    assert labels["0"] >= 8 and labels["1"] >= 5, labels


def test_no_text_shared_with_the_other_suites(cases):
    others: dict[str, str] = {}
    for suite in discover(SUITES).values():
        if suite.name == "development":
            continue
        if suite.kind == "functional":
            texts = [c["text"] for c in load_functional_cases(suite)]
        elif suite.kind == "identity":
            texts = [c["text"] for c in load_identity_cases(suite)[0]]
        else:
            continue
        others.update({normalize(t).casefold(): suite.name for t in texts})
    assert len(others) > 100
    shared = [r["case_id"] for r in cases if normalize(r["text"]).casefold() in others]
    assert not shared, shared
