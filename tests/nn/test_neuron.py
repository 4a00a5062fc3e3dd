import pytest
import torch

from spikegraph.nn import LIF, ArcTan, Sigmoid, lif_multistep, lif_step
from spikegraph.nn.neuron import lif_rate
from spikegraph.nn.surrogate import resolve_surrogate

RESETS = ["hard", "soft", "none"]


def current(T=6, shape=(5, 7), seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(T, *shape, generator=gen, dtype=dtype) * 0.8 + 0.6


def loop_of_steps(x, decay, v_th, v_reset, reset, surrogate, detach_reset):
    v = None
    spikes = []
    for t in range(x.size(0)):
        s, v = lif_step(x[t], v, decay, v_th, v_reset, reset, surrogate, detach_reset)
        spikes.append(s)
    return torch.stack(spikes), v


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("surrogate", ["rectangular", "sigmoid"])
def test_multistep_equals_loop_of_single_steps(reset, detach_reset, surrogate):
    x = current()
    sg = resolve_surrogate(surrogate)
    args = (0.6, 1.0, -0.1, reset, sg, detach_reset)
    gen = torch.Generator().manual_seed(1)
    w_s = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    w_v = torch.randn(x.shape[1:], generator=gen, dtype=x.dtype)

    x1 = x.clone().requires_grad_()
    s1, v1 = lif_multistep(x1, *args)
    (g1,) = torch.autograd.grad((s1 * w_s).sum() + (v1 * w_v).sum(), x1)

    x2 = x.clone().requires_grad_()
    s2, v2 = loop_of_steps(x2, *args)
    (g2,) = torch.autograd.grad((s2 * w_s).sum() + (v2 * w_v).sum(), x2)

    assert torch.equal(s1, s2)
    torch.testing.assert_close(v1, v2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)
    # The comparison is not vacuous: neurons fire and stay silent, gradients are non-zero.
    assert 0.1 < s1.mean() < 0.9
    assert (g1 != 0).float().mean() > 0.5


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("detach_reset", [False, True])
def test_module_equals_loop_of_single_steps(reset, detach_reset):
    lif = LIF(tau=2.5, v_threshold=0.9, reset=reset, detach_reset=detach_reset)
    x = current(seed=3)
    x1 = x.clone().requires_grad_()
    out = lif(x1)
    (g1,) = torch.autograd.grad(out.sum(), x1)
    x2 = x.clone().requires_grad_()
    ref, _ = loop_of_steps(x2, lif.decay, 0.9, 0.0, reset, lif.surrogate, detach_reset)
    (g2,) = torch.autograd.grad(ref.sum(), x2)
    assert torch.equal(out, ref)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)


def test_detach_reset_changes_the_gradient():
    x = current(seed=4)
    grads = []
    for detach in (False, True):
        xg = x.clone().requires_grad_()
        s, _ = lif_multistep(xg, 0.5, reset="hard", detach_reset=detach)
        grads.append(torch.autograd.grad(s.sum(), xg)[0])
    assert not torch.allclose(grads[0], grads[1])


@pytest.mark.parametrize(
    "reset, spikes, v_final",
    [
        # decay 0.5, threshold 1, input 0.6 each step.
        # hard: V = 0.6, 0.9, 1.05 -> fire, reset to 0, then 0.6.
        ("hard", [0, 0, 1, 0], 0.6),
        # soft: V = 0.6, 0.9, 1.05 -> fire, subtract 1 -> 0.05, then 0.625.
        ("soft", [0, 0, 1, 0], 0.625),
        # none: V = 0.6, 0.9, 1.05, 1.125 (fires at steps 3 and 4).
        ("none", [0, 0, 1, 1], 1.125),
    ],
)
def test_hand_computed_dynamics(reset, spikes, v_final):
    x = torch.full((4, 1), 0.6, dtype=torch.float64)
    s, v = lif_multistep(x, 0.5, 1.0, 0.0, reset)
    assert s.view(-1).tolist() == spikes
    assert v.item() == pytest.approx(v_final, abs=1e-12)


def test_hard_reset_goes_to_v_reset():
    x = torch.tensor([[1.5], [0.0]], dtype=torch.float64)
    _, v = lif_multistep(x[:1], 0.5, 1.0, v_reset=-0.25, reset="hard")
    assert v.item() == -0.25


def test_spike_at_exactly_the_threshold():
    x = torch.tensor([[1.0], [0.999999]])
    assert LIF(v_threshold=1.0)(x).view(-1).tolist() == [1.0, 0.0]


def test_outputs_are_exactly_zero_or_one():
    lif = LIF(surrogate=Sigmoid())
    x = (current(T=8, shape=(50, 9), dtype=torch.float32) * 3).requires_grad_()
    out = lif(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert set(out.unique().tolist()) == {0.0, 1.0}


def heaviside_reference(x, decay, v_th, reset):
    """Independent reference: plain comparison ``V >= V_th``, no surrogate machinery."""
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.size(0)):
        v = decay * v + x[t]
        s = (v >= v_th).to(x.dtype)
        if reset == "hard":
            v = v * (1 - s)
        elif reset == "soft":
            v = v - v_th * s
        out.append(s)
    return torch.stack(out)


@pytest.mark.parametrize("reset", RESETS)
def test_eval_and_no_grad_spikes_are_exact_heaviside(reset):
    lif = LIF(tau=3.0, v_threshold=0.8, reset=reset, surrogate=ArcTan())
    x = current(T=7, shape=(30, 4), dtype=torch.float32)
    ref = heaviside_reference(x, lif.decay, 0.8, reset)
    lif.eval()
    with torch.no_grad():
        assert torch.equal(lif(x), ref)
    lif.train()
    # With gradients on, the forward values are the same Heaviside spikes.
    assert torch.equal(lif(x.clone().requires_grad_()).detach(), ref)


def test_no_grad_output_has_no_graph():
    with torch.no_grad():
        out = LIF()(current().requires_grad_())
    assert out.grad_fn is None and not out.requires_grad


def test_integrate_and_fire_with_infinite_tau():
    lif = LIF(tau=float("inf"))
    assert lif.decay == 1.0
    x = torch.full((5, 1), 0.3)
    # No leak: 0.3, 0.6, 0.9, 1.2 -> fire -> 0, 0.3.
    assert lif(x).view(-1).tolist() == [0, 0, 0, 1, 0]


def test_decay():
    assert LIF(tau=2.0).decay == 0.5
    assert LIF(tau=1.0).decay == 0.0


def test_repr():
    assert repr(LIF()) == (
        "LIF(\n"
        "  tau=2.0, v_threshold=1.0, reset='hard', detach_reset=False\n"
        "  (surrogate): Rectangular(alpha=1.0)\n"
        ")"
    )
    lif = LIF(tau=4, v_threshold=0.5, reset="soft", surrogate="sigmoid", detach_reset=True)
    assert repr(lif) == (
        "LIF(\n"
        "  tau=4.0, v_threshold=0.5, reset='soft', detach_reset=True\n"
        "  (surrogate): Sigmoid(alpha=4.0)\n"
        ")"
    )


def test_unknown_reset():
    msg = r"Unknown reset 'subtract'; expected one of \['hard', 'soft', 'none'\]"
    with pytest.raises(ValueError, match=msg):
        LIF(reset="subtract")
    with pytest.raises(ValueError, match=msg):
        lif_multistep(current(), 0.5, reset="subtract")
    with pytest.raises(ValueError, match=msg):
        lif_step(current()[0], None, 0.5, reset="subtract")


@pytest.mark.parametrize(
    "kwargs, err, msg",
    [
        ({"tau": 0.5}, ValueError, r"'tau' must be >= 1 so that the decay 1 - 1/tau is in"),
        ({"tau": 0}, ValueError, r"'tau' must be .*> 0, got 0"),
        ({"tau": float("nan")}, ValueError, r"'tau' must be .*got nan"),
        ({"tau": "2"}, TypeError, r"'tau' must be a number, got str"),
        ({"v_threshold": 0.0}, ValueError, r"'v_threshold' must be finite and > 0, got 0.0"),
        ({"v_threshold": -1.0}, ValueError, r"'v_threshold' must be finite and > 0, got -1.0"),
    ],
)
def test_bad_parameters(kwargs, err, msg):
    with pytest.raises(err, match=msg):
        LIF(**kwargs)


class _Custom(Sigmoid):
    """A surrogate the CPU kernels do not know: runs the torch implementation."""


@pytest.mark.parametrize("surrogate", [Sigmoid(), _Custom()], ids=["kernel", "torch"])
@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("reset", RESETS)
def test_rate_equals_mean_of_spikes(surrogate, static, reset):
    gen = torch.Generator().manual_seed(5)
    shape = (40, 7) if static else (6, 40, 7)
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * 1.5
    w = torch.randn(40, 7, generator=gen, dtype=torch.float64)
    steps = 6 if static else None
    args = (0.6, 1.0, -0.1, reset, surrogate, False)
    x1 = x.clone().requires_grad_()
    rate = lif_rate(x1, *args, steps=steps)
    (g1,) = torch.autograd.grad((rate * w).sum(), x1)
    x2 = x.clone().requires_grad_()
    spikes, _ = lif_multistep(x2, *args, steps=steps)
    (g2,) = torch.autograd.grad((spikes.mean(0) * w).sum(), x2)
    torch.testing.assert_close(rate, spikes.mean(0), rtol=0, atol=1e-15)
    torch.testing.assert_close(g1, g2, rtol=1e-12, atol=1e-12)
    assert 0.05 < rate.mean() < 0.95
    assert (g1 != 0).float().mean() > 0.3


@pytest.mark.parametrize("static", [False, True])
def test_float32_in_threads_equals_loop_of_single_steps(static):
    # Enough neurons to be split over threads; float32 is integrated in float32, so even the
    # spikes of neurons whose potential lands next to the threshold agree.
    gen = torch.Generator().manual_seed(7)
    shape = (300, 250) if static else (5, 300, 250)
    x = torch.randn(shape, generator=gen) * 1.5
    x1 = x.clone().requires_grad_()
    s1, v1 = lif_multistep(x1, 0.6, 1.0, 0.0, "hard", None, False, steps=5 if static else None)
    (g1,) = torch.autograd.grad(s1.sum() + v1.sum(), x1)
    x2 = x.clone().requires_grad_()
    xs = x2.unsqueeze(0).expand(5, *shape) if static else x2
    s2, v2 = loop_of_steps(xs, 0.6, 1.0, 0.0, "hard", resolve_surrogate("rectangular"), False)
    (g2,) = torch.autograd.grad(s2.sum() + v2.sum(), x2)
    assert torch.equal(s1, s2)
    torch.testing.assert_close(v1, v2)
    torch.testing.assert_close(g1, g2)
