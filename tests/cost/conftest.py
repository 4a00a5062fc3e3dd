"""Small hand-made graphs and inputs for the cost-counter tests."""

from __future__ import annotations

import pytest
import torch

N = 6


def undirected_edges() -> torch.Tensor:
    """A 6-node undirected graph (both directions, no self-loops): a 4-cycle 0-1-2-3 with a
    chord 0-2 and a tail 3-4-5; 14 directed edges."""
    pairs = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (3, 4), (4, 5)]
    src = [a for a, b in pairs] + [b for a, b in pairs]
    dst = [b for a, b in pairs] + [a for a, b in pairs]
    return torch.tensor([src, dst], dtype=torch.long)


def spike_train(shape: tuple[int, ...], spikes: int, seed: int = 0) -> torch.Tensor:
    """A 0/1 tensor of ``shape`` with exactly ``spikes`` ones at random places."""
    gen = torch.Generator().manual_seed(seed)
    flat = torch.zeros(int(torch.tensor(shape).prod()))
    flat[torch.randperm(flat.numel(), generator=gen)[:spikes]] = 1.0
    return flat.view(shape)


@pytest.fixture
def edge_index() -> torch.Tensor:
    return undirected_edges()


def node_data(num_nodes: int = 30, num_features: int = 8, seed: int = 0):
    """A small two-class graph with binary features and train/val/test masks."""
    from torch_geometric.data import Data

    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % 2
    same = y.view(-1, 1) == y.view(1, -1)
    adj = torch.rand(num_nodes, num_nodes, generator=gen) < torch.where(same, 0.3, 0.03)
    adj = torch.triu(adj, diagonal=1)
    edge_index = (adj | adj.t()).nonzero().t().contiguous()
    centers = (torch.rand(2, num_features, generator=gen) < 0.5).float()
    x = (centers[y] + (torch.rand(num_nodes, num_features, generator=gen) < 0.15).float()) % 2
    perm = torch.randperm(num_nodes, generator=gen)
    masks = {}
    for name, idx in (("train", perm[:15]), ("val", perm[15:22]), ("test", perm[22:])):
        m = torch.zeros(num_nodes, dtype=torch.bool)
        m[idx] = True
        masks[f"{name}_mask"] = m
    return Data(x=x, edge_index=edge_index, y=y, **masks)
