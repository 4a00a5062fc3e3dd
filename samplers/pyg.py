"""Use the seed-rooted samplers with PyG's own loaders (``torch_geometric.loader.NodeLoader``).

PyG's ``NodeLoader`` takes any ``torch_geometric.sampler.BaseSampler``; this adapter makes
:class:`~spikegraph.samplers.GraphSAGESampler` and :class:`~spikegraph.samplers.ShaDowSampler`
one, with no need for pyg-lib or torch-sparse. The mini-batch ``Data`` it yields follows
PyG's conventions: the seeds are its first ``batch_size`` nodes, ``n_id``/``e_id`` map back
to the graph, ``batch`` (ShaDow) says which subgraph a node belongs to.
"""

from __future__ import annotations

import torch
from torch_geometric.sampler import BaseSampler, NodeSamplerInput, SamplerOutput

from .base import NodeSampler


class PyGSampler(BaseSampler):
    """A ``torch_geometric.sampler.BaseSampler`` over a node-wise sampler of this package.

    Each worker process of the ``NodeLoader`` reseeds its copy of the sampler from the
    sampler's seed and the worker id, so workers draw different batches.

    Args:
        sampler: A :class:`~spikegraph.samplers.GraphSAGESampler` or
            :class:`~spikegraph.samplers.ShaDowSampler` (any
            :class:`~spikegraph.samplers.base.NodeSampler` whose batches use graph edges).

    Example:
        >>> from torch_geometric.loader import NodeLoader
        >>> loader = NodeLoader(data, PyGSampler(GraphSAGESampler(data, [10, 5])),
        ...                     input_nodes=data.train_mask, batch_size=512)  # doctest: +SKIP
    """

    def __init__(self, sampler: NodeSampler) -> None:
        if not isinstance(sampler, NodeSampler):
            raise TypeError(
                f"'sampler' must be a node-wise sampler of this package, got "
                f"{type(sampler).__name__}"
            )
        self.sampler = sampler
        self._worker: int | None = None

    def _generator(self) -> torch.Generator:
        info = torch.utils.data.get_worker_info()
        if info is not None and self._worker != info.id:
            self._worker = info.id
            self.sampler.generator = torch.Generator().manual_seed(int(info.seed) % 2**63)
        return self.sampler.generator

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs) -> SamplerOutput:
        batch = self.sampler.sample(index.node, generator=self._generator())
        block = batch.blocks[0]
        if block.e_id is None:
            raise TypeError(
                f"{type(self.sampler).__name__} does not sample graph edges; PyG's loaders need "
                "edge ids"
            )
        return SamplerOutput(
            node=batch.n_id,
            row=block.edge_index[0],
            col=block.edge_index[1],
            edge=block.e_id,
            batch=batch.node_batch,
            num_sampled_nodes=batch.num_sampled_nodes,
            metadata=(index.input_id, index.time),
        )

    def sample_from_edges(self, index, neg_sampling=None):
        raise NotImplementedError(
            f"{type(self.sampler).__name__} samples around nodes; link sampling is not supported"
        )


__all__ = ["PyGSampler"]
