"""ALIF (Bellec et al., NeurIPS 2018): LIF with an adaptive threshold."""

import pytest
import torch

from spikegraph.nn import lif_multistep
from spikegraph.nn.neurons import NEURONS
from spikegraph.nn.neurons.alif import ALIF, alif_multistep, alif_step
from spikegraph.nn.surrogate import resolve_surrogate


def hand_written(x, decay, b0, beta, rho, reset):
    """The equations of the paper written out for a spike train, without ``alif_step``."""
    v = torch.zeros_like(x[0])
    b = torch.zeros_like(x[0])
    out = []
    for t in range(x.size(0)):
        v = decay * v + x[t]
        threshold = b0 + beta * b
        s = (v >= threshold).to(x.dtype)
        if reset == "soft":
            v = v - threshold * s
        elif reset == "hard":
            v = v * (1 - s)
        b = rho * b + (1 - rho) * s
        out.append(s)
    return torch.stack(out)


def test_registered_with_its_defaults():
    assert NEURONS["alif"] is ALIF
    n = ALIF()
    assert (n.tau, n.tau_adapt, n.beta, n.reset) == (2.0, 4.0, 0.5, "soft")
    assert n.rho == 0.75 and n.decay == 0.5
    assert n.counting_rule().macs_per_step == 2


@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
def test_dynamics_are_the_papers_equations(reset):
    torch.manual_seed(0)
    x = torch.rand(8, 5, 3, dtype=torch.float64) * 1.5
    n = ALIF(tau=3.0, tau_adapt=5.0, beta=0.8, reset=reset)
    torch.testing.assert_close(n(x), hand_written(x, n.decay, 1.0, 0.8, n.rho, reset))


def test_adaptation_lowers_the_rate_and_beta_zero_is_lif():
    x = torch.full((10, 4), 0.6, dtype=torch.float64)
    lif, _ = lif_multistep(x, 0.5, 1.0, reset="soft")
    assert (ALIF(beta=0.0)(x) == lif).all()
    assert ALIF(beta=1.0)(x).sum() < lif.sum()


@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
@pytest.mark.parametrize("static", [False, True])
def test_multistep_and_gradients_equal_a_loop_of_steps(reset, static):
    torch.manual_seed(1)
    shape = (5, 4) if static else (7, 5, 4)
    x = (torch.randn(shape, dtype=torch.float64) + 0.8).requires_grad_()
    decay = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    b0 = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    sg = resolve_surrogate("sigmoid")
    steps = 7 if static else None
    out = alif_multistep(x, decay, b0, 0.6, 0.8, 0.0, reset, sg, steps=steps)
    v = b = None
    ref = []
    for t in range(7):
        xt = x if static else x[t]
        s, v, b = alif_step(xt, v, b, decay, b0, 0.6, 0.8, 0.0, reset, sg)
        ref.append(s)
    ref = torch.stack(ref)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    w = torch.randn(out.shape, dtype=torch.float64)
    got = torch.autograd.grad((out * w).sum(), (x, decay, b0))
    want = torch.autograd.grad((ref * w).sum(), (x, decay, b0))
    for name, g, r in zip(("input", "decay (tau)", "threshold"), got, want):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12, msg=name)
        assert float(g.abs().sum()) > 0, name


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match=r"'tau_adapt' must be a number >= 1, got 0.5"):
        ALIF(tau_adapt=0.5)
    with pytest.raises(ValueError, match=r"'beta' must be a number >= 0, got -1"):
        ALIF(beta=-1)
    with pytest.raises(ValueError, match=r"'x' needs a leading time dimension"):
        alif_multistep(torch.zeros(()), 0.5, 1.0, 0.5, 0.5)
