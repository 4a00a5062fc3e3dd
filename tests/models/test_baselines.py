"""spikegraph.models.baselines: PyG's GCN and GAT with the papers' input dropout, checked
against PyG's own models (the reference) on the same weights and random draws."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
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
