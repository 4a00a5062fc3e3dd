"""Fixtures: small graphs with isolated nodes and self-loops."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from sampler_checks import graph_from_networkx
from torch_geometric.data import Data


@pytest.fixture
def small_graph() -> Data:
    """60 nodes: a random graph, three isolated nodes (57-59), self-loops on 0 and 5."""
    g = nx.gnm_random_graph(57, 160, seed=1)
    g.add_nodes_from(range(60))
    g.add_edge(0, 0)
    g.add_edge(5, 5)
    return graph_from_networkx(g, 60)


@pytest.fixture(scope="module")
def dense_graph() -> Data:
    """60 nodes, average degree 20 (VR-GCN's tests: two sampled neighbours are far from the
    whole), with 4 random features."""
    data = graph_from_networkx(nx.gnm_random_graph(60, 600, seed=4), 60)
    data.x = torch.randn(60, 4, generator=torch.Generator().manual_seed(0))
    return data


@pytest.fixture
def directed_graph() -> Data:
    """A directed random graph: sampled edges must respect direction."""
    g = nx.gnm_random_graph(40, 150, seed=2, directed=True)
    return graph_from_networkx(g, 40)
