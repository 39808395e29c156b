"""Throughput of the cascade on a queue-like mix, beside each of its models alone.

    python bench/cascade_mix.py [--cascade models/veguard-cascade-v4] [--n 2000] [--violating 0.03]

The mix: `n` texts from the corpus test split, `violating` of them positive on a flagging
category and the rest negative on all three (a moderation queue is mostly benign). Each system
scores the same texts once, in one process, after a warm-up batch, with its result cache off,
so the figure is cold scoring: the fast model alone, the larger model alone (the cascade's
stored weights without the prefilter) and the cascade. Prints texts/s, the share of texts the
larger model saw, and how the cascade's flags compare with the larger model's alone.
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
    t = time.perf_counter()
    res = clf.score(texts)
    return time.perf_counter() - t, res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cascade", default=str(ROOT / "models" / "veguard-cascade-v4"))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--violating", type=float, default=0.03)
    opts = ap.parse_args(argv)
    texts, violating = mix(opts.n, opts.violating)
    print(f"load average before: {os.getloadavg()[0]:.2f}; {len(texts)} texts, "
          f"{opts.violating:.0%} violating, corpus test split")
    cascade = Classifier.load(opts.cascade)
    fast = cascade.prefilter.clf
    p = Path(opts.cascade)
    meta = modeldir.read(p)
    big = Classifier(load_backend(p, meta), cascade.thresholds, meta.name + " alone", meta)
    rows = []
    for name, clf in (("fast model alone", fast), ("larger model alone", big),
                      ("cascade", cascade)):
        if clf is cascade:
            cascade.prefilter.counts.update(cleared=0, passed=0)
        secs, res = timed(clf, texts)
        rows.append((name, clf.name, len(texts) / secs, res))
    share = cascade.prefilter.passed_share
    print("| system | model | texts/s | flagged |")
    print("|---|---|---|---|")
    for name, model, rate, res in rows:
        print(f"| {name} | {model} | {rate:.1f} | {sum(r.flagged for r in res)} |")
    big_flags = np.array([r.flagged for r in rows[1][3]])
    cas_flags = np.array([r.flagged for r in rows[2][3]])
    print(f"larger model's share of the cascade's texts: {share:.1%}")
    lost = big_flags & ~cas_flags
    print(f"cascade vs larger model alone: {int(lost.sum())} flags lost "
          f"({int((lost & violating).sum())} of them on violating texts), "
          f"{int((cas_flags & ~big_flags).sum())} added")
    for name, _, _, res in rows:
        flags = np.array([r.flagged for r in res])
        print(f"{name}: {int((flags & violating).sum())} of {int(violating.sum())} violating "
              f"texts flagged, {int((flags & ~violating).sum())} of {int((~violating).sum())} "
              "others")
    print(f"load average after: {os.getloadavg()[0]:.2f}; CPU threads "
          f"{len(os.sched_getaffinity(0))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
