"""A generic mini-batch loader over any sampler (in the spirit of DGL's ``DataLoader``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .base import Sampler, check_int, check_nodes, make_generator
from .batch import Batch
from .shard import check_replicas, shard_positions, sharded_length


class _PlannedBatches(Dataset):
    """Batch ``i`` of an epoch: ``sampler.sample(*args[i])`` with its own generator seed,
    checked against the batch contract (:meth:`Batch.validate` without the O(E) scans)."""

    def __init__(self, sampler: Sampler, args: list[tuple], seeds: Tensor) -> None:
        self.sampler = sampler
        self.args = args
        self.seeds = seeds.tolist()

    def __len__(self) -> int:
        return len(self.args)

    def __getitem__(self, i: int) -> Batch:
        gen = torch.Generator().manual_seed(self.seeds[i])
        batch = self.sampler.sample(*self.args[i], generator=gen)
        if not isinstance(batch, Batch):
            raise TypeError(
                f"{type(self.sampler).__name__}.sample returned a {type(batch).__name__}, "
                "not a Batch"
            )
        return batch.validate(full=False)


def _identity(x: Any) -> Any:
    return x


class Loader:
    """Iterate over the batches of a sampler, one epoch per ``iter()``.

    For node-wise samplers an epoch splits ``seeds`` (shuffled or not) into chunks of
    ``batch_size``; for subgraph samplers it is the sampler's own plan (``num_batches``
    subgraphs, or one pass over the clusters for Cluster-GCN).

    Every batch is checked against the batch contract as it is drawn
    (``batch.validate(full=False)``: shapes, the chain of blocks, ``n_id``, ``dst_index``;
    a broken batch raises :class:`~spikegraph.samplers.BatchContractError` naming the block).

    Every batch draws its random numbers from a generator seeded from the loader's seed and
    the batch's position, so the batches are the same for any ``num_workers``, and the same
    seed gives the same epochs. Iterating never draws from torch's global generator (worker
    processes get their base seed from a generator of their own), so a model's dropout sees
    the same random numbers whatever ``num_workers`` is.

    :meth:`state_dict` / :meth:`load_state_dict` save and restore the loader's position
    (its generator and the number of epochs drawn) between epochs, so a training run resumed
    from a checkpoint draws the same batches as one never interrupted.

    Epoch ``e``'s plan (0-based) is a function of the seed and ``e`` alone: iterating draws
    the plans of epochs 0, 1, 2, ... in turn, and :meth:`set_epoch` moves to any epoch.

    Data-parallel training (``num_replicas`` processes, this one ``rank``): every process
    builds the same epoch plan (the same seed gives the same permutation) and takes a
    disjoint shard of it (:mod:`spikegraph.samplers.shard`): node-wise samplers shard the
    permuted seeds (positions ``rank, rank + K, ...``) and chunk their shard into batches;
    subgraph samplers shard the plan's batches by index. The plan is padded by repeating
    its first items (at most ``K - 1``) so that every process takes the same number of
    batches, or with ``drop_last`` cut (at most ``K - 1`` items left out per epoch); a
    padded subgraph batch draws afresh, except Cluster-GCN's, which repeats its clusters.
    ``num_batches`` counts the batches of all processes together.

    Args:
        sampler: Any :class:`~spikegraph.samplers.base.Sampler`.
        seeds: Seed nodes (node-wise samplers only): ids, or a bool mask over the nodes.
        batch_size: Seeds per batch (node-wise samplers).
        shuffle: Shuffle the seeds every epoch.
        num_batches: Batches per epoch for subgraph samplers (default: the sampler's own).
        num_workers: Worker processes (``torch.utils.data`` workers); ``0`` samples in the
            main process.
        drop_last: Drop a last, smaller chunk of seeds (and with ``num_replicas > 1``, cut
            the plan to a multiple of ``num_replicas`` instead of padding it).
        seed: Seed of the loader's plan (shuffling and per-batch seeds); drawn from the
            sampler's generator when ``None``. All processes of a data-parallel run must
            give the same seed.
        num_replicas: Processes sharing each epoch (the world size of a data-parallel run).
        rank: This process's shard, in ``[0, num_replicas)``.
        **kwargs: Other ``torch.utils.data.DataLoader`` options (``prefetch_factor``,
            ``persistent_workers``, ``pin_memory``, ...).

    Example:
        >>> for batch in Loader(sampler, seeds=train_idx, batch_size=512, shuffle=True):
        ...     pass  # doctest: +SKIP
    """

    def __init__(
        self,
        sampler: Sampler,
        seeds: Tensor | None = None,
        batch_size: int | None = None,
        shuffle: bool = False,
        num_batches: int | None = None,
        num_workers: int = 0,
        drop_last: bool = False,
        seed: int | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        **kwargs: Any,
    ) -> None:
        if not isinstance(sampler, Sampler):
            raise TypeError(
                f"'sampler' must be a spikegraph.samplers.Sampler, got {type(sampler).__name__}"
            )
        self.sampler = sampler
        if sampler.takes_seeds:
            if seeds is None:
                raise ValueError(f"{type(sampler).__name__} samples around seeds: give 'seeds'")
            if isinstance(seeds, Tensor) and seeds.dtype == torch.bool:
                if seeds.numel() != sampler.num_nodes:
                    raise ValueError(
                        f"'seeds' mask has {seeds.numel()} entries for {sampler.num_nodes} nodes"
                    )
                seeds = seeds.nonzero().view(-1)
            self.seeds = check_nodes(seeds, sampler.num_nodes)
            if batch_size is None:
                raise ValueError("'batch_size' is required for a node-wise sampler")
            self.batch_size = check_int(batch_size, "batch_size", 1)
            if num_batches is not None:
                raise ValueError("'num_batches' applies to subgraph samplers only")
        else:
            if seeds is not None:
                raise ValueError(
                    f"{type(sampler).__name__} draws whole subgraphs and takes no seeds; give "
                    "the nodes whose loss counts as 'targets' when building the sampler"
                )
            if batch_size is not None:
                raise ValueError(
                    f"'batch_size' does not apply to {type(sampler).__name__}: its batch size "
                    "is a sampler option"
                )
            self.seeds = None
            self.batch_size = None
            if num_batches is not None:
                check_int(num_batches, "num_batches", 1)
        self.num_batches = num_batches
        self.shuffle = bool(shuffle)
        self.num_workers = check_int(num_workers, "num_workers", 0)
        self.drop_last = bool(drop_last)
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,), generator=sampler.generator))
        self.seed = seed
        self.generator = make_generator(seed)
        # An int naming the plan's origin, also when a torch.Generator was given as seed.
        self._base_seed = seed if isinstance(seed, int) else int(self.generator.initial_seed())
        self.kwargs = kwargs
        self.epoch = 0
        self._initial_state = self.generator.get_state()
        self.num_replicas, self.rank = check_replicas(num_replicas, rank)
        if self.num_replicas > 1 and len(self) == 0:
            kind = "seeds" if sampler.takes_seeds else "batches"
            items = f"{self._plan_length()} {kind}"
            raise ValueError(
                f"An epoch of {items} split over num_replicas={self.num_replicas} processes "
                f"with drop_last=True leaves process {self.rank} no batch"
            )

    def _plan(self) -> list[tuple]:
        gen = self.generator
        if self.sampler.takes_seeds:
            args = self.sampler._epoch_args(self.seeds, self.batch_size, self.shuffle, gen)
            if self.drop_last and args and args[-1][0].numel() < self.batch_size:
                args = args[:-1]
            return args
        args = self.sampler._epoch_args(None, None, self.shuffle, gen)
        if self.num_batches is not None and len(args) != self.num_batches:
            args = [args[i % len(args)] for i in range(self.num_batches)]
        return args

    def _plan_length(self) -> int:
        """Items of an epoch's whole plan: seeds (node-wise) or batches (subgraph)."""
        if self.sampler.takes_seeds:
            return self.seeds.numel()
        if self.num_batches is not None:
            return self.num_batches
        return self.sampler.batches_per_epoch

    def __len__(self) -> int:
        """Batches this process draws per epoch."""
        k = self.num_replicas
        n = sharded_length(self._plan_length(), k, self.drop_last and k > 1) // k
        if not self.sampler.takes_seeds:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _draw(self) -> tuple[list[tuple], Tensor]:
        """The next epoch's ``sample`` arguments and batch seeds for this process; advances
        the generator by one epoch (the same draws on every process)."""
        gen, k, rank = self.generator, self.num_replicas, self.rank
        if k == 1:
            args = self._plan()
            return args, torch.randint(0, 2**62, (len(args),), generator=gen)
        if self.sampler.takes_seeds:
            chunks = self.sampler._epoch_args(self.seeds, self.batch_size, self.shuffle, gen)
            order = torch.cat([chunk[0] for chunk in chunks])
            pos = shard_positions(order.numel(), k, rank, self.drop_last)
            args = [(chunk,) for chunk in order[pos % order.numel()].split(self.batch_size)]
            if self.drop_last and args and args[-1][0].numel() < self.batch_size:
                args = args[:-1]
            # One row of seeds per process, so that every process draws the same numbers.
            return args, torch.randint(0, 2**62, (k, len(args)), generator=gen)[rank]
        plan = self._plan()
        pos = shard_positions(len(plan), k, rank, self.drop_last)
        total = sharded_length(len(plan), k, self.drop_last)
        batch_seeds = torch.randint(0, 2**62, (total,), generator=gen)
        return [plan[p % len(plan)] for p in pos.tolist()], batch_seeds[pos]

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` draw epoch ``epoch``'s plan (0-based), like
        ``DistributedSampler.set_epoch``: the plan depends on the seed and ``epoch`` only,
        so every process of a data-parallel run draws its shard of the same plan. Moving
        back replays the plans from the loader's start (no batch is sampled).

        Raises:
            TypeError, ValueError: for an epoch that is not an int ``>= 0``.
        """
        check_int(epoch, "epoch", 0)
        if epoch < self.epoch:
            self.generator.set_state(self._initial_state)
            self.epoch = 0
        while self.epoch < epoch:
            self._draw()
            self.epoch += 1

    def shard(self, epoch: int | None = None) -> list[Any]:
        """This process's part of epoch ``epoch``'s plan (default: the next epoch), without
        sampling and without moving the loader: the seeds of each batch (node-wise
        samplers) or the arguments of each ``sample`` call (subgraph samplers)."""
        state, at = self.generator.get_state(), self.epoch
        try:
            if epoch is not None:
                self.set_epoch(epoch)
            args, _ = self._draw()
        finally:
            self.generator.set_state(state)
            self.epoch = at
        return [a[0] if len(a) == 1 else a for a in args]

    def __iter__(self) -> Iterator[Batch]:
        self.sampler.start_epoch()
        args, batch_seeds = self._draw()
        self.epoch += 1
        dataset = _PlannedBatches(self.sampler, args, batch_seeds)
        if self.num_workers == 0:
            for i in range(len(dataset)):
                yield self.sampler.bind(dataset[i])
            return
        kwargs = dict(self.kwargs)
        # DataLoader draws the workers' base seed from this generator, or else from torch's
        # global one (which would shift the model's dropout masks with num_workers). The
        # batches themselves never depend on it: each has its own generator (see above).
        kwargs.setdefault("generator", torch.Generator().manual_seed(self._base_seed + self.epoch))
        loader = DataLoader(
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=self.num_workers,
            collate_fn=_identity,
            **kwargs,
        )
        for batch in loader:
            yield self.sampler.bind(batch)  # training-process state (VR-GCN's histories)

    def state_dict(self) -> dict[str, Any]:
        """The loader's position between epochs (``"seed"``, ``"epoch"``, ``"generator"``,
        ``"num_replicas"``) and its sampler's state (``"sampler"``:
        :meth:`~spikegraph.samplers.base.Sampler.state_dict`, e.g. AS-GCN's sampling
        function or VR-GCN's histories; empty for most samplers).

        Plain values and tensors, so ``torch.load(..., weights_only=True)`` reads it back.
        Taken in the middle of an epoch it describes the start of the next one (and the
        sampler as it is then).
        """
        return {
            "seed": self._base_seed,
            "epoch": self.epoch,
            "generator": self.generator.get_state(),
            "num_replicas": self.num_replicas,
            "sampler": self.sampler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a loader built the same way.

        Raises:
            ValueError: if the state is incomplete, malformed, or from a loader with another
                seed.
        """
        if not isinstance(state, dict):
            raise ValueError(f"Loader state must be a dict, got {type(state).__name__}")
        for key in ("generator", "epoch", "seed"):
            if key not in state:
                raise ValueError(f"Loader state misses {key!r}")
        epoch = state["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"Loader state: 'epoch' must be an int >= 0, got {epoch!r}")
        if state["seed"] != self._base_seed:
            raise ValueError(
                f"Loader state was saved by a loader with seed {state['seed']}, this loader "
                f"has seed {self._base_seed}"
            )
        replicas = state.get("num_replicas", 1)
        if replicas != self.num_replicas:
            raise ValueError(
                f"Loader state was saved by a loader sharded over {replicas} processes, this "
                f"loader is sharded over num_replicas={self.num_replicas}: its epochs' shards "
                "would differ"
            )
        gen_state = state["generator"]
        probe = torch.Generator()
        try:
            if not isinstance(gen_state, Tensor) or gen_state.dtype != torch.uint8:
                raise TypeError
            probe.set_state(gen_state)
        except (TypeError, RuntimeError) as err:
            raise ValueError("Loader state: 'generator' is not a valid generator state") from err
        if "sampler" in state:
            self.sampler.load_state_dict(state["sampler"])
        elif self.sampler.state_dict():
            raise ValueError(
                f"Loader state holds no sampler state, but {type(self.sampler).__name__} "
                "keeps one (a state saved before samplers' states were): resuming without "
                "it would not continue the same run"
            )
        self.generator.set_state(gen_state)
        self.epoch = epoch

    def __repr__(self) -> str:
        shard = f", rank={self.rank}/{self.num_replicas}" if self.num_replicas > 1 else ""
        return (
            f"Loader({self.sampler!r}, batches={len(self)}, num_workers={self.num_workers}{shard})"
        )


__all__ = ["Loader"]
