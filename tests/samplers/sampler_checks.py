"""Test graphs and the batch invariants every sampler must satisfy (shared by tests)."""

from __future__ import annotations

import networkx as nx
import torch
from torch import Tensor
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


def gcn_operator(data: Data, dtype: torch.dtype = torch.float32) -> Tensor:
    """GCN's dense operator (PyG's ``gcn_norm`` with self-loops), row = target."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    ei, w = gcn_norm(data.edge_index, None, data.num_nodes, add_self_loops=True)
    a = torch.zeros(data.num_nodes, data.num_nodes, dtype=dtype)
    a[ei[1], ei[0]] = w.to(dtype)
    return a


def vrgcn_estimate(batch: Batch, layer: int, h: Tensor) -> Tensor:
    """VR-GCN's (plain control variate's) estimate of ``(Â h)`` for block ``layer``'s
    targets, from ``h`` over all nodes (global ``[N, F]``)."""
    from spikegraph.samplers.history import aggregate, control_variate_input

    block = batch.blocks[layer]
    args = control_variate_input(
        h[batch.layer_n_id[layer]], block.edge_index, block.edge_weight, block.size, block.history
    )
    return aggregate(args[0], args[1], args[2], block.size[1])


def edge_set(data: Data) -> set[tuple[int, int]]:
    return set(map(tuple, data.edge_index.t().tolist()))


def _global_dst(batch: Batch, i: int) -> Tensor:
    """Global ids of block ``i``'s targets (for the last block: of its first ``len(target)``)."""
    if i + 1 < len(batch.blocks):
        return layer_sources(batch, i + 1)
    return batch.target


def layer_sources(batch: Batch, i: int) -> Tensor:
    """Global ids of block ``i``'s sources: a prefix of ``n_id`` when the blocks nest."""
    if batch.nested:
        return batch.n_id[: batch.blocks[i].size[0]]
    return batch.layer_n_id[i]


def check_batch(
    batch: Batch,
    data: Data,
    num_layers: int,
    graph_edges: bool = True,
    disjoint: bool = False,
    induced: bool = False,
) -> None:
    """Assert the batch contract (:mod:`spikegraph.samplers.batch`) and what the batch's
    family promises on ``batch``.

    Every batch: ``validate(full=True)`` passes; ids in range and carried by the features;
    weights finite and positive; edges with ``e_id >= 0`` are those very graph edges (and
    ``-1`` only for self-loops); the targets are distinct. Nested batches: each block's
    targets are a prefix of its sources and block 0 holds every later block's edges.
    Batches that do not nest: ``layer_n_id`` names each block's sources, ``dst_index``
    points each target at its own row where it has one.

    Args:
        graph_edges: Sampled edges are graph edges (all but PinSAGE); ``e_id`` points to them.
        disjoint: Subgraphs may repeat nodes (ShaDow): distinct per ``node_batch`` instead.
        induced: Block 0 is an induced subgraph: it holds every graph edge among its nodes
            (per subgraph when ``disjoint``).
    """
    assert batch.validate(full=True) is batch
    n = data.num_nodes
    n_id = batch.n_id
    assert n_id.dtype == torch.long and n_id.dim() == 1
    assert int(n_id.min()) >= 0 and int(n_id.max()) < n
    keys = n_id if not disjoint else batch.node_batch * n + n_id
    assert keys.unique().numel() == n_id.numel(), "nodes repeat"
    # Features carry the original ids.
    assert torch.equal(data.x[n_id, 0].long(), n_id)
    t = batch.num_targets
    assert batch.target.unique().numel() == t, "targets repeat"
    assert int(batch.target.min()) >= 0 and int(batch.target.max()) < n

    assert len(batch.blocks) == num_layers
    edges = edge_set(data)
    if batch.nested:
        assert batch.layer_n_id is None or all(
            torch.equal(ids, n_id[: ids.numel()]) for ids in batch.layer_n_id
        )
    else:
        assert batch.layer_n_id is not None, "a batch that does not nest names its layers' nodes"
        assert torch.equal(batch.layer_n_id[0], n_id)
    block0 = set(map(tuple, batch.blocks[0].edge_index.t().tolist()))
    for i, block in enumerate(batch.blocks):
        num_src, num_dst = block.size
        src, dst = block.edge_index
        gsrc_all = layer_sources(batch, i)
        assert gsrc_all.numel() == num_src
        if batch.nested:
            assert num_dst <= num_src and block.dst_index is None, "targets are a prefix"
            assert set(map(tuple, block.edge_index.t().tolist())) <= block0, "not nested"
            gdst_all = n_id[:num_dst]
        else:
            assert gsrc_all.unique().numel() == num_src, f"block {i}: sources repeat"
            gdst_all = _global_dst(batch, i)
            if block.dst_index is not None:  # each target's own row, where it has one
                has = block.dst_index[: gdst_all.numel()] >= 0
                own = gsrc_all[block.dst_index[: gdst_all.numel()][has]]
                assert torch.equal(own, gdst_all[has]), f"block {i}: dst_index points elsewhere"
        if block.edge_weight is not None:
            w = block.edge_weight
            assert bool(torch.isfinite(w).all()) and bool((w > 0).all()), f"block {i}: weights"
        # Edges whose target has a known global id (all but a last block's non-targets).
        known = dst < gdst_all.numel()
        gsrc, gdst = gsrc_all[src[known]], gdst_all[dst[known]]
        if graph_edges:
            assert block.e_id is not None and block.e_id.shape == (block.num_edges,)
            e_id = block.e_id[known]
            real = e_id >= 0
            # e_id points at the very edge; -1 only for added self-loops.
            assert torch.equal(data.edge_index[0, e_id[real]], gsrc[real])
            assert torch.equal(data.edge_index[1, e_id[real]], gdst[real])
            assert torch.equal(gsrc[~real], gdst[~real])
            for u, v in zip(gsrc[real].tolist(), gdst[real].tolist()):
                assert (u, v) in edges
    # Targets: the first outputs of the last block.
    assert t <= batch.blocks[-1].size[1]
    if batch.nested:
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


def _same(x: Tensor | None, y: Tensor | None) -> bool:
    return (x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))


def same_batch(a: Batch, b: Batch) -> bool:
    """Whether two batches are equal in every field of the contract."""
    if not torch.equal(a.n_id, b.n_id) or not torch.equal(a.target, b.target):
        return False
    if a.nested != b.nested or len(a.blocks) != len(b.blocks):
        return False
    for x, y in zip(a.blocks, b.blocks):
        if x.size != y.size or x.weights_final != y.weights_final:
            return False
        if not torch.equal(x.edge_index, y.edge_index):
            return False
        if not (_same(x.edge_weight, y.edge_weight) and _same(x.e_id, y.e_id)):
            return False
        if not _same(x.dst_index, y.dst_index):
            return False
    if (a.layer_n_id is None) != (b.layer_n_id is None):
        return False
    if a.layer_n_id is not None and not all(map(_same, a.layer_n_id, b.layer_n_id)):
        return False
    return _same(a.loss_weight, b.loss_weight) and _same(a.node_batch, b.node_batch)
