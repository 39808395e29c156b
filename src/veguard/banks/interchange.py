"""File formats banks move in: veguard's JSONL interchange format and threatexchange's signals.

veguard JSONL (`--format jsonl`, the default), one entry per line, UTF-8:

    {"v": 1, "sha256": "<64 hex>", "signature": "<base64>", "entity": "islamic_state",
     "behaviour": "glorification", "source": "gifct-2026-11", "note": null,
     "tlsh": "T1...", "text": "..."}

- `v`: the format version (1). `sha256`: exact_hash of the text (signature.py). Required
  unless the entry is a bare `tlsh` digest.
- `signature`: base64 of the passage signatures, each NUM_PERM little-endian uint32,
  concatenated (signature.py says how they are computed; SIGNATURE_VERSION 1). May be ""
  for an exact-only entry (fewer than MIN_TOKENS words).
- `entity`, `behaviour`: taxonomy.ENTITIES / BEHAVIOURS or null. `source`, `note`: free text.
- `text`: only when the exporting bank stores text. On import a `text` is re-hashed, and
  its hashes must agree with the line's (a mismatch is an error naming the line).
- Export also writes `bank`, `kind`, `id`, `status`, `added_by`, `added_at`; import ignores
  them (the target bank is chosen on the command line; the importer becomes `added_by`).

threatexchange (`--format threatexchange`): the line format of its `LocalFileSignalExchangeAPI`
("<signal_type> <signal>"), the way HMA deployments read a file of signals:

    raw_text <the text, whitespace collapsed>
    text_tlsh T1<70 hex digits>

Export writes a `raw_text` line for every entry whose text is stored and a `text_tlsh` line
for every entry with a TLSH digest. Import hashes each `raw_text` as a new text and keeps each
`text_tlsh` as a TLSH-only entry (matched by TLSH distance; matcher.py). Labels do not travel
in this format: `--entity` / `--behaviour` on import set them.

What it leaves out: fetching from exchanges (ThreatExchange, NCMEC, TCAP APIs) and the
`sha256`/`md5` signal types, which hash a file's raw bytes, not normalised text.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator

import numpy as np

from veguard.banks import signature as sg
from veguard.banks.store import BankError, Entry, NewEntry

FORMAT_VERSION = 1
FORMATS = ("jsonl", "threatexchange")
_TLSH = re.compile(r"^T1[0-9A-F]{70}$")
_FIELDS = {"v", "sha256", "signature", "entity", "behaviour", "source", "note", "tlsh", "text",
           "bank", "kind", "id", "status", "added_by", "added_at"}


class InterchangeError(BankError):
    """A bad line; the message names the file and line."""


def entry_to_dict(e: Entry, kind: str | None = None) -> dict:
    d = {"v": FORMAT_VERSION, "sha256": e.sha256,
         "signature": base64.b64encode(np.ascontiguousarray(e.signatures, "<u4").tobytes())
         .decode("ascii"),
         "entity": e.entity, "behaviour": e.behaviour, "source": e.source, "note": e.note,
         "tlsh": e.tlsh}
    if e.text is not None:
        d["text"] = e.text
    if isinstance(e, Entry):
        d.update(bank=e.bank, kind=kind, id=e.id, status=e.status, added_by=e.added_by,
                 added_at=e.added_at)
    return d


def entry_from_dict(d: dict, where: str) -> NewEntry:
    if not isinstance(d, dict):
        raise InterchangeError(f"{where}: expected a JSON object, got {type(d).__name__}")
    unknown = set(d) - _FIELDS
    if unknown:
        raise InterchangeError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if d.get("v", FORMAT_VERSION) != FORMAT_VERSION:
        raise InterchangeError(f"{where}: v: format version {d.get('v')!r} is not supported "
                               f"(this veguard reads {FORMAT_VERSION})")
    for f in ("sha256", "signature", "entity", "behaviour", "source", "note", "tlsh", "text"):
        if d.get(f) is not None and not isinstance(d[f], str):
            raise InterchangeError(f"{where}: {f}: expected a string, got {type(d[f]).__name__}")
    try:
        raw = base64.b64decode(d.get("signature") or "", validate=True)
    except ValueError:
        raise InterchangeError(f"{where}: signature: not valid base64") from None
    if len(raw) % (4 * sg.NUM_PERM):
        raise InterchangeError(f"{where}: signature: {len(raw)} bytes is not a whole number of "
                               f"{4 * sg.NUM_PERM}-byte passages")
    tl = d.get("tlsh")
    if tl is not None and not _TLSH.match(tl):
        raise InterchangeError(f"{where}: tlsh: expected 'T1' and 70 upper-case hex digits")
    sigs = np.frombuffer(raw, "<u4").reshape(-1, sg.NUM_PERM).astype(np.uint32)
    labels = {k: d.get(k) for k in ("entity", "behaviour", "source", "note")}
    try:
        if d.get("text") is not None:
            fresh = NewEntry.from_text(d["text"], **labels)
            if d.get("sha256") and d["sha256"].lower() != fresh.sha256:
                raise InterchangeError(f"{where}: sha256 does not match the line's text")
            if raw and not np.array_equal(sigs, fresh.signatures):
                raise InterchangeError(f"{where}: signature does not match the line's text "
                                       "(a different SIGNATURE_VERSION?)")
            return fresh
        return NewEntry(sha256=d.get("sha256"), signatures=sigs, tlsh=tl, **labels)
    except InterchangeError:
        raise
    except BankError as e:
        raise InterchangeError(f"{where}: {e}") from None


def read_jsonl(lines: Iterable[str], name: str) -> Iterator[NewEntry]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise InterchangeError(f"{name}: line {n}: broken JSON: {e.msg}") from None
        yield entry_from_dict(d, f"{name}: line {n}")


def read_threatexchange(lines: Iterable[str], name: str, **labels) -> Iterator[NewEntry]:
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        kind, _, signal = line.partition(" ")
        where = f"{name}: line {n}"
        try:
            if kind == "raw_text":
                if not signal.strip():
                    raise InterchangeError(f"{where}: raw_text with no text")
                yield NewEntry.from_text(signal, **labels)
            elif kind == "text_tlsh":
                if not _TLSH.match(signal.strip()):
                    raise InterchangeError(f"{where}: text_tlsh: not a TLSH digest")
                yield NewEntry(sha256=None, signatures=np.zeros((0, sg.NUM_PERM), np.uint32),
                               tlsh=signal.strip(), **labels)
            else:
                raise InterchangeError(f"{where}: signal type {kind!r} is not a text signal "
                                       "veguard reads (raw_text, text_tlsh)")
        except InterchangeError:
            raise
        except BankError as e:
            raise InterchangeError(f"{where}: {e}") from None


def to_threatexchange(e: Entry) -> list[str]:
    out = []
    if e.text is not None:
        out.append("raw_text " + " ".join(e.text.split()))
    if e.tlsh:
        out.append("text_tlsh " + e.tlsh)
    return out
