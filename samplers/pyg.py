"""Use the seed-rooted samplers with PyG's own loaders (``torch_geometric.loader.NodeLoader``).

PyG's ``NodeLoader`` takes any ``torch_geometric.sampler.BaseSampler``; this adapter makes
:class:`~spikegraph.samplers.GraphSAGESampler` and :class:`~spikegraph.samplers.ShaDowSampler`
one, with no need for pyg-lib or torch-sparse. The mini-batch ``Data`` it yields follows
PyG's conventions: the seeds are its first ``batch_size`` nodes, ``n_id``/``e_id`` map back
to the graph, ``batch`` (ShaDow) says which subgraph a node belongs to, and GraphSAGE's
batches carry ``num_sampled_nodes`` and ``num_sampled_edges`` per hop, as
``NeighborLoader``'s do, for PyG's ``trim_to_layer``
(``model(x, edge_index, num_sampled_nodes_per_hop=..., num_sampled_edges_per_hop=...)``).

A PyG mini-batch is one subgraph of graph edges on ``n_id`` and nothing more, so only
batches that are exactly that can be handed over: nested blocks (block 0 is the whole
computation graph, :attr:`Batch.nested <spikegraph.samplers.Batch.nested>`), the seeds first,
weights that are not final, every edge a graph edge (``e_id >= 0``), no loss weights, no
control variates or skip blocks. Layer-wise samplers (FastGCN, LADIES, AS-GCN) and VR-GCN
give none of that; their estimators live in what a PyG batch would drop, and need
:class:`~spikegraph.samplers.Loader` and a model that runs on blocks.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor
from torch_geometric.sampler import BaseSampler, NodeSamplerInput, SamplerOutput

from .base import NodeSampler, check_int
from .batch import Batch, BatchContractError


def _label(sampler: NodeSampler) -> str:
    return f"{sampler.name!r} ({type(sampler).__name__})"


class PyGSampler(BaseSampler):
    """A ``torch_geometric.sampler.BaseSampler`` over a node-wise sampler of this package.

    Only samplers whose batches are one PyG subgraph of graph edges fit: the sampler class
    must declare nested batches (``nested = True``, as GraphSAGE and ShaDow do), and every
    batch must nest, list the seeds first, use graph edges only (``e_id >= 0``), and carry
    nothing a PyG batch would drop (final weights, ``loss_weight``, a control variate, a skip
    block). Layer-wise samplers and VR-GCN are refused here; PinSAGE's walk neighbours
    (``e_id=None``) are refused at the first batch.

    Every batch draws its random numbers from a generator of its own, seeded from the
    sampler's seed (``sampler.generator.initial_seed()``), the epoch (:meth:`set_epoch`)
    and the batch's seed nodes, so the same sampler seed gives the same batches for any
    ``num_workers`` and any state of torch's global generator. Which seeds share a batch is
    the ``NodeLoader``'s choice (with ``shuffle=True`` it draws them from torch's global
    generator unless given a ``generator``). Call :meth:`set_epoch` before each epoch, as
    with ``DistributedSampler``, or a batch of the same seeds draws the same neighbours
    again (with ``shuffle=False``, every epoch repeats). Worker processes see the epoch set
    before they start (PyG's default, ``persistent_workers=False``).

    Args:
        sampler: A :class:`~spikegraph.samplers.GraphSAGESampler` or
            :class:`~spikegraph.samplers.ShaDowSampler`, or another
            :class:`~spikegraph.samplers.base.NodeSampler` whose batches are as above.

    Raises:
        TypeError: ``sampler`` is not a node-wise sampler, or its class declares batches
            that do not nest (``nested = False``), naming it.

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
        if not getattr(sampler, "nested", True):
            raise TypeError(
                f"PyGSampler cannot take the sampler {_label(sampler)}: its batches do not "
                "nest (its class declares nested=False), so block 0 is not the whole "
                "computation graph and no single PyG subgraph holds a batch (layer-wise "
                "samplers and VR-GCN also carry final estimator weights a PyG batch would "
                "drop); use spikegraph.samplers.Loader and a model that runs on blocks"
            )
        self.sampler = sampler
        self.seed = int(sampler.generator.initial_seed())
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the batches of epoch ``epoch`` (``0`` until called), as
        ``DistributedSampler.set_epoch`` does.

        Raises:
            TypeError, ValueError: ``epoch`` is not an int ``>= 0``.
        """
        self.epoch = check_int(epoch, "epoch", 0)

    def _generator(self, seeds: Tensor) -> torch.Generator:
        """The batch's own generator: from the sampler's seed, the epoch and the seeds."""
        h = hashlib.blake2b(digest_size=8)
        h.update(f"{self.seed}:{self.epoch}:".encode())
        h.update(seeds.detach().to("cpu", torch.long).contiguous().numpy().tobytes())
        return torch.Generator().manual_seed(int.from_bytes(h.digest(), "little") % 2**63)

    def _check(self, batch: Batch, seeds: Tensor) -> None:
        """Refuse a batch that is not one PyG subgraph of graph edges, seeds first."""
        who = f"{_label(self.sampler)} gave a batch"
        why = None
        if not batch.nested:
            why = "whose blocks do not nest, so block 0 is not its computation graph"
        elif batch.loss_weight is not None:
            why = "with loss_weight, which a PyG batch cannot carry (the loss would be biased)"
        b = seeds.numel()
        if why is None and not torch.equal(batch.n_id[:b], seeds):
            why = (
                f"whose first {b} nodes {batch.n_id[:b].tolist()[:8]} are not the seeds "
                f"{seeds.tolist()[:8]}"
            )
        for i, block in enumerate(batch.blocks):
            if why is not None:
                break
            if block.weights_final:
                why = (
                    f"whose block {i} has final weights (estimator coefficients), which a "
                    "PyG model would renormalise or drop"
                )
            elif block.history is not None or block.skip is not None:
                why = f"whose block {i} has a control variate or skip block a PyG batch drops"
        if why is not None:
            raise BatchContractError(f"{who} {why}; PyGSampler cannot hand it to PyG")
        e_id = batch.blocks[0].e_id
        if e_id is None:
            raise TypeError(
                f"{type(self.sampler).__name__} does not sample graph edges; PyG's loaders need "
                "edge ids"
            )
        added = int((e_id < 0).sum())
        if added:
            raise BatchContractError(
                f"{who} with {added} edges that are not graph edges (e_id=-1), which a PyG "
                "batch cannot hold; PyGSampler cannot hand it to PyG"
            )

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs) -> SamplerOutput:
        """The PyG mini-batch of the seeds ``index.node``.

        Raises:
            BatchContractError: The sampler's batch is not one PyG subgraph of graph edges
                with the seeds first, naming the sampler and why.
            TypeError: Its edges are not graph edges (``e_id=None``).
        """
        seeds = index.node
        batch = self.sampler.sample(seeds, generator=self._generator(seeds))
        self._check(batch, seeds)
        block = batch.blocks[0]
        return SamplerOutput(
            node=batch.n_id,
            row=block.edge_index[0],
            col=block.edge_index[1],
            edge=block.e_id,
            batch=batch.node_batch,
            num_sampled_nodes=batch.num_sampled_nodes,
            num_sampled_edges=batch.num_sampled_edges,
            metadata=(index.input_id, index.time),
        )

    def sample_from_edges(self, index, neg_sampling=None):
        raise NotImplementedError(
            f"{type(self.sampler).__name__} samples around nodes; link sampling is not supported"
        )


__all__ = ["PyGSampler"]
