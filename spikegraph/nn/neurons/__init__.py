"""Spiking neurons: the interface (:mod:`~spikegraph.nn.neurons.base`), the registry
:data:`NEURONS` and one module per neuron.

Every module of this package is imported here, so a new neuron file registers itself
without an edit anywhere else.
"""

import importlib
import pkgutil

from spikegraph.nn.neurons.base import (
    NEURONS,
    CountingRule,
    SpikingNeuron,
    build_neuron,
    neuron_option_names,
    pop_neuron_options,
    resolve_neuron_class,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from spikegraph.nn.neurons.lif import LIF  # noqa: E402

__all__ = [
    "LIF",
    "NEURONS",
    "CountingRule",
    "SpikingNeuron",
    "build_neuron",
    "neuron_option_names",
    "pop_neuron_options",
    "resolve_neuron_class",
]
