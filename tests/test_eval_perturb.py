"""Robustness perturbations: deterministic, seeded, and they really change the text."""

from __future__ import annotations

from collections import Counter

import pytest

from veguard.data.normalize import normalize
from veguard.evaluation.perturb import PERTURBATIONS, perturb

TEXT = "Brothers, join the soldiers of the state and kill the enemies with a gun before winter"


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_deterministic_and_changes_text(name):
    a = perturb(name, TEXT, seed=3, key="case-1")
    assert a == perturb(name, TEXT, seed=3, key="case-1")
    assert a != TEXT


def test_seed_and_key_matter():
    # Random perturbations pick different spots for different seeds/cases (emoji does not
    # use randomness, so it is left out).
    for name in sorted(set(PERTURBATIONS) - {"emoji"}):
        outs = {perturb(name, TEXT, seed=s, key="k") for s in range(6)}
        assert len(outs) > 1, name
    assert len({perturb("leetspeak", TEXT, 0, k) for k in "abcdef"}) > 1


def test_each_perturbation_does_what_it_says():
    assert Counter(perturb("char_swap", TEXT)) == Counter(TEXT)  # same letters, reordered
    assert any(ch.isdigit() for ch in perturb("leetspeak", TEXT))
    assert perturb("space_insert", TEXT).count(" ") > TEXT.count(" ")
    assert perturb("space_remove", TEXT).count(" ") < TEXT.count(" ")
    hidden = perturb("zero_width", TEXT)
    assert len(hidden) > len(TEXT)
    # normalize() drops zero-width characters, so the model should see the clean text
    assert normalize(hidden) == normalize(TEXT)
    glyphs = perturb("homoglyph", TEXT)
    assert not glyphs.isascii() and len(glyphs) == len(TEXT)
    # NFKC does not fold Cyrillic look-alikes: they survive normalisation
    assert normalize(glyphs) != normalize(TEXT)
    assert "\U0001f52a" in perturb("emoji", TEXT) and "\U0001f52b" in perturb("emoji", TEXT)


def test_nothing_to_do_returns_text_unchanged():
    assert perturb("emoji", "plain words only") == "plain words only"
    assert perturb("char_swap", "a an") == "a an"


def test_unknown_perturbation():
    with pytest.raises(ValueError, match="unknown perturbation 'rot13'"):
        perturb("rot13", TEXT)
