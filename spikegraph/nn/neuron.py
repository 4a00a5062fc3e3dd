"""Former home of the LIF neuron, kept so that ``spikegraph.nn.neuron`` imports still work:
the neuron now lives in :mod:`spikegraph.nn.neurons.lif`."""

from spikegraph.nn.neurons.lif import (  # noqa: F401
    LIF,
    RESETS,
    _lif_cpu_backward,
    _lif_cpu_forward,
    lif_multistep,
    lif_rate,
    lif_step,
)
