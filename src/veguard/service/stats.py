"""Queue statistics for a shift lead: depth and age per category, throughput per reviewer, SLA
breaches, and QA agreement (Cohen's kappa). JSON first (`queue_stats`); the stats page, the
`/v1/queue/stats` endpoint and the Prometheus gauges all render this one dict.

Agreement compares each QA re-review with the decision it re-reviewed (the first non-undone
decision in the review lane): per category on the labels each implies, and per original
reviewer on violating-vs-benign. Kappa is None where it is undefined (no pairs, or both sides
constant).

What it leaves out: history beyond what the store keeps, and charts.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from veguard.service.store import DecisionRecord, QueueItem, QueueStore
from veguard.taxonomy import CATEGORIES

UNFLAGGED = "none"  # the category bucket for items the model flagged in no category


def cohen_kappa(a: list, b: list) -> float | None:
    """Cohen's kappa of two equal-length label sequences; None if undefined."""
    if len(a) != len(b):
        raise ValueError(f"kappa: sequences differ in length ({len(a)} vs {len(b)})")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if expected == 1.0:
        return None
    return round((observed - expected) / (1.0 - expected), 4)


def labels_of(d: DecisionRecord, predicted: dict[str, bool]) -> dict[str, bool]:
    """The labels a decision implies (same rule as the export)."""
    base = dict(predicted) if d.decision == "violating" else {c: False for c in CATEGORIES}
    base.update({c: bool(v) for c, v in (d.categories or {}).items() if c in CATEGORIES})
    return {c: bool(base.get(c)) for c in CATEGORIES}


def agreement(history: list[DecisionRecord], items: dict[int, QueueItem]) -> dict:
    first: dict[int, DecisionRecord] = {}
    qa: dict[int, DecisionRecord] = {}
    for d in history:
        if d.undone:
            continue
        if d.kind == "review" and d.decision != "escalate":
            first.setdefault(d.queue_id, d)
        elif d.kind == "qa":
            qa[d.queue_id] = d
    pairs = [(first[q], qa[q]) for q in qa if q in first and q in items]
    per_category = {}
    for c in CATEGORIES:
        a = [labels_of(f, items[f.queue_id].categories)[c] for f, _ in pairs]
        b = [labels_of(s, items[s.queue_id].categories)[c] for _, s in pairs]
        per_category[c] = {"pairs": len(pairs), "kappa": cohen_kappa(a, b)}
    by_reviewer: dict[str, list] = defaultdict(list)
    for f, s in pairs:
        by_reviewer[f.reviewer].append((f.decision, s.decision))
    per_reviewer = {r: {"pairs": len(v), "agree": sum(x == y for x, y in v),
                        "kappa": cohen_kappa([x for x, _ in v], [y for _, y in v])}
                    for r, v in sorted(by_reviewer.items())}
    return {"pairs": len(pairs), "per_category": per_category, "per_reviewer": per_reviewer}


def queue_stats(store: QueueStore, sla_seconds: float, *, window_s: float = 3600.0) -> dict:
    now = store.clock()
    buckets = (*CATEGORIES, UNFLAGGED)
    depth = {c: {"pending": 0, "claimed": 0, "escalated": 0} for c in buckets}
    oldest = {c: 0.0 for c in buckets}
    breaches = {c: 0 for c in buckets}
    alerts = []
    for item in store.open_items():
        status = item.effective_status(now)
        age = max(0.0, now - item.created_at)
        cats = [c for c in CATEGORIES if item.categories.get(c)] or [UNFLAGGED]
        for c in cats:
            depth[c][status] += 1
            oldest[c] = max(oldest[c], age)
            if age > sla_seconds:
                breaches[c] += 1
        if age > sla_seconds:
            alerts.append({"queue_id": item.id, "age_s": round(age, 1), "status": status,
                           "lane": item.lane, "categories": cats})
    recent = [d for d in store.history(since=now - window_s) if not d.undone]
    per_reviewer = Counter(d.reviewer for d in recent)
    hours = window_s / 3600.0
    decided = {i.id: i for i in store.decided_items()}
    return {
        "at": now,
        "sla_seconds": sla_seconds,
        "depth": depth,
        "oldest_age_s": {c: round(v, 1) for c, v in oldest.items()},
        "sla_breaches": breaches,
        "alerts": sorted(alerts, key=lambda a: -a["age_s"])[:100],
        "items_per_reviewer_per_hour": {r: round(n / hours, 2)
                                        for r, n in sorted(per_reviewer.items())},
        "qa": agreement(store.history(), decided),
    }
