"""spikegraph.models.baselines: PyG's GCN and GAT with the papers' input dropout, checked
against PyG's own models (the reference) on the same weights and random draws."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GATConv
from torch_geometric.nn import models as pyg_models
from torch_geometric.utils import to_undirected

from spikegraph.models import GAT, GCN, build_model, check_model_options
from spikegraph.samplers import Block
from spikegraph.train.blocks import pyg_forward_blocks

CASES = [(GCN, pyg_models.GCN, {}), (GAT, pyg_models.GAT, {"heads": 2})]
IDS = ["gcn", "gat"]


def _graph(n: int = 20, f: int = 6):
    gen = torch.Generator().manual_seed(0)
    edge_index = to_undirected(torch.randint(0, n, (2, 60), generator=gen), num_nodes=n)
    return torch.rand(n, f, generator=gen) + 0.1, edge_index


def _pair(ours, theirs, opts, **extra):
    """Our model and PyG's, with the same weights."""
    model = ours(6, 8, num_layers=2, out_channels=3, dropout=0.5, **opts, **extra)
    reference = theirs(6, 8, num_layers=2, out_channels=3, dropout=0.5, **opts)
    reference.load_state_dict(model.state_dict())
    return model, reference


def _run(model, *args, seed=0):
    torch.manual_seed(seed)
    out = model(*args)
    return out, torch.rand(3)  # the draw after: equal when the two drew equally


@pytest.mark.parametrize("ours, theirs, opts", CASES, ids=IDS)
def test_without_input_dropout_the_model_is_pygs(ours, theirs, opts):
    x, ei = _graph()
    model, reference = _pair(ours, theirs, opts)
    assert isinstance(model, theirs) and model.input_dropout == 0.0
    for mode in (True, False):  # training (PyG's dropout between layers) and evaluation
        model.train(mode), reference.train(mode)
        got, after = _run(model, x, ei)
        want, after_ref = _run(reference, x, ei)
        assert torch.equal(got, want) and torch.equal(after, after_ref), mode
    assert repr(model) == repr(reference)


@pytest.mark.parametrize("ours, theirs, opts", CASES, ids=IDS)
def test_input_dropout_drops_the_features_before_the_first_layer(ours, theirs, opts):
    x, ei = _graph()
    model, reference = _pair(ours, theirs, opts, input_dropout=0.4)
    assert "input_dropout=0.4" in repr(model)
    got, _ = _run(model, x, ei, seed=3)
    torch.manual_seed(3)
    want = reference(F.dropout(x, 0.4, training=True), ei)
    assert torch.equal(got, want)
    assert not torch.allclose(got, _run(reference, x, ei, seed=3)[0])  # it does drop
    model.eval(), reference.eval()
    assert torch.equal(model(x, ei), reference(x, ei))  # evaluation: no dropout


def test_the_blocks_path_applies_the_input_dropout_as_forward_does():
    """Mini-batch training on blocks bypasses forward: it must drop the input too, with the
    same draws, or a sampler run would silently train without the input dropout."""
    x, ei = _graph()
    x = x.double()
    model = GCN(6, 8, num_layers=2, out_channels=3, dropout=0.0, input_dropout=0.5).double()
    blocks = [Block(ei, None, (20, 20))] * 2
    got, _ = _run(lambda: pyg_forward_blocks(model, x, blocks), seed=1)
    want, _ = _run(model, x, ei, seed=1)
    assert torch.allclose(got, want)
    model.input_dropout = 0.0
    assert not torch.allclose(got, _run(model, x, ei, seed=1)[0])


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5])
def test_an_impossible_input_dropout_is_refused_naming_it(value):
    with pytest.raises(ValueError, match=rf"'input_dropout' must be in \[0, 1\), got {value}"):
        GCN(6, 8, num_layers=2, input_dropout=value)
    with pytest.raises(ValueError, match=rf"'input_dropout' must be in \[0, 1\), got {value}"):
        build_model("gat", 6, 3, input_dropout=value)


@pytest.mark.parametrize("value", ["0.5", True, None])
def test_an_input_dropout_of_another_type_is_refused_naming_it(value):
    with pytest.raises(TypeError, match=r"'input_dropout' must be a number, got"):
        GAT(6, 8, num_layers=2, input_dropout=value)


def test_the_registry_builds_the_baselines_with_input_dropout():
    assert check_model_options("gcn", {"input_dropout": 0.5})["input_dropout"] == 0.5
    model = build_model("gat", 6, 3, input_dropout=0.6, heads=2, hidden_channels=8)
    assert isinstance(model, pyg_models.GAT) and model.input_dropout == 0.6
    with pytest.raises(ValueError, match=r"\['T'\] only apply to spiking models, not 'gcn'"):
        build_model("gcn", 6, 3, T=4)


class _ExampleGAT(torch.nn.Module):
    """The model of PyG's ``examples/gat.py`` written out from ``GATConv`` (``heads``
    concatenated heads in the hidden layer, ``out_heads`` averaged in the output layer: one
    in the example and the GAT paper's Cora model), with ``BasicGNN``'s ReLU and dropout
    between the layers."""

    def __init__(self, heads: int, out_heads: int):
        super().__init__()
        self.conv1 = GATConv(6, 4, heads=heads, dropout=0.5)
        self.conv2 = GATConv(4 * heads, 3, heads=out_heads, concat=False, dropout=0.5)

    def forward(self, x, edge_index):
        hidden = F.dropout(F.relu(self.conv1(x, edge_index)), 0.5, training=self.training)
        return self.conv2(hidden, edge_index)


@pytest.mark.parametrize("out_heads", [1, 3])
def test_out_heads_builds_the_examples_output_layer(out_heads):
    x, ei = _graph()
    model = GAT(6, 8, num_layers=2, out_channels=3, heads=2, dropout=0.5, out_heads=out_heads)
    assert [conv.heads for conv in model.convs] == [2, out_heads]
    assert f"out_heads={out_heads}" in repr(model)
    reference = _ExampleGAT(2, out_heads)
    names = {"convs.0": "conv1", "convs.1": "conv2"}
    reference.load_state_dict(
        {names[k[:7]] + k[7:]: v for k, v in model.state_dict().items()}, strict=True
    )
    for mode in (True, False):  # attention dropout in training; none in evaluation
        model.train(mode), reference.train(mode)
        got, after = _run(model, x, ei)
        want, after_ref = _run(reference, x, ei)
        assert torch.equal(got, want) and torch.equal(after, after_ref), mode


def test_out_heads_unset_keeps_pygs_model_and_records():
    model = build_model("gat", 6, 3, heads=2, hidden_channels=8)
    assert model.out_heads is None and [c.heads for c in model.convs] == [2, 2]
    assert GAT.recorded_when_set["out_heads"] is None  # records made before it stay as they are
    assert check_model_options("gat", {"out_heads": 1})["out_heads"] == 1


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"out_heads": 0}, ValueError, r"'out_heads' must be >= 1, got 0"),
        ({"out_heads": 1.5}, TypeError, r"'out_heads' must be an int, got float \(1.5\)"),
        ({"out_heads": 1, "out_channels": None}, ValueError, r"'out_heads'=1 sets the heads"),
        ({"out_heads": 1, "jk": "cat"}, ValueError, r"'out_heads'=1 sets the heads"),
    ],
)
def test_an_impossible_out_heads_is_refused_naming_it(kwargs, error, match):
    with pytest.raises(error, match=match):
        GAT(6, 8, num_layers=2, **{"out_channels": 3, **kwargs})
