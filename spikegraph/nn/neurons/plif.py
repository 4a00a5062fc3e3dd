r"""Parametric LIF (PLIF): LIF neurons with a learnable membrane time constant, from Fang et al.,
"Incorporating Learnable Membrane Time Constant to Enhance Learning of Spiking Neural
Networks" (ICCV 2021).

The time constant is learnt through an unconstrained weight :math:`w` with
:math:`1/\tau = \sigma(w)`, i.e. :math:`\tau = 1 + e^{-w} > 1`, so the leak factor of the
dynamics of :mod:`~spikegraph.nn.neurons.lif` is

.. math::
    k = 1 - 1/\tau = \sigma(-w) \in (0, 1)

one per layer (the paper's choice) or one per feature. Optionally the threshold is learnt too.
Both go through the fused multi-step kernels, which return their gradients.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from spikegraph._validation import check_positive
from spikegraph.nn.neurons._lif_options import LIFFamily
from spikegraph.nn.neurons.base import CountingRule
from spikegraph.nn.neurons.lif import lif_multistep, lif_rate


def plif_decay(w: Tensor) -> Tensor:
    r"""Leak factor :math:`k = \sigma(-w)` of the weight :math:`w` (:math:`\tau = 1 + e^{-w}`)."""
    return torch.sigmoid(-w)


def plif_weight(tau: float) -> float:
    r"""The weight :math:`w = -\ln(\tau - 1)` whose time constant is ``tau`` (> 1)."""
    return -math.log(tau - 1.0)


class PLIF(LIFFamily, name="plif"):
    r"""Parametric LIF neuron (Fang et al., ICCV 2021): LIF with a learnable time constant.

    .. math::
        V_t = \sigma(-w)\, \tilde V_{t-1} + I_t,\quad H_t = \Theta(V_t - V_{th}),\quad
        \tau = 1 + e^{-w}

    Args:
        tau: Initial membrane time constant, :math:`1 < \tau < \infty` (the paper's 2).
        v_threshold: Firing threshold (initial value when learnt).
        per_feature: One time constant per feature instead of one per layer.
        learn_threshold: Learn the threshold too (one per layer, or per feature).
        num_features: The layer's width (set by the layer; needed with ``per_feature``).
        **options: The LIF family's options
            (:class:`~spikegraph.nn.neurons._lif_options.LIFFamily`: ``v_reset``, ``reset``
            (``"hard"``, the paper's, by default), ``surrogate``, ``surrogate_alpha``,
            ``detach_reset``).

    Shapes:
        - **input:** current :math:`(T, *, F)`, or static :math:`(*, F)` with ``steps=T``
        - **output:** spikes :math:`(T, *, F)` with values in :math:`\{0, 1\}`
    """

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        per_feature: bool = False,
        learn_threshold: bool = False,
        num_features: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not (isinstance(tau, (int, float)) and 1.0 < tau < float("inf")):
            raise ValueError(
                f"PLIF's initial 'tau' must be a number in (1, inf) (its weight is "
                f"-log(tau - 1)), got {tau!r}"
            )
        if per_feature and (num_features is None or num_features < 1):
            raise ValueError(
                f"PLIF with per_feature=True needs the layer's width, num_features, got "
                f"{num_features!r}"
            )
        size = (num_features,) if per_feature else ()
        self.per_feature = bool(per_feature)
        self.learn_threshold = bool(learn_threshold)
        self._initial_tau = float(tau)
        self.w = nn.Parameter(torch.full(size, plif_weight(self._initial_tau)))
        th = float(check_positive(v_threshold, "v_threshold"))
        if self.learn_threshold:
            self.threshold = nn.Parameter(torch.full(size, th))
        else:
            self.register_parameter("threshold", None)
        self._v_threshold = th

    def reset_parameters(self) -> None:
        """Put the learnt time constant(s), and threshold(s) when learnt, back at the
        constructor's ``tau`` and ``v_threshold`` (in place: an optimiser holding the
        parameters keeps them)."""
        with torch.no_grad():
            self.w.fill_(plif_weight(self._initial_tau))
            if self.threshold is not None:
                self.threshold.fill_(self._v_threshold)

    @property
    def tau(self) -> Tensor:
        r"""The current time constant(s) :math:`1 + e^{-w}`."""
        return 1.0 + torch.exp(-self.w.detach())

    @property
    def decay(self) -> Tensor:
        """The leak factor(s) :math:`k = \\sigma(-w)` (with gradients to ``w``)."""
        return plif_decay(self.w)

    @property
    def v_threshold(self) -> Tensor | float:
        """The threshold: a parameter when learnt, else the float."""
        return self.threshold if self.threshold is not None else self._v_threshold

    @property
    def threshold_scale(self) -> float:
        """The initial threshold (what STFN before the neurons scales to)."""
        return self._v_threshold

    def _constants(self, x: Tensor) -> tuple[Tensor, Tensor | float]:
        th = self.v_threshold
        return self.decay.to(x.dtype), th.to(x.dtype) if isinstance(th, Tensor) else th

    def multistep(self, x: Tensor, steps: int | None = None) -> Tensor:
        """Spikes ``[T, *]`` for a current ``[T, *]`` or a static ``[*]`` with ``steps``."""
        decay, th = self._constants(x)
        spikes, _ = lif_multistep(x, decay, th, steps=steps, **self.reset_options())
        return spikes

    def rate(self, x: Tensor, steps: int | None = None) -> Tensor:
        """Firing rates without the spike trains (:func:`~spikegraph.nn.lif_rate`)."""
        decay, th = self._constants(x)
        return lif_rate(x, decay, th, steps=steps, **self.reset_options())

    def fused_norm(
        self, x: Tensor, norm: nn.Module, steps: int | None = None, rate: bool = False
    ) -> Tensor | None:
        """STFN and these neurons in one pass (:func:`spikegraph.nn.fused.stfn_lif`);
        ``None`` for another normalisation."""
        from spikegraph.nn.fused import fused_stfn_neuron

        decay, th = self._constants(x)
        return fused_stfn_neuron(self, x, norm, decay, th, steps, rate)

    def options(self) -> dict:
        """The options, with ``tau`` and ``v_threshold`` at their current (learnt) values."""
        out = super().options()
        tau = self.tau
        out["tau"] = tau.tolist() if tau.dim() else float(tau)
        th = self.v_threshold
        if isinstance(th, Tensor):  # plain values: no autograd (nor its warning) involved
            th = th.detach()
            th = th.tolist() if th.dim() else float(th)
        out["v_threshold"] = th
        return out

    def counting_rule(self) -> CountingRule:
        """As LIF: a leaky charge (a MAC) per step, a comparison, an AC per reset spike."""
        decay = self.decay.detach()
        same = bool((decay == decay.reshape(-1)[0]).all())
        return CountingRule(decay=float(decay.reshape(-1)[0]) if same else 0.5, reset=self.reset)

    def extra_repr(self) -> str:
        tau = self.tau
        tau_s = f"{float(tau):.4g}" if tau.dim() == 0 else f"[{tau.numel()} values]"
        return (
            f"tau={tau_s}, v_threshold={self._v_threshold}, reset={self.reset!r}, "
            f"per_feature={self.per_feature}, learn_threshold={self.learn_threshold}"
        )
