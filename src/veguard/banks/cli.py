"""`veguard bank`: create banks, add, match, import, export, list and remove entries.

    veguard bank create NAME --kind violating|benign [--action A] [--threshold 0.4]
                        [--store-text] [--db URL]
    veguard bank add NAME (--text TEXT | --input FILE.jsonl) [--entity E] [--behaviour B]
                     [--source S] [--note N] [--db URL]
    veguard bank match (TEXT ... | --input FILE) [--db URL]
    veguard bank import NAME --input FILE [--format jsonl|threatexchange] [--entity E] ...
    veguard bank export NAME --output FILE [--format jsonl|threatexchange] [--db URL]
    veguard bank list [NAME] [--db URL]
    veguard bank remove NAME [--entry ID] [--db URL]
    veguard bank status ENTRY_ID active|quarantined [--db URL]

`add --input` reads JSONL with a `text` field per line and optional `entity`, `behaviour`,
`source`, `note` (the flags are defaults for lines without them). Every input line is
validated before anything is written: a bad line fails the command, naming the file and line,
and the bank is unchanged. `match` prints one JSON object per text, in order, with `matches`
(matcher.py documents the fields). The database is the service's (`--db`, default
`sqlite:///veguard.db`); local CLI access is admin, audited as `cli:<user>`.

What it leaves out: the review-queue side (proposals are made and approved over HTTP).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from veguard.service.cli import DEFAULT_DB, _actor, _db_url

LABEL_FIELDS = ("entity", "behaviour", "source", "note")


def _store(url: str):
    from veguard.banks.store import BankStore

    try:
        return BankStore(url)
    except Exception as e:  # noqa: BLE001 - bad URL or server: say which, without a password
        safe = url.split("@")[-1] if "@" in url else url
        raise SystemExit(f"veguard bank: cannot open database {safe}: {type(e).__name__}"
                         ) from None


def _labels(args) -> dict:
    return {f: getattr(args, f, None) for f in LABEL_FIELDS}


def _read_add_input(path: str, defaults: dict) -> list:
    from veguard.banks.store import BankError, NewEntry

    p = Path(path)
    if not p.is_file():
        raise BankError(f"{path}: cannot read: not an existing file")
    out = []
    with open(p, encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                raise BankError(f"{path}: line {n}: empty line (expected a JSON object)")
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise BankError(f"{path}: line {n}: broken JSON: {e.msg}") from None
            if not isinstance(d, dict) or not isinstance(d.get("text"), str):
                raise BankError(f"{path}: line {n}: expected an object with a string 'text'")
            unknown = set(d) - {"text", "id", *LABEL_FIELDS}
            if unknown:
                raise BankError(f"{path}: line {n}: unknown field(s) {', '.join(sorted(unknown))}")
            labels = {k: d.get(k, defaults.get(k)) for k in LABEL_FIELDS}
            try:
                out.append(NewEntry.from_text(d["text"], **labels))
            except BankError as e:
                raise BankError(f"{path}: line {n}: {e}") from None
    return out


def _read_import(path: str, fmt: str, labels: dict) -> list:
    from veguard.banks import interchange
    from veguard.banks.store import BankError

    p = Path(path)
    if not p.is_file():
        raise BankError(f"{path}: cannot read: not an existing file")
    with open(p, encoding="utf-8-sig") as f:
        if fmt == "jsonl":
            return list(interchange.read_jsonl(f, path))
        te_labels = {k: labels[k] for k in ("entity", "behaviour", "source") if labels.get(k)}
        return list(interchange.read_threatexchange(f, path, **te_labels))


def _write_atomic(path: str, lines) -> int:
    import os
    import tempfile

    out = Path(path)
    if not out.resolve().parent.is_dir():
        raise OSError(f"{path}: its directory does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.resolve().parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
                n += 1
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def _match_rows(args):
    from veguard.scoring import detect_format, read_rows, validate

    if args.texts:
        return [(None, t) for t in args.texts]
    fmt = detect_format(args.input, None)
    path = Path(args.input)
    if not path.is_file():
        from veguard.scoring import InputError

        raise InputError(f"{args.input}: cannot read: not an existing file")
    validate(path, fmt, args.text_column, args.id_column, args.input)  # fail before output
    return read_rows(path, fmt, args.text_column, args.id_column, args.input)


def build_parser() -> argparse.ArgumentParser:
    from veguard.banks.interchange import FORMATS
    from veguard.taxonomy import BANK_KINDS, BEHAVIOURS, ENTITIES

    p = argparse.ArgumentParser(prog="veguard bank", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def db(sp):
        sp.add_argument("--db", type=_db_url, default=DEFAULT_DB,
                        help=f"SQLAlchemy URL (default {DEFAULT_DB})")

    def labels(sp):
        sp.add_argument("--entity", choices=ENTITIES, help="producing entity")
        sp.add_argument("--behaviour", choices=BEHAVIOURS, help="behaviour (GIFCT category)")
        sp.add_argument("--source", help="where the entry comes from")
        sp.add_argument("--note", help="free-text note")

    c = sub.add_parser("create", help="create a bank")
    c.add_argument("name")
    c.add_argument("--kind", required=True, choices=BANK_KINDS)
    c.add_argument("--action", help="violating: review (default) or auto; "
                                    "benign: show (default), review or none")
    c.add_argument("--threshold", type=float, default=None,
                   help="near-duplicate similarity threshold (default 0.4)")
    c.add_argument("--store-text", action="store_true",
                   help="keep entries' texts (default: hashes and signatures only)")
    db(c)
    a = sub.add_parser("add", help="add texts to a bank")
    a.add_argument("name")
    g = a.add_mutually_exclusive_group(required=True)
    g.add_argument("--text", help="one text")
    g.add_argument("--input", help="JSONL, one {'text': ...} per line")
    labels(a)
    db(a)
    m = sub.add_parser("match", help="match texts against every bank")
    m.add_argument("texts", nargs="*")
    m.add_argument("--input", "-i", help="JSONL, CSV, TSV or TXT file")
    m.add_argument("--text-column", default="text")
    m.add_argument("--id-column", default="id")
    db(m)
    i = sub.add_parser("import", help="import entries from a file")
    i.add_argument("name")
    i.add_argument("--input", required=True)
    i.add_argument("--format", choices=FORMATS, default="jsonl")
    labels(i)
    db(i)
    e = sub.add_parser("export", help="export a bank's entries to a file")
    e.add_argument("name")
    e.add_argument("--output", required=True)
    e.add_argument("--format", choices=FORMATS, default="jsonl")
    db(e)
    ls = sub.add_parser("list", help="list banks, or one bank's entries")
    ls.add_argument("name", nargs="?")
    db(ls)
    r = sub.add_parser("remove", help="remove a bank (all its entries) or one entry")
    r.add_argument("name")
    r.add_argument("--entry", type=int, help="remove only this entry id")
    db(r)
    s = sub.add_parser("status", help="quarantine an entry, or re-activate a quarantined one")
    s.add_argument("entry_id", type=int)
    s.add_argument("status", choices=("active", "quarantined"))
    db(s)
    return p


def _run(args) -> int:
    from veguard.banks import interchange
    from veguard.banks.store import DEFAULT_THRESHOLD, BankError, NewEntry

    store = _store(args.db)
    actor = _actor()
    if args.cmd == "create":
        b = store.create_bank(args.name, args.kind, actor, action=args.action,
                              threshold=args.threshold or DEFAULT_THRESHOLD,
                              store_text=args.store_text)
        print(json.dumps({"bank": b.name, "kind": b.kind, "action": b.action,
                          "threshold": b.threshold, "store_text": b.store_text}))
    elif args.cmd in ("add", "import"):
        store.get_bank(args.name)  # fail early on a missing bank, before reading the input
        if args.cmd == "add" and args.text is not None:
            new = [NewEntry.from_text(args.text, **_labels(args))]
        elif args.cmd == "add":
            new = _read_add_input(args.input, _labels(args))
        else:
            new = _read_import(args.input, args.format, _labels(args))
            if args.format == "jsonl":  # flags fill labels the lines leave empty
                for n in new:
                    for k in ("entity", "behaviour", "source", "note"):
                        if getattr(n, k) is None and getattr(args, k):
                            setattr(n, k, getattr(args, k))
        res = store.add_entries(args.name, new, actor, how=args.cmd)
        added = sum(c for _, c in res)
        print(json.dumps({"bank": args.name, "added": added, "duplicates": len(res) - added,
                          "entry_ids": [i for i, _ in res]}))
    elif args.cmd == "match":
        from veguard.banks.matcher import Matcher
        from veguard.scoring import InputError

        if bool(args.texts) == bool(args.input):
            raise InputError("give texts or --input FILE (one of them)")
        rows = _match_rows(args)
        matcher = Matcher.from_store(store)
        for rid, text in rows:
            obj = {"matches": matcher.match(text)}
            print(json.dumps(obj if rid is None else {"id": rid, **obj}, ensure_ascii=False))
    elif args.cmd == "export":
        bank = store.get_bank(args.name)

        def lines():
            for e in store.iter_entries(args.name):
                if args.format == "jsonl":
                    yield json.dumps(interchange.entry_to_dict(e, bank.kind), ensure_ascii=False)
                else:
                    yield from interchange.to_threatexchange(e)

        n = _write_atomic(args.output, lines())
        store.audit(actor, "bank_export", args.name, {"format": args.format, "lines": n})
        print(json.dumps({"bank": args.name, "format": args.format, "lines": n,
                          "output": args.output}))
    elif args.cmd == "list":
        if args.name is None:
            for b, n in store.list_banks():
                print(json.dumps({"bank": b.name, "kind": b.kind, "action": b.action,
                                  "threshold": b.threshold, "store_text": b.store_text,
                                  "entries": n}))
        else:
            for e in store.iter_entries(args.name):
                print(json.dumps({"entry_id": e.id, "sha256": e.sha256, "status": e.status,
                                  "labels": {"entity": e.entity, "behaviour": e.behaviour},
                                  "source": e.source, "passages": len(e.signatures),
                                  "added_by": e.added_by, "added_at": e.added_at}))
    elif args.cmd == "remove":
        if args.entry is not None:
            e = store.get_entry(args.entry)
            if e.bank != args.name:
                raise BankError(f"entry {args.entry} is in bank {e.bank!r}, not {args.name!r}")
            store.remove_entry(args.entry, actor)
            print(json.dumps({"bank": args.name, "removed_entry": args.entry}))
        else:
            n = store.remove_bank(args.name, actor)
            print(json.dumps({"bank": args.name, "removed": True, "entries": n}))
    elif args.cmd == "status":
        store.set_status(args.entry_id, args.status, actor, {"via": "cli"})
        print(json.dumps({"entry_id": args.entry_id, "status": args.status}))
    return 0


def main(argv: list[str] | None = None) -> int:
    from veguard.banks.store import BankError
    from veguard.scoring import InputError

    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (BankError, InputError, OSError) as e:
        print(f"veguard bank {args.cmd}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
