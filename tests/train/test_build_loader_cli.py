"""``spikegraph train --sampler ...`` with the sampler defaults on the bundled datasets, and a
sampler flag the sampler does not take as one ``spikegraph: error:`` line (exit 2)."""

from __future__ import annotations

import json

import pytest

import spikegraph.experiments.node_classification as experiment
from spikegraph.cli import main
from tests.test_cli_errors import one_error_line

TRAIN = ["train", "--model", "gcn", "--hidden", "8", "--epochs", "1", "--no-progress"]


@pytest.fixture
def no_fit(monkeypatch):
    """The refusals come from building the sampler, before any training."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(experiment, "fit", refuse)


@pytest.mark.parametrize(
    "flags, expected",
    [
        (
            ["--sampler", "fastgcn", "--num-neighbors", "5", "5"],
            "sampler 'fastgcn' takes no option 'num_neighbors'; its options: [",
        ),
        (
            ["--sampler", "graphsaint-node", "--walk-length", "3"],
            "sampler 'graphsaint-node' takes no option 'walk_length'; its options: [",
        ),
        (
            ["--sampler", "ripple", "--sampler-option", "budget=7"],
            "sampler 'ripple' takes no option 'budget'; its options: [",
        ),
    ],
)
def test_a_flag_the_sampler_does_not_take_is_one_line_exit_2(
    capsys, data_root, no_fit, flags, expected
):
    assert main([*TRAIN, "--root", str(data_root), *flags]) == 2
    line = one_error_line(capsys)
    assert expected in line and "__init__" not in line


@pytest.mark.parametrize("dataset, nodes", [("Cora", 2708), ("CiteSeer", 3327)])
def test_ripple_defaults_train_on_the_small_datasets(data_root, tmp_path, dataset, nodes):
    out = tmp_path / "r.json"
    argv = [*TRAIN, "--root", str(data_root), "--dataset", dataset, "--sampler", "ripple"]
    assert main([*argv, "--json", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert run["sampler_options"]["subgraph_size"] == nodes  # the whole graph, recorded


def test_shadow_depth_alone_trains(data_root, tmp_path):
    out = tmp_path / "r.json"
    argv = [*TRAIN, "--root", str(data_root), "--sampler", "shadow", "--depth", "3"]
    assert main([*argv, "--batch-size", "256", "--json", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert run["sampler_options"]["depth"] == 3
    assert run["sampler_options"]["num_neighbors"] == [10, 5, 5]
