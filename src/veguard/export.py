"""`veguard export`: write an ONNX Runtime copy of a transformer model directory.

    veguard export --model DIR --out DIR [--int8 | --int8-static] [--check-texts N]
                   [--calibration-texts N]
    veguard export --model DIR --in-place [--check-texts N]

The output is a complete model directory (the source files copied, plus `model.onnx`), whose
veguard.json gains `"onnx": {"file", "dtype", "check"}`. ONNX Runtime is opt-in:
`Classifier.load(out, backend="onnx")` or `VEGUARD_BACKEND=onnx`; by default the copied torch
weights are used, because ONNX was not faster than the torch bf16 path at equal decisions
(docs/PERFORMANCE.md). `--int8` applies ONNX Runtime dynamic int8 quantisation to the linear
layers; it flipped decisions on the trained model, and the export warns when it does.
`--int8-static` is static QDQ quantisation calibrated on training-split windows: per-channel
int8 weights of the weight matrix products (the linear layers), activations quantised with
ranges measured on the calibration texts, and everything else (attention's activation-by-
activation products, softmax, LayerNorm, GELU, the feed-forward output layers whose input
has outliers, the classifier head) left in fp32. Neither int8 export has yet had zero
flagged flips on an agreement set (docs/PERFORMANCE.md), so neither is a default.

Before writing veguard.json the export scores a sample of texts (the corpus test split when
built, else a few built-in sentences) with the torch fp32 model and with the exported one, and
records the largest score difference and the number of decision flips in `onnx.check`.

`--in-place` writes `DIR/model.onnx` as a small graph whose weights are read from the
directory's own `model.safetensors` (`veguard.onnxbert`): fp32, no second copy of the weights.
The shipped cascade's fast stage carries one, so `veguard score` on a post it clears never
imports torch (`veguard.cascade.load_prefilter`).

What it leaves out: deciding whether ONNX is worth using (docs/PERFORMANCE.md records the
measurement), graph optimisation beyond ONNX Runtime's defaults, and GPU providers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

from veguard.taxonomy import CATEGORIES

ONNX_FILE = "model.onnx"
OPSET = 17

_FALLBACK_TEXTS = [
    "Breaking: police confirm three injured after an explosion near the market this morning.",
    ("We condemn the attack on the mosque in the strongest terms. "
     "Our thoughts are with the victims."),
    "this traffic is murder, I have been stuck for an hour",
    "Long live the soldiers of the state, victory is near, join the caravan",
    "The researchers analysed 2,000 propaganda posts to understand recruitment patterns.",
    "Khorasan Razavi province is known for its saffron and its shrine in Mashhad.",
    "gg that headshot was insane, we destroyed them in the last round",
    "They are vermin and should be wiped out.",
]


def export_onnx(model_dir: Path, out: Path, int8: bool | str = False,
                calibration: list[str] | None = None) -> Path:
    """Write `out/model.onnx` for the BERT classifier in `model_dir`: fp32, dynamic int8
    (`int8=True` or "dynamic") or static QDQ int8 calibrated on `calibration` ("static")."""
    import torch
    from transformers import BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = BertForSequenceClassification.from_pretrained(
        model_dir, local_files_only=True, dtype=torch.float32
    ).eval()

    class Logits(torch.nn.Module):
        # The exporter wants tensors out, not a ModelOutput.
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]

    dummy = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    target = out / (ONNX_FILE if not int8 else "model.fp32.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: the dynamo one needs onnxscript, which is not installed.
        torch.onnx.export(
            Logits(model),
            dummy,
            str(target),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                          "attention_mask": {0: "batch", 1: "seq"},
                          "logits": {0: "batch"}},
            opset_version=OPSET,
        )
    if int8 == "static":
        quantize_static_qdq(target, out / ONNX_FILE, model_dir, calibration or _FALLBACK_TEXTS)
        target.unlink()
    elif int8:
        import logging

        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's pre-processing hint
        quantize_dynamic(str(target), str(out / ONNX_FILE), weight_type=QuantType.QInt8)
        target.unlink()
    return out / ONNX_FILE


def quantize_static_qdq(fp32: Path, out: Path, model_dir: Path, texts: list[str]) -> None:
    """Static QDQ int8 of the weight products in `fp32`, calibrated on `texts`' windows."""
    import logging

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from veguard import modeldir
    from veguard.backends import _window_tokenizer, bucket_width, pad_batch
    from veguard.data.normalize import normalize
    from veguard.language import model_view, read

    logging.getLogger().setLevel(logging.ERROR)  # the quantiser's pre-processing hint
    meta = modeldir.read(model_dir)
    tok = _window_tokenizer(model_dir, meta, meta.max_length)
    readings = [read(normalize(t)) for t in texts]
    views = [model_view(r, meta.emoji_names)[0] for r in readings if r.supported]
    ids, _, _ = tok.encode([v for v in views if v.strip()])
    batches = []
    for b in range(0, len(ids), 32):  # windows padded to the widths scoring uses
        part = ids[b : b + 32]
        width = max(bucket_width(len(x), meta.max_length) for x in part)
        input_ids, mask = pad_batch(part, tok.pad_token_id, width)
        batches.append({"input_ids": input_ids, "attention_mask": mask})

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(batches)

        def get_next(self):
            return next(self.it, None)

    graph = onnx.load(str(fp32)).graph
    shapes = {i.name: tuple(i.dims) for i in graph.initializer}
    products = [n for n in graph.node if n.op_type in ("MatMul", "Gemm")]
    # MatMuls whose second input is a weight matrix are the linear layers; attention's
    # Q.K^T and A.V multiply two activations and stay fp32, as does the classifier head
    # (the last product: its error lands on the logits unaveraged). So do the feed-forward
    # output layers (weights [intermediate, hidden]): their input, after GELU, has outliers
    # that one int8 range per tensor cannot hold; quantised, they tripled the flagged flips
    # (13 vs 3 on 300 test texts on veguard-minilm-v1).
    linear = [n for n in products if len(n.input) > 1 and n.input[1] in shapes]
    keep = [n.name for n in products if n not in linear]
    keep += [linear[-1].name] if linear else []
    widest = max((shapes[n.input[1]][0] for n in linear), default=0)
    keep += [n.name for n in linear[:-1] if shapes[n.input[1]][0] == widest
             and widest > min(shapes[m.input[1]][0] for m in linear)]
    quantize_static(
        str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gemm"], nodes_to_exclude=keep,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
    )


def calibration_texts(n: int) -> list[str]:
    """Up to `n` training-split texts (never evaluation suites) to calibrate int8 ranges."""
    try:
        from veguard.data.corpus import load_corpus

        df = load_corpus()
        train = df[df["split"] == "train"]
        return train.sample(min(n, len(train)), random_state=0)["text"].tolist()
    except (FileNotFoundError, ImportError, KeyError, ValueError):
        return list(_FALLBACK_TEXTS)


def check_texts(n: int) -> list[str]:
    """Up to `n` texts to compare torch and ONNX on: the corpus test split, else built-ins."""
    try:
        from veguard.data.corpus import load_corpus

        df = load_corpus()
        test = df[df["split"] == "test"]
        return test.sample(min(n, len(test)), random_state=0)["text"].tolist()
    except (FileNotFoundError, ImportError, KeyError, ValueError):
        return _FALLBACK_TEXTS[:n]


def compare(reference, candidate, texts: list[str]) -> dict:
    """Largest calibrated score difference and decision flips between two classifiers."""
    a = reference.score(texts)
    b = candidate.score(texts)
    pa = np.array([[r.scores[c] for c in CATEGORIES] for r in a])
    pb = np.array([[r.scores[c] for c in CATEGORIES] for r in b])
    flips = sum(
        ra.categories[c] != rb.categories[c]
        for ra, rb in zip(a, b, strict=True)
        for c in CATEGORIES
    )
    flagged_flips = sum(ra.flagged != rb.flagged for ra, rb in zip(a, b, strict=True))
    return {
        "texts": len(texts),
        "max_score_diff": float(np.max(np.abs(pa - pb))) if len(texts) else 0.0,
        "category_flips": int(flips),
        "flagged_flips": int(flagged_flips),
    }


def run_export(model_dir: Path, out: Path, int8: bool | str, n_check: int,
               n_calibration: int = 256) -> dict:
    import dataclasses

    from veguard import modeldir
    from veguard.modeling import Classifier

    model_dir = modeldir.resolve(model_dir)
    meta = modeldir.read(model_dir)
    if meta.kind != "transformer":
        raise ValueError(
            f"{model_dir}: only transformer models can be exported (kind is {meta.kind!r})"
        )
    if meta.prefilter:
        raise ValueError(
            f"{model_dir}: a cascade (prefilter {meta.prefilter.get('model')!r}); export is for "
            "one BERT model: export its fast stage, the larger stage stays on torch"
        )
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert":
        raise ValueError(f"{model_dir}: export writes BERT models only (config.json "
                         f"model_type is {config.get('model_type')!r})")
    if out.resolve() == model_dir.resolve():
        raise ValueError(f"--out must differ from --model ({out})")
    out.mkdir(parents=True, exist_ok=True)
    for f in model_dir.iterdir():
        if f.is_file() and not f.name.endswith(".onnx"):
            shutil.copy2(f, out / f.name)
    # Without `onnx` until the file exists, so a failed export leaves a plain torch directory.
    modeldir.write(out, dataclasses.replace(meta, onnx=None))
    calibration = calibration_texts(n_calibration) if int8 == "static" else None
    export_onnx(model_dir, out, int8, calibration)

    dtype = {"static": "int8-static"}.get(int8, "int8") if int8 else "fp32"
    onnx = {"file": ONNX_FILE, "dtype": dtype, "opset": OPSET}
    if calibration is not None:
        onnx["calibration_texts"] = len(calibration)
    modeldir.update(out, onnx=onnx)
    texts = check_texts(n_check)
    reference = Classifier.load(model_dir, precision="fp32")
    exported = Classifier.load(out, backend="onnx")
    onnx = {**onnx, "check": compare(reference, exported, texts)}
    return modeldir.update(out, onnx=onnx).onnx


def run_in_place(model_dir: Path, n_check: int) -> dict:
    """Write `model_dir/model.onnx`, a graph over the directory's own safetensors weights
    (`veguard.onnxbert`), and record it and its agreement with torch fp32 in veguard.json."""
    import dataclasses

    from veguard import bert, modeldir, onnxbert
    from veguard.modeling import Classifier

    model_dir = modeldir.resolve(model_dir)
    meta = modeldir.read(model_dir)
    if meta.kind != "transformer" or meta.prefilter:
        raise ValueError(f"{model_dir}: --in-place writes one BERT model's graph (kind "
                         f"{meta.kind!r}{', a cascade' if meta.prefilter else ''})")
    if not (model_dir / bert.WEIGHTS).is_file():
        raise ValueError(f"{model_dir}: --in-place needs {bert.WEIGHTS} (the graph reads its "
                         "weights from it)")
    graph = onnxbert.build(model_dir)  # raises, naming config.json, for other architectures
    # Without `onnx` until the file is written and checked: a failure leaves a torch directory.
    modeldir.write(model_dir, dataclasses.replace(meta, onnx=None))
    (model_dir / ONNX_FILE).write_bytes(graph)
    onnx = {"file": ONNX_FILE, "dtype": "fp32", "opset": onnxbert.OPSET,
            "weights": f"{bert.WEIGHTS} (external data, cast to fp32)"}
    modeldir.update(model_dir, onnx=onnx)
    reference = Classifier.load(model_dir, precision="fp32", backend="torch")
    exported = Classifier.load(model_dir, backend="onnx")
    onnx = {**onnx, "check": compare(reference, exported, check_texts(n_check))}
    return modeldir.update(model_dir, onnx=onnx).onnx


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="veguard export", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="transformer model directory to export")
    p.add_argument("--out", help="output model directory (created); not with --in-place")
    p.add_argument("--in-place", action="store_true",
                   help="write model.onnx into --model itself, reading the weights from its "
                        "model.safetensors (fp32 arithmetic, ~50 kB; veguard.onnxbert)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--int8", action="store_true",
                      help="dynamic int8 quantisation of the weights")
    kind.add_argument("--int8-static", action="store_true",
                      help="static QDQ int8 (per-channel weights), calibrated on training texts")
    p.add_argument("--calibration-texts", type=int, default=256,
                   help="training-split texts whose windows calibrate --int8-static")
    p.add_argument("--check-texts", type=int, default=300,
                   help="texts scored by both to measure agreement (recorded in veguard.json)")
    args = p.parse_args(argv)
    from veguard.modeldir import ModelNotFoundError

    if args.in_place and (args.out or args.int8 or args.int8_static):
        p.error("--in-place writes fp32 into --model: no --out, --int8 or --int8-static")
    if not args.in_place and not args.out:
        p.error("--out is required (or --in-place)")
    try:
        if args.in_place:
            info = run_in_place(Path(args.model), args.check_texts)
            args.out = args.model
        else:
            int8 = "static" if args.int8_static else args.int8
            info = run_export(Path(args.model), Path(args.out), int8, args.check_texts,
                              args.calibration_texts)
    except (ModelNotFoundError, ValueError) as e:
        print(f"veguard export: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(args.out), **info}))
    check = info["check"]
    if check["category_flips"] or check["flagged_flips"]:
        print(f"veguard export: warning: the export changed {check['flagged_flips']} flagged and "
              f"{check['category_flips']} category decisions on {check['texts']} texts",
              file=sys.stderr)
    return 0
