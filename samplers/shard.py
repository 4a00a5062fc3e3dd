"""Sharding one epoch's plan over the processes of a data-parallel run.

The rule is the one of torch's ``DistributedSampler`` (Li et al., 2020, "PyTorch Distributed:
Experiences on Accelerating Data Parallel Training"): every process builds the same plan of
the epoch (the same permutation of the seed nodes, or the same list of subgraph batches), and
process ``rank`` of ``num_replicas`` takes the items at positions ``rank, rank +
num_replicas, rank + 2 num_replicas, ...``. Every process must take the same number of
optimiser steps (each step all-reduces gradients), so the plan's length ``n`` is first made a
multiple of ``num_replicas``:

- ``drop_last=False`` (default): padded to ``ceil(n / K) * K`` by repeating the plan's first
  ``ceil(n / K) * K - n`` items (at most ``K - 1``), so no item is left out and at most
  ``K - 1`` count twice in that epoch;
- ``drop_last=True``: cut to ``floor(n / K) * K``, leaving out the plan's last ``n mod K``
  items (at most ``K - 1``; another few each epoch when the plan is shuffled).

:func:`shard_positions` returns a rank's positions in the padded plan; position ``p`` names
item ``p mod n``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import check_int


def check_replicas(num_replicas: int, rank: int) -> tuple[int, int]:
    """``(num_replicas, rank)`` if ``num_replicas >= 1`` and ``0 <= rank < num_replicas``."""
    check_int(num_replicas, "num_replicas", 1)
    check_int(rank, "rank", 0)
    if rank >= num_replicas:
        raise ValueError(f"'rank' must be < num_replicas={num_replicas}, got {rank}")
    return num_replicas, rank


def sharded_length(n: int, num_replicas: int, drop_last: bool = False) -> int:
    """Length of the plan once padded (or cut, with ``drop_last``) to a multiple of
    ``num_replicas``."""
    check_int(n, "n", 0)
    check_int(num_replicas, "num_replicas", 1)
    if drop_last:
        return n // num_replicas * num_replicas
    return -(-n // num_replicas) * num_replicas


def shard_positions(n: int, num_replicas: int, rank: int, drop_last: bool = False) -> Tensor:
    """Positions of process ``rank``'s items in a plan of ``n`` items (see the module
    docstring): ``rank, rank + num_replicas, ...`` below ``total``, the
    :func:`sharded_length`. Every rank gets ``total / num_replicas`` positions; position
    ``p`` stands for item ``p mod n``.

    Raises:
        ValueError: for a rank outside ``[0, num_replicas)``.
    """
    check_replicas(num_replicas, rank)
    total = sharded_length(n, num_replicas, drop_last)
    return torch.arange(total // num_replicas, dtype=torch.long) * num_replicas + rank


__all__ = ["check_replicas", "shard_positions", "sharded_length"]
