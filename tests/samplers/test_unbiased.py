"""Statistical tests: the estimators the samplers promise are unbiased.

Fixed seeds; every tolerance is derived from the sample size (standard errors), with a
z-bound of 4.5 per checked quantity (a false alarm has probability below 1e-5 each).
"""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from sampler_checks import graph_from_networkx

from spikegraph.samplers import (
    GraphSAGESampler,
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
)

Z = 4.5


def _graph(seed: int = 0):
    g = nx.gnm_random_graph(40, 140, seed=seed)
    data = graph_from_networkx(g, 40)
    gen = torch.Generator().manual_seed(seed)
    data.x = torch.randn(40, generator=gen)
    return data


@pytest.mark.parametrize("replace", [False, True])
def test_graphsage_mean_aggregation_is_unbiased(replace):
    data = _graph()
    n, k = data.num_nodes, 3
    src, dst = data.edge_index
    deg = torch.bincount(dst, minlength=n)
    full_mean = torch.zeros(n).index_add_(0, dst, data.x[src]) / deg.clamp(min=1)
    seeds = (deg > k).nonzero().view(-1)  # nodes where sampling actually subsamples
    sampler = GraphSAGESampler(data, [k], replace=replace, seed=0)
    reps = 3000
    est = torch.empty(reps, seeds.numel())
    for r in range(reps):
        batch = sampler.sample(seeds)
        s, d = batch.blocks[-1].edge_index
        agg = torch.zeros(seeds.numel()).index_add_(0, d, data.x[batch.n_id[s]])
        est[r] = agg / torch.bincount(d, minlength=seeds.numel())
    mean, se = est.mean(0), est.std(0) / reps**0.5
    z = (mean - full_mean[seeds]) / se
    assert float(z.abs().max()) < Z, z
    # The test can fail: a biased estimator (the first neighbour's value) is caught.
    biased = est.amax(0)
    assert float(((biased - full_mean[seeds]) / se).abs().max()) > Z


def _saint_check(sampler, data, reps: int, weighted: bool = True) -> tuple[float, float]:
    """Max |z| of the normalised aggregation and of the normalised loss."""
    n = data.num_nodes
    src, dst = data.edge_index
    # A fixed full-graph aggregation: GCN coefficients times features.
    deg = torch.bincount(dst, minlength=n).float() + 1
    coef = 1.0 / (deg[src] * deg[dst]).sqrt()
    full = torch.zeros(n).index_add_(0, dst, coef * data.x[src])
    loss_v = data.x.abs() + 1.0  # any fixed per-node loss
    total = torch.zeros(n)
    total_sq = torch.zeros(n)
    hits = torch.zeros(n)
    losses = torch.empty(reps)
    for r in range(reps):
        batch = sampler.sample()
        block = batch.blocks[0]
        s, d = block.edge_index
        w = block.edge_weight if weighted else torch.ones(block.num_edges)
        h = torch.zeros(batch.n_id.numel()).index_add_(
            0, d, w * coef[block.e_id] * data.x[batch.n_id[s]]
        )
        total.index_add_(0, batch.n_id, h)
        total_sq.index_add_(0, batch.n_id, h**2)
        hits.index_add_(0, batch.n_id, torch.ones(batch.n_id.numel()))
        lw = batch.loss_weight if weighted else torch.full_like(batch.loss_weight, 1.0 / n)
        losses[r] = (lw * loss_v[batch.target]).sum()
    ok = hits > 30
    mean = total[ok] / hits[ok]
    var = total_sq[ok] / hits[ok] - mean**2
    # Error of the estimated alpha's: delta method on log(C_v / C_uv), Poisson counts.
    norms = sampler.norms
    cv, cuv = norms.node_count.float(), norms.edge_count.float().clamp(min=1)
    rel_var = 1.0 / cuv + 1.0 / cv[dst]
    alpha_var = torch.zeros(n).index_add_(0, dst, (coef * data.x[src]) ** 2 * rel_var)
    se = (var / hits[ok] + alpha_var[ok]).sqrt()
    z_agg = ((mean - full[ok]) / se).abs().max()
    # Loss: E[sum_v loss_weight_v L_v] = mean_v L_v; lambda's estimation error similarly.
    want = loss_v.mean()
    se_loss = (losses.var() / reps + (loss_v**2 / cv).sum() / n**2).sqrt()
    z_loss = ((losses.mean() - want) / se_loss).abs()
    return float(z_agg), float(z_loss)


@pytest.mark.parametrize(
    "make",
    [
        lambda d: GraphSAINTNodeSampler(d, 12, sample_coverage=3000, seed=0),
        lambda d: GraphSAINTEdgeSampler(d, 8, sample_coverage=3000, seed=0),
        lambda d: GraphSAINTRandomWalkSampler(d, 4, walk_length=2, sample_coverage=3000, seed=0),
    ],
    ids=["node", "edge", "rw"],
)
def test_graphsaint_normalisation_is_unbiased(make):
    data = _graph(1)
    sampler = make(data)
    z_agg, z_loss = _saint_check(sampler, data, reps=2000)
    assert z_agg < Z and z_loss < Z, (z_agg, z_loss)


def test_graphsaint_without_normalisation_is_biased():
    """The test above can fail: dropping the normalisations is detected."""
    data = _graph(1)
    sampler = GraphSAINTRandomWalkSampler(data, 4, walk_length=2, sample_coverage=3000, seed=0)
    z_agg, z_loss = _saint_check(sampler, data, reps=2000, weighted=False)
    assert z_agg > Z and z_loss > Z, (z_agg, z_loss)
