"""Checks on the contrast data: `data/synthetic/contrast_*.jsonl`, expanded by
`scripts/make_contrast_data.py` from hand-written templates. The committed files must be what
the script writes (the templates are the source of truth), pair ids are namespaced, and at
least 15 target groups carry both labels (the same templates filled with every group).
Whether a label is right is a human judgement, not a test."""

from __future__ import annotations

import importlib.util
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from veguard.data.synthetic import FLAGGING_LABELS, load_synthetic

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "data" / "synthetic"
FILES = sorted(ROOT.glob("contrast_*.jsonl"))


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("make_contrast_data",
                                                  REPO / "scripts" / "make_contrast_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_files_are_what_the_script_writes(script) -> None:
    out = script.build()
    assert {p.stem for p in FILES} == set(out)
    for name, built in out.items():
        committed = (ROOT / f"{name}.jsonl").read_text(encoding="utf-8")
        assert committed == script.render(built), f"{name} is stale: rerun the script"


def test_pairs_are_namespaced_and_15_groups_carry_both_labels(tmp_path) -> None:
    for path in FILES:
        shutil.copy(path, tmp_path / path.name)
    rows = load_synthetic(tmp_path)
    assert len(rows) >= 2500
    assert all(r["pair"].startswith("contrast:") for r in rows)
    labels = defaultdict(set)
    for r in rows:
        if r["target"]:
            labels[r["target"]].add(any(r[c] == 1 for c in FLAGGING_LABELS))
    groups = [t for t, seen in labels.items() if len(seen) == 2]
    assert len(groups) >= 15, sorted(labels)
