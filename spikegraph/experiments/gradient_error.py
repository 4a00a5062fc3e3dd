r"""Bias and variance of a sampler's gradient estimate against the full-batch gradient.

The survey's central comparison of sampling methods (Liu et al., "Sampling Methods for
Efficient Training of Graph Convolutional Networks: A Survey", arXiv 2021, IEEE/CAA Journal
of Automatica Sinica 2022) is the bias and variance of the estimator each method makes of
the full-batch quantities: a layer's aggregation, and in the end the gradient of the
training loss. This module measures them with the model's own forward pass:

- :func:`full_batch_gradient`: the exact gradient of the mean cross-entropy over the
  training nodes w.r.t. every parameter, from one forward pass on the whole graph;
- :func:`batch_gradient`: the gradient one mini-batch gives, as training computes it
  (:func:`~spikegraph.train.minibatch.batch_logits` in the batch's mode, the batch's
  ``loss_weight``);
- :class:`ErrorStats`: per-row running statistics of many such estimates against the
  exact values: the relative bias with its standard error, the relative variance and the
  mean squared error.

``benchmarks/samplers_variance.py`` (every sampler at calibrated equal budgets, with PyG's
``GCN`` at fixed weights) and the sampler study (:mod:`spikegraph.experiments.study`) both
use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from spikegraph.samplers import Batch
from spikegraph.train.minibatch import batch_logits, batch_loss


class ErrorStats:
    r"""Running per-row error statistics of a stochastic estimator of a matrix ``exact``.

    Each call of :meth:`add` gives one estimate of some rows. Over the rows estimated at
    least twice, with :math:`e_{v,i}` the error of row :math:`v`'s :math:`i`-th estimate
    (:math:`n_v` of them, mean :math:`\bar e_v`, per-row variance :math:`\sigma^2_v` summed
    over the columns) and :math:`x` the exact values, :meth:`summary` reports

    - ``bias``: :math:`\|\bar e\| / \|x\|`, with its standard error ``bias_se``
      (:math:`\sqrt{\sum_v \sigma^2_v / n_v} / \|x\|`: what the bias reads for an unbiased
      estimator from :math:`n_v` draws; a bias well above ``bias_se`` is a real bias);
    - ``variance``: :math:`\sum_v \sigma^2_v / \sum_v \|x_v\|^2`, the mean squared
      deviation of one estimate from the row's mean, relative to the exact values;
    - ``mse``: the relative mean squared error over every estimate (rows seen once too).

    A gradient is one row: ``ErrorStats(exact_gradient.unsqueeze(0))``, each batch's
    gradient added as row 0.

    Args:
        exact: ``[N, F]`` exact values.

    Raises:
        ValueError: for ``exact`` that is not 2-D.
    """

    def __init__(self, exact: Tensor) -> None:
        if exact.dim() != 2:
            raise ValueError(f"'exact' must be [N, F], got shape {tuple(exact.shape)}")
        self.exact = exact.detach().double()
        n = exact.size(0)
        self.count = torch.zeros(n, dtype=torch.float64)
        self.sum = torch.zeros_like(self.exact)
        self.sumsq = torch.zeros(n, dtype=torch.float64)
        self.observations = 0

    def add(self, ids: Tensor, estimate: Tensor) -> None:
        """Record one estimate ``[len(ids), F]`` of rows ``ids`` (distinct).

        Raises:
            ValueError: for an estimate whose shape does not fit ``ids`` and the width.
        """
        if estimate.shape != (ids.numel(), self.exact.size(1)):
            raise ValueError(
                f"estimate of shape {tuple(estimate.shape)} for {ids.numel()} rows of width "
                f"{self.exact.size(1)}"
            )
        err = estimate.detach().double() - self.exact.index_select(0, ids)
        self.count.index_add_(0, ids, torch.ones(ids.numel(), dtype=torch.float64))
        self.sum.index_add_(0, ids, err)
        self.sumsq.index_add_(0, ids, err.square().sum(1))
        self.observations += int(ids.numel())

    def summary(self) -> dict[str, Any]:
        """``bias``, ``bias_se``, ``variance`` (relative; ``None`` without a row seen twice),
        ``mse`` (relative mean squared error over every estimate), and the coverage
        (``rows_seen``, ``rows_seen_twice``, ``mean_times_seen``)."""
        seen = self.count > 0
        rep = self.count >= 2
        sq = self.exact.square().sum(1)
        out: dict[str, Any] = {
            "rows_seen": int(seen.sum()),
            "rows_seen_twice": int(rep.sum()),
            "mean_times_seen": float(self.count[seen].mean()) if bool(seen.any()) else 0.0,
            "mse": _ratio(self.sumsq[seen].sum(), (self.count * sq)[seen].sum()),
            "bias": None,
            "bias_se": None,
            "variance": None,
        }
        if not bool(rep.any()):
            return out
        n = self.count[rep]
        mean = self.sum[rep] / n.unsqueeze(1)
        within = (self.sumsq[rep] - n * mean.square().sum(1)).clamp_min(0.0)
        var = within / (n - 1)  # per row, summed over the columns
        norm2 = sq[rep].sum()
        out["bias"] = math.sqrt(_ratio(mean.square().sum(), norm2))
        out["bias_se"] = math.sqrt(_ratio((var / n).sum(), norm2))
        out["variance"] = _ratio(var.sum(), norm2)
        return out


def _ratio(num: Tensor, den: Tensor) -> float:
    den = float(den)
    return float(num) / den if den > 0 else (0.0 if float(num) == 0 else math.inf)


def flat_grad(model: nn.Module) -> Tensor:
    """All parameter gradients of ``model`` as one vector (zeros for parameters without one)."""
    return torch.cat(
        [
            (p.grad if p.grad is not None else torch.zeros_like(p)).detach().flatten()
            for p in model.parameters()
        ]
    )


def loss_gradient(model: nn.Module, loss: Callable[[], Tensor]) -> Tensor:
    """The gradient of ``loss()`` w.r.t. every parameter of ``model``, as one vector
    (:func:`flat_grad`); the model's gradients are cleared before and after."""
    model.zero_grad(set_to_none=True)
    loss().backward()
    grad = flat_grad(model)
    model.zero_grad(set_to_none=True)
    return grad


def full_batch_gradient(model: nn.Module, data: Data) -> Tensor:
    """The exact gradient: the mean cross-entropy over the training nodes
    (``data.train_mask``) of one forward pass of ``model`` on the whole graph, w.r.t. every
    parameter. The model runs in the mode it is in (``eval()`` for a gradient without
    dropout)."""
    train = data.train_mask
    edge_weight = data.edge_weight if "edge_weight" in data else None

    def loss() -> Tensor:
        logits = model(data.x, data.edge_index, edge_weight)
        return F.cross_entropy(logits[train], data.y[train])

    return loss_gradient(model, loss)


def batch_gradient(model: nn.Module, data: Data, batch: Batch, mode: str | None) -> Tensor | None:
    """The gradient one mini-batch gives, as training computes it: the batch's loss
    (:func:`~spikegraph.train.minibatch.batch_loss`, with its ``loss_weight``) of the logits
    the model computes from the batch in ``mode``; ``None`` for a batch without targets
    (which training skips)."""
    if batch.num_targets == 0:
        return None
    return loss_gradient(
        model,
        lambda: batch_loss(
            batch_logits(model, data.x, batch, mode), data.y[batch.target], batch.loss_weight
        ),
    )


def layer_sizes_of(batch: Batch) -> list[int]:
    """Nodes of every layer of ``batch``, input first: each block's sources, then the last
    block's targets."""
    return [b.size[0] for b in batch.blocks] + [batch.blocks[-1].size[1]]


def layer_edges_of(batch: Batch) -> list[int]:
    """Edges of every block of ``batch``, input layer first."""
    return [int(b.edge_index.size(1)) for b in batch.blocks]


__all__ = [
    "ErrorStats",
    "batch_gradient",
    "flat_grad",
    "full_batch_gradient",
    "layer_edges_of",
    "layer_sizes_of",
    "loss_gradient",
]
