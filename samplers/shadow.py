"""ShaDow-GNN's per-target subgraphs (Zeng et al., NeurIPS 2021)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from .base import (
    GraphInput,
    NodeSampler,
    check_fanouts,
    check_fraction,
    check_int,
    check_nodes,
    make_block,
)
from .batch import Batch
from .graph import CSRGraph, induced_pairs, sample_positions


def khop_pairs(
    csr: CSRGraph,
    seeds: Tensor,
    num_neighbors: Sequence[int],
    generator: torch.Generator,
) -> Tensor:
    """The (optionally fan-out-limited) ``len(num_neighbors)``-hop ball of every seed.

    Returns:
        Sorted distinct keys ``sid * N + node`` (``sid``: position of the seed).
    """
    n = csr.num_nodes
    sid = torch.arange(seeds.numel())
    visited = sid * n + seeds  # sorted: sid increases
    f_sid, f_node = sid, seeds
    for k in num_neighbors:
        if f_node.numel() == 0:
            break
        pos, owner = sample_positions(csr.rowptr, f_node, k, False, generator)
        keys = torch.unique(f_sid.index_select(0, owner) * n + csr.col.index_select(0, pos))
        idx = torch.searchsorted(visited, keys).clamp(max=visited.numel() - 1)
        new = keys[visited.index_select(0, idx) != keys]
        visited = torch.sort(torch.cat([visited, new])).values
        f_sid, f_node = new // n, new % n
    return visited


def ppr_scores(
    csr: CSRGraph,
    sid: Tensor,
    node: Tensor,
    roots: Tensor,
    alpha: float,
    num_iters: int,
) -> Tensor:
    """Personalised PageRank of every (subgraph, node) pair, restricted to its subgraph.

    Power iteration ``p <- alpha e_root + (1 - alpha) P p`` where a walker at ``v`` moves to
    each in-neighbour ``u`` with probability ``1 / deg_in(v)`` of the full graph; mass that
    leaves the subgraph is lost (a local, truncated PPR as in ShaDow's PPR extractor).

    Args:
        csr: The graph.
        sid, node: Sorted distinct pairs.
        roots: Pair index of every subgraph's root.
        alpha: Teleport probability.
        num_iters: Iterations.

    Returns:
        ``[M]`` scores.
    """
    src, dst, _ = induced_pairs(csr, sid, node, csr.num_nodes)
    deg = csr.deg.index_select(0, node).clamp(min=1).to(torch.float64)
    w = 1.0 / deg.index_select(0, dst)
    e = torch.zeros(node.numel(), dtype=torch.float64)
    e[roots] = 1.0
    p = e.clone()
    for _ in range(num_iters):
        p = alpha * e + (1 - alpha) * torch.zeros_like(p).index_add_(
            0, src, p.index_select(0, dst) * w
        )
    return p


class ShaDowSampler(NodeSampler, name="shadow"):
    """ShaDow-GNN's subgraph extraction (Zeng, Zhang, Xia, Srivastava, Malevich, Kannan,
    Prasanna, Jin & Chen, "Decoupling the Depth and Scope of Graph Neural Networks", NeurIPS
    2021): every target gets its own small subgraph, the ``depth``-hop neighbourhood (with
    optional fan-outs) or its top-``k`` nodes by personalised PageRank, and a GNN of any
    depth runs on it, reading out at the target.

    A batch is the disjoint union of the targets' subgraphs: ``n_id`` may repeat a node,
    ``node_batch`` says which subgraph each entry belongs to, and the targets come first
    (entry ``i`` is the root of subgraph ``i``). Every block is that whole union (square),
    ``num_layers`` times.

    Defaults of :func:`~spikegraph.train.minibatch.build_loader` and the command line
    (:meth:`options_for`): ``depth=2`` with fan-outs ``[10, 5]``; a ``depth`` given without
    ``num_neighbors`` gets :meth:`default_fanouts` of that depth (10 at the first hop, 5 at
    each further one), while ``num_neighbors`` given with another length than ``depth`` is
    an error. The constructor itself keeps every neighbour unless given ``num_neighbors``.

    Args:
        graph: ``Data`` or ``edge_index``.
        depth: Hops of the neighbourhood (``>= 1``).
        num_neighbors: Fan-out per hop (``len == depth``); ``None`` keeps every neighbour.
        ppr_topk: Keep only the ``ppr_topk`` nodes of highest PPR in the neighbourhood
            (the root always stays); ``None`` keeps the whole neighbourhood.
        alpha: PPR teleport probability.
        ppr_iters: PPR power iterations.
        num_layers: Blocks per batch (the GNN's depth, independent of ``depth``); defaults
            to ``depth``.
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: See :class:`~spikegraph.samplers.base.Sampler`.
    """

    default_options: ClassVar[dict[str, Any]] = {"depth": 2, "num_neighbors": [10, 5]}
    default_batch_size = 512

    @classmethod
    def default_fanouts(cls, depth: int) -> list[int]:
        """The default fan-outs of a ``depth``-hop neighbourhood: those of
        :attr:`default_options` (10, then 5) for the first two hops, and the last of them
        at each further hop.

        Raises:
            ValueError, TypeError: for a ``depth`` that is not an int ``>= 1``.
        """
        depth = check_int(depth, "depth", 1)
        first, *rest = cls.default_options["num_neighbors"]
        return ([first, *rest] + [rest[-1]] * depth)[:depth]

    @classmethod
    def options_for(cls, num_layers: int, depth: int | None = None) -> dict[str, Any]:
        """Defaults with as many blocks as the model has layers, for a ``depth``-hop
        neighbourhood (``None``: the default depth) with its :meth:`default_fanouts`."""
        opts = {**super().options_for(num_layers), "num_layers": num_layers}
        if depth is not None:
            opts.update(depth=depth, num_neighbors=cls.default_fanouts(depth))
        return opts

    def __init__(
        self,
        graph: GraphInput,
        depth: int = 2,
        num_neighbors: Sequence[int] | None = None,
        *,
        ppr_topk: int | None = None,
        alpha: float = 0.15,
        ppr_iters: int = 10,
        num_layers: int | None = None,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.depth = check_int(depth, "depth", 1)
        if num_neighbors is None:
            num_neighbors = [-1] * depth
        self.num_neighbors = check_fanouts(num_neighbors)
        if len(self.num_neighbors) != depth:
            raise ValueError(
                f"'num_neighbors' has {len(self.num_neighbors)} fan-outs for depth={depth}"
            )
        self.ppr_topk = None if ppr_topk is None else check_int(ppr_topk, "ppr_topk", 1)
        self.alpha = check_fraction(alpha, "alpha")
        self.ppr_iters = check_int(ppr_iters, "ppr_iters", 1)
        self.num_layers = check_int(depth if num_layers is None else num_layers, "num_layers", 1)
        super().__init__(graph, num_nodes=num_nodes, seed=seed, cache_dir=cache_dir)

    def sample(self, seeds: Tensor, *, generator: torch.Generator | None = None) -> Batch:
        seeds = check_nodes(seeds, self.num_nodes)
        gen = self._generator(generator)
        n, b = self.num_nodes, seeds.numel()
        keys = khop_pairs(self.csr, seeds, self.num_neighbors, gen)
        root_keys = torch.arange(b) * n + seeds
        if self.ppr_topk is not None:
            keys = self._ppr_select(keys, root_keys)
        sid, node = keys // n, keys % n
        roots = torch.searchsorted(keys, root_keys)
        is_root = torch.zeros(keys.numel(), dtype=torch.bool)
        is_root[roots] = True
        order = torch.cat([roots, (~is_root).nonzero().view(-1)])
        local = torch.empty_like(order)
        local[order] = torch.arange(order.numel())
        src, dst, e_id = induced_pairs(self.csr, sid, node, n)
        block = make_block(
            local.index_select(0, src),
            local.index_select(0, dst),
            (keys.numel(), keys.numel()),
            self._weights(e_id),
            e_id,
        )
        return Batch(
            n_id=node.index_select(0, order),
            blocks=[block] * self.num_layers,
            target=seeds,
            node_batch=sid.index_select(0, order),
        )

    def _ppr_select(self, keys: Tensor, root_keys: Tensor) -> Tensor:
        n = self.num_nodes
        sid, node = keys // n, keys % n
        roots = torch.searchsorted(keys, root_keys)
        score = ppr_scores(self.csr, sid, node, roots, self.alpha, self.ppr_iters)
        score[roots] = float("inf")
        order = torch.argsort(score, descending=True, stable=True)
        order = order[torch.argsort(sid.index_select(0, order), stable=True)]
        counts = torch.bincount(sid, minlength=root_keys.numel())
        first = torch.cumsum(counts, 0) - counts
        rank = torch.arange(order.numel()) - first.index_select(0, sid.index_select(0, order))
        return torch.sort(keys.index_select(0, order[rank < self.ppr_topk])).values

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_nodes={self.num_nodes}, depth={self.depth}, "
            f"num_neighbors={self.num_neighbors}, ppr_topk={self.ppr_topk}, "
            f"num_layers={self.num_layers})"
        )


__all__ = ["ShaDowSampler", "khop_pairs", "ppr_scores"]
