r"""Leaky integrate-and-fire (LIF) neurons over time-first input ``[T, N, F]``.

The dynamics are the Euler form used by GC-SNN / GA-SNN (Xu et al., "Exploiting Spiking
Dynamics with Spatial-temporal Feature Normalization in Graph Learning", IJCAI 2021):

.. math::
    V_t = k\, \tilde V_{t-1} + I_t, \qquad
    H_t = \Theta(V_t - V_{th}), \qquad
    \tilde V_t = \mathrm{reset}(V_t, H_t)

with leak factor :math:`k = 1 - 1/\tau` and the reset ``"hard"``
(:math:`\tilde V = V (1 - H) + V_{reset} H`, the paper's choice with :math:`V_{reset}=0`),
``"soft"`` (:math:`\tilde V = V - V_{th} H`) or ``"none"``.

The maths lives in the pure functions :func:`lif_step` and :func:`lif_multistep`;
:class:`LIF` is a thin stateless module around them.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikegraph._validation import check_choice, check_positive
from spikegraph.nn.neurons._lif_options import RESETS, LIFFamily, check_input, check_tau
from spikegraph.nn.neurons.base import CountingRule
from spikegraph.nn.surrogate import SURROGATES, Rectangular, Surrogate

_RESET_CODES = {"hard": 0, "soft": 1, "none": 2}

#: A neuron constant: one float, or a tensor (``[]`` or one value per feature, the last
#: dimension) that may require gradients (learnable time constants and thresholds).
Constant = float | Tensor


def _param_ok(p: Constant, x: Tensor) -> bool:
    """Whether the kernels take the constant ``p``: a float, or a CPU tensor of ``x``'s dtype
    with one value or one per feature."""
    if not isinstance(p, Tensor):
        return True
    return (
        p.device.type == "cpu"
        and p.dtype == x.dtype
        and p.dim() <= 1
        and (p.numel() == 1 or (x.dim() > 0 and p.numel() == x.size(-1)))
    )


def _kernel_applies(
    x: Tensor, v_init: Tensor | None, surrogate: Surrogate, decay: Constant, v_threshold: Constant
) -> bool:
    """Whether the numba CPU kernels can run this call (else the torch implementation): a
    registered surrogate (whose ``formula`` the kernels compile), CPU floats, constants of
    one value or one per feature."""
    name = type(surrogate).name
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and (v_init is None or (v_init.device.type == "cpu" and v_init.dtype == x.dtype))
        and name is not None
        and SURROGATES.get(name) is type(surrogate)
        and _param_ok(decay, x)
        and _param_ok(v_threshold, x)
        and x.numel() > 0
    )


def _as_tensor(p: Constant, x: Tensor) -> Tensor:
    """A constant as a 1-D tensor of ``x``'s dtype (one value or one per feature)."""
    if isinstance(p, Tensor):
        return p.reshape(-1)
    return torch.full((1,), float(p), dtype=x.dtype)


def _constant(p: Constant) -> Constant:
    """A float constant as a float; a tensor unchanged."""
    return p if isinstance(p, Tensor) else float(p)


def _grad_to(grad: Tensor, p: Constant) -> Tensor | None:
    """``grad`` (of the shape of the neurons) summed to the shape of the constant ``p``;
    ``None`` for a float or a tensor without gradient."""
    if not isinstance(p, Tensor) or not p.requires_grad:
        return None
    return grad.sum_to_size(p.shape) if p.dim() else grad.sum()


def lif_step(
    x: Tensor,
    v: Tensor | None,
    decay: float,
    v_threshold: float = 1.0,
    v_reset: float = 0.0,
    reset: str = "hard",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
) -> tuple[Tensor, Tensor]:
    """One LIF update: charge, fire, reset.

    Args:
        x: Input current at this step, any shape.
        v: Membrane potential after the previous reset (``None`` means all zeros).
        decay: Leak factor :math:`k` in ``[0, 1]``.
        v_threshold: Firing threshold :math:`V_{th}`.
        v_reset: Potential after a hard reset.
        reset: ``"hard"``, ``"soft"`` or ``"none"``.
        surrogate: Spike function with a surrogate gradient (rectangular by default).
        detach_reset: Stop gradients through the reset path (the spike used in the reset).

    Returns:
        ``(spike, v)``: the spikes (exactly 0 or 1) and the potential after the reset.
    """
    surrogate = Rectangular() if surrogate is None else surrogate
    v = x if v is None else decay * v + x
    spike = surrogate(v - v_threshold)
    s = spike.detach() if detach_reset else spike
    if reset == "hard":
        v = v * (1.0 - s) + v_reset * s
    elif reset == "soft":
        v = v - v_threshold * s
    elif reset != "none":
        check_choice(reset, RESETS, "reset")
    return spike, v


class _LIFMultistepTorch(torch.autograd.Function):
    r"""Fused multi-step LIF in torch operations, with a hand-written backward pass through time.

    The forward pass records no autograd graph; it keeps the pre-reset potentials
    :math:`V_t` and recomputes everything else in the backward pass, which runs the BPTT
    recursion in reverse:

    .. math::
        \frac{\partial L}{\partial V_t} = \frac{\partial L}{\partial H_t} g'(V_t - V_{th})
        + \frac{\partial L}{\partial \tilde V_t}
          \frac{\partial \tilde V_t}{\partial V_t},\qquad
        \frac{\partial L}{\partial I_t} = \frac{\partial L}{\partial V_t},\qquad
        \frac{\partial L}{\partial \tilde V_{t-1}} = k \frac{\partial L}{\partial V_t}

    and, for a decay or threshold tensor that requires gradients,
    :math:`\partial L/\partial k = \sum_t \partial L/\partial V_t\, \tilde V_{t-1}` and
    :math:`\partial L/\partial V_{th} = \sum_t -\partial L/\partial H_t\, g'_t
    + \partial L/\partial \tilde V_t\, \partial \tilde V_t/\partial V_{th}`.
    """

    @staticmethod
    def forward(ctx, x, v_init, steps, decay, v_threshold, v_reset, reset, surrogate, detach_reset):
        static = steps is not None
        T = steps if static else x.size(0)
        shape = x.shape if static else x.shape[1:]
        spikes = x.new_empty((T, *shape))
        potentials = x.new_empty((T, *shape))
        k = decay.detach() if isinstance(decay, Tensor) else decay
        th = v_threshold.detach() if isinstance(v_threshold, Tensor) else v_threshold
        v = v_init
        for t in range(T):
            xt = x if static else x[t]
            h = xt if v is None else xt + k * v
            fired = h >= th
            s = fired.to(x.dtype)
            potentials[t] = h
            spikes[t] = s
            if reset == "hard":
                v = h.masked_fill(fired, v_reset)
            elif reset == "soft":
                v = h - th * s
            else:
                v = h
        tensors = [t if isinstance(t, Tensor) else None for t in (decay, v_threshold)]
        ctx.save_for_backward(potentials, spikes, v_init, *tensors)
        ctx.static = static
        ctx.has_v_init = v_init is not None
        ctx.params = (decay, v_threshold, v_reset, reset, surrogate, detach_reset)
        return spikes, v

    @staticmethod
    def backward(ctx, grad_spikes, grad_v):
        potentials, spikes, v_init, decay_t, th_t = ctx.saved_tensors
        decay, v_threshold, v_reset, reset, surrogate, detach_reset = ctx.params
        k = decay if decay_t is None else decay_t
        th = v_threshold if th_t is None else th_t
        T = potentials.size(0)
        # Everything that does not depend on the recursion is computed for all steps at once:
        # dL/dV_t = a_t + b_t * dL/dV~_t, with a_t = dL/dH_t g'_t and b_t = dV~_t/dV_t.
        sg = surrogate.derivative(potentials - th)
        a = grad_spikes * sg if grad_spikes is not None else torch.zeros_like(potentials)
        learn_k = isinstance(decay, Tensor) and ctx.needs_input_grad[3]
        learn_th = isinstance(v_threshold, Tensor) and ctx.needs_input_grad[4]
        if learn_th:  # dV~_t/dV_th, before a is overwritten
            if reset == "hard":
                c = None if detach_reset else (potentials - v_reset) * sg
            elif reset == "soft":
                c = -spikes if detach_reset else th * sg - spikes
            else:
                c = None
            grad_th_steps = -a.clone()
        if reset == "hard":
            b = 1.0 - spikes
            if not detach_reset:
                b = b + (v_reset - potentials) * sg
        elif reset == "soft" and not detach_reset:
            b = 1.0 - th * sg
        else:
            b = None  # dV~/dV = 1
        grad_x = a  # overwritten in place, step by step, from the last one back
        g_v = grad_v
        for t in range(T - 1, -1, -1):
            if g_v is not None:
                if learn_th and c is not None:
                    grad_th_steps[t] += g_v * c[t]
                if b is None:
                    grad_x[t] += g_v
                else:
                    grad_x[t].addcmul_(g_v, b[t])
            g_v = grad_x[t] * k
        grad_k = grad_th = None
        if learn_k:  # V~_{t-1}, recomputed from the potentials and spikes
            if reset == "hard":
                post = potentials * (1.0 - spikes) + v_reset * spikes
            elif reset == "soft":
                post = potentials - th * spikes
            else:
                post = potentials
            terms = grad_x[1:] * post[:-1]
            total = terms.sum(dim=0)
            if v_init is not None:
                total = total + grad_x[0] * v_init
            grad_k = _grad_to(total, decay)
        if learn_th:
            grad_th = _grad_to(grad_th_steps.sum(dim=0), v_threshold)
        if ctx.static:
            grad_x = grad_x.sum(dim=0)
        grad_v_init = g_v if ctx.has_v_init else None
        return grad_x, grad_v_init, None, grad_k, grad_th, None, None, None, None


_POOL: ThreadPoolExecutor | None = None
#: Below this many neurons a kernel runs on the calling thread alone.
_MIN_CHUNK = 32768


def _num_chunks(num_neurons: int) -> int:
    """How many threads the kernels share ``num_neurons`` neurons among."""
    return max(1, min(torch.get_num_threads(), num_neurons // _MIN_CHUNK))


def _in_chunks(kernel, num_neurons: int, *args, unit: int = 1, per_chunk: tuple = ()) -> None:
    """Run ``kernel(*args, *rows, lo, hi)`` over disjoint neuron ranges on up to
    ``torch.get_num_threads()`` threads (the kernels release the GIL). Range bounds are
    multiples of ``unit`` (whole nodes for a per-node normalisation); ``rows`` are the
    chunk's rows of the ``per_chunk`` arrays (``[chunks, ...]``, one per thread, for sums
    the kernel accumulates)."""
    global _POOL
    chunks = _num_chunks(num_neurons)
    units = num_neurons // unit
    bounds = [unit * (units * k // chunks) for k in range(chunks + 1)]
    bounds[-1] = num_neurons
    if chunks == 1:
        kernel(*args, *(a[0] for a in per_chunk), 0, num_neurons)
        return
    if _POOL is None or _POOL._max_workers < chunks:
        _POOL = ThreadPoolExecutor(max_workers=chunks, thread_name_prefix="spikegraph-lif")
    futures = [
        _POOL.submit(kernel, *args, *(a[c] for a in per_chunk), lo, hi)
        for c, (lo, hi) in enumerate(itertools.pairwise(bounds))
    ]
    for f in futures:
        f.result()


#: The kernels' normalisation arguments for no normalisation (code, width, lam, gam, scale,
#: eps), and dummy sums of its parameters' gradients.
_NO_NORM = (0, 1, np.ones(1), np.zeros(1), 1.0, 0.0)
_NO_NORM_GRADS = (np.zeros(1), np.zeros(1))


def _np_scalar(dtype: torch.dtype, value: float):
    """``value`` as a numpy scalar of the kernels' dtype (float32 stays float32)."""
    return np.float32(value) if dtype == torch.float32 else np.float64(value)


# The numba kernels are wrapped as torch custom operators: torch.compile (dynamo) then treats
# them as opaque ops with known output shapes (``register_fake``) and a known backward
# (``register_autograd``) instead of tracing into numba code, and they run unchanged in eager.
def _kernel_inputs(
    x: Tensor,
    v_init: Tensor | None,
    decay: Tensor,
    v_threshold: Tensor,
    steps: int,
    static: bool,
    v_reset: float,
    reset: int,
) -> tuple[torch.Size, Tensor, tuple]:
    """What both numba kernels take first: returns the shape of one step, the input as
    ``[T or 1, M]`` (contiguous, detached), and the kernels' leading arguments (input,
    ``static``, ``T``, initial potential or a dummy, whether there is one, the decay and
    threshold arrays, the reset potential as a scalar of the input's dtype, the reset code)."""
    shape = x.shape if static else x.shape[1:]
    x2 = x.detach().contiguous().reshape(1 if static else steps, -1)
    has_v = v_init is not None
    vi = v_init.detach().reshape(-1).contiguous() if has_v else x2.new_empty(1)
    k = decay.detach().reshape(-1).contiguous().numpy()
    th = v_threshold.detach().reshape(-1).contiguous().numpy()
    lead = (x2.numpy(), static, steps, vi.numpy(), has_v, k, th)
    return shape, x2, (*lead, _np_scalar(x.dtype, v_reset), reset)


@torch.library.custom_op("spikegraph::lif_cpu_forward", mutates_args=(), device_types="cpu")
def _lif_cpu_forward(
    x: Tensor,
    v_init: Tensor | None,
    decay: Tensor,
    v_threshold: Tensor,
    steps: int,
    static: bool,
    v_reset: float,
    reset: int,
    rate: bool,
    detach_reset: bool,
    surrogate: str,
    alpha: float,
) -> tuple[Tensor, Tensor]:
    """Multi-step LIF on CPU with the numba kernel :func:`~spikegraph.nn._lif_kernels.lif_forward`.

    ``x`` is ``[T, ...]``, or a static ``[...]`` with ``static=True`` and ``steps`` steps;
    ``decay`` and ``v_threshold`` hold one value or one per feature (``x``'s last dimension).
    Returns the spikes ``[T, ...]`` (with ``rate``: the firing rates ``[...]``) and the final
    potential ``[...]``. ``detach_reset``, ``surrogate`` (a name of
    :data:`~spikegraph.nn.surrogate.SURROGATES`) and ``alpha`` only matter to the backward
    pass.
    """
    from spikegraph.nn import _lif_kernels as K

    shape, x2, lead = _kernel_inputs(x, v_init, decay, v_threshold, steps, static, v_reset, reset)
    M = x2.size(1)
    out = x.new_empty(shape if rate else (steps, *shape))
    v_out = x.new_empty(shape)
    _in_chunks(
        K.lif_forward,
        M,
        *lead,
        rate,
        *_NO_NORM,
        out.view(-1, M).numpy(),
        v_out.view(M).numpy(),
    )
    return out, v_out


@_lif_cpu_forward.register_fake
def _(x, v_init, decay, v_threshold, steps, static, v_reset, reset, rate, *_):
    shape = x.shape if static else x.shape[1:]
    return x.new_empty(shape if rate else (steps, *shape)), x.new_empty(shape)


@torch.library.custom_op("spikegraph::lif_cpu_backward", mutates_args=(), device_types="cpu")
def _lif_cpu_backward(
    x: Tensor,
    v_init: Tensor | None,
    decay: Tensor,
    v_threshold: Tensor,
    grad_out: Tensor | None,
    grad_v: Tensor | None,
    steps: int,
    static: bool,
    v_reset: float,
    reset: int,
    rate: bool,
    detach_reset: bool,
    surrogate: str,
    alpha: float,
    need_params: bool = True,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Backpropagation through time of :func:`_lif_cpu_forward` (the numba kernel of
    :func:`~spikegraph.nn._lif_kernels.backward_kernel` for the surrogate's ``formula``):
    ``(dL/dx, dL/dv_init, dL/ddecay, dL/dv_threshold)``, the latter three of the shape of one
    step (``dL/dv_init`` zeros without ``v_init``; the caller sums the other two to the
    shape of the constants). Without ``need_params`` the last two are not computed (empty)."""
    from spikegraph.nn import _lif_kernels as K

    shape, x2, lead = _kernel_inputs(x, v_init, decay, v_threshold, steps, static, v_reset, reset)
    M = x2.size(1)
    if grad_out is None:
        mode, go = 0, x2.new_zeros(1, 1)
    else:
        mode, go = (2 if rate else 1), grad_out.detach().contiguous().view(-1, M)
    gv = grad_v.detach().contiguous().view(M) if grad_v is not None else x2.new_empty(1)
    grad_x = x2.new_empty(x2.shape)
    grad_v_init = x2.new_zeros(M)
    grad_decay = x2.new_empty(M if need_params else 1)
    grad_th = x2.new_empty(M if need_params else 1)
    _in_chunks(
        K.backward_kernel(SURROGATES[surrogate].formula),
        M,
        *lead,
        detach_reset,
        float(alpha),
        *_NO_NORM,
        go.numpy(),
        mode,
        gv.numpy(),
        grad_v is not None,
        grad_x.numpy(),
        grad_v_init.numpy(),
        grad_decay.numpy(),
        grad_th.numpy(),
        need_params,
        *_NO_NORM_GRADS,
    )
    if not need_params:
        return grad_x.view(x.shape), grad_v_init.view(shape), x.new_empty(0), x.new_empty(0)
    return (
        grad_x.view(x.shape),
        grad_v_init.view(shape),
        grad_decay.view(shape),
        grad_th.view(shape),
    )


@_lif_cpu_backward.register_fake
def _(x, v_init, decay, v_threshold, grad_out, grad_v, steps, static, *rest):
    shape = x.shape if static else x.shape[1:]
    if len(rest) == 7 and not rest[-1]:  # need_params=False
        return x.new_empty(x.shape), x.new_empty(shape), x.new_empty(0), x.new_empty(0)
    return x.new_empty(x.shape), x.new_empty(shape), x.new_empty(shape), x.new_empty(shape)


def _lif_cpu_setup_context(ctx, inputs, output) -> None:
    x, v_init, decay, v_threshold = inputs[:4]
    ctx.save_for_backward(x, v_init, decay, v_threshold)
    ctx.has_v_init = v_init is not None
    ctx.params = inputs[4:]


def _lif_cpu_grad(ctx, grad_out, grad_v):
    x, v_init, decay, v_threshold = ctx.saved_tensors
    need = ctx.needs_input_grad
    grad_x, grad_v_init, grad_k, grad_th = _lif_cpu_backward(
        x, v_init, decay, v_threshold, grad_out, grad_v, *ctx.params, need[2] or need[3]
    )
    grad_k = _sum_to(grad_k, decay) if need[2] else None
    grad_th = _sum_to(grad_th, v_threshold) if need[3] else None
    return (grad_x, grad_v_init if ctx.has_v_init else None, grad_k, grad_th) + (None,) * 8


def _sum_to(grad: Tensor, p: Tensor) -> Tensor:
    """Per-neuron gradients ``[..., C]`` summed to a constant of ``C`` values or one."""
    return grad.reshape(-1, p.numel()).sum(dim=0).view(p.shape)


_lif_cpu_forward.register_autograd(_lif_cpu_grad, setup_context=_lif_cpu_setup_context)


def _lif_cpu(
    x: Tensor,
    v_init: Tensor | None,
    steps: int | None,
    decay: Constant,
    v_threshold: Constant,
    v_reset: float,
    reset: str,
    surrogate: Surrogate,
    detach_reset: bool,
    rate: bool,
) -> tuple[Tensor, Tensor]:
    """The numba kernels' LIF (:func:`_lif_cpu_forward`) with the arguments of
    :class:`_LIFMultistepTorch`, plus ``rate``: firing rates instead of spike trains."""
    static = steps is not None
    return _lif_cpu_forward(
        x,
        v_init,
        _as_tensor(decay, x),
        _as_tensor(v_threshold, x),
        steps if static else x.size(0),
        static,
        float(v_reset),
        _RESET_CODES[reset],
        rate,
        bool(detach_reset),
        type(surrogate).name,
        float(surrogate.alpha),
    )


def lif_multistep(
    x: Tensor,
    decay: Constant,
    v_threshold: Constant = 1.0,
    v_reset: float = 0.0,
    reset: str = "hard",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
    v_init: Tensor | None = None,
    steps: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Run the LIF dynamics of :func:`lif_step` over all time steps at once.

    Computes exactly what a loop of :func:`lif_step` computes, values and gradients, with a
    fused forward pass and a hand-written backward pass through time (no per-step autograd
    graph, no copies of a static input).

    Args:
        x: Input current ``[T, ...]``, or, when ``steps`` is given, one current that is the
            same at every step.
        decay: Leak factor :math:`k`: a float, or a tensor of one value or one per feature
            (the last dimension of ``x``) that may require gradients.
        v_threshold: Firing threshold, of the same kinds as ``decay``.
        v_reset: Potential after a hard reset.
        reset: ``"hard"``, ``"soft"`` or ``"none"``.
        surrogate: Spike function (rectangular by default).
        detach_reset: Stop gradients through the reset path.
        v_init: Initial potential (zeros when ``None``).
        steps: Number of steps for a static ``x``.

    Returns:
        ``(spikes, v)``: spikes ``[T, ...]`` (exactly 0 or 1) and the final potential.
    """
    check_input(x, reset, steps)
    surrogate = Rectangular() if surrogate is None else surrogate
    if _kernel_applies(x, v_init, surrogate, decay, v_threshold):
        return _lif_cpu(
            x,
            v_init,
            steps,
            decay,
            v_threshold,
            float(v_reset),
            reset,
            surrogate,
            bool(detach_reset),
            False,
        )
    return _LIFMultistepTorch.apply(
        x,
        v_init,
        steps,
        _constant(decay),
        _constant(v_threshold),
        float(v_reset),
        reset,
        surrogate,
        bool(detach_reset),
    )


def lif_rate(
    x: Tensor,
    decay: Constant,
    v_threshold: Constant = 1.0,
    v_reset: float = 0.0,
    reset: str = "hard",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
    steps: int | None = None,
) -> Tensor:
    """Firing rates of LIF neurons: ``lif_multistep(...)[0].mean(0)``, values and gradients.

    On CPU the spike trains are never materialised: each neuron's count is accumulated in the
    kernel, and the backward pass feeds ``dL/drate / T`` to every step. This is what a linear
    layer that averages its input over time needs (the membrane read-out of a spiking GCN).

    Args:
        x: Input current ``[T, ...]``, or a static current with ``steps``.
        decay: Leak factor :math:`k`: a float, or a tensor of one value or one per feature
            (the last dimension of ``x``) that may require gradients.
        v_threshold: Firing threshold, of the same kinds as ``decay``.
        v_reset: Potential after a hard reset.
        reset: ``"hard"``, ``"soft"`` or ``"none"``.
        surrogate: Spike function (rectangular by default).
        detach_reset: Stop gradients through the reset path.
        steps: Number of steps for a static ``x``.

    Returns:
        Rates of the shape of one time step of ``x``, in ``{0, 1/T, ..., 1}``.
    """
    check_input(x, reset, steps)
    surrogate = Rectangular() if surrogate is None else surrogate
    if _kernel_applies(x, None, surrogate, decay, v_threshold):
        rate, _ = _lif_cpu(
            x,
            None,
            steps,
            decay,
            v_threshold,
            float(v_reset),
            reset,
            surrogate,
            bool(detach_reset),
            True,
        )
        return rate
    spikes, _ = lif_multistep(
        x, decay, v_threshold, v_reset, reset, surrogate, detach_reset, steps=steps
    )
    return spikes.mean(dim=0)


class LIF(LIFFamily, name="lif"):
    r"""Multi-step leaky integrate-and-fire neuron (GC-SNN / GA-SNN, Xu et al., IJCAI 2021).

    Stateless across calls: every forward starts from :math:`V = 0` and runs all ``T`` steps of
    its input, which is what node classification with a fixed window needs.

    .. math::
        V_t = (1 - 1/\tau)\, \tilde V_{t-1} + I_t,\quad H_t = \Theta(V_t - V_{th})

    Args:
        tau: Membrane time constant, :math:`\tau \ge 1`; the leak factor is
            :math:`k = 1 - 1/\tau` (``tau=2`` gives the decay 0.5 of the STBP code,
            ``tau=float("inf")`` an integrate-and-fire neuron).
        v_threshold: Firing threshold :math:`V_{th}`.
        **options: The options of the LIF family
            (:class:`~spikegraph.nn.neurons._lif_options.LIFFamily`): ``v_reset``,
            ``reset`` (``"hard"``, the paper's, by default; ``"soft"`` subtracts the
            threshold; ``"none"``), ``surrogate`` (a registered name such as
            ``"rectangular"``, ``"sigmoid"``, ``"arctan"``, ``"triangle"``, or an instance),
            ``surrogate_alpha``, ``detach_reset``.

    Shapes:
        - **input:** current :math:`(T, *)`, or static :math:`(*)` with ``steps=T``
        - **output:** spikes :math:`(T, *)` with values in :math:`\{0, 1\}`
    """

    def __init__(self, tau: float = 2.0, v_threshold: float = 1.0, **options: Any) -> None:
        super().__init__(**options)
        self.tau = check_tau(tau)
        self.v_threshold = float(check_positive(v_threshold, "v_threshold"))

    @property
    def decay(self) -> float:
        """Leak factor :math:`k = 1 - 1/\\tau`."""
        return 1.0 - 1.0 / self.tau

    def multistep(self, x: Tensor, steps: int | None = None) -> Tensor:
        """Integrate ``x`` and return spikes.

        Args:
            x: Current ``[T, *]``, or a static current ``[*]`` when ``steps`` is given.
            steps: Number of time steps of a static current.

        Returns:
            Spikes ``[T, *]``.
        """
        spikes, _ = lif_multistep(
            x, self.decay, self.v_threshold, steps=steps, **self.reset_options()
        )
        return spikes

    def rate(self, x: Tensor, steps: int | None = None) -> Tensor:
        """Firing rates ``forward(x, steps).mean(0)``, without the spike trains (see
        :func:`lif_rate`)."""
        return lif_rate(x, self.decay, self.v_threshold, steps=steps, **self.reset_options())

    def fused_norm(
        self, x: Tensor, norm: torch.nn.Module, steps: int | None = None, rate: bool = False
    ) -> Tensor | None:
        """STFN and these neurons in one pass (:func:`spikegraph.nn.fused.stfn_lif`);
        ``None`` for another normalisation."""
        from spikegraph.nn.fused import fused_stfn_neuron

        return fused_stfn_neuron(self, x, norm, self.decay, self.v_threshold, steps, rate)

    def summary(self) -> str:
        """The layer repr's part (the default neuron: not named)."""
        return (
            f"tau={self.tau}, v_threshold={self.v_threshold}, reset={self.reset!r}, "
            f"surrogate={type(self.surrogate).__name__}"
        )

    def counting_rule(self) -> CountingRule:
        """One charge (an AC for ``tau=inf``), one comparison, one AC per reset spike."""
        return CountingRule(decay=self.decay, reset=self.reset)

    def extra_repr(self) -> str:
        return (
            f"tau={self.tau}, v_threshold={self.v_threshold}, reset={self.reset!r}, "
            f"detach_reset={self.detach_reset}"
        )
