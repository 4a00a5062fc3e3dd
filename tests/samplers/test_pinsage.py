"""PinSAGE's random walks with restart: visit counts against their exact expectation."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from sampler_checks import graph_from_networkx

from spikegraph.samplers import PinSAGESampler


def expected_visit_shares(g: nx.Graph, home: int, length: int, restart: float) -> np.ndarray:
    """Expected share of each node in the visits of a walk of ``length`` steps from ``home``.

    At every step the walker jumps home with probability ``restart`` (always from a node
    without neighbours), and otherwise moves to a uniformly random neighbour; every step
    that does not end at ``home`` is a visit. ``E[visits of u] = sum_t P(at u after t
    steps)``, from the walk's transition matrix.
    """
    n = g.number_of_nodes()
    step = np.zeros((n, n))
    for v in g:
        nbrs = list(g.neighbors(v))
        if not nbrs:
            step[v, home] = 1.0
            continue
        step[v, home] += restart
        for u in nbrs:
            step[v, u] += (1 - restart) / len(nbrs)
    at = np.zeros(n)
    at[home] = 1.0
    visits = np.zeros(n)
    for _ in range(length):
        at = at @ step
        visits += at
    visits[home] = 0.0
    return visits / visits.sum()


@pytest.mark.parametrize("restart", [0.0, 0.5])
def test_visit_counts_follow_the_walk_with_restart(restart):
    """With every visited node kept (``-1``), the importance weights are the visit counts
    scaled per target, so their shares estimate the expected visit shares. From the end of a
    lollipop's tail, restarts keep the walks near the start: the shares with and without
    restarts differ by ten times the tolerance (about 5 standard errors of a share with 2e4
    walks)."""
    g = nx.lollipop_graph(4, 3)  # K4 on 0..3, then the path 3 - 4 - 5 - 6
    n, home, length = g.number_of_nodes(), 6, 4
    want = expected_visit_shares(g, home, length, restart)
    other = expected_visit_shares(g, home, length, 0.5 - restart)
    assert np.abs(want - other).max() > 0.1  # the check can tell restarts from none
    sampler = PinSAGESampler(
        graph_from_networkx(g, n),
        [-1],
        num_walks=20_000,
        walk_length=length,
        restart_prob=restart,
        seed=0,
    )
    batch = sampler.sample(torch.tensor([home]))
    block = batch.blocks[0]
    nbr = batch.n_id[block.edge_index[0]]
    share = torch.zeros(n, dtype=torch.float64).index_add_(0, nbr, block.edge_weight.double())
    share = (share / share.sum()).numpy()
    assert np.abs(share - want).max() < 0.01, (share, want)
