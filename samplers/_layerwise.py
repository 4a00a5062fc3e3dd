r"""Shared maths of the layer-wise samplers (FastGCN, LADIES): the GCN-normalised adjacency,
the draws, and the importance-weighted blocks built from them.

Both methods estimate one GCN layer's aggregation :math:`\hat{A} H` for the nodes of the layer
above from a few sampled nodes of the layer below (Chen, Ma & Xiao, ICLR 2018; Zou et al.,
NeurIPS 2019). With ``s`` nodes drawn independently from a distribution ``q``, each node
``u`` drawn ``c_u`` times,

.. math::
    \widehat{(\hat{A} H)}_v = \sum_u \frac{c_u}{s\, q(u)} \hat{A}_{vu} H_u,
    \qquad \mathbb{E}\, \widehat{(\hat{A} H)}_v = (\hat{A} H)_v

whenever ``q(u) > 0`` for every ``u`` with ``Â_vu != 0``. The block's ``edge_weight`` are
these coefficients (``weights_final=True``): a model aggregates ``sum_u w_vu h_u`` as is.

``Â = D^{-1/2} (A + I) D^{-1/2}`` is PyG's ``gcn_norm`` (self-loops as
``add_remaining_self_loops`` adds them, in-degrees), computed once and stored by target row,
so ``Â[v, :]`` (the nodes ``v`` aggregates) is one CSR segment.
"""

from __future__ import annotations

import os
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numba
import numpy as np
import torch
from torch import Tensor

from .base import GraphInput, NodeSampler, check_int, check_nodes
from .batch import Batch, Block
from .graph import CSRGraph, segment_gather


class UnreachableLayerError(ValueError):
    """The nodes of a layer have no in-neighbour in ``Â``: the layer below has nothing to
    sample from."""


@dataclass(frozen=True)
class NormalizedAdjacency:
    """``Â`` stored by target row: the entries of row ``v`` are ``rowptr[v]:rowptr[v + 1]``.

    Attributes:
        rowptr: ``[N + 1]`` row starts.
        col: ``[nnz]`` source ``u`` of each entry ``Â_vu``.
        val: ``[nnz]`` float32 ``Â_vu > 0``.
        eid: ``[nnz]`` column of the entry's edge in the graph's ``edge_index``; ``-1`` for an
            added self-loop.
        num_nodes: ``N``.
    """

    rowptr: Tensor
    col: Tensor
    val: Tensor
    eid: Tensor
    num_nodes: int

    @property
    def num_entries(self) -> int:
        return int(self.col.numel())

    def as_dict(self) -> dict[str, Tensor]:
        return {"rowptr": self.rowptr, "col": self.col, "val": self.val, "eid": self.eid}


def gcn_normalized_adjacency(
    csr: CSRGraph, edge_weight: Tensor | None = None, add_self_loops: bool = True
) -> NormalizedAdjacency:
    r"""The GCN operator :math:`\hat{A} = D^{-1/2} (A + I) D^{-1/2}` of Kipf & Welling (ICLR
    2017), as PyG's ``gcn_norm`` computes it, stored by target row.

    With ``add_self_loops`` every node gets exactly one self-loop: a graph's own self-loop
    keeps its weight (the last one when there are several, as ``add_remaining_self_loops``
    does), the others weigh 1. ``D`` holds weighted in-degrees (loops included); a node of
    degree 0 contributes 0. Entries that come out as 0 are dropped.

    Args:
        csr: The graph by target (:func:`~spikegraph.samplers.graph.to_csr`).
        edge_weight: ``[E]`` positive weights of the graph's edges (by ``edge_index``
            column), or ``None`` for 1.
        add_self_loops: Add the ``I`` of ``A + I``.
    """
    n = csr.num_nodes
    row = torch.repeat_interleave(torch.arange(n), csr.deg)
    col, eid = csr.col, csr.eid
    w = (
        torch.ones(eid.numel(), dtype=torch.float64)
        if edge_weight is None
        else edge_weight.to(torch.float64).index_select(0, eid)
    )
    if add_self_loops:
        is_loop = col == row
        loop_eid = torch.full((n,), -1, dtype=torch.long)
        if bool(is_loop.any()):
            lp = is_loop.nonzero().view(-1)
            loop_eid.scatter_reduce_(0, row[lp], eid[lp], reduce="amax", include_self=True)
        loop_w = torch.ones(n, dtype=torch.float64)
        has = (loop_eid >= 0).nonzero().view(-1)
        if has.numel() and edge_weight is not None:
            loop_w[has] = edge_weight.to(torch.float64).index_select(0, loop_eid[has])
        keep = (~is_loop).nonzero().view(-1)
        kept_row = row.index_select(0, keep)
        counts = torch.bincount(kept_row, minlength=n) + 1
        rowptr = torch.zeros(n + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=rowptr[1:])
        total = int(rowptr[-1])
        # One loop opens every row; kept entries follow in their order, shifted by the
        # loops of the rows up to and including their own.
        new_pos = torch.arange(keep.numel()) + kept_row + 1
        loop_pos = rowptr[:-1]
        col_n = torch.empty(total, dtype=torch.long)
        eid_n = torch.empty(total, dtype=torch.long)
        w_n = torch.empty(total, dtype=torch.float64)
        col_n[new_pos], eid_n[new_pos], w_n[new_pos] = col[keep], eid[keep], w[keep]
        col_n[loop_pos], eid_n[loop_pos], w_n[loop_pos] = torch.arange(n), loop_eid, loop_w
        col, eid, w = col_n, eid_n, w_n
        row = torch.repeat_interleave(torch.arange(n), counts)
    else:
        rowptr = csr.rowptr.clone()
    deg = torch.zeros(n, dtype=torch.float64).index_add_(0, row, w)
    dis = deg.pow(-0.5)
    dis.masked_fill_(torch.isinf(dis), 0.0)
    val = dis.index_select(0, row) * w * dis.index_select(0, col)
    if bool((val <= 0).any()):
        keep = (val > 0).nonzero().view(-1)
        row, col, eid, val = row[keep], col[keep], eid[keep], val[keep]
        rowptr = torch.zeros(n + 1, dtype=torch.long)
        torch.cumsum(torch.bincount(row, minlength=n), 0, out=rowptr[1:])
    return NormalizedAdjacency(rowptr=rowptr, col=col, val=val.float(), eid=eid, num_nodes=n)


def column_sq_norms(adj: NormalizedAdjacency) -> Tensor:
    r"""FastGCN's importance :math:`\|\hat{A}[:, u]\|^2` of every node ``u``, ``[N]`` float64."""
    return torch.zeros(adj.num_nodes, dtype=torch.float64).index_add_(
        0, adj.col, adj.val.double().square()
    )


def draw_iid(weights: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """``count`` independent draws of ``i`` with probability ``weights[i] / sum(weights)``.

    Inverse CDF: one ``searchsorted`` over the cumulative weights; an outcome of weight 0 is
    never drawn. ``weights`` must be non-negative with a positive sum.
    """
    cdf = torch.cumsum(weights.double(), 0)
    u = torch.rand(count, generator=generator, dtype=torch.float64) * cdf[-1]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=weights.numel() - 1)


def draw_without_replacement(weights: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """``min(count, n)`` distinct outcomes, drawn one after another with probability
    proportional to ``weights`` among those left (as ``numpy.random.choice(replace=False,
    p=...)``), sorted.

    Efraimidis & Spirakis (IPL 2006): the ``count`` smallest keys ``E_i / w_i``, ``E_i`` unit
    exponentials, here the largest ``log(1 - U_i) / w_i`` (``U_i`` uniform; a vectorised
    ``log1p`` is several times faster than ``Tensor.exponential_``). ``weights`` must be
    positive.
    """
    n = weights.numel()
    k = min(count, n)
    keys = torch.rand(n, generator=generator, dtype=torch.float64).neg_().log1p_()
    keys.div_(weights.double())
    if k == n:
        return torch.arange(n)
    return torch.topk(keys, k, largest=True, sorted=False).indices.sort().values


def estimator_block(
    adj: NormalizedAdjacency,
    pos: Tensor,
    owner: Tensor,
    source_of: Tensor,
    scale: Tensor,
    size: tuple[int, int],
    dst_index: Tensor | None,
    row_normalize: bool = False,
) -> Block:
    r"""The block of the entries ``Â_vu`` at ``pos`` whose source was sampled.

    Args:
        adj: ``Â``.
        pos: ``[M]`` entries of ``Â`` (positions in ``adj.col``), from the rows of the
            targets.
        owner: ``[M]`` target (local, ``< size[1]``) of every entry.
        source_of: ``[M]`` local source of every entry, ``-1`` where its node was not
            sampled (the entry is dropped).
        scale: ``[size[0]]`` factor per source (``c_u / (s q(u))``); the edge weight is
            ``Â_vu * scale[u]``.
        size: ``(num_src, num_dst)``.
        dst_index: Source row of every target, ``-1`` if absent, or ``None`` for a prefix.
        row_normalize: Divide each target's weights by their sum (LADIES's authors' code).
    """
    keep = (source_of >= 0).nonzero().view(-1)
    src = source_of.index_select(0, keep)
    dst = owner.index_select(0, keep)
    p = pos.index_select(0, keep)
    w = adj.val.index_select(0, p).double() * scale.double().index_select(0, src)
    if row_normalize:
        total = torch.zeros(size[1], dtype=torch.float64).index_add_(0, dst, w)
        w = w / total.index_select(0, dst)
    return Block(
        edge_index=torch.stack([src, dst]),
        edge_weight=w.float(),
        size=(int(size[0]), int(size[1])),
        e_id=adj.eid.index_select(0, p),
        weights_final=True,
        dst_index=dst_index,
    )


def rows_of(adj: NormalizedAdjacency, nodes: Tensor, layer: int) -> tuple[Tensor, Tensor]:
    """``(pos, owner)`` of every entry of the rows ``Â[nodes, :]``.

    Raises:
        UnreachableLayerError: The rows are all empty, naming ``layer``.
    """
    pos, owner = segment_gather(adj.rowptr, nodes)
    if pos.numel() == 0:
        raise UnreachableLayerError(_unreachable(layer, nodes.numel()))
    return pos, owner


@numba.njit(cache=True)
def _gather_rows(rowptr, col, val, upper, mark):  # pragma: no cover - compiled
    """One pass over the rows ``Â[upper, :]``: the entries, and the distinct sources met
    (candidates, in the order first met) with their ``sum_v Â_vu^2``. ``mark`` (``[N]``, all
    ``-1``) is scratch, left all ``-1``."""
    m = upper.shape[0]
    total = 0
    for i in range(m):
        total += rowptr[upper[i] + 1] - rowptr[upper[i]]
    pos = np.empty(total, np.int64)
    owner = np.empty(total, np.int64)
    cand_of_entry = np.empty(total, np.int64)
    cands = np.empty(total, np.int64)
    q = np.zeros(total, np.float64)
    k = 0
    nc = 0
    for i in range(m):
        v = upper[i]
        for p in range(rowptr[v], rowptr[v + 1]):
            u = col[p]
            c = mark[u]
            if c < 0:
                c = nc
                mark[u] = nc
                cands[nc] = u
                nc += 1
            x = np.float64(val[p])
            q[c] += x * x
            pos[k] = p
            owner[k] = i
            cand_of_entry[k] = c
            k += 1
    cand_of_upper = np.empty(m, np.int64)
    for i in range(m):
        cand_of_upper[i] = mark[upper[i]]
    for j in range(nc):
        mark[cands[j]] = -1
    return pos, owner, cand_of_entry, cands[:nc], q[:nc], cand_of_upper


@dataclass(frozen=True)
class LayerRows:
    """The rows ``Q Â`` of a layer's nodes ``U`` and the nodes they reach.

    Attributes:
        pos: ``[M]`` entries of ``Â`` in the rows of ``U`` (positions in ``adj.col``).
        owner: ``[M]`` index into ``U`` of each entry's row.
        cand_of_entry: ``[M]`` candidate of each entry's source.
        cands: ``[C]`` distinct sources of the rows (global ids, in the order first met).
        sq_norms: ``[C]`` float64 ``||Q Â[:, u]||^2`` of each candidate.
        cand_of_upper: ``[len(U)]`` candidate index of each node of ``U``, ``-1`` if none.
    """

    pos: Tensor
    owner: Tensor
    cand_of_entry: Tensor
    cands: Tensor
    sq_norms: Tensor
    cand_of_upper: Tensor


def layer_rows(adj: NormalizedAdjacency, upper: Tensor, mark: Tensor, layer: int) -> LayerRows:
    """The rows ``Â[upper, :]`` and their candidates in one compiled pass (LADIES's ``Q Â``).

    Args:
        adj: ``Â``.
        upper: ``[m]`` distinct nodes of the layer above.
        mark: ``[N]`` int32 scratch, all ``-1`` (left so).
        layer: Index of the layer being sampled, for the error.

    Raises:
        UnreachableLayerError: The rows are all empty, naming ``layer``.
    """
    out = _gather_rows(
        adj.rowptr.numpy(), adj.col.numpy(), adj.val.numpy(), upper.numpy(), mark.numpy()
    )
    rows = LayerRows(*(torch.from_numpy(a) for a in out))
    if rows.pos.numel() == 0:
        raise UnreachableLayerError(_unreachable(layer, upper.numel()))
    return rows


def _unreachable(layer: int, count: int) -> str:
    return (
        f"layer {layer}: none of the {count} nodes it computes (the sources of "
        f"block {layer + 1}, or the seeds) has an in-neighbour in the normalised "
        "adjacency, so there is nothing to sample for it (a graph without self-loops, "
        "add_self_loops=False); give add_self_loops=True or other seeds"
    )


def check_layer_sizes(layer_sizes: Any, num_layers: int | None) -> list[int]:
    """One sample size ``>= 1`` per layer (or ``-1`` in a list: that layer exact), from an
    int (with ``num_layers``) or a list.

    Raises:
        TypeError: Not an int or a list of ints.
        ValueError: A size below 1, an empty list, or a list whose length is not
            ``num_layers``.
    """
    if num_layers is not None:
        check_int(num_layers, "num_layers", 1)
    if isinstance(layer_sizes, int) and not isinstance(layer_sizes, bool):
        check_int(layer_sizes, "layer_sizes", 1)
        if num_layers is None:
            raise ValueError(
                f"'layer_sizes'={layer_sizes} is one size for every layer: give 'num_layers' "
                "too, or a list with one size per layer"
            )
        return [layer_sizes] * num_layers
    if isinstance(layer_sizes, (str, bytes, Tensor)) or not isinstance(layer_sizes, Sequence):
        raise TypeError(
            f"'layer_sizes' must be an int or a list of ints (one per layer), got {layer_sizes!r}"
        )
    sizes = list(layer_sizes)
    if not sizes:
        raise ValueError("'layer_sizes' must have one size per layer, got an empty list")
    for i, s in enumerate(sizes):
        if s == -1 and not isinstance(s, bool):
            continue  # the exact layer: every in-neighbour
        check_int(s, f"layer_sizes[{i}]", 1)
    if num_layers is not None and len(sizes) != num_layers:
        raise ValueError(
            f"'layer_sizes' has {len(sizes)} sizes ({sizes}) for num_layers={num_layers}"
        )
    return sizes


class LayerwiseSampler(NodeSampler):
    """Base of the layer-wise samplers: per layer, from the output down, a fixed number of
    nodes is drawn for the layer below and one importance-weighted block built.

    The batch does not nest (``nested=False``): block ``i``'s sources are the nodes drawn for
    layer ``i`` (``batch.layer_n_id[i]``), its targets those of block ``i + 1`` (the seeds
    for the last block), its weights final estimator coefficients.

    Args:
        graph: ``Data`` or ``edge_index``.
        layer_sizes: Nodes drawn per layer, one per block (input layer first), or one int
            for every layer (then give ``num_layers``). ``-1`` in the list makes that layer
            exact: every in-neighbour with its coefficient ``Â_vu`` (FastGCN's authors
            precompute ``ÂX`` so for the input layer).
        num_layers: Number of blocks; must match a list of ``layer_sizes``.
        add_self_loops: Sample from ``D^-1/2 (A + I) D^-1/2`` (the GCN operator); without,
            from ``D^-1/2 A D^-1/2``.
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: Unused by these methods (``Â`` costs about as much to compute as to load);
            accepted like every sampler's.
    """

    nested = False
    per_layer_option = "layer_sizes"
    default_batch_size = 512
    default_options: ClassVar[dict[str, Any]] = {"layer_sizes": [512, 512]}

    def __init__(
        self,
        graph: GraphInput,
        layer_sizes: int | Sequence[int],
        *,
        num_layers: int | None = None,
        add_self_loops: bool = True,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.layer_sizes = check_layer_sizes(layer_sizes, num_layers)
        if not isinstance(add_self_loops, bool):
            raise TypeError(f"'add_self_loops' must be a bool, got {add_self_loops!r}")
        self.add_self_loops = add_self_loops
        super().__init__(graph, num_nodes=num_nodes, seed=seed, cache_dir=cache_dir)
        start = time.perf_counter()
        self.adj = gcn_normalized_adjacency(self.csr, self.graph_edge_weight, add_self_loops)
        self.preprocess_times["gcn_norm"] = time.perf_counter() - start
        self._prepare()

    def _prepare(self) -> None:
        """The method's own preprocessing on ``self.adj`` (timed by the method)."""

    @property
    def num_layers(self) -> int:
        return len(self.layer_sizes)

    def sample(self, seeds: Tensor, *, generator: torch.Generator | None = None) -> Batch:
        """The layer-wise computation graph of ``seeds`` (global ids, distinct).

        Raises:
            ValueError: Seeds out of range or repeated.
            UnreachableLayerError: The nodes of some layer have no in-neighbour in ``Â``.
        """
        seeds = check_nodes(seeds, self.num_nodes)
        gen = self._generator(generator)
        upper, blocks, ids = seeds, [], []
        for layer in range(self.num_layers - 1, -1, -1):
            if self.layer_sizes[layer] == -1:
                nodes, block = self._exact_layer(layer, upper)
            else:
                nodes, block = self._layer(layer, upper, gen)
            blocks.append(block)
            ids.append(nodes)
            upper = nodes
        blocks.reverse()
        ids.reverse()
        return Batch(n_id=ids[0], blocks=blocks, target=seeds, nested=False, layer_n_id=ids)

    def _exact_layer(self, layer: int, upper: Tensor) -> tuple[Tensor, Block]:
        """Every in-neighbour of ``upper`` in ``Â`` with its exact coefficient ``Â_vu``: the
        layer is computed, not estimated (FastGCN's authors precompute ``ÂX`` for the input
        layer the same way, Chen et al. 2018, Sec. 3)."""
        pos, owner = rows_of(self.adj, upper, layer)
        nodes = torch.unique(self.adj.col.index_select(0, pos))
        rl = self._relabel
        rl.start(nodes)
        try:
            source_of = rl.lookup(self.adj.col.index_select(0, pos))
            dst_index = rl.lookup(upper)
        finally:
            rl.reset()
        scale = torch.ones(nodes.numel(), dtype=torch.float64)
        block = estimator_block(
            self.adj, pos, owner, source_of, scale, (nodes.numel(), upper.numel()), dst_index
        )
        return nodes, block

    @abstractmethod
    def _layer(self, layer: int, upper: Tensor, gen: torch.Generator) -> tuple[Tensor, Block]:
        """The nodes drawn for ``layer`` (global ids, the block's sources) and the block
        from them to ``upper`` (the block's targets)."""


__all__ = [
    "LayerRows",
    "LayerwiseSampler",
    "NormalizedAdjacency",
    "UnreachableLayerError",
    "check_layer_sizes",
    "column_sq_norms",
    "draw_iid",
    "draw_without_replacement",
    "estimator_block",
    "gcn_normalized_adjacency",
    "layer_rows",
    "rows_of",
]
