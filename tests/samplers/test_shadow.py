"""ShaDow-GNN's personalised-PageRank selection (``ppr_topk``) against networkx's PageRank."""

from __future__ import annotations

import networkx as nx
import torch
from sampler_checks import graph_from_networkx

from spikegraph.samplers import ShaDowSampler


def test_ppr_topk_is_the_top_k_by_networkx_personalised_pagerank():
    """Each target's subgraph is the target plus the ``k - 1`` other nodes of highest PPR.

    ShaDow's ``alpha`` is the teleport (restart) probability, networkx's ``alpha`` the damping
    factor, hence ``1 - alpha``. The neighbourhood spans the whole (connected, undirected)
    graph (``depth`` = its diameter), so the sampler's local PPR loses no mass, and enough
    power iterations make it the converged PPR. The target always stays (it takes one of the
    ``k`` places); the graph is chosen so that no two nodes tie at the cut.
    """
    g = nx.gnm_random_graph(24, 40, seed=1)
    assert nx.is_connected(g)
    n, k, alpha = g.number_of_nodes(), 5, 0.25
    sampler = ShaDowSampler(
        graph_from_networkx(g, n), nx.diameter(g), None, ppr_topk=k, alpha=alpha, ppr_iters=300
    )
    batch = sampler.sample(torch.arange(n))
    for target in range(n):
        ppr = nx.pagerank(g, alpha=1 - alpha, personalization={target: 1}, tol=1e-13)
        others = sorted((v for v in g if v != target), key=ppr.__getitem__, reverse=True)
        # No tie at the cut: the k-1 chosen are well above the first one left out.
        assert ppr[others[k - 2]] - ppr[others[k - 1]] > 1e-6
        want = {target, *others[: k - 1]}
        got = batch.n_id[batch.node_batch == target].tolist()
        assert int(batch.n_id[target]) == target  # targets first
        assert sorted(got) == sorted(want), (target, got, want)
