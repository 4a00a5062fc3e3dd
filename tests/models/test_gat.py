from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from spikegraph.models import SpikingGAT
from spikegraph.nn import SpikingGATConv


def test_constructor_has_the_shape_of_pyg_gat(node_data):
    model = SpikingGAT(8, 16, 2, 3, 0.4, heads=4, T=4)
    hidden, last = model.convs
    assert isinstance(hidden, SpikingGATConv) and isinstance(last, SpikingGATConv)
    # Hidden layers concatenate heads of width hidden/heads; the output layer averages.
    assert (hidden.heads, hidden.out_channels, hidden.concat) == (4, 4, True)
    assert (last.heads, last.out_channels, last.concat) == (4, 3, False)
    assert hidden.dropout == last.dropout == 0.4  # attention dropout defaults to dropout
    assert model(node_data.x, node_data.edge_index).shape == (40, 3)


def test_out_heads_and_attention_dropout():
    model = SpikingGAT(8, 16, 2, 3, dropout=0.5, heads=2, out_heads=1, attention_dropout=0.1)
    assert model.convs[1].heads == 1
    assert [c.dropout for c in model.convs] == [0.1, 0.1]
    assert model.dropout == 0.5


@pytest.mark.parametrize("readout", ["membrane", "rate"])
@pytest.mark.parametrize("norm", ["stfn", "tdbn"])
def test_gradients_reach_every_parameter(node_data, readout, norm):
    torch.manual_seed(0)
    model = SpikingGAT(8, 16, 3, 2, dropout=0.2, heads=2, T=4, readout=readout, norm=norm)
    out = model(node_data.x, node_data.edge_index)
    F.cross_entropy(out[node_data.train_mask], node_data.y[node_data.train_mask]).backward()
    params = dict(model.named_parameters())
    assert sum(name.endswith("att_src") for name in params) == 3
    # tdBN's channel mean absorbs the bias of each conv it normalises (the membrane
    # read-out layer has none): an analytically zero gradient, up to rounding
    normed = range(3) if readout == "rate" else range(2)
    absorbed = {f"convs.{i}.bias" for i in normed} if norm == "tdbn" else set()
    for name, p in params.items():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if name in absorbed:
            assert p.grad.abs().max() <= 1e-6, name
        else:
            assert p.grad.abs().sum() > 1e-4, name


def test_forward_blocks_on_full_graph_blocks_equals_forward(edge_index):
    torch.manual_seed(0)
    model = SpikingGAT(5, 8, 2, 3, heads=2, T=4, v_threshold=0.5).double().eval()
    x = torch.randn(6, 5, dtype=torch.float64)
    block = SimpleNamespace(edge_index=edge_index, edge_weight=None, size=(6, 6))
    assert torch.equal(model.forward_blocks(x, [block, block]), model(x, edge_index))


def test_spike_train_input(node_data):
    torch.manual_seed(0)
    model = SpikingGAT(8, 16, 2, 2, heads=2, T=3).eval()
    x = node_data.x
    torch.testing.assert_close(
        model(x.expand(3, *x.shape), node_data.edge_index), model(x, node_data.edge_index)
    )


def test_repr():
    assert repr(SpikingGAT(8, 16, 2, 3, heads=2, T=4)) == (
        "SpikingGAT(8, 3, num_layers=2, T=4, readout='membrane')"
    )


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"heads": 0}, r"'heads' must be a positive int, got 0"),
        ({"heads": 3}, r"'hidden_channels'=16 must be divisible by heads=3"),
        ({"dropout": 1.5}, r"'dropout' must be in \[0, 1\), got 1.5"),
        ({"readout": "spikes"}, r"Unknown readout 'spikes'"),
        ({"T": 0}, r"'T' must be >= 1, got 0"),
    ],
)
def test_bad_options(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        SpikingGAT(8, 16, 2, 2, **kwargs)


def test_edge_weight_is_ignored_with_a_warning(node_data):
    model = SpikingGAT(node_data.num_features, 8, num_layers=2, out_channels=3, heads=2, T=2)
    model.eval()
    weight = torch.rand(node_data.edge_index.size(1))
    with pytest.warns(UserWarning, match="ignores 'edge_weight'"):
        out = model(node_data.x, node_data.edge_index, weight)
    assert torch.equal(out, model(node_data.x, node_data.edge_index))


def test_forward_blocks_with_sparse_input():
    # A sparse (CSR) static input cannot be sliced to the targets' rows; the same logits as
    # with dense input.
    torch.manual_seed(0)
    model = SpikingGAT(5, 8, 2, 3, heads=2, T=4, v_threshold=0.5).double().eval()
    b0 = SimpleNamespace(
        edge_index=torch.tensor([[3, 4, 0, 2, 1], [0, 0, 1, 1, 2]]), edge_weight=None, size=(5, 3)
    )
    b1 = SimpleNamespace(
        edge_index=torch.tensor([[1, 2, 0], [0, 0, 1]]), edge_weight=None, size=(3, 2)
    )
    x = (torch.rand(5, 5, dtype=torch.float64) < 0.05).double()
    x[0, 0] = 1.0
    dense = model.forward_blocks(x, [b0, b1])
    model.sparse_input = True
    torch.testing.assert_close(model.forward_blocks(x, [b0, b1]), dense)


def test_class_defaults_are_the_validated_settings_and_the_registrys():
    """A PyG user's ``SpikingGAT(F, 64, 2, C)`` is the registry's tuned spiking GAT."""
    from spikegraph.models import MODELS, SpikingGAT, build_model

    model = SpikingGAT(8, 64, 2, 3)
    assert (model.T, model.dropout, model.input_dropout) == (8, 0.6, 0.6)
    assert (model.heads, model.out_heads, model.attention_dropout) == (8, 8, 0.6)
    hidden = model.convs[0]
    assert hidden.norm is None and hidden.neuron.tau == float("inf")
    assert hidden.neuron.reset == "soft"
    built = build_model("sgat", 8, 3)
    assert repr(built.convs) == repr(model.convs)
    assert (built.heads, built.dropout, built.input_dropout) == (8, 0.6, 0.6)
    assert {k: MODELS["sgat"][1][k] for k in ("dropout", "input_dropout", "heads")} == {
        "dropout": 0.6,
        "input_dropout": 0.6,
        "heads": 8,
    }
    paper = SpikingGAT.with_paper_neuron(8, 64, 2, 3)
    assert type(paper.convs[0].norm).__name__ == "STFN" and paper.convs[0].neuron.tau == 2.0


@pytest.mark.parametrize("kwargs", [{}, {"share_weights": True}, {"edge_dim": 3}])
def test_v2_selects_gatv2_layers_as_pyg_gat_does(node_data, kwargs):
    """``SpikingGAT(..., v2=True)`` is PyG's ``GAT(..., v2=True)``: every layer is the
    dynamic-attention layer, with PyG's heads / widths / concat and parameters."""
    from torch_geometric.nn.models import GAT

    from spikegraph.nn import SpikingGATv2Conv

    torch.manual_seed(0)
    model = SpikingGAT(8, 16, 3, 3, heads=2, T=4, v2=True, v_threshold=0.5, **kwargs)
    pyg = GAT(8, 16, 3, 3, heads=2, v2=True, **kwargs)
    assert len(model.convs) == len(pyg.convs) == 3
    for conv, ref in zip(model.convs, pyg.convs):
        assert type(conv) is SpikingGATv2Conv
        assert (conv.heads, conv.out_channels, conv.concat) == (
            ref.heads,
            ref.out_channels,
            ref.concat,
        )
        assert conv.share_weights == ref.share_weights
        shapes = {k: v.shape for k, v in conv.state_dict().items()}
        assert shapes == {k: v.shape for k, v in ref.state_dict().items()}
    ei = node_data.edge_index
    e = torch.randn(ei.size(1), 3) if "edge_dim" in kwargs else None
    out = model(node_data.x, ei, edge_attr=e)
    assert out.shape == (40, 3)
    out.square().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    assert type(SpikingGAT(8, 16, 2, 3, heads=2).convs[0]) is SpikingGATConv


def test_v2_must_be_a_bool():
    with pytest.raises(TypeError, match=r"'v2' must be a bool, got str \('yes'\)"):
        SpikingGAT(8, 16, 2, 3, heads=2, v2="yes")


@pytest.mark.parametrize("v2", [False, True])
def test_residual_is_refused_naming_the_option(v2):
    """PyG's ``residual=True`` (a projection of the layer's input added to its output) is not
    implemented: a clear error naming it, not a TypeError from ``MessagePassing``."""
    with pytest.raises(ValueError, match=r"got residual=True.*residual=False"):
        SpikingGAT(8, 16, 2, 3, heads=2, v2=v2, residual=True)
    model = SpikingGAT(8, 16, 2, 3, heads=2, v2=v2, residual=False)  # PyG's default: fine
    assert len(model.convs) == 2


@pytest.mark.parametrize(
    "num_layers, hidden, heads, concat, jk",
    [
        (2, 16, 2, True, None),
        (2, 16, 2, False, None),
        (3, 16, 3, False, None),  # hidden width not divisible: fine without concatenation
        (1, 16, 3, True, None),  # no hidden layer: the hidden width is unused
        (1, 16, 3, False, None),
        (2, 16, 2, False, "cat"),
        (1, 16, 2, True, "last"),  # with jk the only layer is a hidden one
    ],
)
def test_concat_and_layer_widths_are_pyg_gats(node_data, num_layers, hidden, heads, concat, jk):
    """``concat`` applies to the hidden layers as in PyG's ``GAT``: ``True`` concatenates
    ``heads`` heads of width ``hidden // heads``, ``False`` averages ``heads`` heads of width
    ``hidden``; the output layer always averages."""
    from torch_geometric.nn.models import GAT

    kw = dict(heads=heads, concat=concat, jk=jk)
    model = SpikingGAT(8, hidden, num_layers, 3, T=2, **kw)
    pyg = GAT(8, hidden, num_layers, 3, **kw)
    assert model.concat is concat
    assert len(model.convs) == len(pyg.convs) == num_layers
    for conv, ref in zip(model.convs, pyg.convs):
        assert (conv.heads, conv.out_channels, conv.concat) == (
            ref.heads,
            ref.out_channels,
            ref.concat,
        )
        shapes = {k: v.shape for k, v in conv.state_dict().items()}
        assert shapes == {k: v.shape for k, v in ref.state_dict().items()}
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in pyg.parameters())
    x, ei = node_data.x, node_data.edge_index
    assert model(x, ei).shape == pyg(x, ei).shape == (40, 3)


@pytest.mark.parametrize("num_layers, jk", [(2, None), (1, "last")])
def test_hidden_concat_layers_need_a_width_divisible_by_heads(num_layers, jk):
    from torch_geometric.nn.models import GAT

    with pytest.raises(ValueError, match="divisible"):
        GAT(8, 16, num_layers, 3, heads=3, jk=jk)
    with pytest.raises(ValueError, match=r"'hidden_channels'=16 must be divisible by heads=3"):
        SpikingGAT(8, 16, num_layers, 3, heads=3, jk=jk)


def test_concat_must_be_a_bool():
    with pytest.raises(TypeError, match=r"'concat' must be a bool, got str \('no'\)"):
        SpikingGAT(8, 16, 2, 3, heads=2, concat="no")
