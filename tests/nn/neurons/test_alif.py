"""ALIF (Bellec et al., NeurIPS 2018): LIF with an adaptive threshold."""

import pytest
import torch

from spikegraph.nn import lif_multistep
from spikegraph.nn.neurons import NEURONS
from spikegraph.nn.neurons import alif as alif_module
from spikegraph.nn.neurons.alif import (
    ALIF,
    _alif_cpu_backward,
    _alif_cpu_forward,
    alif_multistep,
    alif_multistep_reference,
    alif_rate,
    alif_step,
)
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


def _no_reference(monkeypatch):
    """Make the reference loop unreachable from the fast functions (the kernels must run)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the reference ran instead of the kernels")

    monkeypatch.setattr(alif_module, "alif_multistep_reference", refuse)


def _kernel_and_reference(x, args, steps, rate, monkeypatch, grad_seed=2):
    """Outputs and input gradients of the kernels and of the reference loop for one upstream
    gradient."""
    xa = x.detach().clone().requires_grad_()
    xb = x.detach().clone().requires_grad_()
    ref = alif_multistep_reference(xb, *args, steps=steps)
    ref = ref.mean(dim=0) if rate else ref
    with monkeypatch.context() as m:
        _no_reference(m)
        out = (alif_rate if rate else alif_multistep)(xa, *args, steps=steps)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(grad_seed), dtype=x.dtype)
    (g,) = torch.autograd.grad((out * w).sum(), xa)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), xb)
    return out, ref, g, g_ref


@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("rate", [False, True])
def test_kernels_equal_the_reference_loop(reset, static, rate, monkeypatch):
    """Every option (reset, detach_reset, two surrogates, a reset potential), static and
    ``[T, N, F]`` input, spikes and rates: the kernels' values equal the loop's exactly, their
    input gradients to rounding (float64)."""
    torch.manual_seed(3)
    x = torch.randn((6, 5) if static else (7, 6, 5), dtype=torch.float64) + 0.8
    steps = 7 if static else None
    for surrogate in ("rectangular", "sigmoid"):
        for detach_reset in (False, True):
            sg = resolve_surrogate(surrogate)
            args = (0.7, 0.9, 0.6, 0.8, 0.1, reset, sg, detach_reset)
            out, ref, g, g_ref = _kernel_and_reference(x, args, steps, rate, monkeypatch)
            msg = f"{surrogate}, detach_reset={detach_reset}"
            torch.testing.assert_close(out, ref, rtol=0, atol=0, msg=msg)
            assert 0 < float(out.detach().sum()) < out.numel()  # some neurons fired, not all
            torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12, msg=msg)
            assert float(g.abs().sum()) > 0, msg


def test_kernel_gradient_goes_through_the_adaptation(monkeypatch):
    """With a strong adaptation the threshold's path carries much of the gradient: a kernel
    that dropped it (beta's term) would differ from the reference, and from beta=0."""
    torch.manual_seed(4)
    x = torch.rand(10, 40, dtype=torch.float64) * 2
    args = (0.9, 1.0, 1.5, 0.9, 0.0, "soft", resolve_surrogate("sigmoid"), True)
    _, _, g, g_ref = _kernel_and_reference(x, args, None, True, monkeypatch)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12)
    lif_args = (0.9, 1.0, 0.0, *args[3:])
    _, _, g_lif, _ = _kernel_and_reference(x, lif_args, None, True, monkeypatch)
    assert float((g - g_lif).abs().max()) > 1e-3


def test_kernels_float32_on_several_threads_equal_the_reference(monkeypatch):
    """Enough neurons for several threads (disjoint ranges), float32."""
    g = torch.Generator().manual_seed(5)
    x = torch.rand(4, 20000, 5, generator=g) * 1.5
    threads = torch.get_num_threads()
    torch.set_num_threads(max(2, threads))
    try:
        args = (0.5, 1.0, 0.5, 0.75, 0.0, "soft", resolve_surrogate("rectangular"), False)
        out, ref, gr, g_ref = _kernel_and_reference(x, args, None, False, monkeypatch)
    finally:
        torch.set_num_threads(threads)
    # float32: a current within rounding of the threshold may fire on one path only
    assert float((out - ref).abs().gt(0).float().mean()) < 1e-4
    assert float((gr - g_ref).abs().gt(1e-4).float().mean()) < 1e-3


def test_alif_module_runs_the_kernels_and_tensor_constants_the_reference(monkeypatch):
    torch.manual_seed(6)
    x = torch.rand(6, 8, 3, dtype=torch.float64) * 1.5
    n = ALIF(tau=3.0, tau_adapt=5.0, beta=0.8, reset="hard", detach_reset=True)
    want = alif_multistep_reference(x, n.decay, 1.0, 0.8, n.rho, **n.reset_options())
    with monkeypatch.context() as m:
        _no_reference(m)
        spikes = n(x)
        rates = n.rate(x)
    torch.testing.assert_close(spikes, want, rtol=0, atol=0)
    torch.testing.assert_close(rates, want.mean(dim=0), rtol=0, atol=0)
    decay = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    with monkeypatch.context() as m, pytest.raises(AssertionError, match="reference ran"):
        _no_reference(m)
        alif_multistep(x, decay, 1.0, 0.5, 0.5)


def test_alif_custom_ops_pass_opcheck():
    """Schema, fake (meta) shapes and autograd registration of the ALIF ops agree with the
    kernels (the values are compared with the reference above)."""
    x = (torch.randn(5, 3, 4, dtype=torch.float64) + 0.8).requires_grad_()
    for static, rate in ((False, False), (False, True), (True, False)):
        xi = x[0].detach().requires_grad_() if static else x
        args = (xi, 5, static, 0.5, 1.0, 0.5, 0.75, 0.0, 1, rate, False, "sigmoid", 4.0)
        torch.library.opcheck(_alif_cpu_forward, args)
        shape = (3, 4) if rate else (5, 3, 4)
        go = torch.randn(shape, dtype=torch.float64)
        torch.library.opcheck(_alif_cpu_backward, (xi.detach(), go, *args[1:]))
