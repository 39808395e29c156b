"""Config loading: YAML + --set overrides, type checks, and errors that name the key or file."""

from __future__ import annotations

from pathlib import Path

import pytest

from veguard.training.args import TrainArgs, help_text, load_args, parse_overrides

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"


@pytest.mark.parametrize("name", ["default.yaml", "smoke.yaml", "tfidf.yaml"])
def test_shipped_configs_load(name):
    args = load_args(CONFIGS / name)
    assert isinstance(args, TrainArgs)


def test_yaml_then_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lr: 5e-5\nepochs: 1\nsource_caps: {a: 10}\nbf16: true\n")
    args = load_args(cfg, ["lr=3e-5", "epochs=2", "source_caps.b=7", "bf16=false", "max_steps=null",
                           "source_weights={veguard_synthetic: 2}"])
    assert args.lr == pytest.approx(3e-5) and isinstance(args.lr, float)
    assert args.epochs == 2
    assert args.source_caps == {"a": 10, "b": 7}
    assert args.bf16 is False
    assert args.max_steps is None
    assert args.source_weights == {"veguard_synthetic": 2.0}


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lr: 5e-5\n")  # PyYAML reads this as a string
    assert load_args(cfg).lr == pytest.approx(5e-5)


def test_unknown_key_in_file_names_key_and_file(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("lr: 1.0e-4\nlearning_rate: 3\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*'learning_rate'"):
        load_args(cfg)


def test_unknown_override_key():
    with pytest.raises(ValueError, match=r"--set.*'epoch'"):
        load_args(None, ["epoch=2"])


@pytest.mark.parametrize(
    "item, pattern",
    [
        ("epochs=two", r"epochs expects int"),
        ("epochs=1.5", r"epochs expects int"),
        ("bf16=maybe", r"bf16 expects bool"),
        ("lr=fast", r"lr expects float"),
        ("source_caps=5", r"source_caps must be a mapping"),
        ("source_caps.x=lots", r"source_caps\.x expects int"),
        ("kind=svm", r"kind='svm'"),
        ("batch_size=0", r"batch_size must be >= 1"),
        ("noequals", r"expected key=value"),
    ],
)
def test_bad_overrides(item, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_args(None, [item])


def test_config_must_be_mapping(tmp_path):
    cfg = tmp_path / "list.yaml"
    cfg.write_text("- lr\n- 3\n")
    with pytest.raises(ValueError, match="top level must be a mapping"):
        load_args(cfg)


def test_missing_config_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read config"):
        load_args(tmp_path / "nope.yaml")


def test_override_values_are_data_not_code():
    # safe_load refuses Python object tags, so a hostile value can never run code.
    with pytest.raises(ValueError, match="cannot parse value"):
        parse_overrides(["name=!!python/object/apply:os.system ['true']"])


def test_stride_defaults_to_half_max_length():
    assert TrainArgs(max_length=96).window_stride == 48
    assert TrainArgs(max_length=96, stride=32).window_stride == 32


def test_help_text_documents_every_field():
    text = help_text()
    for key in ("lr", "source_caps", "epoch_size", "bf16", "save_dtype", "review_recall"):
        assert key in text
