"""Per-key rate limits on the scoring endpoints: a token bucket per client key name.

Cost is the number of texts in the request, so a 256-text batch counts 256 times, not once.
A request that does not fit answers 429 with `Retry-After` (whole seconds until it would fit).
A request larger than the whole bucket costs the whole bucket (it could never fit otherwise;
the request size itself is bounded by the schema).

What it leaves out: sharing buckets between processes (one uvicorn process per server; run
a proxy-level limit in front of several).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = float(max(burst, 1))
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, name: str, cost: int = 1) -> float | None:
        """None if `name` may spend `cost` now (and it is spent), else seconds to wait."""
        if not self.enabled:
            return None
        cost = min(float(cost), self.burst)
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(name, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if cost <= tokens:
                self._buckets[name] = (tokens - cost, now)
                return None
            self._buckets[name] = (tokens, now)
            return max((cost - tokens) / self.rate, 0.001)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
