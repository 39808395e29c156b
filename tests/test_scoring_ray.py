"""Tests for `veguard score --engine ray` (veguard.ray_scoring) on a local Ray runtime.

One runtime per module (2 CPUs, a small object store, no dashboard) keeps Ray's start-up cost
to once; each test runs the real pipeline (read tasks, an actor pool of the tiny random model,
the driver's writer). The kill test runs a second driver process against the same runtime and
SIGKILLs it once a shard is published.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")

from veguard import ray_scoring
from veguard.scoring import InputError, main


@pytest.fixture(scope="module")
def ray_runtime():
    ray.init(num_cpus=2, object_store_memory=96 * 1024 * 1024, include_dashboard=False,
             log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def score(tiny_model_dir, capsys):
    """Run `veguard score --model tiny ...`; return (rc, stdout, stderr)."""

    def _run(*argv: str):
        rc = main(["--model", str(tiny_model_dir), *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return _run


def _ray(score, inp, out, *extra, actors: int = 2):
    rc, stdout, err = score("--engine", "ray", "--input", str(inp), "--output", str(out),
                            "--concurrency", str(actors), *extra)
    summary = json.loads(stdout.splitlines()[-1]) if rc == 0 else None
    return rc, summary, err


def _write_jsonl(path: Path, prefix: str, n: int) -> list[str]:
    ids = [f"{prefix}-{k}" for k in range(n)]
    path.write_text("".join(json.dumps({"id": i, "text": f"post {i} about the weather"}) + "\n"
                            for i in ids), encoding="utf-8")
    return ids


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "_manifest.jsonl").read_text().splitlines()]


def _local_lines(score, path: Path, *extra) -> list[str]:
    rc, out, err = score("--input", str(path), *extra)
    assert rc == 0, err
    return out.splitlines()


def test_directory_of_mixed_shards_matches_the_local_path(ray_runtime, score, tmp_path):
    import pandas as pd

    inp = tmp_path / "in"
    (inp / "sub").mkdir(parents=True)
    _write_jsonl(inp / "a.jsonl", "a", 1100)  # more than one CHUNK: several blocks per shard
    (inp / "sub" / "b.csv").write_text('id,text\np1,"two\nlines"\np2,plain\n', encoding="utf-8")
    pd.DataFrame({"text": ["kill them", "hello", "x " * 3000]}).to_parquet(inp / "c.parquet")
    (inp / "d.txt").write_text("", encoding="utf-8")  # an empty shard still gets its output
    (inp / "_SUCCESS").write_text("", encoding="utf-8")  # not a shard
    out = tmp_path / "out"

    rc, summary, err = _ray(score, inp, out)
    assert rc == 0, err
    assert summary["shards_scored"] == 4 and summary["rows"] == 1100 + 2 + 3 + 0
    assert summary["actors"] == 2
    entries = {Path(e["input"]).name: e for e in _manifest(out)}
    assert set(entries) == {"a.jsonl", "b.csv", "c.parquet", "d.txt"}
    every = [r for e in entries.values() for r in pq.read_table(out / e["output"]).to_pylist()]
    assert summary["flagged"] == sum(r["flagged"] for r in every)
    assert summary["categories"] == {c: sum(r["categories"][c] for r in every)
                                     for c in summary["categories"]}
    for name, e in entries.items():
        table = pq.read_table(out / e["output"])
        assert table.schema == ray_scoring.result_schema()
        assert table.num_rows == e["rows"]
        local = [json.loads(line) for line in _local_lines(score, inp / ("sub/" if name == "b.csv"
                                                                         else "") / name)]
        got = table.to_pylist()
        assert len(got) == len(local)
        for want in local:  # every field of the local record has its column, and no more
            assert set(table.column_names) == set(want) - {"extra"} | {"windows"}
        for g, want in zip(got, local, strict=True):
            wid = want["id"]
            assert g["id"] == (wid if isinstance(wid, str) else json.dumps(wid))
            assert g["scores"] == want["scores"] and g["action"] == want["action"]
            assert g["categories"] == want["categories"] and g["evidence"] == want["evidence"]
            assert g["windows"] == want.get("extra", {}).get("windows")
            assert g["language"] == want["language"] and g["supported"] == want["supported"]
    assert pq.read_table(out / entries["c.parquet"]["output"]).column("windows")[2].as_py() > 1
    assert not list(out.glob(".*"))  # no temp files left

    # A rerun skips everything without starting a pipeline; a changed shard is redone alone.
    first = summary
    rc, summary, err = _ray(score, inp, out)
    assert rc == 0 and summary["shards_scored"] == 0 and summary["rows_skipped"] == 1105
    assert summary["output_totals"] == {k: first[k] for k in ("rows", "flagged", "categories")}
    _write_jsonl(inp / "a.jsonl", "a", 7)
    rc, summary, err = _ray(score, inp, out)
    assert rc == 0 and summary["shards_scored"] == 1 and summary["rows"] == 7
    rc, summary, err = _ray(score, inp, out, actors=1)  # compacts the manifest, scores nothing
    assert rc == 0 and summary["shards_scored"] == 0
    entries = {Path(e["input"]).name: e for e in _manifest(out)}
    assert len(entries) == len(_manifest(out)) == 4  # one line per input shard
    assert pq.read_table(out / entries["a.jsonl"]["output"]).num_rows == 7
    assert len(list(out.glob("*.parquet"))) == 4


def test_jsonl_output_is_the_local_paths_lines(ray_runtime, score, tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "x.jsonl").write_text('{"id": 7, "text": "a"}\n{"text": "no id"}\n'
                                 '{"id": "é", "text": "  "}\n', encoding="utf-8")
    _write_jsonl(inp / "y.jsonl", "y", 30)
    out = tmp_path / "out"
    rc, _, err = _ray(score, str(inp / "*.jsonl"), out, "--output-format", "jsonl", actors=1)
    assert rc == 0, err
    for e in _manifest(out):
        got = (out / e["output"]).read_text(encoding="utf-8").splitlines()
        assert got == _local_lines(score, Path(e["input"]))
    assert [json.loads(line)["id"] for line in (out / ray_scoring.output_name(
        str((inp / "x.jsonl").resolve()), "jsonl")).read_text().splitlines()] == [7, 2, "é"]


def test_bad_shard_fails_naming_it_and_publishes_nothing_of_it(ray_runtime, score, tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    ids = {f"s{i}": _write_jsonl(inp / f"s{i}.jsonl", f"s{i}", 300) for i in range(4)}
    bad = inp / "s2.jsonl"
    good_text = bad.read_text(encoding="utf-8")
    lines = good_text.splitlines(keepends=True)
    bad.write_text("".join(lines[:2]) + '{"id": "s2-2", "text": \n' + "".join(lines[3:]))
    out = tmp_path / "out"

    rc, _, err = _ray(score, inp, out)
    assert rc == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("veguard score: error: ") and str(bad) in last and "line 3" in last
    # Ray's own tracebacks of it stay in its session log. (Not `"Traceback" not in err`: under
    # pytest, Ray's log threads can print "Logging error" tracebacks for an earlier test's
    # closed capture stream.)
    assert "RayTaskError" not in err and "open an issue" not in err
    published = {Path(e["input"]).name for e in _manifest(out)}
    assert "s2.jsonl" not in published
    assert not (out / ray_scoring.output_name(str(bad.resolve()), "parquet")).exists()
    assert not list(out.glob(".*.tmp"))

    bad.write_text(good_text, encoding="utf-8")  # fixed: the rerun scores only what is missing
    rc, summary, err = _ray(score, inp, out)
    assert rc == 0, err
    assert summary["shards_skipped"] == len(published) and summary["shards_scored"] == 4 - len(
        published)
    entries = {Path(e["input"]).stem: e for e in _manifest(out)}
    for s, want in ids.items():
        assert pq.read_table(out / entries[s]["output"]).column("id").to_pylist() == want


def test_resume_after_kill_neither_loses_nor_duplicates(ray_runtime, score, tmp_path,
                                                       tiny_model_dir):
    # Enough work that the kill lands mid-way on a fast host too: with 8 shards of 400 rows,
    # one CI run saw the driver publish all 8 before the kill arrived.
    shards, rows = 12, 800
    inp = tmp_path / "in"
    inp.mkdir()
    ids = {f"s{i}": _write_jsonl(inp / f"s{i}.jsonl", f"s{i}", rows) for i in range(shards)}
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(ray_scoring.__file__).parents[1])}
    # One actor, small model batches: slow enough that the job is mid-way when it is killed.
    cmd = [sys.executable, "-m", "veguard.cli", "score", "--engine", "ray", "--address",
           ray_runtime, "--model", str(tiny_model_dir), "--input", str(inp), "--output", str(out),
           "--concurrency", "1", "--batch-size", "4"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    manifest = out / "_manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.is_file() and manifest.read_text().count("\n") >= 1:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    done_before = len(_manifest(out))
    assert 1 <= done_before < shards
    # A kill can also land while a manifest line is half-written: simulate that too.
    with open(manifest, "a", encoding="utf-8") as f:
        f.write('{"input": "' + str((inp / f"s{shards - 1}.jsonl").resolve()))

    rc, summary, err = _ray(score, inp, out)
    assert rc == 0, err
    assert summary["shards_skipped"] == done_before
    assert summary["rows"] + summary["rows_skipped"] == shards * rows
    entries = _manifest(out)
    assert sorted(Path(e["input"]).stem for e in entries) == sorted(ids)  # each shard once
    for e in entries:
        got = pq.read_table(out / e["output"]).column("id").to_pylist()
        assert got == ids[Path(e["input"]).stem]  # every row, once, in order
    assert len(list(out.glob("*.parquet"))) == shards and not list(out.glob(".*.tmp"))


# --- no Ray runtime needed: option checks and the output directory's bookkeeping -----------


def test_refuses_other_options_on_the_same_output(score, tmp_path):
    f = tmp_path / "a.jsonl"
    _write_jsonl(f, "a", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "_job.json").write_text(json.dumps({"text_column": "body"}))
    rc, _, err = _ray(score, f, out)
    assert rc == 2 and "text_column" in err and "new --output" in err


def test_a_second_job_on_the_same_output_is_refused(score, tmp_path):
    f = tmp_path / "a.jsonl"
    _write_jsonl(f, "a", 1)
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out / "_lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        rc, _, err = _ray(score, f, out)
    finally:
        os.close(fd)
    assert rc == 2 and "another job" in err


def test_usage_errors(score, tmp_path):
    f = tmp_path / "a.jsonl"
    _write_jsonl(f, "a", 1)
    assert "--output DIR" in score("--engine", "ray", "--input", str(f))[2]
    assert score("--engine", "ray", "--input", str(f), "--output", str(f))[0] == 2  # a file
    rc, _, err = score("--input", str(f), "--concurrency", "2")
    assert rc == 2 and "--engine ray" in err
    rc, _, err = _ray(score, f, tmp_path / "out", "--banks", "sqlite:///banks.db")
    assert rc == 2 and "--banks is not supported with --engine ray" in err
    rc, _, err = _ray(score, tmp_path / "nothing-*.jsonl", tmp_path / "out")
    assert rc == 2 and "no input shards" in err
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, _, err = _ray(score, f, tmp_path / "out", "--address", f"127.0.0.1:{port}")
    assert rc == 2 and "cannot reach a Ray cluster" in err  # in seconds, not Ray's minutes


def test_list_shards_glob_hidden_and_output_inside_input(tmp_path):
    (tmp_path / "a.jsonl").write_text("")
    (tmp_path / ".hidden.jsonl").write_text("")
    (tmp_path / "notes.md").write_text("")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x-1.jsonl").write_text("")  # an earlier job's output: not input
    got = ray_scoring.list_shards(str(tmp_path), None, (tmp_path / "out").resolve())
    assert got == [(str((tmp_path / "a.jsonl").resolve()), "jsonl")]
    got = ray_scoring.list_shards(str(tmp_path / "*.md"), "txt", tmp_path / "elsewhere")
    assert [Path(p).name for p, _ in got] == ["notes.md"]
    with pytest.raises(InputError, match="unknown file extension"):
        ray_scoring.list_shards(str(tmp_path / "*.md"), None, tmp_path / "elsewhere")


def test_manifest_cut_short_is_repaired_but_a_broken_middle_is_an_error(tmp_path):
    good = json.dumps({"input": "/a", "output": "a.parquet", "rows": 1})
    (tmp_path / "_manifest.jsonl").write_text(good + "\n" + '{"input": "/b", "out')
    assert list(ray_scoring.read_manifest(tmp_path)) == ["/a"]
    assert (tmp_path / "_manifest.jsonl").read_text() == good + "\n"
    newer = json.dumps({"input": "/a", "output": "a.parquet", "rows": 2})
    (tmp_path / "_manifest.jsonl").write_text(good + "\n" + newer + "\n")
    assert ray_scoring.read_manifest(tmp_path)["/a"]["rows"] == 2
    assert (tmp_path / "_manifest.jsonl").read_text() == newer + "\n"
    (tmp_path / "_manifest.jsonl").write_text("{broken\n" + good + "\n")
    with pytest.raises(InputError, match="line 1"):
        ray_scoring.read_manifest(tmp_path)


def test_more_actors_than_cpus_is_an_error_not_a_hang(ray_runtime, score, tmp_path):
    f = tmp_path / "a.jsonl"
    _write_jsonl(f, "a", 1)
    rc, _, err = score("--engine", "ray", "--input", str(f), "--output", str(tmp_path / "o"),
                       "--concurrency", "3")
    assert rc == 2 and "need 3 CPUs; the cluster has 2" in err
