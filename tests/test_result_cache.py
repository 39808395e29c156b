"""The result cache (issue #12 item 1): a repeat of a normalised text skips the model and gets
exactly the result it would get; the cache is bounded; evidence still points into each
original text."""

from __future__ import annotations

import numpy as np
import pytest

from veguard import modeling
from veguard.modeling import Classifier, ResultCache

TEXTS = ["they deserve to be wiped out", "gg that headshot was insane",
         "join the caravan, brothers", "police confirm three injured"]


def _counting(clf):
    seen = []
    windows = clf.backend.windows
    clf.backend.windows = lambda texts, bs: seen.extend(texts) or windows(texts, bs)
    return seen


def test_repeats_skip_the_model_and_score_the_same(tiny_model_dir, monkeypatch):
    monkeypatch.delenv("VEGUARD_CACHE_SIZE", raising=False)
    clf = Classifier.load(tiny_model_dir, precision="fp32")
    seen = _counting(clf)
    first = clf.score(TEXTS + TEXTS[:2])  # repeats within one call: scored once
    assert sorted(seen) == sorted(TEXTS)
    again = clf.score(TEXTS[::-1])
    assert len(seen) == len(TEXTS)  # all hits
    assert [r.to_dict() for r in again] == [r.to_dict() for r in first[:4]][::-1]
    assert [r.to_dict() for r in first[4:]] == [r.to_dict() for r in first[:2]]
    assert clf.cache.hits >= 4

    uncached = Classifier.load(tiny_model_dir, precision="fp32")
    uncached.cache = None
    np.testing.assert_allclose(uncached.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=0)


def test_key_is_the_normalised_text_and_evidence_maps_per_original(tiny_model_factory):
    from veguard.taxonomy import CATEGORIES
    from veguard.thresholds import Thresholds

    th = Thresholds(review={c: 0.0 for c in CATEGORIES}, auto={c: 1.0 for c in CATEGORIES})
    d = tiny_model_factory(thresholds=th)
    clf = Classifier.load(d, precision="fp32")
    seen = _counting(clf)
    a = clf.score("they  deserve it")          # double space: normalised away
    b = clf.score("they deserve it")
    assert len(seen) == 1 and a.scores == b.scores and a.flagged and b.flagged
    assert a.evidence.text.split() == b.evidence.text.split()
    assert (a.evidence.start, a.evidence.end) != (b.evidence.start, b.evidence.end)


def test_cache_is_bounded_and_skips_long_texts():
    c = ResultCache(3)
    for i in range(5):
        c.put(f"t{i}", (i,))
    assert len(c) == 3 and c.get("t0") is None and c.get("t4") == (4,)
    c.put("x" * (modeling.CACHE_MAX_CHARS + 1), (9,))
    assert len(c) == 3


def test_cache_size_from_env(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("VEGUARD_CACHE_SIZE", "0")
    assert Classifier.load(tiny_model_dir, precision="fp32").cache is None
    monkeypatch.setenv("VEGUARD_CACHE_SIZE", "lots")
    with pytest.raises(ValueError, match="VEGUARD_CACHE_SIZE"):
        Classifier.load(tiny_model_dir, precision="fp32")
