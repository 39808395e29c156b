"""Checks on the hand-written long benign documents in `data/synthetic/long_benign_*.jsonl`.

These are whole documents (news and court reports, analysis, sermons, exit testimonies,
op-eds, mourning posts, reviews), many quoting propaganda in order to report or rebut it, all
labelled benign as a whole (issue #11 item 5). Schema checks go through `load_synthetic` on a
copy of only these files, so another engineer's file cannot break or hide a problem here. What
is checked is the shape of the set: size, labels, length spread, kinds and contexts, movements
and pair ids. Whether a document is benign is a human judgement, not a test.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from veguard.data.normalize import normalize
from veguard.data.synthetic import FLAGGING_LABELS, load_synthetic

ROOT = Path(__file__).resolve().parents[1] / "data" / "synthetic"
FILES = sorted(ROOT.glob("long_benign_*.jsonl"))

# The context each kind of document is filed under (README: "context").
CONTEXT_OF_KIND = {
    "reporting": "news",
    "court_report": "news",
    "analysis": "analysis",
    "scripture": "religious",
    "deradicalisation": "counter_speech",
    "counter_speech": "counter_speech",
    "condemnation": "counter_speech",
    "victim_support": "synthetic",
    "fiction": "synthetic",
}


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    assert FILES, f"no long_benign_*.jsonl under {ROOT}"
    copy = tmp_path_factory.mktemp("long_synthetic")
    for path in FILES:
        shutil.copy(path, copy / path.name)
    return load_synthetic(copy)


def _words(row: dict) -> int:
    return len(row["text"].split())


def test_enough_documents_all_benign(rows: list[dict]) -> None:
    assert len(rows) >= 170
    for row in rows:
        assert all(row[label] == 0 for label in FLAGGING_LABELS), row["id"]
        assert row["offensive"] in (0, None), row["id"]
        assert row["pair"].startswith("long:"), row["id"]


def test_lengths_are_long_and_spread(rows: list[dict]) -> None:
    lengths = [_words(row) for row in rows]
    assert min(lengths) >= 150 and max(lengths) <= 800, (min(lengths), max(lengths))
    # Most are 200-450 words, but short items and long reads both exist.
    assert sum(200 <= n <= 450 for n in lengths) >= 0.6 * len(lengths)
    assert sum(n < 200 for n in lengths) >= 5
    assert sum(n > 450 for n in lengths) >= 5


def test_kinds_and_contexts(rows: list[dict]) -> None:
    kinds = Counter(row["kind"] for row in rows)
    assert set(kinds) == set(CONTEXT_OF_KIND), kinds
    assert all(n >= 5 for n in kinds.values()), kinds
    for row in rows:
        assert row["context"] == CONTEXT_OF_KIND[row["kind"]], row["id"]


def test_movements_covered(rows: list[dict]) -> None:
    ideologies = Counter(row["ideology"] for row in rows)
    for ideology in ("iskp", "islamic_state", "al_qaeda", "ttp", "al_shabaab",
                     "iswap_boko_haram", "white_supremacist", "accelerationist"):
        assert ideologies[ideology] >= 2, (ideology, ideologies)


def test_no_duplicates_after_normalising(rows: list[dict]) -> None:
    keys = Counter(normalize(row["text"]).lower() for row in rows)
    assert not [text for text, n in keys.items() if n > 1]


def test_some_documents_quote_what_they_rebut(rows: list[dict]) -> None:
    # A proxy for "about a third quote propaganda or slogans to report or rebut them": the
    # in-group words of the movements appear inside these benign documents. The quote is
    # inside, the document is benign; without such rows a model learns "jargon = violation".
    markers = ("apostate", "rafida", "crusader", "caliphate", "baqiyah", "tawaghit", "kuffar",
               "kufr", "infidel", "polytheists", "mujahideen", "hijrah", "martyrdom operation",
               "great replacement", "invaders", "invasion", "14 words", "saint", "remove kebab",
               "send them back", "remigration", "no political solution")
    quoting = [row for row in rows if any(m in row["text"].lower() for m in markers)]
    assert len(quoting) >= len(rows) / 3, len(quoting)
