"""Checks shared by the layer-wise samplers' tests (FastGCN, LADIES)."""

from __future__ import annotations

import math

import networkx as nx
import torch
from sampler_checks import graph_from_networkx
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from spikegraph.samplers import Batch

#: z-bound per checked statistic (a false alarm has probability below about 1e-5 each).
Z = 4.5


def dense_gcn_operator(data: Data, add_self_loops: bool = True) -> torch.Tensor:
    """``Â[v, u]`` as PyG's ``gcn_norm`` computes it, dense, float64."""
    ew = getattr(data, "edge_weight", None)
    ei, w = gcn_norm(data.edge_index, ew, data.num_nodes, add_self_loops=add_self_loops)
    a = torch.zeros(data.num_nodes, data.num_nodes, dtype=torch.float64)
    a.index_put_((ei[1], ei[0]), w.double(), accumulate=True)
    return a


def aggregate(block, h_src: torch.Tensor) -> torch.Tensor:
    """``sum_u w_vu h_u`` of a block with final weights, ``[num_dst, ...]``."""
    s, d = block.edge_index
    out = torch.zeros((block.size[1], *tuple(h_src.shape[1:])), dtype=torch.float64)
    w = block.edge_weight.double().view(-1, *([1] * (h_src.dim() - 1)))
    return out.index_add_(0, d, w * h_src.double().index_select(0, s))


def check_layerwise_batch(batch: Batch, data: Data, seeds: torch.Tensor, num_layers: int) -> None:
    """The promises of a layer-wise batch (see ``spikegraph.samplers.batch``)."""
    batch.validate()
    n = data.num_nodes
    assert batch.nested is False and batch.weights_final
    assert torch.equal(batch.target, seeds)
    assert len(batch.blocks) == num_layers and len(batch.layer_n_id) == num_layers
    assert torch.equal(batch.n_id, batch.layer_n_id[0])
    assert torch.equal(data.x[batch.n_id, 0].long(), batch.n_id)  # features carry the ids
    edges = set(map(tuple, data.edge_index.t().tolist()))
    uppers = [*list(batch.layer_n_id[1:]), seeds]
    for i, (block, src_ids, dst_ids) in enumerate(zip(batch.blocks, batch.layer_n_id, uppers)):
        assert src_ids.dtype == torch.long
        assert int(src_ids.min()) >= 0 and int(src_ids.max()) < n
        assert src_ids.unique().numel() == src_ids.numel(), f"block {i}: sources repeat"
        assert block.size == (src_ids.numel(), dst_ids.numel())
        assert block.weights_final
        w = block.edge_weight
        assert bool(torch.isfinite(w).all()) and bool((w > 0).all()), f"block {i}: weights"
        s, d = block.edge_index
        gs, gd = src_ids[s], dst_ids[d]
        real = block.e_id >= 0
        assert torch.equal(data.edge_index[0, block.e_id[real]], gs[real])
        assert torch.equal(data.edge_index[1, block.e_id[real]], gd[real])
        assert torch.equal(gs[~real], gd[~real]), "only added self-loops lack an e_id"
        for u, v in zip(gs[real].tolist(), gd[real].tolist()):
            assert (u, v) in edges
        pairs = gs * n + gd
        assert pairs.unique().numel() == pairs.numel(), f"block {i}: an edge repeats"
        # Where every target sits among the sources.
        if block.dst_index is None:
            assert torch.equal(src_ids[: dst_ids.numel()], dst_ids)
        else:
            have = block.dst_index >= 0
            assert torch.equal(src_ids[block.dst_index[have]], dst_ids[have])
            assert not bool(torch.isin(dst_ids[~have], src_ids).any())


def unbiased_graph():
    """100 nodes, 300 random edges, random features, 20 seeds."""
    data = graph_from_networkx(nx.gnm_random_graph(100, 300, seed=0), 100)
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(100, generator=gen, dtype=torch.float64)
    seeds = torch.randperm(100, generator=gen)[:20]
    return data, h, seeds


def chi2_bound(k: int) -> float:
    """Upper bound for a sum of ``k`` squared z-scores (normal approximation of chi2_k)."""
    return k + Z * math.sqrt(2 * k)


def unbiased_check(sampler, data, h, seeds, reps: int) -> dict[str, list[float]]:
    """Sum of squared z-scores of the mean estimates of ``(ÂH)[seeds]`` (last block) and
    ``(Â²H)[seeds]`` (both blocks) at ``reps // 4`` and ``reps`` batches, and of a biased
    estimator: the last block's weights renormalised per target, as a model that normalised
    the block itself would do."""
    a = dense_gcn_operator(data)
    exact = {"ah": (a @ h)[seeds], "a2h": (a @ a @ h)[seeds], "renorm": (a @ h)[seeds]}
    est = {k: torch.empty(reps, seeds.numel(), dtype=torch.float64) for k in exact}
    for r in range(reps):
        batch = sampler.sample(seeds)
        last = batch.blocks[-1]
        est["ah"][r] = aggregate(last, h[batch.layer_n_id[-1]])
        est["a2h"][r] = aggregate(last, aggregate(batch.blocks[0], h[batch.n_id]))
        w = last.edge_weight.double()
        rows = torch.zeros(last.size[1], dtype=torch.float64).index_add_(0, last.edge_index[1], w)
        last.edge_weight = w / rows[last.edge_index[1]]
        est["renorm"][r] = aggregate(last, h[batch.layer_n_id[-1]])
    out = {}
    for key, e in est.items():
        out[key] = []
        for count in (reps // 4, reps):
            mean, se = e[:count].mean(0), e[:count].std(0) / count**0.5
            out[key].append(float((((mean - exact[key]) / se) ** 2).sum()))
    return out
