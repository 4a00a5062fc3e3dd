r"""Readouts: how a spiking model turns its output layer over time, ``[T, N, C]``, into class
logits ``[N, C]``, and the registry :data:`READOUTS`.

Both readouts of GC-SNN / GA-SNN (Xu et al., "Exploiting Spiking Dynamics with
Spatial-temporal Feature Normalization in Graph Learning", IJCAI 2021) average the output
layer over the ``T`` steps; they differ in what that layer emits:

- :class:`MembraneReadout` (``"membrane"``): the output layer has no neuron and no
  normalisation, so the logits are its synaptic current averaged over time (the mean
  membrane potential of a non-leaky, non-firing read-out neuron, divided by ``T``).
- :class:`RateReadout` (``"rate"``): the output layer spikes like the others and the logits
  are its firing rates (spike counts over ``T``), GC-SNN's rate decoding.

A readout is a module the model calls, so the cost counters count it with a forward hook.
Adding one is a subclass with ``name="..."`` (see :mod:`spikegraph.nn.registry`).
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from spikegraph.nn.registry import Registered, Registry

#: Name -> readout class; filled by subclassing :class:`Readout` with a ``name``.
READOUTS: Registry = Registry("readout")


def time_average(out: Tensor) -> Tensor:
    """The average over the leading time dimension: ``[T, *] -> [*]``."""
    return out.mean(dim=0)


class Readout(Registered, nn.Module):
    """Base class: the output layer's ``[T, N, C]`` averaged over time to logits ``[N, C]``.

    Subclasses say whether the output layer spikes (:attr:`spiking_output`). A model may
    feed a non-spiking output layer firing rates instead of spike trains when the readout is
    a time average (the output is then linear in time), so a readout that is not one sets
    :attr:`is_time_average` to ``False``.
    """

    registry = READOUTS
    #: Whether the output layer keeps its neurons (and normalisation).
    spiking_output: ClassVar[bool] = False
    #: Whether :meth:`forward` is the average over time.
    is_time_average: ClassVar[bool] = True

    def forward(self, out: Tensor) -> Tensor:
        """Logits ``[N, C]`` of the output layer's ``[T, N, C]``."""
        return time_average(out)


class MembraneReadout(Readout, name="membrane"):
    """The output layer's synaptic current (no neuron, no normalisation) averaged over time."""

    spiking_output = False


class RateReadout(Readout, name="rate"):
    """The output layer's firing rates: its spikes averaged over time (Xu et al., 2021)."""

    spiking_output = True


def build_readout(name: str) -> Readout:
    """The readout registered as ``name`` (:data:`READOUTS`).

    Raises:
        ValueError: for an unknown name, listing the registered ones.
    """
    return READOUTS.resolve(name)()
