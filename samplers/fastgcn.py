r"""FastGCN (Chen, Ma & Xiao, ICLR 2018): layer-wise importance sampling from the whole graph."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import torch
from torch import Tensor

from ._layerwise import (
    LayerwiseSampler,
    UnreachableLayerError,
    column_sq_norms,
    estimator_block,
    rows_of,
)
from .alias import alias_table
from .batch import Block


class FastGCNSampler(LayerwiseSampler, name="fastgcn"):
    r"""FastGCN (Chen, Ma & Xiao, "FastGCN: Fast Learning with Graph Convolutional Networks
    via Importance Sampling", ICLR 2018): every layer draws ``s`` nodes independently, with
    replacement, from the whole graph with the layer-independent importance

    .. math::
        q(u) = \frac{\|\hat{A}[:, u]\|^2}{\sum_{u'} \|\hat{A}[:, u']\|^2},

    and estimates the aggregation of the layer above as
    :math:`\sum_u \frac{c_u}{s\, q(u)} \hat{A}_{vu} h_u` (``c_u``: times ``u`` was drawn),
    an unbiased estimate of :math:`(\hat{A} H)_v` (the paper's Eq. 9 and Theorem 3).

    Block ``i``'s sources are the distinct nodes drawn for layer ``i`` (sorted by id), its
    targets the sources of block ``i + 1`` (the seeds for the output layer), its edges the
    entries ``Â_vu`` between them with weight ``c_u Â_vu / (s q(u))`` (``weights_final``).
    The layers are drawn independently, so a target is usually not among its block's sources
    (``dst_index`` is ``-1`` there) and most targets of a sparse graph get few or no edges:
    the method's variance, which LADIES reduces. ``Â`` is the GCN operator with self-loops;
    ``q`` is computed once, and draws use Walker's alias table (``O(1)`` each).

    Args:
        graph: ``Data`` or ``edge_index``.
        layer_sizes: ``s`` per layer (one per block, input layer first), or one int for every
            layer (then give ``num_layers``).
        num_layers: Number of blocks; must match a list of ``layer_sizes``.
        add_self_loops: Sample from the GCN operator with self-loops (the paper's ``Â``).
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: Accepted like every sampler's; unused.

    Raises:
        ValueError: A layer size below 1, a list of sizes whose length is not
            ``num_layers``.
        UnreachableLayerError: ``Â`` is empty (no edges and ``add_self_loops=False``); from
            ``sample``: a layer whose nodes have no in-neighbour in ``Â``.

    Example:
        >>> sampler = FastGCNSampler(data, [1024, 1024], seed=0)  # doctest: +SKIP
        >>> batch = sampler.sample(torch.arange(256))  # doctest: +SKIP
    """

    #: 8192 nodes per layer: chosen on PubMed's validation nodes by
    #: ``benchmarks/sampler_sizes_sweep.py`` (1024 nodes per layer left most targets without a
    #: sampled neighbour: 73% validation accuracy against 90% at 8192).
    default_options: ClassVar[dict[str, Any]] = {"layer_sizes": [8192, 8192]}

    def _prepare(self) -> None:
        """``q(u) ∝ ||Â[:, u]||²`` and its alias table, once."""
        start = time.perf_counter()
        q = column_sq_norms(self.adj)
        total = float(q.sum())
        if total <= 0:
            raise UnreachableLayerError(
                "the normalised adjacency has no entries (a graph without edges and "
                "add_self_loops=False): FastGCN has no node to sample"
            )
        #: ``[N]`` float64, ``q(u)``.
        self.importance = q / total
        self._table = alias_table(q)
        self.preprocess_times["importance"] = time.perf_counter() - start

    def _layer(self, layer: int, upper: Tensor, gen: torch.Generator) -> tuple[Tensor, Block]:
        s = self.layer_sizes[layer]
        pos, owner = rows_of(self.adj, upper, layer)
        nodes, counts = torch.unique(self._table.draw(s, gen), return_counts=True)
        scale = counts.double() / (s * self.importance.index_select(0, nodes))
        rl = self._relabel
        rl.start(nodes)
        try:
            source_of = rl.lookup(self.adj.col.index_select(0, pos))
            dst_index = rl.lookup(upper)
        finally:
            rl.reset()
        block = estimator_block(
            self.adj, pos, owner, source_of, scale, (nodes.numel(), upper.numel()), dst_index
        )
        return nodes, block

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_nodes={self.num_nodes}, "
            f"layer_sizes={self.layer_sizes}, add_self_loops={self.add_self_loops})"
        )


__all__ = ["FastGCNSampler"]
