"""Up-front checks: options that cannot hold for a run, and its memory estimate."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from spikegraph.models import (
    MODELS,
    RunTooLargeError,
    build_model,
    check_model_options,
    check_run_options,
    estimate_memory,
)
from spikegraph.models.checks import MEMORY_LIMIT_ENV, available_memory, check_memory, parse_size

CORA = {"num_nodes": 2708, "num_edges": 10556, "num_features": 1433, "num_classes": 7}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("hidden", [0, -4])
def test_zero_or_negative_width_is_refused(name, hidden):
    """``hidden_channels=0`` trained PyG's GCN and the spiking GCN at chance level."""
    with pytest.raises(ValueError, match=rf"'hidden_channels' must be >= 1, got {hidden}"):
        build_model(name, 8, 3, hidden_channels=hidden)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_non_int_width_and_depth(name):
    with pytest.raises(TypeError, match=r"'hidden_channels' must be an int, got float"):
        build_model(name, 8, 3, hidden_channels=2.5)
    with pytest.raises(ValueError, match=r"'num_layers' must be >= 1, got 0"):
        build_model(name, 8, 3, num_layers=0)
    with pytest.raises(ValueError, match=r"'out_channels' must be >= 1, got 0"):
        build_model(name, 8, 0)


@pytest.mark.parametrize("name", ["gat", "sgat"])
@pytest.mark.parametrize("key", ["heads", "out_heads"])
def test_zero_heads_is_refused(name, key):
    """``heads=0`` divided by zero in PyG's GAT."""
    with pytest.raises(ValueError, match=rf"'{key}' must be >= 1, got 0"):
        build_model(name, 8, 3, **{key: 0})
    with pytest.raises(TypeError, match=rf"'{key}' must be an int, got bool"):
        build_model(name, 8, 3, **{key: True})


def test_heads_must_divide_the_hidden_width():
    with pytest.raises(ValueError, match=r"'hidden_channels'=64 must be divisible by heads=3"):
        check_model_options("gat", {"heads": 3})


@pytest.mark.parametrize("name", ["gat", "sgat"])
def test_the_width_rule_holds_only_where_a_hidden_layer_concatenates(name):
    # The checks follow the models (SpikingGAT and PyG's GAT): averaged heads
    # (concat=False) and a model without a hidden layer take any width.
    for options in (
        {"heads": 3, "concat": False},
        {"heads": 3, "num_layers": 1},
    ):
        check_model_options(name, options)
        build_model(name, 8, 3, **options)
    with pytest.raises(ValueError, match=r"'hidden_channels'=64 must be divisible by heads=3"):
        check_model_options(name, {"heads": 3, "num_layers": 1, "jk": "cat"})


@pytest.mark.parametrize(
    "name, options, msg",
    [
        ("gcn", {"T": 4}, r"\['T'\] only apply to spiking models, not 'gcn'"),
        ("gat", {"tau": 2.0}, r"\['tau'\] only apply to spiking models"),
        ("sgcn", {"heads": 8}, r"\['heads'\] only apply to GAT models, not 'sgcn'"),
        ("gcn", {"dropout": 1.0}, r"'dropout' must be in \[0, 1\), got 1.0"),
        ("sgat", {"attention_dropout": -0.1}, r"'attention_dropout' must be in \[0, 1\)"),
        ("nope", {}, r"Unknown model 'nope'"),
        (
            "sgcn",
            {"sparse_input": True, "encoder": "bernoulli"},
            r"sparse_input=True cannot hold with encoder='bernoulli'",
        ),
    ],
)
def test_options_of_other_models_and_bad_rates(name, options, msg):
    with pytest.raises(ValueError, match=msg):
        check_model_options(name, options)


def test_defaults_pass_and_none_is_ignored():
    for name in MODELS:
        opts = check_model_options(name, {"hidden_channels": None})
        assert opts["hidden_channels"] == MODELS[name][1]["hidden_channels"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_cached_with_a_sampler_is_refused(name):
    """Item: cached=True with a sampler reused the first batch's graph for every batch
    (accuracy 14.4% with ripple; an IndexError with GraphSAGE)."""
    with pytest.raises(ValueError, match=r"cached=True cannot hold with the sampler 'ripple'"):
        check_run_options(name, {"cached": True}, sampler="ripple")
    check_run_options(name, {"cached": True})  # full-batch: fine
    check_run_options(name, {"cached": False}, sampler="ripple")


def test_blocks_mode_needs_a_sampler_and_forward_blocks():
    with pytest.raises(ValueError, match="needs a sampler"):
        check_run_options("sgcn", {}, mode="blocks")
    with pytest.raises(ValueError, match=r"'gat' \(GAT\) does not"):
        check_run_options("gat", {}, sampler="graphsage", mode="blocks")
    check_run_options("sgcn", {}, sampler="graphsage", mode="blocks")
    check_run_options("gcn", {}, sampler="graphsage", mode="blocks")  # PyG's GCN runs blocks
    with pytest.raises(ValueError, match="Unknown mode 'layers'"):
        check_run_options("sgcn", {}, mode="layers")


def test_estimate_grows_with_time_steps_width_and_depth():
    base = estimate_memory("sgcn", {}, **CORA).bytes
    assert estimate_memory("sgcn", {"T": 32}, **CORA).bytes > 1.5 * base  # default T=16
    assert estimate_memory("sgcn", {"hidden_channels": 128}, **CORA).bytes > 1.5 * base
    assert estimate_memory("sgcn", {"num_layers": 3}, **CORA).bytes > 2 * base
    assert estimate_memory("sgcn", {"encoder": "bernoulli"}, **CORA).bytes > 5 * base
    # The run: T=100000 on Cora needs well over 100 GB of spike trains.
    huge = estimate_memory("sgcn", {"T": 100_000}, **CORA)
    assert huge.bytes > 100 * 2**30 and "T=100000" in huge.formula
    # Layer-wise evaluation holds one layer, far less than a full-graph forward.
    lw = estimate_memory("sgcn", {"T": 100_000}, **CORA, layerwise=True).bytes
    assert lw < huge.bytes
    assert estimate_memory("gcn", {}, **CORA).bytes < base


def test_check_memory_refuses_with_the_estimate_and_the_available_memory():
    est = estimate_memory("sgcn", {"T": 100_000}, **CORA)
    with pytest.raises(RunTooLargeError, match=r"at least about \d+\.\d GiB .*T=100000.*8\.0 GiB"):
        check_memory(est, available=8 * 2**30)
    check_memory(estimate_memory("sgcn", {}, **CORA), available=8 * 2**30)


def test_memory_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "2G")
    assert available_memory() == (2 * 2**30, f"{MEMORY_LIMIT_ENV}=2G")
    est = estimate_memory("sgcn", {"T": 4096}, **CORA)
    with pytest.raises(RunTooLargeError, match=rf"{MEMORY_LIMIT_ENV}=2G"):
        check_memory(est)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "off")
    check_memory(est)  # the user turned the check off
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match=rf"{MEMORY_LIMIT_ENV}='lots' is not a size"):
        check_memory(est)


def test_available_memory_reads_the_machine(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    avail, source = available_memory()
    assert avail is None or avail > 0
    assert source


@pytest.mark.parametrize(
    "text, expected",
    [("64G", 64 * 2**30), ("512MiB", 512 * 2**20), ("1.5gb", int(1.5 * 2**30)), ("1000", 1000)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected
    assert parse_size("off") is None


def test_run_options_check_memory_for_the_data(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1G")
    data = Data(x=torch.zeros(2708, 1433), edge_index=torch.zeros(2, 10556, dtype=torch.long))
    check_run_options("sgcn", {}, data=data, num_classes=7)
    with pytest.raises(RunTooLargeError, match=r"1\.0 GiB available"):
        check_run_options("sgcn", {"T": 100_000}, data=data, num_classes=7)


def test_run_node_classification_refuses_before_training(data_root, monkeypatch):
    from spikegraph.experiments import node_classification as experiment

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    build = experiment.build_model

    def no_model_for_the_data(name, in_channels, out_channels, **options):
        # A throwaway 4-feature model may check option names; the run's own may not be built.
        if in_channels != 4:
            raise AssertionError("training started")
        return build(name, in_channels, out_channels, **options)

    monkeypatch.setattr(experiment, "fit", no_training)
    monkeypatch.setattr(experiment, "build_model", no_model_for_the_data)
    run = experiment.run_node_classification
    with pytest.raises(ValueError, match="cached=True cannot hold"):
        run("Cora", "gcn", root=str(data_root), sampler="graphsage",
            model_options={"cached": True})  # fmt: skip
    with pytest.raises(ValueError, match="'hidden_channels' must be >= 1, got 0"):
        run("Cora", "sgcn", root=str(data_root), model_options={"hidden_channels": 0})
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "8G")
    with pytest.raises(RunTooLargeError, match="T=100000"):
        run("Cora", "sgcn", root=str(data_root), model_options={"T": 100_000})


@pytest.mark.parametrize("name", sorted(set(MODELS) - {"gcn", "gat"}))
def test_features_of_another_shape_or_type_are_refused_naming_them(name):
    """A 1-D feature vector failed inside the model with torch's "Dimension out of range"
    (``x.size(-2)``), in ``forward`` and ``forward_blocks`` alike."""
    from spikegraph.samplers import Block

    model = build_model(name, 4, 3, hidden_channels=8)
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    block = Block(edge_index=edge_index, edge_weight=None, size=(3, 3))
    for call in (lambda x: model(x, edge_index), lambda x: model.forward_blocks(x, [block] * 2)):
        with pytest.raises(ValueError, match=r"'x' must be \[N, F\] .* got shape \(3,\)"):
            call(torch.rand(3))
        with pytest.raises(ValueError, match=r"got shape \(2, 2, 3, 4\)"):
            call(torch.rand(2, 2, 3, 4))
        with pytest.raises(TypeError, match=r"'x' must be a torch\.Tensor, got list"):
            call([[0.0] * 4] * 3)
