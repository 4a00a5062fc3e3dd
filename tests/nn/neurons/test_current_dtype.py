"""Every registered neuron refuses an integer synaptic current, naming its dtype."""

import pytest
import torch

from spikegraph.nn.neurons import NEURONS


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_an_integer_current_is_refused(name):
    """An int64 current ran through the LIF kernels and returned int64 "spikes" of an
    integer membrane (every decay truncated), without an error."""
    neuron = NEURONS[name]()
    with pytest.raises(TypeError, match=r"must be floating-point, got torch.int64"):
        neuron(torch.ones(4, 3, dtype=torch.long) * 2)
    assert neuron(torch.ones(4, 3) * 2).dtype == torch.float32
