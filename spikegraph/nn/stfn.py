r"""STFN: spatial-temporal feature normalization (Xu et al., "Exploiting Spiking Dynamics with
Spatial-temporal Feature Normalization in Graph Learning", IJCAI 2021).

For node :math:`v` with synaptic input :math:`S^{k,v}_t` at feature :math:`k` and step
:math:`t`, statistics are pooled over the features and all time steps of that node:

.. math::
    \mu_v = \frac{1}{CT}\sum_{t,k} S^{k,v}_t,\qquad
    \sigma^2_v = \frac{1}{CT}\sum_{t,k} (S^{k,v}_t - \mu_v)^2,\qquad
    Y^{k,v}_t = \lambda_k\,\rho\,V_{th}\,\frac{S^{k,v}_t - \mu_v}{\sqrt{\sigma^2_v + \epsilon}}
    + \gamma_k

No batch statistics are involved, so training and inference behave the same.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spikegraph._validation import check_positive
from spikegraph.nn.norm import SpikingNorm


def stfn(x: Tensor, rho: float = 1.0, v_threshold: float = 1.0, eps: float = 1e-5) -> Tensor:
    r"""Normalise per node over features and time steps, scaled to :math:`\rho V_{th}`.

    Args:
        x: Synaptic input ``[T, N, F]``, or ``[N, F]`` for an input that is the same at every
            step (its statistics over time equal those over features alone).
        rho: Scale factor :math:`\rho`.
        v_threshold: Firing threshold :math:`V_{th}` the scale is tied to.
        eps: Added to the variance.

    Returns:
        A tensor of the shape of ``x`` whose per-node mean is 0 and variance
        :math:`(\rho V_{th})^2 \sigma^2_v / (\sigma^2_v + \epsilon)`.
    """
    dims = (0, 2) if x.dim() == 3 else (-1,)
    var, mean = torch.var_mean(x, dim=dims, keepdim=True, correction=0)
    return (x - mean) * (rho * v_threshold * torch.rsqrt(var + eps))


class STFN(SpikingNorm, name="stfn"):
    r"""Spatial-temporal feature normalization, with a learnable per-feature affine
    (Xu et al., IJCAI 2021).

    .. math::
        Y^{k,v}_t = \lambda_k\, \mathrm{stfn}(S)^{k,v}_t + \gamma_k

    The paper describes :math:`\lambda, \gamma` as node-specific; per-feature parameters are the
    variant that also works inductively (on nodes unseen in training and on sampled batches).

    Args:
        num_features: Number of features :math:`C`.
        rho: Scale :math:`\rho` of the normalised input relative to the threshold.
        v_threshold: Threshold :math:`V_{th}` of the neurons that follow.
        eps: Added to the variance.
        affine: Learn :math:`\lambda` (init 1) and :math:`\gamma` (init 0).

    Shapes:
        - **input:** :math:`(T, N, C)` or static :math:`(N, C)`
        - **output:** same as input
    """

    def __init__(
        self,
        num_features: int,
        rho: float = 1.0,
        v_threshold: float = 1.0,
        eps: float = 1e-5,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.rho = float(check_positive(rho, "rho"))
        self.v_threshold = float(check_positive(v_threshold, "v_threshold"))
        self.eps = float(check_positive(eps, "eps"))
        self.affine = bool(affine)
        if self.affine:
            self.weight = nn.Parameter(torch.empty(self.num_features))
            self.bias = nn.Parameter(torch.empty(self.num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    @classmethod
    def for_layer(cls, num_features: int, rho: float, v_threshold: float) -> STFN:
        """STFN scaled to ``rho`` times the layer's threshold."""
        return cls(num_features, rho=rho, v_threshold=v_threshold)

    def reset_parameters(self) -> None:
        if self.affine:
            nn.init.ones_(self.weight)
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        out = stfn(self.check_input(x), self.rho, self.v_threshold, self.eps)
        if self.affine:
            out = torch.addcmul(self.bias, out, self.weight)
        return out

    def extra_repr(self) -> str:
        return f"{self.num_features}, rho={self.rho}, v_threshold={self.v_threshold}"
