"""End-to-end smoke runs: the real loop on a tiny random BERT, the TF-IDF reference, and
re-calibration of an existing model directory. Each takes seconds on CPU."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open

from veguard import modeling
from veguard.taxonomy import CATEGORIES, POLICY_VERSION
from veguard.thresholds import Thresholds
from veguard.training.args import load_args
from veguard.training.cli import main as train_main
from veguard.training.recalibrate import calibrate_model_dir

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "training" / "configs" / "smoke.yaml"
TFIDF = ROOT / "training" / "configs" / "tfidf.yaml"
TOY = ROOT / "tests" / "fixtures" / "training" / "toy_corpus.jsonl"


def separable_corpus() -> pd.DataFrame:
    """Two texts, one per class; some labels unknown. Same token length so batches mix."""
    rows = []
    for i in range(200):
        pos = i % 2
        text = (
            "glory to the soldiers of the state" if pos else "the garden is very quiet this morning"
        )
        rows.append({"id": f"toy:{i}", "text": text, "extremism": pos, "violence": pos,
                     "hate": pos if i % 4 < 2 else -1, "offensive": 0 if pos else -1,
                     "context": "social", "source": "toy", "group": f"g{i}",
                     "split": "train" if i < 150 else "validation"})
    return pd.DataFrame(rows)


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "train_log.jsonl").read_text().splitlines()]


def test_smoke_loss_finite_and_decreasing(tmp_path):
    from veguard.training.loop import train

    args = load_args(SMOKE, [f"out={tmp_path / 'run'}", "log_every=1", "max_steps=30",
                             "epoch_size=480", "lr=1e-2", "bucket_chunk=1", "source_weights={}"])
    out = train(args, corpus=separable_corpus())
    losses = _losses(out)
    assert len(losses) == 30
    assert all(math.isfinite(x) for x in losses)
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_smoke_cli_writes_loadable_model_dir(tmp_path, capsys):
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    out = tmp_path / "smoke"
    rc = train_main(
        ["--config", str(SMOKE), "--out", str(out), "--corpus", str(TOY), "--set", "max_steps=4"]
    )
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(out)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "veguard.json",
                 "thresholds.json", "validation_metrics.json", "train_log.jsonl"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "veguard.json").read_text())
    assert meta["kind"] == "transformer" and meta["categories"] == list(CATEGORIES)
    assert meta["max_length"] == 64 and meta["stride"] == 32
    assert meta["policy_version"] == POLICY_VERSION
    assert meta["trained"]["steps"] == 4 and meta["trained"]["corpus"]["train"]["rows"] > 0
    model = BertForSequenceClassification.from_pretrained(out)
    assert [model.config.id2label[i] for i in range(len(CATEGORIES))] == list(CATEGORIES)
    tok = AutoTokenizer.from_pretrained(out)
    with torch.no_grad():
        logits = model(**tok(["hello there"], return_tensors="pt")).logits
    assert logits.shape == (1, len(CATEGORIES))
    th = Thresholds.load(out / "thresholds.json")
    assert all(th.temperature[c] > 0 for c in CATEGORIES)
    metrics = json.loads((out / "validation_metrics.json").read_text())
    assert set(metrics["categories"]) == set(CATEGORIES)
    # The inference side loads what training wrote (the model-directory contract).
    clf = modeling.Classifier.load(out)
    res = clf.score("a short text")
    assert set(res.scores) == set(CATEGORIES) and clf.thresholds.review == pytest.approx(th.review)


def test_fp16_save_and_float32_reload(tmp_path):
    out = tmp_path / "fp16"
    assert train_main(["--config", str(SMOKE), "--out", str(out), "--corpus", str(TOY), "--fp16",
                       "--set", "max_steps=2"]) == 0
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        key = next(iter(f.keys()))
        assert str(f.get_tensor(key).dtype) == "torch.float16"
    clf = modeling.Classifier.load(out, precision="fp32")
    assert next(clf.backend.model.parameters()).dtype == torch.float32  # fp16 reloads as fp32
    logits = clf.logits(["a short text", "another one"])
    assert logits.shape == (2, len(CATEGORIES)) and np.isfinite(logits).all()
    # Re-calibration of the fp16 directory rewrites thresholds from the validation split.
    trained_on = json.loads((out / "validation_metrics.json").read_text())
    assert trained_on["validation_rows"] < 500  # smoke.yaml caps each source at 12 rows
    (out / "thresholds.json").unlink()
    th = calibrate_model_dir(out, TOY)
    assert (out / "thresholds.json").is_file()
    assert set(th.review) == set(CATEGORIES)
    # The same validation rows as training's calibration: the recorded cap, limit and seed.
    again = json.loads((out / "validation_metrics.json").read_text())
    assert again["validation_sources"] == trained_on["validation_sources"]


def test_tfidf_train_save_load_round_trip(tmp_path):
    from veguard.training.tfidf import MODEL_FILE

    out = tmp_path / "tfidf"
    rc = train_main(["--config", str(TFIDF), "--out", str(out), "--corpus", str(TOY),
                     "--set", "epoch_size=400", "--set", "source_weights={}",
                     "--set", "tfidf_min_df=1"])
    assert rc == 0
    meta = json.loads((out / "veguard.json").read_text())
    assert meta["kind"] == "tfidf" and meta["categories"] == list(CATEGORIES)
    assert (out / MODEL_FILE).stat().st_size < 5_000_000
    texts = [
        "long live the caliphate soldiers",
        "recipe for lentil soup with garlic",
        "you absolute idiot",
    ]
    logits = modeling.Classifier.load(out).logits(texts)
    assert logits.shape == (3, len(CATEGORIES))
    ext = CATEGORIES.index("extremism")
    assert logits[0, ext] > logits[1, ext]  # the toy set is separable; the reference learns it
    th = Thresholds.load(out / "thresholds.json")
    assert th.meta["operating_points"]["extremism"]["review"]["n_positives"] > 0
    assert "Classifier" in th.meta["logits"]  # calibrated through the inference code path
    # calibrate-only reproduces the thresholds written at training time.
    assert train_main(["--calibrate-only", "--model", str(out), "--corpus", str(TOY)]) == 0
    again = Thresholds.load(out / "thresholds.json")
    assert again.review == pytest.approx(th.review) and again.temperature == pytest.approx(
        th.temperature
    )


def test_tfidf_load_errors_name_the_file(tmp_path):
    from veguard import modeldir

    modeldir.write(tmp_path, modeldir.ModelMeta(kind="tfidf", name="t", max_length=0, stride=0))
    with pytest.raises(FileNotFoundError, match="tfidf.npz"):
        modeling.Classifier.load(tmp_path)
    (tmp_path / "tfidf.joblib").write_bytes(b"not a pickle")  # the legacy file is still read
    with pytest.raises(ValueError, match="tfidf.joblib"):
        modeling.Classifier.load(tmp_path)
    (tmp_path / "tfidf.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="tfidf.npz"):
        modeling.Classifier.load(tmp_path)


def test_cli_errors(tmp_path, capsys):
    assert train_main(["--config", str(SMOKE), "--set", "nonsense=1"]) == 2
    assert "nonsense" in capsys.readouterr().err
    assert train_main(["--calibrate-only"]) == 2
    assert train_main(["--calibrate-only", "--model", str(tmp_path)]) == 1
    assert "veguard.json" in capsys.readouterr().err
    assert train_main(["--config", str(SMOKE), "--corpus", str(tmp_path / "missing.parquet")]) == 1
