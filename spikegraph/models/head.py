r"""The MLP head of the journal version of GC-SNN / GA-SNN (Xu et al., "Unveiling the
Potential of Spiking Dynamics in Graph Representation Learning through Spatial-Temporal
Normalization and Coding Strategies", arXiv 2407.20508): a small MLP on the read-out firing
rates of the last spiking layer.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn.dense.linear import Linear

from spikegraph._validation import check_channels


class MLPHead(nn.Module):
    r"""A two-layer MLP on the readout's output (firing rates), the head of the journal
    version of GC-SNN / GA-SNN (Xu et al., arXiv 2407.20508).

    .. math::
        \mathrm{logits} = W_2\,\mathrm{ReLU}(W_1 \bar{H} + b_1) + b_2,
        \qquad \bar{H} = \frac{1}{T}\sum_t H_t

    The paper does not give the head's width; it is the model's ``head_channels``.

    Args:
        in_channels: Width of the rates (the last spiking layer's ``hidden_channels``).
        hidden_channels: Width of the head's hidden layer.
        out_channels: Number of classes.

    Shapes:
        - **input:** :math:`(N, F_{in})`
        - **output:** :math:`(N, C)`
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels = check_channels(in_channels, "in_channels")
        self.hidden_channels = check_channels(hidden_channels, "hidden_channels")
        self.out_channels = check_channels(out_channels, "out_channels")
        self.lin1 = Linear(in_channels, hidden_channels)
        self.act = nn.ReLU()
        self.lin2 = Linear(hidden_channels, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[N, C]`` of rates ``[N, F_in]``."""
        return self.lin2(self.act(self.lin1(x)))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, "
            f"{self.out_channels})"
        )
