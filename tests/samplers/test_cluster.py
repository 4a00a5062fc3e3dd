"""``ClusterGCNSampler.sample(clusters)``: the clusters a caller names (audit finding 3)."""

from __future__ import annotations

import pytest
import torch

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
