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

import torch
from torch import Tensor, nn

from spikegraph._validation import check_choice, check_positive
from spikegraph.nn.surrogate import Rectangular, Surrogate, resolve_surrogate

RESETS = ("hard", "soft", "none")


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


def lif_multistep(
    x: Tensor,
    decay: float,
    v_threshold: float = 1.0,
    v_reset: float = 0.0,
    reset: str = "hard",
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
    v_init: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Run :func:`lif_step` over the leading time dimension of ``x``.

    Args:
        x: Input current ``[T, ...]``.
        decay: Leak factor :math:`k`.
        v_threshold: Firing threshold.
        v_reset: Potential after a hard reset.
        reset: ``"hard"``, ``"soft"`` or ``"none"``.
        surrogate: Spike function (rectangular by default).
        detach_reset: Stop gradients through the reset path.
        v_init: Initial potential (zeros when ``None``).

    Returns:
        ``(spikes, v)`` with spikes of the shape of ``x`` and the final potential.
    """
    check_choice(reset, RESETS, "reset")
    surrogate = Rectangular() if surrogate is None else surrogate
    v = v_init
    spikes = []
    for t in range(x.size(0)):
        s, v = lif_step(x[t], v, decay, v_threshold, v_reset, reset, surrogate, detach_reset)
        spikes.append(s)
    return torch.stack(spikes, dim=0), v


class LIF(nn.Module):
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
        v_reset: Potential after a hard reset.
        reset: ``"hard"`` (the paper's), ``"soft"`` (subtract the threshold) or ``"none"``.
        surrogate: Name (``"rectangular"``, ``"sigmoid"``, ``"arctan"``, ``"triangle"``) or a
            :class:`~spikegraph.nn.surrogate.Surrogate` instance.
        surrogate_alpha: Sharpness of a surrogate given by name (its default when ``None``).
        detach_reset: Stop gradients through the reset path.

    Shapes:
        - **input:** current :math:`(T, *)`
        - **output:** spikes :math:`(T, *)` with values in :math:`\{0, 1\}`
    """

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: float = 0.0,
        reset: str = "hard",
        surrogate: str | Surrogate = "rectangular",
        surrogate_alpha: float | None = None,
        detach_reset: bool = False,
    ) -> None:
        super().__init__()
        if tau != float("inf"):  # tau=inf is the documented integrate-and-fire neuron
            check_positive(tau, "tau")
        if tau < 1.0:
            raise ValueError(
                f"'tau' must be >= 1 so that the decay 1 - 1/tau is in [0, 1), got {tau}"
            )
        self.tau = float(tau)
        self.v_threshold = float(check_positive(v_threshold, "v_threshold"))
        self.v_reset = float(v_reset)
        self.reset = check_choice(reset, RESETS, "reset")
        self.surrogate = resolve_surrogate(surrogate, surrogate_alpha)
        self.detach_reset = bool(detach_reset)

    @property
    def decay(self) -> float:
        """Leak factor :math:`k = 1 - 1/\\tau`."""
        return 1.0 - 1.0 / self.tau

    def forward(self, x: Tensor) -> Tensor:
        """Integrate ``x`` of shape ``[T, *]`` and return spikes of the same shape."""
        spikes, _ = lif_multistep(
            x,
            self.decay,
            self.v_threshold,
            self.v_reset,
            self.reset,
            self.surrogate,
            self.detach_reset,
        )
        return spikes

    def extra_repr(self) -> str:
        return (
            f"tau={self.tau}, v_threshold={self.v_threshold}, reset={self.reset!r}, "
            f"detach_reset={self.detach_reset}"
        )
