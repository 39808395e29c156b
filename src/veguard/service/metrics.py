"""Prometheus metrics for one app, in the app's own registry (so tests and apps don't collide).

Request counts and latency are labelled by the matched route template, not the raw path,
so a scanner hitting random URLs cannot blow up the label set. Queue gauges (depth and oldest
age per category, SLA breaches, decisions per reviewer in the last hour) are refreshed from
`stats.queue_stats` at each scrape; the reviewer label is bounded by the number of keys.

What it leaves out: process metrics (add the default collectors in a deployment if wanted).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from veguard.service.stats import queue_stats
from veguard.service.store import STATUSES, QueueStore
from veguard.taxonomy import CATEGORIES


class Metrics:
    def __init__(self, store: QueueStore, settings=None):
        self.registry = CollectorRegistry()
        self.store = store
        self.sla_seconds = settings.sla_seconds if settings is not None else 4 * 3600.0
        self.requests = Counter("veguard_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("veguard_http_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.texts = Counter("veguard_texts_scored", "texts scored", registry=self.registry)
        self.flagged = Counter("veguard_flagged", "results with a category on, by category",
                               ["category"], registry=self.registry)
        self.batch_size = Histogram("veguard_batch_size", "texts per classifier call",
                                    registry=self.registry,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.queue_depth = Gauge("veguard_queue_depth", "review-queue items by status",
                                 ["status"], registry=self.registry)
        self.category_depth = Gauge("veguard_queue_category_depth",
                                    "waiting or claimed items by flagged category and status",
                                    ["category", "status"], registry=self.registry)
        self.oldest = Gauge("veguard_queue_oldest_age_seconds",
                            "age of the oldest open item by flagged category",
                            ["category"], registry=self.registry)
        self.sla = Gauge("veguard_queue_sla_breaches",
                         "open items older than the SLA, by flagged category",
                         ["category"], registry=self.registry)
        self.per_reviewer = Gauge("veguard_reviewer_decisions_last_hour",
                                  "decisions per reviewer in the last hour",
                                  ["reviewer"], registry=self.registry)
        self.rate_limited = Counter("veguard_rate_limited", "scoring requests refused with 429",
                                    registry=self.registry)
        for c in CATEGORIES:  # export zeros so dashboards see every series from the start
            self.flagged.labels(c)

    def observe_results(self, results) -> None:
        self.texts.inc(len(results))
        for r in results:
            for c in CATEGORIES:
                if r.categories.get(c):
                    self.flagged.labels(c).inc()

    def render(self) -> bytes:
        depth = self.store.depth()
        for s in STATUSES:
            self.queue_depth.labels(s).set(depth.get(s, 0))
        st = queue_stats(self.store, self.sla_seconds)
        for c, by_status in st["depth"].items():
            for s, n in by_status.items():
                self.category_depth.labels(c, s).set(n)
            self.oldest.labels(c).set(st["oldest_age_s"][c])
            self.sla.labels(c).set(st["sla_breaches"][c])
        self.per_reviewer.clear()
        for r, n in st["items_per_reviewer_per_hour"].items():
            self.per_reviewer.labels(r).set(n)
        return generate_latest(self.registry)
