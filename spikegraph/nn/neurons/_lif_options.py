r"""The options the LIF-type neurons share (LIF, PLIF, ALIF, ...): the reset and the potential
it resets to, the surrogate gradient and whether it flows through the reset.

:class:`LIFFamily` declares and checks them once; a neuron of the family takes its time
constant, its threshold and its own options by name and passes the rest on (``**options``),
and :meth:`~spikegraph.nn.neurons.SpikingNeuron.defaults` reads every option's default from
the constructors (the subclass's first: ALIF's ``reset="soft"`` overrides the family's
``"hard"``). The dynamics follow GC-SNN / GA-SNN (Xu et al., "Exploiting Spiking Dynamics with
Spatial-temporal Feature Normalization in Graph Learning", IJCAI 2021).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from spikegraph._validation import check_choice, check_positive, check_time_steps
from spikegraph.nn.neurons.base import SpikingNeuron
from spikegraph.nn.surrogate import Surrogate, resolve_surrogate

#: Reset modes: to ``v_reset`` (``"hard"``), subtract the threshold (``"soft"``), or none.
RESETS = ("hard", "soft", "none")


def check_input(x: Tensor, reset: str, steps: int | None) -> None:
    """Refuse an unknown reset, a bad ``steps``, a current that is not floating-point (an
    integer membrane would truncate every decay), or ``x`` without a time dimension."""
    check_choice(reset, RESETS, "reset")
    if not x.is_floating_point():
        raise TypeError(f"'x' (the synaptic current) must be floating-point, got {x.dtype}")
    if steps is not None:
        check_time_steps(steps, "steps")
    elif x.dim() == 0 or x.size(0) < 1:
        raise ValueError(f"'x' needs a leading time dimension of size >= 1, got {tuple(x.shape)}")


def check_tau(tau: float) -> float:
    """A membrane time constant ``tau >= 1`` (``inf``: integrate-and-fire) as a float."""
    if tau != float("inf"):  # tau=inf is the documented integrate-and-fire neuron
        check_positive(tau, "tau")
    if tau < 1.0:
        raise ValueError(f"'tau' must be >= 1 so that the decay 1 - 1/tau is in [0, 1), got {tau}")
    return float(tau)


class LIFFamily(SpikingNeuron):
    """Base of the neurons with LIF's charge, fire and reset: holds their shared options.

    Args:
        v_reset: Potential after a hard reset.
        reset: ``"hard"``, ``"soft"`` (subtract the threshold) or ``"none"``.
        surrogate: Name of a registered surrogate
            (:data:`~spikegraph.nn.surrogate.SURROGATES`) or an instance.
        surrogate_alpha: Sharpness of a surrogate given by name (its default when ``None``).
        detach_reset: Stop gradients through the reset path.
    """

    def __init__(
        self,
        v_reset: float = 0.0,
        reset: str = "hard",
        surrogate: str | Surrogate = "rectangular",
        surrogate_alpha: float | None = None,
        detach_reset: bool = False,
    ) -> None:
        super().__init__()
        self.v_reset = float(v_reset)
        self.reset = check_choice(reset, RESETS, "reset")
        self.surrogate = resolve_surrogate(surrogate, surrogate_alpha)
        self.detach_reset = bool(detach_reset)

    def reset_options(self) -> dict[str, Any]:
        """The keyword arguments of the family's functional core (``v_reset``, ``reset``,
        ``surrogate``, ``detach_reset``; e.g. :func:`~spikegraph.nn.neurons.lif.lif_multistep`)."""
        return {
            "v_reset": self.v_reset,
            "reset": self.reset,
            "surrogate": self.surrogate,
            "detach_reset": self.detach_reset,
        }
