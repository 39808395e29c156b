"""Sampling caps and weights, positive weights, bucketing, padding, corpus checks, masked loss."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from veguard.training.data import (
    bucketed_batches,
    check_corpus,
    positive_weights,
    read_corpus,
    sample_epoch,
    source_targets,
    split_rows,
)
from veguard.training.loop import masked_bce


def _df(counts: dict[str, int]) -> pd.DataFrame:
    rows = []
    for source, n in counts.items():
        for i in range(n):
            rows.append({"id": f"{source}:{i}", "text": f"text {i}", "extremism": 0, "violence": 0,
                         "hate": 0, "offensive": -1, "context": "social", "source": source,
                         "group": f"{source}:{i}", "split": "train"})
    return pd.DataFrame(rows)


def test_source_targets_cap_weight_and_rescale():
    counts = {"big": 1000, "mid": 300, "veguard_synthetic": 50}
    t = source_targets(
        counts, cap=200, caps={"mid": 100}, weights={"veguard_synthetic": 4.0}, epoch_size=None
    )
    assert t == {"big": 200, "mid": 100, "veguard_synthetic": 200}
    scaled = source_targets(
        counts, cap=200, caps={"mid": 100}, weights={"veguard_synthetic": 4.0}, epoch_size=250
    )
    assert scaled == {"big": 100, "mid": 50, "veguard_synthetic": 100}
    assert source_targets(counts, None, {}, {}, None) == counts


def test_source_targets_warns_on_unknown_source(capsys):
    source_targets({"a": 10}, None, {"typo": 5}, {}, None)
    assert "typo" in capsys.readouterr().err


def test_source_targets_rejects_empty_epoch():
    with pytest.raises(ValueError, match="empty epoch"):
        source_targets({"a": 10}, 0, {}, {}, None)


def test_sample_epoch_respects_caps_and_repeats_evenly():
    df = _df({"big": 1000, "small": 10})
    rng = np.random.default_rng(0)
    idx = sample_epoch(df, {"big": 100, "small": 25}, rng)
    sources = df["source"].to_numpy()[idx]
    assert (sources == "big").sum() == 100 and (sources == "small").sum() == 25
    big = idx[sources == "big"]
    assert len(set(big)) == 100  # within a source's size: no repeats
    per_row = np.bincount(idx[sources == "small"], minlength=len(df))[df["source"] == "small"]
    assert per_row.min() == 2 and per_row.max() == 3  # 25 from 10 rows: each 2 or 3 times
    # Shuffled: not grouped by source.
    assert not (sources[:100] == "big").all()


def test_sample_epoch_is_seeded():
    df = _df({"a": 50, "b": 50})
    a = sample_epoch(df, {"a": 20, "b": 20}, np.random.default_rng(3))
    b = sample_epoch(df, {"a": 20, "b": 20}, np.random.default_rng(3))
    assert np.array_equal(a, b)


def test_positive_weights_capped_and_floored():
    labels = np.array(
        [[1, 0, -1, 1], [0, 0, -1, 1], [0, 0, -1, 1], [0, 1, -1, 0]] * 10, dtype=np.float32
    )
    w = positive_weights(labels, cap=2.5)
    # extremism 30 neg / 10 pos = 3 -> capped 2.5; violence 3 -> 2.5; hate no labels -> 1;
    # offensive 10 neg / 30 pos < 1 -> floored at 1.
    assert w.tolist() == [2.5, 2.5, 1.0, 1.0]
    assert positive_weights(labels, cap=1.0).tolist() == [1.0] * 4


def test_bucketed_batches_cover_all_and_sort_within_chunks():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=103)
    batches = bucketed_batches(lengths, batch_size=8, chunk_batches=4, rng=rng)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(103))
    for b in batches:
        assert (np.diff(lengths[b]) >= 0).all()
        assert b.max() // 32 == b.min() // 32  # a batch never crosses a chunk


def test_masked_bce_hand_checked():
    logits = torch.tensor([[0.0, 2.0, 0.0, 0.0], [-1.0, 0.0, 5.0, 0.0]])
    labels = torch.tensor([[1.0, -1.0, -1.0, -1.0], [0.0, 1.0, -1.0, -1.0]])
    log2, neg1 = math.log(2.0), math.log1p(math.exp(-1.0))
    # Known: (0,0) y=1 z=0 -> log 2; (1,0) y=0 z=-1 -> log(1+e^-1); (1,1) y=1 z=0 -> log 2.
    assert float(masked_bce(logits, labels)) == pytest.approx((2 * log2 + neg1) / 3, rel=1e-6)
    pw = torch.tensor([2.0, 3.0, 7.0, 7.0])  # weights multiply positive terms only
    assert float(masked_bce(logits, labels, pw)) == pytest.approx(
        (2 * log2 + neg1 + 3 * log2) / 3, rel=1e-6
    )
    # Changing logits where labels are unknown changes nothing.
    moved = logits.clone()
    moved[0, 1:] = 50.0
    moved[1, 2:] = -50.0
    assert float(masked_bce(moved, labels)) == pytest.approx(float(masked_bce(logits, labels)))


def test_masked_bce_all_unknown_is_zero_not_nan():
    loss = masked_bce(torch.zeros(2, 4), torch.full((2, 4), -1.0))
    assert float(loss) == 0.0


def test_check_corpus_errors_name_row_and_field():
    df = _df({"a": 3})
    with pytest.raises(ValueError, match="missing columns split"):
        check_corpus(df.drop(columns=["split"]), "x.parquet")
    bad = df.copy()
    bad.loc[1, "hate"] = 2
    with pytest.raises(ValueError, match=r"row 1 \(id 'a:1'\): hate=2"):
        check_corpus(bad)
    bad = df.copy()
    bad.loc[2, "text"] = "  "
    with pytest.raises(ValueError, match="row 2.*empty"):
        check_corpus(bad)


def test_read_corpus_parquet_and_missing(tmp_path):
    df = _df({"a": 4})
    path = tmp_path / "corpus.parquet"
    df.to_parquet(path)
    assert len(read_corpus(path)) == 4
    with pytest.raises(ValueError, match="nope.parquet"):
        read_corpus(tmp_path / "nope.parquet")


def test_split_rows_caps_each_source_and_keeps_columns():
    df = pd.DataFrame({
        "id": [f"r{i}" for i in range(30)], "text": ["t"] * 30,
        "source": ["big"] * 20 + ["small"] * 10, "split": ["validation"] * 30,
    })
    part = split_rows(df, "validation", None, seed=1, source_cap=5)
    assert list(part.columns) == list(df.columns)
    assert part["source"].value_counts().to_dict() == {"big": 5, "small": 5}
    assert split_rows(df, "validation", None, seed=1, source_cap=5).equals(part)  # seeded
