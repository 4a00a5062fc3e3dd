r"""LADIES (Zou, Hu, Wang, Jiang, Sun & Gu, NeurIPS 2019): layer-dependent importance
sampling among the neighbours of the layer above."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor

from ._layerwise import (
    LayerwiseSampler,
    draw_iid,
    draw_without_replacement,
    estimator_block,
    layer_rows,
)
from .base import GraphInput
from .batch import Block


class LADIESSampler(LayerwiseSampler, name="ladies"):
    r"""LADIES (Zou, Hu, Wang, Jiang, Sun & Gu, "Layer-Dependent Importance Sampling for
    Training Deep and Large Graph Convolutional Networks", NeurIPS 2019): every layer draws
    ``s`` nodes among the in-neighbours of the layer above, ``U``, with the layer-dependent
    importance

    .. math::
        q(u) = \frac{\|Q \hat{A}[:, u]\|^2}{\|Q \hat{A}\|_F^2},

    ``Q`` selecting the rows of ``U`` (the paper's Eq. 5): only nodes that can reach the
    layer above are drawn, in proportion to how much they weigh there.

    Two estimators:

    - ``unbiased=False`` (default), the authors' code: ``s`` distinct nodes drawn without
      replacement with ``q``, the nodes of the layer above added to them, weights
      ``Â_vu / q(u)`` divided by their sum per target (rows normalised). The layer's nodes
      are ``U`` first, then the drawn nodes not in ``U`` (in the order the rows of ``U``
      first reach them), so the targets are the first sources (``dst_index`` is ``None``).
      Biased (each row sums to 1), with a low variance. With ``L`` layers, layer ``i``
      holds up to ``B + sum of the sizes above it`` nodes. The authors' code adds the
      batch's output nodes at every layer; here each layer adds the nodes of the layer
      above (which hold the output nodes, as the layers chain), so every target finds its
      own row among its block's sources.
    - ``unbiased=True``: ``s`` independent draws with replacement with ``q`` and weights
      ``c_u Â_vu / (s q(u))`` (``c_u``: times ``u`` was drawn), the paper's unbiased estimator
      of :math:`(\hat{A} H)_v` for ``v`` in ``U`` (its Eq. 4). Nothing is added; a target not
      drawn has ``dst_index`` ``-1``. Sources are in the order the rows of ``U`` first
      reach them.

    Weights are final (``weights_final``); the batch does not nest. Per layer the cost is one
    pass over the rows of ``U`` (their in-neighbours), never over the graph.

    Args:
        graph: ``Data`` or ``edge_index``.
        layer_sizes: ``s`` per layer (one per block, input layer first), or one int for every
            layer (then give ``num_layers``).
        num_layers: Number of blocks; must match a list of ``layer_sizes``.
        unbiased: Use the unbiased estimator instead of the authors' variant.
        add_self_loops: Sample from the GCN operator with self-loops (the paper's ``Â``).
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: Accepted like every sampler's; unused.

    Raises:
        ValueError: A layer size below 1, a list of sizes whose length is not
            ``num_layers``.
        UnreachableLayerError: From ``sample``: a layer whose nodes have no in-neighbour in
            ``Â`` (only possible with ``add_self_loops=False``).

    Example:
        >>> sampler = LADIESSampler(data, [512, 512], seed=0)  # doctest: +SKIP
        >>> batch = sampler.sample(torch.arange(512))  # doctest: +SKIP
    """

    def __init__(
        self,
        graph: GraphInput,
        layer_sizes: int | Sequence[int],
        *,
        num_layers: int | None = None,
        unbiased: bool = False,
        add_self_loops: bool = True,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        if not isinstance(unbiased, bool):
            raise TypeError(f"'unbiased' must be a bool, got {unbiased!r}")
        self.unbiased = unbiased
        self._mark: Tensor | None = None
        super().__init__(
            graph,
            layer_sizes,
            num_layers=num_layers,
            add_self_loops=add_self_loops,
            num_nodes=num_nodes,
            seed=seed,
            cache_dir=cache_dir,
        )

    def _layer(self, layer: int, upper: Tensor, gen: torch.Generator) -> tuple[Tensor, Block]:
        s, adj = self.layer_sizes[layer], self.adj
        rows = layer_rows(adj, upper, self._scratch(), layer)
        cands, cand_of_upper, q = rows.cands, rows.cand_of_upper, rows.sq_norms
        prob = q / q.sum()
        source_of_cand = torch.full((cands.numel(),), -1, dtype=torch.long)
        if self.unbiased:
            chosen, counts = torch.unique(draw_iid(q, s, gen), return_counts=True)
            nodes = cands.index_select(0, chosen)
            source_of_cand[chosen] = torch.arange(chosen.numel())
            scale = counts.double() / (s * prob.index_select(0, chosen))
            in_cands = cand_of_upper >= 0
            dst_index = torch.where(
                in_cands, source_of_cand.index_select(0, cand_of_upper.clamp(min=0)), -1
            )
        else:
            chosen = draw_without_replacement(q, s, gen)
            in_cands = (cand_of_upper >= 0).nonzero().view(-1)
            is_upper = torch.zeros(cands.numel(), dtype=torch.bool)
            is_upper[cand_of_upper.index_select(0, in_cands)] = True
            new = chosen[~is_upper.index_select(0, chosen)]
            nodes = torch.cat([upper, cands.index_select(0, new)])
            source_of_cand[cand_of_upper.index_select(0, in_cands)] = in_cands
            source_of_cand[new] = torch.arange(upper.numel(), nodes.numel())
            # 1 / q(u) per source; an upper node that is no candidate has no entries.
            cand_of_src = torch.cat([cand_of_upper, new])
            scale = torch.ones(nodes.numel(), dtype=torch.float64)
            ok = (cand_of_src >= 0).nonzero().view(-1)
            scale[ok] = prob.index_select(0, cand_of_src.index_select(0, ok)).reciprocal()
            dst_index = None
        block = estimator_block(
            adj,
            rows.pos,
            rows.owner,
            source_of_cand.index_select(0, rows.cand_of_entry),
            scale,
            (nodes.numel(), upper.numel()),
            dst_index,
            row_normalize=not self.unbiased,
        )
        return nodes, block

    def _scratch(self) -> Tensor:
        """``[N]`` int32 all ``-1`` (4 bytes a node: fewer cache misses than the relabeler's
        int64 map), allocated on first use, so a pickled sampler (a loader worker) carries none."""
        if self._mark is None:
            self._mark = torch.full((self.num_nodes,), -1, dtype=torch.int32)
        return self._mark

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_mark": None}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_nodes={self.num_nodes}, "
            f"layer_sizes={self.layer_sizes}, unbiased={self.unbiased}, "
            f"add_self_loops={self.add_self_loops})"
        )


__all__ = ["LADIESSampler"]
