"""Where training runs: ``"cpu"``, ``"cuda"`` (``"cuda:N"``) or ``"auto"``.

:func:`resolve_device` turns a user's choice into a :class:`torch.device` and refuses, with
a message that says what to use instead, anything training cannot run on: CUDA on a machine
without it, a GPU index the machine does not have, ``"meta"`` (tensors without data), or a
name torch does not know.

Default: ``"cpu"`` for the command line and the experiment runners, so the same command gives
the same numbers on every machine of one CPU kind (another instruction set, e.g. AVX2 against
AVX-512, can round vectorised sums differently in their last bits:
:func:`~spikegraph.experiments.tune.ran_on`); a GPU is chosen explicitly (``"cuda"``) or
when present (``"auto"``). Results on CUDA differ from the CPU's at the level of float rounding, and
dropout and Bernoulli encoders draw from CUDA's random generator there, so a seed gives
another (equally valid) run on a GPU than on a CPU.
"""

from __future__ import annotations

from typing import Any

import torch

#: What ``device`` may name (besides ``"cuda:N"`` and a :class:`torch.device`).
DEVICES = ("cpu", "cuda", "auto")


class DeviceError(ValueError):
    """A device training cannot run on: unknown, without data, or not on this machine."""


def cuda_available() -> bool:
    """Whether CUDA can run here (a function so tests can pretend either way)."""
    return torch.cuda.is_available()


def resolve_device(device: Any) -> torch.device:
    """The :class:`torch.device` of ``device``.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"`` (CUDA when available, else
            the CPU) or a :class:`torch.device` of type ``cpu`` or ``cuda``.

    Raises:
        DeviceError: naming the value, for an unknown device, a ``meta`` device, CUDA when
            this machine has none, or a GPU index it does not have.
    """
    if isinstance(device, str):
        text = device.strip().lower()
        if text == "auto":
            return torch.device("cuda" if cuda_available() else "cpu")
        try:
            dev = torch.device(text)
        except (RuntimeError, ValueError):
            raise DeviceError(
                f"Unknown device {device!r}; expected one of {list(DEVICES)} or 'cuda:N'"
            ) from None
    elif isinstance(device, torch.device):
        dev = device
    else:
        raise DeviceError(
            f"'device' must be one of {list(DEVICES)}, 'cuda:N' or a torch.device, got "
            f"{type(device).__name__} ({device!r})"
        )
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        why = " (meta tensors hold no data to train on)" if dev.type == "meta" else ""
        raise DeviceError(
            f"Device {device!r} is not supported{why}; expected one of {list(DEVICES)} or 'cuda:N'"
        )
    if not cuda_available():
        raise DeviceError(
            f"Device {device!r} asked for, but CUDA is not available on this machine "
            f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}); use "
            "'cpu' or 'auto' (--device cpu / --device auto)"
        )
    count = torch.cuda.device_count()
    if dev.index is not None and dev.index >= count:
        raise DeviceError(
            f"Device {device!r} asked for, but this machine has {count} CUDA device(s) "
            f"(cuda:0 .. cuda:{count - 1})"
        )
    return dev


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (the CPU if it has none)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


__all__ = ["DEVICES", "DeviceError", "cuda_available", "module_device", "resolve_device"]
