"""Runtime settings of `veguard serve`: one dataclass whose field metadata is the documentation.

Every field is settable three ways, later winning: its default, an environment variable
`VEGUARD_<FIELD>` (upper case), and a `veguard serve --<field-with-dashes>` flag
(`add_arguments` / `from_args` build both from the dataclass, so a new field is settable
everywhere without more code). `api_keys` is the exception: keys are given in
`VEGUARD_API_KEYS` (auth.py), never on a command line where `ps` would show them.

What it leaves out: reading YAML; tests build a `Settings(...)` directly.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import MISSING, dataclass, field, fields


@dataclass
class Settings:
    batching: bool = field(
        default=True,
        metadata={"help": "collect concurrent requests into one classifier call "
                          "(off: one call per request)"},
    )
    batch_window_ms: float = field(
        default=5.0,
        metadata={"help": "how long the batcher waits for more requests after the first"},
    )
    max_batch: int = field(
        default=64, metadata={"help": "most texts scored in one classifier call"}
    )
    max_pending: int = field(
        default=256,
        metadata={"help": "texts waiting for the model beyond which scoring requests get 429 "
                          "with Retry-After (0: no bound)"},
    )
    max_queue_ms: float = field(
        default=250.0,
        metadata={"help": "backlog, in ms at the measured scoring rate, beyond which scoring "
                          "requests get 429 with Retry-After (0: no bound)"},
    )
    score_timeout_s: float = field(
        default=30.0,
        metadata={"help": "a request waiting longer than this for its scores gets 503"},
    )
    max_body_bytes: int = field(
        default=1_000_000, metadata={"help": "request bodies larger than this get 413"}
    )
    enqueue_on: str = field(
        default="review",
        metadata={"help": "which results /v1/classify enqueues: 'review' (flagged) or 'auto' only"},
    )
    lease_seconds: int = field(
        default=300, metadata={"help": "how long a reviewer's claim on an item lasts"}
    )
    api_keys: list[str] = field(
        default_factory=list,
        metadata={"help": "extra keys as 'role:name:token' or 'role:name:sha256:<hex>' (config)"},
    )
    cookie_secure: bool = field(
        default=False, metadata={"help": "mark the reviewer cookie Secure (set behind HTTPS)"}
    )
    session_hours: float = field(
        default=12.0, metadata={"help": "how long a reviewer-page login lasts"}
    )
    rate_limit_per_minute: float = field(
        default=600.0,
        metadata={"help": "texts per minute each client key may score (0: no limit); over it, 429"},
    )
    rate_limit_burst: int = field(
        default=300,
        metadata={"help": "texts a client key may score at once before the rate applies"},
    )
    qa_share: float = field(
        default=0.05,
        metadata={"help": "share of decided items (0 to 1) sent for blind QA re-review"},
    )
    sla_seconds: float = field(
        default=4 * 3600.0,
        metadata={"help": "an item waiting longer than this is an SLA breach (stats, metrics)"},
    )
    break_every: int = field(
        default=25,
        metadata={"help": "prompt a reviewer to take a break after this many items (0: never)"},
    )
    undo_seconds: float = field(
        default=10.0, metadata={"help": "how long after a decision its reviewer may undo it"}
    )
    banks: bool = field(
        default=False,
        metadata={"help": "match every text against the banks of known content in the database "
                          "(docs/BANKS.md); results gain `matches`"},
    )
    quarantine_window: int = field(
        default=10_000, metadata={"help": "lookups per window of the banks' bad-entry guard"}
    )
    quarantine_share: float = field(
        default=0.01,
        metadata={"help": "a bank entry matching more than this share of one window's lookups "
                          "is quarantined"},
    )
    unsupported_action: str = field(
        default="lexicon",
        metadata={"help": "action for texts in a language the model cannot read: 'none', "
                          "'review' (all of them), or 'lexicon' (review those containing a "
                          "term of unsupported_lexicon; none without one)"},
    )
    unsupported_lexicon: str = field(
        default="",
        metadata={"help": "operator lexicon for unsupported languages: a UTF-8 file, one term "
                          "per line ('' = none)"},
    )

    def __post_init__(self) -> None:
        from veguard.service.lexicon import ACTIONS

        if self.unsupported_action not in ACTIONS:
            raise ValueError(f"unsupported_action: expected one of {', '.join(ACTIONS)}, got "
                             f"{self.unsupported_action!r}")
        if self.enqueue_on not in ("review", "auto"):
            raise ValueError(f"enqueue_on: expected 'review' or 'auto', got {self.enqueue_on!r}")
        if self.max_batch < 1:
            raise ValueError(f"max_batch: must be >= 1, got {self.max_batch}")
        if self.batch_window_ms < 0:
            raise ValueError(f"batch_window_ms: must be >= 0, got {self.batch_window_ms}")
        if not 0.0 <= self.qa_share <= 1.0:
            raise ValueError(f"qa_share: must be between 0 and 1, got {self.qa_share}")
        for name in ("lease_seconds", "session_hours", "sla_seconds", "score_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.quarantine_window < 1 or not 0.0 < self.quarantine_share <= 1.0:
            raise ValueError("quarantine_window must be >= 1 and quarantine_share in (0, 1], got "
                             f"{self.quarantine_window} and {self.quarantine_share}")
        for name in ("rate_limit_per_minute", "rate_limit_burst", "break_every", "undo_seconds",
                     "max_pending", "max_queue_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")

    @staticmethod
    def env_name(name: str) -> str:
        return "VEGUARD_" + name.upper()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """A `--<field>` flag per setting (booleans get `--no-<field>` too)."""
        for f in _settable():
            flag = "--" + f.name.replace("_", "-")
            help_ = f"{f.metadata['help']} (env {cls.env_name(f.name)}; default {f.default})"
            if f.type in (bool, "bool"):
                parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                    default=None, help=help_)
            else:
                parser.add_argument(flag, dest=f.name, default=None, metavar=f.name.upper(),
                                    type=_caster(f.type), help=help_)

    @classmethod
    def from_args(cls, args: argparse.Namespace | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
        """Defaults, overridden by VEGUARD_* variables, overridden by flags. ValueError names
        the variable or flag that is wrong."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in _settable():
            env = cls.env_name(f.name)
            if env in environ:
                try:
                    values[f.name] = _parse(f.type, environ[env])
                except ValueError as e:
                    raise ValueError(f"{env}: {e}") from None
            flag = getattr(args, f.name, None) if args is not None else None
            if flag is not None:
                values[f.name] = flag
        return cls(**values)


def _settable():
    return [f for f in fields(Settings) if f.name != "api_keys" and f.default is not MISSING]


def _caster(type_):
    if not isinstance(type_, str):  # annotations are strings here (from __future__ import ...)
        return type_
    return {"int": int, "float": float, "str": str}.get(type_, type_)


def _parse(type_, raw: str):
    t = _caster(type_)
    if t in (bool, "bool"):
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true/false, got {raw!r}")
    try:
        return t(raw)
    except ValueError:
        raise ValueError(f"expected {t.__name__}, got {raw!r}") from None
