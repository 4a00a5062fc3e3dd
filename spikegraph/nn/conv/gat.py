"""Spiking graph attention: the layer of GA-SNN (Xu et al., IJCAI 2021)."""

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
from torch_geometric.typing import Adj, OptTensor, SparseTensor
from torch_geometric.utils import (
    add_self_loops,
    is_sparse,
    remove_self_loops,
    softmax,
    to_edge_index,
)

from spikegraph._validation import (
    check_channels,
    check_dtype,
    check_edge_index,
    check_features,
    check_width,
)
from spikegraph.nn.conv.spiking import SpikingMessagePassing
from spikegraph.nn.neurons import SpikingNeuron


def fold_time(x: Tensor) -> Tensor:
    """``[T, N, H, C] -> [N, T*H, C]``: time steps become extra attention heads."""
    T, N, H, C = x.shape
    return x.permute(1, 0, 2, 3).reshape(N, T * H, C)


def unfold_time(x: Tensor, T: int) -> Tensor:
    """Inverse of :func:`fold_time`: ``[N, T*H, C] -> [T, N, H, C]``."""
    N, TH, C = x.shape
    return x.view(N, T, TH // T, C).permute(1, 0, 2, 3)


def unfold_attention(alpha: Tensor, heads: int, static: bool) -> Tensor:
    """Attention coefficients in the caller's layout: ``[E, H]`` for a static input, else
    ``[T', E, H]`` from the folded ``[E, T'*H]``."""
    if static:
        return alpha
    return alpha.view(alpha.size(0), -1, heads).permute(1, 0, 2)


def split_channels(in_channels: int | tuple[int, int]) -> tuple[int, int] | None:
    """Check ``in_channels``: an int, or a ``(source, target)`` pair as PyG's ``GATConv``
    takes (``(-1, -1)`` for lazy bipartite layers, e.g. under ``to_hetero``). Returns the
    pair, or ``None`` for an int."""
    if isinstance(in_channels, (tuple, list)):
        if len(in_channels) != 2:
            raise ValueError(
                f"'in_channels' must be an int or a (source, target) pair, got {in_channels!r}"
            )
        return (
            check_channels(in_channels[0], "in_channels[0]", lazy=True),
            check_channels(in_channels[1], "in_channels[1]", lazy=True),
        )
    check_channels(in_channels, "in_channels", lazy=True)
    return None


class SpikingAttentionConv(SpikingMessagePassing):
    """What the spiking attention layers share: inputs, graph, edge features, self-loops and
    the returned attention weights. Subclasses build their projections and implement
    :meth:`project` and ``edge_update``.
    """

    #: Whether a bipartite input needs target features (GATv2 attends with them).
    needs_x_dst: bool = False
    # The arguments of the propagate call, for PyG's generated propagate (whose hooks the
    # cost counter reads): PyG finds them by parsing a class's own source otherwise, and the
    # call sits in this base class.
    propagate_type: ClassVar[dict] = {
        "x": Tuple[Tensor, Optional[Tensor]],  # noqa: UP006, UP045
        "alpha": Tensor,
    }

    def _init_attention(
        self,
        in_channels: int | tuple[int, int],
        out_channels: int,
        heads: int,
        concat: bool,
        negative_slope: float,
        dropout: float,
        add_self_loops: bool,
        edge_dim: int | None,
        fill_value: float | Tensor | str,
    ) -> None:
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.dropout = dropout
        self.add_self_loops = add_self_loops
        self.edge_dim = edge_dim
        self.fill_value = fill_value

    @classmethod
    def _refuse_residual(cls, residual: bool) -> None:
        """Refuse PyG's ``residual=True``, which these layers do not implement.

        Raises:
            ValueError: for any ``residual`` other than ``False``, naming the option.
        """
        if residual is not False:
            raise ValueError(
                f"{cls.__name__} got residual={residual!r}: PyG's residual connection (a "
                "linear projection of the layer's input added to its output) is not "
                "implemented for spiking attention layers; leave residual=False (PyG's "
                "default). A model can still combine its layers' spikes with jumping "
                "knowledge, e.g. SpikingGAT(..., jk='cat')"
            )

    @staticmethod
    def _check_options(
        in_channels, out_channels, heads, dropout, edge_dim, fill_value
    ) -> tuple[int, int] | None:
        pair = split_channels(in_channels)
        check_channels(out_channels, "out_channels")
        if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
            raise ValueError(f"'heads' must be a positive int, got {heads!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must be in [0, 1), got {dropout}")
        if edge_dim is not None:
            check_channels(edge_dim, "edge_dim", lazy=True)
        fills = ("add", "mean", "min", "max", "mul")
        if isinstance(fill_value, str) and fill_value not in fills:
            raise ValueError(
                f"'fill_value' must be a number, a tensor or one of {list(fills)}, got "
                f"{fill_value!r}"
            )
        return pair

    def _widths(self) -> tuple[int, int]:
        if isinstance(self.in_channels, int):
            return self.in_channels, self.in_channels
        return self.in_channels[0], self.in_channels[1]

    def _transform(self, x: Tensor, lin: Linear) -> Tensor:
        """Linear map to heads, time folded into heads: ``[N, T'*H, C]`` (``T'=1`` if static)."""
        h = lin(x)
        if x.dim() == 2:
            return h.view(-1, self.heads, self.out_channels)
        return fold_time(h.view(x.size(0), x.size(1), self.heads, self.out_channels))

    def project(
        self, x_src: Tensor, x_dst: Tensor | None, bipartite: bool
    ) -> tuple[Tensor, Tensor | None]:  # pragma: no cover - abstract
        """Source and target features ``[N, T'*H, C]`` (target ``None`` if not given)."""
        raise NotImplementedError

    def _check_edge_attr(self, edge_attr: OptTensor, num_edges: int, dtype) -> OptTensor:
        if edge_attr is None:
            return None
        if self.lin_edge is None:
            raise ValueError(
                f"{type(self).__name__} got 'edge_attr' (shape {tuple(edge_attr.shape)}) but "
                "was built without edge features: pass edge_dim=<edge feature width> to use "
                "them, or leave edge_attr out"
            )
        check_features(edge_attr, "edge_attr")
        if edge_attr.dim() not in (1, 2) or edge_attr.size(0) != num_edges:
            raise ValueError(
                f"'edge_attr' must be [num_edges, edge_dim] or [num_edges] with "
                f"num_edges={num_edges}, got shape {tuple(edge_attr.shape)}"
            )
        edge_attr = edge_attr.view(-1, 1) if edge_attr.dim() == 1 else edge_attr
        check_width(edge_attr, self.edge_dim, "edge_attr")
        check_dtype(edge_attr, self.param_dtype(), "edge_attr")
        return edge_attr

    def _edge_term(self, edge_attr: Tensor, folded_heads: int) -> Tensor:
        """Edge features projected per head, ``[E, H, C]``, repeated for the folded steps:
        ``[E, T'*H, C]``. Edge features are static: every time step sees the same ones."""
        e = self.lin_edge(edge_attr).view(-1, self.heads, self.out_channels)
        steps = folded_heads // self.heads
        return e if steps == 1 else e.repeat(1, steps, 1)

    def attend(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        edge_attr: OptTensor = None,
        size: tuple[int, int] | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The synaptic current with the attention that made it.

        Returns:
            The current (``[N_dst, F]`` for a static input, ``[T', N_dst, F]`` otherwise), the
            edge index attended over (self-loops included) and the attention coefficients
            (``[E, H]`` for a static input, ``[T', E, H]`` for a train of ``T'`` steps).
        """
        bipartite = isinstance(x, (tuple, list))
        x_src, x_dst = (x[0], x[1]) if bipartite else (x, None)
        width_src, width_dst = self._widths()
        self._check_x(x_src, width_src, "x_src" if bipartite else "x")
        if not bipartite and width_dst != width_src:
            self._check_x(x_src, width_dst, "x")
        if x_dst is not None:
            self._check_x(x_dst, width_dst, "x_dst")
            self._check_pair(x_src, x_dst)
        elif bipartite and self.needs_x_dst:
            raise ValueError(
                f"{type(self).__name__} attends with the targets' features: a bipartite "
                "input needs x_dst (got None)"
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
        edge_attr = self._check_edge_attr(edge_attr, edge_index.size(1), x_src.dtype)

        static = x_src.dim() == 2
        h_src, h_dst = self.project(x_src, x_dst, bipartite)

        if self.add_self_loops:
            edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
            edge_index, edge_attr = add_self_loops(
                edge_index, edge_attr, fill_value=self.fill_value, num_nodes=min(num_src, num_dst)
            )

        alpha = self.compute_attention(edge_index, h_src, h_dst, edge_attr, size)
        out = self.propagate(edge_index, x=(h_src, h_dst), alpha=alpha, size=size)
        if not static:  # also for a one-step train: [1, N, F] stays a train
            out = unfold_time(out, x_src.size(0))
        out = out.flatten(-2) if self.concat else out.mean(dim=-2)
        if self.bias is not None:
            out = out + self.bias
        return out, edge_index, unfold_attention(alpha, self.heads, static)

    def compute_attention(
        self,
        edge_index: Tensor,
        h_src: Tensor,
        h_dst: Tensor | None,
        edge_attr: OptTensor,
        size: tuple[int, int] | None,
    ) -> Tensor:  # pragma: no cover - abstract
        """Attention coefficients ``[E, T'*H]`` (time folded into heads)."""
        raise NotImplementedError

    def current(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        edge_attr: OptTensor = None,
        size: tuple[int, int] | None = None,
    ) -> Tensor:
        """The synaptic current before normalisation and neurons.

        Returns ``[N_dst, F]`` for a static input and ``[T', N_dst, F]`` otherwise.
        """
        return self.attend(x, edge_index, edge_attr, size)[0]

    def forward(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        edge_attr: OptTensor = None,
        size: tuple[int, int] | None = None,
        return_attention_weights: bool | None = None,
    ) -> Tensor | tuple[Tensor, tuple[Tensor, Tensor]]:
        """Attend, normalise, fire: returns spikes ``[T, N_dst, F]``.

        With ``return_attention_weights`` true, returns ``(spikes, (edge_index, alpha))``
        (PyG's rule: ``None`` and ``False`` return the spikes alone): the ``[2, E]`` edge
        index attended over (self-loops included; also for a sparse ``adj_t`` input) and the
        coefficients, ``[E, H]`` for a static input (attended once, the same at every step)
        or ``[T', E, H]`` for a spike train of ``T'`` steps (the attention of step ``t``
        depends on that step's spikes).
        """
        current, edge_index, alpha = self.attend(x, edge_index, edge_attr, size)
        out = self.fire(current)
        if return_attention_weights:  # PyG's test: None and False give the output alone
            return out, (edge_index, alpha)
        return out

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

    def _finish_attention(
        self, alpha: Tensor, index: Tensor, ptr: OptTensor, dim_size: int | None
    ) -> Tensor:
        alpha = softmax(alpha, index, ptr, dim_size)
        return F.dropout(alpha, p=self.dropout, training=self.training)

    def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
        return alpha.unsqueeze(-1) * x_j

    def __repr__(self) -> str:
        edge = "" if self.edge_dim is None else f", edge_dim={self.edge_dim}"
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"heads={self.heads}{edge}, {self._spiking_repr()})"
        )


class SpikingGATConv(SpikingAttentionConv):
    r"""The spiking graph attention layer of GA-SNN, from Xu et al., "Exploiting Spiking Dynamics
    with Spatial-temporal Feature Normalization in Graph Learning" (IJCAI 2021): multi-head
    graph attention (Velickovic et al., ICLR 2018) over input spikes, STFN, LIF neurons.

    .. math::
        \alpha^{h}_{ij,t} = \mathrm{softmax}_j\big(\mathrm{LeakyReLU}(
        a_{src}^{h\top} W^h H_{j,t} + a_{dst}^{h\top} W^h H_{i,t}
        + a_{edge}^{h\top} W_e^h e_{ji})\big),\quad
        S_{i,t} = \big\Vert_h \sum_{j \in \mathcal{N}(i) \cup \{i\}} \alpha^{h}_{ij,t} W^h H_{j,t}
        + b

    followed by :math:`H^{out} = \mathrm{LIF}(\mathrm{STFN}(S))`; the edge term is there only
    with ``edge_dim`` and ``edge_attr``. Attention is computed for every time step of a spike
    train (a train of any length ``T'`` runs over its own steps); the steps are folded into
    the head dimension so one propagation serves them all. A static input ``[N, F]`` is
    attended to once and repeated for the layer's ``T`` steps. With ``spiking=False`` and
    ``norm="none"`` each step computes exactly :class:`torch_geometric.nn.conv.GATConv`
    (same parameter names: ``lin`` or ``lin_src``/``lin_dst``, ``att_src``, ``att_dst``,
    ``lin_edge``, ``att_edge``, ``bias``).

    Defaults: integrate-and-fire neurons (``tau=inf``), soft reset, no normalisation, the
    validated settings of spikegraph's benchmarks; ``**PAPER_NEURON`` (``norm="stfn",
    tau=2.0, reset="hard"``, :data:`spikegraph.models.PAPER_NEURON`) gives the paper's layer.

    Args:
        in_channels: Input width, ``-1`` for lazy initialisation, or a ``(source, target)``
            pair of widths (``(-1, -1)`` under :func:`torch_geometric.nn.to_hetero`), which
            gives separate source and target projections ``lin_src``/``lin_dst`` as in PyG.
        out_channels: Width per head.
        heads: Number of attention heads.
        concat: Concatenate the heads (else average them).
        negative_slope: LeakyReLU slope of the attention logits.
        dropout: Dropout on the attention coefficients.
        add_self_loops: Add self-loops.
        edge_dim: Width of the edge features ``edge_attr`` that enter the attention logits
            (``None``: no edge features).
        fill_value: Edge features of the added self-loops, as in PyG: a number, a tensor, or
            how to aggregate a node's incoming edge features (``"mean"``, ``"add"``, ...).
        bias: Learn an additive bias.
        residual: Only ``False`` (PyG's default): PyG's residual connection is not
            implemented, and ``residual=True`` is refused with a ``ValueError``.
        T, norm, rho, spiking, neuron: The spiking tail (time steps of a static input, the
            normalisation, the neurons as one object: ``LIF(tau=2.0)``, ``PLIF``,
            ``"alif"``, ...), as in
            :class:`~spikegraph.nn.conv.spiking.SpikingMessagePassing`.
        **kwargs: ``neuron_kwargs`` and the neuron's options by name (``tau=``,
            ``reset=``, ...), the rest passed to :class:`torch_geometric.nn.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(T', N, F_{in})` or static :math:`(N, F_{in})`, or
          a bipartite pair :math:`((T', N_{src}, F_{in}), (T', N_{dst}, F_{in}) \text{ or
          None})` with ``size``; edge indices :math:`(2, E)` or a sparse :math:`(N, N)`
          ``adj_t``; edge features :math:`(E, D)` *(optional)*
        - **output:** spikes :math:`(T', N_{dst}, H \cdot F_{out})` if ``concat`` else
          :math:`(T', N_{dst}, F_{out})` (:math:`T' = T` for a static input); with
          ``return_attention_weights=True``, also ``(edge_index, alpha)`` (see :meth:`forward`)
    """

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
        kwargs.setdefault("aggr", "add")
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
        self.lin = self.lin_src = self.lin_dst = None
        if pair is None:
            self.lin = Linear(
                in_channels, heads * out_channels, bias=False, weight_initializer="glorot"
            )
        else:
            self.lin_src = Linear(pair[0], heads * out_channels, False, weight_initializer="glorot")
            self.lin_dst = Linear(pair[1], heads * out_channels, False, weight_initializer="glorot")
        self.att_src = Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = Parameter(torch.empty(1, heads, out_channels))
        if edge_dim is not None:
            self.lin_edge = Linear(
                edge_dim, heads * out_channels, bias=False, weight_initializer="glorot"
            )
            self.att_edge = Parameter(torch.empty(1, heads, out_channels))
        else:
            self.lin_edge = None
            self.register_parameter("att_edge", None)
        if bias:
            self.bias = Parameter(torch.empty(heads * out_channels if concat else out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    edge_updater_type: ClassVar[dict] = {
        "alpha": Tuple[Tensor, Optional[Tensor]],  # noqa: UP006, UP045
        "edge_attr": Optional[Tensor],  # noqa: UP045
    }

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for lin in (self.lin, self.lin_src, self.lin_dst, self.lin_edge):
            if lin is not None:
                lin.reset_parameters()
        glorot(self.att_src)
        glorot(self.att_dst)
        glorot(self.att_edge)
        zeros(self.bias)

    def project(
        self, x_src: Tensor, x_dst: Tensor | None, bipartite: bool
    ) -> tuple[Tensor, Tensor | None]:
        if self.lin is not None:
            h_src = self._transform(x_src, self.lin)
            if not bipartite:
                return h_src, h_src
            return h_src, None if x_dst is None else self._transform(x_dst, self.lin)
        h_src = self._transform(x_src, self.lin_src)
        if bipartite and x_dst is None:
            return h_src, None
        return h_src, self._transform(x_src if not bipartite else x_dst, self.lin_dst)

    def compute_attention(self, edge_index, h_src, h_dst, edge_attr, size) -> Tensor:
        steps = h_src.size(1) // self.heads
        alpha_src = (h_src * self.att_src.repeat(1, steps, 1)).sum(dim=-1)
        alpha_dst = None
        if h_dst is not None:
            alpha_dst = (h_dst * self.att_dst.repeat(1, steps, 1)).sum(dim=-1)
        return self.edge_updater(
            edge_index, alpha=(alpha_src, alpha_dst), edge_attr=edge_attr, size=size
        )

    def edge_update(
        self,
        alpha_j: Tensor,
        alpha_i: OptTensor,
        edge_attr: OptTensor,
        index: Tensor,
        ptr: OptTensor,
        dim_size: int | None,
    ) -> Tensor:
        alpha = alpha_j if alpha_i is None else alpha_j + alpha_i
        if index.numel() == 0:
            return alpha
        if edge_attr is not None and self.lin_edge is not None:
            e = self._edge_term(edge_attr, alpha.size(-1))
            steps = alpha.size(-1) // self.heads
            alpha = alpha + (e * self.att_edge.repeat(1, steps, 1)).sum(dim=-1)
        alpha = F.leaky_relu(alpha, self.negative_slope)
        return self._finish_attention(alpha, index, ptr, dim_size)
