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
    largest = torch.empty(reps, seeds.numel())  # a biased estimator, for the power check
    for r in range(reps):
        batch = sampler.sample(seeds)
        s, d = batch.blocks[-1].edge_index
        values = data.x[batch.n_id[s]]
        agg = torch.zeros(seeds.numel()).index_add_(0, d, values)
        est[r] = agg / torch.bincount(d, minlength=seeds.numel())
        largest[r] = torch.full((seeds.numel(),), -torch.inf).scatter_reduce(0, d, values, "amax")
    mean, se = est.mean(0), est.std(0) / reps**0.5
    z = (mean - full_mean[seeds]) / se
    assert float(z.abs().max()) < Z, z
    # The test can fail: a biased estimator under the same draws (the largest sampled
    # neighbour's value instead of their mean, a max aggregator) is caught by the same test.
    biased_z = (largest.mean(0) - full_mean[seeds]) / (largest.std(0) / reps**0.5)
    assert float(biased_z.abs().max()) > Z, biased_z


def _saint_loss(sampler, data, reps: int, weighted: bool = True) -> float:
    """|z| of the normalised loss: ``E[sum_v loss_weight_v L_v] = mean_v L_v``.

    The aggregation's estimator is checked in ``test_saint_estimator.py``.
    """
    n = data.num_nodes
    loss_v = data.x.abs() + 1.0  # any fixed per-node loss
    losses = torch.empty(reps)
    for r in range(reps):
        batch = sampler.sample()
        lw = batch.loss_weight if weighted else torch.full_like(batch.loss_weight, 1.0 / n)
        losses[r] = (lw * loss_v[batch.target]).sum()
    want = loss_v.mean()
    var = losses.var() / reps
    norms = sampler.norms
    if not norms.exact:  # lambda's estimation error: relative variance about 1 / C_v
        var = var + (loss_v**2 / norms.node_count.clamp(min=1)).sum() / n**2
    return float(((losses.mean() - want) / var.sqrt()).abs())


@pytest.mark.parametrize(
    "make",
    [
        lambda d: GraphSAINTNodeSampler(d, 12, seed=0),
        lambda d: GraphSAINTEdgeSampler(d, 8, seed=0),
        lambda d: GraphSAINTRandomWalkSampler(d, 4, walk_length=2, sample_coverage=3000, seed=0),
    ],
    ids=["node", "edge", "rw"],
)
def test_graphsaint_loss_normalisation_is_unbiased(make):
    data = _graph(1)
    assert _saint_loss(make(data), data, reps=2000) < Z


def test_graphsaint_without_loss_normalisation_is_biased():
    """The test above can fail: dropping the normalisation is detected."""
    data = _graph(1)
    sampler = GraphSAINTRandomWalkSampler(data, 4, walk_length=2, sample_coverage=3000, seed=0)
    assert _saint_loss(sampler, data, reps=2000, weighted=False) > Z
