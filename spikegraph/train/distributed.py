"""Data-parallel training across processes and machines (PyTorch's DistributedDataParallel;
Li et al., 2020, "PyTorch Distributed: Experiences on Accelerating Data Parallel Training").

A run started by ``torchrun`` finds ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (and the
rendezvous address) in its environment; :func:`init` reads them and joins the process group,
with backend ``gloo`` on the CPU and ``nccl`` on CUDA devices (process ``LOCAL_RANK`` of a
machine takes its GPU ``cuda:LOCAL_RANK``). Everything else here is a no-op outside such a
run, so one code path serves one process and many:

- the mini-batch step (:class:`~spikegraph.train.minibatch.MinibatchStep`) wraps the model in
  ``DistributedDataParallel`` and its loader takes this process's shard of every epoch
  (:class:`~spikegraph.samplers.Loader`'s ``num_replicas`` / ``rank``);
- :func:`~spikegraph.train.trainer.fit` evaluates on rank 0 only and :func:`broadcast`\\ s the
  scores (the other processes wait for them), and only rank 0 writes checkpoints and records.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

#: The environment variables ``torchrun`` sets for every process.
ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


class DistributedError(RuntimeError):
    """A distributed run that cannot start: a malformed ``torchrun`` environment, or a
    backend this machine lacks."""


@dataclass(frozen=True)
class DistributedEnv:
    """Where this process stands in a ``torchrun`` run.

    Attributes:
        rank: This process's index among all processes, ``[0, world_size)``.
        world_size: Number of processes of the run (all machines).
        local_rank: This process's index on its machine (its GPU).
    """

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """Whether this process is rank 0, the one that writes results and checkpoints."""
        return self.rank == 0


def from_environ(environ: Mapping[str, str] | None = None) -> DistributedEnv | None:
    """The :class:`DistributedEnv` that ``torchrun`` describes in ``environ`` (default:
    ``os.environ``), or ``None`` outside ``torchrun`` (no ``WORLD_SIZE``).

    Raises:
        DistributedError: for a variable that is missing or not a fitting int.
    """
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" not in environ:
        return None
    values = {}
    for name in ENV_VARS:
        text = environ.get(name)
        if text is None:
            raise DistributedError(
                f"WORLD_SIZE is set but {name} is not: start distributed runs with torchrun"
            )
        try:
            values[name] = int(text)
        except ValueError:
            raise DistributedError(f"{name}={text!r} is not an int") from None
    env = DistributedEnv(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])
    if env.world_size < 1 or not 0 <= env.rank < env.world_size or env.local_rank < 0:
        raise DistributedError(
            f"RANK={env.rank}, WORLD_SIZE={env.world_size}, LOCAL_RANK={env.local_rank} do not "
            "describe a process of a run (0 <= RANK < WORLD_SIZE, LOCAL_RANK >= 0)"
        )
    return env


def backend_for(device: str | torch.device) -> str:
    """``"nccl"`` for a CUDA device, ``"gloo"`` otherwise."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def device_for(device: str | None, env: DistributedEnv | None) -> str | None:
    """The device of this process: ``"cuda"`` (or ``"auto"`` on a machine with CUDA) becomes
    ``"cuda:LOCAL_RANK"`` in a distributed run; anything else is kept."""
    if env is None or env.world_size == 1 or device is None:
        return device
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        return f"cuda:{env.local_rank}"
    return device


def init(device: str | torch.device = "cpu") -> DistributedEnv | None:
    """Join the ``torchrun`` run this process belongs to (``None`` outside one, or with a
    single process: nothing to join). Does nothing when the process group is already up.

    Args:
        device: This process's device (see :func:`device_for`): picks the backend.

    Raises:
        DistributedError: when ``torch.distributed`` or the backend is not available.
    """
    env = from_environ()
    if env is None or env.world_size == 1:
        return None
    if not dist.is_available():
        raise DistributedError(
            f"torchrun started {env.world_size} processes but this torch build has no "
            "torch.distributed"
        )
    if dist.is_initialized():
        return env
    backend = backend_for(device)
    if backend == "gloo" and not dist.is_gloo_available():
        raise DistributedError("the gloo backend (CPU) is not available in this torch build")
    if backend == "nccl":
        if not dist.is_nccl_available():
            raise DistributedError(f"device {device} needs the nccl backend, which is missing")
        torch.cuda.set_device(torch.device(device))
    dist.init_process_group(backend=backend, init_method="env://")
    return env


def shutdown() -> None:
    """Leave the process group (if this process is in one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the process group, ``(0, 1)`` outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def active() -> bool:
    """Whether this process trains with others (a process group of more than one)."""
    return world()[1] > 1


def is_main() -> bool:
    """Whether this process writes results and checkpoints (rank 0, or the only process)."""
    return world()[0] == 0


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every process (picklable data; rank 0 computes it, the others
    pass anything and wait for it). ``value`` itself outside a distributed run."""
    if not active():
        return value
    box = [value if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather(value: Any) -> list[Any]:
    """Every process's ``value``, in rank order (``[value]`` outside a distributed run)."""
    if not active():
        return [value]
    out: list[Any] = [None] * world()[1]
    dist.all_gather_object(out, value)
    return out


def all_reduce_sum(values: list[float], device: torch.device | str = "cpu") -> list[float]:
    """Element-wise sums of ``values`` over all processes (``values`` outside a run)."""
    if not active():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def barrier() -> None:
    """Wait for every process (no-op outside a distributed run)."""
    if active():
        dist.barrier()


def wrap(module: nn.Module) -> nn.Module:
    """``module`` in ``DistributedDataParallel`` (which broadcasts rank 0's parameters to
    every process, then averages gradients in every backward pass)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module)


__all__ = [
    "ENV_VARS",
    "DistributedEnv",
    "DistributedError",
    "active",
    "all_gather",
    "all_reduce_sum",
    "backend_for",
    "barrier",
    "broadcast",
    "device_for",
    "from_environ",
    "init",
    "is_main",
    "shutdown",
    "world",
    "wrap",
]
