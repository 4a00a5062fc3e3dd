from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from spikegraph.models import SpikingGCN
from spikegraph.nn import LIF, STFN, BernoulliEncoder, SpikingGCNConv, TemporalBatchNorm


def test_constructor_has_the_shape_of_pyg_gcn(node_data):
    model = SpikingGCN(8, 16, 2, 3, 0.5, T=4)
    assert (model.in_channels, model.hidden_channels, model.num_layers) == (8, 16, 2)
    assert model.out_channels == 3 and model.dropout == 0.5
    assert all(isinstance(c, SpikingGCNConv) for c in model.convs)
    assert [c.T for c in model.convs] == [4, 4]
    assert model(node_data.x, node_data.edge_index).shape == (40, 3)
    assert SpikingGCN(8, 16, 2).out_channels == 16


def test_spike_train_input_is_used_as_is(node_data):
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, 2, 3, T=4).eval()
    x = node_data.x
    train = x.expand(4, *x.shape)
    assert torch.equal(model(train, node_data.edge_index), model(x, node_data.edge_index))
    # A train of another length runs over its own steps (T is for static inputs).
    assert model(torch.zeros(5, *x.shape), node_data.edge_index).shape == (40, 3)


def test_membrane_readout_is_the_mean_current_of_a_non_spiking_output_layer(node_data):
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, 2, 3, T=4, readout="membrane", norm="stfn").eval()
    last = model.convs[-1]
    assert last.neuron is None and last.norm is None
    assert isinstance(model.convs[0].neuron, LIF) and isinstance(model.convs[0].norm, STFN)
    assert model.spiking_layers() == ["convs.0"]
    x, ei = node_data.x, node_data.edge_index
    with torch.no_grad():
        expected = last(model.convs[0](x, ei), ei).mean(0)
    torch.testing.assert_close(model(x, ei), expected)


def test_rate_readout_gives_firing_rates(node_data):
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, 2, 3, T=4, readout="rate").eval()
    assert model.spiking_layers() == ["convs.0", "convs.1"]
    out = model(node_data.x, node_data.edge_index)
    counts = out * 4
    assert torch.equal(counts, counts.round())
    assert out.min() >= 0 and out.max() <= 1 and 0 < out.mean() < 1


@pytest.mark.parametrize("readout", ["membrane", "rate"])
@pytest.mark.parametrize("norm", ["stfn", "tdbn"])
def test_gradients_reach_every_parameter(node_data, readout, norm):
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, 3, 2, dropout=0.2, T=4, readout=readout, norm=norm)
    norm_cls = STFN if norm == "stfn" else TemporalBatchNorm
    assert isinstance(model.convs[0].norm, norm_cls)
    out = model(node_data.x, node_data.edge_index)
    F.cross_entropy(out[node_data.train_mask], node_data.y[node_data.train_mask]).backward()
    params = dict(model.named_parameters())
    expected_norms = 3 if readout == "rate" else 2
    assert sum(name.endswith("norm.weight") for name in params) == expected_norms
    # tdBN subtracts each channel's mean over nodes and steps, so the bias of a conv whose
    # current it normalises has an analytically zero gradient: only rounding is left, which
    # is exactly 0 on some CPUs and not on others. Every other parameter learns.
    normed = range(3) if readout == "rate" else range(2)  # the membrane read-out has none
    absorbed = {f"convs.{i}.bias" for i in normed} if norm == "tdbn" else set()
    for name, p in params.items():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if name in absorbed:
            assert p.grad.abs().max() <= 1e-6, name
        else:
            assert p.grad.abs().sum() > 1e-4, name


def test_edge_weight_is_used(node_data):
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, 2, 2, T=4).eval()
    ei = node_data.edge_index
    w = torch.rand(ei.size(1)) + 0.1
    assert not torch.allclose(model(node_data.x, ei, w), model(node_data.x, ei))
    torch.testing.assert_close(
        model(node_data.x, ei, torch.ones(ei.size(1))), model(node_data.x, ei)
    )


def test_dropout_only_in_training(node_data):
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, 2, 2, dropout=0.5, input_dropout=0.3, T=4)
    x, ei = node_data.x, node_data.edge_index
    assert not torch.equal(model(x, ei), model(x, ei))
    model.eval()
    assert torch.equal(model(x, ei), model(x, ei))


@pytest.mark.parametrize("readout", ["membrane", "rate"])
def test_forward_blocks_on_full_graph_blocks_equals_forward(edge_index, readout):
    torch.manual_seed(0)
    model = SpikingGCN(5, 8, 2, 3, T=4, readout=readout, v_threshold=0.5).double().eval()
    x = torch.randn(6, 5, dtype=torch.float64)
    block = SimpleNamespace(edge_index=edge_index, edge_weight=None, size=(6, 6))
    out = model.forward_blocks(x, [block, block])
    assert torch.equal(out, model(x, edge_index))
    one_short = r"Got 1 blocks for a model with num_layers=2: .* build it for 2 \(num_neighbors"
    with pytest.raises(ValueError, match=one_short):
        model.forward_blocks(x, [block])
    small = SimpleNamespace(edge_index=edge_index[:, :2], edge_weight=None, size=(4, 3))
    with pytest.raises(ValueError, match=r"Block 0 expects 4 source nodes, got 6"):
        model.forward_blocks(x, [small, block])


def test_forward_blocks_on_a_real_block_chain():
    # Layer 0: 5 sources -> 3 targets; layer 1: 3 sources -> 2 targets.
    torch.manual_seed(0)
    model = SpikingGCN(4, 8, 2, 3, T=4).eval()
    b0 = SimpleNamespace(
        edge_index=torch.tensor([[3, 4, 0, 2, 1], [0, 0, 1, 1, 2]]), edge_weight=None, size=(5, 3)
    )
    b1 = SimpleNamespace(
        edge_index=torch.tensor([[1, 2, 0], [0, 0, 1]]), edge_weight=None, size=(3, 2)
    )
    x = torch.rand(5, 4)
    out = model.forward_blocks(x, [b0, b1])
    assert out.shape == (2, 3)
    with torch.no_grad():
        x = model.encoder(x)  # the default encoder scales each row to a largest value of 1
        h = model.convs[0]((x, x[:3]), b0.edge_index, size=b0.size)
        expected = model.convs[1]((h, h[:, :2]), b1.edge_index, size=b1.size).mean(0)
    torch.testing.assert_close(out, expected)


def test_encoders(node_data):
    x, ei = node_data.x, node_data.edge_index
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, 2, 2, T=4, encoder="bernoulli", encoder_seed=3).eval()
    assert isinstance(model.encoder, BernoulliEncoder) and model.encoder.seed == 3
    assert model(x * 0.5, ei).shape == (40, 2)
    direct = SpikingGCN(8, 16, 2, 2, T=4, encoder="direct")
    assert direct(x, ei).shape == (40, 2)
    with pytest.raises(ValueError, match=r"DirectEncoder needs binary \(0/1\) features"):
        direct(x * 0.5, ei)


def test_nan_features_rejected(node_data):
    x = node_data.x.clone()
    x[3, 1] = float("nan")
    with pytest.raises(ValueError, match=r"'x' contains NaN or infinite values"):
        SpikingGCN(8, 16, 2, 2, T=4)(x, node_data.edge_index)


def test_reset_parameters():
    torch.manual_seed(0)
    model = SpikingGCN.with_paper_neuron(8, 16, 2, 2, T=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.reset_parameters()
    w = model.convs[0].lin.weight
    assert not torch.equal(w, before["convs.0.lin.weight"] + 1)
    assert torch.equal(model.convs[0].norm.weight, torch.ones(16))


def test_repr():
    assert repr(SpikingGCN(8, 16, 2, 3, T=4)) == (
        "SpikingGCN(8, 3, num_layers=2, T=4, readout='membrane')"
    )
    assert repr(SpikingGCN(5, 7, 3, readout="rate")) == (
        "SpikingGCN(5, 7, num_layers=3, T=16, readout='rate')"
    )


@pytest.mark.parametrize(
    "kwargs, err, msg",
    [
        ({"num_layers": 0}, ValueError, r"'num_layers' must be a positive int, got 0"),
        ({"num_layers": 2.0}, ValueError, r"'num_layers' must be a positive int, got 2.0"),
        ({"dropout": 1.0}, ValueError, r"'dropout' must be in \[0, 1\), got 1.0"),
        ({"input_dropout": -0.1}, ValueError, r"'input_dropout' must be in \[0, 1\), got -0.1"),
        ({"readout": "max"}, ValueError, r"Unknown readout 'max'; expected one of"),
        ({"encoder": "poisson"}, ValueError, r"Unknown encoder 'poisson'; expected one of"),
        ({"norm": "layer"}, ValueError, r"Unknown norm 'layer'"),
        ({"reset": "zero"}, ValueError, r"Unknown reset 'zero'"),
        ({"surrogate": "erf"}, ValueError, r"Unknown surrogate 'erf'"),
        ({"T": 0}, ValueError, r"'T' must be >= 1, got 0"),
        ({"T": "8"}, TypeError, r"'T' must be an int, got str"),
    ],
)
def test_bad_options(kwargs, err, msg):
    args = {"num_layers": 2, **kwargs}
    with pytest.raises(err, match=msg):
        SpikingGCN(8, 16, out_channels=2, **args)


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_training_rate_shortcut_is_exact(node_data, dropout):
    # Training feeds the output layer the last hidden layer's firing rates; computing every
    # time step instead must give the same logits and gradients (same dropout draws).
    torch.manual_seed(0)
    model = SpikingGCN(
        node_data.num_features, 16, num_layers=3, out_channels=3, T=5, dropout=dropout
    )
    model.train()
    assert model._rate_shortcut()
    results = []
    for shortcut in (True, False):
        model._rate_shortcut = (lambda: True) if shortcut else (lambda: False)
        torch.manual_seed(1)
        out = model(node_data.x, node_data.edge_index)
        grads = torch.autograd.grad(out.pow(2).sum(), list(model.parameters()))
        results.append((out, grads))
    (o1, g1), (o2, g2) = results
    torch.testing.assert_close(o1, o2, rtol=1e-5, atol=1e-6)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert any(g.abs().sum() > 0 for g in g1)


def test_rate_shortcut_only_in_training_with_a_linear_read_out(node_data):
    model = SpikingGCN(node_data.num_features, 16, num_layers=2, out_channels=3, T=4)
    assert model._rate_shortcut()
    model.eval()
    assert not model._rate_shortcut()
    rate = SpikingGCN(node_data.num_features, 16, num_layers=2, out_channels=3, readout="rate")
    assert not rate._rate_shortcut()


def test_class_defaults_are_the_validated_settings_and_the_registrys():
    """One place: the registry's spiking GCN is the class with its defaults, wider."""
    from spikegraph.models import MODELS, PAPER_NEURON, build_model

    model = SpikingGCN(8, 16, 2, 3)
    # class_defaults_tuned.md (validation only): the Cora sgcn sweep's selected trial
    assert (model.T, model.dropout, model.input_dropout) == (16, 0.6, 0.8)
    assert model.encoder_name == "max-scaled"  # class_defaults_encoding.md
    for conv in model.convs[:-1]:
        assert conv.norm is None and conv.neuron.tau == 4.0
        assert conv.neuron.reset == "hard"
    built = build_model("sgcn", 8, 3, hidden_channels=16)
    assert repr(built.convs) == repr(model.convs)
    assert (built.T, built.dropout, built.input_dropout) == (16, 0.6, 0.8)
    assert MODELS["sgcn"][1] == {
        "hidden_channels": 64,
        "num_layers": 2,
        "dropout": 0.6,
        "input_dropout": 0.8,
        "T": 16,
        "norm": "none",
        "encoder": "max-scaled",
        "reset": "hard",
        "tau": 4.0,
    }
    # the layer keeps its own default neuron (integrate-and-fire, soft reset)
    conv = SpikingGCNConv(8, 16)
    assert (conv.neuron.tau, conv.neuron.reset) == (float("inf"), "soft")
    paper = SpikingGCN.with_paper_neuron(8, 16, 2, 3)
    assert isinstance(paper.convs[0].norm, STFN)
    assert (paper.convs[0].neuron.tau, paper.convs[0].neuron.reset) == (2.0, "hard")
    assert repr(build_model("stfn-sgcn", 8, 3, hidden_channels=16).convs) == repr(paper.convs)
    assert MODELS["stfn-sgcn"][1] == {**MODELS["sgcn"][1], **PAPER_NEURON}
    # The preset's keywords can still be overridden.
    assert SpikingGCN.with_paper_neuron(8, 16, 2, 3, tau=4.0).convs[0].neuron.tau == 4.0


def test_the_models_default_neuron_yields_to_a_neuron_or_options_the_user_gives():
    model = SpikingGCN(8, 16, 2, 3, tau=2.0)
    assert (model.convs[0].neuron.tau, model.convs[0].neuron.reset) == (2.0, "hard")
    model = SpikingGCN(8, 16, 2, 3, reset="soft")
    assert (model.convs[0].neuron.tau, model.convs[0].neuron.reset) == (4.0, "soft")
    plif = SpikingGCN(8, 16, 2, 3, neuron="plif")  # the named neuron's own defaults
    assert type(plif.convs[0].neuron).__name__ == "PLIF"
    assert plif.convs[0].neuron_options == SpikingGCNConv(8, 16, neuron="plif").neuron_options
