"""LADIES: layer-dependent importance sampling, its two estimators, its variance against
FastGCN's, and its batches.

Statistical tests use fixed seeds and tolerances derived from the sample size (standard
errors; a z-bound of 4.5 per checked quantity).
"""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from layerwise_checks import (
    Z,
    aggregate,
    check_layerwise_batch,
    chi2_bound,
    dense_gcn_operator,
    unbiased_check,
    unbiased_graph,
)
from sampler_checks import graph_from_networkx

from spikegraph.samplers import FastGCNSampler, LADIESSampler, Loader
from spikegraph.samplers._layerwise import (
    UnreachableLayerError,
    draw_iid,
    draw_without_replacement,
)


def test_draw_iid_follows_the_weights():
    w = torch.tensor([0.0, 1.0, 2.0, 0.0, 5.0, 2.0])
    count = 40_000
    draws = draw_iid(w, count, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=6).double()
    p = w.double() / w.sum()
    assert freq[p == 0].sum() == 0  # an outcome of weight 0 is never drawn
    se = (count * p * (1 - p)).sqrt()
    nz = p > 0
    assert float(((freq[nz] - count * p[nz]) / se[nz]).abs().max()) < Z


def test_draw_without_replacement_is_sequential_choice():
    w = torch.tensor([1.0, 3.0, 6.0])
    gen = torch.Generator().manual_seed(0)
    reps = 20_000
    first = torch.empty(reps, dtype=torch.long)
    pairs = torch.zeros(3, dtype=torch.double)  # the outcome left out of 2 draws
    for r in range(reps):
        picks = draw_without_replacement(w, 2, gen)
        assert picks.numel() == 2 and picks[0] < picks[1]  # distinct, sorted
        first[r] = draw_without_replacement(w, 1, gen)
        pairs[3 - int(picks.sum())] += 1
    p = w.double() / w.sum()
    freq = torch.bincount(first, minlength=3).double()
    assert float(((freq - reps * p) / (reps * p * (1 - p)).sqrt()).abs().max()) < Z
    # P(i left out) = sum_{j != i} p_j p_k / (1 - p_j) with {j, k} the other two.
    left = torch.stack(
        [
            sum(p[j] * p[k] / (1 - p[j]) for j in range(3) for k in range(3) if len({i, j, k}) == 3)
            for i in range(3)
        ]
    )
    assert float(((pairs - reps * left) / (reps * left * (1 - left)).sqrt()).abs().max()) < Z
    assert torch.equal(draw_without_replacement(w, 5, gen), torch.arange(3))  # all of them


def test_unbiased_variant_estimates_ahat_h_without_bias():
    data, h, seeds = unbiased_graph()
    sampler = LADIESSampler(data, [15, 15], unbiased=True, seed=0)
    stats = unbiased_check(sampler, data, h, seeds, reps=2000)
    bound = chi2_bound(seeds.numel())
    assert max(stats["ah"]) < bound, stats
    assert max(stats["a2h"]) < bound, stats
    assert stats["renorm"][1] > bound, stats  # the check can fail


def test_authors_variant_is_biased_and_row_normalised():
    data, h, seeds = unbiased_graph()
    stats = unbiased_check(LADIESSampler(data, [15, 15], seed=0), data, h, seeds, reps=400)
    assert stats["ah"][1] > chi2_bound(seeds.numel()), stats  # rows sum to 1: not ÂH


def test_weights_follow_the_layer_dependent_importance(small_graph):
    """Each block's weights from a dense re-computation of q(u) ∝ ||Q Â[:, u]||²."""
    a = dense_gcn_operator(small_graph)
    seeds = torch.tensor([0, 5, 7, 20, 33, 41])
    s = 6
    for unbiased in (False, True):
        sampler = LADIESSampler(small_graph, [s, s], unbiased=unbiased, seed=1)
        for _ in range(5):
            batch = sampler.sample(seeds)
            uppers = [*batch.layer_n_id[1:], seeds]
            for block, src_ids, dst_ids in zip(batch.blocks, batch.layer_n_id, uppers):
                rows = a[dst_ids]  # Q Â
                q = rows.square().sum(0) / rows.square().sum()
                si, di = block.edge_index
                u, v = src_ids[si], dst_ids[di]
                # All entries of Q Â whose source is in the layer are edges of the block.
                assert int((rows[:, src_ids] > 0).sum()) == block.num_edges
                assert bool((q[src_ids[: dst_ids.numel()] if not unbiased else src_ids] > 0).all())
                w = block.edge_weight.double()
                if unbiased:  # c_u Â_vu / (s q(u)), c_u >= 1 an integer, one per source
                    c = w * s * q[u] / a[v, u]
                    assert torch.allclose(c, c.round(), atol=1e-4)
                    assert bool((c.round() >= 1).all())
                    per_src = torch.zeros(src_ids.numel(), dtype=torch.float64)
                    per_src[si] = c.round()
                    assert torch.equal(per_src[si], c.round()) and float(per_src.sum()) <= s
                else:  # Â_vu / q(u), rows normalised
                    raw = a[v, u] / q[u]
                    tot = torch.zeros(dst_ids.numel(), dtype=torch.float64).index_add_(0, di, raw)
                    assert torch.allclose(w, raw / tot[di], rtol=1e-5)
                    sums = torch.zeros(dst_ids.numel(), dtype=torch.float64).index_add_(0, di, w)
                    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)


def test_lower_variance_than_fastgcn_on_a_sparse_graph():
    """The LADIES paper's claim: at the same layer size, on a sparse graph, the estimate of
    ÂH for the layer above has a far lower mean squared error than FastGCN's."""
    data = graph_from_networkx(nx.gnm_random_graph(2000, 4000, seed=0), 2000)
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(2000, generator=gen, dtype=torch.float64)
    seeds = torch.randperm(2000, generator=gen)[:32]
    exact = (dense_gcn_operator(data) @ h)[seeds]
    reps = 300

    def mse(sampler) -> tuple[float, float]:
        """Mean over batches of ||estimate - ÂH||², and its standard error."""
        d = torch.empty(reps, dtype=torch.float64)
        for r in range(reps):
            batch = sampler.sample(seeds)
            est = aggregate(batch.blocks[-1], h[batch.layer_n_id[-1]])
            d[r] = (est - exact).square().sum()
        return float(d.mean()), float(d.std()) / reps**0.5

    fast = mse(FastGCNSampler(data, [64], seed=0))
    for unbiased in (True, False):
        ladies = mse(LADIESSampler(data, [64], unbiased=unbiased, seed=0))
        assert ladies[0] + Z * ladies[1] < fast[0] - Z * fast[1], (unbiased, ladies, fast)
        assert ladies[0] < fast[0] / 4, (unbiased, ladies, fast)


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("graph", ["small_graph", "directed_graph"])
def test_batches_keep_the_contract(graph, unbiased, request):
    data = request.getfixturevalue(graph)
    sizes = [6, 4, 5]
    sampler = LADIESSampler(data, sizes, unbiased=unbiased, seed=0)
    gen = torch.Generator().manual_seed(0)
    a = dense_gcn_operator(data)
    for _ in range(10):
        seeds = torch.randperm(data.num_nodes, generator=gen)[:7]
        batch = sampler.sample(seeds)
        check_layerwise_batch(batch, data, seeds, 3)
        uppers = [*batch.layer_n_id[1:], seeds]
        for block, src_ids, dst_ids, s in zip(batch.blocks, batch.layer_n_id, uppers, sizes):
            # Only in-neighbours of the layer above are drawn, each with an edge into it.
            drawn = src_ids if unbiased else src_ids[dst_ids.numel() :]
            assert bool((a[dst_ids][:, drawn] > 0).any(0).all())
            assert drawn.numel() <= s  # the authors' variant: the drawn nodes not above
            assert drawn.numel() >= 1 or not unbiased
            if unbiased:
                assert block.dst_index is not None
            else:
                assert block.dst_index is None  # the layer above comes first
                assert not bool(torch.isin(drawn, dst_ids).any())


def test_same_seed_same_batches(small_graph):
    seeds = torch.arange(10)

    def draw(seed, unbiased):
        sampler = LADIESSampler(small_graph, [8, 8], unbiased=unbiased, seed=seed)
        return [
            [t.tolist() for t in b.layer_n_id] + [k.edge_weight.tolist() for k in b.blocks]
            for b in (sampler.sample(seeds) for _ in range(3))
        ]

    for unbiased in (False, True):
        assert draw(1, unbiased) == draw(1, unbiased)
        assert draw(1, unbiased) != draw(2, unbiased)


@pytest.mark.parametrize("unbiased", [False, True])
def test_loader_makes_every_training_node_a_target_once(small_graph, unbiased):
    train = torch.arange(1, 60, 3)
    sampler = LADIESSampler(small_graph, [8, 8], unbiased=unbiased, seed=0)
    loader = Loader(sampler, seeds=train, batch_size=6, shuffle=True, seed=0)
    for _ in range(2):
        targets = torch.cat([b.target for b in loader])
        assert torch.equal(targets.sort().values, train)


def test_errors(small_graph):
    with pytest.raises(ValueError, match=r"'layer_sizes\[0\]' must be >= 1, got 0"):
        LADIESSampler(small_graph, [0, 4])
    with pytest.raises(ValueError, match=r"has 1 sizes \(\[4\]\) for num_layers=2"):
        LADIESSampler(small_graph, [4], num_layers=2)
    with pytest.raises(ValueError, match="'num_layers' must be >= 1, got 0"):
        LADIESSampler(small_graph, 4, num_layers=0)
    with pytest.raises(TypeError, match="'unbiased' must be a bool"):
        LADIESSampler(small_graph, [4], unbiased="yes")
    sampler = LADIESSampler(small_graph, [4, 4])
    with pytest.raises(ValueError, match="'seeds' holds node id 99, out of range for 60 nodes"):
        sampler.sample(torch.tensor([99]))
    with pytest.raises(TypeError, match="not a mask"):
        sampler.sample(torch.ones(60, dtype=torch.bool))


def test_a_layer_that_reaches_no_neighbour_is_an_error():
    # 5 -> 4 -> 0 -> 1 -> 2 -> 3 without self-loops: node 5 has in-degree 0, so (as in PyG's
    # gcn_norm) Â_45 = 0 and row 4 of Â is empty.
    edge_index = torch.tensor([[5, 4, 0, 1, 2], [4, 0, 1, 2, 3]])
    for unbiased in (False, True):
        sampler = LADIESSampler(
            edge_index, [3, 3], num_nodes=6, add_self_loops=False, unbiased=unbiased, seed=0
        )
        sampler.sample(torch.tensor([3])).validate()  # 3 <- 2 <- 1: fine
        if unbiased:  # the authors' variant keeps 0 in layer 0, and 0 <- 4 is an entry
            with pytest.raises(UnreachableLayerError, match="layer 0: none of the 1 nodes"):
                sampler.sample(torch.tensor([0]))  # 0 <- 4 <- nothing
        with pytest.raises(UnreachableLayerError, match="layer 1: none of the 1 nodes"):
            sampler.sample(torch.tensor([4]))


def test_repr(small_graph):
    assert repr(LADIESSampler(small_graph, [3, 2], unbiased=True)) == (
        "LADIESSampler(num_nodes=60, layer_sizes=[3, 2], unbiased=True, add_self_loops=True)"
    )
