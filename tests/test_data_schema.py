"""Tests for veguard.data.schema: the one row builder, label check and JSONL reader."""

from __future__ import annotations

import pytest

from veguard.data.schema import COLUMNS, ROW_FIELDS, DataError, check_label, make_row, read_jsonl
from veguard.taxonomy import CATEGORIES


def test_make_row_takes_labels_by_keyword_and_defaults_to_unknown():
    row = make_row(7, "t", context="social", source="s", group=3, hate=1, extremism=0)
    assert tuple(row) == ROW_FIELDS and COLUMNS == (*ROW_FIELDS, "split")
    assert row["hate"] == 1 and row["extremism"] == 0 and row["violence"] == -1
    assert row["id"] == "7" and row["group"] == "3"
    with pytest.raises(DataError, match="unknown label"):
        make_row(1, "t", context="social", source="s", group=1, hat=1)
    with pytest.raises(DataError, match=r"here: field 'hate' must be 1, 0 or -1, got 2"):
        make_row(1, "t", context="social", source="s", group=1, where="here", hate=2)


@pytest.mark.parametrize("bad", [True, False, 2, "1", None, 0.5])
def test_check_label_refuses(bad):
    with pytest.raises(DataError, match="'x'"):
        check_label(bad, "f:1", "x")


def test_check_label_accepts_and_narrows():
    assert check_label(1.0, "f", "x") == 1 and check_label(0, "f", "x", allowed=(0, 1)) == 0
    with pytest.raises(DataError, match="must be 0 or 1"):
        check_label(-1, "f", "x", allowed=(0, 1))
    assert set(CATEGORIES) <= set(ROW_FIELDS)


def test_read_jsonl_names_file_and_line(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"a": 1}\n\n["x"]\n', encoding="utf-8")
    it = read_jsonl(f)
    assert next(it) == (1, {"a": 1})
    with pytest.raises(DataError, match=r"d\.jsonl:3: expected a JSON object, got list"):
        next(it)
    f.write_text('{"a": 1}\n{"a"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.jsonl:2: broken JSON"):
        list(read_jsonl(f))
