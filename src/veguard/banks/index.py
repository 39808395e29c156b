"""The in-memory match index: exact hashes and MinHash LSH over passage signatures, in numpy.

Why not `datasketch.MinHashLSH`: it keeps every band of every entry as Python bytes in dicts
of sets, which at 1,000,000 entries needs several GB, and it builds a `MinHash` object per
lookup. Here each kind of state is one flat numpy array (bench/banks.py measures both):

- exact: the first 64 bits of each entry's SHA-256, sorted, with the entry's row;
- LSH: for each passage and band, a 64-bit key `(band << 32) | hash32(band's values)`, all
  bands in one sorted array with the passage's row, so a lookup is two `searchsorted` calls;
- verification: each passage's signature cut to its low 8 bits (b-bit MinHash; the 1/256
  chance agreement is corrected for), so a candidate's similarity is estimated without the
  database;
- per entry: its database id, bank, label codes and a quarantine flag.

Memory is therefore fixed per passage: `bands * 12 + NUM_PERM` bytes, plus 30 per entry.
Entries added after a build go to a small unsorted tail that is scanned directly; `build()`
folds it in. Removal marks an entry dead (its rows stay until the next full load).

What it leaves out: the database (store.py), thresholds per bank and quarantine (matcher.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from veguard.banks.signature import NUM_PERM

BANDS = 21
ROWS = 3
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53],
                dtype=np.uint64)
_TAIL_LIMIT = 5_000  # pending passages before they are folded into the sorted arrays


def band_keys(sig: np.ndarray, bands: int = BANDS, rows: int = ROWS) -> np.ndarray:
    """(..., bands) uint64 LSH keys of (..., NUM_PERM) signatures."""
    v = sig[..., : bands * rows].astype(np.uint64).reshape(*sig.shape[:-1], bands, rows)
    h = (v * _MIX[:rows]).sum(axis=-1) >> np.uint64(32)  # wraps mod 2**64: a hash, on purpose
    return (np.arange(bands, dtype=np.uint64) << np.uint64(32)) | h


def exact_key(hex_digest: str) -> int:
    return int(hex_digest[:16], 16)


@dataclass
class Hit:
    row: int            # entry row in the index
    exact: bool
    similarity: float
    passage: int        # which query passage matched (index into the query's passages)


class Index:
    """Rows are entries; each entry has one exact key and zero or more passage signatures."""

    def __init__(self, bands: int = BANDS, rows: int = ROWS):
        if bands * rows > NUM_PERM:
            raise ValueError(f"bands x rows = {bands * rows} exceeds NUM_PERM = {NUM_PERM}")
        self.bands, self.rows = bands, rows
        # per entry
        self.entry_id = np.zeros(0, np.int64)
        self.bank = np.zeros(0, np.int16)
        self.entity = np.zeros(0, np.int8)
        self.behaviour = np.zeros(0, np.int8)
        self.alive = np.zeros(0, bool)
        self.quarantined = np.zeros(0, bool)
        self._row_of: dict[int, int] = {}
        # sorted state
        self._ex_keys = np.zeros(0, np.uint64)
        self._ex_rows = np.zeros(0, np.int32)
        self._lsh_keys = np.zeros(0, np.uint64)
        self._lsh_pass = np.zeros(0, np.int32)
        self._p_entry = np.zeros(0, np.int32)
        self._p_sig8 = np.zeros((0, NUM_PERM), np.uint8)
        # tail (not yet sorted), as lists of arrays
        self._tail_ex: list[tuple[int, int]] = []
        self._tail_sigs = np.zeros((0, NUM_PERM), np.uint32)
        self._tail_entry: list[int] = []

    def __len__(self) -> int:
        return len(self.entry_id)

    @property
    def n_passages(self) -> int:
        return len(self._p_entry) + len(self._tail_entry)

    def nbytes(self) -> int:
        arrays = (self.entry_id, self.bank, self.entity, self.behaviour, self.alive,
                  self.quarantined, self._tail_sigs,
                  self._ex_keys, self._ex_rows, self._lsh_keys, self._lsh_pass,
                  self._p_entry, self._p_sig8)
        return int(sum(a.nbytes for a in arrays))

    # -- adding ---------------------------------------------------------------------------
    def add_many(self, entry_ids, banks, entities, behaviours, exact_hex: list[str],
                 sigs_per_entry: list[np.ndarray]) -> None:
        """Append entries; `sigs_per_entry[i]` is a (passages, NUM_PERM) array (may be empty)."""
        n0 = len(self.entry_id)
        n = len(exact_hex)
        self.entry_id = np.concatenate([self.entry_id, np.asarray(entry_ids, np.int64)])
        self.bank = np.concatenate([self.bank, np.asarray(banks, np.int16)])
        self.entity = np.concatenate([self.entity, np.asarray(entities, np.int8)])
        self.behaviour = np.concatenate([self.behaviour, np.asarray(behaviours, np.int8)])
        self.alive = np.concatenate([self.alive, np.ones(n, bool)])
        self.quarantined = np.concatenate([self.quarantined, np.zeros(n, bool)])
        new_sigs = []
        for i in range(n):
            row = n0 + i
            self._row_of[int(self.entry_id[row])] = row
            self._tail_ex.append((exact_key(exact_hex[i]), row))
            sigs = np.asarray(sigs_per_entry[i], np.uint32).reshape(-1, NUM_PERM)
            new_sigs.append(sigs)
            self._tail_entry.extend([row] * len(sigs))
        if new_sigs:
            self._tail_sigs = np.concatenate([self._tail_sigs, *new_sigs])
        if len(self._tail_entry) > _TAIL_LIMIT or len(self._tail_ex) > _TAIL_LIMIT:
            self.build()

    def build(self) -> None:
        """Fold the tail into the sorted arrays."""
        if self._tail_ex:
            k = np.array([e[0] for e in self._tail_ex], np.uint64)
            r = np.array([e[1] for e in self._tail_ex], np.int32)
            keys = np.concatenate([self._ex_keys, k])
            rows = np.concatenate([self._ex_rows, r])
            order = np.argsort(keys, kind="stable")
            self._ex_keys, self._ex_rows = keys[order], rows[order]
            self._tail_ex = []
        if self._tail_entry:
            sigs = self._tail_sigs
            first = len(self._p_entry)
            self._p_entry = np.concatenate([self._p_entry, np.array(self._tail_entry, np.int32)])
            self._p_sig8 = np.concatenate([self._p_sig8, (sigs & 0xFF).astype(np.uint8)])
            bk = band_keys(sigs, self.bands, self.rows).ravel()
            bp = np.repeat(np.arange(first, first + len(sigs), dtype=np.int32), self.bands)
            keys = np.concatenate([self._lsh_keys, bk])
            pas = np.concatenate([self._lsh_pass, bp])
            order = np.argsort(keys, kind="stable")
            self._lsh_keys, self._lsh_pass = keys[order], pas[order]
            self._tail_sigs = np.zeros((0, NUM_PERM), np.uint32)
            self._tail_entry = []

    def remove(self, entry_id: int) -> bool:
        row = self._row_of.get(int(entry_id))
        if row is None or not self.alive[row]:
            return False
        self.alive[row] = False
        return True

    def row_of(self, entry_id: int) -> int | None:
        return self._row_of.get(int(entry_id))

    # -- querying -------------------------------------------------------------------------
    def exact(self, hex_digest: str) -> list[int]:
        key = np.uint64(exact_key(hex_digest))
        lo = np.searchsorted(self._ex_keys, key, side="left")
        hi = np.searchsorted(self._ex_keys, key, side="right")
        rows = [int(r) for r in self._ex_rows[lo:hi]]
        rows += [r for k, r in self._tail_ex if k == int(key)]
        return [r for r in rows if self.alive[r]]

    def near(self, sig: np.ndarray, threshold: float) -> list[tuple[int, float]]:
        """(entry row, estimated Jaccard) for entries with a passage at or over threshold."""
        keys = band_keys(sig, self.bands, self.rows)
        best: dict[int, float] = {}
        n = len(self._lsh_keys)
        # One binary search per band; most bands find nothing, and only those that do are
        # searched again for the end of their run of equal keys.
        lo = np.searchsorted(self._lsh_keys, keys, side="left") if n else np.zeros(0, int)
        nz = np.flatnonzero(self._lsh_keys[np.minimum(lo, n - 1)] == keys) if n else lo
        if len(nz):
            hi = np.searchsorted(self._lsh_keys, keys[nz], side="right")
            cand = np.unique(np.concatenate([self._lsh_pass[a:b] for a, b in zip(
                lo[nz].tolist(), hi.tolist(), strict=True)]))
            agree = np.count_nonzero(self._p_sig8[cand] == (sig & 0xFF).astype(np.uint8), axis=1)
            # b-bit MinHash: unequal values collide in their low 8 bits 1 time in 256.
            sim = (agree / NUM_PERM - 1 / 256) / (1 - 1 / 256)
            for p, s in zip(cand[sim >= threshold], sim[sim >= threshold], strict=True):
                row = int(self._p_entry[p])
                best[row] = max(best.get(row, 0.0), float(s))
        if self._tail_entry:
            sim = np.count_nonzero(self._tail_sigs == sig, axis=1) / NUM_PERM
            for i in np.flatnonzero(sim >= threshold):
                row = self._tail_entry[i]
                best[row] = max(best.get(row, 0.0), float(sim[i]))
        return [(r, s) for r, s in best.items() if self.alive[r]]
