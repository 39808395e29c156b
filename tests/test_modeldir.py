"""Tests for veguard.modeldir: veguard.json is checked on every read and round-trips."""

from __future__ import annotations

import json

import pytest

from veguard import modeldir
from veguard.modeldir import ModelMeta, ModelNotFoundError
from veguard.taxonomy import CATEGORIES, POLICY_VERSION


def test_write_read_round_trip_keeps_unknown_keys(tmp_path):
    meta = ModelMeta(kind="transformer", name="m", max_length=64, stride=16, trained={"steps": 3})
    modeldir.write(tmp_path, meta)
    raw = json.loads((tmp_path / modeldir.META_FILE).read_text())
    assert raw["categories"] == list(CATEGORIES) and raw["policy_version"] == POLICY_VERSION
    raw["future_field"] = {"x": 1}
    (tmp_path / modeldir.META_FILE).write_text(json.dumps(raw))
    back = modeldir.read(tmp_path)
    assert back.max_length == 64 and back.window_stride == 16 and back.trained == {"steps": 3}
    updated = modeldir.update(tmp_path, onnx={"file": "model.onnx"})
    again = json.loads((tmp_path / modeldir.META_FILE).read_text())
    assert again["future_field"] == {"x": 1} and again["onnx"] == {"file": "model.onnx"}
    assert updated.onnx == {"file": "model.onnx"}


def test_missing_fields_get_the_documented_defaults(tmp_path):
    (tmp_path / modeldir.META_FILE).write_text(json.dumps({"kind": "tfidf"}))
    meta = modeldir.read(tmp_path)
    assert meta.max_length == 256 and meta.stride is None and meta.window_stride == 64
    assert "stride" not in meta.to_dict()


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"kind": "rnn"}, "kind"),
        ({"kind": "tfidf", "categories": ["hate"]}, "categories"),
        ({"kind": "transformer", "max_length": "long"}, "max_length"),
        ({"kind": "transformer", "stride": -1}, "stride"),
        ([1, 2], "kind"),
    ],
)
def test_bad_metadata_names_file_and_field(tmp_path, raw, match):
    (tmp_path / modeldir.META_FILE).write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=match) as e:
        modeldir.read(tmp_path)
    assert modeldir.META_FILE in str(e.value)


def test_unreadable_and_missing(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError, match="veguard.json"):
        modeldir.read(tmp_path)
    (tmp_path / modeldir.META_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="cannot read"):
        modeldir.read(tmp_path)
    with pytest.raises(ModelNotFoundError, match="nowhere"):
        modeldir.resolve(tmp_path / "nowhere")
    monkeypatch.setenv("VEGUARD_MODEL", str(tmp_path))
    assert modeldir.resolve() == tmp_path


def test_write_refuses_invalid_metadata(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        modeldir.write(tmp_path, ModelMeta(kind="bogus"))
    assert not (tmp_path / modeldir.META_FILE).exists()
