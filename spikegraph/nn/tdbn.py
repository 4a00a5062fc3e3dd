r"""Threshold-dependent batch normalization, the batch-statistics baseline for STFN (Zheng et
al., "Going Deeper With Directly-Trained Larger Spiking Neural Networks", AAAI 2021).

Statistics are per feature, pooled over the time steps and the nodes of the batch:

.. math::
    Y^{k}_{t,v} = \lambda_k\,\alpha V_{th}\,\frac{S^{k}_{t,v} - \mu_k}{\sqrt{\sigma_k^2 +
    \epsilon}} + \gamma_k

with running estimates of :math:`\mu_k, \sigma^2_k` for inference, as in batch norm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikegraph._validation import check_positive
from spikegraph.nn.norm import SpikingNorm


class TemporalBatchNorm(SpikingNorm, name="tdbn"):
    r"""tdBN (Zheng et al., AAAI 2021): batch norm over time steps and nodes, scaled to the
    threshold.

    Args:
        num_features: Number of features :math:`C`.
        alpha: Scale :math:`\alpha` relative to the threshold.
        v_threshold: Threshold :math:`V_{th}` of the neurons that follow.
        eps: Added to the variance.
        momentum: Momentum of the running statistics.

    Shapes:
        - **input:** :math:`(T, N, C)` or static :math:`(N, C)`
        - **output:** same as input
    """

    def __init__(
        self,
        num_features: int,
        alpha: float = 1.0,
        v_threshold: float = 1.0,
        eps: float = 1e-5,
        momentum: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.alpha = float(check_positive(alpha, "alpha"))
        self.v_threshold = float(check_positive(v_threshold, "v_threshold"))
        self.eps = float(check_positive(eps, "eps"))
        self.momentum = float(momentum)
        self.weight = nn.Parameter(torch.empty(self.num_features))
        self.bias = nn.Parameter(torch.empty(self.num_features))
        self.register_buffer("running_mean", torch.zeros(self.num_features))
        self.register_buffer("running_var", torch.ones(self.num_features))
        self.reset_parameters()

    @classmethod
    def for_layer(cls, num_features: int, rho: float, v_threshold: float) -> TemporalBatchNorm:
        """tdBN whose scale :math:`\\alpha` is the layer's ``rho``."""
        return cls(num_features, alpha=rho, v_threshold=v_threshold)

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)
        nn.init.zeros_(self.bias)
        self.running_mean.zero_()
        self.running_var.fill_(1.0)

    def forward(self, x: Tensor) -> Tensor:
        flat = self.check_input(x).reshape(-1, self.num_features)
        out = F.batch_norm(
            flat,
            self.running_mean,
            self.running_var,
            self.weight * (self.alpha * self.v_threshold),
            self.bias,
            self.training,
            self.momentum,
            self.eps,
        )
        return out.view_as(x)

    def extra_repr(self) -> str:
        return f"{self.num_features}, alpha={self.alpha}, v_threshold={self.v_threshold}"
