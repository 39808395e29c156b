"""Tests for `veguard score` (veguard.scoring.main): formats, stdin, ids, output, bad input."""

from __future__ import annotations

import io
import json
import os
import sys

import pytest

from veguard.scoring import main
from veguard.taxonomy import CATEGORIES


@pytest.fixture
def run(tiny_model_dir, capsys):
    """Run `veguard score --model tiny ...`; return (rc, stdout lines as JSON or raw, stderr)."""

    def _run(*argv: str):
        rc = main(["--model", str(tiny_model_dir), *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return _run


def _jsonl(s: str) -> list[dict]:
    return [json.loads(line) for line in s.splitlines()]


def _check_result(d: dict):
    assert set(d) >= {"flagged", "categories", "scores", "action", "evidence"}
    assert list(d["scores"]) == list(CATEGORIES)


def test_texts_on_command_line(run):
    rc, out, _ = run("first text", "", "third")
    assert rc == 0
    rows = _jsonl(out)
    assert len(rows) == 3
    for d in rows:
        _check_result(d)
    assert rows[1]["scores"] == {c: 0.0 for c in CATEGORIES} and rows[1]["flagged"] is False


def test_jsonl_with_ids_in_order(run, tmp_path):
    f = tmp_path / "in.jsonl"
    rows = [{"id": "a7", "text": "hello"}, {"text": "no id here"}, {"id": 3, "text": "  "}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    rc, out, err = run("--input", str(f))
    assert rc == 0, err
    got = _jsonl(out)
    assert [d["id"] for d in got] == ["a7", 2, 3]
    for d in got:
        _check_result(d)
    assert got[2]["flagged"] is False and got[2]["scores"]["hate"] == 0.0


def test_csv_custom_columns_and_multiline_field(run, tmp_path):
    f = tmp_path / "in.csv"
    f.write_text('post_id,body,other\np1,"line one\nline two",x\np2,"quoted, with comma",y\n')
    rc, out, err = run("--input", str(f), "--text-column", "body", "--id-column", "post_id")
    assert rc == 0, err
    assert [d["id"] for d in _jsonl(out)] == ["p1", "p2"]


def test_tsv_without_id_column_uses_row_numbers(run, tmp_path):
    f = tmp_path / "in.tsv"
    f.write_text("text\tlang\nfirst\ten\nsecond\ten\nthird\ten\n")
    rc, out, err = run("--input", str(f))
    assert rc == 0, err
    assert [d["id"] for d in _jsonl(out)] == [1, 2, 3]


def test_txt_one_text_per_line_blank_lines_kept(run, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("one\n\nthree\r\nfour")
    rc, out, err = run("--input", str(f))
    assert rc == 0, err
    got = _jsonl(out)
    assert [d["id"] for d in got] == [1, 2, 3, 4]
    assert got[1]["flagged"] is False and got[1]["scores"]["extremism"] == 0.0


def test_stdin_plain_and_with_format(run, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"alpha\nbeta\n")))
    rc, out, err = run("--input", "-")
    assert rc == 0, err
    assert [d["id"] for d in _jsonl(out)] == [1, 2]
    data = b'{"id": "x", "text": "alpha"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    rc, out, err = run("--input", "-", "--format", "jsonl")
    assert rc == 0, err
    assert [d["id"] for d in _jsonl(out)] == ["x"]


def test_output_file_written_and_stdout_empty(run, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("a\nb\nc\n")
    out_path = tmp_path / "out.jsonl"
    rc, out, err = run("--input", str(f), "--output", str(out_path), "--batch-size", "2")
    assert rc == 0, err
    assert out == ""
    assert [d["id"] for d in _jsonl(out_path.read_text())] == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.jsonl"]  # no temp left


def test_matches_classifier_scores(run, tmp_path, tiny_model_dir):
    from veguard.modeling import Classifier

    texts = ["one text", "another, longer text about something else entirely"]
    f = tmp_path / "in.txt"
    f.write_text("\n".join(texts))
    rc, out, _ = run("--input", str(f))
    assert rc == 0
    want = Classifier.load(tiny_model_dir).score(texts)
    for d, r in zip(_jsonl(out), want, strict=True):
        assert d["scores"] == r.to_dict()["scores"]


def test_non_utf8_bytes_replaced_and_counted(run, tmp_path):
    f = tmp_path / "in.txt"
    f.write_bytes(b"good line\nbad \xff\xfe line\nalso \xc3 bad\n")
    rc, out, err = run("--input", str(f))
    assert rc == 0
    assert len(_jsonl(out)) == 3
    assert "3 invalid UTF-8" in err and str(f) in err


BAD_INPUTS = [
    ("in.csv", "id,body\n1,hello\n", [], "line 1", "'text'"),
    ("in.tsv", "", [], "line 1", "header"),
    ("in.jsonl", '{"text": "a"}\n{"text": "b"}\n{"text": "c"\n', [], "line 3", "broken JSON"),
    ("in.jsonl", '{"text": "a"}\n["not", "an object"]\n', [], "line 2", "JSON object"),
    ("in.jsonl", '{"text": "a"}\n{"body": "b"}\n', [], "line 2", "'text'"),
    ("in.jsonl", '{"text": "a"}\n{"text": 5}\n', [], "line 2", "expected a string"),
    ("in.jsonl", '{"text": "a"}\n{"text": null}\n', [], "line 2", "expected a string"),
    ("in.xlsx", "text\nhello\n", [], "in.xlsx", "unknown file extension"),
]


@pytest.mark.parametrize(("name", "content", "extra", "where", "what"), BAD_INPUTS)
def test_bad_input_fails_before_output(run, tmp_path, name, content, extra, where, what):
    f = tmp_path / name
    f.write_text(content)
    out_path = tmp_path / "out.jsonl"
    rc, out, err = run("--input", str(f), "--output", str(out_path), *extra)
    assert rc == 2
    assert out == "" and not out_path.exists()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert name in err and where in err and what in err


def test_bad_input_on_stdout_writes_nothing(run, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text('{"text": "a"}\n' * 5 + "{broken\n")
    rc, out, err = run("--input", str(f))
    assert rc == 2 and out == "" and "line 6" in err


def test_unreadable_file(run, tmp_path):
    rc, out, err = run("--input", str(tmp_path / "missing.txt"))
    assert rc == 2 and out == "" and "missing.txt" in err and "cannot read" in err
    (tmp_path / "adir.txt").mkdir()
    rc, out, err = run("--input", str(tmp_path / "adir.txt"))
    assert rc == 2 and "adir.txt" in err


def test_usage_errors(run, tmp_path):
    assert run()[0] == 2
    assert run("text", "--input", "x.txt")[0] == 2
    rc, _, err = run("--input", str(tmp_path / "x.txt"), "--batch-size", "0")
    assert rc == 2 and "--batch-size" in err


def test_output_directory_must_exist(run, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("a\n")
    rc, _, err = run("--input", str(f), "--output", str(tmp_path / "nope" / "out.jsonl"))
    assert rc == 2 and "nope" in err


def test_missing_model_is_one_line_error(tmp_path, capsys):
    rc = main(["--model", str(tmp_path / "no_model"), "hello"])
    _, err = capsys.readouterr()
    assert rc == 2 and "no_model" in err and "Traceback" not in err


def test_leftovers_of_a_killed_run_are_cleaned_by_the_next(run, tmp_path, monkeypatch):
    import subprocess
    import tempfile

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)  # that process has exited
    stale_dir = tmp / f"veguard-score-{dead_pid}-abc"
    stale_dir.mkdir()
    (stale_dir / "stdin").write_text("a full copy of someone's stdin")
    live_dir = tmp / f"veguard-score-{os.getppid()}-def"  # a live process: left alone
    live_dir.mkdir()
    out = tmp_path / "out.jsonl"
    stale_out = tmp_path / f".out.jsonl.{dead_pid}-xyz.tmp"
    stale_out.write_text("half-written")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"hello\n")))
    rc, _, _ = run("--input", "-", "--output", str(out))
    assert rc == 0 and len(_jsonl(out.read_text())) == 1
    assert not stale_dir.exists() and not stale_out.exists() and live_dir.exists()
    assert [p.name for p in tmp.iterdir()] == [live_dir.name]  # this run left nothing either


def test_parquet_input_ids_and_row_numbers(run, tmp_path):
    import pandas as pd

    f = tmp_path / "in.parquet"
    pd.DataFrame({"id": ["a", None, "c"], "text": ["one", "two", ""]}).to_parquet(f)
    rc, out, err = run("--input", str(f))
    assert rc == 0, err
    assert [d["id"] for d in _jsonl(out)] == ["a", None, "c"]
    g = tmp_path / "ts.parquet"
    pd.DataFrame({"text": ["x", "y"],
                  "id": pd.to_datetime(["2026-01-01", "2026-01-02"])}).to_parquet(g)
    rc, out, err = run("--input", str(g))
    assert rc == 0, err
    assert [d["id"][:10] for d in _jsonl(out)] == ["2026-01-01", "2026-01-02"]  # as text
    h = tmp_path / "noid.parquet"
    pd.DataFrame({"body": ["x", "y"]}).to_parquet(h)
    rc, out, err = run("--input", str(h), "--text-column", "body")
    assert rc == 0, err
    assert [d["id"] for d in _jsonl(out)] == [1, 2]


@pytest.mark.parametrize(("frame", "where", "what"), [
    ({"body": ["a"]}, "in.parquet", "no 'text' column"),
    ({"text": ["a", None, "c"]}, "row 2", "is null"),
    ({"text": [1, 2]}, "in.parquet", "expected a string"),
])
def test_bad_parquet_fails_before_output(run, tmp_path, frame, where, what):
    import pandas as pd

    f = tmp_path / "in.parquet"
    pd.DataFrame(frame).to_parquet(f)
    out_path = tmp_path / "out.jsonl"
    rc, out, err = run("--input", str(f), "--output", str(out_path))
    assert rc == 2 and out == "" and not out_path.exists()
    assert err.count("\n") == 1 and where in err and what in err


def test_not_a_parquet_file(run, tmp_path):
    f = tmp_path / "in.parquet"
    f.write_text("text\nhello\n")
    rc, _, err = run("--input", str(f))
    assert rc == 2 and "in.parquet" in err and "not a readable Parquet file" in err
