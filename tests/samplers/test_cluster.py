"""``ClusterGCNSampler.sample(clusters)``: the clusters a caller names (audit finding 3); the
METIS partition itself, against planted communities and against pymetis on the symmetrised
graph."""

from __future__ import annotations

import networkx as nx
import pymetis
import pytest
import torch
from sampler_checks import graph_from_networkx
from torch_geometric.data import Data

from spikegraph.samplers import ClusterGCNSampler


@pytest.fixture
def sampler(small_graph):
    return ClusterGCNSampler(small_graph, 4, seed=0)


@pytest.mark.parametrize(
    "clusters, error, match",
    [
        ([1, 1], ValueError, r"'clusters' holds cluster id 1 more than once"),
        ([0, 2, 3, 2], ValueError, r"'clusters' holds cluster id 2 more than once"),
        ([-1, 2], ValueError, r"'clusters' must be in \[0, 4\), got \[-1, 2\]: cluster id -1"),
        ([1, 4], ValueError, r"'clusters' must be in \[0, 4\), got \[1, 4\]: cluster id 4"),
        ([1.9], TypeError, r"'clusters' must hold integer cluster ids, got 1\.9"),
        (torch.tensor([0.0, 1.0]), TypeError, r"integer cluster ids, got 0 \(torch\.float32\)"),
        (torch.tensor([True, False]), TypeError, r"'clusters' must hold cluster ids, not a mask"),
        ([], ValueError, r"'clusters' is empty"),
        ([[0, 1]], ValueError, r"'clusters' must be 1-D, got shape \(1, 2\)"),
    ],
    ids=[
        "repeat",
        "repeat-later",
        "negative",
        "too-big",
        "float",
        "float-tensor",
        "mask",
        "empty",
        "2d",
    ],
)
def test_sample_refuses_bad_clusters(sampler, clusters, error, match):
    with pytest.raises(error, match=match):
        sampler.sample(clusters)


def test_sample_of_named_clusters_is_their_subgraph(sampler):
    """Valid ids in any container give the clusters' nodes, each once, targets first."""
    for clusters in ([2, 0], torch.tensor([2, 0]), torch.tensor([2, 0], dtype=torch.int32)):
        batch = sampler.sample(clusters).validate(full=True)
        expected = torch.cat([sampler.nodes_of(torch.tensor([c])) for c in (2, 0)])
        assert sorted(batch.n_id.tolist()) == sorted(expected.tolist())
        assert batch.n_id.unique().numel() == batch.n_id.numel()
    one = sampler.sample(3)  # a single id (a 0-d value) is one cluster
    assert torch.equal(one.n_id.sort().values, sampler.nodes_of(torch.tensor([3])).sort().values)


def test_clusters_cut_few_edges_of_planted_communities():
    """Four dense blocks joined by a few edges: the clusters cut far fewer edges than a random
    partition with the same cluster sizes, whose expected cut fraction is ``1 - sum_i
    s_i (s_i - 1) / (N (N - 1))`` (an edge's ends land in one cluster with that probability);
    with some 300 edges a random partition's cut fraction stays within a few hundredths of
    it, nowhere near half of it. METIS should also find about the planted cut."""
    sizes = [20, 20, 20, 20]
    probs = [[0.4 if i == j else 0.01 for j in range(4)] for i in range(4)]
    g = nx.stochastic_block_model(sizes, probs, seed=0)
    n = g.number_of_nodes()
    part = ClusterGCNSampler(graph_from_networkx(g, n), 4, seed=0).part.tolist()
    block = nx.get_node_attributes(g, "block")

    def cut_fraction(label):
        return sum(label[u] != label[v] for u, v in g.edges()) / g.number_of_edges()

    s = torch.bincount(torch.tensor(part), minlength=4).double()
    random_cut = 1 - float((s * (s - 1)).sum()) / (n * (n - 1))
    planted_cut = cut_fraction(block)
    assert planted_cut < random_cut / 4  # the structure is there to find
    assert cut_fraction(part) < random_cut / 2
    assert cut_fraction(part) <= 2 * planted_cut


@pytest.mark.parametrize("seed", [0, 5])
def test_directed_graph_is_partitioned_as_its_symmetrised_graph(directed_graph, seed, monkeypatch):
    """METIS gets the undirected graph without self-loops (symmetrised by networkx here), and
    the partition is pymetis's own for that graph and the sampler's seed. METIS given the
    directed edge list as is can corrupt memory and hang, so the graph is checked before it
    reaches METIS."""
    n = directed_graph.num_nodes
    loops = torch.tensor([[3, 8], [3, 8]])
    data = Data(edge_index=torch.cat([directed_graph.edge_index, loops], 1), num_nodes=n)
    und = nx.Graph()
    und.add_nodes_from(range(n))
    und.add_edges_from(data.edge_index.t().tolist())
    und.remove_edges_from(list(nx.selfloop_edges(und)))
    want = [sorted(und.neighbors(v)) for v in range(n)]
    real = pymetis.part_graph

    def checked(nparts, adjacency=None, **kw):
        starts, adj = [int(i) for i in adjacency.adj_starts], [int(u) for u in adjacency.adjacent]
        got = [sorted(adj[starts[v] : starts[v + 1]]) for v in range(n)]
        assert got == want, "METIS must get the symmetrised graph without self-loops"
        return real(nparts, adjacency, **kw)

    monkeypatch.setattr(pymetis, "part_graph", checked)
    sampler = ClusterGCNSampler(data, 4, seed=seed)
    monkeypatch.undo()
    ref = pymetis.part_graph(4, adjacency=want, options=pymetis.Options(seed=seed)).vertex_part
    assert sampler.part.tolist() == list(ref)
