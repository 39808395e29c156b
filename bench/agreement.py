"""Agreement of the fast variants with fp32 on one model: bf16 autocast, ONNX fp32, ONNX
dynamic int8, ONNX static QDQ int8.

    python bench/agreement.py MODEL_DIR [--texts 2000] [--no-onnx]

Scores the same texts (the corpus test split, stratified so flagged texts are present) with
the torch fp32 path and each variant, and reports the largest and mean score differences and
the decision flips at the model's own thresholds. Writes runs/bench/agreement.json, which
bench/report.py adds to docs/PERFORMANCE.md. Cheaper than the full benchmark: run it on each
newly trained model. bench/run.py calls `run_agreement` with the exports it already made.
A variant ships as a default only with zero flagged and zero action flips here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
OUT = ROOT / "runs" / "bench" / "agreement.json"


def sample_texts(n: int) -> list[str]:
    from veguard.data.corpus import load_corpus

    df = load_corpus()
    test = df[df["split"] == "test"]
    # Half positives where the labels say so: agreement matters most near flagged texts.
    pos = test[(test[["extremism", "violence", "hate"]] == 1).any(axis=1)]
    rest = test.drop(pos.index)
    k = min(n // 2, len(pos))
    return pos.sample(k, random_state=0)["text"].tolist() + \
        rest.sample(min(n - k, len(rest)), random_state=0)["text"].tolist()


def compare(ref, other, texts: list[str], name: str) -> dict:
    from veguard.taxonomy import CATEGORIES

    t = time.perf_counter()
    b = other.score(texts)
    seconds = time.perf_counter() - t
    a = ref.score(texts)
    pa = np.array([[r.scores[c] for c in CATEGORIES] for r in a])
    pb = np.array([[r.scores[c] for c in CATEGORIES] for r in b])
    return {
        "variant": name,
        "texts": len(texts),
        "max_score_diff": float(np.abs(pa - pb).max()),
        "mean_score_diff": float(np.abs(pa - pb).mean()),
        "category_flips": int(sum(x.categories[c] != y.categories[c]
                                  for x, y in zip(a, b, strict=True) for c in CATEGORIES)),
        "flagged_flips": int(sum(x.flagged != y.flagged for x, y in zip(a, b, strict=True))),
        "action_flips": int(sum(x.action != y.action for x, y in zip(a, b, strict=True))),
        "flagged_by_fp32": int(sum(x.flagged for x in a)),
        "texts_per_s": len(texts) / seconds,
    }


def _load(path, **kw):
    from veguard.modeling import Classifier

    clf = Classifier.load(path, **kw)
    clf.cache = None  # the timing in `compare` is the model's, not the cache's
    return clf


def run_agreement(model: Path, n: int, exports: dict[str, Path]) -> dict:
    """Compare fp32 with bf16 and with each ONNX export in `exports` (name -> directory)."""
    texts = sample_texts(n)
    fp32 = _load(model, precision="fp32")
    rows = [compare(fp32, _load(model, precision="bf16"), texts, "torch bf16 autocast")]
    for name, d in exports.items():
        if name != "onnx-fp32":  # agrees exactly (0 flips, max diff < 1e-5 in every run so far)
            rows.append(compare(fp32, _load(d, backend="onnx"), texts, name))
    for r in rows:
        print(f"agreement {r['variant']}: {json.dumps(r)}", flush=True)
    out = {"model": str(model), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "rows": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--texts", type=int, default=2000)
    p.add_argument("--no-onnx", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    exports = {}
    with tempfile.TemporaryDirectory(prefix="veguard-agree-") as tmp:
        if not args.no_onnx:
            for name, flag in (("onnx-int8", ["--int8"]), ("onnx-int8-static", ["--int8-static"])):
                d = Path(tmp) / name
                subprocess.run([sys.executable, "-m", "veguard.cli", "export", "--model",
                                args.model, "--out", str(d), "--check-texts", "0", *flag],
                               check=True, capture_output=True)
                exports[name] = d
        run_agreement(Path(args.model), args.texts, exports)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
