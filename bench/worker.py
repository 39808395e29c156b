"""One benchmark measurement in a fresh process: one system scoring one workload.

    python bench/worker.py SYSTEM MODEL_DIR WORKLOAD.json OUT.json [--budget S] [--keep K]

A fresh process per measurement so cold start (imports + load + first score) and peak RSS
belong to that system alone. The timed loop scores the workload in order, in chunks, until
all texts are done or `--budget` seconds have passed (the first `--keep` texts are always
scored, and their calibrated scores saved for the agreement check).

Systems: `veguard` (the fast path, precision chosen by the CPU; also TF-IDF dirs),
`veguard-fp32`, `onnx` (a directory written by `veguard export`, through ONNX Runtime),
`pipeline` (transformers.pipeline with default settings, fp32), `tfidf` (the TF-IDF reference
through the Classifier), `veguard-cache` (the fast path with its result cache, on a stream in
which every other text repeats one seen before: a spam wave), `torch-bf16` (the plain torch
forward with bf16 weights on pre-tokenised, length-sorted batches of 256: no normalisation,
language ID, I/O or decisions; the ceiling of the fp path).

Every veguard system but `veguard-cache` runs with the result cache off
(`VEGUARD_CACHE_SIZE=0`), so its figure is the cold one.
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
    if system == "torch-bf16":
        return _plain_torch(model_dir), "bf16-weights"
    os.environ["VEGUARD_CACHE_SIZE"] = "20000" if system == "veguard-cache" else "0"
    if system == "veguard-fp32":
        os.environ["VEGUARD_PRECISION"] = "fp32"
    if system == "onnx":
        os.environ["VEGUARD_BACKEND"] = "onnx"  # an exported dir; ONNX Runtime is opt-in
    from veguard.modeling import Classifier

    clf = Classifier.load(model_dir)

    def score(texts, long=False):
        return clf.predict_proba(texts, batch_size=64).tolist()

    return score, clf.precision


def _plain_torch(model_dir: str):
    """score(texts): the bare forward, bf16 weights; tokenising is done before the clock."""
    from pathlib import Path

    import torch

    from veguard import modeldir
    from veguard.backends import _load_lean, _window_tokenizer, default_threads, pad_batch

    torch.set_num_threads(default_threads())
    meta = modeldir.read(Path(model_dir))
    model = _load_lean(Path(model_dir)).to(torch.bfloat16)
    tok = _window_tokenizer(Path(model_dir), meta, meta.max_length)
    pre: dict[str, list[int]] = {}

    def tokenise(texts):
        ids, owner, _ = tok.encode(texts)
        for j, x in zip(owner, ids, strict=True):
            pre.setdefault(texts[j], x)

    def score(texts, long=False):
        ids = [pre[t] for t in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = [None] * len(ids)
        with torch.inference_mode():
            for b in range(0, len(order), 256):
                idx = order[b : b + 256]
                input_ids, mask = pad_batch([ids[i] for i in idx], tok.pad_token_id)
                logits = model(input_ids=torch.from_numpy(input_ids),
                               attention_mask=torch.from_numpy(mask)).logits.float()
                for i, row in zip(idx, logits.tolist(), strict=True):
                    out[i] = row
        return out

    score.tokenise = tokenise
    return score


def _spam_wave(texts: list[str], tokens: list[int]) -> tuple[list[str], list[int]]:
    # Every other text repeats one already seen (uniformly among those), as in a spam wave.
    import random

    rng = random.Random(0)
    out_t, out_k = [], []
    for i, (t, k) in enumerate(zip(texts, tokens, strict=True)):
        out_t.append(t)
        out_k.append(k)
        j = rng.randrange(i + 1)
        out_t.append(texts[j])
        out_k.append(tokens[j])
    return out_t, out_k


def main(argv: list[str]) -> int:
    system, model_dir, workload, out = argv[:4]
    budget = float(argv[argv.index("--budget") + 1]) if "--budget" in argv else 30.0
    keep = int(argv[argv.index("--keep") + 1]) if "--keep" in argv else 0
    with open(workload, encoding="utf-8") as f:
        w = json.load(f)
    texts, tokens, long = w["texts"], w["tokens"], w["name"] == "long"
    if system == "pipeline" and long:
        tokens = [min(t, 512) for t in tokens]  # truncated: it reads only the first 512 tokens
    if system == "veguard-cache":
        texts, tokens = _spam_wave(texts, tokens)
    score, precision = load(system, model_dir)
    if hasattr(score, "tokenise"):  # the ceiling: tokenised, and every shape seen, untimed
        score.tokenise(["warm up: the first call allocates", *texts])
        for b in range(0, len(texts), CHUNK):
            score(texts[b : b + CHUNK])
    score(["warm up: the first call allocates"], long)
    cold = time.perf_counter() - T0
    if system != "veguard-cache":  # its stream's first texts must be cold misses
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
