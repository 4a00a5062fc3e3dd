"""Cluster-GCN's diagonal enhancement is the paper's operator (Chiang et al., KDD 2019,
Eq. 10-11): ``Ã = (D + I)^-1 (A + I)`` on the batch's subgraph, then ``Ã + lambda diag(Ã)``,
carried as final weights."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from sampler_checks import graph_from_networkx

from spikegraph.samplers import ClusterGCNSampler


def _dense(block, n: int) -> torch.Tensor:
    """The block as a dense matrix, row = target, column = source (repeated edges add)."""
    m = torch.zeros(n, n, dtype=torch.float64)
    src, dst = block.edge_index
    m.index_put_((dst, src), block.edge_weight.double(), accumulate=True)
    return m


def _reference(adj: torch.Tensor, lam: float) -> torch.Tensor:
    """The paper's operator from a dense adjacency ``adj[v, u]`` (edge ``u -> v``)."""
    a = adj + torch.eye(adj.size(0), dtype=adj.dtype)
    a_tilde = a / a.sum(1, keepdim=True)
    return a_tilde + lam * torch.diag(torch.diagonal(a_tilde))


@pytest.mark.parametrize("lam", [0.5, 2.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_operator_matches_a_dense_reference(lam, weighted):
    g = nx.gnm_random_graph(40, 120, seed=4)
    data = graph_from_networkx(g, 40)
    if weighted:
        gen = torch.Generator().manual_seed(1)
        data.edge_weight = 0.5 + torch.rand(data.num_edges, generator=gen)
    sampler = ClusterGCNSampler(data, 4, clusters_per_batch=2, diag_lambda=lam, seed=0)
    for _ in range(3):
        batch = sampler.sample()
        batch.validate()
        block = batch.blocks[0]
        assert block.weights_final and all(b is block for b in batch.blocks)
        n_id, n = batch.n_id, batch.n_id.numel()
        # The batch's subgraph from the graph itself (all edges among its nodes).
        pos = torch.full((40,), -1, dtype=torch.long)
        pos[n_id] = torch.arange(n)
        keep = (pos[data.edge_index[0]] >= 0) & (pos[data.edge_index[1]] >= 0)
        w = data.edge_weight if weighted else torch.ones(data.num_edges)
        adj = torch.zeros(n, n, dtype=torch.float64)
        ei = pos[data.edge_index[:, keep]]
        adj.index_put_((ei[1], ei[0]), w[keep].double(), accumulate=True)
        torch.testing.assert_close(_dense(block, n), _reference(adj, lam), rtol=1e-6, atol=0)
        loops = block.edge_index[0] == block.edge_index[1]
        assert bool((block.e_id[loops] == -1).all()) and bool((block.e_id[~loops] >= 0).all())


def test_existing_self_loops_are_the_identity_entries(small_graph):
    """A node's own self-loop edge stands for its entry of ``A + I`` (as PyG's
    ``add_remaining_self_loops`` treats it): one loop per node, the graph's one keeps its
    ``e_id``."""
    sampler = ClusterGCNSampler(small_graph, 1, diag_lambda=1.0, seed=0)
    block = sampler.sample().blocks[0]
    n_id = sampler.sample().n_id
    src, dst = block.edge_index
    loops = src == dst
    assert sorted(n_id[src[loops]].tolist()) == list(range(60))
    graph_loops = n_id[src[loops & (block.e_id >= 0)]]
    assert sorted(graph_loops.tolist()) == [0, 5]
    deg = torch.bincount(n_id[dst], minlength=60).double()  # every in-edge of A + I
    diag = torch.zeros(60, dtype=torch.float64)
    diag[n_id[src[loops]]] = block.edge_weight[loops].double()
    torch.testing.assert_close(diag, 2.0 / deg)  # (1 + lambda) / (d + 1)
    rows = torch.zeros(60, dtype=torch.float64).index_add_(0, n_id[dst], block.edge_weight.double())
    torch.testing.assert_close(rows, 1.0 + 1.0 / deg)  # rows of Ã sum to 1, plus lambda Ã_vv


def test_without_enhancement_the_model_normalises(small_graph):
    block = ClusterGCNSampler(small_graph, 3, seed=0).sample().blocks[0]
    assert not block.weights_final and block.edge_weight is None


def test_cora_diagonal(data_root, session_cache):
    """On Cora (one cluster: the whole graph) with lambda = 0.5 the diagonal is
    ``1.5 / (d_v + 1)``: 0.5 for a node of degree 2 (the former symmetric form gave
    ``1.5 / (d_v + 2.5)``, 0.429)."""
    from spikegraph.datasets.planetoid import load_planetoid

    data = load_planetoid("Cora", root=data_root, cache_dir=session_cache)[0]
    sampler = ClusterGCNSampler(data, 1, diag_lambda=0.5, seed=0)
    batch = sampler.sample()
    block = batch.blocks[0]
    src, dst = block.edge_index
    loops = src == dst
    diag = torch.zeros(data.num_nodes, dtype=torch.float64)
    diag[batch.n_id[src[loops]]] = block.edge_weight[loops].double()
    deg = torch.bincount(data.edge_index[1], minlength=data.num_nodes).double()
    torch.testing.assert_close(diag, 1.5 / (deg + 1), rtol=1e-6, atol=0)
    two = deg == 2
    assert int(two.sum()) > 100
    torch.testing.assert_close(diag[two], torch.full((int(two.sum()),), 0.5, dtype=torch.float64))
