"""Matching texts against every bank, guarding against bad entries, and applying matches.

`Matcher.from_store(store)` loads all banks into one in-memory `Index`; `match(text)` returns
the `matches` list that `veguard bank match`, `veguard score --banks`, `/v1/match`,
`/v1/moderations` and `/v1/classify` report:

    {"bank": "isis-claims", "kind": "violating", "entry_id": 12, "exact": false,
     "similarity": 0.61, "labels": {"entity": "islamic_state", "behaviour": "glorification"},
     "span": {"start": 0, "end": 180, "text": "..."}, "quarantined": false}

`span` is the matched passage as character offsets of the *input* text (as `evidence` is:
the passage is found in the normalised text, which the hashes see, and mapped back with
`veguard.offsets`); for a short text it is the whole of it.

Quarantine: a shared entry that suddenly matches a large share of traffic is more likely a
bad entry (a greeting, a common phrase, a hash of an empty page) than a wave of terrorist
content. The guard counts lookups in tumbling windows of `window` lookups; an entry matched by
more than `max_share` of one window's lookups is set `quarantined` in the store (audited) and
from then on is still reported, with `"quarantined": true`, but no longer changes an action,
until an admin re-activates it.

What it leaves out: the model (apply() takes a ScoreResult), HTTP and the CLI.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from veguard.banks import signature as sg
from veguard.banks.index import Index
from veguard.banks.store import Bank, BankStore, NewEntry
from veguard.result import ScoreResult
from veguard.taxonomy import ACTIONS, BEHAVIOURS, ENTITIES

TLSH_THRESHOLD = 30  # threatexchange's TLSH_CONFIDENT_MATCH_THRESHOLD


@dataclass
class Guard:
    """Quarantine rule: more than max_share of one window of lookups matched one entry."""

    window: int = 10_000
    max_share: float = 0.01

    def __post_init__(self) -> None:
        if self.window < 1 or not 0 < self.max_share <= 1:
            raise ValueError("quarantine: window must be >= 1 and max_share in (0, 1]")

    @property
    def limit(self) -> int:
        return max(1, int(self.window * self.max_share))


def _code(value: str | None, names: tuple[str, ...]) -> int:
    return -1 if value is None else names.index(value)


def _name(code: int, names: tuple[str, ...]) -> str | None:
    return None if code < 0 else names[code]


class Matcher:
    """All banks of one store, in memory. Thread-safe: the service shares one."""

    def __init__(self, store: BankStore | None = None, guard: Guard | None = None,
                 actor: str = "banks:guard"):
        self.store = store
        self.guard = guard or Guard()
        self.actor = actor
        self.index = Index()
        self.banks: list[Bank] = []
        self._bank_no: dict[str, int] = {}
        self._tlsh: list[tuple[int, str]] = []  # (row, digest) of TLSH-only entries
        self._lock = threading.Lock()
        self._lookups = 0
        self._hits: dict[int, int] = {}

    @classmethod
    def from_store(cls, store: BankStore, guard: Guard | None = None) -> Matcher:
        m = cls(store, guard)
        m.reload()
        return m

    def reload(self) -> None:
        """Rebuild the index from the store (banks, entries, statuses). Lookups wait."""
        with self._lock:
            index, self._tlsh = Index(), []
            self.banks, self._bank_no = [], {}
            for bank, _ in self.store.list_banks():
                self._add_bank(bank)
            batch: list = []
            for e in self.store.iter_entries():
                batch.append(e)
                if len(batch) == 5000:
                    self._index_entries(index, batch)
                    batch = []
            self._index_entries(index, batch)
            index.build()
            self.index = index

    def _add_bank(self, bank: Bank) -> None:
        if bank.name not in self._bank_no:
            self._bank_no[bank.name] = len(self.banks)
            self.banks.append(bank)

    def _index_entries(self, index: Index, batch: list) -> None:
        if not batch:
            return
        first = len(index)
        index.add_many([e.id for e in batch], [self._bank_no[e.bank] for e in batch],
                       [_code(e.entity, ENTITIES) for e in batch],
                       [_code(e.behaviour, BEHAVIOURS) for e in batch],
                       [e.sha256 or "0" * 64 for e in batch], [e.signatures for e in batch])
        for i, e in enumerate(batch):
            if e.status == "quarantined":
                index.quarantined[first + i] = True
            if e.sha256 is None and e.tlsh:
                self._tlsh.append((first + i, e.tlsh))

    def add(self, bank: Bank, ids: list[int], new: list[NewEntry]) -> None:
        """Index entries just stored (ids from BankStore.add_entries), without a reload."""
        from veguard.banks.store import Entry

        with self._lock:
            self._add_bank(bank)
            fresh = [Entry(**vars(e) | {"id": i, "bank": bank.name}) for i, e in zip(
                ids, new, strict=True) if self.index.row_of(i) is None]
            self._index_entries(self.index, fresh)

    def remove(self, entry_id: int) -> None:
        """Stop matching an entry (its rows stay in the arrays until the next reload)."""
        with self._lock:
            self.index.remove(entry_id)

    def bank_map(self) -> dict[str, Bank]:
        return {b.name: b for b in self.banks}

    def set_quarantined(self, entry_id: int, value: bool) -> None:
        row = self.index.row_of(entry_id)
        if row is not None:
            self.index.quarantined[row] = value

    # -- matching -------------------------------------------------------------------------
    def match(self, text: str, count: bool = True) -> list[dict]:
        """Matches of one text; `count=False` for lookups that are not traffic (a reviewer
        opening a page), which the quarantine guard must not count."""
        toks = sg.tokens(text)
        norm, digest = toks.norm, toks.sha256
        psgs = sg.passages(toks, sg.QUERY_STRIDE) if len(toks) >= sg.MIN_TOKENS else []
        # The index's arrays are swapped as a group when entries are added: read under the lock.
        with self._lock:
            threshold = min((b.threshold for b in self.banks), default=1.0)
            found: dict[int, tuple[bool, float, int, int]] = {}  # row -> exact, sim, span
            for row in self.index.exact(digest):
                found[row] = (True, 1.0, 0, len(norm))
            for p in psgs:
                for row, sim in self.index.near(p.signature, threshold):
                    bank = self.banks[self.index.bank[row]]
                    if sim < bank.threshold or row in found and found[row][1] >= sim:
                        continue
                    found[row] = (False, sim, *toks.span(p.i, p.j))
            if self._tlsh and len(text.encode("utf-8")) >= 50:
                self._match_tlsh(text, norm, found)
        if count:  # first, so the lookup that trips the guard already sees the quarantine
            self._count(found)
        with self._lock:
            out = [self._describe(row, *v, text, norm) for row, v in found.items()]
        out.sort(key=lambda m: (not m["exact"], -m["similarity"], m["entry_id"]))
        return out

    def _match_tlsh(self, text: str, norm: str, found: dict) -> None:
        import tlsh

        q = sg.tlsh_digest(text)
        if q is None:
            return
        for row, digest in self._tlsh:
            if self.index.alive[row] and tlsh.diffxlen(q, digest) <= TLSH_THRESHOLD:
                found.setdefault(row, (False, 1.0 - tlsh.diffxlen(q, digest) / 100, 0, len(norm)))

    def _describe(self, row: int, exact: bool, sim: float, start: int, end: int, text: str,
                  norm: str) -> dict:
        from veguard.offsets import to_original_span

        bank = self.banks[self.index.bank[row]]
        # Only matches pay for the mapping back to the input's offsets.
        start, end = (0, len(text)) if (start, end) == (0, len(norm)) else \
            to_original_span(text, norm, start, end)
        return {"bank": bank.name, "kind": bank.kind, "entry_id": int(self.index.entry_id[row]),
                "exact": exact, "similarity": round(sim, 4),
                "labels": {"entity": _name(int(self.index.entity[row]), ENTITIES),
                           "behaviour": _name(int(self.index.behaviour[row]), BEHAVIOURS)},
                "span": {"start": start, "end": end, "text": text[start:end]},
                "quarantined": bool(self.index.quarantined[row])}

    def _count(self, found: dict) -> None:
        newly = []
        with self._lock:
            self._lookups += 1
            if self._lookups > self.guard.window:
                self._lookups, self._hits = 1, {}
            for row in found:
                n = self._hits.get(row, 0) + 1
                self._hits[row] = n
                if n > self.guard.limit and not self.index.quarantined[row]:
                    self.index.quarantined[row] = True
                    newly.append((row, n))
        for row, n in newly:
            if self.store is not None:
                self.store.set_status(int(self.index.entry_id[row]), "quarantined", self.actor,
                                      {"hits": n, "window": self.guard.window,
                                       "max_share": self.guard.max_share})

    def match_many(self, texts: list[str]) -> list[list[dict]]:
        return [self.match(t) for t in texts]


def apply(result: ScoreResult, matches: list[dict], banks: dict[str, Bank]) -> ScoreResult:
    """The result with its action moved as the matched banks say. Quarantined matches are
    shown but move nothing; a violating match wins over a benign one."""
    rank = {a: i for i, a in enumerate(ACTIONS)}
    live = [m for m in matches if not m["quarantined"]]
    floors = [banks[m["bank"]].action for m in live if m["kind"] == "violating"]
    if floors:
        floor = max(floors, key=rank.__getitem__)
        action = max(result.action, floor, key=rank.__getitem__)
        return replace(result, action=action)
    caps = [banks[m["bank"]].action for m in live if m["kind"] == "benign"
            and banks[m["bank"]].action != "show"]
    if caps:
        cap = min(caps, key=rank.__getitem__)
        return replace(result, action=min(result.action, cap, key=rank.__getitem__))
    return result


def known_labels(matches: list[dict]) -> list[str]:
    """Distinct labels of live violating matches, for the reviewer's badge."""
    seen = []
    for m in matches:
        if m["kind"] == "violating" and not m["quarantined"]:
            for v in m["labels"].values():
                if v and v not in seen:
                    seen.append(v)
    return seen

