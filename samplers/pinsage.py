"""PinSAGE's random-walk neighbourhoods (Ying et al., KDD 2018)."""

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
)
from .batch import Batch
from .graph import CSRGraph
from .graphsage import nested_blocks


def walk_visits(
    csr: CSRGraph,
    starts: Tensor,
    num_walks: int,
    walk_length: int,
    restart_prob: float,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """Nodes visited by ``num_walks`` random walks of ``walk_length`` steps from each start.

    Walks follow in-edges. At every step a walker jumps back to its start with probability
    ``restart_prob`` (a random walk with restart, as in PinSAGE), and also when it stands on a
    node without in-neighbours; a jump is not a visit. Visits of the start itself are dropped.

    Returns:
        ``(owner, node)``: one entry per visit, ``owner`` indexing ``starts``.
    """
    n = starts.numel()
    if csr.num_edges == 0:
        return starts.new_empty(0), starts.new_empty(0)
    owner0 = torch.arange(n).repeat_interleave(num_walks)
    home = starts.index_select(0, owner0)
    cur = home.clone()
    deg_all = csr.deg
    owners, nodes = [], []
    r = torch.rand(walk_length, 2, owner0.numel(), generator=generator, dtype=torch.float64)
    for step in range(walk_length):
        deg = deg_all.index_select(0, cur)
        move = deg > 0
        if restart_prob > 0:
            move &= r[step, 0] >= restart_prob
        pos = csr.rowptr.index_select(0, cur) + (r[step, 1] * deg).long()
        nxt = torch.where(move, csr.col.index_select(0, pos.clamp(max=csr.num_edges - 1)), home)
        keep = (move & (nxt != home)).nonzero().view(-1)
        owners.append(owner0.index_select(0, keep))
        nodes.append(nxt.index_select(0, keep))
        cur = nxt
    return torch.cat(owners), torch.cat(nodes)


def top_visited(
    owner: Tensor,
    node: Tensor,
    num_owners: int,
    num_nodes: int,
    k: int,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor]:
    """The ``k`` most visited nodes of every owner; nodes tied at the cut are chosen
    uniformly at random (from ``generator``), so that no node id is favoured.

    Returns:
        ``(owner, node, count)`` of the kept pairs, grouped by owner, most visited first
        (ties in random order).
    """
    key = owner * num_nodes + node
    uniq, count = torch.unique(key, return_counts=True)
    own, nod = uniq // num_nodes, uniq % num_nodes
    if k < 0 or own.numel() == 0:
        return own, nod, count
    # Sort by owner, then count (descending), stably after a random shuffle: tied nodes
    # end up in uniformly random order.
    shuffle = torch.randperm(own.numel(), generator=generator)
    own, nod, count = own[shuffle], nod[shuffle], count[shuffle]
    top = int(count.max()) + 1
    order = torch.argsort(own * top + (top - 1 - count), stable=True)
    own, nod, count = own[order], nod[order], count[order]
    first = torch.zeros(num_owners + 1, dtype=torch.long)
    first[1:] = torch.cumsum(torch.bincount(own, minlength=num_owners), 0)
    rank = torch.arange(own.numel()) - first.index_select(0, own)
    keep = rank < k
    return own[keep], nod[keep], count[keep]


def importance_weights(owner: Tensor, count: Tensor, num_owners: int) -> Tensor:
    """PinSAGE's importance weights: visit counts normalised per owner to mean 1.

    ``w_u = k_v c_u / sum_{u'} c_{u'}`` over the ``k_v`` chosen neighbours of ``v``, so a
    weighted mean over them is PinSAGE's importance pooling (L1-normalised counts), and a
    model that normalises by weighted degree (GCN) balances self and neighbours as it does
    with ``k_v`` uniformly sampled neighbours.
    """
    c = count.to(torch.float32)
    total = torch.zeros(num_owners).index_add_(0, owner, c)
    k = torch.bincount(owner, minlength=num_owners).to(torch.float32)
    return c * (k / total).index_select(0, owner)


class PinSAGESampler(NodeSampler, name="pinsage"):
    """Random-walk neighbourhoods of PinSAGE (Ying, He, Chen, Eksombatchai, Hamilton &
    Leskovec, "Graph Convolutional Neural Networks for Web-Scale Recommender Systems", KDD
    2018): from every node, short random walks; the ``k`` most visited nodes become its
    neighbours and their visit counts its importance weights. Nodes tied at the top-``k``
    cut are chosen at random from the sampler's generator (:func:`top_visited`).

    The hops are built as in :class:`~spikegraph.samplers.GraphSAGESampler` (each node's
    neighbourhood drawn once per batch, the blocks nested). The neighbours are nodes within
    ``walk_length`` hops, not necessarily adjacent, so the blocks' ``e_id`` is ``None``.
    ``edge_weight`` holds :func:`importance_weights`.

    Args:
        graph: ``Data`` or ``edge_index``.
        num_neighbors: Top-``k`` neighbours per hop, one per layer (``-1``: every visited
            node).
        num_walks: Walks per node.
        walk_length: Steps per walk (``>= 1``).
        restart_prob: Probability of jumping back to the start at each step.
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: See :class:`~spikegraph.samplers.base.Sampler`.
    """

    default_options: ClassVar[dict[str, Any]] = {
        "num_neighbors": [10, 10],
        "num_walks": 20,
        "walk_length": 2,
    }
    default_batch_size = 512
    per_layer_option = "num_neighbors"

    def __init__(
        self,
        graph: GraphInput,
        num_neighbors: Sequence[int],
        *,
        num_walks: int = 20,
        walk_length: int = 2,
        restart_prob: float = 0.0,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.num_neighbors = check_fanouts(num_neighbors)
        self.num_walks = check_int(num_walks, "num_walks", 1)
        self.walk_length = check_int(walk_length, "walk_length", 1)
        self.restart_prob = check_fraction(restart_prob, "restart_prob", low_open=False)
        super().__init__(graph, num_nodes=num_nodes, seed=seed, cache_dir=cache_dir)

    @property
    def num_layers(self) -> int:
        return len(self.num_neighbors)

    def sample(self, seeds: Tensor, *, generator: torch.Generator | None = None) -> Batch:
        seeds = check_nodes(seeds, self.num_nodes)
        gen = self._generator(generator)
        rl = self._relabel
        rl.start(seeds)
        try:
            frontier, offset = seeds, 0
            srcs, dsts, weights, nodes = [], [], [], [seeds]
            nodes_per_hop, edges_per_hop = [seeds.numel()], []
            for k in self.num_neighbors:
                owner, visited = walk_visits(
                    self.csr, frontier, self.num_walks, self.walk_length, self.restart_prob, gen
                )
                owner, nbr, count = top_visited(
                    owner, visited, frontier.numel(), self.num_nodes, k, gen
                )
                local, new = rl.add(nbr)
                srcs.append(local)
                dsts.append(owner + offset)
                weights.append(importance_weights(owner, count, frontier.numel()))
                nodes.append(new)
                nodes_per_hop.append(new.numel())
                edges_per_hop.append(nbr.numel())
                offset += frontier.numel()
                frontier = new
        finally:
            rl.reset()
        blocks = nested_blocks(
            torch.cat(srcs), torch.cat(dsts), torch.cat(weights), None, nodes_per_hop, edges_per_hop
        )
        return Batch(
            n_id=torch.cat(nodes),
            blocks=blocks,
            target=seeds,
            num_sampled_nodes=nodes_per_hop,
            num_sampled_edges=edges_per_hop,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_nodes={self.num_nodes}, "
            f"num_neighbors={self.num_neighbors}, num_walks={self.num_walks}, "
            f"walk_length={self.walk_length}, restart_prob={self.restart_prob})"
        )


__all__ = ["PinSAGESampler", "importance_weights", "top_visited", "walk_visits"]
