r"""Folding STFN into neuron thresholds for inference (Xu et al., "Exploiting Spiking Dynamics
with Spatial-temporal Feature Normalization in Graph Learning", IJCAI 2021).

STFN feeds LIF neurons the affine image of the synaptic current :math:`S`:

.. math::
    y^{k,v}_t = a_{vk} (S^{k,v}_t + c_{vk}),\qquad
    a_{vk} = \frac{\lambda_k \rho V_{th}}{\sqrt{\sigma_v^2 + \epsilon}},\qquad
    c_{vk} = \frac{\gamma_k}{a_{vk}} - \mu_v .

The LIF dynamics are linear between spikes, so dividing the membrane potential by
:math:`a_{vk}` (:math:`U = V / a`) gives an equivalent neuron driven by the raw current:

.. math::
    U_t = k\,\tilde U_{t-1} + S_t + c_{vk},\qquad
    H_t = [\,U_t \ge \theta_{vk}\,] \text{ if } a_{vk} > 0,\ [\,U_t \le \theta_{vk}\,]
    \text{ if } a_{vk} < 0,\qquad \theta_{vk} = V_{th} / a_{vk},

with a hard reset to :math:`V_{reset}/a_{vk}` or a soft reset subtracting
:math:`\theta_{vk}`. The spikes are identical. Deployed hardware then needs, per inference,
the node statistics :math:`\mu_v, \sigma_v` (they depend on the input, so they cannot be
precomputed), one threshold and one offset per neuron, and the offset added to the current,
but never forms the normalised tensor. STFN pools over all ``T`` steps, so the statistics are
known only once the whole current is; folding does not change that.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from spikegraph._validation import check_choice
from spikegraph.nn.neurons.lif import RESETS
from spikegraph.nn.stfn import STFN


@dataclass(frozen=True)
class FoldedSTFN:
    """Per-neuron constants of an STFN folded into thresholds, each ``[N, C]``.

    Attributes:
        scale: :math:`a_{vk}`, the factor between the folded and the original potential.
        threshold: :math:`\\theta_{vk} = V_{th} / a_{vk}`.
        offset: :math:`c_{vk}`, added to the raw current at every step.
    """

    scale: Tensor
    threshold: Tensor
    offset: Tensor


def fold_stfn(current: Tensor, norm: STFN) -> FoldedSTFN:
    """Fold ``norm`` applied to ``current`` (``[T, N, C]`` or static ``[N, C]``) into
    per-neuron thresholds and offsets.

    Raises:
        ValueError: if a feature's scale :math:`\\lambda_k` is 0 (its neurons get a constant
            input and have no finite threshold in the raw current).
    """
    dims = (0, 2) if current.dim() == 3 else (-1,)
    var, mean = torch.var_mean(current, dim=dims, keepdim=True, correction=0)
    inv_std = torch.rsqrt(var + norm.eps)
    if current.dim() == 3:
        mean, inv_std = mean[0], inv_std[0]
    lam = norm.weight if norm.affine else current.new_ones(current.size(-1))
    gamma = norm.bias if norm.affine else torch.zeros_like(lam)
    if bool((lam == 0).any()):
        k = int((lam == 0).nonzero()[0])
        raise ValueError(f"Cannot fold STFN: its scale lambda is 0 at feature {k}")
    scale = lam * (norm.rho * norm.v_threshold) * inv_std
    return FoldedSTFN(
        scale=scale,
        threshold=norm.v_threshold / scale,
        offset=gamma / scale - mean,
    )


def folded_lif(
    current: Tensor,
    folded: FoldedSTFN,
    decay: float,
    v_reset: float = 0.0,
    reset: str = "hard",
    steps: int | None = None,
) -> Tensor:
    """Run LIF neurons with folded thresholds on the raw current; returns spikes ``[T, N, C]``.

    A reference for :func:`fold_stfn`: its spikes equal ``LIF(STFN(current))``.

    Args:
        current: Raw synaptic current ``[T, N, C]``, or static ``[N, C]`` with ``steps``.
        folded: The output of :func:`fold_stfn`.
        decay: Leak factor :math:`k`.
        v_reset: Potential after a hard reset (of the original neuron).
        reset: ``"hard"``, ``"soft"`` or ``"none"``.
        steps: Number of steps of a static current.
    """
    check_choice(reset, RESETS, "reset")
    T = current.size(0) if steps is None else steps
    positive = folded.scale > 0
    u = None
    out = []
    for t in range(T):
        drive = (current if steps is not None else current[t]) + folded.offset
        u = drive if u is None else decay * u + drive
        fired = torch.where(positive, u >= folded.threshold, u <= folded.threshold)
        s = fired.to(current.dtype)
        if reset == "hard":
            u = torch.where(fired, v_reset / folded.scale, u)
        elif reset == "soft":
            u = u - folded.threshold * s
        out.append(s)
    return torch.stack(out)


__all__ = ["FoldedSTFN", "fold_stfn", "folded_lif"]
