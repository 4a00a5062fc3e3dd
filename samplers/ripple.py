"""Ripple Walk Training (Bai et al., IEEE TAI 2021): subgraphs grown by ripples."""

from __future__ import annotations

import math
import os
from typing import Any, ClassVar

import torch
from torch import Tensor

from .base import GraphInput, SubgraphSampler, check_fraction, check_int
from .batch import Batch
from .graph import CSRGraph, Relabeler, segment_gather


def ripple_nodes(
    csr: CSRGraph,
    size: int,
    ratio: float,
    generator: torch.Generator,
    relabel: Relabeler,
) -> Tensor:
    """Grow one node set by ripple expansion until it has ``size`` nodes.

    Start from a uniformly random node; at every ripple, take the neighbours of the set that
    are not yet in it and add a uniformly random ``ceil(ratio * |neighbourhood|)`` of them
    (fewer at the last ripple, to stop at ``size``). When the set has no outside neighbour
    left (its connected component is exhausted), the next ripple starts from a random node
    outside the set.

    Returns:
        ``[size]`` distinct global ids, in order of addition.
    """
    n = csr.num_nodes
    start = torch.randint(0, n, (1,), generator=generator)
    relabel.start(start)
    added = [start]
    new, frontier = start, start.new_empty(0)
    try:
        while relabel.count < size:
            pos, _ = segment_gather(csr.rowptr, new)
            frontier = torch.unique(torch.cat([frontier, csr.col.index_select(0, pos)]))
            frontier = frontier[relabel.lookup(frontier) < 0]
            need = size - relabel.count
            if frontier.numel() == 0:
                new = _outside_node(n, relabel, generator)
            else:
                m = min(max(1, math.ceil(ratio * frontier.numel())), need)
                pick = torch.randperm(frontier.numel(), generator=generator)[:m]
                new = frontier[pick]
            relabel.add(new)
            added.append(new)
        return torch.cat(added)
    finally:
        relabel.reset()


def _outside_node(n: int, relabel: Relabeler, generator: torch.Generator) -> Tensor:
    """A uniformly random node not yet in the set (the set is never the whole graph)."""
    while True:
        cand = torch.randint(0, n, (64,), generator=generator)
        out = cand[relabel.lookup(cand) < 0]
        if out.numel():
            return out[:1]


class RippleWalkSampler(SubgraphSampler, name="ripple"):
    """Ripple Walk Training, RWT (Bai, Ren, Chen, Liu & Wang, "Ripple Walk Training: A
    Subgraph-based Training Framework for Large and Deep Graph Neural Network", 2021): every
    batch is the subgraph induced by a node set grown from a random start by ripples, each
    adding a random fraction ``expansion_ratio`` of the current neighbourhood, until it has
    ``subgraph_size`` nodes (see :func:`ripple_nodes`).

    The default size follows the graph: ``min(4000, num_nodes)`` (:attr:`DEFAULT_SIZE`), in
    the constructor (``subgraph_size=None``) and in :meth:`options_for` given the graph's
    ``num_nodes`` (as :func:`~spikegraph.train.minibatch.build_loader` and the command line
    do), so the defaults work on graphs smaller than it (Cora, CiteSeer: one subgraph of
    the whole graph per epoch). A size given larger than the graph is an error, never
    reduced.

    Args:
        graph: ``Data`` or ``edge_index``.
        subgraph_size: Nodes per subgraph, at most the number of nodes (``None``:
            ``min(DEFAULT_SIZE, num_nodes)``).
        expansion_ratio: Fraction of the neighbourhood added per ripple, in ``(0, 1]``.
        num_steps: Batches per epoch (default ``ceil(N / subgraph_size)``).
        targets: Nodes whose loss counts (default: all).
        num_layers: Blocks per batch.
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: Unused (RWT has no preprocessing).
    """

    #: Nodes per subgraph unless told otherwise (on graphs of at least as many nodes).
    DEFAULT_SIZE: ClassVar[int] = 4000
    default_options: ClassVar[dict[str, Any]] = {
        "subgraph_size": DEFAULT_SIZE,
        "expansion_ratio": 0.5,
    }

    @classmethod
    def options_for(cls, num_layers: int, num_nodes: int | None = None) -> dict[str, Any]:
        """The default options (:attr:`default_options`); for a graph of ``num_nodes``
        nodes, the subgraph size at most ``num_nodes``."""
        opts = super().options_for(num_layers)
        if num_nodes is not None:
            opts["subgraph_size"] = min(opts["subgraph_size"], check_int(num_nodes, "num_nodes", 1))
        return opts

    def __init__(
        self,
        graph: GraphInput,
        subgraph_size: int | None = None,
        *,
        expansion_ratio: float = 0.5,
        num_steps: int | None = None,
        targets: Tensor | None = None,
        num_layers: int = 2,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(
            graph,
            targets=targets,
            num_layers=num_layers,
            num_nodes=num_nodes,
            seed=seed,
            cache_dir=cache_dir,
        )
        if subgraph_size is None:
            subgraph_size = min(self.DEFAULT_SIZE, self.num_nodes)
        self.subgraph_size = check_int(subgraph_size, "subgraph_size", 1)
        if subgraph_size > self.num_nodes:
            raise ValueError(f"'subgraph_size'={subgraph_size} exceeds the {self.num_nodes} nodes")
        self.expansion_ratio = check_fraction(expansion_ratio, "expansion_ratio")
        self.num_steps = None if num_steps is None else check_int(num_steps, "num_steps", 1)

    @property
    def batches_per_epoch(self) -> int:
        if self.num_steps is not None:
            return self.num_steps
        return math.ceil(self.num_nodes / self.subgraph_size)

    def sample(self, *, generator: torch.Generator | None = None) -> Batch:
        """One ripple-walk subgraph."""
        nodes = ripple_nodes(
            self.csr,
            self.subgraph_size,
            self.expansion_ratio,
            self._generator(generator),
            self._relabel,
        )
        return self._subgraph_batch(nodes)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_nodes={self.num_nodes}, "
            f"subgraph_size={self.subgraph_size}, expansion_ratio={self.expansion_ratio})"
        )


__all__ = ["RippleWalkSampler", "ripple_nodes"]
