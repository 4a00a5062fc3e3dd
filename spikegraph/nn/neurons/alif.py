r"""Adaptive LIF (ALIF): LIF neurons whose threshold rises after each spike and relaxes back,
from Bellec et al., "Long short-term memory and learning-to-learn in networks of spiking
neurons" (NeurIPS 2018).

.. math::
    V_t = k\, \tilde V_{t-1} + I_t,\qquad
    A_t = b_0 + \beta\, b_t,\qquad
    H_t = \Theta(V_t - A_t),\qquad
    b_{t+1} = \rho\, b_t + (1 - \rho)\, H_t

with :math:`b_0` the baseline threshold, :math:`b_1 = 0`, leak :math:`k = 1 - 1/\tau`,
adaptation decay :math:`\rho = 1 - 1/\tau_a`, and the reset of
:mod:`~spikegraph.nn.neurons.lif` against the current threshold :math:`A_t` (soft: subtract
it).

:func:`alif_multistep` and :func:`alif_rate` run the numba kernels of
:mod:`spikegraph.nn._alif_kernels` on CPU (forward and backpropagation through time in one
pass each, registered as torch custom operators so that ``torch.compile`` and ``opcheck``
see them as opaque ops), and otherwise the reference, :func:`alif_multistep_reference`: the
loop of :func:`alif_step` under autograd. Tests compare both, values and gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikegraph._validation import check_positive
from spikegraph.nn.neurons._lif_options import LIFFamily, check_input, check_tau
from spikegraph.nn.neurons.base import CountingRule
from spikegraph.nn.neurons.lif import _RESET_CODES, _in_chunks
from spikegraph.nn.surrogate import SURROGATES, Surrogate, resolve_surrogate


def alif_step(
    x: Tensor,
    v: Tensor | None,
    b: Tensor | None,
    decay: float | Tensor,
    v_threshold: float | Tensor,
    beta: float,
    rho: float,
    v_reset: float = 0.0,
    reset: str = "soft",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """One ALIF update: charge, fire against the adaptive threshold, reset, adapt.

    Args:
        x: Input current at this step.
        v: Potential after the previous reset (``None``: zeros).
        b: Adaptation variable :math:`b_t` (``None``: zeros).
        decay: Leak factor :math:`k`.
        v_threshold: Baseline threshold :math:`b_0`.
        beta: Adaptation strength :math:`\\beta`.
        rho: Adaptation decay :math:`\\rho`.
        v_reset: Potential after a hard reset.
        reset: ``"hard"``, ``"soft"`` or ``"none"``.
        surrogate: Spike function (rectangular by default).
        detach_reset: Stop gradients through the reset path.

    Returns:
        ``(spike, v, b)`` after this step.
    """
    surrogate = resolve_surrogate("rectangular") if surrogate is None else surrogate
    v = x if v is None else decay * v + x
    threshold = v_threshold if b is None else v_threshold + beta * b
    spike = surrogate(v - threshold)
    s = spike.detach() if detach_reset else spike
    if reset == "hard":
        v = v * (1.0 - s) + v_reset * s
    elif reset == "soft":
        v = v - threshold * s
    b = (1.0 - rho) * spike if b is None else rho * b + (1.0 - rho) * spike
    return spike, v, b


def alif_multistep_reference(
    x: Tensor,
    decay: float | Tensor,
    v_threshold: float | Tensor,
    beta: float,
    rho: float,
    v_reset: float = 0.0,
    reset: str = "soft",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
    steps: int | None = None,
) -> Tensor:
    """Spikes ``[T, *]`` of :func:`alif_step` over all steps of ``x`` ``[T, *]``, or of a
    static ``x`` fed at each of ``steps`` steps: the loop under autograd (the reference of
    the kernels; any device, dtype, surrogate and tensor constants)."""
    check_input(x, reset, steps)
    v = b = None
    out = []
    for t in range(steps if steps is not None else x.size(0)):
        xt = x if steps is not None else x[t]
        s, v, b = alif_step(
            xt, v, b, decay, v_threshold, beta, rho, v_reset, reset, surrogate, detach_reset
        )
        out.append(s)
    return torch.stack(out)


def _kernel_applies(x: Tensor, surrogate: Surrogate, *constants: Any) -> bool:
    """Whether the numba kernels run this call: CPU floats, a registered surrogate (whose
    ``formula`` they compile), constants that are numbers (tensor constants, e.g. learnt
    ones, take the reference)."""
    name = type(surrogate).name
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and x.numel() > 0
        and name is not None
        and SURROGATES.get(name) is type(surrogate)
        and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in constants)
    )


def _constants(x: Tensor, decay, v_threshold, beta, rho, v_reset) -> np.ndarray:
    """The kernels' constants array (see :data:`spikegraph.nn._alif_kernels.K`) in ``x``'s
    dtype; ``1 - rho`` computed in double first, as the reference's ``(1.0 - rho) * spike``."""
    dtype = np.float32 if x.dtype == torch.float32 else np.float64
    return np.array([decay, v_threshold, beta, rho, 1.0 - rho, v_reset], dtype=dtype)


def _as_rows(x: Tensor, static: bool, steps: int) -> Tensor:
    """``x`` as ``[1 or T, M]``, contiguous and detached."""
    return x.detach().contiguous().reshape(1 if static else steps, -1)


@torch.library.custom_op("spikegraph::alif_cpu_forward", mutates_args=(), device_types="cpu")
def _alif_cpu_forward(
    x: Tensor,
    steps: int,
    static: bool,
    decay: float,
    v_threshold: float,
    beta: float,
    rho: float,
    v_reset: float,
    reset: int,
    rate: bool,
    detach_reset: bool,
    surrogate: str,
    alpha: float,
) -> Tensor:
    """Multi-step ALIF on CPU with the numba kernel
    :func:`~spikegraph.nn._alif_kernels.alif_forward`: spikes ``[T, ...]`` (with ``rate``,
    the firing rates ``[...]``) for ``x`` ``[T, ...]`` or a static ``[...]`` (``static``,
    ``steps`` steps). ``detach_reset``, ``surrogate`` (a name of
    :data:`~spikegraph.nn.surrogate.SURROGATES`) and ``alpha`` only matter to the backward
    pass."""
    from spikegraph.nn import _alif_kernels as K

    shape = x.shape if static else x.shape[1:]
    x2 = _as_rows(x, static, steps)
    M = x2.size(1)
    c = _constants(x, decay, v_threshold, beta, rho, v_reset)
    out = x.new_empty(shape if rate else (steps, *shape))
    _in_chunks(
        K.alif_forward, M, x2.numpy(), static, steps, c, reset, rate, out.view(-1, M).numpy()
    )
    return out


@_alif_cpu_forward.register_fake
def _(x, steps, static, decay, v_threshold, beta, rho, v_reset, reset, rate, *_):
    shape = x.shape if static else x.shape[1:]
    return x.new_empty(shape if rate else (steps, *shape))


@torch.library.custom_op("spikegraph::alif_cpu_backward", mutates_args=(), device_types="cpu")
def _alif_cpu_backward(
    x: Tensor,
    grad_out: Tensor,
    steps: int,
    static: bool,
    decay: float,
    v_threshold: float,
    beta: float,
    rho: float,
    v_reset: float,
    reset: int,
    rate: bool,
    detach_reset: bool,
    surrogate: str,
    alpha: float,
) -> Tensor:
    """Backpropagation through time of :func:`_alif_cpu_forward` (the numba kernel of
    :func:`~spikegraph.nn._alif_kernels.backward_kernel` for the surrogate's ``formula``):
    dL/dx for the gradient ``grad_out`` of the spikes (or rates)."""
    from spikegraph.nn import _alif_kernels as K

    x2 = _as_rows(x, static, steps)
    M = x2.size(1)
    c = _constants(x, decay, v_threshold, beta, rho, v_reset)
    go = grad_out.detach().contiguous().view(-1, M)
    grad_x = x2.new_empty(x2.shape)
    _in_chunks(
        K.backward_kernel(SURROGATES[surrogate].formula),
        M,
        x2.numpy(),
        static,
        steps,
        c,
        reset,
        detach_reset,
        float(alpha),
        go.numpy(),
        2 if rate else 1,
        grad_x.numpy(),
    )
    return grad_x.view(x.shape)


@_alif_cpu_backward.register_fake
def _(x, *_):
    return x.new_empty(x.shape)


def _alif_setup_context(ctx, inputs, output) -> None:
    ctx.save_for_backward(inputs[0])
    ctx.params = inputs[1:]


def _alif_grad(ctx, grad_out):
    (x,) = ctx.saved_tensors
    return (_alif_cpu_backward(x, grad_out, *ctx.params),) + (None,) * 12


_alif_cpu_forward.register_autograd(_alif_grad, setup_context=_alif_setup_context)


def _alif_cpu(x, steps, decay, v_threshold, beta, rho, v_reset, reset, surrogate, detach, rate):
    """The kernels' ALIF (:func:`_alif_cpu_forward`) with the arguments of
    :func:`alif_multistep`, plus ``rate``."""
    static = steps is not None
    return _alif_cpu_forward(
        x,
        steps if static else x.size(0),
        static,
        float(decay),
        float(v_threshold),
        float(beta),
        float(rho),
        float(v_reset),
        _RESET_CODES[reset],
        rate,
        bool(detach),
        type(surrogate).name,
        float(surrogate.alpha),
    )


def alif_multistep(
    x: Tensor,
    decay: float | Tensor,
    v_threshold: float | Tensor,
    beta: float,
    rho: float,
    v_reset: float = 0.0,
    reset: str = "soft",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
    steps: int | None = None,
) -> Tensor:
    """Spikes ``[T, *]`` of :func:`alif_step` over all steps of ``x`` ``[T, *]``, or of a
    static ``x`` fed at each of ``steps`` steps: exactly what
    :func:`alif_multistep_reference` computes, values and gradients, in the numba kernels
    where they apply (CPU floats, a registered surrogate, number constants)."""
    check_input(x, reset, steps)
    surrogate = resolve_surrogate("rectangular") if surrogate is None else surrogate
    if _kernel_applies(x, surrogate, decay, v_threshold, beta, rho, v_reset):
        args = (decay, v_threshold, beta, rho, v_reset, reset, surrogate, detach_reset)
        return _alif_cpu(x, steps, *args, False)
    return alif_multistep_reference(
        x, decay, v_threshold, beta, rho, v_reset, reset, surrogate, detach_reset, steps
    )


def alif_rate(
    x: Tensor,
    decay: float | Tensor,
    v_threshold: float | Tensor,
    beta: float,
    rho: float,
    v_reset: float = 0.0,
    reset: str = "soft",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
    steps: int | None = None,
) -> Tensor:
    """Firing rates ``alif_multistep(...).mean(0)``, values and gradients; in the kernels the
    spike trains are never written (each neuron's count is kept in the kernel, and the
    backward pass feeds ``dL/drate / T`` to every step)."""
    check_input(x, reset, steps)
    surrogate = resolve_surrogate("rectangular") if surrogate is None else surrogate
    if _kernel_applies(x, surrogate, decay, v_threshold, beta, rho, v_reset):
        args = (decay, v_threshold, beta, rho, v_reset, reset, surrogate, detach_reset)
        return _alif_cpu(x, steps, *args, True)
    return alif_multistep_reference(
        x, decay, v_threshold, beta, rho, v_reset, reset, surrogate, detach_reset, steps
    ).mean(dim=0)


class ALIF(LIFFamily, name="alif"):
    r"""Adaptive-threshold LIF neuron (Bellec et al., NeurIPS 2018).

    .. math::
        A_t = b_0 + \beta b_t,\quad b_{t+1} = \rho b_t + (1 - \rho) H_t

    Args:
        tau: Membrane time constant, :math:`\tau \ge 1` (``inf``: no leak).
        v_threshold: Baseline threshold :math:`b_0`.
        reset: ``"soft"`` (default, subtract the current threshold, as Bellec et al.),
            ``"hard"`` or ``"none"``.
        tau_adapt: Time constant of the adaptation, :math:`\rho = 1 - 1/\tau_a`.
        beta: Adaptation strength :math:`\beta \ge 0` (0: a LIF neuron).
        **options: The LIF family's other options
            (:class:`~spikegraph.nn.neurons._lif_options.LIFFamily`: ``v_reset``,
            ``surrogate``, ``surrogate_alpha``, ``detach_reset``).

    Shapes:
        - **input:** current :math:`(T, *)`, or static :math:`(*)` with ``steps=T``
        - **output:** spikes :math:`(T, *)` with values in :math:`\{0, 1\}`
    """

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        reset: str = "soft",
        tau_adapt: float = 4.0,
        beta: float = 0.5,
        **options: Any,
    ) -> None:
        super().__init__(reset=reset, **options)
        if not isinstance(tau_adapt, (int, float)) or not tau_adapt >= 1.0:
            raise ValueError(f"'tau_adapt' must be a number >= 1, got {tau_adapt!r}")
        if not isinstance(beta, (int, float)) or not beta >= 0.0:
            raise ValueError(f"'beta' must be a number >= 0, got {beta!r}")
        self.tau = check_tau(tau)
        self.tau_adapt = float(tau_adapt)
        self.beta = float(beta)
        self.v_threshold = float(check_positive(v_threshold, "v_threshold"))

    @property
    def decay(self) -> float:
        """Leak factor :math:`k = 1 - 1/\\tau`."""
        return 1.0 - 1.0 / self.tau

    @property
    def rho(self) -> float:
        """Adaptation decay :math:`\\rho = 1 - 1/\\tau_a`."""
        return 1.0 - 1.0 / self.tau_adapt

    def multistep(self, x: Tensor, steps: int | None = None) -> Tensor:
        """Spikes ``[T, *]`` for a current ``[T, *]`` or a static ``[*]`` with ``steps``."""
        return alif_multistep(
            x,
            self.decay,
            self.v_threshold,
            self.beta,
            self.rho,
            steps=steps,
            **self.reset_options(),
        )

    def rate(self, x: Tensor, steps: int | None = None) -> Tensor:
        """Firing rates ``forward(x, steps).mean(0)`` without the spike trains
        (:func:`alif_rate`)."""
        return alif_rate(
            x,
            self.decay,
            self.v_threshold,
            self.beta,
            self.rho,
            steps=steps,
            **self.reset_options(),
        )

    def counting_rule(self) -> CountingRule:
        """LIF's charge, comparison and reset, plus two MACs per step for the adaptation
        (:math:`\\rho b_t + (1-\\rho) H_t` and :math:`b_0 + \\beta b_t`)."""
        return CountingRule(decay=self.decay, reset=self.reset, macs_per_step=2)

    def extra_repr(self) -> str:
        return (
            f"tau={self.tau}, v_threshold={self.v_threshold}, reset={self.reset!r}, "
            f"tau_adapt={self.tau_adapt}, beta={self.beta}"
        )
