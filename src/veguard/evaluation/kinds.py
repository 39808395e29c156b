"""The suite kinds: each declared once here, and looked up everywhere else.

A `SuiteKind` holds what a spec of that kind may say (`schema`: field -> (type, default)),
the metrics it may ask for, and where its code lives: the runner (suite, run) -> results
block, the report section (results, name, suite) -> blocks, and the headline rows
(results, name, suite) -> rows for the model card. `KINDS` is in report order. Adding a kind is
one entry here plus those three functions.

The functions are named as "module:function" inside `veguard.evaluation` and imported on
first use, so this module imports nothing of the package beyond the taxonomy: `suites.py`
(spec validation) needs the schema without importing the runner or the report.
What it leaves out: the functions themselves (runner.py, report.py) and spec reading
(suites.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from veguard.taxonomy import CATEGORIES

REQUIRED = object()
# Fields every spec has, whatever its kind.
COMMON: dict[str, tuple[type, Any]] = {"name": (str, REQUIRED), "kind": (str, REQUIRED),
                                       "description": (str, REQUIRED), "metrics": (list, REQUIRED)}
_CORPUS_BLOCK = (dict, {})  # checked by suites._corpus_spec


@dataclass(frozen=True)
class SuiteKind:
    name: str
    schema: dict[str, tuple[type, Any]]
    metrics: tuple[str, ...]
    runner: str  # "module:function" in veguard.evaluation
    section: str
    headline: str

    def _resolve(self, ref: str) -> Callable:
        module, func = ref.split(":")
        return getattr(importlib.import_module(f"veguard.evaluation.{module}"), func)

    def run(self, suite, run) -> dict:
        return self._resolve(self.runner)(suite, run)

    def report_section(self, results: dict, name: str, suite: dict) -> list:
        return self._resolve(self.section)(results, name, suite)

    def headline_rows(self, results: dict, name: str, suite: dict) -> list[list[str]]:
        return self._resolve(self.headline)(results, name, suite)


_ALL = (
    SuiteKind(
        "corpus",
        {"corpus": _CORPUS_BLOCK, "categories": (list, list(CATEGORIES)),
         "operating_points": (list, ["review", "auto"]), "slices": (list, ["source"])},
        ("precision", "recall", "f1", "auprc", "pr_curve"),
        "runner:run_corpus", "report:corpus_section", "report:corpus_headline",
    ),
    SuiteKind(
        "functional",
        {"cases": (str, REQUIRED), "id": (str, "case_id"), "text": (str, "text"),
         "label": (str, "label"), "slices": (list, ["functionality", "ideology", "target"]),
         "min_accuracy": (float, 0.8), "examples": (int, 5)},
        ("accuracy",),
        "runner:run_functional", "report:functional_section", "report:functional_headline",
    ),
    SuiteKind(
        "robustness",
        {"source": (str, REQUIRED), "perturbations": (list, REQUIRED), "seed": (int, 0),
         "examples": (int, 1)},
        ("accuracy_drop",),
        "runner:run_robustness", "report:robustness_section", "report:robustness_headline",
    ),
    SuiteKind(
        "identity",
        {"terms": (str, REQUIRED), "templates": (str, REQUIRED), "label": (str, "label"),
         "corpus": _CORPUS_BLOCK, "use_corpus": (bool, True), "min_mentions": (int, 1)},
        ("fpr", "subgroup_auc", "bpsn_auc", "bnsp_auc"),
        "runner:run_identity", "report:identity_section", "report:identity_headline",
    ),
    SuiteKind(
        "calibration",
        {"corpus": _CORPUS_BLOCK, "categories": (list, list(CATEGORIES)), "bins": (int, 15)},
        ("ece", "reliability"),
        "runner:run_calibration", "report:calibration_section", "report:calibration_headline",
    ),
    SuiteKind(
        "routing",
        {"cases": (str, REQUIRED), "id": (str, "case_id"), "text": (str, "text"),
         "examples": (int, 5)},
        ("precision", "recall", "f1"),
        "runner:run_routing", "report:routing_section", "report:routing_headline",
    ),
)
KINDS: dict[str, SuiteKind] = {k.name: k for k in _ALL}
KIND_ORDER: tuple[str, ...] = tuple(KINDS)
