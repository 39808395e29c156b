"""`veguard train`: train a model directory from a YAML config, or re-calibrate one.

    veguard train --config training/configs/default.yaml [--set key=value ...]
                  [--out runs/NAME] [--fp16]
    veguard train --config training/configs/routing.yaml --out MODEL_DIR   # routing labels
    veguard train --calibrate-only --model DIR [--corpus PATH]
    veguard train --documents-only --model DIR [--corpus PATH]   # the long-document rule
    veguard train --help-config          # every config key with its type, default and help

Leaves out: the training itself (loop.py, tfidf.py, routing.py) and the config reference (args.py).
"""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="veguard train", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="YAML config (training/configs/*.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable); dict keys as source_caps.NAME=N")
    p.add_argument("--out", help="model/run directory (overrides the config's `out`)")
    p.add_argument(
        "--fp16", action="store_true", help="save float16 weights (same as save_dtype=float16)"
    )
    p.add_argument("--calibrate-only", action="store_true",
                   help="recompute thresholds.json for --model from the validation split")
    p.add_argument("--documents-only", action="store_true",
                   help="fit --model's document rule (veguard.documents) on the corpus's long "
                        "documents of the train and validation splits")
    p.add_argument("--model", help="model directory for --calibrate-only / --documents-only")
    p.add_argument("--review-min-precision", type=float, default=None,
                   help="with --calibrate-only: precision floor for the review point "
                        "(default: the one recorded in thresholds.json)")
    p.add_argument("--corpus", help="corpus path (overrides the config; used by --calibrate-only)")
    p.add_argument("--help-config", action="store_true", help="list config keys and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    if opts.help_config:
        from veguard.training.args import help_text

        print(help_text())
        return 0
    if opts.calibrate_only:
        if not opts.model:
            print("veguard train: --calibrate-only needs --model DIR", file=sys.stderr)
            return 2
        from veguard.modeldir import ModelNotFoundError
        from veguard.training.recalibrate import calibrate_model_dir

        try:
            th = calibrate_model_dir(
                opts.model, opts.corpus, review_min_precision=opts.review_min_precision
            )
        except (ValueError, ModelNotFoundError) as e:
            print(f"veguard train: {e}", file=sys.stderr)
            return 1
        for c in th.review:
            print(f"{c}: T={th.temperature[c]:.3f} b={th.bias[c]:+.3f} "
                  f"review={th.review[c]:.4f} auto={th.auto[c]:.4f}")
        return 0

    if opts.documents_only:
        if not opts.model:
            print("veguard train: --documents-only needs --model DIR", file=sys.stderr)
            return 2
        from veguard.modeldir import ModelNotFoundError
        from veguard.training.documents import fit_documents

        try:
            rule = fit_documents(opts.model, opts.corpus)
        except (ValueError, ModelNotFoundError) as e:
            print(f"veguard train: {e}", file=sys.stderr)
            return 1
        for c, v in rule["coef"].items():
            print(f"{c}: score = sigmoid({v[0]:.3f} * best window + {v[1]:.3f} * "
                  f"document view + {v[2]:.3f})")
        return 0

    from veguard.training.args import load_args

    overrides = list(opts.overrides)
    if opts.out:
        overrides.append(f"out={opts.out}")
    if opts.corpus:
        overrides.append(f"corpus={opts.corpus}")
    if opts.fp16:
        overrides.append("save_dtype=float16")
    try:
        args = load_args(opts.config, overrides)
    except ValueError as e:
        print(f"veguard train: {e}", file=sys.stderr)
        return 2
    try:
        if args.kind == "routing":
            from veguard.modeldir import ModelNotFoundError
            from veguard.training.routing import train_routing

            try:
                out = train_routing(args)
            except ModelNotFoundError as e:
                raise ValueError(str(e)) from None
        elif args.kind == "tfidf":
            from veguard.training.tfidf import train_tfidf

            out = train_tfidf(args)
        else:
            # Passive OpenMP waits before torch loads: on a shared CPU, spinning threads made
            # training several times slower (docs/PERFORMANCE.md; VEGUARD_SPIN=1 opts out).
            from veguard.backends import _prepare_openmp

            _prepare_openmp()
            from veguard.training.loop import train

            out = train(args)
    except ValueError as e:
        print(f"veguard train: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0
