"""Spiking graph convolution: the layer of GC-SNN (Xu et al., IJCAI 2021)."""

from __future__ import annotations

import warnings
from typing import ClassVar

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.nn.aggr import SumAggregation
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.typing import Adj, OptTensor, SparseTensor
from torch_geometric.utils import add_remaining_self_loops, is_sparse, scatter, spmm

from spikegraph._validation import (
    check_channels,
    check_dtype,
    check_edge_index,
    check_features,
    check_nonnegative_weights,
    check_width,
    data_checks_apply,
)
from spikegraph.nn.conv.spiking import SpikingMessagePassing
from spikegraph.nn.neurons import SpikingNeuron


def bipartite_gcn_norm(
    edge_index: Tensor,
    edge_weight: OptTensor,
    size: tuple[int, int],
    improved: bool = False,
    add_self_loops: bool = True,
    dtype: torch.dtype | None = None,
    dst_index: OptTensor = None,
) -> tuple[Tensor, Tensor]:
    r"""Symmetric GCN normalisation of a bipartite block ``src -> dst``.

    Target :math:`i` and source :math:`j` are scaled by their degrees inside the block,
    :math:`\hat w_{ji} = w_{ji} / \sqrt{d^{out}_j d^{in}_i}`. Self-loops join each target to
    its own row among the sources: row ``i`` for ``i < min(size)`` when ``dst_index`` is
    ``None`` (samplers list the targets first among the sources), else row ``dst_index[i]``
    (targets with ``-1``, absent from the sources, get none); existing self-loops keep their
    weight, as in PyG. On a square block of a symmetric graph this equals
    :func:`torch_geometric.nn.conv.gcn_conv.gcn_norm`.

    Args:
        edge_index: ``[2, E]`` local ids, sources in row 0 (``< size[0]``), targets in row 1
            (``< size[1]``).
        edge_weight: ``[E]`` weights, ones when ``None``.
        size: ``(num_src, num_dst)``.
        improved: Self-loop weight 2 instead of 1.
        add_self_loops: Add the self-loops described above.
        dtype: Dtype of the weights created when ``edge_weight`` is ``None``.
        dst_index: ``[num_dst]`` source row of each target (``-1``: not a source), or
            ``None`` when the targets are the first sources (see
            :class:`~spikegraph.samplers.Block`).

    Returns:
        The edge index (with self-loops) and the normalised weights.
    """
    num_src, num_dst = size
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device)
    if add_self_loops and dst_index is not None:
        fill = 2.0 if improved else 1.0
        dst = torch.arange(num_dst, device=edge_index.device)
        has = dst_index >= 0
        loops = torch.stack([dst_index[has], dst[has]])
        # A target's existing self-loop keeps its weight (PyG's add_remaining_self_loops).
        is_loop = edge_index[0] == dst_index.clamp(min=0)[edge_index[1]]
        is_loop &= has[edge_index[1]]
        loop_weight = torch.full((num_dst,), fill, dtype=edge_weight.dtype, device=dst.device)
        loop_weight[edge_index[1, is_loop]] = edge_weight[is_loop]
        edge_index = torch.cat([edge_index[:, ~is_loop], loops], dim=1)
        edge_weight = torch.cat([edge_weight[~is_loop], loop_weight[has]])
    elif add_self_loops:
        edge_index, edge_weight = add_remaining_self_loops(
            edge_index, edge_weight, 2.0 if improved else 1.0, min(num_src, num_dst)
        )
    src, dst = edge_index
    deg_src = scatter(edge_weight, src, 0, dim_size=num_src, reduce="sum")
    deg_dst = scatter(edge_weight, dst, 0, dim_size=num_dst, reduce="sum")
    inv_src = deg_src.pow(-0.5).masked_fill_(deg_src == 0, 0.0)
    inv_dst = deg_dst.pow(-0.5).masked_fill_(deg_dst == 0, 0.0)
    return edge_index, inv_src[src] * edge_weight * inv_dst[dst]


def aggregate_first(
    num_src: int, num_dst: int, num_edges: int, in_channels: int, out_channels: int
) -> bool:
    r"""Whether a GCN propagation :math:`\hat A X W` of a bipartite block is cheaper as
    :math:`(\hat A X) W` (aggregate the inputs, then transform the targets' rows) than as
    :math:`\hat A (X W)` (transform every source row, then aggregate).

    Counts multiply-adds: ``num_edges * in + num_dst * in * out`` against
    ``num_src * in * out + num_edges * out``, and takes the first only when it saves at
    least half (building the sparse operator has a cost of its own). A sampled block has
    far fewer targets than sources (GraphSAGE's [10, 10] on PubMed: 1,877 targets of 7,112
    sources), so its first layer transforms about a quarter of the rows.
    """
    first = num_edges * in_channels + num_dst * in_channels * out_channels
    last = num_src * in_channels * out_channels + num_edges * out_channels
    return 2 * first <= last


def block_operator(edge_index: Tensor, edge_weight: Tensor, size: tuple[int, int]) -> Tensor:
    r"""A block's coefficients as a sparse CSR matrix :math:`[N_{dst}, N_{src}]` whose row
    :math:`v` holds :math:`w_{uv}` at column :math:`u` (repeated edges summed), so that
    ``operator @ x`` is :math:`o_v = \sum_{u \to v} w_{uv} x_u`.

    Args:
        edge_index: ``[2, E]`` local ids, sources in row 0, targets in row 1.
        edge_weight: ``[E]`` coefficients (not differentiated through).
        size: ``(num_src, num_dst)``.
    """
    num_src, num_dst = size
    src, dst = edge_index
    order = torch.argsort(dst, stable=True)
    counts = torch.bincount(dst, minlength=num_dst)
    crow = torch.zeros(num_dst + 1, dtype=torch.long, device=dst.device)
    torch.cumsum(counts, 0, out=crow[1:])
    with warnings.catch_warnings():  # a supported use: skip torch's "beta" notice
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            crow,
            src.index_select(0, order),
            edge_weight.detach().index_select(0, order),
            (num_dst, num_src),
            check_invariants=False,
        )


def square_gcn_norm(
    edge_index: Adj,
    edge_weight: OptTensor,
    num_nodes: int,
    improved: bool = False,
    add_self_loops: bool = True,
    flow: str = "source_to_target",
    dtype: torch.dtype | None = None,
) -> tuple[Adj, OptTensor]:
    r"""GCN normalisation of a whole graph (Kipf & Welling, ICLR 2017), as
    :class:`SpikingGCNConv` applies it: PyG's
    :func:`~torch_geometric.nn.conv.gcn_conv.gcn_norm`, except that ``improved=True`` gives
    :math:`\hat A = A + 2I` for an edge index without weights too (PyG's adds loops of weight
    1 there), as the sparse and bipartite paths do.

    Returns:
        ``(edge_index, edge_weight)`` normalised; for a ``SparseTensor`` the normalised
        ``adj_t`` and ``None``.
    """
    if improved and edge_weight is None and not is_sparse(edge_index):
        edge_weight = torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device)
    out = gcn_norm(edge_index, edge_weight, num_nodes, improved, add_self_loops, flow, dtype)
    if isinstance(edge_index, SparseTensor):
        return out, None
    return out


def graph_fingerprint(
    edge_index: Adj,
    edge_weight: OptTensor,
    num_src: int,
    size: tuple[int, int] | None,
    content: bool = True,
) -> dict:
    """A copy of what defines a layer's input graph, to tell later whether a graph is the same.

    Holds the node counts, whether and in which dtype the graph has weights, and copies of
    the edge index (or a sparse ``adj_t``'s index and values) and the edge weights. Content is
    copied, not referenced: writes through ``.numpy()`` or ``.data`` do not bump a tensor's
    version counter, so only a comparison of content is sure to notice them.
    ``content=False`` keeps the sizes only (what a compiled graph can compare without
    branching on data).
    """
    if isinstance(edge_index, SparseTensor):
        row, col, value = edge_index.coo()
        parts = [row, col, value]
        names = ["adj_t's rows", "adj_t's columns", "adj_t's values"]
        shape = tuple(edge_index.sizes())
        num_edges = edge_index.nnz()
    elif is_sparse(edge_index):
        if edge_index.layout == torch.sparse_coo:
            parts = [edge_index._indices(), edge_index._values()]
            names = ["adj_t's indices", "adj_t's values"]
        else:
            parts = [edge_index.crow_indices(), edge_index.col_indices(), edge_index.values()]
            names = ["adj_t's row pointers", "adj_t's columns", "adj_t's values"]
        shape = tuple(edge_index.shape)
        num_edges = edge_index._nnz()
    else:
        parts = [edge_index]
        names = ["edge index"]
        shape = None
        num_edges = edge_index.size(1)
    weights = edge_weight if edge_weight is not None else (parts[-1] if shape else None)
    parts.append(edge_weight)
    names.append("edge weights")
    return {
        "num_src": num_src,
        "size": None if size is None else tuple(size),
        "shape": shape,
        "layout": getattr(edge_index, "layout", "SparseTensor"),
        "num_edges": int(num_edges),
        "weighted": edge_weight is not None,
        "weight_dtype": None if weights is None else str(weights.dtype).replace("torch.", ""),
        "names": names,
        "tensors": [None if t is None else t.detach().clone() for t in parts] if content else None,
    }


def same_graph(a: dict, b: dict) -> bool:
    """Whether two :func:`graph_fingerprint` results describe the same graph.

    The same graph has the same sizes and the same edges and weights by value: weights
    converted to another dtype or device without a change of value (a model's
    ``.double()``, ``.to(device)``) are the same graph, weights that change in the
    conversion are not.
    """
    return _graph_difference(a, b) is None


def _graph_difference(a: dict, b: dict) -> str | None:
    """What differs between two :func:`graph_fingerprint` results (the first thing found, as
    a clause for a message), ``None`` if nothing."""
    labels = {
        "num_src": "number of nodes",
        "size": "block size",
        "shape": "adj_t shape",
        "layout": "layout",
        "num_edges": "number of edges",
    }
    for key, label in labels.items():
        if a[key] != b[key]:
            return f"the {label} differs: {a[key]} vs {b[key]}"
    if a["weighted"] != b["weighted"]:
        return "one has edge weights, the other none"
    if a["tensors"] is None or b["tensors"] is None:  # one of them kept sizes only
        return None
    for name, s, t in zip(a["names"], a["tensors"], b["tensors"]):
        if (s is None) != (t is None):
            return f"one has {name}, the other none"
        if s is None:
            continue
        if s.shape != t.shape:
            return f"the shape of the {name} differs: {tuple(s.shape)} vs {tuple(t.shape)}"
        common = torch.promote_types(s.dtype, t.dtype)
        s_, t_ = s.to(t.device, common), t.to(common)
        if torch.equal(s_, t_):
            continue
        differ = s_ != t_
        if differ.dim() == 2:  # an edge index [2, E]: name the edge (column)
            k = int(differ.any(0).nonzero()[0])
            first, second = s[:, k].tolist(), t[:, k].tolist()
        else:
            k = int(differ.reshape(-1).nonzero()[0])
            first, second = s.reshape(-1)[k].item(), t.reshape(-1)[k].item()
        dtypes = "" if s.dtype == t.dtype else f" ({s.dtype} vs {t.dtype})"
        where = "edge" if name in ("edge index", "edge weights") else "entry"
        verb = "differ" if name.endswith("s") else "differs"
        return f"the {name} {verb} first at {where} {k}: {first!r} vs {second!r}{dtypes}"
    return None


def _describe_graph(fp: dict) -> str:
    nodes = f"{fp['num_src']} nodes" if fp["size"] is None else f"block of size {fp['size']}"
    dtype = fp["weight_dtype"]
    weights = "unweighted" if dtype is None else f"{dtype} edge weights"
    return f"{nodes} and {fp['num_edges']} edges, {weights}"


class SpikingGCNConv(SpikingMessagePassing):
    r"""The spiking graph convolution of GC-SNN, from Xu et al., "Exploiting Spiking Dynamics
    with Spatial-temporal Feature Normalization in Graph Learning" (IJCAI 2021): a GCN
    propagation (Kipf & Welling, ICLR 2017) of input spikes, STFN, then LIF neurons.

    .. math::
        S_t = \hat{D}^{-1/2} \hat{A} \hat{D}^{-1/2} H^{in}_t W + b,\qquad
        H^{out} = \mathrm{LIF}(\mathrm{STFN}(S))

    All ``T`` steps go through a single propagation, and the graph normalisation is computed
    once per forward (or once for good with ``cached=True``). A static input ``[N, F]`` (direct
    coding) is transformed and propagated once. With ``spiking=False`` and ``norm="none"``
    each step computes exactly :class:`torch_geometric.nn.conv.GCNConv`, with one exception
    on purpose: ``improved=True`` on an edge index without ``edge_weight``, where PyG adds
    self-loops of weight 1 (it applies ``improved`` only with weights) and this layer adds
    them with weight 2, :math:`\hat A = A + 2I`, as PyG does given unit weights or a sparse
    ``adj_t`` (:func:`square_gcn_norm`).

    Defaults: integrate-and-fire neurons (``tau=inf``), soft reset, no normalisation, the
    validated settings of spikegraph's benchmarks; ``**PAPER_NEURON`` (``norm="stfn",
    tau=2.0, reset="hard"``, :data:`spikegraph.models.PAPER_NEURON`) gives the paper's layer.

    Args:
        in_channels: Input width, or ``-1`` for lazy initialisation.
        out_channels: Output width.
        improved: Self-loop weight 2 (:math:`\hat A = A + 2I`).
        cached: Cache the normalised graph (transductive learning only).
        add_self_loops: Add self-loops (defaults to ``normalize``).
        normalize: Apply the symmetric normalisation on the fly.
        bias: Learn an additive bias.
        T, norm, rho, spiking, neuron: The spiking tail (time steps of a static input, the
            normalisation, the neurons as one object: ``LIF(tau=2.0)``, ``PLIF``,
            ``"alif"``, ...), as in
            :class:`~spikegraph.nn.conv.spiking.SpikingMessagePassing`.
        **kwargs: ``neuron_kwargs`` and the neuron's options by name (``tau=``,
            ``reset=``, ...), the rest passed to :class:`torch_geometric.nn.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(T, N, F_{in})` or static :math:`(N, F_{in})`, or a
          bipartite pair :math:`((T, N_{src}, F_{in}), (T, N_{dst}, F_{in}) \text{ or None})`
          with ``size=(N_src, N_dst)``; edge indices :math:`(2, E)` or a sparse
          :math:`(N, N)` ``adj_t`` (torch sparse, or ``torch_sparse.SparseTensor``);
          edge weights :math:`(E)` *(optional)*
        - **output:** spikes :math:`(T, N_{dst}, F_{out})`
    """

    #: The layer can aggregate with given final coefficients (``forward(normalize=False)``),
    #: as a sampler's block with ``weights_final`` needs.
    accepts_final_weights: ClassVar[bool] = True
    #: A bipartite call needs no features of the targets themselves (``x=(h_src, None)``).
    needs_target_features: ClassVar[bool] = False

    _cached_edge_index: tuple[Tensor, OptTensor] | None
    _cached_adj_t: Adj | None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        improved: bool = False,
        cached: bool = False,
        add_self_loops: bool | None = None,
        normalize: bool = True,
        bias: bool = True,
        T: int = 8,
        norm: str | None = "none",
        rho: float = 1.0,
        spiking: bool = True,
        neuron: SpikingNeuron | type[SpikingNeuron] | str | None = None,
        **kwargs,
    ) -> None:
        check_channels(in_channels, "in_channels", lazy=True)
        check_channels(out_channels, "out_channels")
        kwargs.setdefault("aggr", "add")
        kwargs.setdefault("node_dim", -2)
        super().__init__(
            out_channels,
            T=T,
            norm=norm,
            rho=rho,
            spiking=spiking,
            neuron=neuron,
            **kwargs,
        )
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError(
                "'SpikingGCNConv' cannot add self-loops (add_self_loops=True) when normalize=False"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.improved = improved
        self.cached = cached
        self.add_self_loops = add_self_loops
        self.normalize = normalize
        self._cached_edge_index = None
        self._cached_adj_t = None
        self._cached_graph: dict | None = None
        self.lin = Linear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        # Without neuron and normalisation the layer is linear in its input, so averaging its
        # output over time equals running it on the time-averaged input.
        self.time_linear = self.neuron is None and self.norm is None
        if bias:
            self.bias = Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.lin.reset_parameters()
        if self.bias is not None:
            torch.nn.init.zeros_(self.bias)
        self.reset_cache()

    def reset_cache(self) -> None:
        """Forget the cached normalised graph (``cached=True``): the next call caches anew."""
        self._cached_edge_index = None
        self._cached_adj_t = None
        self._cached_graph = None

    def _apply(self, fn, *args, **kwargs):
        """Convert the module (``.to()``, ``.double()``, ``.cuda()``, ...) and drop the cached
        normalised graph, which was computed in the old dtype and device: the next call
        normalises again, in the new ones. The record of which graph was cached stays, so
        that call must still pass that graph (its values, in any dtype or device)."""
        out = super()._apply(fn, *args, **kwargs)
        self._cached_edge_index = None
        self._cached_adj_t = None
        return out

    def current(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        edge_weight: OptTensor = None,
        size: tuple[int, int] | None = None,
        normalize: bool | None = None,
    ) -> Tensor:
        """The synaptic current :math:`S` before normalisation and neurons.

        ``normalize`` is the per-call switch of :meth:`forward`. Returns ``[N_dst, F_out]``
        for a static input and ``[T, N_dst, F_out]`` otherwise.
        """
        if normalize is not None and not isinstance(normalize, bool):
            raise TypeError(
                f"'normalize' must be True, False or None (the layer's setting), got {normalize!r}"
            )
        bipartite = isinstance(x, (tuple, list))
        x_src = x[0] if bipartite else x
        self._check_x(x_src, self.in_channels, "x_src" if bipartite else "x")
        num_src = x_src.size(-2)
        if bipartite:
            if x[1] is not None:
                check_features(x[1], "x_dst")
                check_width(x[1], self.in_channels, "x_dst")
                self._check_pair(x_src, x[1])
            if size is None:
                if x[1] is None:
                    raise ValueError("Bipartite input with x_dst=None needs 'size'")
                size = (num_src, x[1].size(-2))
            if size[0] != num_src:
                raise ValueError(f"'size[0]'={size[0]} differs from the {num_src} source nodes")
            if is_sparse(edge_index):
                raise TypeError("Bipartite input needs 'edge_index' as a [2, E] tensor")
        if edge_weight is not None:
            check_features(edge_weight, "edge_weight")
            check_dtype(edge_weight, x_src.dtype, "edge_weight")
        edge_index, edge_weight = self._normalized_graph(
            edge_index, edge_weight, num_src, size if bipartite else None, x_src.dtype, normalize
        )
        if bipartite and self._aggregates_first(x_src, edge_index, edge_weight, size):
            # (Â X) W: only the targets' rows are transformed (a sampled block).
            if edge_weight is None:
                edge_weight = torch.ones(edge_index.size(1), dtype=x_src.dtype, device=x_src.device)
            out = self.lin(block_operator(edge_index, edge_weight, size) @ x_src)
        elif bipartite:
            h = self.lin(x_src)
            out = self.propagate(edge_index, x=(h, None), edge_weight=edge_weight, size=size)
        else:
            h = self.lin(x_src)
            out = self.propagate(edge_index, x=h, edge_weight=edge_weight)
        if self.bias is not None:
            out = out + self.bias
        return out

    def forward(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        edge_weight: OptTensor = None,
        size: tuple[int, int] | None = None,
        normalize: bool | None = None,
    ) -> Tensor:
        r"""Propagate, normalise, fire: returns spikes ``[T, N_dst, F_out]``.

        Args:
            x: Node features, a spike train or a bipartite pair (see the class's shapes).
            edge_index: Edge indices or a sparse ``adj_t``.
            edge_weight: Edge weights.
            size: ``(N_src, N_dst)`` of a bipartite input.
            normalize: Per-call switch of the graph normalisation. ``None`` (default): the
                layer's own setting (``normalize``, ``add_self_loops``, ``cached``).
                ``False``: ``edge_weight`` are the final aggregation coefficients,
                :math:`S_v = \sum_u w_{uv} H_u W + b` -- no self-loops added, no
                normalisation, and the cache is neither read nor written (a sampler's block
                whose ``weights_final`` is set, or a graph normalised beforehand).
                ``True``: normalise with the layer's ``improved`` and ``add_self_loops``,
                without the cache.
        """
        return self.fire(self.current(x, edge_index, edge_weight, size, normalize))

    def _aggregates_first(
        self, x_src: Tensor, edge_index: Tensor, edge_weight: OptTensor, size: tuple[int, int]
    ) -> bool:
        """Whether this bipartite call computes :math:`(\\hat A X) W` (:func:`aggregate_first`):
        a static, strided input whose weights need no gradient, on a layer whose
        ``message`` is the plain weighted sum (a subclass's own stays on ``propagate``) and
        whose aggregation is the sum (the block operator sums; ``mean``, ``max``, ... go
        through ``propagate``, which applies them)."""
        return (
            x_src.dim() == 2
            and type(self.aggr_module) is SumAggregation
            and x_src.layout == torch.strided
            and not self._explain
            and not self._message_passing_hooks()
            and type(self).message is SpikingGCNConv.message
            and not (edge_weight is not None and edge_weight.requires_grad)
            and not isinstance(self.lin.weight, torch.nn.parameter.UninitializedParameter)
            and aggregate_first(
                size[0], size[1], edge_index.size(1), x_src.size(-1), self.out_channels
            )
        )

    def _message_passing_hooks(self) -> bool:
        """Whether any of PyG's propagate/message/aggregate hooks is registered (they only
        run through ``propagate``)."""
        return any(
            getattr(self, f"_{stage}_forward{pre}_hooks", None)
            for stage in ("propagate", "message", "aggregate", "message_and_aggregate")
            for pre in ("", "_pre")
        )

    def _normalized_graph(
        self,
        edge_index: Adj,
        edge_weight: OptTensor,
        num_src: int,
        size: tuple[int, int] | None,
        dtype: torch.dtype,
        normalize: bool | None = None,
    ) -> tuple[Adj, OptTensor]:
        """Check and (optionally) normalise the graph; at most once with ``cached=True``.

        A per-call ``normalize`` (not ``None``) bypasses the cache both ways."""
        sparse = is_sparse(edge_index)
        use_cache = self.cached and normalize is None
        if normalize is None:
            normalize = self.normalize
        cache = None
        if use_cache:
            cache = self._cached_adj_t if sparse else self._cached_edge_index
        fingerprint = None
        if use_cache:  # compiled graphs cannot compare contents: sizes only
            content = data_checks_apply()
            fingerprint = graph_fingerprint(edge_index, edge_weight, num_src, size, content)
        if use_cache:  # also after .to()/.double(), which drop the normalised graph only
            self._check_cached_graph(fingerprint)
        if cache is not None:
            return (cache, None) if sparse else cache
        if sparse:
            shape = edge_index.sizes() if isinstance(edge_index, SparseTensor) else edge_index.shape
            if tuple(shape[:2]) != (num_src, num_src):
                raise ValueError(
                    f"Sparse 'adj_t' has shape {tuple(shape)}, expected ({num_src}, {num_src})"
                )
        else:
            num_dst = num_src if size is None else size[1]
            check_edge_index(edge_index, num_src, num_dst)
            if edge_weight is not None and edge_weight.numel() != edge_index.size(1):
                raise ValueError(
                    f"'edge_weight' has {edge_weight.numel()} entries for "
                    f"{edge_index.size(1)} edges"
                )
        if normalize:
            self._check_weights(edge_index, edge_weight, sparse)
            if size is not None:
                edge_index, edge_weight = bipartite_gcn_norm(
                    edge_index, edge_weight, size, self.improved, self.add_self_loops, dtype
                )
            else:
                edge_index, edge_weight = square_gcn_norm(
                    edge_index,
                    edge_weight,
                    num_src,
                    self.improved,
                    self.add_self_loops,
                    self.flow,
                    dtype,
                )
        if use_cache:
            if sparse:
                self._cached_adj_t = edge_index
            else:
                self._cached_edge_index = (edge_index, edge_weight)
            self._cached_graph = fingerprint
        return edge_index, edge_weight

    @staticmethod
    def _check_weights(edge_index: Adj, edge_weight: OptTensor, sparse: bool) -> None:
        """Refuse weights that GCN normalisation turns into NaN (negative, non-finite)."""
        if sparse:
            if isinstance(edge_index, SparseTensor):
                values = edge_index.storage.value()
            elif edge_index.layout == torch.sparse_coo:
                values = edge_index._values()
            else:
                values = edge_index.values()
            if values is not None:
                check_features(values, "adj_t (stored edge weights)")
                check_nonnegative_weights(values, name="adj_t (stored edge weights)")
        elif edge_weight is not None:
            check_nonnegative_weights(edge_weight, edge_index)

    def _check_cached_graph(self, fingerprint: dict | None) -> None:
        """Refuse to serve the cached graph for a call with another graph."""
        cached = self._cached_graph
        if fingerprint is None or cached is None:
            return
        difference = _graph_difference(cached, fingerprint)
        if difference is None:
            return
        raise ValueError(
            f"{type(self).__name__} was built with cached=True and cached the normalised graph "
            f"of its first call ({_describe_graph(cached)}), but this call passes another graph "
            f"({_describe_graph(fingerprint)}): {difference}. cached=True only "
            "holds when every call uses "
            "the same graph (transductive, full-batch); use cached=False for mini-batches or "
            "a changing graph, or call reset_cache() to cache the new one"
        )

    def message(self, x_j: Tensor, edge_weight: OptTensor) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def message_and_aggregate(self, adj_t: Adj, x: Tensor) -> Tensor:
        if x.dim() == 2:
            return spmm(adj_t, x, reduce=self.aggr)
        T, N, F = x.shape
        flat = x.permute(1, 0, 2).reshape(N, T * F)
        out = spmm(adj_t, flat, reduce=self.aggr)
        return out.view(-1, T, F).permute(1, 0, 2)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"{self._spiking_repr()})"
        )


__all__ = [
    "SpikingGCNConv",
    "aggregate_first",
    "bipartite_gcn_norm",
    "block_operator",
    "graph_fingerprint",
    "same_graph",
    "square_gcn_norm",
]
