"""Node-wise batches carry the edges sampled per hop (``num_sampled_edges``, PyG's
convention), so PyG's ``trim_to_layer`` runs on PyGSampler's batches and computes what the
untrimmed model computes at the seeds."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import NodeLoader
from torch_geometric.nn.models import GAT, GraphSAGE

from spikegraph.samplers import (
    Batch,
    BatchContractError,
    GraphSAGESampler,
    PinSAGESampler,
    PyGSampler,
    ShaDowSampler,
)


@pytest.fixture
def graph() -> Data:
    gen = torch.Generator().manual_seed(0)
    return Data(
        edge_index=torch.randint(0, 50, (2, 300), generator=gen),
        x=torch.randn(50, 4, generator=gen),
        num_nodes=50,
    )


def hop_edges_match_blocks(batch: Batch) -> None:
    """Block ``i`` of ``L`` holds exactly the edges of hops ``1 .. L - i``."""
    hops = len(batch.blocks)
    assert len(batch.num_sampled_edges) == hops == len(batch.num_sampled_nodes) - 1
    for i, block in enumerate(batch.blocks):
        assert block.num_edges == sum(batch.num_sampled_edges[: hops - i])


@pytest.mark.parametrize("fanouts", [[3, 2], [4, 3, 2], [-1], [-1, 2]])
def test_graphsage_batches_count_the_edges_of_every_hop(graph, fanouts):
    sampler = GraphSAGESampler(graph, fanouts, seed=0)
    batch = sampler.sample(torch.arange(7))
    hop_edges_match_blocks(batch)
    # the edges of hop h end at the nodes first reached at hop h - 1
    dst = batch.blocks[0].edge_index[1]
    nodes = torch.tensor([0, *batch.num_sampled_nodes]).cumsum(0)
    edges = torch.tensor([0, *batch.num_sampled_edges]).cumsum(0)
    for h in range(len(fanouts)):
        hop_dst = dst[edges[h] : edges[h + 1]]
        assert bool(((hop_dst >= nodes[h]) & (hop_dst < nodes[h + 1])).all())
    batch.validate()


def test_pinsage_batches_count_the_edges_of_every_hop(graph):
    batch = PinSAGESampler(graph, [3, 2], num_walks=6, seed=0).sample(torch.arange(5))
    hop_edges_match_blocks(batch)


def test_shadow_batches_have_no_hops():
    data = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), num_nodes=3)
    batch = ShaDowSampler(data, 2, [2, 2], seed=0).sample(torch.tensor([0]))
    assert batch.num_sampled_nodes is None and batch.num_sampled_edges is None


def test_pyg_batches_carry_both_counts(graph):
    loader = NodeLoader(
        graph,
        PyGSampler(GraphSAGESampler(graph, [3, 2])),
        input_nodes=torch.arange(10),
        batch_size=5,
    )
    for b in loader:
        assert len(b.num_sampled_edges) == 2 and len(b.num_sampled_nodes) == 3
        assert sum(b.num_sampled_edges) == b.edge_index.size(1)
        assert sum(b.num_sampled_nodes) == b.num_nodes


@pytest.mark.parametrize("model_cls, fanouts", [(GraphSAGE, [3, 2]), (GAT, [4, 3, 2])])
def test_pyg_trim_to_layer_equals_the_untrimmed_model(graph, model_cls, fanouts):
    """Models whose aggregation at a node reads only its in-edges (not GCN, whose
    normalisation reads the sources' degrees, which trimming changes)."""
    torch.manual_seed(0)
    model = model_cls(4, 8, len(fanouts), 3).eval()
    loader = NodeLoader(
        graph,
        PyGSampler(GraphSAGESampler(graph, fanouts, seed=1)),
        input_nodes=torch.arange(20),
        batch_size=6,
    )
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for b in loader:
            full = model(b.x, b.edge_index)
            trimmed = model(
                b.x,
                b.edge_index,
                num_sampled_nodes_per_hop=b.num_sampled_nodes,
                num_sampled_edges_per_hop=b.num_sampled_edges,
            )
            assert trimmed.size(0) < full.size(0)  # trimming dropped nodes
            assert torch.allclose(trimmed[: b.batch_size], full[: b.batch_size], atol=1e-6)
            checked += 1
    assert checked == 4


def test_validate_refuses_edge_counts_that_do_not_fit(graph):
    batch = GraphSAGESampler(graph, [3, 2], seed=0).sample(torch.arange(4))
    batch.num_sampled_edges = [batch.num_sampled_edges[0] + 1, batch.num_sampled_edges[1] - 1]
    with pytest.raises(BatchContractError, match=r"block 1 holds \d+ edges but num_sampled"):
        batch.validate(full=False)
    batch.num_sampled_edges = [1]
    with pytest.raises(BatchContractError, match=r"num_sampled_edges has 1 entries for 2 hops"):
        batch.validate(full=False)
