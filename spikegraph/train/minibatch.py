"""Mini-batch training with any sampler of :mod:`spikegraph.samplers`, in the trainer's loop.

:func:`minibatch_step` returns a ``train_step`` for :func:`spikegraph.train.trainer.fit`, so
full-batch and mini-batch training share one loop (early stopping, checkpoints, full-graph
evaluation of the validation and test scores: one forward by default, or layer by layer with
``fit(..., evaluate=make_evaluator("layerwise", batch_size))`` from
:mod:`spikegraph.train.inference` for graphs too large for one forward).

How a batch reaches a model (``mode``):

- ``"subgraph"`` (default): the model runs on the sampled subgraph, the union of the blocks
  (block 0), with ``forward(x[n_id], edge_index, edge_weight)``, and the first
  ``len(batch.target)`` outputs are the targets' logits -- what PyG's ``NeighborLoader`` does.
  Works for every model (PyG's ``GCN``/``GAT``, the spiking ones). A GCN normalises the
  subgraph as it normalises the full graph (in-degrees within the subgraph, self-loops
  added), so training and full-graph evaluation see the same operator on the sampled part.
- ``"blocks"``: layer ``i`` runs on block ``i`` with ``model.forward_blocks(x[n_id], blocks)``
  (spikegraph's models): node-wise samplers then compute only the nodes each layer needs.
  ``SpikingGCNConv`` normalises a bipartite block with its degrees inside the block.

How each method's normalisation reaches the model:

- ``edge_weight`` of the batch is passed as the model's edge weight and multiplies the
  adjacency before the model's own normalisation (``normalize=True``): PinSAGE's importance
  weights, GraphSAINT's aggregator normalisation ``1 / alpha_{u,v}`` (so the weighted
  in-degree a GCN computes is an unbiased estimate of the full-graph in-degree), Cluster-GCN's
  diagonal enhancement (self-loops of weight ``1 + lambda``). Models without edge weights
  (GAT) ignore it.
- ``loss_weight`` (GraphSAINT's ``1 / (lambda_v |targets|)``) turns the batch loss into
  ``sum(loss_weight * cross_entropy)``; without it the loss is the mean over the targets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn.models import GCN

from spikegraph._validation import check_choice
from spikegraph.samplers import SAMPLERS, Batch, Loader, Sampler
from spikegraph.train.vrgcn import gcn_forward_blocks

log = logging.getLogger(__name__)

MODES = ("subgraph", "blocks")


@dataclass
class SamplerSetup:
    """A sampler and the loader over the training nodes, as built by :func:`build_loader`."""

    name: str
    sampler: Sampler
    loader: Loader
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def preprocess_time(self) -> float:
        return self.sampler.preprocess_time


def build_loader(
    name: str,
    data: Data,
    num_layers: int,
    batch_size: int | None = None,
    options: dict[str, Any] | None = None,
    num_workers: int = 0,
    seed: int = 0,
) -> SamplerSetup:
    """Build sampler ``name`` over ``data`` and a shuffling loader over its training nodes.

    Args:
        name: One of :data:`spikegraph.samplers.SAMPLERS` (``"graphsage"``,
            ``"graphsaint-rw"``, ...).
        data: Graph with ``train_mask``.
        num_layers: Depth of the model (fan-out lists must have this many entries; subgraph
            samplers make this many blocks).
        batch_size: Seeds per batch for node-wise samplers; ``None`` for the default.
            Subgraph samplers size their batches with their own options and reject it.
        options: Constructor options overriding the class's ``options_for(num_layers)``.
        num_workers: Loader worker processes.
        seed: Seed of the sampler and the loader.

    Raises:
        ValueError: for an unknown sampler, a fan-out list of the wrong length, a batch size
            given to a subgraph sampler, or any invalid option.
    """
    check_choice(name, tuple(SAMPLERS), "sampler")
    cls = SAMPLERS[name]
    given = dict(options or {})
    opts = {**cls.options_for(num_layers), **given}
    fanouts = opts.get("num_neighbors")
    if cls.fanout_per_layer and fanouts is not None and len(fanouts) != num_layers:
        raise ValueError(
            f"'num_neighbors' has {len(fanouts)} fan-outs for a model with num_layers={num_layers}"
        )
    train_idx = data.train_mask.nonzero().view(-1)
    if cls.takes_seeds:
        sampler = cls(data, seed=seed, **opts)
        loader = Loader(
            sampler,
            seeds=train_idx,
            batch_size=cls.default_batch_size if batch_size is None else batch_size,
            shuffle=True,
            num_workers=num_workers,
            seed=seed,
        )
    else:
        if batch_size is not None:
            raise ValueError(
                f"--batch-size does not apply to {name}: its batch size is a sampler option "
                f"({', '.join(sorted(cls.default_options))})"
            )
        sampler = cls(data, targets=train_idx, num_layers=num_layers, seed=seed, **opts)
        loader = Loader(sampler, shuffle=True, num_workers=num_workers, seed=seed)
    log.info(
        "%r: preprocessing %.2fs, %d batches per epoch",
        sampler,
        sampler.preprocess_time,
        len(loader),
    )
    return SamplerSetup(name=name, sampler=sampler, loader=loader, options=opts)


def batch_logits(model: nn.Module, x: Tensor, batch: Batch, mode: str = "subgraph") -> Tensor:
    """Logits ``[len(batch.target), C]`` of the batch's targets (see the module docstring)."""
    check_choice(mode, MODES, "mode")
    x_in = x[batch.n_id]
    if not batch.nested:  # (vrgcn branch) a batch that does not nest runs only on its blocks
        mode = "blocks"
    if mode == "blocks":
        if not hasattr(model, "forward_blocks"):
            if isinstance(model, GCN) and batch.weights_final:  # (vrgcn branch)
                return gcn_forward_blocks(model, x_in, batch.blocks)[: batch.num_targets]
            raise TypeError(f"{type(model).__name__} has no forward_blocks; use mode='subgraph'")
        out = model.forward_blocks(x_in, batch.blocks)
    else:
        edge_index, edge_weight = batch.subgraph()
        out = model(x_in, edge_index, edge_weight)
    return out[: batch.num_targets]


def batch_loss(logits: Tensor, y: Tensor, loss_weight: Tensor | None) -> Tensor:
    """Cross-entropy over the targets: mean, or ``sum(loss_weight * loss)`` with weights."""
    per_target = F.cross_entropy(logits, y, reduction="none")
    return per_target.mean() if loss_weight is None else (per_target * loss_weight).sum()


def check_depth(sampler: Sampler, model: nn.Module) -> None:
    """Raise if the sampler's number of layers differs from the model's."""
    want = getattr(model, "num_layers", None)
    have = getattr(sampler, "num_layers", None)
    if want is not None and have is not None and want != have:
        raise ValueError(
            f"The sampler makes {have} blocks (layers) but the model has num_layers={want}"
        )


class MinibatchStep:
    """A ``train_step`` for :func:`~spikegraph.train.trainer.fit`: one epoch over a loader.

    Each batch takes one optimiser step. Batches without targets (a cluster without training
    nodes) are skipped. A call returns the target-weighted mean batch loss. Samplers build
    batches on the CPU; each batch (``n_id``, the blocks' ``edge_index`` / ``edge_weight``,
    ``target``, ``loss_weight``) is moved to the device of ``data.x`` before the model sees it.

    :meth:`state_dict` / :meth:`load_state_dict` carry the loader's position, so ``fit``
    checkpoints it and a resumed run draws the batches the uninterrupted run drew;
    :meth:`describe` says what identifies the batches (sampler, loader settings, mode).

    Args:
        loader: A :class:`spikegraph.samplers.Loader`.
        mode: ``"subgraph"`` or ``"blocks"`` (see the module docstring).
    """

    def __init__(self, loader: Loader, mode: str = "subgraph") -> None:
        self.loader = loader
        self.mode = check_choice(mode, MODES, "mode")
        self._checked: set[int] = set()

    def __call__(self, model: nn.Module, data: Data, optimizer: torch.optim.Optimizer) -> float:
        if id(model) not in self._checked:
            check_depth(self.loader.sampler, model)
            self._checked.add(id(model))
        model.train()
        total, count = 0.0, 0
        device = data.x.device
        for batch in self.loader:
            if batch.num_targets == 0:
                continue
            batch = batch.to(device)  # samplers build batches on the CPU
            optimizer.zero_grad(set_to_none=True)
            logits = batch_logits(model, data.x, batch, self.mode)
            loss = batch_loss(logits, data.y[batch.target], batch.loss_weight)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * batch.num_targets
            count += batch.num_targets
        if not count:
            raise ValueError(
                f"No batch of epoch {self.loader.epoch} of {self.loader!r} holds a training "
                "node, so nothing was trained: make the subgraphs larger or more numerous"
            )
        return total / count

    def state_dict(self) -> dict[str, Any]:
        """The loader's state (plain data, see :meth:`spikegraph.samplers.Loader.state_dict`)."""
        return {"loader": self.loader.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`."""
        if not isinstance(state, dict) or "loader" not in state:
            raise ValueError("mini-batch step state must be a dict with 'loader'")
        self.loader.load_state_dict(state["loader"])

    def describe(self) -> dict[str, Any]:
        """What determines the batches: the sampler, the loader's settings and the mode."""
        loader = self.loader
        return {
            "kind": "minibatch",
            "mode": self.mode,
            "sampler": type(loader.sampler).__name__,
            "sampler_repr": repr(loader.sampler),
            "batch_size": loader.batch_size,
            "num_batches": loader.num_batches,
            "shuffle": loader.shuffle,
            "drop_last": loader.drop_last,
            "loader_seed": loader.seed,
            "batches_per_epoch": len(loader),
        }


def minibatch_step(loader: Loader, mode: str = "subgraph") -> MinibatchStep:
    """A ``train_step`` for :func:`~spikegraph.train.trainer.fit`: one epoch over ``loader``
    (a :class:`MinibatchStep`, whose loader state goes into checkpoints).

    Args:
        loader: A :class:`spikegraph.samplers.Loader`.
        mode: ``"subgraph"`` or ``"blocks"`` (see the module docstring).
    """
    return MinibatchStep(loader, mode)


__all__ = [
    "MODES",
    "MinibatchStep",
    "SamplerSetup",
    "batch_logits",
    "batch_loss",
    "build_loader",
    "check_depth",
    "minibatch_step",
]
