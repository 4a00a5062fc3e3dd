r"""STFN fused with LIF neurons: the normalisation of Xu et al. (IJCAI 2021) computed inside
the numba LIF kernels (:mod:`spikegraph.nn._lif_kernels`).

:func:`stfn_lif` returns exactly what ``lif_multistep(STFN(x))`` (or ``lif_rate``) returns,
values and gradients, without the normalised ``[T, N, F]`` (or ``[N, F]``) current ever being
written: the kernels take whole nodes, compute each node's mean and variance over its
features and time steps on the block in cache, normalise, apply the per-feature affine and
run the neurons; the backward pass recomputes the block, runs backpropagation through time
and then STFN's backward on the block,

.. math::
    \frac{\partial L}{\partial x} = r\Big(u - \overline{u} - \hat x\,\overline{u\hat x}\Big),
    \qquad u = \frac{\partial L}{\partial y}\,\rho V_{th}\lambda,\quad
    \hat x = (x - \mu) r,\quad r = (\sigma^2 + \epsilon)^{-1/2}

with the means over the node's features and steps. Where the kernels do not apply (another
device or dtype, an unregistered surrogate), the plain path runs: :func:`~spikegraph.nn.stfn.
stfn` and the affine in torch, then the neurons.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikegraph.nn.neurons.lif import (
    _RESET_CODES,
    Constant,
    _as_tensor,
    _in_chunks,
    _kernel_applies,
    _kernel_inputs,
    _num_chunks,
    _param_ok,
    _sum_to,
    lif_multistep,
    lif_rate,
)
from spikegraph.nn.stfn import STFN, stfn
from spikegraph.nn.surrogate import SURROGATES, Rectangular, Surrogate


def _affine_arrays(weight: Tensor | None, bias: Tensor | None, x: Tensor):
    """The affine's scale and shift as numpy arrays (ones and zeros without affine)."""
    lam = weight.detach().contiguous() if weight is not None else x.new_ones(1)
    gam = bias.detach().contiguous() if bias is not None else x.new_zeros(1)
    return lam, gam


@torch.library.custom_op("spikegraph::stfn_lif_cpu_forward", mutates_args=(), device_types="cpu")
def _stfn_lif_forward(
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    decay: Tensor,
    v_threshold: Tensor,
    scale: float,
    eps: float,
    steps: int,
    static: bool,
    v_reset: float,
    reset: int,
    rate: bool,
    detach_reset: bool,
    surrogate: str,
    alpha: float,
) -> Tensor:
    """STFN (scale ``scale`` = :math:`\\rho V_{th}`, affine ``weight``, ``bias``) then LIF, on
    CPU in the numba kernels: spikes ``[T, N, F]`` (with ``rate``: rates ``[N, F]``) for a
    current ``[T, N, F]`` or a static ``[N, F]``."""
    from spikegraph.nn import _lif_kernels as K

    shape, x2, lead = _kernel_inputs(x, None, decay, v_threshold, steps, static, v_reset, reset)
    M, width = x2.size(1), x.size(-1)
    lam, gam = _affine_arrays(weight, bias, x)
    out = x.new_empty(shape if rate else (steps, *shape))
    _in_chunks(
        K.lif_forward,
        M,
        *lead,
        rate,
        K.NORM_STFN,
        width,
        lam.numpy(),
        gam.numpy(),
        float(scale),
        float(eps),
        out.view(-1, M).numpy(),
        x2.new_empty(M).numpy(),
        unit=width,
    )
    return out


@_stfn_lif_forward.register_fake
def _(x, weight, bias, decay, v_threshold, scale, eps, steps, static, v_reset, reset, rate, *_):
    shape = x.shape if static else x.shape[1:]
    return x.new_empty(shape if rate else (steps, *shape))


@torch.library.custom_op("spikegraph::stfn_lif_cpu_backward", mutates_args=(), device_types="cpu")
def _stfn_lif_backward(
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    decay: Tensor,
    v_threshold: Tensor,
    grad_out: Tensor,
    scale: float,
    eps: float,
    steps: int,
    static: bool,
    v_reset: float,
    reset: int,
    rate: bool,
    detach_reset: bool,
    surrogate: str,
    alpha: float,
    need_params: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Backward pass of :func:`_stfn_lif_forward`: ``(dL/dx, dL/dweight, dL/dbias,
    dL/ddecay, dL/dv_threshold)``; the affine's gradients of the shape of ``weight``
    (``[1]`` without affine), the neurons' per neuron (empty without ``need_params``)."""
    from spikegraph.nn import _lif_kernels as K

    shape, x2, lead = _kernel_inputs(x, None, decay, v_threshold, steps, static, v_reset, reset)
    M, width = x2.size(1), x.size(-1)
    lam, gam = _affine_arrays(weight, bias, x)
    go = grad_out.detach().contiguous().view(-1, M)
    grad_x = x2.new_empty(x2.shape)
    chunks = _num_chunks(M)
    grad_lam = torch.zeros(chunks, lam.numel(), dtype=torch.float64)
    grad_gam = torch.zeros(chunks, gam.numel(), dtype=torch.float64)
    grad_decay = x2.new_empty(M if need_params else 1)
    grad_th = x2.new_empty(M if need_params else 1)
    _in_chunks(
        K.backward_kernel(SURROGATES[surrogate].formula),
        M,
        *lead,
        detach_reset,
        float(alpha),
        K.NORM_STFN,
        width,
        lam.numpy(),
        gam.numpy(),
        float(scale),
        float(eps),
        go.numpy(),
        2 if rate else 1,
        x2.new_empty(1).numpy(),
        False,
        grad_x.numpy(),
        x2.new_empty(M).numpy(),
        grad_decay.numpy(),
        grad_th.numpy(),
        need_params,
        unit=width,
        per_chunk=(grad_lam.numpy(), grad_gam.numpy()),
    )
    gl = grad_lam.sum(0).to(x.dtype)
    gg = grad_gam.sum(0).to(x.dtype)
    if not need_params:
        return grad_x.view(x.shape), gl, gg, x.new_empty(0), x.new_empty(0)
    return grad_x.view(x.shape), gl, gg, grad_decay.view(shape), grad_th.view(shape)


@_stfn_lif_backward.register_fake
def _(x, weight, bias, decay, v_threshold, grad_out, scale, eps, steps, static, *rest):
    shape = x.shape if static else x.shape[1:]
    n = (weight.numel() if weight is not None else 1,)
    m = (bias.numel() if bias is not None else 1,)
    params = shape if rest[-1] else (0,)
    return (
        x.new_empty(x.shape),
        x.new_empty(n),
        x.new_empty(m),
        x.new_empty(params),
        x.new_empty(params),
    )


def _setup_context(ctx, inputs, output) -> None:
    x, weight, bias, decay, v_threshold = inputs[:5]
    ctx.save_for_backward(x, weight, bias, decay, v_threshold)
    ctx.params = inputs[5:]


def _grad(ctx, grad_out):
    x, weight, bias, decay, v_threshold = ctx.saved_tensors
    need = ctx.needs_input_grad
    grad_x, gl, gg, grad_k, grad_th = _stfn_lif_backward(
        x, weight, bias, decay, v_threshold, grad_out, *ctx.params, need[3] or need[4]
    )
    return (
        grad_x,
        gl.view(weight.shape) if need[1] else None,
        gg.view(bias.shape) if need[2] else None,
        _sum_to(grad_k, decay) if need[3] else None,
        _sum_to(grad_th, v_threshold) if need[4] else None,
    ) + (None,) * 10


_stfn_lif_forward.register_autograd(_grad, setup_context=_setup_context)


def stfn_lif(
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    decay: Constant,
    v_threshold: Constant = 1.0,
    scale: float = 1.0,
    eps: float = 1e-5,
    v_reset: float = 0.0,
    reset: str = "hard",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
    steps: int | None = None,
    rate: bool = False,
) -> Tensor:
    r"""LIF neurons fed by STFN: ``lif_multistep(stfn(x, scale) * weight + bias)[0]`` (or
    with ``rate``, the firing rates ``lif_rate(...)``), values and gradients, fused on CPU.

    Args:
        x: Synaptic current ``[T, N, F]``, or a static ``[N, F]`` with ``steps``.
        weight: STFN's per-feature scale :math:`\lambda` ``[F]``, or ``None`` (no affine).
        bias: STFN's per-feature shift :math:`\gamma` ``[F]``, or ``None``.
        decay: Leak factor :math:`k` (float, or tensor of one value or one per feature).
        v_threshold: Firing threshold, of the same kinds as ``decay``.
        scale: STFN's scale :math:`\rho V_{th}`.
        eps: Added to the variance.
        v_reset: Potential after a hard reset.
        reset: ``"hard"``, ``"soft"`` or ``"none"``.
        surrogate: Spike function (rectangular by default).
        detach_reset: Stop gradients through the reset path.
        steps: Number of steps for a static ``x``.
        rate: Return the firing rates ``[N, F]`` instead of the spikes ``[T, N, F]``.

    Returns:
        Spikes ``[T, N, F]`` or rates ``[N, F]``.
    """
    surrogate = Rectangular() if surrogate is None else surrogate
    static = steps is not None
    if _fused_applies(x, weight, bias, surrogate, decay, v_threshold, static):
        return _stfn_lif_forward(
            x,
            weight,
            bias,
            _as_tensor(decay, x),
            _as_tensor(v_threshold, x),
            float(scale),
            float(eps),
            steps if static else x.size(0),
            static,
            float(v_reset),
            _RESET_CODES[reset],
            bool(rate),
            bool(detach_reset),
            type(surrogate).name,
            float(surrogate.alpha),
        )
    return stfn_lif_reference(
        x,
        weight,
        bias,
        decay,
        v_threshold,
        scale,
        eps,
        v_reset,
        reset,
        surrogate,
        detach_reset,
        steps,
        rate,
    )


def stfn_lif_reference(
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    decay: Constant,
    v_threshold: Constant = 1.0,
    scale: float = 1.0,
    eps: float = 1e-5,
    v_reset: float = 0.0,
    reset: str = "hard",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
    steps: int | None = None,
    rate: bool = False,
) -> Tensor:
    """The plain path of :func:`stfn_lif`: STFN and its affine in torch, then the neurons."""
    y = stfn(x, 1.0, scale, eps)
    if weight is not None and bias is not None:
        y = torch.addcmul(bias, y, weight)  # as the STFN module
    elif weight is not None:
        y = y * weight
    elif bias is not None:
        y = y + bias
    args = (decay, v_threshold, v_reset, reset, surrogate, detach_reset)
    if rate:
        return lif_rate(y, *args, steps=steps)
    return lif_multistep(y, *args, steps=steps)[0]


def _fused_applies(x, weight, bias, surrogate, decay, v_threshold, static: bool) -> bool:
    """Whether the fused kernels run this call: the LIF kernels' conditions, a current
    ``[N, F]`` (static) or ``[T, N, F]`` with ``T >= 1``, and affine parameters of ``F``
    values in ``x``'s dtype on CPU."""
    if x.dim() != (2 if static else 3) or (not static and x.size(0) < 1):
        return False
    width = x.size(-1)
    for p in (weight, bias):
        if p is not None and not (_param_ok(p, x) and p.dim() == 1 and p.numel() == width):
            return False
    return _kernel_applies(x, None, surrogate, decay, v_threshold) and width > 0


def fused_stfn_neuron(
    neuron, x: Tensor, norm, decay: Constant, v_threshold: Constant, steps, rate: bool
) -> Tensor | None:
    """:func:`stfn_lif` for a LIF-family ``neuron`` (its reset options) behind the STFN module
    ``norm`` (exactly :class:`~spikegraph.nn.stfn.STFN`, not a subclass that may change its
    forward); ``None`` for any other normalisation."""
    if type(norm) is not STFN:
        return None
    return stfn_lif(
        x,
        norm.weight,
        norm.bias,
        decay,
        v_threshold,
        norm.rho * norm.v_threshold,
        norm.eps,
        steps=steps,
        rate=rate,
        **neuron.reset_options(),
    )
