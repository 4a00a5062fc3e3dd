"""Walker's alias method (Walker, ACM TOMS 1977; Vose's construction, IEEE TSE 1991).

Draws from a fixed discrete distribution over ``n`` outcomes in ``O(1)`` per draw after an
``O(n)`` table construction: pick a cell uniformly, keep it with probability ``prob[cell]``,
else take ``alias[cell]``. Used where a sampler draws many times from one distribution
(GraphSAINT's node and edge samplers), in place of an ``O(log n)`` inverse-CDF search.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._kernels import alias_build


@dataclass(frozen=True)
class AliasTable:
    """Walker's alias table of a discrete distribution.

    Attributes:
        prob: ``[n]`` float64, probability that cell ``i`` keeps outcome ``i``.
        alias: ``[n]`` int64, the outcome cell ``i`` gives otherwise.
    """

    prob: Tensor
    alias: Tensor

    @property
    def num_outcomes(self) -> int:
        return int(self.prob.numel())

    def draw(self, count: int, generator: torch.Generator) -> Tensor:
        """``count`` independent outcomes, ``[count]`` int64."""
        n = self.num_outcomes
        u = torch.rand(2, count, generator=generator, dtype=torch.float64)
        cell = (u[0] * n).long().clamp_(max=n - 1)
        keep = u[1] < self.prob.index_select(0, cell)
        return torch.where(keep, cell, self.alias.index_select(0, cell))

    def probabilities(self) -> Tensor:
        """The distribution the table draws from, ``[n]`` float64 (exact up to rounding):
        ``(prob[i] + sum over cells j aliased to i of (1 - prob[j])) / n``."""
        n = self.num_outcomes
        p = self.prob.clone()
        p.index_add_(0, self.alias, 1.0 - self.prob)
        return p / n


def alias_table(weights: Tensor) -> AliasTable:
    """Walker's alias table for outcome ``i`` with probability ``weights[i] / sum(weights)``.

    Args:
        weights: ``[n]`` finite, non-negative, not all zero.

    Raises:
        ValueError: for an empty, non-finite, negative or all-zero ``weights``.
    """
    if not isinstance(weights, Tensor) or weights.dim() != 1 or weights.numel() == 0:
        raise ValueError(f"'weights' must be a non-empty 1-D tensor, got {weights!r:.80}")
    w = weights.detach().to(device="cpu", dtype=torch.float64)
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError("'weights' must be finite and non-negative")
    total = float(w.sum())
    if total <= 0:
        raise ValueError("'weights' are all zero: nothing can be drawn")
    prob, alias = alias_build((w / total).contiguous().numpy())
    return AliasTable(prob=torch.from_numpy(prob), alias=torch.from_numpy(alias))


__all__ = ["AliasTable", "alias_table"]
