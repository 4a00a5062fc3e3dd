"""GraphSAGE neighbour sampling (Hamilton, Ying & Leskovec, NeurIPS 2017)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from .base import GraphInput, NodeSampler, check_fanouts, check_nodes, make_block
from .batch import Batch
from .graph import sample_positions


def nested_blocks(
    src: Tensor,
    dst: Tensor,
    edge_weight: Tensor | None,
    e_id: Tensor | None,
    nodes_per_hop: Sequence[int],
    edges_per_hop: Sequence[int],
) -> list:
    """Blocks of a hop-by-hop sample, input layer first.

    Nodes are numbered hop by hop (seeds first) and edges listed hop by hop (the edges into
    the seeds first), so the block of the layer ``h`` hops below the output is a prefix of
    both: its targets are the nodes within ``h - 1`` hops, its sources those within ``h``,
    its edges those sampled at hops ``1 .. h``. Block 0 therefore holds every edge.
    """
    num_hops = len(edges_per_hop)
    nodes_cum = torch.tensor(list(nodes_per_hop)).cumsum(0).tolist()
    edges_cum = torch.tensor(list(edges_per_hop)).cumsum(0).tolist()
    blocks = []
    for h in range(num_hops, 0, -1):
        e = edges_cum[h - 1]
        blocks.append(
            make_block(
                src[:e],
                dst[:e],
                (nodes_cum[h], nodes_cum[h - 1]),
                None if edge_weight is None else edge_weight[:e],
                None if e_id is None else e_id[:e],
            )
        )
    return blocks


class GraphSAGESampler(NodeSampler, name="graphsage"):
    """Neighbour sampling of GraphSAGE (Hamilton, Ying & Leskovec, "Inductive Representation
    Learning on Large Graphs", NeurIPS 2017): every node draws a fixed number of in-neighbours
    uniformly, hop by hop.

    ``num_neighbors[h]`` is the fan-out of the nodes first reached at hop ``h`` (the seeds
    for ``h = 0``), as in PyG's ``NeighborLoader``; each node's neighbours are drawn once per
    batch, so the layers share them. The mean over a node's sampled neighbours is an
    unbiased estimate of the mean over all its neighbours.

    Args:
        graph: ``Data`` or ``edge_index``.
        num_neighbors: Fan-out per hop, one per layer; ``-1`` takes every neighbour.
        replace: Draw with replacement (exactly ``k`` draws, repeats possible); without, a
            node with at most ``k`` neighbours keeps them all.
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: See :class:`~spikegraph.samplers.base.Sampler`.

    Example:
        >>> sampler = GraphSAGESampler(data, num_neighbors=[10, 5], seed=0)  # doctest: +SKIP
        >>> batch = sampler.sample(torch.tensor([0, 1, 2]))  # doctest: +SKIP
    """

    default_options: ClassVar[dict[str, Any]] = {"num_neighbors": [10, 10]}
    default_batch_size = 512
    per_layer_option = "num_neighbors"

    def __init__(
        self,
        graph: GraphInput,
        num_neighbors: Sequence[int],
        *,
        replace: bool = False,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.num_neighbors = check_fanouts(num_neighbors)
        self.replace = bool(replace)
        super().__init__(graph, num_nodes=num_nodes, seed=seed, cache_dir=cache_dir)

    @property
    def num_layers(self) -> int:
        return len(self.num_neighbors)

    def sample(self, seeds: Tensor, *, generator: torch.Generator | None = None) -> Batch:
        seeds = check_nodes(seeds, self.num_nodes)
        gen = self._generator(generator)
        csr, rl = self.csr, self._relabel
        rl.start(seeds)
        try:
            frontier, offset = seeds, 0
            srcs, dsts, eids, nodes = [], [], [seeds.new_empty(0)], [seeds]
            nodes_per_hop, edges_per_hop = [seeds.numel()], []
            for k in self.num_neighbors:
                pos, owner = sample_positions(csr.rowptr, frontier, k, self.replace, gen)
                local, new = rl.add(csr.col.index_select(0, pos))
                srcs.append(local)
                dsts.append(owner + offset)
                eids.append(csr.eid.index_select(0, pos))
                nodes.append(new)
                nodes_per_hop.append(new.numel())
                edges_per_hop.append(pos.numel())
                offset += frontier.numel()
                frontier = new
        finally:
            rl.reset()
        e_id = torch.cat(eids)
        blocks = nested_blocks(
            torch.cat(srcs),
            torch.cat(dsts),
            self._weights(e_id),
            e_id,
            nodes_per_hop,
            edges_per_hop,
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
            f"num_neighbors={self.num_neighbors}, replace={self.replace})"
        )


__all__ = ["GraphSAGESampler", "nested_blocks"]
