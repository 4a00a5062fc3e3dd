"""``run_node_classification``: option names, devices and Ctrl-C between and within seeds."""

from __future__ import annotations

import inspect

import pytest

import spikegraph.experiments.node_classification as experiment
import spikegraph.train.device as device_module
from spikegraph.experiments import RunInterrupted, run_node_classification
from spikegraph.models import MODELS, check_model_option_names, model_option_names
from spikegraph.train import DeviceError, TrainingInterrupted


@pytest.fixture
def no_data(monkeypatch):
    """These refusals come before any data is loaded."""

    def refuse(*args, **kwargs):
        raise AssertionError("data loaded")

    monkeypatch.setattr(experiment, "load_dataset", refuse)


@pytest.mark.parametrize("name", list(MODELS))
def test_option_names_come_from_the_signatures(name):
    cls = MODELS[name][0]
    names = model_option_names(name)
    own = [
        p.name
        for p in inspect.signature(cls).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in ("in_channels", "out_channels")
    ]
    assert set(own) <= set(names)
    # Options the model passes on to its layer class are there too.
    layer = "tau" if name.startswith("s") else "bias"
    assert layer in names and "in_channels" not in names


def test_unknown_option_lists_the_valid_ones_with_a_hint():
    with pytest.raises(ValueError) as info:
        check_model_option_names("sgcn", {"tua": 2, "hidden_channels": 8})
    msg = str(info.value)
    assert msg.startswith("Unknown option 'tua' for model 'sgcn' (SpikingGCN)")
    assert "did you mean 'tau'?" in msg
    assert "valid options: " in msg and ", tau," in msg and "MessagePassing" not in msg


def test_an_option_the_model_reads_from_kwargs_passes():
    check_model_option_names("gat", {"v2": True, "heads": 2})  # PyG's GAT pops v2


def test_unknown_option_fails_before_the_data(no_data):
    with pytest.raises(ValueError, match="Unknown option 'foo' for model 'gcn'"):
        run_node_classification("Cora", "gcn", model_options={"foo": 1})


def test_cuda_without_cuda_fails_before_the_data(no_data, monkeypatch):
    monkeypatch.setattr(device_module, "cuda_available", lambda: False)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        run_node_classification("Cora", "gcn", device="cuda")
    with pytest.raises(DeviceError, match="meta"):
        run_node_classification("Cora", "gcn", train_options={"device": "meta"})


def test_device_is_recorded(data_root):
    summary = run_node_classification(
        "Cora",
        "gcn",
        root=data_root,
        model_options={"hidden_channels": 8},
        train_options={"epochs": 1, "progress": False},
    )
    run = summary.to_dict()["runs"][0]
    assert run["result"]["device"] == "cpu" and run["result"]["config"]["device"] == "cpu"
    assert "interrupted" not in summary.to_dict()


def test_ctrl_c_in_the_second_seed_keeps_the_first(data_root, monkeypatch):
    real = experiment.fit
    calls = []

    def fit(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise TrainingInterrupted("Training interrupted in epoch 1: ...", 0, None)
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "fit", fit)
    with pytest.raises(RunInterrupted) as info:
        run_node_classification(
            "Cora",
            "gcn",
            seeds=[0, 1, 2],
            root=data_root,
            model_options={"hidden_channels": 8},
            train_options={"epochs": 1, "progress": False},
        )
    err = info.value
    assert isinstance(err, KeyboardInterrupt) and err.seed == 1
    assert isinstance(err.training, TrainingInterrupted)
    assert [r.seed for r in err.summary.runs] == [0]
    record = err.summary.to_dict()
    assert record["interrupted"] == {"seeds": [0, 1, 2], "finished": [0], "interrupted_seed": 1}
    assert str(err).startswith("Interrupted during seed 1: 1 of 3 seed(s) finished; Training")


def test_ctrl_c_before_any_seed_finished(data_root, monkeypatch):
    def fit(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "fit", fit)
    with pytest.raises(RunInterrupted) as info:
        run_node_classification("Cora", "gcn", root=data_root, train_options={"epochs": 1})
    assert info.value.summary is None and info.value.training is None
