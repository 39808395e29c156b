"""Runtime settings of `veguard serve`: one dataclass whose field metadata is the documentation.

What it leaves out: reading YAML; `veguard serve` sets the few fields it exposes from its flags,
and tests build a `Settings(...)` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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

    def __post_init__(self) -> None:
        if self.enqueue_on not in ("review", "auto"):
            raise ValueError(f"enqueue_on: expected 'review' or 'auto', got {self.enqueue_on!r}")
        if self.max_batch < 1:
            raise ValueError(f"max_batch: must be >= 1, got {self.max_batch}")
        if self.batch_window_ms < 0:
            raise ValueError(f"batch_window_ms: must be >= 0, got {self.batch_window_ms}")
