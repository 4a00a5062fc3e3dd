"""PLIF (Fang et al., ICCV 2021): learnable time constant on the fused fast path."""

import math

import pytest
import torch

from spikegraph.nn import lif_step
from spikegraph.nn.neurons import NEURONS
from spikegraph.nn.neurons import lif as lif_module
from spikegraph.nn.neurons.plif import PLIF, plif_decay, plif_weight


def loop_of_steps(neuron: PLIF, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
    """The reference: one ``lif_step`` per step, autograd through everything."""
    decay = plif_decay(neuron.w)
    th = neuron.v_threshold
    v, out = None, []
    for t in range(steps if steps is not None else x.size(0)):
        xt = x if steps is not None else x[t]
        s, v = lif_step(
            xt, v, decay, th, neuron.v_reset, neuron.reset, neuron.surrogate, neuron.detach_reset
        )
        out.append(s)
    return torch.stack(out)


def test_registered_and_parametrised_as_in_the_paper():
    assert NEURONS["plif"] is PLIF
    n = PLIF()
    assert float(n.w.detach()) == 0.0 and float(n.tau.detach()) == 2.0
    assert float(n.decay.detach()) == 0.5
    assert plif_weight(4.0) == pytest.approx(-math.log(3.0))
    assert float(PLIF(tau=4.0).decay.detach()) == pytest.approx(0.75)
    assert [p for p, _ in n.named_parameters()] == ["w"]
    wide = PLIF(per_feature=True, learn_threshold=True, num_features=3)
    assert wide.w.shape == (3,) and wide.threshold.shape == (3,)


@pytest.mark.parametrize("kernel", [True, False], ids=["numba", "torch"])
@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
@pytest.mark.parametrize("per_feature", [False, True])
@pytest.mark.parametrize("static", [False, True])
def test_multistep_and_gradients_equal_the_step_loop(
    kernel, reset, per_feature, static, monkeypatch
):
    if not kernel:
        monkeypatch.setattr(lif_module, "_kernel_applies", lambda *a: False)
    torch.manual_seed(0)
    neuron = PLIF(
        tau=3.0,
        v_threshold=0.9,
        reset=reset,
        surrogate="sigmoid",
        per_feature=per_feature,
        learn_threshold=True,
        num_features=4,
    ).double()
    with torch.no_grad():  # distinct values per feature
        neuron.w.add_(torch.randn(neuron.w.shape, dtype=torch.float64) * 0.3)
        neuron.threshold.add_(torch.rand(neuron.threshold.shape, dtype=torch.float64) * 0.2)
    shape = (5, 4) if static else (6, 5, 4)
    x = (torch.randn(shape, dtype=torch.float64) * 1.2 + 0.4).requires_grad_()
    steps = 6 if static else None
    out = neuron(x, steps=steps)
    ref = loop_of_steps(neuron, x, steps)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    weight = torch.randn(out.shape, dtype=torch.float64)
    inputs = (x, neuron.w, neuron.threshold)
    got = torch.autograd.grad((out * weight).sum(), inputs)
    want = torch.autograd.grad((ref * weight).sum(), inputs, retain_graph=True)
    for name, g, w in zip(("input", "w (tau)", "threshold"), got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12, msg=name)
        assert float(g.abs().sum()) > 0, name
    # Rates: the same gradients without spike trains.
    rate = neuron.rate(x, steps=steps)
    torch.testing.assert_close(rate, ref.mean(0))
    w2 = torch.randn(rate.shape, dtype=torch.float64)
    got = torch.autograd.grad((rate * w2).sum(), inputs)
    want = torch.autograd.grad((ref.mean(0) * w2).sum(), inputs)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


def test_the_time_constant_learns_in_a_model(node_data):
    from spikegraph.models import SpikingGCN

    torch.manual_seed(0)
    model = SpikingGCN(node_data.num_features, 16, 2, 3, T=4, neuron="plif", reset="soft")
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    before = float(model.convs[0].neuron.tau)
    for _ in range(3):
        opt.zero_grad()
        out = model(node_data.x, node_data.edge_index)
        torch.nn.functional.cross_entropy(out, node_data.y).backward()
        opt.step()
    assert float(model.convs[0].neuron.tau) != before
    assert "neuron=PLIF(tau=" in repr(model.convs[0])


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match=r"initial 'tau' must be a number in \(1, inf\).*inf"):
        PLIF(tau=float("inf"))
    with pytest.raises(ValueError, match=r"'tau' must be a number in \(1, inf\).*got 1.0"):
        PLIF(tau=1.0)
    with pytest.raises(ValueError, match="per_feature=True needs the layer's width"):
        PLIF(per_feature=True)
    with pytest.raises(ValueError, match="reset"):
        PLIF(reset="sideways")


@pytest.mark.parametrize("per_feature", [False, True])
def test_reset_parameters_restores_the_constructors_values(per_feature):
    n = PLIF(3.0, 0.7, per_feature=per_feature, learn_threshold=True, num_features=4)
    w0, th0 = n.w.detach().clone(), n.threshold.detach().clone()
    with torch.no_grad():  # as after training
        n.w.add_(torch.linspace(1.0, 2.0, n.w.numel()).view(n.w.shape))
        n.threshold.fill_(0.2)
    assert not torch.equal(n.w, w0)
    w_before, th_before = n.w, n.threshold
    n.reset_parameters()
    torch.testing.assert_close(n.w.detach(), w0, rtol=0, atol=0)
    torch.testing.assert_close(n.threshold.detach(), th0, rtol=0, atol=0)
    assert float(n.tau.reshape(-1)[0]) == pytest.approx(3.0)
    # The same Parameter objects (an optimiser holding them keeps working).
    assert n.w is w_before and n.threshold is th_before


@pytest.mark.parametrize("layer", ["gcn", "gat", "gatv2"])
def test_a_layers_reset_parameters_resets_its_plif_neurons(layer):
    from spikegraph.nn import SpikingGATConv, SpikingGATv2Conv, SpikingGCNConv

    cls = {"gcn": SpikingGCNConv, "gat": SpikingGATConv, "gatv2": SpikingGATv2Conv}[layer]
    conv = cls(4, 3, neuron="plif", tau=2.5, learn_threshold=True)
    with torch.no_grad():
        conv.neuron.w.fill_(3.0)
        conv.neuron.threshold.fill_(0.2)
    conv.reset_parameters()
    assert float(conv.neuron.w.detach()) == pytest.approx(plif_weight(2.5))
    assert float(conv.neuron.threshold.detach()) == 1.0


@pytest.mark.parametrize("per_feature", [False, True])
def test_options_of_learnt_parameters_raise_no_warning(per_feature):
    """``options()`` reads the learnt values without torch's "Converting a tensor with
    requires_grad=True to a scalar" warning, also when a layer builds the neuron."""
    import warnings

    from spikegraph.nn import SpikingGCNConv

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conv = SpikingGCNConv(4, 3, neuron="plif", learn_threshold=True, per_feature=per_feature)
        with torch.no_grad():
            conv.neuron.threshold.fill_(0.5)
        opts = conv.neuron.options()
    want = [0.5] * 3 if per_feature else 0.5
    assert opts["v_threshold"] == want
    assert opts["tau"] == ([2.0] * 3 if per_feature else 2.0)
