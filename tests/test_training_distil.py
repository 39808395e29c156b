"""Distillation (veguard.training.distil): the teacher's logits, their cache, the soft loss, and
a student that learns from soft labels alone where the corpus has no labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from veguard import modeling
from veguard.training import distil
from veguard.training.args import load_args

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "training" / "configs" / "smoke.yaml"
TEXTS = ["the garden is quiet this morning", "they deserve to be executed",
         "a much longer text about nothing in particular " * 12, "the garden is quiet this morning"]


def test_teacher_logits_are_the_classifiers_and_cached(tiny_model_dir, tmp_path, monkeypatch):
    cache = tmp_path / "teacher.npz"
    got = distil.teacher_logits(tiny_model_dir, TEXTS, cache)
    want = modeling.Classifier.load(tiny_model_dir).logits(TEXTS)
    assert got.shape == (len(TEXTS), 4)
    np.testing.assert_allclose(got, want, atol=1e-5)  # max over windows, as at inference
    assert cache.is_file()

    def no_model(*a, **k):
        raise AssertionError("cached texts must not load the teacher")

    monkeypatch.setattr("veguard.backends.load_backend", no_model)
    np.testing.assert_array_equal(distil.teacher_logits(tiny_model_dir, TEXTS, cache), got)


def test_cache_of_another_teacher_is_not_used(tiny_model_factory, tmp_path):
    a, b = tiny_model_factory(seed=1), tiny_model_factory(seed=2)
    cache = tmp_path / "teacher.npz"
    la = distil.teacher_logits(a, TEXTS[:2], cache)
    lb = distil.teacher_logits(b, TEXTS[:2], cache)
    assert not np.allclose(la, lb)
    np.testing.assert_allclose(lb, modeling.Classifier.load(b).logits(TEXTS[:2]), atol=1e-5)


def test_soft_bce_is_least_where_the_student_matches_the_teacher():
    teacher = torch.tensor([[2.0, -1.0, 0.5, -3.0]])
    for t in (1.0, 2.0):
        at = distil.soft_bce(teacher.clone(), teacher, t)
        for shift in (-0.5, 0.5):
            assert distil.soft_bce(teacher + shift, teacher, t) > at
        s = teacher.clone().requires_grad_(True)
        distil.soft_bce(s, teacher, t).backward()
        assert s.grad.abs().max() < 1e-6


def test_distil_weight_is_checked():
    with pytest.raises(ValueError, match="distil_weight"):
        load_args(SMOKE, ["distil_weight=1.5"])


def test_student_learns_from_soft_labels_alone(tmp_path, monkeypatch):
    """Train labels all unknown: only the teacher can teach, and the student follows it."""
    from tests.test_training_loop import separable_corpus
    from veguard.training.loop import train

    df = separable_corpus()
    train_rows = df["split"] == "train"
    for c in ("extremism", "violence", "hate", "offensive"):
        df.loc[train_rows, c] = -1
    asked = []

    def fake_teacher(teacher, texts, cache_path=None, batch_size=64, log=None):
        asked.append(teacher)
        sign = np.array([1.0 if t.startswith("glory") else -1.0 for t in texts], np.float32)
        return np.repeat(sign[:, None] * 4.0, 4, axis=1)

    monkeypatch.setattr(distil, "teacher_logits", fake_teacher)
    args = load_args(SMOKE, [f"out={tmp_path / 'run'}", "log_every=1", "max_steps=30",
                             "epoch_size=480", "lr=1e-2", "bucket_chunk=1", "source_weights={}",
                             "teacher=some/teacher", "distil_weight=1.0"])
    out = train(args, corpus=df)
    assert asked == ["some/teacher"]
    clf = modeling.Classifier.load(out)
    pos, neg = clf.logits(["glory to the soldiers of the state",
                           "the garden is very quiet this morning"])
    assert (pos > neg + 1.0).all()
