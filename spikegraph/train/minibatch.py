"""Mini-batch training with any sampler of :mod:`spikegraph.samplers`, in the trainer's loop.

:func:`minibatch_step` returns a ``train_step`` for :func:`spikegraph.train.trainer.fit`, so
full-batch and mini-batch training share one loop (early stopping, checkpoints, full-graph
evaluation of the validation and test scores: one forward by default, or layer by layer with
``fit(..., evaluate=make_evaluator("layerwise", batch_size))`` from
:mod:`spikegraph.train.inference` for graphs too large for one forward).

How a batch reaches a model (``mode``; see the batch contract in
:mod:`spikegraph.samplers.batch`):

- ``None`` (default): chosen from the sampler: ``"subgraph"`` when its batches nest
  (``Sampler.nested``: node-wise and subgraph samplers), ``"blocks"`` when they do not
  (layer-wise samplers). Asking for ``"subgraph"`` with a sampler that does not nest is an
  error: such a batch has no single subgraph.
- ``"subgraph"``: the model runs on the sampled subgraph, the union of the blocks
  (``batch.subgraph()``, block 0), with ``forward(x[n_id], edge_index, edge_weight)``, and the
  first ``len(batch.target)`` outputs are the targets' logits -- what PyG's
  ``NeighborLoader`` does. Works for every model (PyG's ``GCN``/``GAT``, the spiking ones). A
  GCN normalises the subgraph as it normalises the full graph (in-degrees within the
  subgraph, self-loops added), so training and full-graph evaluation see the same operator
  on the sampled part. When block 0's weights are final (GraphSAINT's ``Â_vu / alpha_uv``,
  Cluster-GCN's diagonal enhancement) every layer runs on that subgraph with normalisation
  off for the call: spikegraph's models through ``forward_blocks`` (``normalize=False`` per
  call), PyG's ``GCN`` through :func:`~spikegraph.train.blocks.pyg_forward_blocks`; models
  that compute their own coefficients (attention) are refused.
- ``"blocks"``: layer ``i`` runs on block ``i`` (the output of block ``i`` is block
  ``i + 1``'s input): ``model.forward_blocks(x[n_id], blocks)`` for spikegraph's models,
  :func:`~spikegraph.train.blocks.pyg_forward_blocks` for PyG's ``GCN``. Node-wise samplers
  then compute only the nodes each layer needs; layer-wise samplers need it.

How each method's normalisation reaches the model:

- ``edge_weight`` of a block whose weights are not final multiplies the adjacency before
  the model's own normalisation (``normalize=True``): PinSAGE's importance weights, the
  graph's own weights. Final weights are the aggregation coefficients themselves (see
  above). Models without edge weights (GAT) ignore weights that are not final.
- ``loss_weight`` (GraphSAINT's ``1 / (lambda_v |targets|)``) turns the batch loss into
  ``sum(loss_weight * cross_entropy)``; without it the loss is the mean over the targets.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn.models.basic_gnn import BasicGNN

from spikegraph._progress import progress_bar
from spikegraph._validation import check_choice
from spikegraph.samplers import (
    MODES,
    SAMPLERS,
    Batch,
    Block,
    Loader,
    Sampler,
    default_mode,
    resolve_mode,
)
from spikegraph.train import distributed
from spikegraph.train.blocks import pyg_forward_blocks

log = logging.getLogger(__name__)


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


#: Constructor arguments of a sampler that :func:`build_loader` sets from the run, never
#: from its ``options``, with what sets them.
RUN_SAMPLER_OPTIONS = {
    "data": "the dataset",
    "seed": "the run's seed: --seeds",
    "targets": "the training nodes",
    "num_layers": "the model's depth",
}


def _constructor_options(cls: type[Sampler]) -> list[str]:
    """The keyword arguments ``cls``'s constructor takes, following ``**kwargs`` to the base
    class constructors they are passed on to (GraphSAINT's), without the graph."""
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names += [
            p.name
            for p in params
            if p.name not in ("self", "graph", *names)
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def sampler_defaults(
    cls: type[Sampler], num_layers: int, given: dict[str, Any], num_nodes: int | None = None
) -> dict[str, Any]:
    """The default options of sampler class ``cls`` for a model of ``num_layers`` layers:
    ``cls.options_for(num_layers)``, with whatever else its ``options_for`` takes: an
    option among ``given`` that other defaults follow (ShaDow's fan-outs follow ``depth``),
    or the graph's ``num_nodes`` (Ripple's subgraph size is at most the graph; ``None``:
    not known yet). The options ``given`` themselves are not merged in."""
    params = inspect.signature(cls.options_for).parameters
    context = {**({} if num_nodes is None else {"num_nodes": num_nodes}), **given}
    extra = {k: v for k, v in context.items() if k in params and k != "num_layers"}
    return cls.options_for(num_layers, **extra)


def check_sampler_option_names(name: str, options: dict[str, Any]) -> None:
    """Refuse an option sampler ``name`` does not take, or one the run sets
    (:data:`RUN_SAMPLER_OPTIONS`), naming it and the options the sampler takes (those of
    its constructor, GraphSAINT's through ``**kwargs`` included).

    Raises:
        ValueError: for an unknown sampler or an option name it does not take.
    """
    check_choice(name, tuple(SAMPLERS), "sampler")
    set_by_run = sorted(set(options) & set(RUN_SAMPLER_OPTIONS))
    if set_by_run:
        key = set_by_run[0]
        raise ValueError(
            f"sampler option {key!r} is set by the run ({RUN_SAMPLER_OPTIONS[key]}), not by "
            "a sampler option"
        )
    accepted = _constructor_options(SAMPLERS[name])
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        what = f"option {unknown[0]!r}" if len(unknown) == 1 else f"options {unknown}"
        takes = sorted(set(accepted) - set(RUN_SAMPLER_OPTIONS))
        raise ValueError(f"sampler {name!r} takes no {what}; its options: {takes}")


def build_loader(
    name: str,
    data: Data,
    num_layers: int,
    batch_size: int | None = None,
    options: dict[str, Any] | None = None,
    num_workers: int = 0,
    seed: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
    cache_dir: str | None = None,
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
        options: Constructor options overriding the class's ``options_for(num_layers)``;
            a ``cache_dir`` among them replaces ``cache_dir``. The options the run sets
            (:data:`RUN_SAMPLER_OPTIONS`: ``seed``, ``targets``...) are refused.
        num_workers: Loader worker processes.
        seed: Seed of the sampler and the loader.
        num_replicas: Processes of a data-parallel run sharing each epoch; the loader takes
            shard ``rank`` of every epoch's plan (see :class:`~spikegraph.samplers.Loader`).
        rank: This process's shard.
        cache_dir: Where the sampler keeps its expensive preprocessing (METIS partitions,
            GraphSAINT norms) between runs, so a resumed run loads it (``None``: not kept).

    Raises:
        ValueError: for an unknown sampler, an option the sampler does not take (naming
            the options it takes), a fan-out list of the wrong length, a batch size given to
            a subgraph sampler, an option the run sets, or any invalid option.
    """
    given = dict(options or {})
    check_sampler_option_names(name, given)
    cls = SAMPLERS[name]
    # a cache folder among the options is the one used (docs/trust.md); where the cache
    # lives is not a setting of the run, so it is not among the options recorded
    cache_dir = given.pop("cache_dir", cache_dir)
    opts = {**sampler_defaults(cls, num_layers, given, data.num_nodes), **given}
    key = cls.per_layer_option
    if key is not None and opts.get(key) is not None and len(opts[key]) != num_layers:
        raise ValueError(
            f"'{key}' has {len(opts[key])} entries (one per layer) for a model with "
            f"num_layers={num_layers}"
        )
    train_idx = data.train_mask.nonzero().view(-1)
    if cls.takes_seeds:
        sampler = cls(data, seed=seed, cache_dir=cache_dir, **opts)
        loader = Loader(
            sampler,
            seeds=train_idx,
            batch_size=cls.default_batch_size if batch_size is None else batch_size,
            shuffle=True,
            num_workers=num_workers,
            seed=seed,
            num_replicas=num_replicas,
            rank=rank,
        )
    else:
        if batch_size is not None:
            raise ValueError(
                f"--batch-size does not apply to {name}: its batch size is a sampler option "
                f"({', '.join(sorted(cls.default_options))})"
            )
        sampler = cls(
            data, targets=train_idx, num_layers=num_layers, seed=seed, cache_dir=cache_dir, **opts
        )
        loader = Loader(
            sampler,
            shuffle=True,
            num_workers=num_workers,
            seed=seed,
            num_replicas=num_replicas,
            rank=rank,
        )
    log.info(
        "%r: preprocessing %.2fs, %d batches per epoch",
        sampler,
        sampler.preprocess_time,
        len(loader),
    )
    return SamplerSetup(name=name, sampler=sampler, loader=loader, options=opts)


def run_blocks(model: nn.Module, x_in: Tensor, blocks: list[Block]) -> Tensor:
    """``model`` on a chain of blocks: its ``forward_blocks``, or for PyG's ``GCN``
    :func:`~spikegraph.train.blocks.pyg_forward_blocks`.

    Raises:
        TypeError: for a model that can run on neither.
    """
    if hasattr(model, "forward_blocks"):
        return model.forward_blocks(x_in, blocks)
    if isinstance(model, BasicGNN):
        return pyg_forward_blocks(model, x_in, blocks)
    raise TypeError(
        f"{type(model).__name__} has no forward_blocks and is not PyG's GCN, so it cannot run "
        "on a sampler's blocks; use a nested sampler with mode='subgraph'"
    )


def batch_logits(
    model: nn.Module, x: Tensor, batch: Batch, mode: str | None = "subgraph"
) -> Tensor:
    """Logits ``[len(batch.target), C]`` of the batch's targets (see the module docstring).

    ``mode=None`` picks ``"subgraph"`` for a nested batch and ``"blocks"`` otherwise.

    Raises:
        BatchContractError: ``"subgraph"`` for a batch that does not nest, or a block the
            model cannot run on.
        TypeError: for a model that cannot run on blocks (``"blocks"``, or final weights).
    """
    x_in = x.index_select(0, batch.n_id)  # x[n_id], without advanced indexing's overhead
    return batch_forward(model, x_in, batch, mode)


def batch_forward(model: nn.Module, x_in: Tensor, batch: Batch, mode: str | None) -> Tensor:
    """:func:`batch_logits` from the batch's input rows ``x_in`` (``x[batch.n_id]``, or the
    ``[T, N_in, F]`` spike train they stand for): what the model computes on the batch, for
    callers that hand the input over themselves (e.g. :func:`spikegraph.cost.count`)."""
    if mode is None:
        mode = "subgraph" if batch.nested else "blocks"
    check_choice(mode, MODES, "mode")
    if mode == "blocks":
        out = run_blocks(model, x_in, batch.blocks)
    else:
        edge_index, edge_weight = batch.subgraph(final_weights=True)
        if batch.blocks[0].weights_final:
            # Every layer on the whole subgraph with its final weights, normalisation off
            # for the call (never by flipping the layers' settings).
            n = batch.n_id.numel()
            block = Block(edge_index, edge_weight, (n, n), weights_final=True)
            out = run_blocks(model, x_in, [block] * len(batch.blocks))
        else:
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


class BatchLogits(nn.Module):
    """:func:`batch_logits` of ``model`` as a module's ``forward(x, batch)``, so that
    ``DistributedDataParallel`` sees every forward, whichever method of the model
    (``forward``, ``forward_blocks``) the batch needs."""

    def __init__(self, model: nn.Module, mode: str | None) -> None:
        super().__init__()
        self.model = model
        self.mode = mode

    def forward(self, x: Tensor, batch: Batch) -> Tensor:
        return batch_logits(self.model, x, batch, self.mode)


class MinibatchStep:
    """A ``train_step`` for :func:`~spikegraph.train.trainer.fit`: one epoch over a loader.

    Each batch takes one optimiser step. Batches without targets (a cluster without training
    nodes) are skipped. A call returns the target-weighted mean batch loss. Samplers build
    batches on the CPU; each batch (``n_id``, the blocks' ``edge_index`` / ``edge_weight``,
    ``target``, ``loss_weight``) is moved to the device of ``data.x`` before the model sees it.

    :meth:`state_dict` / :meth:`load_state_dict` carry the loader's position, so ``fit``
    checkpoints it and a resumed run draws the batches the uninterrupted run drew;
    :meth:`describe` says what identifies the batches (sampler, loader settings, mode).
    :attr:`sample_time` adds up the seconds spent waiting for the loader's batches (sampling
    in this process, or waiting for the loader's workers), so a caller can tell what share of
    an epoch's time sampling takes; it is a measurement, not part of the state.

    In a data-parallel run (:mod:`spikegraph.train.distributed`) the model trains inside
    ``DistributedDataParallel`` and the loader must be sharded over the processes
    (``num_replicas`` = the world size); a batch without targets then still takes its
    (zero-loss) step, so that every process takes the same number of steps, and the loss
    returned is the mean over all processes' targets.

    Args:
        loader: A :class:`spikegraph.samplers.Loader`.
        mode: ``"subgraph"``, ``"blocks"`` or ``None`` for the sampler's default (see the
            module docstring).

    Raises:
        ValueError: for an unknown mode, or ``"subgraph"`` with a sampler that does not nest.
    """

    def __init__(self, loader: Loader, mode: str | None = None) -> None:
        self.loader = loader
        self.mode = resolve_mode(loader.sampler, mode)
        self._checked: set[int] = set()
        self._ddp: nn.Module | None = None
        #: Show a bar over each epoch's batches (on a terminal; not part of the identity).
        self.progress = False
        #: Seconds spent drawing batches from the loader, over every call so far.
        self.sample_time = 0.0

    def _forward(self, model: nn.Module) -> nn.Module:
        """The module that computes a batch's logits: ``model``'s, or in a data-parallel
        run the same inside ``DistributedDataParallel`` (built once per model)."""
        if not distributed.active():
            return BatchLogits(model, self.mode)
        rank, world_size = distributed.world()
        if self.loader.num_replicas != world_size or self.loader.rank != rank:
            raise ValueError(
                f"{self.loader!r} is shard {self.loader.rank} of {self.loader.num_replicas} but "
                f"this process is rank {rank} of {world_size}: build the loader with "
                f"num_replicas={world_size}, rank={rank}"
            )
        if self._ddp is None or self._ddp.module.model is not model:
            self._ddp = distributed.wrap(BatchLogits(model, self.mode))
        return self._ddp

    def __call__(self, model: nn.Module, data: Data, optimizer: torch.optim.Optimizer) -> float:
        if id(model) not in self._checked:
            check_depth(self.loader.sampler, model)
            self._checked.add(id(model))
        forward = self._forward(model)
        together = distributed.active()
        model.train()
        total, count = 0.0, 0
        device = data.x.device
        for batch in self._timed(self._batches()):
            if batch.num_targets == 0 and not together:
                continue
            batch = batch.to(device)  # samplers build batches on the CPU
            optimizer.zero_grad(set_to_none=True)
            logits = forward(data.x, batch)
            if batch.num_targets == 0:  # the step every other process takes, at zero loss
                loss = logits.sum() * 0.0
            else:
                loss = batch_loss(logits, data.y[batch.target], batch.loss_weight)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * batch.num_targets
            count += batch.num_targets
        if together:
            total, count = distributed.all_reduce_sum([total, float(count)], device)
        if not count:
            raise ValueError(
                f"No batch of epoch {self.loader.epoch} of {self.loader!r} holds a training "
                "node, so nothing was trained: make the subgraphs larger or more numerous"
            )
        return total / count

    def _timed(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        """``batches``, adding the time each takes to arrive to :attr:`sample_time`."""
        it = iter(batches)
        while True:
            start = time.perf_counter()
            batch = next(it, None)
            self.sample_time += time.perf_counter() - start
            if batch is None:
                return
            yield batch

    def _batches(self):
        """The loader's batches of one epoch, behind a progress bar when :attr:`progress`."""
        return progress_bar(
            self.loader,
            enabled=self.progress,
            total=len(self.loader),
            desc=f"epoch {self.loader.epoch + 1}",
            unit="batch",
        )

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
        } | ({"num_replicas": loader.num_replicas} if loader.num_replicas > 1 else {})


def minibatch_step(loader: Loader, mode: str | None = None) -> MinibatchStep:
    """A ``train_step`` for :func:`~spikegraph.train.trainer.fit`: one epoch over ``loader``
    (a :class:`MinibatchStep`, whose loader state goes into checkpoints).

    Args:
        loader: A :class:`spikegraph.samplers.Loader`.
        mode: ``"subgraph"``, ``"blocks"`` or ``None`` for the sampler's default (see the
            module docstring).
    """
    return MinibatchStep(loader, mode)


__all__ = [
    "MODES",
    "RUN_SAMPLER_OPTIONS",
    "BatchLogits",
    "MinibatchStep",
    "SamplerSetup",
    "batch_forward",
    "batch_logits",
    "batch_loss",
    "build_loader",
    "check_depth",
    "check_sampler_option_names",
    "default_mode",
    "minibatch_step",
    "resolve_mode",
    "run_blocks",
    "sampler_defaults",
]
