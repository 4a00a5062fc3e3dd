import numpy as np
import pytest
import torch
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_dense_adj, to_torch_coo_tensor, to_torch_csr_tensor

from spikegraph.models import PAPER_NEURON
from spikegraph.nn import LIF, STFN, SpikingGCNConv, stfn
from spikegraph.nn.conv import bipartite_gcn_norm

# PyG's spmm converts a COO adj_t to CSR with a warning; COO input is tested on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Converting sparse tensor to CSR format")

N, F_IN, F_OUT, T = 6, 5, 4, 3


def features(T=T, n=N, f=F_IN, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    shape = (n, f) if T is None else (T, n, f)
    return torch.randn(*shape, generator=gen, dtype=dtype)


def plain_pair(**kwargs):
    """A spiking-off SpikingGCNConv and a GCNConv with the same parameters (random bias)."""
    conv = SpikingGCNConv(F_IN, F_OUT, T=T, spiking=False, norm="none", **kwargs)
    if conv.bias is not None:
        with torch.no_grad():
            conv.bias.normal_()
    ref = GCNConv(F_IN, F_OUT, **kwargs)
    ref.load_state_dict(conv.state_dict())
    return conv, ref


def adj_t(edge_index, layout, n=N):
    """The transposed adjacency ``adj_t[dst, src]`` as a torch sparse tensor."""
    make = to_torch_coo_tensor if layout == "coo" else to_torch_csr_tensor
    return make(edge_index.flip(0), size=(n, n))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"improved": True},
        {"add_self_loops": False},
        {"normalize": False},
        {"bias": False},
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_spiking_off_equals_pyg_gcnconv_per_step(edge_index, kwargs, weighted):
    conv, ref = plain_pair(**kwargs)
    x = features()
    ew = torch.rand(edge_index.size(1)) + 0.5 if weighted else None
    out = conv(x, edge_index, ew)
    assert out.shape == (T, N, F_OUT)
    # PyG's GCNConv drops improved=True's self-loop weight 2 when an edge index comes without
    # weights (but not for a sparse adj_t); spikegraph always uses A + 2I, which is what PyG
    # computes given unit weights.
    ref_ew = torch.ones(edge_index.size(1)) if ew is None and kwargs.get("improved") else ew
    for t in range(T):
        torch.testing.assert_close(out[t], ref(x[t], edge_index, ref_ew))


def test_improved_means_self_loop_weight_two_in_every_format(edge_index):
    conv, ref = plain_pair(improved=True)
    x = features()
    ones = torch.ones(edge_index.size(1))
    expected = conv(x, edge_index, ones)
    torch.testing.assert_close(conv(x, edge_index), expected)
    for layout in ("coo", "csr"):
        torch.testing.assert_close(conv(x, adj_t(edge_index, layout)), expected)
        # PyG's own layer agrees on the sparse format.
        torch.testing.assert_close(ref(x[0], adj_t(edge_index, layout)), expected[0])
    torch.testing.assert_close(conv((x, None), edge_index, size=(N, N)), expected)
    # The documented exception: PyG's GCNConv without weights ignores improved (A + I).
    assert not torch.allclose(expected[0], ref(x[0], edge_index))
    # And it differs from the plain A + I layer.
    plain, _ = plain_pair()
    plain.load_state_dict(conv.state_dict())
    assert not torch.allclose(plain(x, edge_index), expected)


def test_spiking_off_equals_pyg_on_a_directed_graph_with_self_loops():
    # Existing self-loops keep their weight (add_remaining_self_loops), in-degree normalises.
    ei = torch.tensor([[0, 1, 1, 2, 3, 3, 4], [1, 1, 2, 0, 3, 0, 2]])
    conv, ref = plain_pair()
    x = features(n=5)
    ew = torch.tensor([0.5, 2.0, 1.0, 1.5, 3.0, 1.0, 0.7])
    out = conv(x, ei, ew)
    for t in range(T):
        torch.testing.assert_close(out[t], ref(x[t], ei, ew))


def test_spiking_off_static_input_equals_pyg_at_every_step(edge_index):
    conv, ref = plain_pair()
    x = features(T=None)
    out = conv(x, edge_index)
    assert out.shape == (T, N, F_OUT)
    expected = ref(x, edge_index)
    for t in range(T):
        torch.testing.assert_close(out[t], expected)


def test_spiking_off_cached_equals_pyg_cached(edge_index):
    conv, ref = plain_pair(cached=True)
    x = features()
    for _ in range(2):
        out = conv(x, edge_index)
        for t in range(T):
            torch.testing.assert_close(out[t], ref(x[t], edge_index))


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_spiking_off_sparse_adj_equals_pyg(directed_edge_index, layout):
    conv, ref = plain_pair()
    x = features()
    out = conv(x, adj_t(directed_edge_index, layout))
    for t in range(T):
        torch.testing.assert_close(out[t], ref(x[t], directed_edge_index))


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("static", [False, True])
def test_adjacency_formats_give_the_same_spikes(directed_edge_index, layout, static):
    torch.manual_seed(0)
    conv = SpikingGCNConv(F_IN, F_OUT, T=T).double()
    x = features(T=None if static else T, dtype=torch.float64)
    dense = conv(x, directed_edge_index)
    sparse = conv(x, adj_t(directed_edge_index, layout).double())
    assert torch.equal(dense, sparse)
    assert 0 < dense.mean() < 1


def test_spiking_layer_is_lif_of_stfn_of_the_plain_layer(edge_index):
    torch.manual_seed(0)
    conv = SpikingGCNConv(
        F_IN, F_OUT, T=T, tau=3.0, v_threshold=0.7, rho=1.3, norm="stfn", reset="hard"
    ).double()
    with torch.no_grad():
        conv.norm.weight.uniform_(0.5, 1.5)
        conv.norm.bias.uniform_(-0.2, 0.2)
    plain = SpikingGCNConv(F_IN, F_OUT, T=T, spiking=False, norm="none").double()
    plain.load_state_dict(conv.state_dict(), strict=False)
    x = features(dtype=torch.float64)
    current = plain(x, edge_index)
    normed = stfn(current, 1.3, 0.7) * conv.norm.weight + conv.norm.bias
    expected = LIF(tau=3.0, v_threshold=0.7)(normed)
    out = conv(x, edge_index)
    assert torch.equal(out, expected)
    assert set(out.unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("norm", ["stfn", "tdbn", "none"])
def test_static_input_equals_input_repeated_over_time(edge_index, norm):
    torch.manual_seed(0)
    conv = SpikingGCNConv(F_IN, F_OUT, T=T, norm=norm, v_threshold=0.5).double()
    x = features(T=None, dtype=torch.float64)
    static = conv(x, edge_index)
    repeated = conv(x.expand(T, N, F_IN), edge_index)
    assert torch.equal(static, repeated)
    assert 0 < static.mean() < 1


def test_bipartite_norm_equals_gcn_norm_on_symmetric_square_block(edge_index):
    ew = torch.rand(edge_index.size(1)) + 0.5
    ew = ew + ew[torch.cat([torch.arange(7, 14), torch.arange(0, 7)])]  # symmetric weights
    ones = torch.ones(edge_index.size(1))
    for improved in (False, True):
        for weights in (None, ew):
            ei_b, w_b = bipartite_gcn_norm(edge_index, weights, (N, N), improved)
            # gcn_norm ignores `improved` without weights (see above): give it unit weights.
            ei_g, w_g = gcn_norm(edge_index, ones if weights is None else weights, N, improved)
            torch.testing.assert_close(
                to_dense_adj(ei_b, edge_attr=w_b, max_num_nodes=N),
                to_dense_adj(ei_g, edge_attr=w_g, max_num_nodes=N),
            )


def test_bipartite_on_square_block_equals_homogeneous_path(edge_index):
    torch.manual_seed(0)
    conv = SpikingGCNConv(F_IN, F_OUT, T=T).double()
    x = features(dtype=torch.float64)
    homogeneous = conv(x, edge_index)
    assert torch.equal(conv((x, x), edge_index, size=(N, N)), homogeneous)
    assert torch.equal(conv((x, None), edge_index, size=(N, N)), homogeneous)


def test_bipartite_block_against_dense_reference():
    # 5 sources, 3 targets (the first 3 sources), GCN-normalised by degrees inside the block.
    ei = torch.tensor([[0, 3, 4, 2, 4, 1, 3], [0, 0, 0, 1, 1, 2, 2]])
    ew = torch.tensor([1.0, 0.5, 2.0, 1.5, 1.0, 0.3, 0.8], dtype=torch.float64)
    conv = SpikingGCNConv(F_IN, F_OUT, T=T, spiking=False, norm="none").double()
    with torch.no_grad():
        conv.bias.normal_()
    x_src = features(n=5, dtype=torch.float64)
    out = conv((x_src, x_src[:, :3]), ei, ew, size=(5, 3))
    A = torch.zeros(3, 5, dtype=torch.float64)  # A[dst, src]
    A[ei[1], ei[0]] = ew
    # Self-loops for the three targets: none exist in the block yet (0->0 does: keeps 1.0).
    A[1, 1] += 1.0
    A[2, 2] += 1.0
    d_dst, d_src = A.sum(1), A.sum(0)
    A_hat = d_dst.pow(-0.5).view(-1, 1) * A * d_src.pow(-0.5).view(1, -1)
    expected = A_hat @ conv.lin(x_src) + conv.bias
    torch.testing.assert_close(out, expected)


def test_cached_reuses_normalisation_of_the_same_graph(edge_index):
    conv, ref = plain_pair(cached=True)
    x = features()
    first = conv(x, edge_index)
    assert conv._cached_edge_index is not None
    # The same graph again, also as a new tensor with the same content: the cache serves.
    torch.testing.assert_close(conv(x, edge_index.clone()), first)
    torch.testing.assert_close(first[0], ref(x[0], edge_index))


def test_cached_refuses_another_graph(edge_index):
    """PyG's cached=True silently reuses the first graph for any later one (a sampler's
    batches then run on the wrong graph); the spiking layer refuses instead."""
    conv, _ = plain_pair(cached=True)
    x = features()
    first = conv(x, edge_index)
    with pytest.raises(ValueError, match=r"cached=True.*6 nodes and 14 edges.*4 edges"):
        conv(x, edge_index[:, :4])
    with pytest.raises(ValueError, match="cached=True"):
        conv(features(n=5), edge_index[:, edge_index.max(0).values < 5])
    # Same edges, other weights: another graph too.
    with pytest.raises(ValueError, match="cached=True"):
        conv(x, edge_index, torch.full((edge_index.size(1),), 2.0))
    # reset_cache() (or reset_parameters()) lets the layer take a new graph.
    conv.reset_cache()
    fresh, _ = plain_pair()
    fresh.load_state_dict(conv.state_dict())
    other = edge_index[:, :4]
    torch.testing.assert_close(conv(x, other), fresh(x, other))
    assert not torch.allclose(conv(x, other), first)
    conv.reset_parameters()
    conv(x, edge_index)


@pytest.mark.parametrize("path", ["numpy", "data"])
def test_cached_sees_an_edge_index_changed_in_place(edge_index, path):
    """``.numpy()`` and ``.data`` writes do not bump the version counter; the cache compares
    content, so no stale graph is used."""
    conv, _ = plain_pair(cached=True)
    x = features()
    ei = edge_index.clone()
    conv(x, ei)
    if path == "numpy":
        ei.numpy()[0, 0] = 5
    else:
        ei.data[0, 0] = 5
    with pytest.raises(ValueError, match="cached=True"):
        conv(x, ei)


def test_cached_refuses_another_bipartite_block(edge_index):
    conv = SpikingGCNConv(F_IN, F_OUT, T=T, cached=True)
    x = features()
    conv((x, None), edge_index, size=(N, N))
    with pytest.raises(ValueError, match="cached=True"):
        conv((x, None), edge_index[:, edge_index[1] < 3], size=(N, 3))


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_cached_sparse_adj(directed_edge_index, layout):
    conv, _ = plain_pair(cached=True)
    x = features()
    first = conv(x, adj_t(directed_edge_index, layout))
    assert torch.equal(conv(x, adj_t(directed_edge_index, layout)), first)
    with pytest.raises(ValueError, match="cached=True"):
        conv(x, adj_t(directed_edge_index[:, :3], layout))


@pytest.mark.parametrize("norm", ["stfn", "tdbn"])
def test_gradients_reach_every_parameter(edge_index, norm):
    torch.manual_seed(0)
    conv = SpikingGCNConv(F_IN, F_OUT, T=T, norm=norm)
    x = features(T=None).requires_grad_()
    (conv(x, edge_index) * torch.randn(T, N, F_OUT)).sum().backward()
    names = {n for n, _ in conv.named_parameters()}
    assert names == {"bias", "lin.weight", "norm.weight", "norm.bias"}
    for name, p in [*conv.named_parameters(), ("x", x)]:
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if norm == "tdbn" and name == "bias":  # tdBN's channel mean absorbs it: zero
            assert p.grad.abs().max() <= 1e-4, name  # up to rounding
        else:
            assert p.grad.abs().sum() > 1e-4, name


def test_lazy_in_channels(edge_index):
    conv = SpikingGCNConv(-1, F_OUT, T=T)
    assert conv(features(), edge_index).shape == (T, N, F_OUT)
    assert conv.lin.weight.shape == (F_OUT, F_IN)


def test_defaults_are_the_validated_neuron_and_paper_neuron_is_one_argument_away():
    conv = SpikingGCNConv(F_IN, F_OUT, T=T)
    assert conv.norm is None and conv.neuron.tau == float("inf") and conv.neuron.reset == "soft"
    assert conv.neuron.decay == 1.0
    paper = SpikingGCNConv(F_IN, F_OUT, T=T, **PAPER_NEURON)
    assert isinstance(paper.norm, STFN) and paper.neuron.tau == 2.0
    assert paper.neuron.reset == "hard"


def test_attributes_of_the_layer_contract():
    conv = SpikingGCNConv(F_IN, F_OUT, T=T, **PAPER_NEURON)
    assert isinstance(conv.norm, STFN) and isinstance(conv.neuron, LIF)
    assert conv.lin.weight.shape == (F_OUT, F_IN)
    off = SpikingGCNConv(F_IN, F_OUT, spiking=False, norm="none")
    assert off.norm is None and off.neuron is None


def test_repr():
    assert repr(SpikingGCNConv(8, 4)) == (
        "SpikingGCNConv(8, 4, T=8, norm=none, tau=inf, v_threshold=1.0, reset='soft', "
        "surrogate=Rectangular)"
    )
    assert repr(SpikingGCNConv(8, 4, T=3, spiking=False, norm="none")) == (
        "SpikingGCNConv(8, 4, T=3, norm=none, spiking=False)"
    )
    conv = SpikingGCNConv(16, 2, T=4, norm="tdbn", tau=4, reset="soft", surrogate="arctan")
    assert repr(conv) == (
        "SpikingGCNConv(16, 2, T=4, norm=TemporalBatchNorm, tau=4.0, v_threshold=1.0, "
        "reset='soft', surrogate=ArcTan)"
    )


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "T_, err, msg",
    [
        (0, ValueError, r"'T' must be >= 1, got 0"),
        (-3, ValueError, r"'T' must be >= 1, got -3"),
        (2.0, TypeError, r"'T' must be an int, got float \(2.0\)"),
        (True, TypeError, r"'T' must be an int, got bool \(True\)"),
    ],
)
def test_bad_time_steps(T_, err, msg):
    with pytest.raises(err, match=msg):
        SpikingGCNConv(F_IN, F_OUT, T=T_)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"norm": "batch"}, r"Unknown norm 'batch'; expected one of \['stfn', 'tdbn', 'none'\]"),
        ({"reset": "zero"}, r"Unknown reset 'zero'; expected one of \['hard', 'soft', 'none'\]"),
        ({"surrogate": "erf"}, r"Unknown surrogate 'erf'; expected one of \['rectangular'"),
        ({"tau": 0.5}, r"'tau' must be >= 1"),
        ({"add_self_loops": True, "normalize": False}, r"cannot add self-loops"),
    ],
)
def test_bad_options(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        SpikingGCNConv(F_IN, F_OUT, **kwargs)


def test_bad_options_also_checked_when_spiking_is_off():
    with pytest.raises(ValueError, match="Unknown reset 'zero'"):
        SpikingGCNConv(F_IN, F_OUT, spiking=False, reset="zero")


def test_feature_width_mismatch(edge_index):
    conv = SpikingGCNConv(F_IN, F_OUT, T=T)
    msg = (
        r"'x' has 7 features in its last dimension \(shape \(3, 6, 7\)\), but the layer "
        r"expects in_channels=5"
    )
    with pytest.raises(ValueError, match=msg):
        conv(features(f=7), edge_index)
    with pytest.raises(ValueError, match=r"'x_src' has 7 features"):
        conv((features(f=7), None), edge_index, size=(N, N))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_infinite_features(edge_index, bad):
    x = features()
    x[1, 2, 3] = bad
    msg = rf"'x' contains NaN or infinite values \(first at index \(1, 2, 3\), value {bad}\)"
    with pytest.raises(ValueError, match=msg):
        SpikingGCNConv(F_IN, F_OUT, T=T)(x, edge_index)


def test_nan_edge_weight(edge_index):
    ew = torch.ones(edge_index.size(1))
    ew[2] = float("nan")
    with pytest.raises(ValueError, match=r"'edge_weight' contains NaN or infinite values"):
        SpikingGCNConv(F_IN, F_OUT, T=T)(features(), edge_index, ew)


def test_edge_weight_of_wrong_length(edge_index):
    with pytest.raises(ValueError, match=r"'edge_weight' has 3 entries for 14 edges"):
        SpikingGCNConv(F_IN, F_OUT, T=T)(features(), edge_index, torch.ones(3))


@pytest.mark.parametrize(
    "ei, msg",
    [
        (
            [[0, 1, -1], [1, 2, 0]],
            r"'edge_index' holds source node id -1 \(column 2\), out of range for 6 source "
            r"nodes \(valid ids are 0..5\)",
        ),
        (
            [[0, 1, 2], [1, 6, 0]],
            r"'edge_index' holds target node id 6 \(column 1\), out of range for 6 target "
            r"nodes \(valid ids are 0..5\)",
        ),
        ([[0, 9, 2], [1, 0, 0]], r"'edge_index' holds source node id 9 \(column 1\)"),
    ],
)
def test_out_of_range_node_ids(ei, msg):
    with pytest.raises(ValueError, match=msg):
        SpikingGCNConv(F_IN, F_OUT, T=T)(features(), torch.tensor(ei))


def test_out_of_range_target_of_a_bipartite_block():
    ei = torch.tensor([[0, 4], [0, 3]])
    with pytest.raises(ValueError, match=r"target node id 3 \(column 1\), out of range for 3"):
        SpikingGCNConv(F_IN, F_OUT, T=T)((features(n=5), None), ei, size=(5, 3))


def test_wrong_edge_index_dtype_and_shape(edge_index):
    conv = SpikingGCNConv(F_IN, F_OUT, T=T)
    with pytest.raises(
        TypeError, match=r"'edge_index' must have dtype torch.long, got torch.float32"
    ):
        conv(features(), edge_index.float())
    with pytest.raises(
        ValueError, match=r"'edge_index' must have shape \[2, num_edges\], got \(3, 2\)"
    ):
        conv(features(), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"must have shape \[2, num_edges\], got \(14,\)"):
        conv(features(), edge_index[0])


def test_empty_graph():
    conv = SpikingGCNConv(F_IN, F_OUT, T=T)
    empty = torch.empty(2, 0, dtype=torch.long)
    with pytest.raises(
        ValueError, match=r"'x' holds no nodes \(shape \(3, 0, 5\)\): the graph is empty"
    ):
        conv(torch.empty(T, 0, F_IN), empty)
    with pytest.raises(ValueError, match=r"'x' holds no nodes \(shape \(0, 5\)\)"):
        conv(torch.empty(0, F_IN), empty)


def test_wrong_input_rank(edge_index):
    with pytest.raises(ValueError, match=r"'x' must be \[N, F\] \(static\) or \[T, N, F\]"):
        SpikingGCNConv(F_IN, F_OUT, T=T)(torch.zeros(1, T, N, F_IN), edge_index)


def test_bipartite_errors(edge_index):
    conv = SpikingGCNConv(F_IN, F_OUT, T=T)
    x = features()
    with pytest.raises(ValueError, match=r"Bipartite input with x_dst=None needs 'size'"):
        conv((x, None), edge_index)
    with pytest.raises(ValueError, match=r"'size\[0\]'=4 differs from the 6 source nodes"):
        conv((x, None), edge_index, size=(4, 6))
    with pytest.raises(TypeError, match=r"Bipartite input needs 'edge_index' as a \[2, E\] tensor"):
        conv((x, None), adj_t(edge_index, "coo"), size=(N, N))
    # the targets' features are not read by a GCN layer, but another width is a mistake
    with pytest.raises(ValueError, match=rf"'x_dst' has {F_IN + 1} features .* in_channels={F_IN}"):
        conv((x, torch.rand(T, N, F_IN + 1)), edge_index)


def test_sparse_adj_of_wrong_shape(edge_index):
    with pytest.raises(ValueError, match=r"Sparse 'adj_t' has shape \(7, 7\), expected \(6, 6\)"):
        SpikingGCNConv(F_IN, F_OUT, T=T)(features(), adj_t(edge_index, "csr", n=7))


def test_non_tensor_features(edge_index):
    with pytest.raises(TypeError, match=r"'x' must be a torch.Tensor, got ndarray"):
        SpikingGCNConv(F_IN, F_OUT, T=T)(np.zeros((N, F_IN)), edge_index)


@pytest.mark.parametrize("form", ["edge_index", "bipartite", "coo", "csr"])
def test_negative_edge_weight_is_refused_when_normalising(edge_index, form):
    """``deg^-1/2`` of a negative weight sum is NaN: refused, naming the value and edge."""
    ew = torch.ones(edge_index.size(1))
    ew[3] = -0.5
    conv = SpikingGCNConv(F_IN, F_OUT, T=T)
    x = features()
    msg = r"'edge_weight' holds -0.5 .*edge 3 \(3 -> 0\).*normalize=True"
    with pytest.raises(ValueError, match=msg if form in ("edge_index", "bipartite") else "-0.5"):
        if form == "edge_index":
            conv(x, edge_index, ew)
        elif form == "bipartite":
            conv((x, None), edge_index, ew, size=(N, N))
        else:
            make = to_torch_coo_tensor if form == "coo" else to_torch_csr_tensor
            conv(x, make(edge_index.flip(0), ew, size=(N, N)))


def test_negative_edge_weight_is_fine_without_normalisation(edge_index):
    ew = torch.ones(edge_index.size(1))
    ew[3] = -0.5
    conv = SpikingGCNConv(F_IN, F_OUT, T=T, normalize=False)
    assert torch.isfinite(conv(features(), edge_index, ew)).all()


@pytest.mark.parametrize("bad", [float("inf"), -float("inf")])
def test_infinite_edge_weight(edge_index, bad):
    ew = torch.ones(edge_index.size(1))
    ew[5] = bad
    with pytest.raises(ValueError, match=r"'edge_weight' contains NaN or infinite values"):
        SpikingGCNConv(F_IN, F_OUT, T=T)(features(), edge_index, ew)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_input_dtype_other_than_the_layers_is_a_clear_error(edge_index, dtype):
    conv = SpikingGCNConv(F_IN, F_OUT, T=T)
    msg = rf"'x' has dtype {dtype}.*parameters are torch.float32.*\.to\({dtype}\).*x.float\(\)"
    with pytest.raises(TypeError, match=msg):
        conv(features(dtype=dtype), edge_index)
    with pytest.raises(TypeError, match="dtype"):
        conv(features(), edge_index, torch.ones(edge_index.size(1), dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_layer_in_another_dtype_runs_in_it(edge_index, dtype):
    conv = SpikingGCNConv(F_IN, F_OUT, T=T).to(dtype)
    out = conv(features(dtype=dtype), edge_index, torch.rand(edge_index.size(1), dtype=dtype))
    assert out.dtype == dtype and torch.isfinite(out).all()


@pytest.mark.parametrize(
    "kwargs, err, msg",
    [
        ({"out_channels": 0}, ValueError, r"'out_channels' must be >= 1, got 0"),
        ({"out_channels": 2.5}, TypeError, r"'out_channels' must be an int, got float"),
        ({"in_channels": 0}, ValueError, r"'in_channels' must be >= 1 \(or -1: lazy\), got 0"),
    ],
)
def test_bad_channels(kwargs, err, msg):
    args = {"in_channels": F_IN, "out_channels": F_OUT, **kwargs}
    with pytest.raises(err, match=msg):
        SpikingGCNConv(**args, T=T)
