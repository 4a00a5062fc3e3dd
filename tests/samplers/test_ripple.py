"""Ripple Walk Training's subgraphs grow by neighbourhoods: checked with networkx."""

from __future__ import annotations

import networkx as nx
import pytest
from sampler_checks import graph_from_networkx

from spikegraph.samplers import RippleWalkSampler


@pytest.mark.parametrize("ratio", [0.2, 0.5, 1.0])
def test_subgraphs_of_a_connected_graph_are_connected(ratio):
    """On a connected graph, a ripple only adds neighbours of the set, so a subgraph much
    smaller than the graph never needs a restart and is connected (a random node set of
    this size in this sparse graph almost never is)."""
    g = nx.connected_watts_strogatz_graph(80, 4, 0.2, seed=0)
    size = 16
    sampler = RippleWalkSampler(graph_from_networkx(g, 80), size, expansion_ratio=ratio, seed=0)
    for _ in range(8):
        nodes = sampler.sample().n_id.tolist()
        assert len(set(nodes)) == size
        assert nx.is_connected(g.subgraph(nodes)), sorted(nodes)
