"""Routing labels (issue #14 item 6): the routing model, its training, its place in results,
and the `routing` evaluation suite kind. Tiny inline rows; the one real-data check fits on the
shipped training inputs without reading the suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veguard import modeldir
from veguard.evaluation.report import render_headline, render_markdown
from veguard.evaluation.runner import evaluate
from veguard.evaluation.suites import SuiteError, load_routing_cases, load_suite
from veguard.metrics import per_label
from veguard.modeldir import ModelMeta
from veguard.routing import RoutingModel
from veguard.taxonomy import BEHAVIOURS, MOVEMENTS
from veguard.testing import FakeClassifier
from veguard.thresholds import Thresholds
from veguard.training import routing as R
from veguard.training.args import load_args

ROOT = Path(__file__).resolve().parents[1]

# Two clearly separable movements and behaviours, a few paraphrases each.
ROWS = [
    {"text": t, "movement": m, "behaviour": b, "source": "test"}
    for m, b, texts in [
        ("al_shabaab", "propaganda_branded",
         ["al-Kataib presents footage of the mujahidin of al-Shabaab in Somalia",
          "al-Kataib media release: al-Shabaab fighters in Somalia storm a base",
          "new al-Kataib video of the Harakat al-Shabaab in Somalia"]),
        ("white_supremacist", "recruitment_radicalisation_instruction",
         ["white men join your local active club and train with your brothers",
          "join the active club, white brothers, train and find your people",
          "white man, stop waiting: join an active club near you and train"]),
    ]
    for t in texts
]


@pytest.fixture(scope="module")
def model() -> RoutingModel:
    return R.fit(ROWS, C=10.0)[0]


def test_predicts_taxonomy_labels_with_scores(model):
    (a, b) = model.predict(["al-Kataib shows al-Shabaab fighters in Somalia",
                            "join an active club, white men, and train"])
    assert a["movement"]["label"] == "al_shabaab"
    assert a["behaviour"]["label"] == "propaganda_branded"
    assert b["movement"]["label"] == "white_supremacist"
    assert b["behaviour"]["label"] == "recruitment_radicalisation_instruction"
    assert all(0.5 < d[k]["score"] <= 1.0 for d in (a, b) for k in ("movement", "behaviour"))
    assert model.predict([]) == []


@pytest.fixture(scope="module")
def bundle() -> dict:
    """What training fits (scikit-learn), before RoutingModel keeps its arrays."""
    fitted = {}
    real = R.RoutingModel
    R.RoutingModel = lambda b: fitted.update(b) or real(b)
    third = [{"text": t, "movement": "islamic_state", "behaviour": "glorification",
              "source": "test"} for t in ("Amaq: the soldiers of the caliphate struck",
                                          "the caliphate's lions attacked, Amaq reports",
                                          "Amaq agency: caliphate soldiers carried it out")]
    try:
        R.fit(ROWS + third, C=10.0)  # three labels per dimension: the multinomial case
    finally:
        R.RoutingModel = real
    return fitted


def test_bundle_with_a_label_outside_the_taxonomy_is_refused(bundle):
    from sklearn.linear_model import LogisticRegression

    bad = LogisticRegression().fit(bundle["vectorizer"].transform(["a b", "c d"]),
                                   ["islamic_state", "hamas"])
    with pytest.raises(ValueError, match="'hamas' is not one of"):
        RoutingModel({**bundle, "movement": bad}, "x/routing.joblib")


TRICKY = ["", "a", "I", "ab cd", "  spaced   out\ttext\n\nhere ", "Ünïcödé ÇAPS and 日本語",
          "al-Kataib: al-Shabaab!!! in Somalia... join, join", "x" * 300,
          "white men join your local active club and train with your brothers"]


def test_numpy_routing_gives_scikit_learns_probabilities(bundle, model, tmp_path):
    import numpy as np

    X = bundle["vectorizer"].transform(TRICKY)
    model = RoutingModel(bundle)
    got = model.predict(TRICKY)
    assert len(bundle["movement"].classes_) == 3
    for dim in ("movement", "behaviour"):
        want = bundle[dim].predict_proba(X)
        for i, row in enumerate(got):
            j = int(np.argmax(want[i]))
            assert row[dim]["label"] == bundle[dim].classes_[j]
            assert abs(row[dim]["score"] - want[i, j]) < 2e-6
    model.save(tmp_path)  # and read back from routing.npz, without pickle
    assert [p.name for p in tmp_path.iterdir()] == ["routing.npz"]
    assert RoutingModel.from_model_dir(tmp_path).predict(TRICKY) == got


def test_shipped_routing_model_matches_its_scikit_learn_original_on_the_corpus():
    """The shipped routing.npz was converted from routing.joblib (v2's, fitted with
    scikit-learn): the same labels on corpus texts (when the original is at hand)."""
    import pandas as pd

    from veguard.data.normalize import normalize

    shipped = RoutingModel.from_model_dir(ROOT / "models" / "veguard-minilm-v2")
    assert shipped is not None and shipped.where.endswith("routing.npz")
    corpus = ROOT / "data" / "processed" / "corpus.parquet"
    if not corpus.is_file():
        pytest.skip("no processed corpus (veguard data build)")
    texts = [normalize(t) for t in pd.read_parquet(corpus, columns=["text"])["text"]
             .sample(200, random_state=3)]
    got = shipped.predict(texts)
    assert {r["movement"]["label"] for r in got} <= set(MOVEMENTS)
    assert all(0.0 < r["behaviour"]["score"] <= 1.0 for r in got)


def test_routing_only_on_results_flagged_for_extremism(model):
    clf = FakeClassifier(routing=model)
    flagged, hate, clean = clf.score(["al-Kataib: baqiyah, al-Shabaab in Somalia",
                                      "they are vermin", "hello there"])
    assert flagged.categories["extremism"] and flagged.routing["movement"]["label"] == "al_shabaab"
    assert hate.flagged and hate.routing is None and clean.routing is None
    assert "routing" in flagged.to_dict() and "routing" not in clean.to_dict()
    assert clf.score("al-Kataib baqiyah").routing is not None  # a single string too
    assert FakeClassifier().score("baqiyah").routing is None  # no routing model: no field


def test_classifier_loads_routing_beside_the_weights(tiny_model_factory, model, capsys,
                                                     tmp_path):
    from veguard.modeling import Classifier

    everything = Thresholds(review={c: 0.0 for c in Thresholds.default().review},
                            auto={c: 1.01 for c in Thresholds.default().auto})
    d = tiny_model_factory(thresholds=everything)
    assert Classifier.load(d).score("al-Kataib in Somalia").routing is None  # none yet
    model.save(d)
    clf = Classifier.load(d)
    r = clf.score("  al-Kataib   presents al-Shabaab in Somalia")
    assert r.flagged and r.routing["movement"]["label"] == "al_shabaab"
    assert clf.route(["join an active club, white men"])[0]["movement"]["label"] == (
        "white_supremacist")
    saved = clf.save(tmp_path / "saved")
    assert Classifier.load(saved).score("al-Kataib in Somalia").routing is not None
    from veguard.scoring import main as score_main

    assert score_main(["--model", str(d), "al-Kataib in Somalia"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["routing"]["movement"]["label"] == "al_shabaab"


def test_train_cli_writes_the_artefact_and_records_it(tmp_path, monkeypatch, capsys):
    from veguard.training.cli import main

    d = tmp_path / "model"
    modeldir.write(d, ModelMeta(kind="tfidf", name="m", max_length=0, stride=0))
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    rc = main(["--config", str(ROOT / "training/configs/routing.yaml"), "--out", str(d),
               "--set", f"routing_data={data}", "--set", "routing_synthetic=false",
               "--set", "routing_miws=false"])
    assert rc == 0, capsys.readouterr().err
    meta = modeldir.read(d)
    assert (d / modeldir.ROUTING_FILE).is_file()
    assert meta.routing["rows"] == 6 and meta.routing["movement"] == {"al_shabaab": 3,
                                                                      "white_supremacist": 3}
    assert "ttp" in meta.routing["never_seen"]["movement"]
    assert RoutingModel.from_model_dir(d).predict(["al-Kataib Somalia"])[0]["movement"]["label"]
    # No model directory there: a clear error, not a traceback.
    assert main(["--config", str(ROOT / "training/configs/routing.yaml"),
                 "--out", str(tmp_path / "nowhere"), "--set", f"routing_data={data}"]) == 1
    assert "not a veguard model directory" in capsys.readouterr().err

    # routing_from: another classifier takes this routing model as it is, file and record.
    e = tmp_path / "other"
    modeldir.write(e, ModelMeta(kind="tfidf", name="e", max_length=0, stride=0))
    rc = main(["--config", str(ROOT / "training/configs/routing.yaml"), "--out", str(e),
               "--set", f"routing_from={d}"])
    assert rc == 0, capsys.readouterr().err
    assert (e / modeldir.ROUTING_FILE).read_bytes() == (d / modeldir.ROUTING_FILE).read_bytes()
    copied = modeldir.read(e).routing
    assert copied.pop("copied_from") == "model" and copied == modeldir.read(d).routing
    # A source without a routing model: refused, naming it.
    rc = main(["--config", str(ROOT / "training/configs/routing.yaml"), "--out", str(d),
               "--set", f"routing_from={tmp_path / 'other2'}"])
    assert rc == 1 and "other2" in capsys.readouterr().err


def test_labelled_file_errors_name_file_line_and_field(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"text": "ok", "movement": "ttp", "behaviour": null}\n'
                 '{"text": "x", "movement": "hamas"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"r.jsonl:2: field 'movement': 'hamas'"):
        R.read_labelled(p)
    p.write_text('{"movement": "ttp"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"r.jsonl:1: field 'text'"):
        R.read_labelled(p)


def test_synthetic_and_miws_map_into_the_taxonomy():
    from veguard.data.synthetic import VIOLATING_KINDS

    assert set(R.IDEOLOGY_MOVEMENT.values()) <= set(MOVEMENTS)
    assert set(R.KIND_BEHAVIOUR.values()) <= set(BEHAVIOURS)
    assert set(R.KIND_BEHAVIOUR) <= set(VIOLATING_KINDS)
    rows = R.training_rows(load_args(ROOT / "training/configs/routing.yaml"))
    sources = {r["source"] for r in rows}
    assert sources == {"routing_data", "veguard_synthetic", "miws_seed"}
    for dim, labels in (("movement", MOVEMENTS), ("behaviour", BEHAVIOURS)):
        got = {r[dim] for r in rows if r[dim]}
        assert got == set(labels), f"{dim}: training never sees {set(labels) - got}"


def test_per_label_metric():
    m = per_label(["a", "a", "b", "c"], ["a", "b", "b", None], ["a", "b", "c", "d"])
    assert m["labels"]["a"]["precision"] == 1.0 and m["labels"]["a"]["recall"] == 0.5
    assert m["labels"]["b"]["precision"] == 0.5 and m["labels"]["c"]["recall"] == 0.0
    assert "d" not in m["labels"] and m["accuracy"] == 0.5
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0.0) / 3)
    with pytest.raises(ValueError, match="length mismatch"):
        per_label(["a"], [], ["a"])


def _suite(tmp_path: Path, rows: list[str]) -> Path:
    (tmp_path / "routing").mkdir()
    (tmp_path / "routing" / "cases.csv").write_text(
        "case_id,text,movement,behaviour\n" + "\n".join(rows) + "\n", encoding="utf-8")
    spec = tmp_path / "routing.yaml"
    spec.write_text("name: routing\nkind: routing\ndescription: d\ncases: routing/cases.csv\n"
                    "metrics: [precision, recall, f1]\n", encoding="utf-8")
    return spec


def test_routing_suite_per_label_precision_recall_in_the_report(tmp_path, model):
    spec = _suite(tmp_path, [
        "r1,al-Kataib baqiyah video from Somalia,al_shabaab,propaganda_branded",
        ("r2,join the active club white men baqiyah,white_supremacist,"
         "recruitment_radicalisation_instruction"),
        "r3,al-Kataib presents the mujahidin of Somalia,al_shabaab,graphic_violence",
    ])
    suite = load_suite(spec)
    res = evaluate({"routing": suite}, ["routing"],
                   {"model": FakeClassifier(routing=model), "baseline": FakeClassifier()})
    s = res["suites"]["routing"]
    m = s["by_model"]["model"]
    assert s["n_cases"] == 3 and m["routing"] and m["flagged_extremism"] == pytest.approx(2 / 3)
    assert m["movement"]["accuracy"] == 1.0
    assert m["behaviour"]["labels"]["graphic_violence"]["recall"] == 0.0
    assert m["behaviour"]["labels"]["propaganda_branded"]["precision"] == 0.5
    assert m["behaviour"]["errors"][0]["id"] == "r3"
    assert s["by_model"]["baseline"] == {"routing": False}
    md = render_markdown(res)
    assert "Movement: per label" in md and "graphic\\_violence" in md
    assert "No routing model: fake" in md
    assert "routing behaviour macro F1" in render_headline(res)


def test_routing_suite_refuses_a_label_outside_the_taxonomy(tmp_path):
    suite = load_suite(_suite(tmp_path, ["r1,some text,hamas,glorification"]))
    with pytest.raises(SuiteError, match=r"cases.csv:2: field 'movement': 'hamas'"):
        load_routing_cases(suite)


def test_shipped_routing_suite_covers_every_label():
    cases = load_routing_cases(load_suite(ROOT / "eval" / "suites" / "routing.yaml"))
    assert {c["movement"] for c in cases} == set(MOVEMENTS)
    assert {c["behaviour"] for c in cases} == set(BEHAVIOURS)


def test_routing_file_is_read_on_first_use_and_a_bad_one_names_the_file(model, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    model.save(d)
    lazy = RoutingModel.from_model_dir(d)
    assert lazy._parts is None  # nothing read at load
    assert lazy.predict(["al-Kataib Somalia"]) == model.predict(["al-Kataib Somalia"])
    (d / modeldir.ROUTING_FILE).write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="routing.npz: cannot read the routing model"):
        RoutingModel.from_model_dir(d).predict(["x"])


def test_a_legacy_pickled_routing_model_is_still_read(bundle, tmp_path):
    import joblib

    joblib.dump(bundle, tmp_path / modeldir.LEGACY_ROUTING_FILE)
    old = RoutingModel.from_model_dir(tmp_path)
    assert old.where.endswith("routing.joblib")
    assert old.predict(TRICKY) == RoutingModel(bundle).predict(TRICKY)
    joblib.dump({"vectorizer": None}, tmp_path / modeldir.LEGACY_ROUTING_FILE)
    with pytest.raises(ValueError, match="routing.joblib: routing bundle lacks"):
        RoutingModel.from_model_dir(tmp_path).predict(["x"])
