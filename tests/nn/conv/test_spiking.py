"""The time convention shared by the spiking layers: ``T`` is for static inputs only."""

from __future__ import annotations

import pytest
import torch

from spikegraph.nn import SpikingGATConv, SpikingGATv2Conv, SpikingGCNConv

N, F_IN, F_OUT = 6, 5, 4
LAYERS = {
    "gcn": lambda T, **kw: SpikingGCNConv(F_IN, F_OUT, T=T, **kw),
    "gat": lambda T, **kw: SpikingGATConv(F_IN, F_OUT, heads=2, T=T, **kw),
    "gatv2": lambda T, **kw: SpikingGATv2Conv(F_IN, F_OUT, heads=2, T=T, **kw),
}


def train(steps, n=N, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, n, F_IN, generator=gen) < 0.5).double()


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("steps", [1, 3, 11])
def test_spike_train_of_any_length_runs_over_its_own_steps(edge_index, name, steps):
    torch.manual_seed(0)
    long = LAYERS[name](8, v_threshold=0.3).double().eval()
    own = LAYERS[name](steps, v_threshold=0.3).double().eval()
    own.load_state_dict(long.state_dict())
    x = train(steps)
    out = long(x, edge_index)
    assert out.shape[:2] == (steps, N)
    assert torch.equal(out, own(x, edge_index))
    assert 0 < out.mean() < 1
    # The static input still runs for the layer's T.
    assert long(x[0], edge_index).shape[0] == 8


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_short_train_without_spiking_equals_a_loop_over_its_steps(edge_index, name):
    torch.manual_seed(0)
    conv = LAYERS[name](8, spiking=False, norm="none").double().eval()
    x = train(3)
    out = conv(x, edge_index)
    assert out.shape[:2] == (3, N)
    for t in range(3):
        torch.testing.assert_close(out[t], conv(x[t], edge_index)[0])


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_short_train_rates_equal_the_mean_of_its_spikes(edge_index, name):
    torch.manual_seed(0)
    conv = LAYERS[name](8, v_threshold=0.3).double().eval()
    x = train(3)
    current = conv.current(x, edge_index)
    torch.testing.assert_close(conv.fire_rate(current), conv.fire(current).mean(0))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_bipartite_trains_must_have_the_same_length(name):
    conv = LAYERS[name](8)
    ei = torch.tensor([[0, 4, 2], [0, 1, 1]])
    x_src = train(3, n=5)
    with pytest.raises(ValueError, match=r"'x_src' has 3 time steps but 'x_dst' has 2"):
        conv((x_src.float(), x_src[:2, :2].float()), ei)
