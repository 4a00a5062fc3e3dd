"""Cluster-GCN (Chiang et al., KDD 2019): METIS clusters, several per batch."""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from .base import GraphInput, SubgraphSampler, check_cached_tensor, check_int
from .batch import Batch, Block
from .graph import expand_segments, symmetrize, to_csr

log = logging.getLogger(__name__)


def metis_partition(edge_index: Tensor, num_nodes: int, num_parts: int, seed: int = 0) -> Tensor:
    """Partition a graph into ``num_parts`` clusters with METIS (Karypis & Kumar, 1998).

    METIS needs an undirected graph without self-loops, so the edges are symmetrised and
    self-loops dropped first (partitioning a directed edge list as is makes METIS fail or
    misbehave). Uses the ``pymetis`` binding of METIS.

    Args:
        edge_index: ``[2, E]``.
        num_nodes: Number of nodes.
        num_parts: Number of clusters, ``1 <= num_parts <= num_nodes``.
        seed: METIS's random seed.

    Returns:
        ``[N]`` cluster id of every node.
    """
    import pymetis

    check_int(num_parts, "num_parts", 1)
    if num_parts > num_nodes:
        raise ValueError(f"'num_parts'={num_parts} is more clusters than the {num_nodes} nodes")
    if num_parts == 1:
        return torch.zeros(num_nodes, dtype=torch.long)
    und = symmetrize(edge_index, num_nodes)
    csr = to_csr(und.flip(0), num_nodes)  # by source: the neighbour list of every node
    adjacency = pymetis.CSRAdjacency(csr.rowptr.numpy(), csr.col.numpy())
    options = pymetis.Options(seed=int(seed))
    part = pymetis.part_graph(num_parts, adjacency, options=options).vertex_part
    return torch.from_numpy(np.asarray(part, dtype=np.int64))


def diag_enhanced_operator(
    edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int, diag_lambda: float
) -> tuple[Tensor, Tensor, int]:
    """Cluster-GCN's diagonal enhancement (Chiang et al., KDD 2019, Eq. 10-11) as edges:
    ``Ã = (D + I)^-1 (A + I)``, then ``Ã + lambda diag(Ã)``.

    Row ``v`` of ``Ã`` (the target's row) is the in-edges of ``v`` in ``A + I`` divided by
    their weighted count ``d_v + 1``, so ``Ã`` is row-stochastic, ``Ã_vv = 1 / (d_v + 1)``
    and the enhanced diagonal is ``(1 + lambda) / (d_v + 1)``. A node's own self-loop edges
    stand for its entry of ``I`` (as PyG's ``add_remaining_self_loops`` treats them); a
    self-loop of weight one is appended for every other node.

    Args:
        edge_index: ``[2, E]`` local ids, row 0 sources, row 1 targets.
        edge_weight: ``[E]`` weights of ``A`` (``None``: ones).
        num_nodes: Nodes of the square block.
        diag_lambda: ``lambda >= 0``.

    Returns:
        ``(edge_index, weight, added)``: the given edges then the ``added`` new self-loops,
        and the operator's entry of each (``weight[e]`` for edge ``u -> v`` is the entry
        ``[v, u]``).
    """
    src, dst = edge_index
    w = torch.ones(src.numel()) if edge_weight is None else edge_weight
    loop = src == dst
    has_loop = torch.zeros(num_nodes, dtype=torch.bool)
    has_loop[src[loop]] = True
    new = (~has_loop).nonzero().view(-1)
    src, dst = torch.cat([src, new]), torch.cat([dst, new])
    w = torch.cat([w, torch.ones(new.numel(), dtype=w.dtype)]).to(torch.float64)
    loop = torch.cat([loop, torch.ones(new.numel(), dtype=torch.bool)])
    deg = torch.zeros(num_nodes, dtype=torch.float64).index_add_(0, dst, w)
    w = w / deg.index_select(0, dst)
    w[loop] *= 1.0 + diag_lambda
    dtype = torch.float32 if edge_weight is None else edge_weight.dtype
    return torch.stack([src, dst]), w.to(dtype), int(new.numel())


class ClusterGCNSampler(SubgraphSampler, name="cluster-gcn"):
    """Cluster-GCN (Chiang, Liu, Si, Li, Bengio & Hsieh, "Cluster-GCN: An Efficient Algorithm
    for Training Deep and Large Graph Convolutional Networks", KDD 2019): partition the graph
    once with METIS; every batch joins ``clusters_per_batch`` random clusters and keeps all
    edges among their nodes (also those between the clusters).

    An epoch of a :class:`~spikegraph.samplers.Loader` visits every cluster once (in a random
    grouping with ``shuffle=True``, else in order). With ``diag_lambda = 0`` (default) the
    batch is the plain subgraph (graph weights, not final): the model normalises it as it
    normalises the full graph. With ``diag_lambda > 0`` the batch carries the paper's
    diagonal enhancement (Eq. 10-11) as final weights (``Block.weights_final``):
    ``Ã + lambda diag(Ã)`` with ``Ã = (D + I)^-1 (A + I)`` of the batch's subgraph
    (:func:`diag_enhanced_operator`; self-loops are edges of the block, ``e_id = -1`` where
    the graph has none), so node ``v``'s diagonal is ``(1 + lambda) / (d_v + 1)``.

    Args:
        graph: ``Data`` or ``edge_index``.
        num_parts: Number of METIS clusters (at most the number of nodes).
        clusters_per_batch: Clusters joined per batch (the paper's ``q``).
        diag_lambda: Diagonal enhancement ``lambda >= 0`` (``0``: none).
        targets: Nodes whose loss counts (default: all).
        num_layers: Blocks per batch.
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator`` (also seeds METIS).
        cache_dir: Keep the partition here.

    Attributes:
        part: ``[N]`` cluster of every node.
    """

    default_options: ClassVar[dict[str, Any]] = {"num_parts": 200, "clusters_per_batch": 20}

    def __init__(
        self,
        graph: GraphInput,
        num_parts: int,
        *,
        clusters_per_batch: int = 1,
        diag_lambda: float = 0.0,
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
        self.num_parts = check_int(num_parts, "num_parts", 1)
        if num_parts > self.num_nodes:
            raise ValueError(
                f"'num_parts'={num_parts} is more clusters than the {self.num_nodes} nodes"
            )
        self.clusters_per_batch = check_int(clusters_per_batch, "clusters_per_batch", 1)
        if clusters_per_batch > num_parts:
            raise ValueError(
                f"'clusters_per_batch'={clusters_per_batch} exceeds num_parts={num_parts}"
            )
        if isinstance(diag_lambda, bool) or not isinstance(diag_lambda, (int, float)):
            raise TypeError(f"'diag_lambda' must be a number, got {diag_lambda!r}")
        if not diag_lambda >= 0 or diag_lambda == float("inf"):
            raise ValueError(f"'diag_lambda' must be finite and >= 0, got {diag_lambda}")
        self.diag_lambda = float(diag_lambda)
        metis_seed = seed if isinstance(seed, int) else int(seed.initial_seed() % 2**31)
        self.part = self._preprocess(
            "metis",
            {"num_parts": num_parts, "seed": metis_seed},
            lambda: {
                "part": metis_partition(self.edge_index, self.num_nodes, num_parts, metis_seed)
            },
            self._check_partition,
        )["part"]
        sizes = torch.bincount(self.part, minlength=num_parts)
        if bool((sizes == 0).any()):
            log.warning("METIS left %d of %d clusters empty", int((sizes == 0).sum()), num_parts)
        self.cluster_ptr = torch.zeros(num_parts + 1, dtype=torch.long)
        torch.cumsum(sizes, 0, out=self.cluster_ptr[1:])
        self.cluster_nodes = torch.argsort(self.part, stable=True)

    def _check_partition(self, result: dict) -> None:
        """A cached partition: a cluster id in ``[0, num_parts)`` for every node."""
        part = check_cached_tensor(result, "part", torch.int64, self.num_nodes)
        bad = ((part < 0) | (part >= self.num_parts)).nonzero().view(-1)
        if bad.numel():
            i = int(bad[0])
            raise ValueError(
                f"'part' gives node {i} cluster id {int(part[i])}, outside [0, {self.num_parts})"
            )

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.num_parts // self.clusters_per_batch)

    def _epoch_args(self, seeds, batch_size, shuffle, gen) -> list[tuple]:
        super()._epoch_args(seeds, batch_size, shuffle, gen)  # rejects seeds
        order = (
            torch.randperm(self.num_parts, generator=gen)
            if shuffle
            else torch.arange(self.num_parts)
        )
        return [(chunk,) for chunk in order.split(self.clusters_per_batch)]

    def nodes_of(self, clusters: Tensor) -> Tensor:
        """Global ids of the nodes of ``clusters``."""
        starts = self.cluster_ptr.index_select(0, clusters)
        counts = self.cluster_ptr.index_select(0, clusters + 1) - starts
        pos, _ = expand_segments(starts, counts)
        return self.cluster_nodes.index_select(0, pos)

    def sample(
        self, clusters: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> Batch:
        """The subgraph of ``clusters`` (default: ``clusters_per_batch`` random ones).

        Args:
            clusters: Distinct cluster ids in ``[0, num_parts)`` (a tensor, a list or one
                int), or ``None`` for ``clusters_per_batch`` random clusters.
            generator: Draws the random clusters (default: the sampler's generator).

        Raises:
            TypeError: ``clusters`` holds non-integer values (a float such as ``1.9`` is not
                rounded) or is a mask.
            ValueError: ``clusters`` is empty, not 1-D, or holds an id out of range or more
                than once (a repeated cluster would repeat its nodes and targets).
        """
        if clusters is None:
            gen = self._generator(generator)
            clusters = torch.randperm(self.num_parts, generator=gen)[: self.clusters_per_batch]
        else:
            clusters = self._check_clusters(clusters)
        batch = self._subgraph_batch(self.nodes_of(clusters))
        if self.diag_lambda > 0:
            batch = self._enhance_diagonal(batch)
        return batch

    def _check_clusters(self, clusters: Any) -> Tensor:
        """``clusters`` as a 1-D long tensor of distinct ids in ``[0, num_parts)``.

        Raises:
            TypeError: A mask or a non-integer value, naming the first such value.
            ValueError: Empty, not 1-D, or an id out of range or repeated, naming it.
        """
        if not isinstance(clusters, Tensor):
            clusters = torch.as_tensor(clusters)
        if clusters.dim() == 0:
            clusters = clusters.view(1)
        if clusters.numel() == 0:
            raise ValueError("'clusters' is empty")
        if clusters.dtype == torch.bool:
            raise TypeError(
                "'clusters' must hold cluster ids, not a mask; use mask.nonzero().view(-1)"
            )
        if clusters.is_floating_point() or clusters.is_complex():
            first = clusters.reshape(-1)[0].item()
            raise TypeError(
                f"'clusters' must hold integer cluster ids, got {first:g} ({clusters.dtype}); "
                "a float is not rounded to an id"
            )
        if clusters.dim() != 1:
            raise ValueError(f"'clusters' must be 1-D, got shape {tuple(clusters.shape)}")
        clusters = clusters.long().cpu()
        lo, hi = int(clusters.min()), int(clusters.max())
        if lo < 0 or hi >= self.num_parts:
            raise ValueError(
                f"'clusters' must be in [0, {self.num_parts}), got {clusters.tolist()}: "
                f"cluster id {lo if lo < 0 else hi} is out of range"
            )
        uniq, counts = torch.unique(clusters, return_counts=True)
        if uniq.numel() != clusters.numel():
            dup = int(uniq[counts > 1][0])
            raise ValueError(
                f"'clusters' holds cluster id {dup} more than once; a batch joins distinct "
                "clusters (a repeated one would repeat its nodes and targets)"
            )
        return clusters

    def _enhance_diagonal(self, batch: Batch) -> Batch:
        block = batch.blocks[0]
        edge_index, weight, added = diag_enhanced_operator(
            block.edge_index, block.edge_weight, batch.n_id.numel(), self.diag_lambda
        )
        e_id = torch.cat([block.e_id, torch.full((added,), -1, dtype=torch.long)])
        new = Block(edge_index, weight, block.size, e_id, weights_final=True)
        batch.blocks = [new] * len(batch.blocks)
        return batch

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_nodes={self.num_nodes}, num_parts={self.num_parts}, "
            f"clusters_per_batch={self.clusters_per_batch}, diag_lambda={self.diag_lambda})"
        )


__all__ = ["ClusterGCNSampler", "diag_enhanced_operator", "metis_partition"]
