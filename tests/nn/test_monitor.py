import pytest
import torch
from torch_geometric.nn import GCN

from spikegraph.models import SpikingGCN
from spikegraph.nn.monitor import SpikeMonitor


def approx(v):
    return pytest.approx(v, rel=1e-6, abs=1e-9)


def test_firing_rates_equal_the_spike_means_of_each_layer(node_data):
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, num_layers=3, out_channels=2, T=4, readout="rate").eval()
    x, ei = node_data.x, node_data.edge_index
    with SpikeMonitor(model) as mon:
        model(x, ei)
    # Independent count: run the layers by hand.
    with torch.no_grad():
        h0 = model.convs[0](x, ei)
        h1 = model.convs[1](h0, ei)
        h2 = model.convs[2](h1, ei)
    expected = {f"convs.{i}": h.mean().item() for i, h in enumerate((h0, h1, h2))}
    rates = mon.firing_rates()
    assert rates.keys() == expected.keys()
    for k, v in expected.items():
        assert rates[k] == approx(v)
    assert 0 < rates["convs.0"] < 1


def test_rates_accumulate_over_forwards_and_hooks_are_removed(node_data):
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, num_layers=2, out_channels=2, T=4).eval()
    x, ei = node_data.x, node_data.edge_index
    x2 = torch.zeros_like(x)
    with torch.no_grad():
        r1 = model.convs[0](x, ei).mean().item()
        r2 = model.convs[0](x2, ei).mean().item()
    with SpikeMonitor(model) as mon:
        model(x, ei)
        model(x2, ei)
    # Membrane readout: only the hidden layer spikes.
    assert list(mon.firing_rates()) == ["convs.0"]
    assert mon.firing_rates()["convs.0"] == approx((r1 + r2) / 2)
    model(x, ei)  # after exit: not recorded
    assert mon.firing_rates()["convs.0"] == approx((r1 + r2) / 2)
    assert all(not m._forward_hooks for m in model.modules())


def test_non_spiking_model_has_no_rates(node_data):
    model = GCN(8, 16, num_layers=2, out_channels=2)
    with SpikeMonitor(model) as mon:
        model(node_data.x, node_data.edge_index)
    assert mon.firing_rates() == {}
