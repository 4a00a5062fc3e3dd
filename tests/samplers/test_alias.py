"""Walker's alias method: the table encodes the target distribution exactly, and draws follow
it (chi-square goodness of fit, fixed seed)."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from sampler_checks import graph_from_networkx
from scipy.stats import chi2

from spikegraph.samplers.alias import alias_table
from spikegraph.samplers.saint import (
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    saint_edge_weights,
    saint_node_weights,
)

#: Significance level of every goodness-of-fit test: a false alarm has probability 1e-5.
ALPHA = 1e-5


def _chi_square_ok(draws: torch.Tensor, p: torch.Tensor) -> tuple[bool, float, float]:
    """Pearson's chi-square of the draw counts against ``p``: (passes, statistic, bound).

    Outcomes with probability zero must never be drawn; they are left out of the statistic.
    """
    counts = torch.bincount(draws, minlength=p.numel()).double()
    if bool((counts[p == 0] > 0).any()):
        return False, float("inf"), 0.0
    live = p > 0
    expected = p[live] * draws.numel()
    assert float(expected.min()) >= 5, "too few draws for the chi-square approximation"
    stat = float(((counts[live] - expected) ** 2 / expected).sum())
    bound = float(chi2.ppf(1 - ALPHA, int(live.sum()) - 1))
    return stat < bound, stat, bound


def _weights(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    w = torch.rand(n, generator=gen, dtype=torch.float64) + 0.2
    w[::7] = 0.0  # outcomes that must never come up
    w[3] = 25.0  # one heavy outcome (many cells alias to it)
    return w


def test_table_encodes_the_distribution_exactly():
    for n in (1, 2, 50, 1000):
        w = _weights(n, n) if n > 3 else torch.arange(1, n + 1, dtype=torch.float64)
        table = alias_table(w)
        assert torch.allclose(table.probabilities(), w / w.sum(), rtol=0, atol=1e-12)
        assert bool(((table.prob >= 0) & (table.prob <= 1)).all())
        assert bool(((table.alias >= 0) & (table.alias < n)).all())


def test_draws_follow_the_distribution():
    w = _weights(50, 0)
    table = alias_table(w)
    draws = table.draw(200_000, torch.Generator().manual_seed(0))
    ok, stat, bound = _chi_square_ok(draws, w / w.sum())
    assert ok, (stat, bound)
    # The test can fail: the same draws against a slightly different distribution.
    other = w.clone()
    other[5] *= 1.3
    assert not _chi_square_ok(draws, other / other.sum())[0]


def test_same_generator_state_same_draws():
    table = alias_table(_weights(20, 1))
    a = table.draw(100, torch.Generator().manual_seed(3))
    b = table.draw(100, torch.Generator().manual_seed(3))
    c = table.draw(100, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.tensor([]), "non-empty 1-D"),
        (torch.ones(2, 2), "non-empty 1-D"),
        (torch.tensor([1.0, -0.5]), "finite and non-negative"),
        (torch.tensor([1.0, float("nan")]), "finite and non-negative"),
        (torch.zeros(3), "all zero"),
    ],
)
def test_bad_weights(bad, match):
    with pytest.raises(ValueError, match=match):
        alias_table(bad)


def _saint_graph():
    g = nx.gnm_random_graph(30, 70, seed=3)
    g.add_nodes_from(range(32))  # two isolated nodes: drawable through their self-loop
    return graph_from_networkx(g, 32)


def test_graphsaint_node_draws_follow_the_paper_distribution():
    data = _saint_graph()
    sampler = GraphSAINTNodeSampler(data, 40, sample_coverage=1, seed=0)
    _, node = sampler._draw(2000, torch.Generator().manual_seed(0))
    p = saint_node_weights(data.edge_index, data.num_nodes)
    # Closed form for one node: ||A_hat[:, u]||^2 with the self-loop.
    src, dst = data.edge_index
    deg = torch.bincount(dst, minlength=32).double() + 1
    u = int(src[0])
    col = [1.0 / (deg[u] * deg[v]) for v in dst[src == u].tolist()] + [1.0 / deg[u] ** 2]
    assert float(p[u]) == pytest.approx(float(sum(col)))
    ok, stat, bound = _chi_square_ok(node, p / p.sum())
    assert ok, (stat, bound)


def test_graphsaint_edge_draws_follow_the_paper_distribution():
    data = _saint_graph()
    sampler = GraphSAINTEdgeSampler(data, 40, sample_coverage=1, seed=0)
    sid, node = sampler._draw(2000, torch.Generator().manual_seed(0))
    assert bool((sid[1:] >= sid[:-1]).all())  # grouped by subgraph
    pairs = node.view(-1, 2)
    src, dst = data.edge_index
    # Recover each drawn edge's id (the graph has no repeated edges).
    key = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(src.tolist(), dst.tolist()))}
    e = torch.tensor([key[(int(a), int(b))] for a, b in pairs.tolist()])
    p = saint_edge_weights(data.edge_index, data.num_nodes)
    deg = torch.bincount(dst, minlength=32).double()
    assert torch.allclose(p, 1 / deg[src] + 1 / deg[dst])
    ok, stat, bound = _chi_square_ok(e, p / p.sum())
    assert ok, (stat, bound)
