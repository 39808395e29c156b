"""The eval runner, reports and CLI end to end with FakeClassifier on tests/fixtures/eval/.

Expected values follow from FakeClassifier's keyword rules (0.95 on a trigger, else 0.02;
flagged at >= 0.5 on extremism/violence/hate) applied to the fixture cases by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import veguard.evaluation.cli as eval_cli
from veguard.evaluation.html_report import render_html
from veguard.evaluation.report import render_headline, render_markdown
from veguard.evaluation.runner import dumps, evaluate
from veguard.evaluation.suites import SuiteError, discover, load_suite
from veguard.testing import FakeClassifier

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
SUITES = FIXTURES / "suites"
# A baseline that over-flags: any "caliphate"/"state", "kill", and the identity term "Muslims".
BASELINE_TRIGGERS = {"extremism": ("caliphate", "state"), "violence": ("kill",),
                     "hate": ("vermin", "muslims"), "offensive": ("idiot",)}


class CountingFake(FakeClassifier):
    """Counts how often each text is scored, to check the per-model cache."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.seen: dict[str, int] = {}

    def score(self, texts, batch_size: int = 64):
        for t in texts:
            self.seen[t] = self.seen.get(t, 0) + 1
        return super().score(texts, batch_size)


def _models():
    return {
        "model": CountingFake(),
        "baseline": CountingFake(BASELINE_TRIGGERS, name="fake-baseline"),
    }


@pytest.fixture(scope="module")
def results():
    suites = discover(SUITES)
    models = _models()
    out = evaluate(suites, list(suites), models)
    out["_models"] = models  # for the cache test only; never serialised
    return out


def _clean(results: dict) -> dict:
    return {k: v for k, v in results.items() if k != "_models"}


def test_every_text_scored_once_per_model(results):
    for clf in results["_models"].values():
        assert clf.seen and max(clf.seen.values()) == 1
    # the corpus sample is shared by corpus_test, identity and calibration: 5 + 6 rows
    assert results["suites"]["corpus_test"]["n_rows"] == 11


def test_functional_accuracy_and_named_failures(results):
    fn = results["suites"]["functional"]["by_model"]["model"]
    # f06, f07 (counter-speech quoting triggers) and f11 ("vermin" in condemnation) are wrong
    ov = fn["overall"]
    assert {k: ov[k] for k in ("n", "correct", "accuracy")} == {"n": 12, "correct": 9,
                                                                 "accuracy": 0.75}
    # the three errors are benign texts flagged: every violating case is caught
    assert ov["recall"] == 1.0 and 0 < ov["fpr"] < 1 and ov["not_judged"] == 0
    assert 0.5 < ov["auroc"] <= 1.0 and 0.5 < ov["auprc"] <= 1.0
    assert fn["failures"] == ["counter_speech_quote", "hate_dehumanising"]
    assert fn["by"]["functionality"]["support_explicit"]["accuracy"] == 1.0
    assert [e["id"] for e in fn["errors"]["counter_speech_quote"]] == ["f06", "f07"]
    base = results["suites"]["functional"]["by_model"]["baseline"]
    assert "threat_direct" in base["failures"]  # "I will shoot ..." has no baseline trigger


def test_corpus_metrics_and_sampling(results):
    ct = results["suites"]["corpus_test"]
    assert ct["sources"] == ["alpha", "beta"]
    ext = ct["by_model"]["model"]["all"]["extremism"]
    # alpha test rows: a:1, a:2 positive and triggered; a:3-a:5 negative and untriggered
    assert (ext["n"], ext["positives"]) == (5, 2)
    assert ext["review"]["precision"] == 1.0 and ext["review"]["recall"] == 1.0
    assert ext["auprc"] == 1.0
    # beta has 7 test rows and a cap of 6: one is left out, and unknown extremism labels drop
    assert ct["by_model"]["model"]["by_source"]["beta"]["hate"]["n"] == 6
    assert ct["by_model"]["model"]["by_source"]["beta"]["extremism"]["n"] == 0
    # baseline flags "the state collapsed" (a:3) and "the caliphate fell" (a:5): P = 2/4
    assert ct["by_model"]["baseline"]["all"]["extremism"]["review"]["precision"] == 0.5


def test_identity_bias_metrics(results):
    idt = results["suites"]["identity"]
    base = idt["by_model"]["baseline"]["templates"]["by_term"]["Muslims"]
    # both benign templates mention "Muslims" and trip the baseline's trigger: FPR 2/2;
    # every score in the BPSN set is 0.95 (a tie) -> AUC 0.5
    assert base["fpr"] == 1.0 and base["bpsn_auc"] == 0.5
    assert idt["by_model"]["model"]["templates"]["overall_fpr"] == 0.0
    assert "Muslims" in idt["by_model"]["model"]["corpus"]["by_term"]


def test_robustness_and_calibration(results):
    rb = results["suites"]["robustness"]
    assert rb["n_cases"] == 6  # the label-1 functional cases
    per = rb["by_model"]["model"]["perturbations"]
    assert set(per) == {"char_swap", "leetspeak", "space_insert", "space_remove",
                        "zero_width", "homoglyph", "emoji"}
    assert all(v["n_changed"] > 0 for v in per.values())
    # the fake matches exact keywords, so homoglyphs in every case defeat it
    assert per["homoglyph"]["clean_accuracy"] == 1.0 and per["homoglyph"]["drop"] > 0
    cal = results["suites"]["calibration"]["by_model"]["model"]["extremism"]
    # bin 0: three 0.02 scores, all negative: 3/5 * .02; bin 14: two 0.95, both positive: 2/5 * .05
    assert cal["ece"] == pytest.approx(0.032)
    assert len(cal["reliability"]) == 15


def test_results_are_deterministic(results):
    suites = discover(SUITES)
    again = evaluate(suites, list(suites), _models())
    assert dumps(again) == dumps(_clean(results))
    json.loads(dumps(again))  # valid JSON: no NaN


def test_golden_report():
    fixed = json.loads((FIXTURES / "golden_results.json").read_text(encoding="utf-8"))
    golden = FIXTURES / "golden_report.md"
    got = render_markdown(fixed)
    if os.environ.get("VEGUARD_UPDATE_GOLDEN"):
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")
    head = render_headline(fixed)
    assert head.startswith("| metric | fake | fake-baseline |")
    assert "| functional accuracy | 75.0% | 58.3% |" in head


def test_headline_names_every_functional_suite():
    fixed = json.loads((FIXTURES / "golden_results.json").read_text(encoding="utf-8"))
    name = next(n for n in fixed["suite_order"] if fixed["suites"][n]["kind"] == "functional")
    other = json.loads(json.dumps(fixed["suites"][name]))
    for block in other["by_model"].values():
        block["overall"]["accuracy"] = 0.5
    # "development" sorts before "functional": the headline must show both, each by name.
    fixed["suites"]["development"] = other
    fixed["suite_order"].insert(0, "development")
    head = render_headline(fixed)
    assert "| development accuracy | 50.0% | 50.0% |" in head
    assert f"| {name} accuracy | 75.0% | 58.3% |" in head


def test_reports_escape_hostile_text(results):
    page = render_html(_clean(results), plots=False)
    assert "&lt;script&gt;alert(" in page
    assert "<script" not in page.lower()  # no JavaScript at all, and none from data
    md = render_markdown(_clean(results))
    assert "&lt;script&gt;" in md and "<script" not in md


def test_markdown_escapes_links_and_pipes():
    from veguard.evaluation.report import md_escape

    assert md_escape("[x](javascript:alert(1)) | a") == "\\[x\\](javascript:alert(1)) \\| a"
    assert md_escape("it's <b>") == "it's &lt;b&gt;"


def test_skipped_suite_is_recorded(tmp_path):
    (tmp_path / "calibration.yaml").write_text(
        "name: calibration\nkind: calibration\ndescription: x\nmetrics: [ece]\n"
        "corpus: {file: missing.csv}\n", encoding="utf-8")
    out = evaluate(discover(tmp_path), ["calibration"], {"model": FakeClassifier()})
    assert "missing.csv not found" in out["suites"]["calibration"]["skipped"]
    assert "Skipped" in render_markdown(out)


def test_cli_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(eval_cli, "load_model", lambda path: FakeClassifier(
        BASELINE_TRIGGERS, name="fake-baseline") if path == "base" else FakeClassifier())
    out = tmp_path / "report"
    rc = eval_cli.main(["--suites-dir", str(SUITES), "--baseline", "base", "--out", str(out),
                        "--suite", "functional", "robustness"])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["headline.md", "report.html", "report.md",
                                                     "results.json"]
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert res["suite_order"] == ["functional", "robustness"]
    html_page = (out / "report.html").read_text(encoding="utf-8")
    assert html_page.count("data:image/png;base64,") == 1  # per-functionality bars
    assert "<script" not in html_page.lower()
    assert "functional accuracy" in capsys.readouterr().out


def test_cli_list(capsys):
    assert eval_cli.main(["--suites-dir", str(SUITES), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["corpus_test", "functional", "robustness",
                                                   "identity", "calibration"]
    assert "Fixture functional cases." in lines[1]


def test_cli_unknown_suite(capsys):
    assert eval_cli.main(["--suites-dir", str(SUITES), "--suite", "nope"]) == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err


def test_bad_suite_yaml_names_file_and_field(tmp_path, capsys):
    bad = tmp_path / "functional.yaml"
    bad.write_text("name: functional\nkind: functional\ndescription: x\nmetrics: [accuracy]\n"
                   "min_accuracy: high\ncases: c.csv\n", encoding="utf-8")
    with pytest.raises(SuiteError, match=r"functional\.yaml: field 'min_accuracy'"):
        load_suite(bad)
    assert eval_cli.main(["--suites-dir", str(tmp_path), "--list"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "min_accuracy" in err
    bad.write_text("name: functional\nkind: functional\ndescription: x\nmetrics: [accuracy]\n",
                   encoding="utf-8")
    with pytest.raises(SuiteError, match="field 'cases': required"):
        load_suite(bad)
    bad.write_text("name: functional\nkind: quiz\n", encoding="utf-8")
    with pytest.raises(SuiteError, match="field 'kind'"):
        load_suite(bad)


def test_bad_case_file_names_line_and_field(tmp_path):
    (tmp_path / "functional.yaml").write_text(
        "name: functional\nkind: functional\ndescription: x\nmetrics: [accuracy]\ncases: c.csv\n",
        encoding="utf-8")
    (tmp_path / "c.csv").write_text(
        "case_id,functionality,text,label,ideology,target\n"
        "a,f,fine text,1,none,\nb,f,other text,yes,none,\n", encoding="utf-8")
    suites = discover(tmp_path)
    with pytest.raises(SuiteError, match=r"c\.csv:3: field 'label': expected 0 or 1"):
        evaluate(suites, ["functional"], {"model": FakeClassifier()})


def test_case_file_not_utf8_is_a_suite_error(tmp_path):
    (tmp_path / "functional.yaml").write_text(
        "name: functional\nkind: functional\ndescription: x\nmetrics: [accuracy]\ncases: c.csv\n",
        encoding="utf-8")
    (tmp_path / "c.csv").write_bytes(
        b"case_id,functionality,text,label,ideology,target\na,f,caf\xe9 text,1,none,\n")
    suites = discover(tmp_path)
    with pytest.raises(SuiteError, match=r"c\.csv: cannot read"):
        evaluate(suites, ["functional"], {"model": FakeClassifier()})


def test_cli_with_a_real_tiny_model(tiny_model_dir, tmp_path):
    """The real Classifier (a tiny random transformer from conftest) through the CLI's own
    loader: checks the runner relies only on the public Classifier surface."""
    out = tmp_path / "tiny"
    rc = eval_cli.main(["--suites-dir", str(SUITES), "--model", str(tiny_model_dir),
                        "--baseline", "none", "--out", str(out), "--suite", "functional",
                        "calibration"])
    assert rc == 0
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(res["models"]) == {"model"}
    assert res["suites"]["functional"]["by_model"]["model"]["overall"]["n"] == 12
    assert res["suites"]["calibration"]["by_model"]["model"]["hate"]["n"] == 6


def test_previous_model_reported_between_model_and_baseline():
    suites = discover(SUITES)
    models = {**_models(), "previous": CountingFake({"extremism": ("caliphate",)},
                                                    name="fake-previous")}
    out = evaluate(suites, list(suites), models)
    head = render_headline(out)
    assert head.startswith("| metric | fake | fake-previous | fake-baseline |")
    row = next(line for line in head.splitlines() if line.startswith("| functional accuracy"))
    assert row.count("|") == 5  # label + three models
    md = render_markdown(out)
    assert "previous: fake-previous" in md
    render_html(out)  # the plots take the third role too
