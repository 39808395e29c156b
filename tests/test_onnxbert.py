"""The in-place ONNX graph of a BERT model (veguard.onnxbert, `veguard export --in-place`) and
the cascade's fast stage running on it: fp32 numbers equal to torch's, no torch import for the
posts it clears."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from veguard import cascade, modeldir, onnxbert
from veguard.backends import OnnxBackend, TransformerBackend
from veguard.export import main
from veguard.modeling import Classifier
from veguard.taxonomy import CATEGORIES, FLAGGING
from veguard.thresholds import Thresholds

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TEXTS = ["short", "a longer text about the market and the weather", "", "x " * 300,
         "Long live the State", "we won 4-0 and the keeper was a wall"]


def _run(model_dir: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    (model_dir / "model.onnx").write_bytes(onnxbert.build(model_dir))
    session = ort.InferenceSession(str(model_dir / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]


@pytest.mark.parametrize("fp16", [False, True])
def test_graph_computes_lean_berts_fp32_logits(tiny_model_factory, fp16):
    import torch

    from veguard.bert import LeanBert

    d = tiny_model_factory(fp16=fp16, seed=3)
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 20000, size=(4, 13))
    mask = np.ones_like(ids)
    mask[1, 7:] = 0  # padded rows: padded keys must take no attention weight
    mask[3, 2:] = 0
    ids[mask == 0] = 0
    got = _run(d, ids, mask)
    with torch.inference_mode():
        want = LeanBert.from_dir(d)(torch.from_numpy(ids), torch.from_numpy(mask)).logits.numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got.shape == (4, len(CATEGORIES))
    # the weights stay in model.safetensors: the graph itself is small
    assert (d / "model.onnx").stat().st_size < 200_000


def test_every_weight_is_external_data_in_the_safetensors_file(tiny_model_dir, tmp_path):
    import shutil

    import onnx

    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    (d / "model.onnx").write_bytes(onnxbert.build(d))
    model = onnx.load(str(d / "model.onnx"), load_external_data=False)
    external = [t for t in model.graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL]
    index = onnxbert.safetensors_index(d / "model.safetensors")
    assert {t.name for t in external} == set(index) - {"bert.embeddings.position_ids"}
    for t in external:
        meta = {e.key: e.value for e in t.external_data}
        assert meta["location"] == "model.safetensors"
        assert int(meta["offset"]) == index[t.name][2] and int(meta["length"]) == index[t.name][3]


def test_build_refuses_another_architecture_naming_the_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mpnet"}))
    with pytest.raises(ValueError, match="config.json"):
        onnxbert.build(tmp_path)


def test_export_in_place_records_the_graph_and_its_agreement(tiny_model_factory, capsys):
    d = tiny_model_factory(fp16=True, seed=4)
    assert main(["--model", str(d), "--in-place", "--check-texts", "4"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["file"] == "model.onnx" and info["dtype"] == "fp32"
    assert info["check"]["flagged_flips"] == 0 and info["check"]["max_score_diff"] < 1e-4
    assert modeldir.read(d).onnx["weights"].startswith("model.safetensors")
    assert type(Classifier.load(d).backend) is TransformerBackend  # alone, torch by default
    onnx_clf = Classifier.load(d, backend="onnx")
    assert isinstance(onnx_clf.backend, OnnxBackend)
    want = Classifier.load(d, precision="fp32", backend="torch").predict_proba(TEXTS)
    np.testing.assert_allclose(onnx_clf.predict_proba(TEXTS), want, atol=1e-5)


def test_export_in_place_refuses_out_int8_and_cascades(tiny_model_factory, tmp_path, capsys):
    d = tiny_model_factory(seed=5)
    for extra in (["--out", str(tmp_path / "o")], ["--int8"]):
        with pytest.raises(SystemExit) as e:
            main(["--model", str(d), "--in-place", *extra])
        assert e.value.code == 2
    with pytest.raises(SystemExit):
        main(["--model", str(d)])  # neither --out nor --in-place
    out, _ = _cascade(tiny_model_factory, tmp_path, graph=False)
    assert main(["--model", str(out), "--in-place"]) == 2
    assert "cascade" in capsys.readouterr().err


def _cascade(tiny_model_factory, tmp_path, graph: bool, clear: float = 1.0):
    th = Thresholds.default()
    for c in CATEGORIES:
        th.review[c], th.auto[c] = 1.0, 1.0
    big = tiny_model_factory(seed=6, thresholds=th)
    fast = tiny_model_factory(seed=7, thresholds=th, fp16=True)
    if graph:
        assert main(["--model", str(fast), "--in-place", "--check-texts", "2"]) == 0
    out = tmp_path / f"cascade-{graph}"
    cascade._copy_model(big, out, int8=False)
    meta = modeldir.read(out)
    meta.prefilter = {"model": str(fast), "clear": {c: clear for c in FLAGGING}}
    modeldir.write(out, meta)
    return out, fast


def test_the_fast_stage_runs_its_graph_in_fp32_and_scores_like_torch_fp32(
        tiny_model_factory, tmp_path, monkeypatch):
    monkeypatch.delenv("VEGUARD_BACKEND", raising=False)
    out, fast = _cascade(tiny_model_factory, tmp_path, graph=True)
    clf = Classifier.load(out)
    assert isinstance(clf.prefilter.clf.backend, OnnxBackend)
    want = Classifier.load(fast, precision="fp32", backend="torch").predict_proba(TEXTS)
    np.testing.assert_allclose(clf.predict_proba(TEXTS), want, atol=1e-5)  # all cleared
    assert not clf.backend.loaded
    # without a graph (or without onnxruntime) the fast stage is torch, still in fp32
    out2, _ = _cascade(tiny_model_factory, tmp_path, graph=False)
    plain = Classifier.load(out2)
    assert isinstance(plain.prefilter.clf.backend, TransformerBackend)
    assert plain.prefilter.clf.precision == "fp32"
    monkeypatch.setenv("VEGUARD_PRECISION", "bf16")  # asked for: torch in bf16
    asked = Classifier.load(out).prefilter.clf
    assert type(asked.backend) is TransformerBackend and asked.precision == "bf16"
    monkeypatch.delenv("VEGUARD_PRECISION")
    monkeypatch.setattr(cascade, "_has_onnxruntime", lambda: False)
    assert Classifier.load(out).prefilter.clf.precision == "fp32"
    assert type(Classifier.load(out).prefilter.clf.backend) is TransformerBackend


def test_a_process_scoring_only_cleared_posts_never_imports_torch(tiny_model_factory, tmp_path):
    out, _ = _cascade(tiny_model_factory, tmp_path, graph=True)
    code = (
        "import sys, json\n"
        "from veguard.modeling import Classifier\n"
        f"clf = Classifier.load({str(out)!r})\n"
        f"rs = clf.score({TEXTS!r})\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'n': len(rs),"
        " 'flagged': any(r.flagged for r in rs), 'loaded': clf.backend.loaded}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "VEGUARD_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {"torch": False, "n": len(TEXTS), "flagged": False, "loaded": False}
