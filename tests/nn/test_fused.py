"""The fused STFN + LIF path (spikegraph.nn.fused) equals the plain reference (STFN and its
affine in torch, then the neurons): outputs and gradients, static and time-varying input,
every reset, affine on and off, rates and spike trains, learnable neuron constants; and the
spiking layers take it only where it is exact."""

from __future__ import annotations

import pytest
import torch

from spikegraph.nn import SpikingGCNConv
from spikegraph.nn.fused import _stfn_lif_backward, _stfn_lif_forward, stfn_lif, stfn_lif_reference
from spikegraph.nn.neurons.plif import PLIF

TOL = 1e-10


def _inputs(static: bool, affine: bool, n=7, f=5, t=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (n, f) if static else (t, n, f)
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 2 + 0.3).requires_grad_()
    if not affine:
        return x, None, None
    w = (torch.rand(f, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    b = (torch.randn(f, generator=g, dtype=torch.float64) * 0.3).requires_grad_()
    return x, w, b


def _both(fn_args, kwargs, grad_seed=1):
    """Outputs and gradients of the fused and the reference path for one upstream gradient."""
    out = []
    for fn in (stfn_lif, stfn_lif_reference):
        args = [a.detach().clone().requires_grad_() if torch.is_tensor(a) else a for a in fn_args]
        y = fn(*args, **kwargs)
        g = torch.randn(y.shape, generator=torch.Generator().manual_seed(grad_seed), dtype=y.dtype)
        leaves = [a for a in args if torch.is_tensor(a) and a.requires_grad]
        grads = torch.autograd.grad((y * g).sum(), leaves)
        out.append((y, grads))
    return out


@pytest.mark.parametrize("static", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
@pytest.mark.parametrize("rate", [True, False])
def test_fused_equals_reference(static, affine, reset, rate):
    x, w, b = _inputs(static, affine)
    kwargs = dict(scale=1.3, eps=1e-5, reset=reset, steps=4 if static else None, rate=rate)
    (y, grads), (y_ref, grads_ref) = _both((x, w, b, 0.5, 1.0), kwargs)
    torch.testing.assert_close(y, y_ref, atol=TOL, rtol=0)
    assert float(y.detach().sum()) > 0  # some neurons fired: the comparison is not of zeros
    assert len(grads) == (3 if affine else 1)
    for g, r in zip(grads, grads_ref):
        torch.testing.assert_close(g, r, atol=TOL, rtol=1e-9)
        assert float(g.abs().sum()) > 0


@pytest.mark.parametrize("detach_reset", [True, False])
def test_fused_learnable_constants_and_other_surrogate_equal_reference(detach_reset):
    """Learnable per-feature decay and threshold (PLIF-like), a sigmoid surrogate."""
    from spikegraph.nn.surrogate import Sigmoid

    x, w, b = _inputs(False, True)
    k = torch.full((5,), 0.6, dtype=torch.float64, requires_grad=True)
    th = torch.linspace(0.8, 1.2, 5, dtype=torch.float64).requires_grad_()
    kwargs = dict(scale=1.0, surrogate=Sigmoid(alpha=4.0), detach_reset=detach_reset)
    (y, grads), (y_ref, grads_ref) = _both((x, w, b, k, th), kwargs)
    torch.testing.assert_close(y, y_ref, atol=TOL, rtol=0)
    assert len(grads) == 5
    for g, r in zip(grads, grads_ref):
        torch.testing.assert_close(g, r, atol=TOL, rtol=1e-9)


@pytest.mark.parametrize("rate", [True, False])
def test_fused_one_neuron_gets_its_decay_and_threshold_gradients(rate):
    """One node with one feature (M = 1): the kernel computes dL/dk and dL/dth because it is
    told they are needed (from the size of its output arrays, 1 either way, it returned
    uninitialised memory)."""
    x = torch.tensor([0.7, 0.9, 0.2, 1.3, 0.4, 0.8], dtype=torch.float64).view(6, 1, 1)
    k = torch.tensor([0.6], dtype=torch.float64, requires_grad=True)
    th = torch.tensor([0.9], dtype=torch.float64, requires_grad=True)
    (y, grads), (y_ref, grads_ref) = _both((x, None, None, k, th), dict(scale=1.0, rate=rate))
    torch.testing.assert_close(y, y_ref, atol=TOL, rtol=0)
    assert float(y.detach().sum()) > 0
    assert len(grads) == 3
    for name, g, r in zip(("x", "decay", "threshold"), grads, grads_ref):
        assert float(r.abs().sum()) > 0, name
        torch.testing.assert_close(g, r, atol=TOL, rtol=1e-9, msg=name)


def test_fused_multithreaded_float32_equals_reference():
    """Many nodes (several threads, whole nodes per chunk), float32."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(8000, 12, generator=g).requires_grad_()
    w = (torch.rand(12, generator=g) + 0.5).requires_grad_()
    b = (torch.randn(12, generator=g) * 0.1).requires_grad_()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(2, threads))
    try:
        (y, grads), (y_ref, grads_ref) = _both((x, w, b, 0.5, 1.0), dict(steps=6, rate=True))
    finally:
        torch.set_num_threads(threads)
    # float32: a current within rounding of the threshold may fire on one path only
    assert float((y - y_ref).abs().gt(1e-5).float().mean()) < 1e-3
    for gr, r in zip(grads, grads_ref):
        torch.testing.assert_close(gr, r, atol=1e-2, rtol=1e-3)


def test_fused_custom_ops_pass_opcheck():
    """Schema, fake (meta) shapes and autograd registration of the fused ops agree with the
    kernels (the values are compared with the reference above)."""
    x, w, b = _inputs(True, True, n=3, f=4)
    args = (
        x,
        w,
        b,
        torch.tensor([0.5], dtype=torch.float64),
        torch.tensor([1.0], dtype=torch.float64),
        1.0,
        1e-5,
        4,
        True,
        0.0,
        0,
        True,
        False,
        "rectangular",
        1.0,
    )
    torch.library.opcheck(_stfn_lif_forward, args)
    g = torch.randn(3, 4, dtype=torch.float64)
    torch.library.opcheck(
        _stfn_lif_backward,
        (x.detach(), w.detach(), b.detach(), args[3], args[4], g, *args[5:], False),
    )


def test_stfn_backward_alone_passes_gradcheck():
    """The fused kernel's STFN backward, isolated: with reset "none", no leak, a threshold no
    neuron reaches and a rectangular surrogate wide enough to have the constant derivative
    1e-6 everywhere, the backward of the rates is that of the linear map
    ``1e-6 * mean_t(cumsum_t(STFN(x)))``, which float64 gradcheck verifies against finite
    differences."""
    from spikegraph.nn.surrogate import Rectangular

    x, w, b = _inputs(False, True, n=3, f=4, t=3)
    sur = Rectangular(alpha=1e-6)  # derivative 1e-6 everywhere in [-5e5, 5e5]

    def fused(x, w, b):
        return stfn_lif(x, w, b, 1.0, 1e5, 1.0, 1e-5, reset="none", surrogate=sur, rate=True)

    def linear(x, w, b):  # what the fused backward differentiates: rate ~ 1e-6 * sum_t V_t / T
        from spikegraph.nn.stfn import stfn

        y = torch.addcmul(b, stfn(x, 1.0, 1.0, 1e-5), w)
        v = torch.cumsum(y, dim=0)  # k = 1: V_t = sum of inputs up to t
        return 1e-6 * v.mean(0)

    go = torch.randn(3, 4, dtype=torch.float64)
    got = torch.autograd.grad((fused(x, w, b) * go).sum(), (x, w, b))
    want = torch.autograd.grad((linear(x, w, b) * go).sum(), (x, w, b))
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r, atol=1e-18, rtol=1e-9)
    assert torch.autograd.gradcheck(linear, (x, w, b))


@pytest.mark.parametrize("neuron", [{"tau": 2.0, "reset": "hard"}, {"neuron": PLIF}])
@pytest.mark.parametrize("static", [True, False])
def test_layer_fused_equals_plain_path(neuron, static):
    torch.manual_seed(0)
    conv = SpikingGCNConv(6, 8, T=4, norm="stfn", **neuron).double()
    with torch.no_grad():
        conv.norm.weight.uniform_(0.5, 1.5)
        conv.norm.bias.uniform_(-0.2, 0.2)
    x = torch.randn((6, 6) if static else (4, 6, 6), dtype=torch.float64)
    ei = torch.tensor([[0, 1, 2, 3, 4, 5, 1], [1, 2, 3, 4, 5, 0, 3]])
    results = []
    for fuse in (True, False):
        conv.fuse_norm = fuse
        calls = []
        fused_norm = type(conv.neuron).fused_norm

        def spy(self, *args, calls=calls, fused_norm=fused_norm, **kwargs):
            out = fused_norm(self, *args, **kwargs)
            calls.append(out is not None)
            return out

        conv.neuron.fused_norm = spy.__get__(conv.neuron)
        outs = []
        for rate in (False, True):
            current = conv.current(x, ei)
            out = conv.fire_rate(current) if rate else conv.fire(current)
            grads = torch.autograd.grad(out.sum() + out.square().sum(), list(conv.parameters()))
            outs.append((out, grads))
        del conv.neuron.fused_norm
        # The fused path ran (both calls) only when asked for.
        assert calls == ([True, True] if fuse else [])
        results.append(outs)
    for (o, g), (o_ref, g_ref) in zip(*results):
        torch.testing.assert_close(o, o_ref, atol=TOL, rtol=0)
        for a, r in zip(g, g_ref):
            torch.testing.assert_close(a, r, atol=1e-9, rtol=1e-9)


def test_layer_keeps_the_plain_path_for_observers_of_the_neurons():
    """A forward hook on the neurons (SpikeMonitor, cost counters) still sees their spikes."""
    conv = SpikingGCNConv(6, 8, T=4, norm="stfn", tau=2.0, reset="hard").double()
    x = torch.randn(6, 6, dtype=torch.float64)
    ei = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    seen = []
    hook = conv.neuron.register_forward_hook(lambda m, i, o: seen.append(o))
    out = conv(x, ei)
    hook.remove()
    assert len(seen) == 1 and torch.equal(seen[0], out)


@pytest.mark.parametrize("rate", [False, True])
def test_layer_keeps_the_plain_path_for_observers_of_the_norm(rate):
    """A forward hook on the normalisation sees its input and output, spikes or rates."""
    conv = SpikingGCNConv(6, 8, T=4, norm="stfn", tau=2.0, reset="hard").double()
    x = torch.randn(6, 6, dtype=torch.float64)
    ei = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    seen = []
    hook = conv.norm.register_forward_hook(lambda m, i, o: seen.append((i[0], o)))
    current = conv.current(x, ei)
    out = conv.fire_rate(current) if rate else conv.fire(current)
    hook.remove()
    assert len(seen) == 1
    torch.testing.assert_close(seen[0][0], current)
    expected = conv.neuron(seen[0][1], steps=4)
    torch.testing.assert_close(out, expected.mean(0) if rate else expected)
