"""`veguard score`: score texts given on the command line, or a JSONL/CSV/TSV/text/Parquet file.

    veguard score "some text" ["more text" ...]          one JSON object per text
    veguard score --input FILE [--output FILE] [--text-column text] [--id-column id]
                  [--model PATH] [--batch-size N] [--format jsonl|csv|tsv|txt|parquet]
                  [--banks URL]
    veguard score --engine ray --input FILE|DIR|GLOB --output DIR [--address HOST:PORT]
                  [--concurrency N] [--num-cpus N] [--output-format parquet|jsonl]

`--banks URL` matches every text against the banks of known content in that database and adds
a `matches` list to every result (veguard.banks.matcher; a violating match raises `action` to
at least `review`). Without it, results have no `matches` field.

Files are read twice, streaming: a first pass validates every row (so bad input fails before
any output exists, naming the file and line), a second pass scores in chunks and writes JSONL
in input order. Peak memory therefore does not grow with the file. stdin (`-`) is buffered to
a temporary file first. `--output` is written to a temporary file renamed at the end. Both
temporary names carry the process id, so a run killed before it could clean up (kill -9) has
its leftovers removed by the next run (`clean_stale`): only those of processes no longer alive.

`score_batch` is the one scoring step: (id, text) rows in, one output record per row out. The
local path calls it here; `--engine ray` (`veguard.ray_scoring`, imported only then) calls it in
each actor of a Ray Data pool, so both engines write the same records.

What it leaves out: the scoring itself (`veguard.modeling.Classifier`), sharded input and
resumable output (`veguard.ray_scoring`), and JSON arrays.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from veguard.data.schema import DataError, json_object

FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv", ".txt": "txt", ".parquet": "parquet"}
CHUNK = 1024  # texts per Classifier call: bounds memory, keeps batches full


class InputError(ValueError):
    """Bad input: reported as one line on stderr, exit code 2."""


# Invalid UTF-8 is replaced by U+FFFD; this handler also counts how often that happened.
_bad_bytes = [0]


def _count_replace(err: UnicodeDecodeError) -> tuple[str, int]:
    _bad_bytes[0] += 1
    return "\ufffd", err.end


codecs.register_error("veguard-count-replace", _count_replace)


@contextmanager
def _open_text(path: Path, newline: str | None = None) -> Iterator[IO[str]]:
    try:
        f = open(path, encoding="utf-8-sig", errors="veguard-count-replace", newline=newline)  # noqa: SIM115 - closed below
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        yield f
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    finally:
        f.close()


def read_rows(
    path: Path, fmt: str, text_column: str = "text", id_column: str = "id", label: str | None = None
) -> Iterator[tuple[Any, str]]:
    """Yield (id, text) per input row; raise InputError naming the file and line on bad input.

    `id` is the row's `id_column` value when the row has one, else the 1-based row number.
    """
    name = label or str(path)
    if fmt == "txt":
        with _open_text(path, newline=None) as f:
            for n, line in enumerate(f, 1):
                yield n, line.rstrip("\r\n")
    elif fmt == "jsonl":
        with _open_text(path, newline=None) as f:
            for n, line in enumerate(f, 1):
                try:
                    obj = json_object(line, f"{name}: line {n}")
                except DataError as e:
                    raise InputError(str(e)) from None
                if text_column not in obj:
                    raise InputError(f"{name}: line {n}: no {text_column!r} field")
                text = obj[text_column]
                if not isinstance(text, str):
                    raise InputError(
                        f"{name}: line {n}: field {text_column!r} is {type(text).__name__}, "
                        "expected a string"
                    )
                yield obj.get(id_column, n), text
    elif fmt in ("csv", "tsv"):
        with _open_text(path, newline="") as f:
            reader = csv.reader(f, delimiter="," if fmt == "csv" else "\t")
            try:
                header = next(reader, None)
                if header is None:
                    raise InputError(f"{name}: line 1: empty file, expected a header row")
                if text_column not in header:
                    raise InputError(
                        f"{name}: line 1: no {text_column!r} column (columns: {', '.join(header)})"
                    )
                ti = header.index(text_column)
                ii = header.index(id_column) if id_column in header else None
                for n, row in enumerate(reader, 1):
                    if not row:  # csv yields [] for a blank line; it is still a row of input
                        yield n, ""
                        continue
                    if ti >= len(row):
                        raise InputError(
                            f"{name}: line {reader.line_num}: {len(row)} fields, "
                            f"no {text_column!r} value"
                        )
                    rid = row[ii] if ii is not None and ii < len(row) else n
                    yield rid, row[ti]
            except csv.Error as e:
                raise InputError(f"{name}: line {reader.line_num}: {e}") from e
    elif fmt == "parquet":
        yield from _read_parquet(path, name, text_column, id_column)
    else:
        raise InputError(f"{name}: unknown format {fmt!r}")


_JSON_SCALARS = (str, int, float, bool, type(None))


def _read_parquet(path: Path, name: str, text_column: str,
                  id_column: str) -> Iterator[tuple[Any, str]]:
    # Rows are numbered from 1 like lines of the text formats; errors say "row N".
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{name}: not a readable Parquet file: {e}") from e
    schema = pf.schema_arrow
    if text_column not in schema.names:
        raise InputError(f"{name}: no {text_column!r} column (columns: {', '.join(schema.names)})")
    ttype = schema.field(text_column).type
    if not (pa.types.is_string(ttype) or pa.types.is_large_string(ttype)):
        raise InputError(f"{name}: column {text_column!r} is {ttype}, expected a string")
    has_id = id_column in schema.names and id_column != text_column
    n = 0
    try:
        for batch in pf.iter_batches(batch_size=CHUNK, columns=[text_column, id_column] if has_id
                                     else [text_column]):
            texts = batch.column(text_column).to_pylist()
            ids = batch.column(id_column).to_pylist() if has_id else None
            for k, text in enumerate(texts):
                n += 1
                if text is None:
                    raise InputError(f"{name}: row {n}: {text_column!r} is null, expected a string")
                if ids is None:
                    yield n, text
                    continue
                # Timestamps, decimals, bytes: ids must survive JSON output, so they become text.
                rid = ids[k]
                yield (rid if isinstance(rid, _JSON_SCALARS) else str(rid)), text
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{name}: row {n + 1}: cannot read: {e}") from e


def detect_format(path: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    if path == "-":
        return "txt"
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise InputError(
            f"{path}: unknown file extension {ext or '(none)'!r}; expected one of "
            f"{', '.join(FORMATS)} (or pass --format)"
        )
    return FORMATS[ext]


def validate(path: Path, fmt: str, text_column: str, id_column: str, label: str) -> tuple[int, int]:
    """First pass: (row count, invalid UTF-8 sequences). Raises InputError on bad input."""
    _bad_bytes[0] = 0
    rows = sum(1 for _ in read_rows(path, fmt, text_column, id_column, label))
    return rows, _bad_bytes[0]


def _batched(it, n):
    chunk = []
    for x in it:
        chunk.append(x)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def with_matches(res, text: str, matcher) -> dict:
    """The result's JSON object; with `matches` (and the action they imply) given a matcher."""
    if matcher is None:
        return res.to_dict()
    from veguard.banks.matcher import apply

    matches = matcher.match(text)
    return {**apply(res, matches, matcher.bank_map()).to_dict(), "matches": matches}


def score_batch(clf, rows: list[tuple[Any, str]], batch_size: int = 64,
                matcher=None) -> list[dict]:
    """Score (id, text) rows: one output record `{"id", **result}` per row, in order.

    The one scoring step of both engines: `score_file` here, the Ray actors in
    `veguard.ray_scoring`. `result` is `with_matches(ScoreResult, text, matcher)`.
    """
    results = clf.score([t for _, t in rows], batch_size=batch_size)
    return [{"id": rid, **with_matches(res, text, matcher)}
            for (rid, text), res in zip(rows, results, strict=True)]


def score_file(clf, path: Path, fmt: str, out: IO[str], *, text_column: str = "text",
               id_column: str = "id", batch_size: int = 64, total: int | None = None,
               label: str | None = None, matcher=None) -> int:
    """Second pass: score every row and write one JSONL line per row, in input order."""
    from tqdm import tqdm

    written = 0
    bar = tqdm(total=total, unit="text", file=sys.stderr, disable=not sys.stderr.isatty())
    for chunk in _batched(read_rows(path, fmt, text_column, id_column, label), CHUNK):
        for record in score_batch(clf, chunk, batch_size, matcher):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        written += len(chunk)
        bar.update(len(chunk))
    bar.close()
    return written


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="veguard score", description=__doc__.split("\n\n")[0])
    p.add_argument("texts", nargs="*", help="texts to score (one JSON object printed per text)")
    p.add_argument("--input", "-i", help="JSONL, CSV, TSV, text or Parquet file (by extension), "
                   "or - for stdin; with --engine ray also a directory or a glob of them")
    p.add_argument("--output", "-o", help="JSONL output file (default: stdout); with --engine ray "
                   "a directory of output shards (required)")
    p.add_argument("--text-column", default="text", help="column/field holding the text")
    p.add_argument("--id-column", default="id", help="column/field copied to the output `id`")
    p.add_argument("--model", help="model directory (default: $VEGUARD_MODEL or the shipped model)")
    p.add_argument("--batch-size", type=int, default=64, help="texts per model batch")
    p.add_argument("--format", choices=sorted(set(FORMATS.values())),
                   help="input format, overriding the extension (stdin defaults to txt)")
    p.add_argument("--banks", metavar="URL",
                   help="database URL of banks of known content: adds `matches` to each result")
    r = p.add_argument_group("--engine ray (docs/SCALING.md)")
    r.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: an actor pool on Ray Data")
    r.add_argument("--address", help="join this Ray cluster (`ray start --head` prints it; "
                   "default: start a local runtime with the cores this process may use)")
    r.add_argument("--concurrency", type=int, help="actors, each loading the model once "
                   "(default: the cluster's CPUs divided by --num-cpus)")
    r.add_argument("--num-cpus", type=float, default=1.0,
                   help="CPUs per actor, also its torch threads (default 1)")
    r.add_argument("--output-format", choices=("parquet", "jsonl"),
                   help="output shard format (default parquet; --format is the INPUT format)")
    return p


def _matcher(url: str | None):
    if url is None:
        return None
    from veguard.banks.matcher import Matcher
    from veguard.banks.store import BankStore

    if "://" not in url:
        raise InputError(f"--banks: {url!r} is not a SQLAlchemy URL (e.g. sqlite:///veguard.db)")
    try:
        return Matcher.from_store(BankStore(url, create=False))
    except Exception as e:  # noqa: BLE001 - unreachable server, missing tables: one line
        safe = url.split("@")[-1]
        raise InputError(f"--banks {safe}: cannot read banks: {type(e).__name__}") from None


def _load(model: str | None):
    from veguard.modeling import Classifier, ModelNotFoundError

    try:
        return Classifier.load(model)
    except ModelNotFoundError:
        raise
    except ValueError as e:  # a broken veguard.json / thresholds.json: one line, exit 2
        raise InputError(str(e)) from e


TMP_PREFIX = "veguard-score-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # someone else's live process, or we cannot tell
        return True
    return True


def clean_stale(directory: str | Path, prefix: str) -> list[Path]:
    """Remove `<prefix><pid>-*` files and folders in `directory` whose process is dead."""
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    for p in entries:
        if not p.name.startswith(prefix):
            continue
        pid = p.name[len(prefix):].split("-", 1)[0].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
            removed.append(p)
        except OSError:
            pass  # another run cleaned it first, or it is not ours to remove
    return removed


def _run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.engine == "ray":
        if args.banks:  # each actor would need its own matcher and the Parquet schema `matches`
            raise InputError("--banks is not supported with --engine ray yet")
        from veguard.ray_scoring import run

        return run(args)
    if args.address or args.concurrency is not None or args.output_format:
        raise InputError("--address, --concurrency and --output-format need --engine ray")
    if args.texts and args.input:
        raise InputError("give texts or --input, not both")
    if not args.texts and not args.input:
        raise InputError("nothing to score: give texts or --input FILE")
    matcher = _matcher(args.banks)
    if args.texts:
        clf = _load(args.model)
        results = clf.score(list(args.texts), batch_size=args.batch_size)
        for text, res in zip(args.texts, results, strict=True):
            print(json.dumps(with_matches(res, text, matcher), ensure_ascii=False))
        return 0

    fmt = detect_format(args.input, args.format)
    clean_stale(tempfile.gettempdir(), TMP_PREFIX)
    if args.output:
        out = Path(args.output)
        clean_stale(out.parent, f".{out.name}.")
    with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-") as tmp:
        if args.input == "-":
            path, label = Path(tmp) / "stdin", "<stdin>"
            with open(path, "wb") as f:
                shutil.copyfileobj(sys.stdin.buffer, f)
        else:
            path, label = Path(args.input), args.input
            if not path.is_file():
                raise InputError(f"{label}: cannot read: not an existing file")
        if args.output and not Path(args.output).resolve().parent.is_dir():
            raise InputError(f"{args.output}: cannot write: its directory does not exist")
        rows, bad = validate(path, fmt, args.text_column, args.id_column, label)
        if bad:
            print(f"veguard score: warning: {label}: {bad} invalid UTF-8 byte sequence(s) "
                  "replaced with U+FFFD", file=sys.stderr)
        clf = _load(args.model)
        kw = {"text_column": args.text_column, "id_column": args.id_column,
              "batch_size": args.batch_size, "total": rows, "label": label, "matcher": matcher}
        if not args.output:
            score_file(clf, path, fmt, sys.stdout, **kw)
            return 0
        out = Path(args.output)
        fd, tmp_out = tempfile.mkstemp(prefix=f".{out.name}.{os.getpid()}-", suffix=".tmp",
                                       dir=out.parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                score_file(clf, path, fmt, f, **kw)
            os.replace(tmp_out, out)
        except BaseException:
            Path(tmp_out).unlink(missing_ok=True)
            raise
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from veguard.modeling import ModelNotFoundError

    try:
        return _run(args)
    except (InputError, ModelNotFoundError) as e:
        print(f"veguard score: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `veguard score ... | head`
        return 0
