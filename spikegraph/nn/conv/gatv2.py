"""Spiking GATv2: the dynamic attention of Brody et al. (ICLR 2022) in a spiking layer."""

from __future__ import annotations

# PyG generates propagate/edge_updater code from typing-style hints (it cannot print
# ``X | None`` or ``tuple[...]``), resolving names in this module.
from typing import ClassVar, Optional, Tuple  # noqa: UP035

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import OptTensor

from spikegraph.nn.conv.gat import SpikingAttentionConv
from spikegraph.nn.neurons import SpikingNeuron


class SpikingGATv2Conv(SpikingAttentionConv):
    r"""Spiking graph attention with GATv2's dynamic attention (Brody et al., "How Attentive
    are Graph Attention Networks?", ICLR 2022), followed by STFN and LIF neurons as in
    :class:`~spikegraph.nn.SpikingGATConv`.

    .. math::
        \alpha^{h}_{ij,t} = \mathrm{softmax}_j\big(a^{h\top}\mathrm{LeakyReLU}(
        W_s^h H_{j,t} + W_t^h H_{i,t} + W_e^h e_{ji})\big),\quad
        S_{i,t} = \big\Vert_h \sum_{j} \alpha^{h}_{ij,t} W_s^h H_{j,t} + b

    Everything about time, edge features, self-loops and the returned attention weights is
    as in :class:`~spikegraph.nn.SpikingGATConv`. With ``spiking=False`` and ``norm="none"``
    each step computes exactly :class:`torch_geometric.nn.conv.GATv2Conv` (same parameter
    names: ``lin_l``, ``lin_r``, ``att``, ``lin_edge``, ``bias``). A bipartite input needs
    target features (the attention reads them).

    Args:
        in_channels: Input width, ``-1`` (lazy), or a ``(source, target)`` pair.
        out_channels: Width per head.
        heads: Number of attention heads.
        concat: Concatenate the heads (else average them).
        negative_slope: LeakyReLU slope inside the attention.
        dropout: Dropout on the attention coefficients.
        add_self_loops: Add self-loops.
        edge_dim: Width of the edge features ``edge_attr`` (``None``: none).
        fill_value: Edge features of the added self-loops, as in PyG.
        bias: Learn the biases (of ``lin_l``/``lin_r`` and the output), as in PyG.
        share_weights: One projection for sources and targets.
        residual: Only ``False`` (PyG's default): PyG's residual connection is not
            implemented, and ``residual=True`` is refused with a ``ValueError``.
        T, norm, rho, spiking, neuron: The spiking tail (time steps of a static input, the
            normalisation, the neurons as one object: ``LIF(tau=2.0)``, ``PLIF``,
            ``"alif"``, ...), as in
            :class:`~spikegraph.nn.conv.spiking.SpikingMessagePassing`.
        **kwargs: ``neuron_kwargs`` and the neuron's options by name (``tau=``,
            ``reset=``, ...), the rest passed to :class:`torch_geometric.nn.MessagePassing`.

    Shapes:
        As :class:`~spikegraph.nn.SpikingGATConv`.
    """

    needs_x_dst = True
    edge_updater_type: ClassVar[dict] = {
        "x": Tuple[Tensor, Optional[Tensor]],  # noqa: UP006, UP045
        "edge_attr": Optional[Tensor],  # noqa: UP045
    }

    def __init__(
        self,
        in_channels: int | tuple[int, int],
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: int | None = None,
        fill_value: float | Tensor | str = "mean",
        bias: bool = True,
        share_weights: bool = False,
        residual: bool = False,
        T: int = 8,
        norm: str | None = "none",
        rho: float = 1.0,
        spiking: bool = True,
        neuron: SpikingNeuron | type[SpikingNeuron] | str | None = None,
        **kwargs,
    ) -> None:
        self._refuse_residual(residual)
        pair = self._check_options(in_channels, out_channels, heads, dropout, edge_dim, fill_value)
        super().__init__(
            heads * out_channels if concat else out_channels,
            T=T,
            norm=norm,
            rho=rho,
            spiking=spiking,
            neuron=neuron,
            node_dim=0,
            **kwargs,
        )
        self._init_attention(
            pair if pair is not None else in_channels,
            out_channels,
            heads,
            concat,
            negative_slope,
            dropout,
            add_self_loops,
            edge_dim,
            fill_value,
        )
        self.share_weights = share_weights
        src, dst = pair if pair is not None else (in_channels, in_channels)
        width = heads * out_channels
        self.lin_l = Linear(src, width, bias=bias, weight_initializer="glorot")
        if share_weights:
            self.lin_r = self.lin_l
        else:
            self.lin_r = Linear(dst, width, bias=bias, weight_initializer="glorot")
        self.att = Parameter(torch.empty(1, heads, out_channels))
        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, width, bias=False, weight_initializer="glorot")
        else:
            self.lin_edge = None
        if bias:
            self.bias = Parameter(torch.empty(width if concat else out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin_l.reset_parameters()
        self.lin_r.reset_parameters()
        if self.lin_edge is not None:
            self.lin_edge.reset_parameters()
        glorot(self.att)
        zeros(self.bias)

    def project(
        self, x_src: Tensor, x_dst: Tensor | None, bipartite: bool
    ) -> tuple[Tensor, Tensor | None]:
        h_src = self._transform(x_src, self.lin_l)
        if self.share_weights and not bipartite:
            return h_src, h_src
        return h_src, self._transform(x_src if not bipartite else x_dst, self.lin_r)

    def compute_attention(self, edge_index, h_src, h_dst, edge_attr, size) -> Tensor:
        return self.edge_updater(edge_index, x=(h_src, h_dst), edge_attr=edge_attr, size=size)

    def edge_update(
        self,
        x_j: Tensor,
        x_i: Tensor,
        edge_attr: OptTensor,
        index: Tensor,
        ptr: OptTensor,
        dim_size: int | None,
    ) -> Tensor:
        x = x_i + x_j
        if edge_attr is not None and self.lin_edge is not None:
            x = x + self._edge_term(edge_attr, x.size(1))
        x = F.leaky_relu(x, self.negative_slope)
        steps = x.size(1) // self.heads
        alpha = (x * self.att.repeat(1, steps, 1)).sum(dim=-1)
        return self._finish_attention(alpha, index, ptr, dim_size)
