"""Test graphs and the batch invariants every sampler must satisfy (shared by tests)."""

from __future__ import annotations

import networkx as nx
import torch
from torch_geometric.data import Data

from spikegraph.samplers import Batch


def graph_from_networkx(g: nx.Graph | nx.DiGraph, num_nodes: int) -> Data:
    """A PyG graph (both directions for undirected graphs) whose features are the node ids."""
    edges = list(g.edges())
    if not g.is_directed():
        edges = edges + [(v, u) for u, v in edges if u != v]
    ei = torch.tensor(edges, dtype=torch.long).t().reshape(2, -1)
    x = torch.arange(num_nodes, dtype=torch.float).view(-1, 1)
    return Data(x=x, edge_index=ei, num_nodes=num_nodes)


def edge_set(data: Data) -> set[tuple[int, int]]:
    return set(map(tuple, data.edge_index.t().tolist()))


def check_batch(
    batch: Batch,
    data: Data,
    num_layers: int,
    graph_edges: bool = True,
    disjoint: bool = False,
    induced: bool = False,
) -> None:
    """Assert the invariants of the batch type on ``batch``.

    Args:
        graph_edges: Sampled edges are graph edges (all but PinSAGE); ``e_id`` points to them.
        disjoint: Subgraphs may repeat nodes (ShaDow): distinct per ``node_batch`` instead.
        induced: Block 0 is an induced subgraph: it holds every graph edge among its nodes
            (per subgraph when ``disjoint``).
    """
    n = data.num_nodes
    n_id = batch.n_id
    assert n_id.dtype == torch.long and n_id.dim() == 1
    assert int(n_id.min()) >= 0 and int(n_id.max()) < n
    keys = n_id if not disjoint else batch.node_batch * n + n_id
    assert keys.unique().numel() == n_id.numel(), "nodes repeat"
    # Features carry the original ids.
    assert torch.equal(data.x[n_id, 0].long(), n_id)

    assert len(batch.blocks) == num_layers
    edges = edge_set(data)
    prev_dst = n_id.numel()
    block0 = set(map(tuple, batch.blocks[0].edge_index.t().tolist()))
    for i, block in enumerate(batch.blocks):
        num_src, num_dst = block.size
        assert num_src == prev_dst, f"block {i} sources {num_src} != previous targets {prev_dst}"
        assert num_dst <= num_src
        prev_dst = num_dst
        src, dst = block.edge_index
        if block.num_edges:
            assert int(src.min()) >= 0 and int(src.max()) < num_src
            assert int(dst.min()) >= 0 and int(dst.max()) < num_dst
        assert set(map(tuple, block.edge_index.t().tolist())) <= block0, "blocks not nested"
        for w in (block.edge_weight,):
            if w is not None:
                assert w.shape == (block.num_edges,)
                assert bool(torch.isfinite(w).all()) and bool((w > 0).all())
        gsrc, gdst = n_id[src], n_id[dst]
        if graph_edges:
            assert block.e_id is not None and block.e_id.shape == (block.num_edges,)
            real = block.e_id >= 0
            # e_id points at the very edge; -1 only for added self-loops.
            assert torch.equal(data.edge_index[0, block.e_id[real]], gsrc[real])
            assert torch.equal(data.edge_index[1, block.e_id[real]], gdst[real])
            assert torch.equal(gsrc[~real], gdst[~real])
            for u, v in zip(gsrc[real].tolist(), gdst[real].tolist()):
                assert (u, v) in edges
    # Targets: the first outputs of the last block.
    t = batch.num_targets
    assert t <= batch.blocks[-1].size[1]
    assert torch.equal(n_id[:t], batch.target)
    if batch.loss_weight is not None:
        assert batch.loss_weight.shape == (t,)
        assert bool(torch.isfinite(batch.loss_weight).all()) and bool((batch.loss_weight > 0).all())
    if induced:
        group = batch.node_batch if disjoint else torch.zeros_like(n_id)
        where = {(int(g), int(v)): i for i, (g, v) in enumerate(zip(group, n_id))}
        real = batch.blocks[0].e_id >= 0
        have = set(map(tuple, batch.blocks[0].edge_index[:, real].t().tolist()))
        for u, v in edges:
            for g in set(group.tolist()):
                if (g, u) in where and (g, v) in where:
                    assert (where[(g, u)], where[(g, v)]) in have, f"edge {u}->{v} missing"


def same_batch(a: Batch, b: Batch) -> bool:
    if not torch.equal(a.n_id, b.n_id) or not torch.equal(a.target, b.target):
        return False
    for x, y in zip(a.blocks, b.blocks):
        if x.size != y.size or not torch.equal(x.edge_index, y.edge_index):
            return False
        if (x.edge_weight is None) != (y.edge_weight is None):
            return False
        if x.edge_weight is not None and not torch.equal(x.edge_weight, y.edge_weight):
            return False
    if (a.loss_weight is None) != (b.loss_weight is None):
        return False
    return a.loss_weight is None or torch.equal(a.loss_weight, b.loss_weight)
