"""GraphSAINT's normalisations: closed forms against exact enumeration and Monte Carlo,
estimated norms with their stated error, and the weights a batch carries."""

from __future__ import annotations

import itertools
import logging

import networkx as nx
import pytest
import torch
from sampler_checks import graph_from_networkx
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from spikegraph.samplers import (
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
)

Z = 5.0  # per checked quantity, many quantities: a false alarm below 1e-4 in all


def _tiny() -> Data:
    """5 nodes: a triangle 0-1-2, a tail 2-3-4, a self-loop on 4, one directed edge 4 -> 0."""
    pairs = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4)]
    edges = pairs + [(b, a) for a, b in pairs] + [(4, 4), (4, 0)]
    return Data(edge_index=torch.tensor(edges).t().contiguous(), num_nodes=5)


def _enumerate(outcomes: list[set[int]], probs: torch.Tensor, budget: int, data: Data):
    """Exact ``P_v`` and ``P_{u,v}`` by enumerating every sequence of ``budget`` draws;
    draw ``i`` adds the nodes ``outcomes[i]``."""
    n = data.num_nodes
    node = torch.zeros(n, dtype=torch.float64)
    edge = torch.zeros(data.edge_index.size(1), dtype=torch.float64)
    pairs = data.edge_index.t().tolist()
    for seq in itertools.product(range(len(outcomes)), repeat=budget):
        pr = float(torch.prod(probs[list(seq)]))
        nodes = set().union(*(outcomes[i] for i in seq))
        for v in nodes:
            node[v] += pr
        for e, (u, v) in enumerate(pairs):
            if u in nodes and v in nodes:
                edge[e] += pr
    return node, edge


def _check_against(sampler, node, edge, data):
    norms = sampler.norms
    assert norms.exact and norms.node_count is None
    torch.testing.assert_close(norms.node_prob, node, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(norms.edge_prob, edge, rtol=1e-9, atol=1e-12)
    want_edge = node[data.edge_index[1]] / edge
    want_node = 1.0 / (node * data.num_nodes)
    torch.testing.assert_close(norms.edge_norm, want_edge.float(), rtol=1e-6, atol=0)
    torch.testing.assert_close(norms.node_norm, want_node.float(), rtol=1e-6, atol=0)


def test_node_sampler_norms_are_exact_by_default():
    data = _tiny()
    sampler = GraphSAINTNodeSampler(data, 3, seed=0)
    probs = sampler._table.probabilities()
    node, edge = _enumerate([{v} for v in range(5)], probs, 3, data)
    _check_against(sampler, node, edge, data)
    assert sampler.norms.mean_targets == pytest.approx(float(node.sum()))


def test_edge_sampler_norms_are_exact_by_default():
    data = _tiny()
    sampler = GraphSAINTEdgeSampler(data, 2, seed=0)
    probs = sampler._table.probabilities()
    outcomes = [{u, v} for u, v in data.edge_index.t().tolist()]
    node, edge = _enumerate(outcomes, probs, 2, data)
    _check_against(sampler, node, edge, data)


@pytest.mark.parametrize(
    "make",
    [
        lambda d, **kw: GraphSAINTNodeSampler(d, 30, **kw),
        lambda d, **kw: GraphSAINTEdgeSampler(d, 15, **kw),
    ],
    ids=["node", "edge"],
)
def test_closed_forms_agree_with_monte_carlo(make):
    """Pre-sampling counts are binomial: ``C ~ Binomial(num_samples, P)`` for every node and
    edge; the closed forms must sit within the binomial spread of the counts."""
    g = nx.barabasi_albert_graph(150, 2, seed=3)
    data = graph_from_networkx(g, 150)
    exact = make(data, seed=0).norms
    est = make(data, norms="estimate", sample_coverage=20000, seed=1).norms
    n = est.num_samples
    for count, prob in ((est.node_count, exact.node_prob), (est.edge_count, exact.edge_prob)):
        sd = (n * prob * (1 - prob)).sqrt()
        z = (count.double() - n * prob) / sd
        assert float(z.abs().max()) < Z, float(z.abs().max())
    # The check can fail: a probability 5% off is caught.
    z_off = (est.node_count.double() - n * exact.node_prob * 1.05) / (
        n * exact.node_prob * (1 - exact.node_prob)
    ).sqrt()
    assert float(z_off.abs().max()) > Z


def test_estimated_norms_have_the_stated_error():
    """``norm_errors`` is the relative standard error of the estimated ``1 / alpha`` and
    ``1 / lambda``: the errors against the closed forms, divided by it, have unit spread."""
    g = nx.barabasi_albert_graph(150, 2, seed=3)
    data = graph_from_networkx(g, 150)
    exact = GraphSAINTNodeSampler(data, 30, seed=0)
    est = GraphSAINTNodeSampler(data, 30, norms="estimate", sample_coverage=300, seed=1)
    edge_err, node_err = est.norm_errors()
    for got, want, err in (
        (est.norms.edge_norm, exact.norms.edge_norm, edge_err),
        (est.norms.node_norm, exact.norms.node_norm, node_err),
    ):
        keep = (err > 0) & torch.isfinite(err)
        z = (got.double() / want.double() - 1)[keep] / err[keep]
        assert float(z.abs().max()) < Z
        assert 0.8 < float(z.pow(2).mean().sqrt()) < 1.25, float(z.pow(2).mean().sqrt())
    assert exact.norm_errors()[0].abs().max() == 0


def test_random_walk_norms_warn_when_counts_are_too_small(caplog):
    g = nx.barabasi_albert_graph(150, 2, seed=3)
    data = graph_from_networkx(g, 150)
    with caplog.at_level(logging.WARNING, logger="spikegraph.samplers.saint"):
        small = GraphSAINTRandomWalkSampler(data, 5, sample_coverage=5, seed=0)
    assert "norm_tolerance=0.1" in caplog.text and "raise sample_coverage" in caplog.text
    edge_err, _ = small.norm_errors()
    assert float(edge_err.max()) > 0.1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spikegraph.samplers.saint"):
        GraphSAINTRandomWalkSampler(data, 5, sample_coverage=200, norm_tolerance=10.0, seed=0)
        big = GraphSAINTRandomWalkSampler(data, 5, sample_coverage=3000, seed=0)
    assert caplog.text == ""
    assert float(big.norm_errors()[0].max()) <= 0.1
    assert GraphSAINTRandomWalkSampler.default_options["sample_coverage"] >= 500
    assert GraphSAINTRandomWalkSampler(data, 5, seed=0).sample_coverage >= 500
    with pytest.raises(ValueError, match="no closed-form norms"):
        GraphSAINTRandomWalkSampler(data, 5, norms="exact")


def test_bad_norm_options(small_graph):
    with pytest.raises(ValueError, match="'norms' must be 'exact' or 'estimate', got 'exakt'"):
        GraphSAINTNodeSampler(small_graph, 5, norms="exakt")
    with pytest.raises(TypeError, match="'final_weights' must be a bool, got 1"):
        GraphSAINTNodeSampler(small_graph, 5, final_weights=1)
    with pytest.raises(ValueError, match="'norm_tolerance' must be > 0 and finite, got 0"):
        GraphSAINTRandomWalkSampler(small_graph, 5, norm_tolerance=0)
    # One node per subgraph never holds an edge: no unbiased estimator.
    with pytest.raises(ValueError, match=r"never draws a subgraph holding edge .*raise the budget"):
        GraphSAINTNodeSampler(small_graph, 1)


def test_coverage_with_exact_norms_is_reported_unused(small_graph, caplog):
    with caplog.at_level(logging.WARNING, logger="spikegraph.samplers.saint"):
        GraphSAINTNodeSampler(small_graph, 5, seed=0)
    assert caplog.text == ""
    with caplog.at_level(logging.WARNING, logger="spikegraph.samplers.saint"):
        GraphSAINTNodeSampler(small_graph, 5, sample_coverage=20, seed=0)
    assert "sample_coverage=20 is not used: the norms are exact" in caplog.text


def test_edge_sampler_never_reaches_isolated_nodes(small_graph, caplog):
    with caplog.at_level(logging.WARNING, logger="spikegraph.samplers.saint"):
        sampler = GraphSAINTEdgeSampler(small_graph, 10, seed=0)
    assert "never draws 3 of 60 nodes" in caplog.text
    isolated = torch.tensor([57, 58, 59])
    assert bool((sampler.norms.node_prob[isolated] == 0).all())
    assert bool((sampler.norms.node_norm[isolated] == 0).all())
    assert bool(torch.isfinite(sampler.norms.node_norm).all())


def _weighted(small_graph) -> Data:
    data = small_graph.clone()
    data.edge_weight = torch.arange(1, data.num_edges + 1, dtype=torch.float)
    return data


@pytest.mark.parametrize("method", ["node", "edge", "rw"])
def test_batches_carry_gcn_coefficients_over_alpha(small_graph, method):
    """Final weights: the full graph's ``Â`` (graph weights included) over ``alpha``, with
    one self-loop of weight ``Â_vv`` per node (the graph's own loop where it has one)."""
    data = _weighted(small_graph)
    make = {
        "node": lambda: GraphSAINTNodeSampler(data, 30, seed=0),
        "edge": lambda: GraphSAINTEdgeSampler(data, 20, seed=0),
        "rw": lambda: GraphSAINTRandomWalkSampler(data, 10, sample_coverage=20, seed=0),
    }[method]
    sampler = make()
    ei, w = gcn_norm(data.edge_index, data.edge_weight.double(), 60, add_self_loops=True)
    a_hat = torch.zeros(60, 60, dtype=torch.float64)
    a_hat[ei[1], ei[0]] = w  # row: target
    norms = sampler.norms
    for _ in range(3):
        batch = sampler.sample()
        batch.validate()
        block = batch.blocks[0]
        assert block.weights_final and all(b is block for b in batch.blocks)
        src, dst = batch.n_id[block.edge_index[0]], batch.n_id[block.edge_index[1]]
        real = block.e_id >= 0
        loops = src == dst
        # One self-loop per node of the subgraph; added ones carry e_id -1.
        assert sorted(src[loops].tolist()) == sorted(batch.n_id.tolist())
        assert bool((src[~real] == dst[~real]).all())
        inv_alpha = torch.ones(block.num_edges, dtype=torch.float64)
        inv_alpha[real] = norms.edge_norm[block.e_id[real]].double()
        want = a_hat[dst, src] * inv_alpha
        torch.testing.assert_close(block.edge_weight.double(), want, rtol=1e-5, atol=0)
        assert torch.equal(batch.loss_weight, norms.node_norm[batch.target])


def test_raw_multiplier_option(small_graph):
    """``final_weights=False``: the old batch, graph weight times ``1 / alpha``, normalised
    by the model."""
    data = _weighted(small_graph)
    sampler = GraphSAINTNodeSampler(data, 20, final_weights=False)
    block = sampler.sample().blocks[0]
    assert not block.weights_final and bool((block.e_id >= 0).all())
    want = data.edge_weight[block.e_id] * sampler.norms.edge_norm[block.e_id]
    assert torch.allclose(block.edge_weight, want)
