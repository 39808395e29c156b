"""Tests for veguard export: the ONNX copy scores like the torch model and loads by default."""

from __future__ import annotations

import json

import numpy as np
import pytest

from veguard.export import main
from veguard.modeling import Classifier, OnnxBackend, TransformerBackend

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TEXTS = ["short", "a longer text about the market and the weather", "", "x " * 300]


def test_export_fp32_matches_torch(tiny_model_factory, tmp_path, monkeypatch, capsys):
    src = tiny_model_factory(max_length=32, stride=8)
    out = tmp_path / "onnx"
    assert main(["--model", str(src), "--out", str(out), "--check-texts", "4"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dtype"] == "fp32" and info["check"]["flagged_flips"] == 0
    assert type(Classifier.load(out).backend) is TransformerBackend  # ONNX is opt-in
    exported = Classifier.load(out, backend="onnx")
    assert isinstance(exported.backend, OnnxBackend) and exported.precision == "onnx-fp32"
    want = Classifier.load(src, precision="fp32").predict_proba(TEXTS)
    np.testing.assert_allclose(exported.predict_proba(TEXTS), want, atol=1e-5)
    assert exported.score(TEXTS[-1]).extra["windows"] > 1
    monkeypatch.setenv("VEGUARD_BACKEND", "onnx")
    assert isinstance(Classifier.load(out).backend, OnnxBackend)
    with pytest.raises(FileNotFoundError, match="veguard export"):
        Classifier.load(src)  # no ONNX file there
    monkeypatch.setenv("VEGUARD_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="VEGUARD_BACKEND"):
        Classifier.load(out)


def test_export_int8_runs(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "int8"
    assert (
        main(["--model", str(tiny_model_dir), "--out", str(out), "--int8", "--check-texts", "3"])
        == 0
    )
    meta = json.loads((out / "veguard.json").read_text())
    assert meta["onnx"]["dtype"] == "int8" and meta["onnx"]["check"]["texts"] == 3
    p = Classifier.load(out, backend="onnx").predict_proba(TEXTS)
    assert p.shape == (4, 4) and np.all((p >= 0) & (p <= 1))


def test_export_errors(tmp_path, tiny_model_dir, capsys):
    assert main(["--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["--model", str(tiny_model_dir), "--out", str(tiny_model_dir)]) == 2


def test_export_int8_static_is_qdq_per_channel(tiny_model_dir, tmp_path):
    import onnx

    out = tmp_path / "int8-static"
    args = ["--model", str(tiny_model_dir), "--out", str(out), "--int8-static",
            "--check-texts", "3", "--calibration-texts", "8"]
    assert main(args) == 0
    meta = json.loads((out / "veguard.json").read_text())
    assert meta["onnx"]["dtype"] == "int8-static" and meta["onnx"]["calibration_texts"] == 8
    graph = onnx.load(str(out / "model.onnx")).graph
    ops = [n.op_type for n in graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops  # QDQ, not integer ops
    assert "QLinearMatMul" not in ops and "MatMulInteger" not in ops
    inits = {i.name: i for i in graph.initializer}
    per_channel = [n for n in graph.node if n.op_type == "DequantizeLinear"
                   and n.input[0] in inits and len(inits[n.input[1]].dims) == 1
                   and inits[n.input[1]].dims[0] > 1]
    assert per_channel  # weight scales: one per output channel
    # Softmax and LayerNorm stay in float: nothing quantises their inputs.
    produced_by = {o: n for n in graph.node for o in n.output}
    for n in graph.node:
        if n.op_type in ("Softmax", "LayerNormalization"):
            assert produced_by.get(n.input[0]) is None or \
                produced_by[n.input[0]].op_type != "DequantizeLinear"
    p = Classifier.load(out, backend="onnx").predict_proba(TEXTS)
    assert p.shape == (4, 4) and np.all((p >= 0) & (p <= 1))


def test_export_refuses_a_cascade_and_non_bert_models_before_writing(tiny_model_factory,
                                                                      tmp_path, capsys):
    from veguard import modeldir

    cascade = tiny_model_factory(seed=3)
    meta = modeldir.read(cascade)
    meta.prefilter = {"model": "../fast", "clear": {"extremism": 0.1, "violence": 0.1, "hate": 0.1}}
    modeldir.write(cascade, meta)
    assert main(["--model", str(cascade), "--out", str(tmp_path / "a")]) == 2
    assert "cascade" in capsys.readouterr().err and not (tmp_path / "a").exists()

    mpnet = tiny_model_factory(seed=4)
    config = json.loads((mpnet / "config.json").read_text())
    (mpnet / "config.json").write_text(json.dumps({**config, "model_type": "mpnet"}))
    assert main(["--model", str(mpnet), "--out", str(tmp_path / "b")]) == 2
    assert "model_type is 'mpnet'" in capsys.readouterr().err and not (tmp_path / "b").exists()
