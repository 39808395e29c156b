"""`veguard eval`: run evaluation suites, write results.json, then report.md/.html and headline.md.

    veguard eval [--suite NAME ...|all] [--model PATH] [--previous PATH] [--baseline PATH]
                 [--out DIR] [--list]

`--model` defaults to the shipped model; `--baseline` to models/tfidf-reference when it
exists (`--baseline none` for no baseline). Output goes to eval/reports/<model-name>/ unless
`--out` says otherwise. Suite specs are read from eval/suites/ (`--suites-dir` to change).
Exit status: 0 done, 2 bad arguments or suite specs, 1 a model could not be loaded.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from veguard.evaluation.suites import DEFAULT_SUITES_DIR, SuiteError, discover
from veguard.paths import REPO_ROOT


def repo_path(rel: str) -> Path:
    """`rel` under the working directory when it exists there, else under the repository
    root, so `veguard eval` works from the checkout root and from elsewhere alike."""
    here = Path(rel)
    return here if here.exists() or not (REPO_ROOT / rel).exists() else REPO_ROOT / rel


DEFAULT_BASELINE = "models/tfidf-reference"


def load_model(path: str | None):
    """A Classifier from `path`, or the shipped default. Imported lazily: torch is heavy."""
    from veguard.modeling import Classifier

    return Classifier.load(path) if path else Classifier.load()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="veguard eval", description=__doc__.split("\n")[0])
    p.add_argument("--suite", nargs="+", action="extend", metavar="NAME",
                   help="suites to run (default: all)")
    p.add_argument("--model", metavar="PATH", help="model directory (default: the shipped model)")
    p.add_argument("--baseline", metavar="PATH",
                   help=f"baseline model directory, or 'none' "
                        f"(default: {DEFAULT_BASELINE} if present)")
    p.add_argument("--previous", metavar="PATH",
                   help="an earlier model directory to report beside the model and the "
                        "baseline (e.g. the model this one replaces)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: eval/reports/<model>)")
    p.add_argument("--list", action="store_true", help="list the suites and exit")
    p.add_argument("--suites-dir", default=None, metavar="DIR",
                   help=f"where suite specs live (default: {DEFAULT_SUITES_DIR})")
    return p


def _safe_dirname(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"


def write_reports(results: dict, out_dir: Path) -> list[Path]:
    """results.json first, then the renderings of it. Returns the paths written."""
    from veguard.evaluation.html_report import render_html
    from veguard.evaluation.report import render_headline, render_markdown
    from veguard.evaluation.runner import dumps, write_results

    paths = [write_results(results, out_dir)]
    # Render from the JSON as written (sorted keys), so a report re-rendered later from
    # results.json is identical to this one.
    results = json.loads(dumps(results))
    for name, text in (("report.md", render_markdown(results)),
                       ("report.html", render_html(results)),
                       ("headline.md", render_headline(results))):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        suites = discover(args.suites_dir or repo_path(str(DEFAULT_SUITES_DIR)))
    except SuiteError as e:
        print(f"veguard eval: {e}", file=sys.stderr)
        return 2
    if args.list:
        width = max((len(n) for n in suites), default=0)
        for name, s in suites.items():
            print(f"{name:<{width}}  {s.kind:<11}  {s.description}")
        return 0
    chosen = args.suite or ["all"]
    selected = list(suites) if "all" in chosen else list(dict.fromkeys(chosen))
    unknown = [n for n in selected if n not in suites]
    if unknown:
        print(f"veguard eval: unknown suite {unknown[0]!r}; available: {', '.join(suites)}",
              file=sys.stderr)
        return 2

    from veguard.evaluation.runner import evaluate, stderr_log

    baseline = args.baseline
    if baseline is None and repo_path(DEFAULT_BASELINE).is_dir():
        baseline = str(repo_path(DEFAULT_BASELINE))
    try:
        models = {"model": load_model(args.model)}
        paths = {"model": args.model or "shipped default"}
        if args.previous:
            models["previous"] = load_model(args.previous)
            paths["previous"] = args.previous
        if baseline and baseline.lower() != "none":
            models["baseline"] = load_model(baseline)
            paths["baseline"] = baseline
    except (ImportError, OSError, ValueError) as e:
        print(f"veguard eval: cannot load model: {e}", file=sys.stderr)
        return 1

    try:
        results = evaluate(suites, selected, models, paths, log=stderr_log)
    except SuiteError as e:
        print(f"veguard eval: {e}", file=sys.stderr)
        return 2
    out_dir = (Path(args.out) if args.out
               else repo_path("eval") / "reports" / _safe_dirname(models["model"].name))
    for path in write_reports(results, out_dir):
        print(f"wrote {path}")
    print((out_dir / "headline.md").read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
