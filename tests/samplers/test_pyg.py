"""The samplers work with PyG's own loaders and layers on a plain install."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
import torch_geometric.typing as pyg_typing
from sampler_checks import edge_set, graph_from_networkx
from torch_geometric.loader import NodeLoader
from torch_geometric.nn import GCNConv, SAGEConv

from spikegraph.samplers import GraphSAGESampler, Loader, PyGSampler, ShaDowSampler


def test_plain_install_has_no_pyg_sampling_backend():
    """What this package replaces: PyG's own neighbour sampler needs pyg-lib or torch-sparse."""
    if pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE:
        pytest.skip("pyg-lib or torch-sparse is installed here")
    from torch_geometric.loader import NeighborLoader

    with pytest.raises(ImportError):
        data = _data()
        next(iter(NeighborLoader(data, num_neighbors=[2], batch_size=4)))


def _data():
    return graph_from_networkx(nx.gnm_random_graph(50, 150, seed=3), 50)


@pytest.mark.parametrize(
    "make",
    [lambda d: GraphSAGESampler(d, [3, 2], seed=0), lambda d: ShaDowSampler(d, 2, [3, 2])],
    ids=["graphsage", "shadow"],
)
def test_node_loader_iterates(make, small_graph):
    data = small_graph
    data.train_mask = torch.zeros(60, dtype=torch.bool)
    data.train_mask[::2] = True
    loader = NodeLoader(data, PyGSampler(make(data)), input_nodes=data.train_mask, batch_size=8)
    edges = edge_set(data)
    seen = []
    for batch in loader:
        ids = batch.x[:, 0].long()  # features are the original ids
        assert torch.equal(ids, batch.n_id)
        seen.append(ids[: batch.batch_size])
        for u, v in zip(ids[batch.edge_index[0]].tolist(), ids[batch.edge_index[1]].tolist()):
            assert (u, v) in edges
        assert torch.equal(data.edge_index[:, batch.e_id], ids[batch.edge_index])
    assert sorted(torch.cat(seen).tolist()) == list(range(0, 60, 2))


def test_node_loader_with_workers(small_graph):
    loader = NodeLoader(
        small_graph,
        PyGSampler(GraphSAGESampler(small_graph, [3])),
        input_nodes=torch.arange(60),
        batch_size=10,
        num_workers=2,
    )
    assert sum(b.batch_size for b in loader) == 60


def test_blocks_feed_pyg_convolutions(small_graph):
    """Bipartite blocks go straight into PyG's own layers, input layer first."""
    x = torch.randn(60, 8)
    sampler = GraphSAGESampler(small_graph, [4, 3], seed=0)
    batch = next(iter(Loader(sampler, seeds=torch.arange(60), batch_size=16)))
    convs = [SAGEConv(8, 16), SAGEConv(16, 4)]
    h = x[batch.n_id]
    for conv, block in zip(convs, batch.blocks):
        h = conv((h, h[: block.size[1]]), block.edge_index, size=block.size)
    assert h.shape == (16, 4)
    # The same targets through full-neighbourhood blocks equal the full-graph result.
    full = GraphSAGESampler(small_graph, [-1, -1]).sample(torch.arange(16))
    h = x[full.n_id]
    for conv, block in zip(convs, full.blocks):
        h = conv((h, h[: block.size[1]]), block.edge_index, size=block.size)
    ref = convs[1](convs[0](x, small_graph.edge_index), small_graph.edge_index)[:16]
    assert torch.allclose(h, ref, atol=1e-5)


def test_subgraph_feeds_gcn(small_graph):
    """PyG's GCNConv runs on ``batch.subgraph()``; where the batch holds every neighbour of
    the targets and of their neighbours (fan-outs above every degree, ShaDow's whole 2-hop
    neighbourhood), its output at the targets is the full graph's."""
    x = torch.randn(60, 8)
    conv = GCNConv(8, 4)
    full = conv(x, small_graph.edge_index)
    seeds = torch.arange(5)
    whole = (GraphSAGESampler(small_graph, [60, 60]), ShaDowSampler(small_graph, 2))
    for sampler in (GraphSAGESampler(small_graph, [3, 3]), *whole):
        batch = sampler.sample(seeds)
        edge_index, edge_weight = batch.subgraph()
        out = conv(x[batch.n_id], edge_index, edge_weight)
        assert out.shape == (batch.n_id.numel(), 4)
        if sampler in whole:  # the targets are the first rows
            assert torch.equal(batch.n_id[: seeds.numel()], seeds)
            assert torch.allclose(out[: seeds.numel()], full[seeds], atol=1e-5)
