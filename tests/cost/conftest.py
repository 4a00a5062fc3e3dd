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
