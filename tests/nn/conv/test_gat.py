import pytest
import torch
from torch_geometric.nn import GATConv
from torch_geometric.utils import to_torch_coo_tensor, to_torch_csr_tensor

from spikegraph.models import PAPER_NEURON
from spikegraph.nn import LIF, STFN, SpikingGATConv, stfn

N, F_IN, C, T = 6, 5, 4, 3


def features(T=T, n=N, f=F_IN, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    shape = (n, f) if T is None else (T, n, f)
    return torch.randn(*shape, generator=gen, dtype=dtype)


def plain_pair(heads=2, concat=True, **kwargs):
    """A spiking-off SpikingGATConv and a GATConv with the same parameters (random bias)."""
    torch.manual_seed(0)
    conv = SpikingGATConv(
        F_IN, C, heads=heads, concat=concat, T=T, spiking=False, norm="none", **kwargs
    )
    if conv.bias is not None:
        with torch.no_grad():
            conv.bias.normal_()
    ref = GATConv(F_IN, C, heads=heads, concat=concat, **kwargs)
    ref.load_state_dict(conv.state_dict())
    return conv, ref


def adj_t(edge_index, layout, shape=(N, N)):
    """The transposed adjacency ``adj_t[dst, src]`` as a torch sparse tensor."""
    make = to_torch_coo_tensor if layout == "coo" else to_torch_csr_tensor
    return make(edge_index.flip(0), size=shape)


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize(
    "kwargs", [{}, {"negative_slope": 0.5}, {"add_self_loops": False}, {"bias": False}]
)
def test_spiking_off_equals_pyg_gatconv_per_step(directed_edge_index, heads, concat, kwargs):
    conv, ref = plain_pair(heads, concat, dropout=0.3, **kwargs)
    conv.eval()
    ref.eval()
    x = features()
    out = conv(x, directed_edge_index)
    assert out.shape == (T, N, heads * C if concat else C)
    for t in range(T):
        torch.testing.assert_close(out[t], ref(x[t], directed_edge_index))


@pytest.mark.parametrize("concat", [True, False])
def test_spiking_off_static_input_equals_pyg_at_every_step(edge_index, concat):
    conv, ref = plain_pair(3, concat)
    x = features(T=None)
    out = conv(x, edge_index)
    expected = ref(x, edge_index)
    assert out.shape == (T, *expected.shape)
    for t in range(T):
        torch.testing.assert_close(out[t], expected)


def test_attention_dropout_in_training_matches_pyg_under_the_same_seed(edge_index):
    # A static input is attended to once, with attention of PyG's shape [E, heads]: the same
    # seed draws the same dropout mask, so the two layers are honestly comparable.
    conv, ref = plain_pair(2, True, dropout=0.5)
    x = features(T=None)
    torch.manual_seed(123)
    out = conv(x, edge_index)
    torch.manual_seed(123)
    expected = ref(x, edge_index)
    torch.testing.assert_close(out[0], expected)
    conv.eval()
    assert not torch.allclose(conv(x, edge_index)[0], out[0])  # dropout was active


def test_attention_dropout_draws_separately_per_time_step(edge_index):
    # Spike trains fold time into heads: each step gets its own dropout mask.
    conv, _ = plain_pair(1, True, dropout=0.5)
    x = features(T=None).expand(T, N, F_IN)
    torch.manual_seed(0)
    out = conv(x, edge_index)
    assert not torch.allclose(out[0], out[1])
    conv.eval()
    out = conv(x, edge_index)
    torch.testing.assert_close(out[0], out[1])


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("with_dst", [True, False])
def test_bipartite_equals_pyg_on_pairs(concat, with_dst):
    # 7 sources, 4 targets; the targets are the first 4 sources, as samplers lay them out.
    ei = torch.tensor([[0, 4, 5, 6, 1, 2, 6, 3, 0, 5], [0, 0, 1, 1, 1, 2, 2, 3, 3, 2]])
    conv, ref = plain_pair(2, concat)
    x_src = features(n=7)
    for t in range(T):
        x_dst = x_src[t, :4] if with_dst else None
        expected = ref((x_src[t], x_dst), ei, size=(7, 4))
        pair = (x_src, x_src[:, :4] if with_dst else None)
        torch.testing.assert_close(conv(pair, ei, size=(7, 4))[t], expected)
    # Static pair.
    x0 = x_src[0]
    out = conv((x0, x0[:4] if with_dst else None), ei, size=(7, 4))
    expected = ref((x0, x0[:4] if with_dst else None), ei, size=(7, 4))
    torch.testing.assert_close(out[1], expected)


def test_bipartite_size_inferred_from_x_dst():
    ei = torch.tensor([[0, 4, 2], [0, 1, 1]])
    conv, ref = plain_pair(2, True)
    x_src = features(T=None, n=5)
    torch.testing.assert_close(conv((x_src, x_src[:2]), ei)[0], ref((x_src, x_src[:2]), ei))


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("static", [False, True])
def test_adjacency_formats_give_the_same_output(directed_edge_index, layout, static):
    torch.manual_seed(0)
    conv = SpikingGATConv(F_IN, C, heads=2, T=T).double()
    x = features(T=None if static else T, dtype=torch.float64)
    dense = conv(x, directed_edge_index)
    sparse = conv(x, adj_t(directed_edge_index, layout).double())
    assert torch.equal(dense, sparse)
    assert 0 < dense.mean() < 1
    plain, _ = plain_pair(2, False)
    plain.double()
    torch.testing.assert_close(
        plain(x, adj_t(directed_edge_index, layout).double()), plain(x, directed_edge_index)
    )


def test_spiking_layer_is_lif_of_stfn_of_the_plain_layer(edge_index):
    torch.manual_seed(0)
    conv = SpikingGATConv(
        F_IN, C, heads=2, T=T, tau=3.0, v_threshold=0.7, rho=1.3, norm="stfn", reset="hard"
    ).double()
    with torch.no_grad():
        conv.norm.weight.uniform_(0.5, 1.5)
        conv.norm.bias.uniform_(-0.2, 0.2)
    plain = SpikingGATConv(F_IN, C, heads=2, T=T, spiking=False, norm="none").double()
    plain.load_state_dict(conv.state_dict(), strict=False)
    x = features(dtype=torch.float64)
    normed = stfn(plain(x, edge_index), 1.3, 0.7) * conv.norm.weight + conv.norm.bias
    expected = LIF(tau=3.0, v_threshold=0.7)(normed)
    out = conv(x, edge_index)
    assert torch.equal(out, expected)
    assert set(out.unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("norm", ["stfn", "tdbn", "none"])
def test_static_input_equals_input_repeated_over_time(edge_index, norm):
    torch.manual_seed(0)
    conv = SpikingGATConv(F_IN, C, heads=2, T=T, norm=norm, v_threshold=0.5).double()
    x = features(T=None, dtype=torch.float64)
    static = conv(x, edge_index)
    assert torch.equal(static, conv(x.expand(T, N, F_IN), edge_index))
    assert 0 < static.mean() < 1


@pytest.mark.parametrize("norm", ["stfn", "tdbn"])
def test_gradients_reach_every_parameter(edge_index, norm):
    torch.manual_seed(0)
    conv = SpikingGATConv(F_IN, C, heads=2, T=T, norm=norm)
    x = features().requires_grad_()
    (conv(x, edge_index) * torch.randn(T, N, 2 * C)).sum().backward()
    names = {n for n, _ in conv.named_parameters()}
    assert names == {"att_src", "att_dst", "bias", "lin.weight", "norm.weight", "norm.bias"}
    for name, p in [*conv.named_parameters(), ("x", x)]:
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if norm == "tdbn" and name == "bias":  # tdBN's channel mean absorbs it: zero
            assert p.grad.abs().max() <= 1e-4, name  # up to rounding
        else:
            assert p.grad.abs().sum() > 1e-4, name


def test_attributes_of_the_layer_contract():
    conv = SpikingGATConv(F_IN, C, heads=2, T=T, **PAPER_NEURON)
    assert isinstance(conv.norm, STFN) and isinstance(conv.neuron, LIF)
    assert conv.lin.weight.shape == (2 * C, F_IN)
    assert conv.norm.num_features == 2 * C
    assert SpikingGATConv(F_IN, C, heads=2, concat=False, norm="stfn").norm.num_features == C


def test_defaults_are_the_validated_neuron_and_paper_neuron_is_one_argument_away():
    conv = SpikingGATConv(F_IN, C, heads=2, T=T)
    assert conv.norm is None and conv.neuron.tau == float("inf") and conv.neuron.reset == "soft"
    paper = SpikingGATConv(F_IN, C, heads=2, T=T, **PAPER_NEURON)
    assert paper.neuron.tau == 2.0 and paper.neuron.reset == "hard"


def test_repr():
    assert repr(SpikingGATConv(8, 4, heads=2)) == (
        "SpikingGATConv(8, 4, heads=2, T=8, norm=none, tau=inf, v_threshold=1.0, "
        "reset='soft', surrogate=Rectangular)"
    )
    assert repr(SpikingGATConv(8, 4, T=2, spiking=False, norm="none")) == (
        "SpikingGATConv(8, 4, heads=1, T=2, norm=none, spiking=False)"
    )


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, err, msg",
    [
        ({"T": 0}, ValueError, r"'T' must be >= 1, got 0"),
        ({"T": 1.5}, TypeError, r"'T' must be an int, got float \(1.5\)"),
        ({"heads": 0}, ValueError, r"'heads' must be a positive int, got 0"),
        ({"dropout": 1.0}, ValueError, r"'dropout' must be in \[0, 1\), got 1.0"),
        ({"norm": "layer"}, ValueError, r"Unknown norm 'layer'; expected one of"),
        ({"reset": "zero"}, ValueError, r"Unknown reset 'zero'"),
        ({"surrogate": "erf"}, ValueError, r"Unknown surrogate 'erf'"),
    ],
)
def test_bad_options(kwargs, err, msg):
    with pytest.raises(err, match=msg):
        SpikingGATConv(F_IN, C, **kwargs)


def test_input_errors(edge_index):
    conv = SpikingGATConv(F_IN, C, heads=2, T=T)
    with pytest.raises(ValueError, match=r"'x' has 7 features in its last dimension"):
        conv(features(f=7), edge_index)
    x = features()
    x[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"'x' contains NaN or infinite values"):
        conv(x, edge_index)
    with pytest.raises(ValueError, match=r"'x' holds no nodes"):
        conv(torch.empty(0, F_IN), torch.empty(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"'edge_index' holds target node id 6 \(column 0\)"):
        conv(features(), torch.tensor([[0], [6]]))
    with pytest.raises(ValueError, match=r"'edge_index' holds source node id -2 \(column 1\)"):
        conv(features(), torch.tensor([[0, -2], [1, 1]]))
    with pytest.raises(TypeError, match=r"'edge_index' must have dtype torch.long"):
        conv(features(), edge_index.double())
    with pytest.raises(ValueError, match=r"'edge_index' must have shape \[2, num_edges\]"):
        conv(features(), edge_index.t().contiguous())


def test_bipartite_errors():
    conv = SpikingGATConv(F_IN, C, T=T)
    ei = torch.tensor([[0, 1], [0, 1]])
    with pytest.raises(ValueError, match=r"Bipartite input with x_dst=None needs 'size'"):
        conv((features(), None), ei)
    with pytest.raises(ValueError, match=r"'size\[0\]'=5 differs from the 6 source nodes"):
        conv((features(), None), ei, size=(5, 2))
    with pytest.raises(ValueError, match=r"'x_src' and 'x_dst' must both be static or both"):
        conv((features(), features(T=None, n=2)), ei)
    with pytest.raises(ValueError, match=r"'x_dst' has 3 features"):
        conv((features(), features(n=2, f=3)), ei)


def test_sparse_adj_of_wrong_shape(edge_index):
    conv = SpikingGATConv(F_IN, C, T=T)
    with pytest.raises(ValueError, match=r"Sparse 'adj_t' has shape \(7, 7\), expected \(6, 6\)"):
        conv(features(), adj_t(edge_index, "coo", shape=(7, 7)))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_input_dtype_other_than_the_layers_is_a_clear_error(edge_index, dtype):
    conv = SpikingGATConv(5, 4, heads=2, T=3)
    with pytest.raises(TypeError, match=rf"'x' has dtype {dtype}.*torch.float32"):
        conv(torch.rand(6, 5, dtype=dtype), edge_index)


@pytest.mark.parametrize(
    "kwargs, err, msg",
    [
        ({"heads": 0}, ValueError, r"'heads' must be a positive int, got 0"),
        ({"heads": True}, ValueError, r"'heads' must be a positive int, got True"),
        ({"out_channels": 0}, ValueError, r"'out_channels' must be >= 1, got 0"),
    ],
)
def test_bad_sizes(kwargs, err, msg):
    args = {"in_channels": 5, "out_channels": 4, **kwargs}
    with pytest.raises(err, match=msg):
        SpikingGATConv(**args, T=3)


@pytest.mark.parametrize("in_channels", [F_IN, (F_IN, 3)])
def test_residual_is_refused_naming_the_option(in_channels):
    """PyG's ``GATConv(..., residual=True)`` is not implemented for the spiking layer: a
    clear error (not a ``TypeError`` from ``MessagePassing``); ``residual=False`` is PyG's
    default and accepted."""
    with pytest.raises(ValueError, match=r"SpikingGATConv got residual=True.*residual=False"):
        SpikingGATConv(in_channels, C, heads=2, residual=True)
    assert SpikingGATConv(in_channels, C, heads=2, residual=False).heads == 2
