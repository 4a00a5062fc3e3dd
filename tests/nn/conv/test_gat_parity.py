"""SpikingGATConv against PyG's GATConv where users reach for it: edge features, returned
attention weights, (source, target) widths and ``to_hetero``."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import HeteroData
from torch_geometric.nn import GATConv, to_hetero
from torch_geometric.utils import to_torch_csr_tensor

from spikegraph.nn import SpikingGATConv, SpikingGCNConv

N, F_IN, C, T, D = 6, 5, 4, 3, 3


def features(T=T, n=N, f=F_IN, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = (n, f) if T is None else (T, n, f)
    return torch.randn(*shape, generator=gen)


def edge_features(num_edges, d=D, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(num_edges, d, generator=gen) if d else torch.randn(num_edges, generator=gen)


def plain_pair(in_channels=F_IN, heads=2, concat=True, **kwargs):
    """A spiking-off SpikingGATConv and a GATConv with the same parameters (random bias)."""
    torch.manual_seed(0)
    conv = SpikingGATConv(
        in_channels, C, heads=heads, concat=concat, T=T, spiking=False, norm="none", **kwargs
    )
    if conv.bias is not None:
        with torch.no_grad():
            conv.bias.normal_()
    ref = GATConv(in_channels, C, heads=heads, concat=concat, **kwargs)
    ref.load_state_dict(conv.state_dict())
    return conv.eval(), ref.eval()


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"fill_value": 0.5}, {"fill_value": "add"}, {"add_self_loops": False}],
)
def test_edge_features_equal_pyg_per_step(directed_edge_index, heads, concat, kwargs):
    conv, ref = plain_pair(heads=heads, concat=concat, edge_dim=D, **kwargs)
    x = features()
    e = edge_features(directed_edge_index.size(1))
    out = conv(x, directed_edge_index, e)
    assert out.shape == (T, N, heads * C if concat else C)
    for t in range(T):
        torch.testing.assert_close(out[t], ref(x[t], directed_edge_index, e))
    # The edge features matter: without them the output differs.
    assert not torch.allclose(out, conv(x, directed_edge_index))


def test_one_dimensional_edge_features_as_pyg(edge_index):
    conv, ref = plain_pair(edge_dim=1)
    x = features(T=None)
    e = edge_features(edge_index.size(1), d=0)
    torch.testing.assert_close(conv(x, edge_index, e)[0], ref(x, edge_index, e))


@pytest.mark.parametrize("edge_dim", [None, D])
def test_attention_weights_of_a_static_input_are_pyg_s(directed_edge_index, edge_dim):
    conv, ref = plain_pair(heads=2, edge_dim=edge_dim)
    x = features(T=None)
    e = None if edge_dim is None else edge_features(directed_edge_index.size(1))
    out, (ei, alpha) = conv(x, directed_edge_index, e, return_attention_weights=True)
    ref_out, (ref_ei, ref_alpha) = ref(x, directed_edge_index, e, return_attention_weights=True)
    assert torch.equal(ei, ref_ei)
    assert alpha.shape == (directed_edge_index.size(1) + N, 2)
    torch.testing.assert_close(alpha, ref_alpha)
    torch.testing.assert_close(out[0], ref_out)


def test_attention_weights_of_a_spike_train_are_per_step(directed_edge_index):
    conv, ref = plain_pair(heads=2, edge_dim=D)
    x = features()
    e = edge_features(directed_edge_index.size(1))
    out, (ei, alpha) = conv(x, directed_edge_index, e, return_attention_weights=True)
    assert alpha.shape == (T, ei.size(1), 2)
    for t in range(T):
        ref_out, (ref_ei, ref_alpha) = ref(
            x[t], directed_edge_index, e, return_attention_weights=True
        )
        assert torch.equal(ei, ref_ei)
        torch.testing.assert_close(alpha[t], ref_alpha)
        torch.testing.assert_close(out[t], ref_out)
    assert not torch.allclose(alpha[0], alpha[1])  # the attention depends on the step
    # Without the flag the layer returns the spikes alone, as PyG.
    assert torch.equal(conv(x, directed_edge_index, e), out)


def test_spiking_layer_returns_attention_that_sums_to_one_per_target(edge_index):
    torch.manual_seed(0)
    conv = SpikingGATConv(F_IN, C, heads=2, T=T, edge_dim=D)
    x = (features() > 0).float()
    out, (ei, alpha) = conv(x, edge_index, edge_features(edge_index.size(1)), None, True)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    sums = torch.zeros(T, N, 2).index_add_(1, ei[1], alpha)
    torch.testing.assert_close(sums, torch.ones(T, N, 2))


def test_sparse_adjacency_with_edge_features_and_attention(directed_edge_index):
    # A sparse adj_t lists edges by target (row-major); edge features follow that order.
    conv, ref = plain_pair(edge_dim=D)
    order = (directed_edge_index[1] * N + directed_edge_index[0]).argsort()
    ei = directed_edge_index[:, order]
    e = edge_features(ei.size(1))
    adj_t = to_torch_csr_tensor(ei.flip(0), size=(N, N))
    x = features(T=None)
    out, (used, alpha) = conv(x, adj_t, e, return_attention_weights=True)
    ref_out, (ref_ei, ref_alpha) = ref(x, ei, e, return_attention_weights=True)
    torch.testing.assert_close(out[0], ref_out)
    assert torch.equal(used, ref_ei)
    torch.testing.assert_close(alpha, ref_alpha)


@pytest.mark.parametrize("with_dst", [True, False])
def test_source_target_widths_equal_pyg(with_dst):
    # 7 sources of width 5, 4 targets of width 3: separate lin_src / lin_dst as in PyG.
    ei = torch.tensor([[0, 4, 5, 6, 1, 2, 6, 3, 0, 5], [0, 0, 1, 1, 1, 2, 2, 3, 3, 2]])
    conv, ref = plain_pair(in_channels=(F_IN, 3), edge_dim=D, add_self_loops=False)
    assert {"lin_src.weight", "lin_dst.weight"} <= set(conv.state_dict())
    x_src, x_dst = features(n=7), features(n=4, f=3, seed=2)
    e = edge_features(ei.size(1))
    for t in range(T):
        pair = (x_src[t], x_dst[t] if with_dst else None)
        expected = ref(pair, ei, e, size=(7, 4))
        out = conv((x_src, x_dst if with_dst else None), ei, e, size=(7, 4))
        torch.testing.assert_close(out[t], expected)
    with pytest.raises(ValueError, match=r"'x_dst' has 5 features .* expects in_channels=3"):
        conv((x_src, features(n=4)), ei, e)


def test_lazy_source_target_widths():
    conv = SpikingGATConv((-1, -1), C, heads=2, T=T, add_self_loops=False)
    ei = torch.tensor([[0, 4, 2], [0, 1, 1]])
    out = conv((features(n=5), features(n=2, f=3)), ei)
    assert out.shape == (T, 2, 2 * C)
    assert conv.lin_src.weight.shape == (2 * C, F_IN)
    assert conv.lin_dst.weight.shape == (2 * C, 3)


def test_edge_feature_errors(edge_index):
    conv = SpikingGATConv(F_IN, C, T=T)
    e = edge_features(edge_index.size(1))
    with pytest.raises(ValueError, match=r"got 'edge_attr' .* built without edge features"):
        conv(features(), edge_index, e)
    conv = SpikingGATConv(F_IN, C, T=T, edge_dim=D)
    with pytest.raises(ValueError, match=r"'edge_attr' must be \[num_edges, edge_dim\]"):
        conv(features(), edge_index, e[:-1])
    with pytest.raises(ValueError, match=r"'edge_attr' has 2 features"):
        conv(features(), edge_index, e[:, :2])
    with pytest.raises(TypeError, match=r"'edge_attr' must be a floating-point tensor"):
        conv(features(), edge_index, e.long())
    with pytest.raises(ValueError, match=r"'fill_value' must be a number"):
        SpikingGATConv(F_IN, C, edge_dim=D, fill_value="median")
    with pytest.raises(ValueError, match=r"'in_channels' must be an int or a \(source, target\)"):
        SpikingGATConv((F_IN, 3, 2), C)
    with pytest.raises(ValueError, match=r"'in_channels\[1\]' must be >= 1"):
        SpikingGATConv((F_IN, 0), C)


def test_repr_shows_edge_dim():
    assert repr(SpikingGATConv((-1, -1), C, heads=2, T=T, edge_dim=D)).startswith(
        "SpikingGATConv((-1, -1), 4, heads=2, edge_dim=3, T=3"
    )


def hetero_data():
    data = HeteroData()
    data["paper"].x = features(T=None, n=6, f=5)
    data["author"].x = features(T=None, n=4, f=3, seed=3)
    data["author", "writes", "paper"].edge_index = torch.tensor([[0, 1, 2, 3, 0], [0, 1, 2, 3, 5]])
    data["paper", "rev_writes", "author"].edge_index = torch.tensor(
        [[0, 1, 2, 3, 5], [0, 1, 2, 3, 0]]
    )
    data["paper", "cites", "paper"].edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    return data


class TwoLayers(torch.nn.Module):
    def __init__(self, make):
        super().__init__()
        self.conv1 = make(16)
        self.conv2 = make(2)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index), edge_index)


def test_to_hetero_with_lazy_pairs_of_spiking_gat_layers():
    # As PyG's heterogeneous examples build GATConv((-1, -1), ..., add_self_loops=False).
    data = hetero_data()
    torch.manual_seed(0)
    model = TwoLayers(lambda c: SpikingGATConv((-1, -1), c, heads=2, T=T, add_self_loops=False))
    model = to_hetero(model, data.metadata(), aggr="sum")
    out = model(data.x_dict, data.edge_index_dict)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "paper": (T, 6, 4),
        "author": (T, 4, 4),
    }
    assert set(out["paper"].unique().tolist()) <= {0.0, 1.0, 2.0}  # summed spikes
    sum(v.sum() for v in out.values()).backward()


def test_to_hetero_with_spiking_gcn_layers():
    data = HeteroData()
    data["paper"].x = features(T=None, n=6, f=5)
    data["paper", "cites", "paper"].edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    data["paper", "cited_by", "paper"].edge_index = torch.tensor([[1, 2, 3, 4], [0, 1, 2, 3]])
    torch.manual_seed(0)
    model = to_hetero(TwoLayers(lambda c: SpikingGCNConv(-1, c, T=T)), data.metadata())
    out = model(data.x_dict, data.edge_index_dict)
    assert tuple(out["paper"].shape) == (T, 6, 2)
