"""Throughput of the cascade on a queue-like mix, beside each of its models alone.

    python bench/cascade_mix.py [--cascade DIR (the shipped default)] [--n 2000] [--violating 0.03]
                                [--compare models/veguard-cascade-v4] [--docs]

The mix: `n` texts from the corpus test split, `violating` of them positive on a flagging
category and the rest negative on all three (a moderation queue is mostly benign). Each system
scores the same texts once, in one process, after a warm-up batch, with its result cache off,
so the figure is cold scoring: the fast model alone, the larger model alone (the cascade's
stored weights without the prefilter) and the cascade. Prints texts/s, the share of texts the
larger model saw, and how the cascade's flags compare with the larger model's alone.
`--compare` times a second cascade's whole path on the same texts (e.g. the one it replaces).
It also times the start-up a user meets with the cascade: `veguard score "one text"` in a
fresh process (imports, load, one score) for a post the fast stage clears and for one the
cascade flags for extremism (which loads the larger model and the routing model as well).
`--docs` writes the table into docs/PERFORMANCE.md between its markers (bench/run.py keeps it).
A script that prints numbers, never a test: timings on a shared machine are noisy, so it
prints the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ["VEGUARD_CACHE_SIZE"] = "0"  # cold figures: repeats must not hit a cache

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from veguard import modeldir  # noqa: E402
from veguard.backends import load_backend  # noqa: E402
from veguard.modeling import Classifier  # noqa: E402
from veguard.taxonomy import FLAGGING  # noqa: E402


def mix(n: int, violating: float, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """`n` texts and whether each is violating (positive on a flagging category)."""
    df = pd.read_parquet(ROOT / "data" / "processed" / "corpus.parquet")
    test = df[df.split == "test"]
    labels = test[list(FLAGGING)]
    pos = test[(labels == 1).any(axis=1)]
    neg = test[(labels == 0).all(axis=1)]
    k = int(round(n * violating))
    rows = pd.concat([pos.sample(k, random_state=seed), neg.sample(n - k, random_state=seed)])
    rows = rows.sample(frac=1.0, random_state=seed)
    return rows.text.tolist(), (rows[list(FLAGGING)] == 1).any(axis=1).to_numpy()


def timed(clf, texts: list[str]) -> tuple[float, list]:
    clf.score(texts[:64])  # warm-up: first calls pay for lazy loading and allocation
    if clf.prefilter is not None:  # count the timed texts only
        clf.prefilter.counts.update(cleared=0, passed=0)
    t = time.perf_counter()
    res = clf.score(texts)
    return time.perf_counter() - t, res


# A post the fast stage clears, and one the cascade flags for extremism (checked each run).
CLEARED = "have a lovely day everyone"
FLAGGED = "we will kill them all, brothers, join the caliphate now"


def startup(cascade, path: str, repeats: int = 3) -> list[str]:
    """Table rows: best and every wall time of `veguard score TEXT` in a fresh process."""
    from run import score_cli_seconds

    cleared = bool(cascade.prefilter.clears(cascade.prefilter.clf.predict_proba([CLEARED]))[0])
    flagged = cascade.score(FLAGGED)
    rows = []
    for what, text, ok in (("a post the fast stage clears", CLEARED, cleared),
                           ("a post flagged for extremism (larger model and routing load)",
                            FLAGGED, flagged.categories["extremism"])):
        runs = [score_cli_seconds(path, text) for _ in range(repeats)]
        note = "" if ok else " (the text did not take this path: fix CLEARED / FLAGGED)"
        rows.append(f"| {what}{note} | {min(runs):.2f} | {', '.join(f'{x:.2f}' for x in runs)} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cascade", default=str(ROOT / modeldir.DEFAULT_MODEL))
    ap.add_argument("--compare", default=None, help="another cascade to time on the same texts")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--violating", type=float, default=0.03)
    ap.add_argument("--docs", action="store_true", help="write the table into docs/PERFORMANCE.md")
    opts = ap.parse_args(argv)
    t_start = time.time()
    texts, violating = mix(opts.n, opts.violating)
    load_before = os.getloadavg()[0]
    cascade = Classifier.load(opts.cascade)
    p = Path(opts.cascade)
    meta = modeldir.read(p)
    big = Classifier(load_backend(p, meta), cascade.thresholds, meta.name + " alone", meta)
    systems = [("fast stage alone", cascade.prefilter.clf), ("larger model alone", big),
               ("**cascade**", cascade)]
    if opts.compare:
        systems.append(("another cascade", Classifier.load(opts.compare)))
    rows = []
    for role, clf in systems:
        secs, res = timed(clf, texts)
        flags = np.array([r.flagged for r in res])
        share = clf.prefilter.passed_share if clf.prefilter is not None else None
        rows.append({"role": role, "model": clf.name, "rate": len(texts) / secs, "flags": flags,
                     "share": share})
    big_flags, cas_flags = rows[1]["flags"], rows[2]["flags"]
    lost = big_flags & ~cas_flags
    table = ["| system | model | texts/s | larger model's share | flagged: violating / others |",
             "|---|---|---:|---:|---|"]
    for r in rows:
        share = "-" if r["share"] is None else f"{r['share']:.1%}"
        table.append(f"| {r['role']} | {r['model']} | {r['rate']:.1f} | {share} | "
                     f"{int((r['flags'] & violating).sum())} of {int(violating.sum())} / "
                     f"{int((r['flags'] & ~violating).sum())} of {int((~violating).sum())} |")
    boot = ["| `veguard score \"one text\"` (fresh process, wall) | best s | every run s |",
            "|---|---:|---|", *startup(cascade, opts.cascade)]
    notes = [f"- The cascade lost {int(lost.sum())} of the larger model's {int(big_flags.sum())} "
             f"flags ({int((lost & violating).sum())} of them on violating texts) and added "
             f"{int((cas_flags & ~big_flags).sum())}.",
             f"- Load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
             f"{len(os.sched_getaffinity(0))} CPU threads; {time.time() - t_start:.0f} s wall."]
    print("\n".join(table + [""] + notes + [""] + boot))
    if opts.docs:
        write_docs(opts, table, notes, boot)
    return 0


def write_docs(opts, table: list[str], notes: list[str], boot: list[str]) -> Path:
    """Replace (or insert after the header) the cascade section of docs/PERFORMANCE.md."""
    from report import markers, put_marked

    begin, end = markers("cascade")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    new = "\n".join([
        begin,
        "## The default cascade on a queue-like mix",
        "",
        f"Generated by `python bench/cascade_mix.py --n {opts.n} --violating {opts.violating}"
        + (f" --compare {Path(opts.compare).name}" if opts.compare else "") + f" --docs` on "
        f"{when}. This is the throughput that counts for the shipped default "
        f"(`{Path(opts.cascade).name}`): {opts.n:,} corpus test texts, "
        f"{opts.violating:.0%} of them positive on a flagging category and the rest negative on "
        "all three, each system scoring them once in one process after a warm-up batch, result "
        "cache off. The rest of this page measures single models (`bench/run.py`).",
        "",
        *table,
        "",
        *notes,
        "",
        ("Start-up of the same cascade, as a user meets it (result cache on, its default); "
         "the goal of issue #12 is under 1.5 s:"),
        "",
        *boot,
        end,
    ])
    return put_marked(ROOT / "docs" / "PERFORMANCE.md", "cascade", new,
                      before="## Machine and inputs")


if __name__ == "__main__":
    sys.exit(main())
