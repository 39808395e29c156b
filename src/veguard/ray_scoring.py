"""`veguard score --engine ray`: score a backlog of input shards on Ray Data, resumably.

    veguard score --engine ray --input 'posts/*.parquet' --output scores/ [--address HOST:PORT]
                  [--concurrency N] [--num-cpus 1] [--output-format parquet|jsonl]

Data flows one way:

    input shards (a file, a directory or a glob of JSONL/CSV/TSV/TXT/Parquet files)
    -> one read task per shard: `scoring.read_rows`, so the same columns and the same errors
       (file and line) as the local path; blocks of `scoring.CHUNK` rows, then an end marker
       carrying the shard's row count
    -> an actor pool (`map_batches` with `BatchScorer`): each actor loads the model once and
       calls `scoring.score_batch`, the local path's scoring step
    -> this process, which receives the blocks in input order and writes one output shard per
       input shard under a temp name, renames it when the end marker says every row is in, then
       appends a line to `_manifest.jsonl` naming the input shard (its size and mtime) and the
       output file (its size).

Rerun with the same `--output`: shards in the manifest whose input is unchanged and whose
output file is intact are skipped; the rest are scored again under their deterministic output
names, so a killed job neither loses nor duplicates a row. A malformed shard fails the job with
the local path's message before any output of that shard is published; shards published
before it stay, and the rerun after a fix scores only the rest. `_job.json` pins the options
that change results (model, columns, formats): a rerun with others is refused.

What it leaves out: object-store URLs (s3://): input shards and the model directory must be
readable at the same path on every node (a shared file system), and only this process writes
the output directory. Autoscaling and GPUs. The scoring itself (`veguard.scoring`).
"""

from __future__ import annotations

import fcntl
import glob as globlib
import hashlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from veguard import scoring
from veguard.scoring import CHUNK, FORMATS, InputError, detect_format, read_rows, score_batch
from veguard.taxonomy import CATEGORIES

MANIFEST = "_manifest.jsonl"
JOB = "_job.json"
LOCK = "_lock"
OUTPUT_EXT = {"parquet": ".parquet", "jsonl": ".jsonl"}


def result_schema():
    """The Parquet output contract: one row per input row, the local path's fields.

    `id` is the input id as text (a row number or a non-string id is written as its JSON);
    `windows` is null where the text fit one window (the local path omits `extra` then).
    """
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()),
        ("flagged", pa.bool_()),
        ("categories", pa.struct([(c, pa.bool_()) for c in CATEGORIES])),
        ("scores", pa.struct([(c, pa.float64()) for c in CATEGORIES])),
        ("action", pa.string()),
        ("evidence", pa.struct([("start", pa.int64()), ("end", pa.int64()),
                                ("text", pa.string()), ("category", pa.string())])),
        ("windows", pa.int64()),
        ("language", pa.string()),
        ("supported", pa.bool_()),
    ])


# --- input shards and output names ---------------------------------------------------------


def list_shards(spec: str, fmt: str | None, exclude: Path) -> list[tuple[str, str]]:
    """(absolute path, format) of every input shard, sorted; files under `exclude` are skipped.

    A directory is searched recursively for files with a known extension (any file with
    `--format`); names starting with `.` or `_` (`_SUCCESS`, `.crc`) are not shards.
    """
    p = Path(spec)
    if p.is_file():
        paths = [p]
    elif p.is_dir():
        paths = [f for f in p.rglob("*") if f.is_file()
                 and not any(part[:1] in "._" for part in f.relative_to(p).parts)
                 and (fmt or f.suffix.lower() in FORMATS)]
    elif globlib.has_magic(spec):
        paths = [Path(f) for f in globlib.glob(spec, recursive=True) if Path(f).is_file()]
    else:
        raise InputError(f"{spec}: cannot read: not an existing file, directory or glob")
    paths = sorted(f for f in {f.resolve() for f in paths} if not f.is_relative_to(exclude))
    if not paths:
        raise InputError(f"{spec}: no input shards (files ending in {', '.join(FORMATS)})")
    return [(str(f), detect_format(str(f), fmt)) for f in paths]


def output_name(path: str, output_format: str) -> str:
    # Deterministic, so a rerun replaces a shard's output instead of adding a second copy;
    # the hash keeps equal stems from different directories apart.
    digest = hashlib.sha1(path.encode("utf-8")).hexdigest()[:10]
    return f"{Path(path).stem}-{digest}{OUTPUT_EXT[output_format]}"


# --- the output directory: job options, manifest, lock ---------------------------------------


def check_job(out: Path, job: dict) -> None:
    f = out / JOB
    if f.is_file():
        try:
            old = json.loads(f.read_text(encoding="utf-8"))
        except ValueError as e:
            raise InputError(f"{f}: broken JSON: {e}") from e
        diff = [f"{k}={old.get(k)!r} (now {job.get(k)!r})" for k in sorted(set(job) | set(old))
                if old.get(k) != job.get(k)]
        if diff:
            raise InputError(f"{out}: written by an earlier job with {', '.join(diff)}; rerun "
                             "with the same options or use a new --output directory")
        return
    _write_atomic(f, json.dumps(job, indent=2) + "\n")


def read_manifest(out: Path) -> dict[str, dict]:
    """Input path -> its manifest entry.

    A last line cut short by a kill is dropped; an input scored again (it changed) keeps only
    its latest entry. Either way the file is rewritten, so it holds one line per input shard.
    """
    f = out / MANIFEST
    if not f.is_file():
        return {}
    lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
    entries: dict[str, dict] = {}
    for n, line in enumerate(lines, 1):
        try:
            e = json.loads(line)
            if not line.endswith("\n") or not {"input", "output", "rows"} <= set(e):
                raise ValueError("incomplete entry")
        except (ValueError, TypeError) as err:
            if n < len(lines):
                raise InputError(f"{f}: line {n}: broken manifest entry ({err}); "
                                 "use a new --output directory") from err
            break  # the job was killed while appending this line: its shard is simply redone
        entries.pop(e["input"], None)  # re-inserted last: the file keeps publication order
        entries[e["input"]] = e
    if len(entries) != len(lines):
        _write_atomic(f, "".join(json.dumps(e) + "\n" for e in entries.values()))
    return entries


def is_done(entry: dict, path: str, out: Path) -> bool:
    try:
        st, ost = os.stat(path), (out / entry["output"]).stat()
    except OSError:
        return False
    return (entry.get("input_bytes") == st.st_size and entry.get("input_mtime_ns") == st.st_mtime_ns
            and entry.get("output_bytes") == ost.st_size)


def _write_atomic(f: Path, text: str) -> None:
    tmp = f.with_name(f".{f.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, f)


def _lock(out: Path):
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InputError(f"{out}: another job is writing this directory") from None
    return fd  # the lock lives as long as the descriptor (a killed job releases it)


# --- the two Ray stages ----------------------------------------------------------------------


def read_shards(batch, text_column: str, id_column: str) -> Iterator[Any]:
    """Ray read stage: (shard, path, fmt) rows in; blocks of (shard, row, end, id_json, text).

    Data rows have `end` = -1; a final marker row per shard has `end` = its row count. Ids
    travel as JSON text so a mix of row numbers and string ids keeps its types.
    """
    import pyarrow as pa

    for shard, path, fmt in zip(*(batch.column(c).to_pylist() for c in ("shard", "path", "fmt")),
                                strict=True):
        scoring._bad_bytes[0] = 0  # read_rows' count of invalid UTF-8 (a per-process counter)
        n = 0
        for chunk in scoring._batched(read_rows(Path(path), fmt, text_column, id_column), CHUNK):
            yield pa.table({
                "shard": pa.array([shard] * len(chunk), pa.int64()),
                "row": pa.array(range(n, n + len(chunk)), pa.int64()),
                "end": pa.array([-1] * len(chunk), pa.int64()),
                "id_json": [json.dumps(rid, ensure_ascii=False) for rid, _ in chunk],
                "text": pa.array([t for _, t in chunk], pa.large_string()),
            })
            n += len(chunk)
        if scoring._bad_bytes[0]:
            print(f"veguard score: warning: {path}: {scoring._bad_bytes[0]} invalid UTF-8 byte "
                  "sequence(s) replaced with U+FFFD", file=sys.stderr)
        yield pa.table({"shard": pa.array([shard], pa.int64()), "row": pa.array([n], pa.int64()),
                        "end": pa.array([n], pa.int64()), "id_json": pa.array([None], pa.string()),
                        "text": pa.array([None], pa.large_string())})


class BatchScorer:
    """Ray actor: loads the model once, then scores blocks with `scoring.score_batch`."""

    def __init__(self, model: str, batch_size: int, output_format: str, threads: int):
        # Each actor gets its share of the cores, not all of them (Classifier.load reads this).
        os.environ["VEGUARD_THREADS"] = str(threads)
        from veguard.modeling import Classifier

        self.clf = Classifier.load(model)
        self.batch_size = batch_size
        self.output_format = output_format

    def __call__(self, batch):
        end = batch.column("end").to_pylist()
        live = [i for i, e in enumerate(end) if e < 0]
        ids, texts = batch.column("id_json").to_pylist(), batch.column("text").to_pylist()
        scored = score_batch(self.clf, [(json.loads(ids[i]), texts[i]) for i in live],
                             self.batch_size)
        records: list[dict | None] = [None] * len(end)
        for i, rec in zip(live, scored, strict=True):
            records[i] = rec
        return _wire_table(batch.select(["shard", "row", "end"]), records, self.output_format)


def _wire_table(keys, records: list[dict | None], output_format: str):
    """The actor's output: shard, row, end, then the output columns (null on end markers)."""
    import pyarrow as pa

    schema = result_schema()
    cols: dict[str, Any] = {"flagged": [r and r["flagged"] for r in records],
                            "categories": [r and r["categories"] for r in records]}
    if output_format == "jsonl":  # exactly the local path's line
        cols["line"] = [r and json.dumps(r, ensure_ascii=False) for r in records]
        types = {"flagged": pa.bool_(), "categories": schema.field("categories").type,
                 "line": pa.large_string()}
    else:
        cols["id"] = [None if r is None or r["id"] is None else
                      r["id"] if isinstance(r["id"], str) else json.dumps(r["id"]) for r in records]
        cols["windows"] = [None if r is None else r.get("extra", {}).get("windows")
                           for r in records]
        for name in schema.names:  # the rest are the record's own fields, by name
            if name not in cols:
                cols[name] = [None if r is None else r[name] for r in records]
        types = {f.name: f.type for f in schema}
    for name, values in cols.items():
        keys = keys.append_column(name, pa.array(values, types[name]))
    return keys


# --- the driver: one writer per shard, published when its end marker arrives ---------------


class ShardWriter:
    def __init__(self, out: Path, path: str, output_format: str):
        import pyarrow.parquet as pq

        self.out, self.path, self.output_format = out, path, output_format
        self.name = output_name(path, output_format)
        self.tmp = out / f".{self.name}.tmp"
        self.rows = 0
        self.flagged = 0  # rows with `flagged` (the review point of a flagging category)
        self.categories = dict.fromkeys(CATEGORIES, 0)  # rows with each category on
        parquet = output_format == "parquet"
        # Both stay open across blocks; publish() or abort() closes them.
        self._pq = pq.ParquetWriter(self.tmp, result_schema()) if parquet else None
        self._f = None if parquet else open(self.tmp, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, part) -> None:
        """Append data rows of this shard; they must continue exactly where the last ended."""
        import pyarrow.compute as pc

        rows = part.column("row")
        if rows[0].as_py() != self.rows or rows[-1].as_py() != self.rows + len(part) - 1:
            raise RuntimeError(f"{self.path}: rows arrived out of order at row {self.rows}")
        self.flagged += int(pc.sum(part.column("flagged")).as_py() or 0)
        cats = part.column("categories").combine_chunks()
        for c in CATEGORIES:
            self.categories[c] += int(pc.sum(cats.field(c)).as_py() or 0)
        if self._pq:
            self._pq.write_table(part.select(result_schema().names).cast(result_schema()))
        else:
            self._f.write("".join(line + "\n" for line in part.column("line").to_pylist()))
        self.rows += len(part)

    def publish(self, expected: int) -> dict:
        if expected != self.rows:
            raise RuntimeError(f"{self.path}: read {expected} rows but {self.rows} came back")
        self._close()
        os.replace(self.tmp, self.out / self.name)
        st = os.stat(self.path)
        return {"input": self.path, "output": self.name, "rows": self.rows,
                "flagged": self.flagged, "categories": self.categories,
                "input_bytes": st.st_size,
                "input_mtime_ns": st.st_mtime_ns,
                "output_bytes": (self.out / self.name).stat().st_size,
                "published_at": round(time.time(), 3)}

    def abort(self) -> None:
        self._close()
        self.tmp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._pq:
            self._pq.close()
        elif self._f and not self._f.closed:
            self._f.close()


def _runs(block) -> Iterator[tuple[int, Any]]:
    """Split a block into (shard, contiguous slice of that shard's rows)."""
    shards = block.column("shard").to_pylist()
    start = 0
    for i in range(1, len(shards) + 1):
        if i == len(shards) or shards[i] != shards[start]:
            yield shards[start], block.slice(start, i - start)
            start = i


def _cause(e: BaseException) -> str:
    # Ray wraps a worker's exception with its traceback; the reader's message is its first line.
    cause = getattr(e, "cause", None) or e
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


class _QuietInputErrors(logging.Filter):
    """Keeps a bad shard's InputError off the console's Ray logs.

    Ray Data logs a failed read task's traceback twice, the second time as a possible bug in
    Ray; `veguard score` reports the error once, as one line naming the shard and line. Other
    errors keep Ray's logs, and Ray's session log file keeps everything.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = (record.exc_info or sys.exc_info())[1]
        return not isinstance(exc, InputError)


def _console_handlers() -> list[logging.Handler]:
    return [h for name in ("ray", "ray.data") for h in logging.getLogger(name).handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


def _score(pending: list[tuple[str, str]], out: Path, args, model: str, actors: int,
           manifest) -> dict:
    import pyarrow.compute as pc
    import ray

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # a shard's rows reach us in order
    items = [{"shard": i, "path": p, "fmt": f} for i, (p, f) in enumerate(pending)]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    # Reading is light next to the model; num_cpus=0 keeps actors holding every CPU from
    # starving the readers, and the task pool's size bounds how far reading runs ahead.
    ds = ds.map_batches(read_shards, batch_size=1, batch_format="pyarrow", num_cpus=0,
                        fn_kwargs={"text_column": args.text_column, "id_column": args.id_column},
                        compute=ray.data.TaskPoolStrategy(size=min(actors + 1, len(items))))
    ds = ds.map_batches(BatchScorer, batch_size=CHUNK, batch_format="pyarrow",
                        num_cpus=args.num_cpus,
                        compute=ray.data.ActorPoolStrategy(size=actors),
                        fn_constructor_kwargs={"model": model, "batch_size": args.batch_size,
                                               "output_format": args.output_format,
                                               "threads": max(1, int(args.num_cpus))})
    writers: dict[int, ShardWriter] = {}
    published = 0
    quiet = _QuietInputErrors()
    handlers = _console_handlers()
    for h in handlers:
        h.addFilter(quiet)
    totals = {"rows": 0, "flagged": 0, "categories": dict.fromkeys(CATEGORIES, 0)}
    try:
        for block in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            for shard, part in _runs(block):
                w = writers.get(shard)
                if w is None:
                    w = writers[shard] = ShardWriter(out, pending[shard][0], args.output_format)
                ends = part.column("end")
                data = part.filter(pc.less(ends, 0))
                if len(data):
                    w.write(data)
                if len(data) < len(part):
                    entry = w.publish(int(pc.max(ends).as_py()))
                    manifest.write(json.dumps(entry) + "\n")
                    manifest.flush()
                    os.fsync(manifest.fileno())
                    del writers[shard]
                    published += 1
                    _add(totals, entry)
    except InputError as e:
        raise InputError(_cause(e)) from None
    finally:
        for w in writers.values():
            w.abort()
        for h in handlers:
            h.removeFilter(quiet)
    if published != len(pending):
        raise RuntimeError(f"the pipeline ended with {len(pending) - published} shard(s) "
                           "unfinished; nothing was published for them, rerun to score them")
    return totals


def _add(totals: dict, entry: dict) -> None:
    totals["rows"] += entry["rows"]
    totals["flagged"] += entry["flagged"]
    for c in CATEGORIES:
        totals["categories"][c] += entry["categories"][c]


def _check_reachable(address: str) -> None:
    # ray.init retries an unreachable HOST:PORT for minutes; say so in seconds instead.
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and the like: Ray resolves those itself
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as e:
        raise InputError(f"--address {address}: cannot reach a Ray cluster there ({e}); "
                         "start one with `ray start --head`") from None


def _start_ray(address: str | None) -> bool:
    """Connect or start a runtime; True when this call started it (so it shuts it down)."""
    import ray

    if address:
        _check_reachable(address)
    if ray.is_initialized():  # an embedding program (or a test) already holds one
        return False
    if address:
        ray.init(address=address)
    else:
        ray.init(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False)
    return True


def run(args) -> int:
    from veguard import modeldir
    from veguard.thresholds import Thresholds

    t0 = time.perf_counter()
    if args.texts or not args.input or not args.output:
        raise InputError("--engine ray scores files: give --input FILE|DIR|GLOB and --output DIR")
    if args.concurrency is not None and args.concurrency < 1:
        raise InputError(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.num_cpus <= 0:
        raise InputError(f"--num-cpus must be positive, got {args.num_cpus}")
    args.output_format = args.output_format or "parquet"
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: cannot write: exists and is not a directory")
    model = modeldir.resolve(args.model).resolve()
    try:  # fail here, once, rather than in every actor
        meta = modeldir.read(model)
        if (model / modeldir.THRESHOLDS_FILE).is_file():
            Thresholds.load(model / modeldir.THRESHOLDS_FILE)
    except ValueError as e:
        raise InputError(str(e)) from e
    shards = list_shards(args.input, args.format, out.resolve())
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock(out)
    try:
        check_job(out, {"model": str(model), "model_name": meta.name,
                        "text_column": args.text_column, "id_column": args.id_column,
                        "input_format": args.format, "output_format": args.output_format})
        for stale in out.glob(".*.tmp"):  # left by a killed job; we hold the lock
            stale.unlink()
        done_entries = read_manifest(out)
        pending = [(p, f) for p, f in shards
                   if not (p in done_entries and is_done(done_entries[p], p, out))]
        todo = {p for p, _ in pending}
        skipped = [done_entries[p] for p, _ in shards if p not in todo]
        totals = {"rows": 0, "flagged": 0, "categories": dict.fromkeys(CATEGORIES, 0)}
        actors = 0
        if pending:
            import ray

            started = _start_ray(args.address)
            try:
                cpus = float(ray.cluster_resources().get("CPU", 0))
                actors = args.concurrency or max(1, int(cpus // args.num_cpus))
                if actors * args.num_cpus > cpus:  # Ray would wait for them forever
                    raise InputError(f"{actors} actor(s) x --num-cpus {args.num_cpus:g} need "
                                     f"{actors * args.num_cpus:g} CPUs; the cluster has {cpus:g}")
                with open(out / MANIFEST, "a", encoding="utf-8") as manifest:
                    totals = _score(pending, out, args, str(model), actors, manifest)
            finally:
                if started:
                    ray.shutdown()
    finally:
        os.close(lock)
    seconds = time.perf_counter() - t0
    whole = {"rows": totals["rows"], "flagged": totals["flagged"],
             "categories": dict(totals["categories"])}
    for e in skipped:
        _add(whole, e)
    rows = totals["rows"]
    summary = {
        "output": str(out), "shards": len(shards), "shards_scored": len(pending),
        "shards_skipped": len(skipped), "rows": rows, "flagged": totals["flagged"],
        "categories": totals["categories"], "actors": actors, "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds, 1) if rows else 0.0,
        "rows_skipped": sum(e["rows"] for e in skipped), "output_totals": whole,
    }
    print(json.dumps(summary))
    print(f"veguard score: {rows} rows in {len(pending)} shard(s) in {seconds:.1f} s "
          f"({summary['rows_per_s']} rows/s, {actors} actor(s)), {totals['flagged']} flagged ("
          + ", ".join(f"{c} {n}" for c, n in totals["categories"].items())
          + f"); {len(skipped)} shard(s) ({summary['rows_skipped']} rows) already done",
          file=sys.stderr)
    return 0
