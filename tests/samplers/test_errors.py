"""Bad input gets a clear error naming the bad value."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from spikegraph.samplers import (
    ClusterGCNSampler,
    GraphSAGESampler,
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    Loader,
    PinSAGESampler,
    PyGSampler,
    RippleWalkSampler,
    ShaDowSampler,
)


def test_fanouts(small_graph):
    with pytest.raises(ValueError, match=r"'num_neighbors' has 3 fan-outs for depth=2"):
        ShaDowSampler(small_graph, 2, [3, 2, 1])
    with pytest.raises(ValueError, match=r"'num_neighbors\[1\]' must be >= 1 or -1.*got 0"):
        GraphSAGESampler(small_graph, [3, 0])
    with pytest.raises(ValueError, match=r"'num_neighbors\[0\]' must be >= 1 or -1.*got -2"):
        PinSAGESampler(small_graph, [-2])
    with pytest.raises(ValueError, match="empty list"):
        GraphSAGESampler(small_graph, [])
    with pytest.raises(TypeError, match="must be a list of ints"):
        GraphSAGESampler(small_graph, 5)
    with pytest.raises(TypeError, match=r"'num_neighbors\[0\]' must be an int, got 2.5"):
        GraphSAGESampler(small_graph, [2.5])


def test_batch_size_and_loader_arguments(small_graph):
    sage = GraphSAGESampler(small_graph, [2])
    with pytest.raises(ValueError, match="'batch_size' must be >= 1, got 0"):
        Loader(sage, seeds=torch.arange(5), batch_size=0)
    with pytest.raises(TypeError, match="'batch_size' must be an int"):
        Loader(sage, seeds=torch.arange(5), batch_size=2.0)
    with pytest.raises(ValueError, match="'batch_size' is required"):
        Loader(sage, seeds=torch.arange(5))
    with pytest.raises(ValueError, match="give 'seeds'"):
        Loader(sage, batch_size=4)
    with pytest.raises(ValueError, match="'num_workers' must be >= 0, got -1"):
        Loader(sage, seeds=torch.arange(5), batch_size=2, num_workers=-1)
    cluster = ClusterGCNSampler(small_graph, 3)
    with pytest.raises(ValueError, match="takes no seeds"):
        Loader(cluster, seeds=torch.arange(5))
    with pytest.raises(ValueError, match="'batch_size' does not apply"):
        Loader(cluster, batch_size=5)
    with pytest.raises(ValueError, match="mask has 5 entries for 60 nodes"):
        Loader(sage, seeds=torch.ones(5, dtype=torch.bool), batch_size=2)


def test_seeds(small_graph):
    sage = GraphSAGESampler(small_graph, [2])
    with pytest.raises(ValueError, match="'seeds' holds node id 60, out of range for 60 nodes"):
        sage.sample(torch.tensor([1, 60]))
    with pytest.raises(ValueError, match="'seeds' holds node id -1"):
        sage.sample(torch.tensor([-1, 3]))
    with pytest.raises(ValueError, match="'seeds' holds node id 3 more than once"):
        sage.sample(torch.tensor([3, 4, 3]))
    with pytest.raises(ValueError, match="'seeds' holds node id 7 more than once"):
        Loader(sage, seeds=torch.tensor([7, 7]), batch_size=1)
    with pytest.raises(ValueError, match="'seeds' is empty"):
        sage.sample(torch.tensor([], dtype=torch.long))
    with pytest.raises(TypeError, match=r"integer tensor, got dtype torch\.float32"):
        sage.sample(torch.tensor([1.0]))
    with pytest.raises(TypeError, match="not a mask"):
        sage.sample(torch.ones(60, dtype=torch.bool))
    with pytest.raises(ValueError, match="'targets' holds node id 99"):
        ClusterGCNSampler(small_graph, 2, targets=torch.tensor([99]))
    for sampler in (PinSAGESampler(small_graph, [2]), ShaDowSampler(small_graph, 1)):
        with pytest.raises(ValueError, match="out of range"):
            sampler.sample(torch.tensor([100]))


def test_clusters(small_graph):
    with pytest.raises(ValueError, match="'num_parts'=61 is more clusters than the 60 nodes"):
        ClusterGCNSampler(small_graph, 61)
    with pytest.raises(ValueError, match="'num_parts' must be >= 1, got 0"):
        ClusterGCNSampler(small_graph, 0)
    with pytest.raises(ValueError, match="'clusters_per_batch'=5 exceeds num_parts=4"):
        ClusterGCNSampler(small_graph, 4, clusters_per_batch=5)
    with pytest.raises(ValueError, match=r"'diag_lambda' must be finite and >= 0, got -0\.5"):
        ClusterGCNSampler(small_graph, 4, diag_lambda=-0.5)
    sampler = ClusterGCNSampler(small_graph, 4)
    with pytest.raises(ValueError, match=r"'clusters' must be in \[0, 4\), got \[1, 4\]"):
        sampler.sample(torch.tensor([1, 4]))


def test_walks(small_graph):
    with pytest.raises(ValueError, match="'walk_length' must be >= 1, got 0"):
        GraphSAINTRandomWalkSampler(small_graph, 4, walk_length=0)
    with pytest.raises(ValueError, match="'walk_length' must be >= 1, got 0"):
        PinSAGESampler(small_graph, [2], walk_length=0)
    with pytest.raises(ValueError, match="'num_walks' must be >= 1, got 0"):
        PinSAGESampler(small_graph, [2], num_walks=0)
    with pytest.raises(ValueError, match=r"'restart_prob' must be in \[0, 1\), got 1.0"):
        PinSAGESampler(small_graph, [2], restart_prob=1.0)
    with pytest.raises(ValueError, match="'num_roots' must be >= 1, got 0"):
        GraphSAINTRandomWalkSampler(small_graph, 0)


def test_subgraph_sizes(small_graph):
    with pytest.raises(ValueError, match="'budget' must be >= 1, got 0"):
        GraphSAINTNodeSampler(small_graph, 0)
    with pytest.raises(ValueError, match="'sample_coverage' must be >= 1, got 0"):
        GraphSAINTNodeSampler(small_graph, 5, sample_coverage=0)
    empty = Data(edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=3)
    with pytest.raises(ValueError, match="edge sampler needs a graph with at least one edge"):
        GraphSAINTEdgeSampler(empty, 5)
    with pytest.raises(ValueError, match="'subgraph_size'=61 exceeds the 60 nodes"):
        RippleWalkSampler(small_graph, 61)
    with pytest.raises(ValueError, match=r"'expansion_ratio' must be in \(0, 1\], got 0"):
        RippleWalkSampler(small_graph, 10, expansion_ratio=0)
    with pytest.raises(ValueError, match="'depth' must be >= 1, got 0"):
        ShaDowSampler(small_graph, 0)
    with pytest.raises(ValueError, match="'ppr_topk' must be >= 1, got 0"):
        ShaDowSampler(small_graph, 2, ppr_topk=0)


def test_graph_input():
    ei = torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="'num_nodes' is required"):
        GraphSAGESampler(ei, [2])
    with pytest.raises(ValueError, match="node id 2, out of range for num_nodes=2"):
        GraphSAGESampler(ei, [2], num_nodes=2)
    with pytest.raises(ValueError, match=r"shape \[2, E\], got \(3, 2\)"):
        GraphSAGESampler(torch.zeros(3, 2, dtype=torch.long), [2], num_nodes=3)
    with pytest.raises(TypeError, match="must be a torch_geometric Data"):
        GraphSAGESampler([[0, 1]], [2])
    with pytest.raises(ValueError, match="'num_nodes' must be >= 1, got 0"):
        GraphSAGESampler(torch.empty(2, 0, dtype=torch.long), [2], num_nodes=0)
    data = Data(edge_index=ei, num_nodes=3, edge_weight=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="'edge_weight' must be finite and positive"):
        GraphSAGESampler(data, [2])
    with pytest.raises(ValueError, match="'seed' must be >= 0, got -3"):
        GraphSAGESampler(ei, [2], num_nodes=3, seed=-3)
    with pytest.raises(TypeError, match=r"'seed' must be an int or a torch\.Generator"):
        GraphSAGESampler(ei, [2], num_nodes=3, seed="0")


def test_pyg_adapter_rejects_subgraph_samplers(small_graph):
    with pytest.raises(TypeError, match="must be a node-wise sampler"):
        PyGSampler(ClusterGCNSampler(small_graph, 2))
    with pytest.raises(TypeError, match="does not sample graph edges"):
        from torch_geometric.sampler import NodeSamplerInput

        PyGSampler(PinSAGESampler(small_graph, [2])).sample_from_nodes(
            NodeSamplerInput(None, torch.tensor([0]))
        )
