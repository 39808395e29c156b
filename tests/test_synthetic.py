"""Tests for the synthetic loader, the contrast augmentation, and the jihadist example set.

Loader and augmentation tests use tiny inline rows in tmp_path. The set checks run on a
copy of `data/synthetic/jihadist_*.jsonl` only, so another engineer's file cannot break (or
hide a problem in) them; one test loads the whole folder as the corpus builder does.
Whether a given label is right is a human judgement; these tests check schema, shape,
balance and that contrasts exist.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from veguard.data.augment import (
    MAX_QUOTE_WORDS,
    OBFUSCATIONS,
    load_frames,
    make_contrasts,
    obfuscate,
)
from veguard.data.normalize import normalize
from veguard.data.synthetic import (
    BENIGN_KINDS,
    FLAGGING_LABELS,
    VIOLATING_KINDS,
    count_table,
    load_synthetic,
)
from veguard.taxonomy import CONTEXTS

ROOT = Path(__file__).resolve().parents[1] / "data" / "synthetic"
JIHADIST = sorted(ROOT.glob("jihadist_*.jsonl"))

GOOD = {"text": "They did the right thing at the market.", "extremism": 1, "violence": 1,
        "hate": 0, "offensive": 0, "kind": "glorification", "context": "synthetic",
        "ideology": "jihadist_unnamed", "target": "civilians", "style": "plain", "pair": "t:1"}


def _positive(row: dict) -> bool:
    return any(row[label] == 1 for label in FLAGGING_LABELS)


def _write(folder: Path, name: str, rows: list[object]) -> Path:
    path = folder / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


# ---- loader -------------------------------------------------------------------------------

def test_loader_reads_good_rows_and_adds_stable_ids(tmp_path: Path) -> None:
    other = dict(GOOD, text="A bomb hit the market on Friday.", kind="reporting",
                 extremism=0, violence=0, context="news")
    _write(tmp_path, "a.jsonl", [GOOD, "", other])
    rows = load_synthetic(tmp_path)
    assert [r["kind"] for r in rows] == ["glorification", "reporting"]
    assert rows[0]["file"] == "a.jsonl" and rows[0]["id"].startswith("a:")
    # Reordering the file keeps each text's id.
    _write(tmp_path, "a.jsonl", [other, GOOD])
    assert {r["id"] for r in load_synthetic(tmp_path)} == {r["id"] for r in rows}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"extremism": 2}, "extremism"),
        ({"violence": True}, "violence"),
        ({"offensive": "yes"}, "offensive"),
        ({"kind": "praise"}, "kind"),
        ({"context": "twitter"}, "context"),
        ({"style": "poetic"}, "style"),
        ({"text": "   "}, "text"),
        ({"pair": ""}, "pair"),
        ({"target": 3}, "target"),
        ({"colour": "red"}, "colour"),
        # Label/kind disagreement: a contrast must not silently be a positive, and vice versa.
        ({"kind": "reporting"}, "kind"),
        ({"extremism": 0, "violence": 0}, "kind"),
    ],
)
def test_loader_names_file_line_and_field(tmp_path: Path, change: dict, field: str) -> None:
    fine = dict(GOOD, text="Another fine row.")
    _write(tmp_path, "bad.jsonl", [fine, dict(GOOD, **change)])
    with pytest.raises(ValueError, match=rf"^bad\.jsonl:2:{field}: "):
        load_synthetic(tmp_path)


def test_loader_reports_missing_field_bad_json_and_duplicates(tmp_path: Path) -> None:
    missing = {k: v for k, v in GOOD.items() if k != "style"}
    _write(tmp_path, "m.jsonl", [missing])
    with pytest.raises(ValueError, match=r"^m\.jsonl:1:style: missing"):
        load_synthetic(tmp_path)
    (tmp_path / "m.jsonl").unlink()
    _write(tmp_path, "j.jsonl", [GOOD, "{not json"])
    with pytest.raises(ValueError, match=r"^j\.jsonl:2:<json>: invalid JSON"):
        load_synthetic(tmp_path)
    (tmp_path / "j.jsonl").unlink()
    _write(tmp_path, "d1.jsonl", [GOOD])
    _write(tmp_path, "d2.jsonl", [dict(GOOD, text="  THEY did the right thing at the market. ")])
    with pytest.raises(ValueError, match=r"^d2\.jsonl:1:text: duplicate of d1\.jsonl:1"):
        load_synthetic(tmp_path)


def test_loader_refuses_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        load_synthetic(tmp_path / "nope")


# ---- contrast augmentation ----------------------------------------------------------------

SOURCES = [
    dict(GOOD, pair="p:1"),
    {"text": "\"Join the brothers, make the journey.\"", "id": "isis_tweets:42"},
    {"text": "word " * (MAX_QUOTE_WORDS + 1), "id": "too:long"},
    dict(GOOD, text="A neutral report.", kind="reporting", extremism=0, violence=0, pair="p:2"),
]


def test_frames_file_is_valid_and_varied() -> None:
    frames = load_frames()
    assert len(frames) >= 40
    kinds = Counter(f["kind"] for f in frames)
    assert {"reporting", "condemnation", "counter_speech", "analysis", "court_report"} <= set(kinds)
    assert all(f["kind"] in BENIGN_KINDS and f["context"] in CONTEXTS for f in frames)


def test_frames_file_errors_name_the_frame(tmp_path: Path) -> None:
    path = tmp_path / "frames.yaml"
    path.write_text("frames:\n  - {id: a, kind: reporting, context: news, text: 'no quote'}\n")
    with pytest.raises(ValueError, match=r"frames\.yaml:frames\[0\]:text"):
        load_frames(path)
    path.write_text("frames:\n  - {id: a, kind: threat, context: news, text: '{quote}'}\n")
    with pytest.raises(ValueError, match=r"frames\[0\]:kind"):
        load_frames(path)


def test_make_contrasts_labels_pairs_and_skips() -> None:
    out = make_contrasts(SOURCES, seed=3, per_row=2)
    # Two violating, short sources x 2 frames; the long one and the benign one give nothing.
    assert len(out) == 4
    assert {r["pair"] for r in out} == {"p:1", "isis_tweets:42"}
    frames = {f["kind"]: f["context"] for f in load_frames()}
    for row in out:
        assert (row["extremism"], row["violence"], row["hate"]) == (0, 0, 0)
        assert row["kind"] in BENIGN_KINDS and row["context"] == frames[row["kind"]]
        assert "{quote}" not in row["text"]
    tweet = [r for r in out if r["pair"] == "isis_tweets:42"]
    # Outer quotes are stripped so the frame's own quotation marks do not double up.
    assert all("Join the brothers, make the journey." in r["text"] for r in tweet)
    assert not any('""Join' in r["text"] for r in tweet)
    assert len({r["id"] for r in out}) == len(out)


def test_make_contrasts_deterministic_and_order_independent() -> None:
    first = make_contrasts(SOURCES, seed=7)
    assert first == make_contrasts(SOURCES, seed=7)
    assert sorted(first, key=lambda r: r["id"]) == sorted(
        make_contrasts(list(reversed(SOURCES)), seed=7), key=lambda r: r["id"])
    many = [dict(GOOD, text=f"Row number {i} praises the attack.", pair=f"p:{i}")
            for i in range(40)]
    frames_7 = [r["id"].split(":")[-2] for r in make_contrasts(many, seed=7)]
    frames_8 = [r["id"].split(":")[-2] for r in make_contrasts(many, seed=8)]
    assert frames_7 != frames_8  # the seed matters
    assert len(set(frames_7)) > 10  # and frames are spread, not one reused


def test_make_contrasts_treats_braces_in_text_literally() -> None:
    out = make_contrasts([{"text": "they said {0} and {quote}", "id": "x"}], seed=0)
    assert "they said {0} and {quote}" in out[0]["text"]


def test_make_contrasts_keeps_punctuation_tidy() -> None:
    frames = [{"id": "a", "kind": "reporting", "context": "news",
               "text": 'It posted "{quote}". Police'},
              {"id": "b", "kind": "analysis", "context": "analysis", "text": 'Read "{quote}" Then'}]
    done = make_contrasts([{"text": "Join us.", "id": "x"}], seed=0, per_row=2, frames=frames)
    assert sorted(r["text"] for r in done) == [
        'It posted "Join us." Police',
        'Read "Join us." Then',
    ]
    bare = make_contrasts([{"text": "Join us", "id": "y"}], seed=0, per_row=2, frames=frames)
    assert sorted(r["text"] for r in bare) == [
        'It posted "Join us". Police',
        'Read "Join us." Then',
    ]


def test_make_contrasts_names_bad_rows() -> None:
    with pytest.raises(ValueError, match=r"rows\[1\]:pair"):
        make_contrasts([dict(GOOD), {"text": "no id"}], seed=0)


@pytest.mark.parametrize("method", OBFUSCATIONS)
def test_obfuscate_changes_text_deterministically(method: str) -> None:
    text = "Their fighters will bomb the crowded market and kill everyone with guns"
    out = obfuscate(text, method, seed=1)
    assert out != text and out == obfuscate(text, method, seed=1)


# ---- the committed jihadist set -----------------------------------------------------------

@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    assert JIHADIST, f"no jihadist_*.jsonl under {ROOT}"
    copy = tmp_path_factory.mktemp("jihadist_synthetic")
    for path in JIHADIST:
        shutil.copy(path, copy / path.name)
    return load_synthetic(copy)


def test_whole_folder_loads() -> None:
    # What the corpus builder does: every *.jsonl, every engineer's file.
    all_rows = load_synthetic(ROOT)
    assert {r["file"] for r in all_rows} >= {p.name for p in JIHADIST}


def test_set_size_and_pair_namespace(rows: list[dict]) -> None:
    assert len(rows) >= 1100
    assert all(r["pair"].startswith("jihadist:") for r in rows), "pair ids must not collide"


def test_no_duplicates_after_normalising(rows: list[dict]) -> None:
    keys = Counter(normalize(r["text"]).lower() for r in rows)
    assert not [t for t, n in keys.items() if n > 1]


def test_positive_share_between_35_and_65_percent(rows: list[dict]) -> None:
    share = sum(_positive(r) for r in rows) / len(rows)
    assert 0.35 <= share <= 0.65, share


def test_every_violating_pair_has_a_contrast(rows: list[dict]) -> None:
    by_pair: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_pair[row["pair"]].append(row)
    missing = [p for p, members in by_pair.items()
               if any(map(_positive, members)) and all(map(_positive, members))]
    assert not missing, missing[:10]
    table = count_table(rows)
    # Every violating kind is present, and its pairs hold benign contrasts.
    for kind in VIOLATING_KINDS:
        assert table.get((kind, 1), 0) >= 20, kind
        contrast_kinds = {r["kind"] for p in {r["pair"] for r in rows if r["kind"] == kind}
                          for r in by_pair[p] if not _positive(r)}
        assert contrast_kinds, kind


def test_styles_and_plain_language_share(rows: list[dict]) -> None:
    positives = [r for r in rows if _positive(r)]
    styles = Counter(r["style"] for r in positives)
    assert set(styles) == {"plain", "jargon", "slang", "obfuscated", "formal"}
    # Plain, jargon-free advocacy is what reference models miss: at least 40% of positives.
    assert styles["plain"] / len(positives) >= 0.40, styles
    # Obfuscated variants are a minority, and appear among contrasts too (no style shortcut).
    assert styles["obfuscated"] / len(positives) <= 0.2, styles
    assert any(r["style"] == "obfuscated" for r in rows if not _positive(r))


def test_plain_positives_carry_no_jargon(rows: list[dict]) -> None:
    jargon = ("khilaf", "dawla", "mujahid", "taghut", "tawaghit", "murtad", "baqiyah",
              "hijrah", "bay'ah", "kuffar", "rafid", "shaheed", "mushrik", "inghimasi")
    bad = [r["text"] for r in rows if _positive(r) and r["style"] == "plain"
           and any(word in r["text"].lower() for word in jargon)]
    assert not bad, bad[:5]


def test_contrast_kinds_cover_the_policy_exclusions(rows: list[dict]) -> None:
    kinds = {r["kind"] for r in rows if not _positive(r)}
    assert {"reporting", "condemnation", "counter_speech", "analysis", "scripture",
            "victim_support", "negation", "neutral_mention", "court_report",
            "deradicalisation"} <= kinds


def test_make_embedded_keeps_labels_and_surrounds_the_text():
    from veguard.data.augment import make_embedded

    rows = [
        {"text": f"Join the brothers now, number {i}.", "extremism": 1, "violence": 0, "hate": 0,
         "offensive": 0, "kind": "recruitment", "context": "synthetic", "style": "plain",
         "pair": f"p{i}"}
        for i in range(40)
    ] + [{"text": f"A calm benign sentence, number {i}.", "extremism": 0, "violence": 0,
          "hate": 0, "offensive": 0, "kind": "reporting", "context": "news", "style": "plain",
          "pair": f"b{i}"} for i in range(120)]
    fillers = ["Filler one.", "Filler two.", "Filler three."]
    out = make_embedded(rows, seed=3, fillers=fillers)
    assert out == make_embedded(rows, seed=3, fillers=fillers)  # deterministic
    bad = [r for r in out if r["extremism"] == 1]
    ok = [r for r in out if r["extremism"] == 0]
    assert 5 < len(bad) < 35  # about half of the 40 violating rows
    # as many benign rows as violating ones in expectation (20 of 120): fillers carry no label
    assert 5 < len(ok) < 35
    for r in out:
        src = next(x for x in rows if x["pair"] == r["pair"])
        assert src["text"] in r["text"] and r["text"] != src["text"]
        assert any(f in r["text"] for f in fillers)
        assert (r["extremism"], r["violence"], r["hate"]) == (
            src["extremism"], src["violence"], src["hate"])
        assert r["id"].startswith(f"{r['pair']}:embedded:")


def test_committed_fillers_carry_no_label_in_the_corpus_rows():
    # Every filler sentence appears around benign rows as well as violating ones.
    from veguard.data.augment import load_fillers, make_embedded
    from veguard.data.synthetic import load_synthetic

    rows = make_embedded(load_synthetic(), seed=7)
    fillers = load_fillers()
    with_filler = [r for r in rows if any(f in r["text"] for f in fillers)]
    bad = sum(any(r[c] == 1 for c in ("extremism", "violence", "hate")) for r in with_filler)
    assert 0.4 < bad / len(with_filler) < 0.6, (bad, len(with_filler))


def test_committed_fillers_load():
    from veguard.data.augment import load_fillers

    assert len(load_fillers()) >= 30
