"""AS-GCN's sampling function reads the node features: non-finite ones are refused when the
sampler is built, naming the first bad node and column (not later by torch.multinomial)."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from spikegraph.samplers import ASGCNSampler

EDGES = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_features_are_refused_naming_node_and_column(bad):
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    x[2, 1] = bad
    x[3, 0] = float("nan")  # a later one: the first is named
    with pytest.raises(ValueError, match=r"node 2, column 1") as info:
        ASGCNSampler(Data(edge_index=EDGES, x=x, num_nodes=4), [3, 3], seed=0)
    assert str(bad) in str(info.value)


def test_non_finite_features_given_with_an_edge_index_are_refused():
    x = torch.zeros(4, 2)
    x[0, 1] = float("inf")
    with pytest.raises(ValueError, match=r"node 0, column 1"):
        ASGCNSampler(EDGES, [3, 3], num_nodes=4, x=x)


def test_finite_and_integer_features_are_accepted():
    x = torch.randint(0, 2, (4, 3))  # bag-of-words counts as integers: converted to float
    sampler = ASGCNSampler(Data(edge_index=EDGES, x=x, num_nodes=4), [3, 3], seed=0)
    assert sampler.x.dtype == torch.float32 and torch.equal(sampler.x, x.float())
    batch = sampler.sample(torch.tensor([0, 1]))
    assert torch.equal(batch.target, torch.tensor([0, 1]))
