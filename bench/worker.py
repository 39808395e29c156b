"""One benchmark measurement in a fresh process: one system scoring one workload.

    python bench/worker.py SYSTEM MODEL_DIR WORKLOAD.json OUT.json [--budget S] [--keep K]

A fresh process per measurement so cold start (imports + load + first score) and peak RSS
belong to that system alone. The timed loop scores the workload in order, in chunks, until
all texts are done or `--budget` seconds have passed (the first `--keep` texts are always
scored, and their calibrated scores saved for the agreement check).

Systems: `veguard` (the fast path, precision chosen by the CPU; also TF-IDF dirs),
`veguard-fp32`, `onnx` (a directory written by `veguard export`, through ONNX Runtime), `pipeline` (transformers.pipeline with default
settings, fp32), `tfidf` (the TF-IDF reference through the Classifier).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before the heavy imports: cold start includes them

import json
import os
import sys

CHUNK = 256


def peak_rss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: ru_maxrss survives exec, so a child started by a
    # parent that had imported torch would report the parent's peak.
    with open("/proc/self/status", encoding="utf-8") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def load(system: str, model_dir: str):
    """Return score(texts) -> list of per-text score rows (lists of floats)."""
    if system == "pipeline":
        from transformers import pipeline
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        pipe = pipeline("text-classification", model=model_dir)  # what a user writes

        def score(texts, long=False):
            # Defaults, except that texts over 512 tokens crash without truncation.
            kw = {"truncation": True} if long else {}
            return [[r["score"]] for r in pipe(texts, **kw)]

        return score, "fp32"
    if system == "veguard-fp32":
        os.environ["VEGUARD_PRECISION"] = "fp32"
    if system == "onnx":
        os.environ["VEGUARD_BACKEND"] = "onnx"  # an exported dir; ONNX Runtime is opt-in
    from veguard.modeling import Classifier

    clf = Classifier.load(model_dir)

    def score(texts, long=False):
        return clf.predict_proba(texts, batch_size=64).tolist()

    return score, clf.precision


def main(argv: list[str]) -> int:
    system, model_dir, workload, out = argv[:4]
    budget = float(argv[argv.index("--budget") + 1]) if "--budget" in argv else 30.0
    keep = int(argv[argv.index("--keep") + 1]) if "--keep" in argv else 0
    with open(workload, encoding="utf-8") as f:
        w = json.load(f)
    texts, tokens, long = w["texts"], w["tokens"], w["name"] == "long"
    if system == "pipeline" and long:
        tokens = [min(t, 512) for t in tokens]  # truncated: it reads only the first 512 tokens
    score, precision = load(system, model_dir)
    score(["warm up: the first call allocates"], long)
    cold = time.perf_counter() - T0
    score(texts[: min(16, len(texts))], long)  # warm the length buckets

    done, kept = 0, []
    start = time.perf_counter()
    # Chunks start small and double while a chunk takes under a second, so a slow system
    # (the default pipeline) stops near the budget and a fast one gets full batches.
    step = 1 if long else 8
    while done < len(texts):
        t = time.perf_counter()
        rows = score(texts[done : done + step], long)
        if done < keep:
            kept.extend(rows[: keep - done])
        done += len(rows)
        if time.perf_counter() - t < 1.0:
            step = min(step * 2, CHUNK)
        if time.perf_counter() - start > budget and done >= keep:
            break
    elapsed = time.perf_counter() - start
    result = {
        "system": system,
        "workload": w["name"],
        "precision": precision,
        "texts": done,
        "seconds": elapsed,
        "texts_per_s": done / elapsed,
        "tokens_per_s": sum(tokens[:done]) / elapsed,
        "cold_start_s": cold,
        "peak_rss_mb": peak_rss_mb(),
        "scores": kept,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
