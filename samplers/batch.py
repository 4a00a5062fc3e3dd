"""The one batch type every sampler returns (after DGL's message-flow graphs, Wang et al. 2019).

A batch is a list of bipartite *blocks*, one per GNN layer, input layer first. All blocks of a
batch share one local id space, the positions in ``batch.n_id``:

- block ``i`` maps its ``size[0]`` source nodes (local ids ``0 .. size[0]-1``) to its
  ``size[1]`` target nodes (local ids ``0 .. size[1]-1``): the targets of a block are the
  first ``num_dst`` of its sources, and the targets of block ``i`` are the sources of block
  ``i + 1``;
- block 0 holds every edge of the later blocks (they are nested), so block 0 alone is the
  sampled subgraph a model without block support runs on (as PyG's ``NeighborLoader`` does);
- ``batch.target`` are the nodes whose loss counts; they are the first ``len(target)`` outputs
  of the last block, so the logits of the targets are ``out[:len(batch.target)]`` whether a
  model runs on the blocks or on the subgraph.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor


@dataclass
class Block:
    """One layer of a sampled computation graph: messages from sources to targets.

    Attributes:
        edge_index: ``[2, E]`` local ids; row 0 sources (``< size[0]``), row 1 targets
            (``< size[1]``).
        edge_weight: ``[E]`` the method's edge weights (importance weights, aggregator
            normalisation, the graph's own weights), or ``None`` for unweighted edges.
        size: ``(num_src, num_dst)``.
        e_id: ``[E]`` position of each edge in the original ``edge_index``; ``-1`` for an edge
            that is not in the graph (an added self-loop, a random-walk neighbour);
            ``None`` when the method has no graph edges.
    """

    edge_index: Tensor
    edge_weight: Tensor | None
    size: tuple[int, int]
    e_id: Tensor | None = None

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.size(1))

    def to(self, device: torch.device | str) -> Block:
        return replace(
            self,
            edge_index=self.edge_index.to(device),
            edge_weight=None if self.edge_weight is None else self.edge_weight.to(device),
            e_id=None if self.e_id is None else self.e_id.to(device),
        )


@dataclass
class Batch:
    """What one call of a sampler returns.

    Attributes:
        n_id: ``[N_in]`` global ids of the input nodes; ``x_in = x[batch.n_id]``. Ids may
            repeat when a method builds disjoint subgraphs (ShaDow).
        blocks: One :class:`Block` per layer, input layer first.
        target: ``[B]`` global ids of the nodes whose loss counts; the first ``B`` outputs of
            the last block.
        loss_weight: ``[B]`` per-target loss weights, or ``None``. With weights the batch
            loss is ``(loss_weight * per_target_loss).sum()``; without, the mean.
        node_batch: ``[N_in]`` which disjoint subgraph each input node belongs to (ShaDow),
            else ``None``.
        num_sampled_nodes: Nodes added per hop (node-wise methods), else ``None``.
    """

    n_id: Tensor
    blocks: list[Block]
    target: Tensor
    loss_weight: Tensor | None = None
    node_batch: Tensor | None = None
    num_sampled_nodes: list[int] | None = field(default=None)

    @property
    def num_targets(self) -> int:
        return int(self.target.numel())

    @property
    def num_edges(self) -> int:
        """Edges of the sampled subgraph (block 0, which holds all others)."""
        return self.blocks[0].num_edges

    def subgraph(self) -> tuple[Tensor, Tensor | None]:
        """The union of the blocks as a graph on ``n_id``: ``(edge_index, edge_weight)``.

        Block 0 holds every edge of the later blocks, so this is block 0's edges.
        """
        block = self.blocks[0]
        return block.edge_index, block.edge_weight

    def to(self, device: torch.device | str) -> Batch:
        return replace(
            self,
            n_id=self.n_id.to(device),
            blocks=[b.to(device) for b in self.blocks],
            target=self.target.to(device),
            loss_weight=None if self.loss_weight is None else self.loss_weight.to(device),
            node_batch=None if self.node_batch is None else self.node_batch.to(device),
        )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{b.size[0]}->{b.size[1]} ({b.num_edges} edges)" for b in self.blocks)
        return (
            f"Batch(n_id={self.n_id.numel()}, target={self.num_targets}, blocks=[{sizes}], "
            f"loss_weight={'yes' if self.loss_weight is not None else 'None'})"
        )


__all__ = ["Batch", "Block"]
