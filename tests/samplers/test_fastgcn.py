"""FastGCN: the GCN operator it samples from, its unbiased estimator, and its batches.

Statistical tests use fixed seeds and tolerances derived from the sample size (standard
errors; a z-bound of 4.5 per checked quantity).
"""

from __future__ import annotations

import pytest
import torch
from layerwise_checks import (
    check_layerwise_batch,
    chi2_bound,
    dense_gcn_operator,
    unbiased_check,
    unbiased_graph,
)

from spikegraph.samplers import SAMPLERS, FastGCNSampler, LADIESSampler, Loader
from spikegraph.samplers._layerwise import (
    UnreachableLayerError,
    column_sq_norms,
    gcn_normalized_adjacency,
)
from spikegraph.samplers.graph import to_csr


def dense(adj) -> torch.Tensor:
    row = torch.repeat_interleave(torch.arange(adj.num_nodes), adj.rowptr.diff())
    out = torch.zeros(adj.num_nodes, adj.num_nodes, dtype=torch.float64)
    return out.index_put_((row, adj.col), adj.val.double(), accumulate=True)


def _weighted(data):
    gen = torch.Generator().manual_seed(4)
    data.edge_weight = torch.rand(data.edge_index.size(1), generator=gen) + 0.5
    return data


@pytest.mark.parametrize("loops", [True, False])
@pytest.mark.parametrize("which", ["small", "directed", "weighted"])
def test_normalized_adjacency_is_pygs_gcn_norm(which, loops, small_graph, directed_graph):
    data = {"small": small_graph, "directed": directed_graph}.get(which)
    if which == "weighted":
        data = _weighted(small_graph)  # self-loops of the graph keep their own weight
    adj = gcn_normalized_adjacency(
        to_csr(data.edge_index, data.num_nodes), getattr(data, "edge_weight", None), loops
    )
    expected = dense_gcn_operator(data, add_self_loops=loops)
    assert torch.allclose(dense(adj), expected, atol=1e-6)
    assert bool((adj.val > 0).all())
    # Every entry points at its edge, or is an added self-loop.
    row = torch.repeat_interleave(torch.arange(adj.num_nodes), adj.rowptr.diff())
    real = adj.eid >= 0
    assert torch.equal(data.edge_index[0, adj.eid[real]], adj.col[real])
    assert torch.equal(data.edge_index[1, adj.eid[real]], row[real])
    assert torch.equal(adj.col[~real], row[~real])
    if loops:  # exactly one self-loop per node
        assert int((adj.col == row).sum()) == data.num_nodes


def test_importance_is_the_squared_column_norm(small_graph):
    sampler = FastGCNSampler(small_graph, [5, 5], seed=0)
    a = dense_gcn_operator(small_graph)
    q = a.square().sum(0)
    assert torch.allclose(column_sq_norms(sampler.adj), q, rtol=1e-5)
    assert torch.allclose(sampler.importance, q / q.sum(), rtol=1e-5)


def test_estimates_ahat_h_without_bias():
    data, h, seeds = unbiased_graph()
    stats = unbiased_check(FastGCNSampler(data, [15, 15], seed=0), data, h, seeds, reps=2000)
    bound = chi2_bound(seeds.numel())
    # The error of the mean falls like 1/sqrt(S): within its standard error at S/4 and at S.
    assert max(stats["ah"]) < bound, stats
    assert max(stats["a2h"]) < bound, stats
    # The check can fail: renormalising the block's weights per target is caught.
    assert stats["renorm"][1] > bound, stats


def test_weights_are_counts_over_s_q(small_graph):
    """Every weight is c_u Â_vu / (s q(u)) with c_u a positive integer, the same for every
    target of source u, and the counts of a layer add up to s."""
    s = 12
    sampler = FastGCNSampler(small_graph, [s, s], seed=3)
    a = dense_gcn_operator(small_graph)
    q = a.square().sum(0) / a.square().sum()
    seeds = torch.tensor([0, 5, 7, 20, 33])
    for _ in range(5):
        batch = sampler.sample(seeds)
        uppers = [*batch.layer_n_id[1:], seeds]
        for block, src_ids, dst_ids in zip(batch.blocks, batch.layer_n_id, uppers):
            u, v = src_ids[block.edge_index[0]], dst_ids[block.edge_index[1]]
            c = block.edge_weight.double() * s * q[u] / a[v, u]
            assert torch.allclose(c, c.round(), atol=1e-4) and bool((c.round() >= 1).all())
            per_src = torch.zeros(src_ids.numel(), dtype=torch.float64)
            per_src[block.edge_index[0]] = c.round()
            assert torch.equal(per_src[block.edge_index[0]], c.round())  # one c_u per source
            assert float(per_src.sum()) <= s


@pytest.mark.parametrize("graph", ["small_graph", "directed_graph"])
def test_batches_keep_the_contract(graph, request):
    data = request.getfixturevalue(graph)
    sampler = FastGCNSampler(data, [6, 4, 5], seed=0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        seeds = torch.randperm(data.num_nodes, generator=gen)[:7]
        batch = sampler.sample(seeds)
        check_layerwise_batch(batch, data, seeds, 3)
        for block, s in zip(batch.blocks, sampler.layer_sizes):
            assert 1 <= block.size[0] <= s
        assert not batch.nested
        with pytest.raises(ValueError, match="do not nest"):
            batch.subgraph()


def test_same_seed_same_batches(small_graph):
    seeds = torch.arange(10)

    def draw(seed):
        sampler = FastGCNSampler(small_graph, [8, 8], seed=seed)
        return [sampler.sample(seeds) for _ in range(3)]

    def key(batch):
        return [t.tolist() for t in batch.layer_n_id] + [
            b.edge_weight.tolist() for b in batch.blocks
        ]

    assert [key(b) for b in draw(1)] == [key(b) for b in draw(1)]
    assert [key(b) for b in draw(1)] != [key(b) for b in draw(2)]


def test_loader_makes_every_training_node_a_target_once(small_graph):
    train = torch.arange(0, 60, 3)
    loader = Loader(
        FastGCNSampler(small_graph, [8, 8], seed=0), seeds=train, batch_size=6, shuffle=True, seed=0
    )
    for _ in range(2):
        targets = torch.cat([b.target for b in loader])
        assert torch.equal(targets.sort().values, train)


def test_errors(small_graph):
    with pytest.raises(ValueError, match=r"'layer_sizes\[1\]' must be >= 1, got 0"):
        FastGCNSampler(small_graph, [4, 0])
    with pytest.raises(ValueError, match="'layer_sizes' must be >= 1, got -3"):
        FastGCNSampler(small_graph, -3, num_layers=2)
    with pytest.raises(ValueError, match=r"has 3 sizes \(\[4, 4, 4\]\) for num_layers=2"):
        FastGCNSampler(small_graph, [4, 4, 4], num_layers=2)
    with pytest.raises(ValueError, match="give 'num_layers'"):
        FastGCNSampler(small_graph, 4)
    with pytest.raises(ValueError, match="empty list"):
        FastGCNSampler(small_graph, [])
    with pytest.raises(TypeError, match="'layer_sizes' must be an int or a list"):
        FastGCNSampler(small_graph, "4")
    with pytest.raises(TypeError, match=r"'layer_sizes\[0\]' must be an int"):
        FastGCNSampler(small_graph, [4.0, 4])
    with pytest.raises(TypeError, match="'add_self_loops' must be a bool"):
        FastGCNSampler(small_graph, [4], add_self_loops=1)
    sampler = FastGCNSampler(small_graph, 4, num_layers=2)
    assert sampler.layer_sizes == [4, 4]
    with pytest.raises(ValueError, match="'seeds' holds node id 60, out of range for 60 nodes"):
        sampler.sample(torch.tensor([3, 60]))
    with pytest.raises(ValueError, match="'seeds' holds node id -1"):
        sampler.sample(torch.tensor([-1, 2]))
    with pytest.raises(ValueError, match="'seeds' holds node id 3 more than once"):
        sampler.sample(torch.tensor([3, 3]))


def test_a_layer_that_reaches_no_neighbour_is_an_error(small_graph):
    # Without self-loops the isolated nodes 57-59 aggregate nothing.
    sampler = FastGCNSampler(small_graph, [4, 4], add_self_loops=False, seed=0)
    with pytest.raises(UnreachableLayerError, match="layer 1: none of the 2 nodes"):
        sampler.sample(torch.tensor([57, 58]))
    empty = torch.empty(2, 0, dtype=torch.long)
    with pytest.raises(UnreachableLayerError, match="no entries"):
        FastGCNSampler(empty, [4], num_nodes=5, add_self_loops=False)
    # With self-loops every node reaches itself.
    FastGCNSampler(empty, [4], num_nodes=5).sample(torch.tensor([1])).validate()


def test_defaults_live_on_the_class():
    assert SAMPLERS["fastgcn"] is FastGCNSampler and SAMPLERS["ladies"] is LADIESSampler
    for cls in (FastGCNSampler, LADIESSampler):
        assert cls.nested is False and cls.takes_seeds and cls.per_layer_option == "layer_sizes"
        assert cls.default_batch_size == 512
        opts = cls.options_for(3)
        assert len(opts["layer_sizes"]) == 3
        opts["layer_sizes"].append(1)  # a copy: the class's defaults stay as they are
        assert len(cls.options_for(3)["layer_sizes"]) == 3
    assert FastGCNSampler.options_for(2) == {"layer_sizes": [8192, 8192]}
    assert LADIESSampler.options_for(2) == {"layer_sizes": [512, 512]}


def test_repr(small_graph):
    assert repr(FastGCNSampler(small_graph, [3, 2])) == (
        "FastGCNSampler(num_nodes=60, layer_sizes=[3, 2], add_self_loops=True)"
    )


@pytest.mark.parametrize("cls", [FastGCNSampler, LADIESSampler])
def test_an_exact_layer_computes_ahat_h_for_its_targets(cls, small_graph):
    """layer_sizes -1 (the input layer of FastGCN's authors' code, which precomputes ÂX):
    block 0 holds every in-neighbour with its exact coefficient, so aggregating over it gives
    (ÂX) of block 1's sources exactly, batch after batch; the sampled layer above stays a
    sampled, importance-weighted block."""
    sampler = cls(small_graph, [-1, 6], seed=0)
    exact = dense(sampler.adj) @ small_graph.x.double()
    for seeds in (torch.arange(10), torch.arange(30, 45)):
        batch = sampler.sample(seeds)
        check_layerwise_batch(batch, small_graph, seeds, 2)
        b0 = batch.blocks[0]
        h = small_graph.x.double()[batch.layer_n_id[0]]
        src, dst = b0.edge_index
        agg = torch.zeros(b0.size[1], h.size(1), dtype=torch.float64)
        agg.index_add_(0, dst, h[src] * b0.edge_weight.double().view(-1, 1))
        assert torch.allclose(agg, exact[batch.layer_n_id[1]], atol=1e-5)
        assert batch.blocks[1].size[0] <= 6 + (seeds.numel() if cls is LADIESSampler else 0)
    with pytest.raises(ValueError, match=r"'layer_sizes\[1\]' must be >= 1, got -2"):
        cls(small_graph, [-1, -2])
