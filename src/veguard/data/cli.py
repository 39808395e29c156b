"""`veguard data build`: build `data/processed/corpus.parquet` and `data/DATACARD.md`.

Bad input (a missing or malformed source, suite or decisions file) exits with code 2 and a
one-line message naming the file, never a traceback.
Left out: any other `data` subcommand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from veguard.data.sources import DataError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="veguard data", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="build the processed corpus and its data card")
    b.add_argument("--raw", default="data/raw", help="folder of source datasets (data/raw)")
    b.add_argument("--synthetic", default="data/synthetic",
                   help="folder of synthetic JSONL (data/synthetic)")
    b.add_argument("--out", default="data/processed", help="output folder for corpus.parquet")
    b.add_argument("--decisions", action="append", default=[], metavar="FILE.jsonl",
                   help="reviewer decisions to include (repeatable)")
    b.add_argument("--suites", default="eval/suites",
                   help="evaluation suites whose texts are kept out of train/validation")
    b.add_argument("--card", default="data/DATACARD.md", help="where to write the data card")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from veguard.data.corpus import build_corpus
    from veguard.data.datacard import render_datacard

    try:
        df, stats = build_corpus(raw=args.raw, synthetic=args.synthetic, out=args.out,
                                 decisions=args.decisions, suites=args.suites)
    except (DataError, ValueError, OSError) as exc:  # bad input, incl. synthetic files
        print(f"veguard data build: {exc}", file=sys.stderr)
        return 2
    command = "veguard data build" + "".join(f" --decisions {d}" for d in args.decisions)
    Path(args.card).parent.mkdir(parents=True, exist_ok=True)
    Path(args.card).write_text(render_datacard(df, stats, command), encoding="utf-8")
    print(f"wrote {Path(args.out) / 'corpus.parquet'} ({len(df)} rows) and {args.card} "
          f"in {stats['seconds']['total']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
