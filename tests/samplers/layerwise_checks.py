"""Checks shared by the layer-wise samplers' tests (FastGCN, LADIES)."""

from __future__ import annotations

import torch
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
