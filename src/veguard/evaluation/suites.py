"""Evaluation suites as data: read and validate `eval/suites/<name>.yaml`, load their cases.

A suite spec names its kind, its case files (paths relative to the suites directory), the
gold-label and slice columns, and the metrics to compute. Each kind's fields and metrics
are declared in `kinds.py`. Six kinds exist:

- `corpus`:      the processed corpus's test split, per source (`corpus:` block);
- `functional`:  hand-made functional test cases (`cases:` CSV);
- `robustness`:  perturbed copies of another (functional) suite's violating cases;
- `identity`:    templates x identity terms, and identity mentions in the corpus;
- `calibration`: calibration error on the corpus test split;
- `routing`:     hand-made extremist texts with their movement and behaviour (`cases:` CSV).

Bad specs and bad case files raise `SuiteError` naming the file and the field or line.
What it leaves out: scoring and metrics (runner.py, metrics.py).
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from veguard.data.schema import SCORED_COLUMNS
from veguard.evaluation.kinds import COMMON, KIND_ORDER, KINDS, REQUIRED
from veguard.taxonomy import CATEGORIES, FLAGGING, ROUTING, SPLITS

DEFAULT_SUITES_DIR = Path("eval/suites")


class SuiteError(ValueError):
    """A suite spec or case file is unusable; the message names the file and field/line."""


class SuiteUnavailable(RuntimeError):
    """A suite's inputs do not exist here (e.g. the corpus is not built); the run skips it."""


CORPUS_DEFAULTS = {"split": "test", "max_rows_per_source": 1500, "seed": 0, "file": None}


@dataclass(frozen=True)
class CorpusSpec:
    """Which corpus rows a suite uses. Equal specs share one sample (and one scoring pass)."""

    split: str = "test"
    max_rows_per_source: int = 1500
    seed: int = 0
    file: Path | None = None  # a CSV/parquet in corpus schema instead of load_corpus() (tests)


@dataclass
class Suite:
    name: str
    kind: str
    description: str
    path: Path
    metrics: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    corpus: CorpusSpec | None = None

    def file(self, key: str) -> Path:
        """A case-file option resolved against the suite's directory."""
        return self.path.parent / self.options[key]


def _check_type(path: Path, key: str, value: Any, typ: type) -> Any:
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ is int and isinstance(value, bool) or not isinstance(value, typ):
        raise SuiteError(f"{path}: field {key!r}: expected {typ.__name__}, got {value!r}")
    return value


def _corpus_spec(path: Path, raw: Any) -> CorpusSpec:
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: field 'corpus': expected a mapping, got {raw!r}")
    unknown = sorted(set(raw) - set(CORPUS_DEFAULTS))
    if unknown:
        raise SuiteError(f"{path}: field 'corpus.{unknown[0]}': unknown; expected one of "
                         f"{', '.join(CORPUS_DEFAULTS)}")
    vals = {**CORPUS_DEFAULTS, **raw}
    if vals["split"] not in SPLITS:
        raise SuiteError(f"{path}: field 'corpus.split': {vals['split']!r} is not one of "
                         f"{', '.join(SPLITS)}")
    for key in ("max_rows_per_source", "seed"):
        if isinstance(vals[key], bool) or not isinstance(vals[key], int) or vals[key] < 0:
            raise SuiteError(f"{path}: field 'corpus.{key}': expected a non-negative integer")
    file = path.parent / vals["file"] if vals["file"] else None
    return CorpusSpec(vals["split"], vals["max_rows_per_source"], vals["seed"], file)


def load_suite(path: str | Path) -> Suite:
    """Read and validate one suite spec."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise SuiteError(f"{path}: cannot read suite spec: {e}") from e
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: a suite spec must be a mapping of fields")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise SuiteError(f"{path}: field 'kind': {kind!r} is not one of {', '.join(KINDS)}")
    schema = {**COMMON, **KINDS[kind].schema}
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        raise SuiteError(f"{path}: field {unknown[0]!r}: unknown for kind {kind!r}")
    vals: dict[str, Any] = {}
    for key, (typ, default) in schema.items():
        if key not in raw:
            if default is REQUIRED:
                raise SuiteError(f"{path}: field {key!r}: required")
            vals[key] = default
        else:
            vals[key] = _check_type(path, key, raw[key], typ)
    if vals["name"] != path.stem:
        raise SuiteError(f"{path}: field 'name': {vals['name']!r} must match the file name")
    allowed = KINDS[kind].metrics
    bad = [m for m in vals["metrics"] if m not in allowed]
    if bad or not vals["metrics"]:
        raise SuiteError(f"{path}: field 'metrics': {bad[0] if bad else '(empty)'!s} is not one of "
                         f"{', '.join(allowed)}")
    for key in ("categories",):
        for c in vals.get(key, ()):
            if c not in CATEGORIES:
                raise SuiteError(f"{path}: field 'categories': unknown category {c!r}")
    for op in vals.get("operating_points", ()):
        if op not in ("review", "auto"):
            raise SuiteError(f"{path}: field 'operating_points': {op!r} is not review or auto")
    if kind == "robustness":
        from veguard.evaluation.perturb import PERTURBATIONS

        for p in vals["perturbations"]:
            if p not in PERTURBATIONS:
                raise SuiteError(f"{path}: field 'perturbations': unknown {p!r}; expected one of "
                                 f"{', '.join(PERTURBATIONS)}")
    corpus = _corpus_spec(path, vals.pop("corpus")) if "corpus" in schema else None
    meta = {k: vals.pop(k) for k in ("name", "kind", "description", "metrics")}
    return Suite(meta["name"], kind, " ".join(meta["description"].split()), path,
                 tuple(meta["metrics"]), vals, corpus)


def discover(suites_dir: str | Path = DEFAULT_SUITES_DIR) -> dict[str, Suite]:
    """All `*.yaml` suites in `suites_dir`, in report order (kind, then name)."""
    suites_dir = Path(suites_dir)
    if not suites_dir.is_dir():
        raise SuiteError(f"{suites_dir}: no such suites directory")
    suites = [load_suite(p) for p in sorted(suites_dir.glob("*.yaml"))]
    suites.sort(key=lambda s: (KIND_ORDER.index(s.kind), s.name))
    return {s.name: s for s in suites}


def read_csv(path: Path, required: list[str]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs of a UTF-8 CSV, checking the header has `required` columns."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise SuiteError(f"{path}: missing column(s) {', '.join(missing)}")
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as e:  # not UTF-8, or not CSV
        raise SuiteError(f"{path}: cannot read: {e}") from e
    if not rows:
        raise SuiteError(f"{path}: no rows")
    return rows


def _label(path: Path, line: int, col: str, value: str | None) -> int:
    if (value or "").strip() not in ("0", "1"):
        raise SuiteError(f"{path}:{line}: field {col!r}: expected 0 or 1, got {value!r}")
    return int(value.strip())


def _text(path: Path, line: int, col: str, value: str | None) -> str:
    if not (value or "").strip():
        raise SuiteError(f"{path}:{line}: field {col!r}: empty text")
    return value


def load_functional_cases(suite: Suite) -> list[dict]:
    """Rows as {"id", "text", "label", <slice columns>...}, in file order; ids must be unique."""
    o, path = suite.options, suite.file("cases")
    cases, seen = [], set()
    for line, row in read_csv(path, [o["id"], o["text"], o["label"], *o["slices"]]):
        cid = (row[o["id"]] or "").strip()
        if not cid or cid in seen:
            raise SuiteError(f"{path}:{line}: field {o['id']!r}: empty or duplicate id {cid!r}")
        seen.add(cid)
        case = {"id": cid, "text": _text(path, line, o["text"], row[o["text"]]),
                "label": _label(path, line, o["label"], row[o["label"]])}
        case.update({s: (row[s] or "").strip() for s in o["slices"]})
        cases.append(case)
    return cases


def load_routing_cases(suite: Suite) -> list[dict]:
    """Rows as {"id", "text", "movement", "behaviour"}, in file order; labels from the taxonomy."""
    o, path = suite.options, suite.file("cases")
    cases, seen = [], set()
    for line, row in read_csv(path, [o["id"], o["text"], *ROUTING]):
        cid = (row[o["id"]] or "").strip()
        if not cid or cid in seen:
            raise SuiteError(f"{path}:{line}: field {o['id']!r}: empty or duplicate id {cid!r}")
        seen.add(cid)
        case = {"id": cid, "text": _text(path, line, o["text"], row[o["text"]])}
        for dim, labels in ROUTING.items():
            value = (row[dim] or "").strip()
            if value not in labels:
                raise SuiteError(f"{path}:{line}: field {dim!r}: {value!r} is not one of "
                                 f"{', '.join(labels)}")
            case[dim] = value
        cases.append(case)
    return cases


def load_identity_cases(suite: Suite) -> tuple[list[dict], dict[str, str]]:
    """(templates x terms cases, {term: group}). Text = the template with `{term}` replaced.

    Plain string replacement, never str.format: templates are data and may hold braces.
    """
    o = suite.options
    terms: dict[str, str] = {}
    tpath = suite.file("terms")
    for line, row in read_csv(tpath, ["term", "group"]):
        term = (row["term"] or "").strip()
        if not term or term in terms:
            raise SuiteError(f"{tpath}:{line}: field 'term': empty or duplicate {term!r}")
        terms[term] = (row["group"] or "").strip()
    ppath = suite.file("templates")
    cases, seen = [], set()
    for line, row in read_csv(ppath, ["template_id", "template", o["label"]]):
        tid = (row["template_id"] or "").strip()
        template = _text(ppath, line, "template", row["template"])
        if "{term}" not in template:
            raise SuiteError(f"{ppath}:{line}: field 'template': has no {{term}} slot")
        if not tid or tid in seen:
            raise SuiteError(f"{ppath}:{line}: field 'template_id': empty or duplicate {tid!r}")
        seen.add(tid)
        label = _label(ppath, line, o["label"], row[o["label"]])
        for term, group in terms.items():
            cases.append({"id": f"{tid}:{term}", "text": template.replace("{term}", term),
                          "label": label, "term": term, "group": group, "template_id": tid})
    return cases, terms


def load_corpus_sample(spec: CorpusSpec):
    """The corpus rows of `spec.split`, at most `max_rows_per_source` per source.

    The sample is the rows with the smallest SHA-1 of "seed:id" per source: deterministic,
    independent of row order and of pandas' random generator. Rows come back sorted by id.
    Raises SuiteUnavailable when there is no corpus to read.
    """
    import pandas as pd

    if spec.file is not None:
        if not spec.file.exists():
            raise SuiteUnavailable(f"{spec.file} not found")
        df = (pd.read_parquet(spec.file) if spec.file.suffix == ".parquet"
              else pd.read_csv(spec.file, dtype={"id": str, "text": str}, keep_default_na=False))
    else:
        try:
            from veguard.data.corpus import load_corpus

            df = load_corpus()
        except (ImportError, FileNotFoundError) as e:
            raise SuiteUnavailable(f"no processed corpus ({e}); run `veguard data build`") from e
    missing = [c for c in SCORED_COLUMNS if c not in df.columns]
    if missing:
        raise SuiteError(f"{spec.file or 'corpus'}: missing column(s) {', '.join(missing)}")
    df = df[df["split"] == spec.split].copy()
    df["_rank"] = [hashlib.sha1(f"{spec.seed}:{i}".encode()).hexdigest() for i in df["id"]]
    df = (df.sort_values(["source", "_rank"]).groupby("source", sort=True)
            .head(spec.max_rows_per_source).drop(columns="_rank"))
    return df.sort_values("id").reset_index(drop=True)


def flagging_label(row) -> int | None:
    """1 if any flagging category is 1, 0 if none is 1 and at least one is 0, else None."""
    vals = [int(row[c]) for c in FLAGGING]
    if 1 in vals:
        return 1
    return 0 if 0 in vals else None


def term_pattern(term: str) -> re.Pattern:
    """Whole-word, case-insensitive match of an identity term inside a text."""
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
