"""AS-GCN: unbiased given q, and its learned sampling function lowers the variance."""

from __future__ import annotations

import math

import networkx as nx
import pytest
import torch
from sampler_checks import graph_from_networkx
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from spikegraph.samplers import ASGCNSampler, BatchContractError, Loader
from spikegraph.samplers.history import aggregate

N = 80


@pytest.fixture(scope="module")
def graph() -> Data:
    """80 nodes, average degree 10; |h_u| depends on feature 0 (0.1 or 3)."""
    data = graph_from_networkx(nx.gnm_random_graph(N, 400, seed=5), N)
    gen = torch.Generator().manual_seed(0)
    big = torch.rand(N, generator=gen) < 0.3
    data.x = torch.stack([torch.where(big, 3.0, 0.1), torch.rand(N, generator=gen)], 1)
    return data


def a_hat(data: Data) -> torch.Tensor:
    ei, w = gcn_norm(data.edge_index, None, data.num_nodes, add_self_loops=True)
    a = torch.zeros(data.num_nodes, data.num_nodes, dtype=torch.float64)
    a[ei[1], ei[0]] = w.double()
    return a


def draws(sampler, seeds, h, runs):
    out = []
    for _ in range(runs):
        batch = sampler.sample(seeds)
        block = batch.blocks[-1]
        out.append(
            aggregate(
                h[batch.layer_n_id[-1]], block.edge_index, block.edge_weight.double(), block.size[1]
            )
        )
    return torch.stack(out)


def exact_variance(sampler, seeds, h, a, n):
    """sum_v Var_q[mu_v] of the one-layer estimator with n i.i.d. draws, in closed form."""
    batch = sampler.sample(seeds)
    d = batch.draws[-1]
    from spikegraph.samplers.asgcn import layer_distribution

    with torch.no_grad():
        q = layer_distribution(
            sampler._g_draw(sampler.x[d.support]).double(), d.column_sum, sampler.mix
        )
    sub = a[seeds][:, d.support]
    hs = h[d.support]
    second = ((sub**2).sum(0) * hs.pow(2).sum(1) / q).sum()
    mu = sub @ hs
    return float((second - mu.pow(2).sum()) / n)


def test_unbiased_given_q_and_after_training(graph):
    h = graph.x.double() * torch.tensor([1.0, -2.0], dtype=torch.float64)
    a = a_hat(graph)
    seeds = torch.arange(0, N, 4)
    exact = (a @ h)[seeds]
    runs = 600
    for learned in (False, True):
        sampler = ASGCNSampler(graph, [8], learn=False, seed=1)
        if learned:
            with torch.no_grad():
                sampler.g.weight.copy_(torch.tensor([1.0, 0.5]))
            sampler.sync()
        est = draws(sampler, seeds, h, runs)
        z = (est.mean(0) - exact).abs() / (est.var(0) / runs).sqrt().clamp_min(1e-9)
        assert float(z.max()) < 5.0, learned


def test_training_g_on_the_variance_loss_lowers_the_variance(graph):
    """Start: g = 1 (q from A only). After 150 Adam steps on the paper's variance loss, both
    the closed-form and the measured variance of the estimator fall, beyond sampling error."""
    h = graph.x.double()
    a = a_hat(graph)
    seeds = torch.arange(0, N, 4)
    n = 8
    sampler = ASGCNSampler(graph, [n], lr=0.05, seed=2)
    before = exact_variance(sampler, seeds, h, a, n)
    runs = 1000
    var_before = float(draws(sampler, seeds, h, runs).var(0).sum())
    loader = Loader(sampler, seeds=torch.arange(N), batch_size=20, shuffle=True, seed=0)
    for _ in range(38):  # 4 batches per epoch: ~150 steps of g
        for _batch in loader:
            pass
    sampler.sync()  # draw from the trained g
    after = exact_variance(sampler, seeds, h, a, n)
    var_after = float(draws(sampler, seeds, h, runs).var(0).sum())
    assert after < 0.7 * before, (before, after)
    rel = 5 * math.sqrt(2 / (runs - 1))
    assert var_after * (1 + rel) < var_before * (1 - rel), (var_before, var_after)
    assert float(sampler.g.weight[0].detach()) > 0  # learned: big |h| <- big feature 0


def test_batches_keep_the_layerwise_contract(graph):
    sampler = ASGCNSampler(graph, [10, 6], seed=0)
    batch = sampler.sample(torch.tensor([0, 1, 2])).validate()
    assert not batch.nested and batch.weights_final
    for i, block in enumerate(batch.blocks):
        assert block.size[0] == batch.layer_n_id[i].numel()
        upper = batch.layer_n_id[i + 1] if i + 1 < len(batch.blocks) else batch.target
        assert block.size[1] == upper.numel()
        real = block.dst_index >= 0
        assert torch.equal(batch.layer_n_id[i][block.dst_index[real]], upper[real])
        assert bool((block.edge_weight > 0).all())
        ok = block.e_id >= 0
        src = batch.layer_n_id[i][block.edge_index[0]]
        dst = upper[block.edge_index[1]]
        assert torch.equal(graph.edge_index[0, block.e_id[ok]], src[ok])
        assert torch.equal(graph.edge_index[1, block.e_id[ok]], dst[ok])
        assert torch.equal(src[~ok], dst[~ok])
    with pytest.raises(BatchContractError, match="do not nest"):
        batch.subgraph()
    with pytest.raises(ValueError, match="layer_sizes"):
        ASGCNSampler(graph, [4, 0])
    with pytest.raises(ValueError, match="node features x"):
        ASGCNSampler(graph.edge_index, [4], num_nodes=N)


def test_layer_sizes_read_as_fastgcn_and_ladies_read_them(graph):
    """Input layer first, or one int with num_layers: the docstring said "top layer first"
    and an int was refused, unlike the other layer-wise samplers."""
    batch = ASGCNSampler(graph, [3, 12], seed=0).sample(torch.arange(4))
    assert batch.blocks[0].size[0] <= 3 < batch.blocks[1].size[0]  # block 0: the input layer
    assert ASGCNSampler(graph, 5, num_layers=3).layer_sizes == [5, 5, 5]
    with pytest.raises(ValueError, match="give 'num_layers' too"):
        ASGCNSampler(graph, 5)
    with pytest.raises(ValueError, match=r"has 2 sizes \(\[4, 4\]\) for num_layers=3"):
        ASGCNSampler(graph, [4, 4], num_layers=3)
    with pytest.raises(ValueError, match=r"'layer_sizes' must all be >= 1, got \[-1, 4\]"):
        ASGCNSampler(graph, [-1, 4])
