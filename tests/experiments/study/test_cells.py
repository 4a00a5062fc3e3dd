"""spikegraph.experiments.study.cells: cell files carry their key, are refused when it
differs or they cannot be read, and are locked while one process computes them."""

from __future__ import annotations

import json

import pytest

from spikegraph.experiments.study import Cell, StudyFileError, StudyMismatchError
from spikegraph.experiments.study.cells import (
    CELL_FORMAT,
    cell_lock,
    read_cell,
    source_digest,
    write_cell,
)

KEY = {"dataset": {"name": "Cora", "split": "full"}, "seed": 0, "budget": {"epochs": 5}}


def test_a_cell_file_holds_its_key_and_reads_back(tmp_path):
    cell = Cell("gcn", "graphsage", 0)
    path = cell.path(tmp_path)
    assert path == tmp_path / "cells" / "gcn--graphsage--seed0.json"
    assert read_cell(path, KEY) is None
    write_cell(path, KEY, {"id": cell.id, "metrics": {"test_acc": 0.5}})
    record = read_cell(path, KEY)
    assert record["format"] == CELL_FORMAT and record["key"] == KEY
    assert record["metrics"] == {"test_acc": 0.5} and len(record["key_sha256"]) == 64
    assert not list(path.parent.glob(".*tmp"))  # the temporary file is gone


def test_another_configuration_is_refused_naming_what_differs(tmp_path):
    path = Cell("gcn", "graphsage", 0).path(tmp_path)
    write_cell(path, KEY, {})
    other = {**KEY, "budget": {"epochs": 6}, "seed": 1}
    with pytest.raises(StudyMismatchError) as info:
        read_cell(path, other)
    assert info.value.differences == [("budget.epochs", 5, 6), ("seed", 0, 1)]
    assert "(budget.epochs: file 5, now 6; seed: file 0, now 1)" in str(info.value)
    assert "delete that file" in str(info.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "is not a readable cell file"),
        ('{"format": "something else"}', "is not a cell file of a sampler study"),
        (json.dumps({"format": CELL_FORMAT}), "has no key"),
    ],
)
def test_a_file_that_is_no_cell_is_a_clear_error(tmp_path, text, match):
    path = Cell("gcn", "graphsage", 0).path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(StudyFileError, match=match):
        read_cell(path, KEY)


def test_a_held_lock_is_seen_by_another_holder(tmp_path):
    cell = Cell("gcn", "graphsage", 0)
    with cell_lock(tmp_path, cell, wait=False) as first:
        assert first
        with cell_lock(tmp_path, cell, wait=False) as second:
            assert not second
        with cell_lock(tmp_path, Cell("gcn", "graphsage", 1), wait=False) as other:
            assert other  # one lock per cell
    with cell_lock(tmp_path, cell, wait=False) as again:
        assert again  # released


def test_the_source_digest_is_stable_and_hex():
    digest = source_digest()
    assert digest == source_digest() and len(digest) == 64
    int(digest, 16)
