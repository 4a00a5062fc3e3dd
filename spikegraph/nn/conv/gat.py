"""Spiking graph attention: the layer of GA-SNN (Xu et al., IJCAI 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import glorot, zeros
from torch_geometric.typing import Adj, OptTensor, SparseTensor
from torch_geometric.utils import (
    add_self_loops,
    is_sparse,
    remove_self_loops,
    softmax,
    to_edge_index,
)

from spikegraph._validation import check_channels, check_edge_index
from spikegraph.nn.conv.spiking import SpikingMessagePassing
from spikegraph.nn.surrogate import Surrogate


def fold_time(x: Tensor) -> Tensor:
    """``[T, N, H, C] -> [N, T*H, C]``: time steps become extra attention heads."""
    T, N, H, C = x.shape
    return x.permute(1, 0, 2, 3).reshape(N, T * H, C)


def unfold_time(x: Tensor, T: int) -> Tensor:
    """Inverse of :func:`fold_time`: ``[N, T*H, C] -> [T, N, H, C]``."""
    N, TH, C = x.shape
    return x.view(N, T, TH // T, C).permute(1, 0, 2, 3)


class SpikingGATConv(SpikingMessagePassing):
    r"""The spiking graph attention layer of GA-SNN, from Xu et al., "Exploiting Spiking Dynamics
    with Spatial-temporal Feature Normalization in Graph Learning" (IJCAI 2021): multi-head
    graph attention (Velickovic et al., ICLR 2018) over input spikes, STFN, LIF neurons.

    .. math::
        \alpha^{h}_{ij,t} = \mathrm{softmax}_j\big(\mathrm{LeakyReLU}(
        a_{src}^{h\top} W^h H_{j,t} + a_{dst}^{h\top} W^h H_{i,t})\big),\quad
        S_{i,t} = \big\Vert_h \sum_{j \in \mathcal{N}(i) \cup \{i\}} \alpha^{h}_{ij,t} W^h H_{j,t}
        + b

    followed by :math:`H^{out} = \mathrm{LIF}(\mathrm{STFN}(S))`. Attention is computed for every
    time step of a spike train; the ``T`` steps are folded into the head dimension so one
    propagation serves them all. A static input ``[N, F]`` is attended to once. With
    ``spiking=False`` and ``norm="none"`` each step computes exactly
    :class:`torch_geometric.nn.conv.GATConv` (same parameter names: ``lin``, ``att_src``,
    ``att_dst``, ``bias``).

    Defaults: integrate-and-fire neurons (``tau=inf``), soft reset, no normalisation, the
    validated settings of spikegraph's benchmarks; ``**PAPER_NEURON`` (``norm="stfn",
    tau=2.0, reset="hard"``, :data:`spikegraph.models.PAPER_NEURON`) gives the paper's layer.

    Args:
        in_channels: Input width, or ``-1`` for lazy initialisation.
        out_channels: Width per head.
        heads: Number of attention heads.
        concat: Concatenate the heads (else average them).
        negative_slope: LeakyReLU slope of the attention logits.
        dropout: Dropout on the attention coefficients.
        add_self_loops: Add self-loops.
        bias: Learn an additive bias.
        T: Time steps for static input.
        norm: ``"none"`` (default), ``"stfn"`` (the paper's) or ``"tdbn"``.
        rho: STFN scale.
        spiking: ``False`` makes the neuron the identity (ordinary GAT layer per step).
        tau: Membrane time constant; ``float("inf")`` (default) is integrate-and-fire.
        v_threshold: Firing threshold.
        v_reset: Potential after a hard reset.
        reset: ``"soft"`` (default), ``"hard"`` (the paper's) or ``"none"``.
        surrogate: Surrogate gradient name or instance.
        surrogate_alpha: Sharpness of a named surrogate.
        detach_reset: Stop gradients through the reset.
        **kwargs: Passed to :class:`torch_geometric.nn.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(T, N, F_{in})` or static :math:`(N, F_{in})`, or a
          bipartite pair :math:`((T, N_{src}, F_{in}), (T, N_{dst}, F_{in}) \text{ or None})`
          with ``size``; edge indices :math:`(2, E)` or a sparse :math:`(N, N)` ``adj_t``
        - **output:** spikes :math:`(T, N_{dst}, H \cdot F_{out})` if ``concat`` else
          :math:`(T, N_{dst}, F_{out})`
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        bias: bool = True,
        T: int = 8,
        norm: str | None = "none",
        rho: float = 1.0,
        spiking: bool = True,
        tau: float = float("inf"),
        v_threshold: float = 1.0,
        v_reset: float = 0.0,
        reset: str = "soft",
        surrogate: str | Surrogate = "rectangular",
        surrogate_alpha: float | None = None,
        detach_reset: bool = False,
        **kwargs,
    ) -> None:
        check_channels(in_channels, "in_channels", lazy=True)
        check_channels(out_channels, "out_channels")
        if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
            raise ValueError(f"'heads' must be a positive int, got {heads!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must be in [0, 1), got {dropout}")
        kwargs.setdefault("aggr", "add")
        super().__init__(
            heads * out_channels if concat else out_channels,
            T=T,
            norm=norm,
            rho=rho,
            spiking=spiking,
            tau=tau,
            v_threshold=v_threshold,
            v_reset=v_reset,
            reset=reset,
            surrogate=surrogate,
            surrogate_alpha=surrogate_alpha,
            detach_reset=detach_reset,
            node_dim=0,
            **kwargs,
        )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.lin = Linear(
            in_channels, heads * out_channels, bias=False, weight_initializer="glorot"
        )
        self.att_src = Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = Parameter(torch.empty(1, heads, out_channels))
        if bias:
            self.bias = Parameter(torch.empty(heads * out_channels if concat else out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        zeros(self.bias)

    def _transform(self, x: Tensor) -> Tensor:
        """Linear map to heads, time folded into heads: ``[N, T'*H, C]`` (``T'=1`` if static)."""
        h = self.lin(x)
        if x.dim() == 2:
            return h.view(-1, self.heads, self.out_channels)
        return fold_time(h.view(x.size(0), x.size(1), self.heads, self.out_channels))

    def current(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        size: tuple[int, int] | None = None,
    ) -> Tensor:
        """The synaptic current before normalisation and neurons.

        Returns ``[N_dst, F]`` for a static input and ``[T, N_dst, F]`` otherwise.
        """
        bipartite = isinstance(x, (tuple, list))
        x_src, x_dst = (x[0], x[1]) if bipartite else (x, None)
        self._check_x(x_src, self.in_channels, "x_src" if bipartite else "x")
        if x_dst is not None:
            self._check_x(x_dst, self.in_channels, "x_dst")
            if x_dst.dim() != x_src.dim():
                raise ValueError(
                    f"'x_src' and 'x_dst' must both be static or both spike trains, got "
                    f"shapes {tuple(x_src.shape)} and {tuple(x_dst.shape)}"
                )
        num_src = x_src.size(-2)
        if bipartite:
            if size is None:
                if x_dst is None:
                    raise ValueError("Bipartite input with x_dst=None needs 'size'")
                size = (num_src, x_dst.size(-2))
            if size[0] != num_src:
                raise ValueError(f"'size[0]'={size[0]} differs from the {num_src} source nodes")
        num_dst = num_src if size is None else size[1]
        edge_index = self._edge_index(edge_index, num_src, num_dst)

        steps = 1 if x_src.dim() == 2 else x_src.size(0)
        h_src = self._transform(x_src)
        h_dst = None if x_dst is None else self._transform(x_dst)
        if not bipartite:
            h_dst = h_src
        att_src = self.att_src.repeat(1, steps, 1)
        att_dst = self.att_dst.repeat(1, steps, 1)
        alpha_src = (h_src * att_src).sum(dim=-1)
        alpha_dst = None if h_dst is None else (h_dst * att_dst).sum(dim=-1)

        if self.add_self_loops:
            edge_index, _ = remove_self_loops(edge_index)
            edge_index, _ = add_self_loops(edge_index, num_nodes=min(num_src, num_dst))

        alpha = self.edge_updater(edge_index, alpha=(alpha_src, alpha_dst), size=size)
        out = self.propagate(edge_index, x=(h_src, h_dst), alpha=alpha, size=size)
        if steps > 1:
            out = unfold_time(out, steps)
        out = out.flatten(-2) if self.concat else out.mean(dim=-2)
        if self.bias is not None:
            out = out + self.bias
        return out

    def forward(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        size: tuple[int, int] | None = None,
    ) -> Tensor:
        """Attend, normalise, fire: returns spikes ``[T, N_dst, F]``."""
        return self.fire(self.current(x, edge_index, size))

    def _edge_index(self, edge_index: Adj, num_src: int, num_dst: int) -> Tensor:
        """Validate, and turn a sparse ``adj_t`` into a ``[2, E]`` edge index."""
        if is_sparse(edge_index):
            if isinstance(edge_index, SparseTensor):
                row, col, _ = edge_index.coo()
                shape = edge_index.sizes()
            else:
                (row, col), _ = to_edge_index(edge_index)
                shape = list(edge_index.shape)
            if tuple(shape[:2]) != (num_dst, num_src):
                raise ValueError(
                    f"Sparse 'adj_t' has shape {tuple(shape)}, expected ({num_dst}, {num_src})"
                )
            return torch.stack([col, row], dim=0)
        return check_edge_index(edge_index, num_src, num_dst)

    def edge_update(
        self,
        alpha_j: Tensor,
        alpha_i: OptTensor,
        index: Tensor,
        ptr: OptTensor,
        dim_size: int | None,
    ) -> Tensor:
        alpha = alpha_j if alpha_i is None else alpha_j + alpha_i
        if index.numel() == 0:
            return alpha
        alpha = F.leaky_relu(alpha, self.negative_slope)
        alpha = softmax(alpha, index, ptr, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"heads={self.heads}, {self._spiking_repr()})"
        )
