"""The fused multi-step LIF (numba kernels on CPU, the torch implementation elsewhere) returns
gradients for the decay and the threshold that equal autograd of a loop of ``lif_step``."""

import pytest
import torch

from spikegraph.nn import lif_multistep, lif_rate, lif_step
from spikegraph.nn.neurons import lif as lif_module
from spikegraph.nn.surrogate import SURROGATES, Surrogate, relu, resolve_surrogate


def reference(x, decay, th, reset, surrogate, detach, steps=None, v_init=None):
    T = steps if steps is not None else x.size(0)
    v, out = v_init, []
    for t in range(T):
        s, v = lif_step(
            x if steps is not None else x[t], v, decay, th, 0.2, reset, surrogate, detach
        )
        out.append(s)
    return torch.stack(out), v


def _inputs(per_feature: bool, static: bool):
    gen = torch.Generator().manual_seed(3)
    shape = (5, 4) if static else (6, 5, 4)
    x = (torch.randn(shape, generator=gen, dtype=torch.float64) * 1.2 + 0.4).requires_grad_()
    n = 4 if per_feature else 1
    decay = (torch.rand(n, generator=gen, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    th = (torch.rand(n, generator=gen, dtype=torch.float64) * 0.5 + 0.8).requires_grad_()
    if not per_feature:
        decay, th = decay.detach()[0].requires_grad_(), th.detach()[0].requires_grad_()
    v0 = torch.randn(shape[-2:], generator=gen, dtype=torch.float64).requires_grad_()
    return x, decay, th, v0


def _grads(out, inputs, gen_seed=7):
    gen = torch.Generator().manual_seed(gen_seed)
    spikes, v = out
    loss = (spikes * torch.randn(spikes.shape, generator=gen, dtype=spikes.dtype)).sum()
    loss = loss + (v * torch.randn(v.shape, generator=gen, dtype=v.dtype)).sum()
    return torch.autograd.grad(loss, inputs, allow_unused=True)


@pytest.mark.parametrize("kernel", [True, False], ids=["numba", "torch"])
@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("per_feature", [False, True])
@pytest.mark.parametrize("static", [False, True])
def test_decay_and_threshold_gradients_match_autograd_of_the_step_loop(
    kernel, reset, detach, per_feature, static, monkeypatch
):
    if not kernel:
        monkeypatch.setattr(lif_module, "_kernel_applies", lambda *a: False)
    sg = resolve_surrogate("sigmoid")
    x, decay, th, v0 = _inputs(per_feature, static)
    steps = 6 if static else None
    inputs = (x, decay, th, v0)
    ref = reference(x, decay, th, reset, sg, detach, steps, v0)
    out = lif_multistep(x, decay, th, 0.2, reset, sg, detach, v_init=v0, steps=steps)
    torch.testing.assert_close(out[0], ref[0], rtol=0, atol=0)
    torch.testing.assert_close(out[1], ref[1], rtol=1e-12, atol=1e-12)
    got, want = _grads(out, inputs), _grads(ref, inputs)
    for name, g, w in zip(("x", "decay", "threshold", "v_init"), got, want):
        assert g is not None and w is not None, name
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10, msg=name)
    assert float(got[1].abs().sum()) > 0 and float(got[2].abs().sum()) > 0


@pytest.mark.parametrize("kernel", [True, False], ids=["numba", "torch"])
def test_rate_gradients_for_learnable_constants(kernel, monkeypatch):
    if not kernel:
        monkeypatch.setattr(lif_module, "_kernel_applies", lambda *a: False)
    sg = resolve_surrogate("arctan")
    x, decay, th, _ = _inputs(True, False)
    rate = lif_rate(x, decay, th, 0.0, "soft", sg)
    ref = reference(x, decay, th, "soft", sg, False)[0].mean(0)
    torch.testing.assert_close(rate, ref)
    w = torch.randn(rate.shape, dtype=rate.dtype, generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad((rate * w).sum(), (x, decay, th))
    want = torch.autograd.grad((ref * w).sum(), (x, decay, th))
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-10)


def test_the_kernel_runs_a_registered_surrogates_own_formula():
    """A surrogate registered from its own class statement is compiled into the kernel: no
    table of surrogates to extend (and an unregistered one falls back to torch)."""

    class Bump(Surrogate, name="test-bump"):
        @staticmethod
        def formula(u, alpha):
            return alpha * relu(1.0 - (alpha * u) * (alpha * u))

        def primitive(self, x):  # pragma: no cover - not needed here
            raise NotImplementedError

    try:
        sg = Bump(0.8)
        x = (torch.randn(5, 3, 4, dtype=torch.float64) + 0.5).requires_grad_()
        assert lif_module._kernel_applies(x, None, sg, 0.5, 1.0)
        out = lif_multistep(x, 0.5, 1.0, 0.0, "soft", sg)
        ref = reference(x, 0.5, 1.0, "soft", sg, False)
        got, want = _grads(out, (x,)), _grads(ref, (x,))
        torch.testing.assert_close(got[0], want[0], rtol=1e-10, atol=1e-10)
        assert float(got[0].abs().sum()) > 0
    finally:
        del SURROGATES["test-bump"]


def test_surrogate_names_are_unique():
    with pytest.raises(ValueError, match="'sigmoid' is registered already"):

        class Again(Surrogate, name="sigmoid"):
            pass


@pytest.mark.parametrize("kernel", [True, False], ids=["numba", "torch"])
@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("rate", [False, True])
def test_one_neuron_gets_its_decay_and_threshold_gradients(kernel, static, rate, monkeypatch):
    """A call with a single neuron (M = N * F = 1) computes dL/dk and dL/dth: the kernel is
    told that they are needed, not left to guess it from the size of its output arrays (which
    is 1 either way, and returned uninitialised memory)."""
    if not kernel:
        monkeypatch.setattr(lif_module, "_kernel_applies", lambda *a: False)
    sg = resolve_surrogate("sigmoid")
    values = [0.7, 0.9, 0.2, 1.3, 0.4, 0.8]
    x = torch.tensor([0.7] if static else values, dtype=torch.float64)
    x = x.view(1, 1) if static else x.view(6, 1, 1)
    x.requires_grad_()
    decay = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    th = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    steps = 6 if static else None
    if rate:
        out = lif_rate(x, decay, th, 0.2, "hard", sg, steps=steps)
        ref = reference(x, decay, th, "hard", sg, False, steps)[0].mean(0)
    else:
        out = lif_multistep(x, decay, th, 0.2, "hard", sg, steps=steps)[0]
        ref = reference(x, decay, th, "hard", sg, False, steps)[0]
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    assert float(ref.detach().sum()) > 0  # the neuron fired
    got = torch.autograd.grad(out.sum(), (x, decay, th))
    want = torch.autograd.grad(ref.sum(), (x, decay, th))
    for name, g, w in zip(("x", "decay", "threshold"), got, want):
        assert float(w.abs().sum()) > 0, name
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10, msg=name)


def test_plif_with_one_neuron_gets_the_gradients_of_two_identical_neurons_halved():
    """Module level (PLIF's learnable ``w`` and threshold): one neuron's gradients are half
    those of two neurons with the same input."""
    from spikegraph.nn.neurons.plif import PLIF

    x = torch.tensor([0.7, 0.9, 0.2, 1.3], dtype=torch.float64).view(4, 1, 1)
    grads = []
    for width in (1, 2):
        neuron = PLIF(tau=2.0, learn_threshold=True).double()
        neuron(x.expand(4, 1, width).contiguous()).sum().backward()
        grads.append(torch.stack([neuron.w.grad, neuron.threshold.grad]) / width)
    assert float(grads[1].abs().min()) > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=0)
