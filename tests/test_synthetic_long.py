"""Checks on the hand-written long violating documents in `data/synthetic/long_violating_*.jsonl`.

They are whole documents (150-800 words) labelled as a reader would label them: propaganda
statements, agency-style claims, recruitment letters, manifestos, editorials and eulogies, and
ordinary long chatter with one or two violating sentences planted in it ("diluted", pair ids
`longv:dil-...`). Their benign long counterparts are written separately, so unlike the short
sets there is no contrast inside a pair here. Runs on a copy of only these files so another
engineer's file cannot break (or hide a problem in) it. Whether a label is right is a human
judgement; this checks the shape of the set.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from veguard.data.normalize import normalize
from veguard.data.synthetic import FLAGGING_LABELS, VIOLATING_KINDS, load_synthetic

ROOT = Path(__file__).resolve().parents[1] / "data" / "synthetic"
FILES = sorted(ROOT.glob("long_violating_*.jsonl"))
# The jargon list of tests/test_synthetic.py: a `plain` row must be advocacy in plain words.
JARGON = ("khilaf", "dawla", "mujahid", "taghut", "tawaghit", "murtad", "baqiyah", "hijrah",
          "bay'ah", "kuffar", "rafid", "shaheed", "mushrik", "inghimasi")


def _words(row: dict) -> int:
    return len(row["text"].split())


def _diluted(row: dict) -> bool:
    return row["pair"].startswith("longv:dil-")


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    assert FILES, f"no long_violating_*.jsonl under {ROOT}"
    copy = tmp_path_factory.mktemp("long_violating")
    for path in FILES:
        shutil.copy(path, copy / path.name)
    return load_synthetic(copy)  # validates every field, refuses repeated texts


def test_size_namespace_and_labels(rows: list[dict]) -> None:
    assert len(rows) >= 130
    assert all(r["pair"].startswith("longv:") for r in rows), "pair ids must not collide"
    assert len({r["pair"] for r in rows}) == len(rows), "one document per pair"
    assert {r["context"] for r in rows} == {"synthetic"}
    # Every document is violating as a whole, on a violating kind.
    assert all(r["kind"] in VIOLATING_KINDS for r in rows)
    assert all(any(r[label] == 1 for label in FLAGGING_LABELS) for r in rows)


def test_lengths_are_long_documents(rows: list[dict]) -> None:
    short_or_long = [(r["pair"], _words(r)) for r in rows if not 150 <= _words(r) <= 800]
    assert not short_or_long, short_or_long
    typical = sum(200 <= _words(r) <= 450 for r in rows) / len(rows)
    assert typical >= 0.6, typical
    # A few run well past the typical length: one document, many model windows.
    assert sum(_words(r) > 450 for r in rows) >= 5


def test_whole_documents_and_diluted_violations(rows: list[dict]) -> None:
    diluted = [r for r in rows if _diluted(r)]
    whole = [r for r in rows if not _diluted(r)]
    assert len(diluted) >= 35 and len(whole) >= 85, (len(diluted), len(whole))
    for group in (whole, diluted):
        kinds = Counter(r["kind"] for r in group)
        assert {"support", "recruitment", "threat", "glorification", "incitement"} <= set(kinds)
    assert set(Counter(r["kind"] for r in whole)) == set(VIOLATING_KINDS)
    # Diluted chatter is not only jihadist: plain threats and hate with no movement are there.
    assert sum(r["ideology"] == "none" for r in diluted) >= 5


def test_movements_and_styles_vary(rows: list[dict]) -> None:
    ideologies = Counter(r["ideology"] for r in rows)
    assert {"islamic_state", "iskp", "al_qaeda", "ttp", "al_shabaab", "iswap_boko_haram",
            "white_supremacist", "accelerationist"} <= set(ideologies), ideologies
    styles = Counter(r["style"] for r in rows)
    assert set(styles) == {"plain", "jargon", "slang", "formal", "obfuscated"}, styles
    assert styles["plain"] / len(rows) >= 0.35, styles
    assert styles["obfuscated"] / len(rows) <= 0.1, styles


def test_plain_documents_carry_no_jargon(rows: list[dict]) -> None:
    bad = [(r["pair"], [w for w in JARGON if w in r["text"].lower()])
           for r in rows if r["style"] == "plain"]
    assert not [b for b in bad if b[1]]


def test_no_near_duplicates_after_normalising(rows: list[dict]) -> None:
    keys = Counter(normalize(r["text"]).lower() for r in rows)
    assert not [t for t, n in keys.items() if n > 1]
    # Documents do not share an opening either (a template reused with one word swapped).
    openings = Counter(" ".join(normalize(r["text"]).lower().split()[:12]) for r in rows)
    assert not [t for t, n in openings.items() if n > 1]


TWINS = ROOT / "diluted_benign_twins.jsonl"


def test_every_diluted_document_has_a_benign_twin_that_keeps_its_chatter(
        rows: list[dict], tmp_path: Path) -> None:
    # The twin is the same chatter with the violating sentences removed or replaced, labelled
    # benign and sharing the pair id (so the same split): without it, long everyday chatter
    # appears only in violating documents and becomes a violation cue.
    shutil.copy(TWINS, tmp_path / TWINS.name)
    twins = {r["pair"]: r for r in load_synthetic(tmp_path)}
    diluted = {r["pair"]: r for r in rows if _diluted(r)}
    assert set(twins) == set(diluted)
    for pair, twin in twins.items():
        assert not any(twin[label] == 1 for label in FLAGGING_LABELS), pair
        assert twin["kind"] not in VIOLATING_KINDS, pair
        source = diluted[pair]["text"]
        assert twin["text"] != source, pair
        paragraphs = [p for p in source.split("\n\n") if p.strip()]
        kept = sum(p in twin["text"] for p in paragraphs)
        assert kept >= len(paragraphs) // 2, (pair, kept, len(paragraphs))
