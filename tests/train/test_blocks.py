"""PyG's GCN on a sampler's blocks (spikegraph.train.blocks) against PyG's own forward."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn.models import GAT, GCN
from torch_geometric.utils import to_undirected

from spikegraph.samplers import BatchContractError, Block
from spikegraph.train.blocks import pyg_forward_blocks


def _graph(n: int = 12):
    gen = torch.Generator().manual_seed(0)
    ei = to_undirected(torch.randint(0, n, (2, 30), generator=gen), num_nodes=n)
    ei = ei[:, ei[0] != ei[1]]
    # Symmetric weights: w(u, v) = w(v, u), so in- and out-degrees agree (GCN's degrees).
    w = (ei.min(0).values * n + ei.max(0).values).double().remainder(7) + 0.5
    x = torch.randn(n, 5, generator=gen, dtype=torch.float64)
    return x, ei, w


@pytest.mark.parametrize(
    "opts",
    [{}, {"improved": True}, {"norm": "batch_norm", "act_first": True}, {"jk": "cat"}],
    ids=["plain", "improved", "norm", "jk"],
)
def test_full_graph_block_equals_pyg_forward(opts):
    x, ei, w = _graph()
    torch.manual_seed(0)
    model = GCN(5, 8, num_layers=3, out_channels=3, **opts).double().eval()
    block = Block(ei, w, (12, 12))
    want = model(x, ei, w)
    assert torch.allclose(pyg_forward_blocks(model, x, [block] * 3), want)
    unweighted = [Block(ei, None, (12, 12))] * 3
    assert torch.allclose(pyg_forward_blocks(model, x, unweighted), model(x, ei))


def test_final_weights_equal_pyg_without_normalisation():
    x, ei, w = _graph()
    torch.manual_seed(0)
    model = GCN(5, 8, num_layers=2, out_channels=3).double().eval()
    torch.manual_seed(0)
    plain = GCN(5, 8, num_layers=2, out_channels=3, normalize=False).double().eval()
    block = Block(ei, w, (12, 12), weights_final=True)
    got = pyg_forward_blocks(model, x, [block, block])
    assert torch.allclose(got, plain(x, ei, w))
    assert not torch.allclose(got, model(x, ei, w))  # the switch matters
    # Nothing about the layers changed.
    assert all(c.normalize and c.add_self_loops for c in model.convs)


def test_non_nested_chain_equals_dense_reference():
    gen = torch.Generator().manual_seed(1)
    b0 = Block(
        torch.tensor([[0, 1, 2, 4, 4], [0, 0, 1, 1, 2]]),
        torch.rand(5, generator=gen, dtype=torch.float64),
        (5, 3),
        weights_final=True,
        dst_index=torch.tensor([-1, 3, -1]),
    )
    b1 = Block(
        torch.tensor([[0, 2, 1], [0, 0, 1]]),
        torch.rand(3, generator=gen, dtype=torch.float64),
        (3, 2),
        weights_final=True,
        dst_index=torch.tensor([-1, -1]),
    )
    x = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    torch.manual_seed(0)
    model = GCN(4, 6, num_layers=2, out_channels=2).double().eval()
    h = x
    for i, (conv, b) in enumerate(zip(model.convs, (b0, b1))):
        a = torch.zeros(b.size[1], b.size[0], dtype=torch.float64)
        a.index_put_((b.edge_index[1], b.edge_index[0]), b.edge_weight, accumulate=True)
        h = a @ conv.lin(h) + conv.bias
        if i == 0:
            h = h.relu()
    assert torch.allclose(pyg_forward_blocks(model, x, [b0, b1]), h)


def test_refusals():
    x, ei, w = _graph()
    block = Block(ei, w, (12, 12))
    gat = GAT(5, 8, num_layers=2, out_channels=3)
    with pytest.raises(TypeError, match=r"only with GCNConv layers .* layer 0 is GATConv"):
        pyg_forward_blocks(gat, x.float(), [block, block])
    model = GCN(5, 8, num_layers=2, out_channels=3, jk="cat").double()
    with pytest.raises(ValueError, match="Got 3 blocks for a model with num_layers=2"):
        pyg_forward_blocks(model, x, [block] * 3)
    lost = Block(torch.tensor([[0], [0]]), None, (12, 2), dst_index=torch.tensor([0, -1]))
    with pytest.raises(BatchContractError, match="GCN: block 1's targets are not all among"):
        pyg_forward_blocks(model, x, [block, lost])


@pytest.mark.parametrize("aggr", ["mean", "max"])
def test_a_gcn_that_does_not_sum_is_refused_on_blocks(aggr):
    # Blocks are aggregated as weighted sums (the samplers' coefficients estimate a sum):
    # a GCNConv with another aggr ran as a sum and returned another model's output.
    x, ei, w = _graph()
    torch.manual_seed(0)
    model = GCN(5, 8, num_layers=2, out_channels=3, aggr=aggr).double().eval()
    torch.manual_seed(0)
    summing = GCN(5, 8, num_layers=2, out_channels=3).double().eval()
    # the same weights; only the aggregation differs, and so does the output
    assert torch.equal(model.convs[0].lin.weight, summing.convs[0].lin.weight)
    assert not torch.allclose(model(x, ei, w), summing(x, ei, w))
    with pytest.raises(TypeError, match=rf"layer 0 aggregates with aggr='{aggr}'"):
        pyg_forward_blocks(model, x, [Block(ei, w, (12, 12))] * 2)


def test_a_gcn_with_aggr_sum_runs_on_blocks():
    x, ei, w = _graph()
    torch.manual_seed(0)
    model = GCN(5, 8, num_layers=2, out_channels=3, aggr="sum").double().eval()
    got = pyg_forward_blocks(model, x, [Block(ei, w, (12, 12))] * 2)
    assert torch.allclose(got, model(x, ei, w))
