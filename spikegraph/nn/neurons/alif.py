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
it). The threshold depends on the spikes, so the multi-step function is the loop of
:func:`alif_step` under autograd (no fused kernel).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from spikegraph._validation import check_choice, check_positive, check_time_steps
from spikegraph.nn.neurons._lif_options import RESETS, LIFFamily, check_tau
from spikegraph.nn.neurons.base import CountingRule
from spikegraph.nn.surrogate import Surrogate, resolve_surrogate


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
    static ``x`` fed at each of ``steps`` steps."""
    check_choice(reset, RESETS, "reset")
    if steps is not None:
        check_time_steps(steps, "steps")
    elif x.dim() == 0 or x.size(0) < 1:
        raise ValueError(f"'x' needs a leading time dimension of size >= 1, got {tuple(x.shape)}")
    v = b = None
    out = []
    for t in range(steps if steps is not None else x.size(0)):
        xt = x if steps is not None else x[t]
        s, v, b = alif_step(
            xt, v, b, decay, v_threshold, beta, rho, v_reset, reset, surrogate, detach_reset
        )
        out.append(s)
    return torch.stack(out)


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

    def counting_rule(self) -> CountingRule:
        """LIF's charge, comparison and reset, plus two MACs per step for the adaptation
        (:math:`\\rho b_t + (1-\\rho) H_t` and :math:`b_0 + \\beta b_t`)."""
        return CountingRule(decay=self.decay, reset=self.reset, macs_per_step=2)

    def extra_repr(self) -> str:
        return (
            f"tau={self.tau}, v_threshold={self.v_threshold}, reset={self.reset!r}, "
            f"tau_adapt={self.tau_adapt}, beta={self.beta}"
        )
