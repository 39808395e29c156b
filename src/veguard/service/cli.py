"""`veguard serve` and `veguard queue`: start the service, and the queue's admin tasks.

    veguard serve [--host 127.0.0.1] [--port 8000] [--db URL] [--model PATH] [--init]
                  [--<setting> VALUE ...]      every Settings field; also VEGUARD_<SETTING>
    veguard queue export --output decisions.jsonl [--statements sor.jsonl] [--db URL]
    veguard queue keys create --role reviewer --name alice [--expires-days 90] [--db URL]
    veguard queue keys list [--all] [--db URL]
    veguard queue keys revoke --name alice [--db URL]

The database defaults to `sqlite:///veguard.db` in the working directory; `--db` takes any
SQLAlchemy URL (`postgresql+psycopg://user:pass@host/db` for production). Local CLI access to
the database is treated as admin, and audited as `cli:<user>`.

What it leaves out: daemonising and TLS (run under a supervisor, behind a proxy).
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_DB = "sqlite:///veguard.db"


def _db_url(value: str) -> str:
    if "://" not in value:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a SQLAlchemy URL (e.g. sqlite:///veguard.db, "
            "postgresql+psycopg://user:pass@host/db)")
    return value


def _store(url: str):
    from veguard.service.sqlstore import SQLStore

    try:
        return SQLStore(url)
    except Exception as e:  # noqa: BLE001 - a bad URL or unreachable server: say which
        safe = url.split("@")[-1] if "@" in url else url  # no password in the message
        print(f"veguard: cannot open database {safe}: {type(e).__name__}: {e}".replace(url, safe),
              file=sys.stderr)
        raise SystemExit(2) from None


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt", ".joblib", ".pkl", ".npz")


def weights_hash(model_dir: str | Path) -> str:
    """`sha256:<16 hex>` over the model directory's weight files (names and bytes), so the
    statement of reasons names the exact weights that scored an item."""
    root = Path(model_dir)
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    for p in files:
        h.update(str(p.relative_to(root)).encode("utf-8") + b"\0")
        with p.open("rb") as f:
            for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                h.update(chunk)
    return "sha256:" + h.hexdigest()[:16] if files else ""


def _when(ts: float | None) -> str:
    return "never" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def serve_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="veguard serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--db", type=_db_url, default=DEFAULT_DB, help=f"SQLAlchemy URL (default {DEFAULT_DB})"
    )
    p.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    p.add_argument("--init", action="store_true",
                   help="create the tables and the first admin key, print the key once, exit")
    from veguard.service.settings import Settings

    Settings.add_arguments(p)
    args = p.parse_args(argv)
    try:
        settings = Settings.from_args(args)
    except ValueError as e:
        p.error(str(e))
    store = _store(args.db)
    if args.init:
        from veguard.service.auth import create_key

        if any(k.role == "admin" for k in store.list_keys()):
            print("veguard serve --init: an admin key already exists; create more with "
                  "`veguard queue keys create --role admin --name NAME`", file=sys.stderr)
            return 1
        token = create_key(store, "admin", "admin", _actor())
        print("Created the first admin key (name 'admin'). It is shown only now; store it safely:")
        print(token)
        return 0

    import uvicorn

    from veguard.service.app import create_app

    def load():
        from veguard import modeldir
        from veguard.modeling import Classifier  # heavy (torch): only when really serving

        clf = Classifier.load(args.model)
        try:
            clf.model_version = weights_hash(modeldir.resolve(args.model))
        except OSError:  # unreadable weights: the statement of reasons says '' (unknown)
            clf.model_version = ""
        return clf

    banks = None
    if settings.banks:  # the banks of known content live in the same database
        from veguard.banks.matcher import Guard, Matcher
        from veguard.banks.store import BankStore

        guard = Guard(settings.quarantine_window, settings.quarantine_share)
        banks = Matcher.from_store(BankStore(args.db), guard)
    try:
        app = create_app(None, store, settings, loader=load, banks=banks)
    except ValueError as e:  # e.g. a bad unsupported_lexicon file: it names file and line
        p.error(str(e))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def queue_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="veguard queue", description="review-queue admin tasks")
    sub = p.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="write decided items as training-corpus JSONL")
    ex.add_argument("--output", required=True, help="JSONL file to write")
    ex.add_argument("--statements", default=None,
                    help="also write the statement of reasons of each decision to this JSONL file")
    ex.add_argument("--db", type=_db_url, default=DEFAULT_DB)
    keys = sub.add_parser("keys", help="create, list or revoke API keys")
    ksub = keys.add_subparsers(dest="keys_cmd", required=True)
    kc = ksub.add_parser("create", help="create a key and print it once")
    kc.add_argument("--role", required=True, choices=["client", "reviewer", "senior", "admin"])
    kc.add_argument("--name", default=None, help="unique name (default: <role>-<n>)")
    kc.add_argument("--expires-days", type=float, default=None,
                    help="days until the key stops working (default: never)")
    kc.add_argument("--db", type=_db_url, default=DEFAULT_DB)
    kl = ksub.add_parser("list", help="list key names, roles and expiry (never the keys)")
    kl.add_argument("--all", action="store_true", help="include revoked and expired keys")
    kl.add_argument("--db", type=_db_url, default=DEFAULT_DB)
    kr = ksub.add_parser("revoke", help="revoke a key now (its reviewer sessions end too)")
    kr.add_argument("--name", required=True)
    kr.add_argument("--db", type=_db_url, default=DEFAULT_DB)
    args = p.parse_args(argv)
    if getattr(args, "expires_days", None) is not None and args.expires_days <= 0:
        p.error("--expires-days must be > 0")
    store = _store(args.db)
    if args.cmd == "export":
        from veguard.service.export import write_decisions

        try:
            n = write_decisions(store, args.output, _actor(), args.statements)
        except OSError as e:
            print(f"veguard queue export: cannot write {e.filename or args.output}: {e}",
                  file=sys.stderr)
            return 1
        print(f"wrote {n} decisions to {args.output}")
        return 0
    if args.keys_cmd == "list":
        for k in store.list_keys(include_inactive=args.all):
            state = "revoked" if k.revoked else (
                "expired" if k.expires_at is not None and k.expires_at <= time.time() else "active")
            print(f"{k.name}\t{k.role}\t{state}\texpires {_when(k.expires_at)}")
        return 0
    if args.keys_cmd == "revoke":
        if not store.revoke_key(args.name):
            print(f"veguard queue keys revoke: no active key named {args.name!r}", file=sys.stderr)
            return 1
        store.audit(_actor(), "key_revoke", None, {"name": args.name})
        print(f"revoked key {args.name!r}")
        return 0
    from veguard.service.auth import create_key

    name = args.name or f"{args.role}-{sum(k.role == args.role for k in store.list_keys()) + 1}"
    expires = time.time() + args.expires_days * 86400 if args.expires_days else None
    try:
        token = create_key(store, args.role, name, _actor(), expires)
    except ValueError as e:
        print(f"veguard queue keys create: {e}", file=sys.stderr)
        return 1
    print(f"Created {args.role} key {name!r}. It is shown only now; store it safely:")
    print(token)
    return 0
