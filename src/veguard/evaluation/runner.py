"""Run evaluation suites against a model (and a baseline) and build the results dict.

`evaluate(suites, models)` is the one entry point: `models` maps a role ("model",
"baseline") to anything with the Classifier surface (`name`, `thresholds`, `score(list)`).
Each distinct text is scored once per model, whatever the number of suites that use it
(`CachedScorer`). The results are plain JSON-ready data, rounded so that the same inputs
give byte-identical `results.json`; rendering lives in report.py and html_report.py.

What it leaves out: loading models and writing files (cli.py), metric formulas (metrics.py).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable
from pathlib import Path

from veguard import metrics as M
from veguard.evaluation.kinds import KINDS
from veguard.evaluation.perturb import perturb
from veguard.evaluation.suites import (
    CorpusSpec,
    Suite,
    SuiteUnavailable,
    flagging_label,
    load_corpus_sample,
    load_functional_cases,
    load_identity_cases,
    load_routing_cases,
    term_pattern,
)
from veguard.result import ScoreResult
from veguard.taxonomy import CATEGORIES, FLAGGING, ROUTING

RESULTS_VERSION = 1
BATCH = 128


class CachedScorer:
    """Scores through a classifier, remembering each text's result for the whole run."""

    def __init__(self, clf, log=None):
        self.clf = clf
        self.cache: dict[str, ScoreResult] = {}
        self.log = log

    def score(self, texts: Iterable[str]) -> list[ScoreResult]:
        texts = list(texts)
        todo = sorted({t for t in texts if t not in self.cache})
        if todo and self.log:
            self.log(f"scoring {len(todo)} new texts with {self.clf.name}")
        for i in range(0, len(todo), BATCH):
            batch = todo[i : i + BATCH]
            for text, result in zip(batch, self.clf.score(batch), strict=True):
                self.cache[text] = result
        return [self.cache[t] for t in texts]


def flag_score(r: ScoreResult) -> float:
    """One score per text for ranking metrics on the `flagged` decision: the highest
    calibrated probability among the categories that can flag."""
    return max(float(r.scores[c]) for c in FLAGGING)


def _round(obj, places: int = 6):
    """Round floats recursively (stable JSON across platforms); NaN/inf become None."""
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, places)
    if isinstance(obj, dict):
        return {str(k): _round(v, places) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round(v, places) for v in obj]
    return obj


class Run:
    """State shared by the suites of one evaluation: scorers and loaded inputs."""

    def __init__(self, suites: dict[str, Suite], models: dict, log=None):
        self.suites = suites
        self.models = models
        self.scorers = {role: CachedScorer(clf, log) for role, clf in models.items()}
        self._corpus: dict[CorpusSpec, object] = {}
        self._functional: dict[str, list[dict]] = {}

    def corpus(self, spec: CorpusSpec):
        if spec not in self._corpus:
            self._corpus[spec] = load_corpus_sample(spec)
        return self._corpus[spec]

    def functional(self, name: str) -> list[dict]:
        if name not in self._functional:
            self._functional[name] = load_functional_cases(self.suites[name])
        return self._functional[name]


# --- one function per suite kind (named in kinds.py): (suite, run) -> JSON-ready dict -----


def run_corpus(suite: Suite, run: Run) -> dict:
    df = run.corpus(suite.corpus)
    cats, ops, want = suite.options["categories"], suite.options["operating_points"], suite.metrics
    out = {"n_rows": len(df), "sources": sorted(df["source"].unique().tolist()),
           "by_model": {}}
    for role, scorer in run.scorers.items():
        results = scorer.score(df["text"].tolist())
        th = run.models[role].thresholds
        per_role: dict = {"all": {}, "by_source": {}}
        groups = [("all", df.index)] + [(s, g.index) for s, g in df.groupby("source", sort=True)]
        for key, idx in groups:
            block = {}
            for c in cats:
                rows = [i for i in idx if int(df.at[i, c]) != -1]  # unknown labels excluded
                y = [int(df.at[i, c]) for i in rows]
                s = [float(results[i].scores[c]) for i in rows]
                entry: dict = {"n": len(y), "positives": sum(y)}
                for op in ops:
                    t = (th.review if op == "review" else th.auto)[c]
                    m = M.at_threshold(y, s, t)
                    entry[op] = {"threshold": t, **{k: m[k] for k in ("tp", "fp", "fn", "tn")},
                                 **{k: m[k] for k in ("precision", "recall", "f1") if k in want}}
                if "auprc" in want:
                    entry["auprc"] = M.auprc(y, s)
                if "pr_curve" in want and key == "all":
                    entry["pr_curve"] = M.pr_curve(y, s)
                block[c] = entry
            if key == "all":
                per_role["all"] = block
            else:
                per_role["by_source"][key] = block
        out["by_model"][role] = per_role
    return out


def run_functional(suite: Suite, run: Run) -> dict:
    cases = run.functional(suite.name)
    o = suite.options
    out: dict = {"n_cases": len(cases), "min_accuracy": o["min_accuracy"], "by_model": {}}
    y = [c["label"] for c in cases]
    for role, scorer in run.scorers.items():
        results = scorer.score(c["text"] for c in cases)
        pred = [int(r.flagged) for r in results]
        ranking = [flag_score(r) for r in results]
        by = {s: M.accuracy_by_slice(y, pred, [c[s] for c in cases]) for s in o["slices"]}
        correct = sum(int(a == b) for a, b in zip(y, pred))
        neg = [p for p, t in zip(pred, y) if t == 0]
        pos = [p for p, t in zip(pred, y) if t == 1]
        first = o["slices"][0] if o["slices"] else None
        failures = sorted(
            k for k, v in by.get(first, {}).items() if v["accuracy"] < o["min_accuracy"]
        )
        errors: dict[str, list] = {}
        for c, p in zip(cases, pred):
            if p != c["label"] and first:
                bucket = errors.setdefault(c[first], [])
                if len(bucket) < o["examples"]:
                    bucket.append({"id": c["id"], "text": c["text"], "label": c["label"]})
        out["by_model"][role] = {
            # Ranking metrics beside accuracy: how much a better threshold could ever gain.
            "overall": {"n": len(y), "correct": correct, "accuracy": correct / len(y),
                        "auroc": M.roc_auc(y, ranking), "auprc": M.auprc(y, ranking),
                        "fpr": sum(neg) / len(neg) if neg else None,
                        "recall": sum(pos) / len(pos) if pos else None,
                        "not_judged": sum(not getattr(r, "supported", True) for r in results)},
            "by": by, "failures": failures, "errors": errors,
        }
    out["failure_slice"] = o["slices"][0] if o["slices"] else None
    return out


def run_robustness(suite: Suite, run: Run) -> dict:
    o = suite.options
    src = run.suites.get(o["source"])
    if src is None or src.kind != "functional":
        raise SuiteUnavailable(f"source suite {o['source']!r} is not a functional suite here")
    cases = [c for c in run.functional(src.name) if c["label"] == 1]
    variants = {p: [(c, perturb(p, c["text"], o["seed"], c["id"])) for c in cases]
                for p in o["perturbations"]}
    out: dict = {"source": src.name, "n_cases": len(cases), "seed": o["seed"], "examples": {},
                 "perturbations": list(o["perturbations"]), "by_model": {}}
    for p, pairs in variants.items():
        changed = [(c, t) for c, t in pairs if t != c["text"]]
        out["examples"][p] = [{"id": c["id"], "text": t} for c, t in changed[: o["examples"]]]
    for role, scorer in run.scorers.items():
        clean = {
            c["id"]: int(r.flagged) for c, r in zip(cases, scorer.score(c["text"] for c in cases))
        }
        block = {"clean_accuracy": sum(clean.values()) / len(cases) if cases else None,
                 "perturbations": {}}
        for p, pairs in variants.items():
            changed = [(c, t) for c, t in pairs if t != c["text"]]
            flagged = [int(r.flagged) for r in scorer.score(t for _, t in changed)]
            n = len(changed)
            base = sum(clean[c["id"]] for c, _ in changed) / n if n else None
            pert = sum(flagged) / n if n else None
            block["perturbations"][p] = {
                "n_changed": n, "n_unchanged": len(pairs) - n, "clean_accuracy": base,
                "perturbed_accuracy": pert, "drop": base - pert if n else None,
            }
        out["by_model"][role] = block
    return out


def _bias_block(y: list[int], s: list[float], flagged: list[int], member: list[bool],
                want: tuple[str, ...]) -> dict:
    neg_flags = [f for f, yy, g in zip(flagged, y, member) if g and yy == 0]
    block: dict = {"n": sum(member), "n_negative": len(neg_flags)}
    if "fpr" in want:
        block["fpr"] = sum(neg_flags) / len(neg_flags) if neg_flags else None
    if "subgroup_auc" in want:
        block["subgroup_auc"] = M.subgroup_auc(y, s, member)
    if "bpsn_auc" in want:
        block["bpsn_auc"] = M.bpsn_auc(y, s, member)
    if "bnsp_auc" in want:
        block["bnsp_auc"] = M.bnsp_auc(y, s, member)
    return block


def run_identity(suite: Suite, run: Run) -> dict:
    cases, terms = load_identity_cases(suite)
    want = suite.metrics
    out: dict = {"n_cases": len(cases), "terms": terms, "by_model": {}}
    corpus_rows, corpus_note = None, None
    if suite.options["use_corpus"]:
        try:
            df = run.corpus(suite.corpus)
            labels = [flagging_label(r) for _, r in df.iterrows()]
            corpus_rows = [(t, l) for t, l in zip(df["text"], labels) if l is not None]
        except SuiteUnavailable as e:
            corpus_note = str(e)
    y = [c["label"] for c in cases]
    for role, scorer in run.scorers.items():
        res = scorer.score(c["text"] for c in cases)
        s, f = [flag_score(r) for r in res], [int(r.flagged) for r in res]
        tmpl = {t: {**_bias_block(y, s, f, [c["term"] == t for c in cases], want), "group": g}
                for t, g in terms.items()}
        groups = {}
        for g in sorted(set(terms.values())):
            groups[g] = _bias_block(y, s, f, [c["group"] == g for c in cases], ("fpr",))
        neg = [ff for ff, yy in zip(f, y) if yy == 0]
        block: dict = {"templates": {"by_term": tmpl, "by_group": groups,
                                     "overall_fpr": sum(neg) / len(neg) if neg else None}}
        if corpus_rows is not None:
            texts, cy = [t for t, _ in corpus_rows], [l for _, l in corpus_rows]
            cres = scorer.score(texts)
            cs, cf = [flag_score(r) for r in cres], [int(r.flagged) for r in cres]
            by_term = {}
            for t in terms:
                pat = term_pattern(t)
                member = [bool(pat.search(x)) for x in texts]
                if sum(member) >= suite.options["min_mentions"]:
                    by_term[t] = {**_bias_block(cy, cs, cf, member, want), "group": terms[t]}
            block["corpus"] = {"n": len(texts), "by_term": by_term}
        else:
            block["corpus"] = {"skipped": corpus_note or "disabled in the suite spec"}
        out["by_model"][role] = block
    return out


def run_calibration(suite: Suite, run: Run) -> dict:
    df = run.corpus(suite.corpus)
    bins, want = suite.options["bins"], suite.metrics
    out: dict = {"n_rows": len(df), "bins": bins, "by_model": {}}
    for role, scorer in run.scorers.items():
        results = scorer.score(df["text"].tolist())
        block = {}
        for c in suite.options["categories"]:
            keep = [i for i, v in enumerate(df[c].tolist()) if int(v) != -1]
            cal = M.calibration([int(df[c].iat[i]) for i in keep],
                                [float(results[i].scores[c]) for i in keep], bins)
            block[c] = {"n": cal["n"], **({"ece": cal["ece"]} if "ece" in want else {}),
                        **({"reliability": cal["bins"]} if "reliability" in want else {})}
        out["by_model"][role] = block
    return out


def run_routing(suite: Suite, run: Run) -> dict:
    """Per-label precision / recall of each model's routing labels on every case.

    A model without a routing model is recorded as such (`routing: false`), not scored.
    `flagged_extremism` is the share of cases the classifier flags for extremism: only those
    carry `routing` in real results.
    """
    cases = load_routing_cases(suite)
    texts = [c["text"] for c in cases]
    out: dict = {"n_cases": len(cases), "by_model": {}}
    for role, scorer in run.scorers.items():
        route = getattr(run.models[role], "route", None)
        preds = route(texts) if route is not None else None
        if preds is None:
            out["by_model"][role] = {"routing": False}
            continue
        flagged = [bool(r.categories.get("extremism")) for r in scorer.score(texts)]
        block: dict = {"routing": True, "flagged_extremism": sum(flagged) / len(cases)}
        for dim, labels in ROUTING.items():
            gold, got = [c[dim] for c in cases], [p[dim]["label"] for p in preds]
            m = M.per_label(gold, got, labels)
            errors = [{"id": c["id"], "text": c["text"], "gold": g, "predicted": q}
                      for c, g, q in zip(cases, gold, got) if g != q][: suite.options["examples"]]
            want = {k for k in ("precision", "recall", "f1") if k in suite.metrics}
            per = {lab: {k: v for k, v in d.items() if k in want or k in ("tp", "fp", "fn")}
                   for lab, d in m["labels"].items()}
            block[dim] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "labels": per,
                          "errors": errors}
        out["by_model"][role] = block
    return out


def evaluate(suites: dict[str, Suite], selected: list[str], models: dict,
             model_paths: dict[str, str] | None = None, log=None) -> dict:
    """Run the `selected` suites (names in `suites`) and return the results dict.

    `models` maps role -> classifier: "model" is required, "previous" (the model it replaces)
    and "baseline" optional. A suite whose
    inputs are missing here is recorded as skipped with the reason, not dropped silently.
    """
    if "model" not in models:
        raise ValueError("evaluate needs a 'model' entry in models")
    run = Run(suites, models, log)
    out: dict = {"veguard_eval": RESULTS_VERSION, "suite_order": list(selected), "suites": {},
                 "models": {}}
    for role, clf in models.items():
        th = clf.thresholds
        out["models"][role] = {"name": clf.name, "path": (model_paths or {}).get(role),
                               "review": {c: th.review[c] for c in CATEGORIES},
                               "auto": {c: th.auto[c] for c in CATEGORIES}}
    for name in selected:
        suite = suites[name]
        if log:
            log(f"suite {name} ({suite.kind})")
        head = {"kind": suite.kind, "description": suite.description,
                "metrics": list(suite.metrics)}
        try:
            out["suites"][name] = {**head, **KINDS[suite.kind].run(suite, run)}
        except SuiteUnavailable as e:
            out["suites"][name] = {**head, "skipped": str(e)}
    return _round(out)


def dumps(results: dict) -> str:
    """The canonical results.json text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(results, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_results(results: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    path.write_text(dumps(results), encoding="utf-8")
    return path


def stderr_log(msg: str) -> None:
    print(f"veguard eval: {msg}", file=sys.stderr)
