"""``spikegraph study samplers``: a study from the command line, resumed, and every bad
value refused in one ``spikegraph: error:`` line with exit code 2 before anything runs."""

from __future__ import annotations

import json
import sys

import pytest

import spikegraph.experiments.study.runner as runner
from spikegraph.cli import main
from tests.test_cli_errors import one_error_line

STUDY = ["study", "samplers", "--dataset", "ogbn-arxiv", "--epochs", "1", "--seeds", "0"]


def test_a_study_runs_prints_its_rows_and_resumes(tiny_arxiv_root, tmp_path, capsys):
    out = tmp_path / "study"
    argv = [*STUDY, "--root", str(tiny_arxiv_root), "--models", "gcn", "--samplers"]
    argv += ["graphsage", "--batch-size", "64", "--gradient-batches", "2"]
    argv += ["--budget-multiples", "1", "--model-option", "gcn:hidden_channels=8"]
    argv += ["--sampler-option", "graphsage:num_neighbors=[3, 3]", "--no-plots", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "gcn    full-batch" in printed and "gcn    graphsage" in printed
    assert "seeds [0] (test accuracy: mean +- population std over the 1 seed):" in printed
    assert "2 cell(s) computed, 0 reused" in printed
    summary = json.loads((out / "study.json").read_text())
    assert summary["provenance"]["command"] == ["spikegraph", *argv]
    assert summary["study"]["model_options"]["gcn"]["hidden_channels"] == 8
    assert summary["study"]["sampler_options"]["gcn"]["graphsage"]["options"] == {
        "num_neighbors": [3, 3]
    }
    assert not list(out.glob("plots/*"))
    assert main(argv) == 0
    assert "0 cell(s) computed, 2 reused" in capsys.readouterr().out
    # the same folder with another budget: refused, naming the difference
    assert main([*argv, "--measure-batches", "3"]) == 2
    line = one_error_line(capsys)
    assert "was made with another configuration (budget.measure_batches: file 8, now 3" in line


@pytest.fixture
def nothing_runs(monkeypatch):
    """The refusals below come before any data is loaded or cell computed."""

    def refuse(*args, **kwargs):
        raise AssertionError("the study started")

    monkeypatch.setattr(runner, "load_dataset", refuse)
    monkeypatch.setattr(runner, "compute_cell", refuse)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--models", "gcn,nope"], "Unknown model 'nope'; expected one of ['sgcn', "),
        (["--samplers", "graphsage", "nope"], "Unknown sampler 'nope'; expected one of ["),
        (["--samplers", "nope"], "'ladies', 'vrgcn', 'asgcn', 'all']"),
        (["--models", ""], "'models' is empty: give at least one of ["),
        (["--samplers", ","], "'samplers' is empty"),
        (["--seeds", "0", "-2"], "'seeds' must hold ints >= 0, got -2"),
        (["--seeds", "1", "1"], "'seeds' holds 1 more than once"),
        (["--seeds", "x"], "argument --seeds: invalid int value: 'x'"),
        (["--dataset", "Nope"], "Unknown dataset 'Nope'; expected one of ['Cora'"),
        (["--jobs", "0"], "'jobs' must be an int >= 1, got 0"),
        (["--epochs", "0"], "'epochs' must be >= 1, got 0"),
        (["--gradient-batches", "1"], "'gradient_batches' must be >= 2, got 1"),
        (["--budget-multiples", "0.5", "2"], "must hold 1.0 (the training budget)"),
        (["--gradient-weights", "final"], "argument --gradient-weights: invalid choice"),
        (["--sampler-option", "num_parts=3"], "--sampler-option expects NAME:KEY=VALUE"),
        (["--sampler-option", "graphsage:x=[1,"], "'[1,' is not a list such as [10, 5]"),
        (["--model-option", "gat:heads=2"], "for 'gat', which the study does not run"),
        (
            ["--sampler-option", "graphsage:num_neighbors=5"],
            "'num_neighbors' of 'graphsage' must be a list of one entry per layer",
        ),
    ],
)
def test_bad_values_are_one_error_line(argv, expected, tmp_path, capsys, nothing_runs):
    out = tmp_path / "out"
    code = main([*STUDY, "--models", "gcn", "--samplers", "graphsage", *argv, "--out", str(out)])
    assert code == 2
    assert expected in one_error_line(capsys)
    assert not out.exists() or not (out / "cells").exists()


def test_an_unwritable_folder_is_refused(tmp_path, capsys, nothing_runs):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main([*STUDY, "--out", str(blocker / "study")]) == 2
    line = one_error_line(capsys)
    assert f"Study folder {blocker / 'study' / 'study.json'} cannot be written" in line


def test_without_matplotlib_the_study_asks_for_it_or_no_plots(
    tmp_path, capsys, monkeypatch, nothing_runs
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main([*STUDY, "--out", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys)
    assert "the study's plots need matplotlib" in line and "--no-plots" in line


def test_study_needs_a_kind_and_an_out(capsys):
    assert main(["study"]) == 2
    assert "the following arguments are required: study" in one_error_line(capsys)
    assert main(["study", "samplers"]) == 2
    assert "the following arguments are required: --out" in one_error_line(capsys)


def test_failed_cells_exit_1_in_one_line(tiny_arxiv_root, tmp_path, capsys, monkeypatch):
    def fails(job):
        raise ValueError(f"no room for {job.cell.id}")

    monkeypatch.setattr(runner, "compute_cell", fails)
    argv = [*STUDY, "--root", str(tiny_arxiv_root), "--models", "gcn", "--samplers", "graphsage"]
    assert main([*argv, "--no-plots", "--out", str(tmp_path / "out")]) == 1
    line = one_error_line(capsys)
    assert "2 of 2 cells failed (gcn--full-batch--seed0: ValueError: no room for" in line
