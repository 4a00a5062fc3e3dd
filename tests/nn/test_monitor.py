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


@pytest.mark.parametrize("num_layers", [2, 3])
@pytest.mark.parametrize("norm", ["none", "stfn"])
def test_training_mode_records_the_layer_that_takes_the_rate_shortcut(node_data, num_layers, norm):
    """In training the spiking GCN computes its last hidden layer's firing rates without
    spike trains (``fire_rate``); the monitor still records that layer, at the rate of its
    spikes, and the model's outputs and gradients are bit for bit those without a monitor."""
    torch.manual_seed(0)
    model = SpikingGCN(
        8, 16, num_layers, 2, T=4, dropout=0.0, input_dropout=0.0, norm=norm, v_threshold=0.5
    ).double()
    x, ei = node_data.x.double(), node_data.edge_index
    if num_layers == 3:
        # Forward hooks on a layer's neurons make its fire() take the plain path instead of
        # the fused STFN one (equal up to rounding); compare like with like there. The rate
        # shortcut layer keeps its path (fused with STFN) under the monitor.
        model.convs[0].fuse_norm = False
    model.train()
    assert model._rate_shortcut()
    plain = model(x, ei)
    plain_grads = torch.autograd.grad(plain.sum(), list(model.parameters()))
    with SpikeMonitor(model) as mon:
        out = model(x, ei)
        grads = torch.autograd.grad(out.sum(), list(model.parameters()))
    assert torch.equal(out, plain)
    assert all(torch.equal(g, r) for g, r in zip(grads, plain_grads))
    hidden = [f"convs.{i}" for i in range(num_layers - 1)]
    rates = mon.firing_rates()
    assert sorted(rates) == hidden
    # Without dropout training and evaluation fire the same spikes: the eval record (every
    # step computed, forward hooks on the spike trains) is the reference.
    with torch.no_grad(), SpikeMonitor(model.eval()) as ref:
        model(x, ei)
    assert sorted(ref.firing_rates()) == hidden
    for name in hidden:
        assert rates[name] == approx(ref.firing_rates()[name])
    assert 0 < rates[hidden[-1]] < 1
