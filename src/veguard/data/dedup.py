"""Deduplication and grouped splitting of corpus rows.

- `near_duplicate_pairs`: MinHash LSH over word 3-shingles of the case-folded text, each
  candidate pair confirmed by its true Jaccard similarity (>= `NEAR_JACCARD`).
- `resolve_duplicates`: collapses exact and near-duplicate clusters by the written rule below.
- `assign_splits`: train / validation / test by a stable hash of the connected component of
  (group, near-duplicate) links, so no group and no near-duplicate cluster straddles splits.

The duplicate rule (also in data/DATASETS.md):
1. Rows from minimal-pair sources (`PAIR_SOURCES`: Hatemoji perturbations, synthetic pairs
   and their contrasts) are deliberate near-duplicates with different labels: they are only
   collapsed when their texts are *exactly* equal.
2. Every other cluster keeps one row: the one from the highest-priority source
   (`sources.SOURCE_PRIORITY`; the more specific annotation wins); if that source has several
   rows in the cluster, their labels merge with positive > negative > unknown (a positive
   annotation of the same text by the same source is not cancelled by a negative one).
   Rows of the other sources are dropped; a disagreement on a label both sides know is
   counted as a conflict.
3. A non-pair row that duplicates a pair-source row is dropped in its favour.
Left out: semantic (paraphrase) deduplication.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
from datasketch import MinHash, MinHashLSH

from veguard.data.sources import SOURCE_PRIORITY
from veguard.taxonomy import CATEGORIES, SPLITS

NEAR_JACCARD = 0.8
NUM_PERM = 64
PAIR_SOURCES = frozenset({"hatemoji_build", "veguard_synthetic", "veguard_contrast"})
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def dedup_key(text: str) -> str:
    """The exact-duplicate key: the normalised text, case-folded."""
    return text.casefold()


def shingles(key: str, n: int = 3) -> set[str]:
    words = key.split()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def near_duplicate_pairs(keys: list[str], threshold: float = NEAR_JACCARD) -> list[tuple[int, int]]:
    """Index pairs (i < j) of distinct keys whose shingle sets have Jaccard >= threshold."""
    sets = [shingles(k) for k in keys]
    hashes = MinHash.bulk([[s.encode() for s in sh] for sh in sets], num_perm=NUM_PERM)
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    pairs = []
    for i, mh in enumerate(hashes):
        for j in lsh.query(mh):
            if jaccard(sets[i], sets[j]) >= threshold:
                pairs.append((j, i))
        lsh.insert(i, mh)
    return pairs


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def components(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return out


def _priority(source: str) -> int:
    return SOURCE_PRIORITY.index(source) if source in SOURCE_PRIORITY else len(SOURCE_PRIORITY)


def _merge_labels(rows: list[dict]) -> dict[str, int]:
    # Unknown (-1) < negative (0) < positive (1): max is "positive wins".
    return {c: max(r[c] for r in rows) for c in CATEGORIES}


def _conflict(rows: list[dict]) -> bool:
    return any(len({r[c] for r in rows if r[c] != -1}) > 1 for c in CATEGORIES)


def _collapse(rows: list[dict], stats: Counter, reason: str) -> dict:
    """One row for a duplicate cluster: best source wins; its own rows merge positive-first."""
    best = min(_priority(r["source"]) for r in rows)
    winners = [r for r in rows if _priority(r["source"]) == best]
    kept = dict(winners[0], **_merge_labels(winners))
    if _conflict(rows):
        same = len({r["source"] for r in rows}) == 1
        rule = "same source (positive wins)" if same else "across sources (priority source wins)"
        stats[f"{reason}: label conflict, {rule}"] += 1
    stats[f"{reason}: dropped"] += len(rows) - 1
    return kept


def resolve_duplicates(rows: list[dict], near: list[tuple[int, int]],
                       stats: Counter) -> tuple[list[dict], list[tuple[int, int]]]:
    """Apply the duplicate rule. Returns the kept rows and near-duplicate pairs among them
    (re-indexed), which the splitter uses to keep clusters together."""
    keys = [dedup_key(r["text"]) for r in rows]
    uf = UnionFind(len(rows))
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        uf.union(first.setdefault(k, i), i)
    exact_uf_snapshot = [uf.find(i) for i in range(len(rows))]
    for i, j in near:
        uf.union(i, j)
    kept: list[dict] = []
    kept_of: dict[int, int] = {}  # original index -> kept index (for remapping near pairs)
    for members in uf.components().values():
        by_key: dict[int, list[int]] = {}
        for i in members:
            by_key.setdefault(exact_uf_snapshot[i], []).append(i)
        pair_keys = [
            g for g in by_key.values() if any(rows[i]["source"] in PAIR_SOURCES for i in g)
        ]
        if pair_keys:
            # Rule 1 and 3: keep each distinct pair-source text; drop everything else.
            start = len(kept)
            for g in pair_keys:
                grp = [rows[i] for i in g if rows[i]["source"] in PAIR_SOURCES]
                reason = "exact duplicate" if len(g) > 1 else "near duplicate"
                kept_of.update({i: len(kept) for i in g})
                kept.append(_collapse(grp, stats, "exact duplicate"))
                stats[f"{reason}: dropped"] += len(g) - len(grp)
            others = [i for g in by_key.values() if g not in pair_keys for i in g]
            if others:
                kept_of.update({i: start for i in others})
                stats["near duplicate of a minimal-pair row: dropped"] += len(others)
            continue
        # Rule 2: exact groups first (so their counts are reported as exact), then the cluster.
        collapsed = []
        for g in by_key.values():
            collapsed.append(_collapse([rows[i] for i in g], stats, "exact duplicate")
                             if len(g) > 1 else rows[g[0]])
        for i in members:
            kept_of[i] = len(kept)
        kept.append(_collapse(collapsed, stats, "near duplicate") if len(collapsed) > 1
                    else collapsed[0])
    remapped = {(kept_of[i], kept_of[j]) for i, j in near if kept_of[i] != kept_of[j]}
    return kept, sorted(remapped)


def split_of(component_key: str, fractions: tuple[float, ...] = SPLIT_FRACTIONS) -> str:
    """Stable split for a component: sha1 of its key into [0, 1), cut at the fractions."""
    h = int.from_bytes(hashlib.sha1(component_key.encode("utf-8")).digest()[:8], "big") / 2**64
    edges = np.cumsum(fractions)
    return SPLITS[int(np.searchsorted(edges, h, side="right"))]


def assign_splits(rows: list[dict], near: list[tuple[int, int]]) -> int:
    """Set row["split"] in place; returns the size of the largest component (for the card)."""
    uf = UnionFind(len(rows))
    first: dict[str, int] = {}
    for i, r in enumerate(rows):
        uf.union(first.setdefault(f'{r["source"]}|{r["group"]}', i), i)
    for i, j in near:
        uf.union(i, j)
    largest = 0
    for members in uf.components().values():
        largest = max(largest, len(members))
        key = min(f'{rows[i]["source"]}|{rows[i]["group"]}' for i in members)
        split = split_of(key)
        for i in members:
            rows[i]["split"] = split
    return largest
