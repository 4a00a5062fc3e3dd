"""PyG parity of the spiking models: trains of any length, ``BasicGNN.forward``'s arguments,
``act`` / ``norm`` / ``jk``."""

from __future__ import annotations

import inspect

import pytest
import torch

from spikegraph.models import SpikingGAT, SpikingGCN

MODELS = {
    "gcn": lambda T, **kw: SpikingGCN(8, 16, 2, 3, T=T, **kw),
    "gat": lambda T, **kw: SpikingGAT(8, 16, 2, 3, heads=2, T=T, **kw),
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("readout", ["membrane", "rate"])
def test_spike_train_of_any_length_runs_over_its_own_steps(node_data, name, readout):
    torch.manual_seed(0)
    model = MODELS[name](8, readout=readout, v_threshold=0.5).eval()
    short = MODELS[name](3, readout=readout, v_threshold=0.5).eval()
    short.load_state_dict(model.state_dict())
    x = node_data.x.expand(3, *node_data.x.shape)
    out = model(x, node_data.edge_index)
    assert out.shape == (40, 3)
    assert torch.equal(out, short(x, node_data.edge_index))
    # A constant train of any length equals the static input over that many steps.
    torch.testing.assert_close(out, short(node_data.x, node_data.edge_index))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_short_train_in_training_mode_equals_eval_mode(node_data, name):
    # Training takes the exact rate shortcut (GCN) on the short train's own steps (without
    # dropout, which the class defaults have, training and evaluation compute the same).
    torch.manual_seed(0)
    model = MODELS[name](8, v_threshold=0.5, dropout=0.0, input_dropout=0.0).double()
    x = node_data.x.double().expand(3, *node_data.x.shape)
    out = model.train()(x, node_data.edge_index)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    torch.testing.assert_close(out, model.eval()(x, node_data.edge_index))


def test_forward_takes_the_arguments_of_pyg_basic_gnn():
    from torch_geometric.nn.models.basic_gnn import BasicGNN

    pyg = list(inspect.signature(BasicGNN.forward).parameters)[:7]
    for cls in (SpikingGCN, SpikingGAT):
        assert list(inspect.signature(cls.forward).parameters) == pyg


def edge_features(num_edges, d=3, seed=1):
    return torch.randn(num_edges, d, generator=torch.Generator().manual_seed(seed))


def test_gat_model_passes_edge_features_to_every_layer(node_data):
    torch.manual_seed(0)
    model = SpikingGAT(8, 16, 2, 3, heads=2, T=4, edge_dim=3, v_threshold=0.5).eval()
    x, ei = node_data.x, node_data.edge_index
    e = edge_features(ei.size(1))
    out = model(x, ei, edge_attr=e)
    h = model.convs[0](x, ei, e)
    expected = model.convs[1](h, ei, e).mean(0)
    assert torch.equal(out, expected)
    assert not torch.allclose(out, model(x, ei, edge_attr=edge_features(ei.size(1), seed=2)))
    assert all(conv.edge_dim == 3 for conv in model.convs)


def test_edge_features_refused_where_the_layers_cannot_use_them(node_data):
    x, ei = node_data.x, node_data.edge_index
    e = edge_features(ei.size(1))
    with pytest.raises(ValueError, match=r"SpikingGCN got 'edge_attr' .* take no edge features"):
        SpikingGCN(8, 16, 2, 3, T=4)(x, ei, edge_attr=e)
    with pytest.raises(ValueError, match=r"built without edge features: pass edge_dim"):
        SpikingGAT(8, 16, 2, 3, T=4)(x, ei, edge_attr=e)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_batch_and_batch_size_are_checked_and_do_not_change_the_output(node_data, name):
    torch.manual_seed(0)
    model = MODELS[name](4).eval()
    x, ei = node_data.x, node_data.edge_index
    batch = (torch.arange(40) >= 25).long()
    out = model(x, ei, batch=batch, batch_size=2)
    assert out.shape == (40, 3)  # as in PyG, batch_size counts graphs; it does not slice
    assert torch.equal(out, model(x, ei))
    assert torch.equal(out, model(x, ei, None, None, batch))
    with pytest.raises(ValueError, match=r"'batch' must be a 1-D torch.long tensor .* \(40\)"):
        model(x, ei, batch=batch[:30])
    with pytest.raises(ValueError, match=r"'batch' holds graph id 1, but batch_size=1"):
        model(x, ei, batch=batch, batch_size=1)
    with pytest.raises(ValueError, match=r"'batch_size' must be a positive int"):
        model(x, ei, batch_size=0)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"act": "relu"}, r"act='relu': the activation of a spiking model is its LIF neuron"),
        ({"act_kwargs": {"inplace": True}}, r"set the neuron's options by name"),
        ({"act_first": True}, r"act_first=True: the normalisation \('norm'\) acts on"),
        ({"norm_kwargs": {"eps": 1}}, r"norm_kwargs=\{'eps': 1\}"),
        ({"norm": "batch_norm"}, r"Unknown norm 'batch_norm'.*'tdbn' is the spiking counterpart"),
        ({"jk": "lstm"}, r"does not support jk='lstm'"),
        ({"jk": "sum"}, r"Unknown jk 'sum'; expected one of \['last', 'cat', 'max'\]"),
        ({"jk": "cat", "readout": "rate"}, r"jk='cat' with readout='rate'"),
    ],
)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_pyg_options_that_do_not_fit_a_spiking_model_are_refused(name, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        MODELS[name](4, **kwargs)


@pytest.mark.parametrize("jk", ["last", "cat", "max"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_jumping_knowledge_over_the_layers_spike_trains(node_data, name, jk):
    torch.manual_seed(0)
    ctor = SpikingGCN if name == "gcn" else SpikingGAT
    extra = {} if name == "gcn" else {"heads": 2}
    model = ctor(8, 16, 3, 3, T=4, jk=jk, v_threshold=0.5, **extra).eval()
    assert all(c.neuron is not None for c in model.convs)  # every layer spikes
    assert model.lin.in_channels == (48 if jk == "cat" else 16)
    x, ei = node_data.x, node_data.edge_index
    out = model(x, ei)
    assert out.shape == (40, 3)
    xs, h = [], x
    for conv in model.convs:
        h = conv(h, ei)
        xs.append(h)
    combined = {
        "last": xs[-1],
        "cat": torch.cat(xs, dim=-1),
        "max": torch.stack(xs).amax(dim=0),
    }[jk]
    assert set(combined.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(out, model.lin(combined).mean(0))
    assert repr(model).endswith(f"jk={jk!r})")
    model.train()
    model(x, ei).sum().backward()
    assert model.lin.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


def test_jumping_knowledge_with_blocks_equals_full_graph(edge_index):
    from types import SimpleNamespace

    torch.manual_seed(0)
    model = SpikingGCN(5, 8, 2, 3, T=4, jk="cat", v_threshold=0.5).double().eval()
    x = torch.randn(6, 5, dtype=torch.float64)
    block = SimpleNamespace(edge_index=edge_index, edge_weight=None, size=(6, 6))
    assert torch.equal(model.forward_blocks(x, [block, block]), model(x, edge_index))
