r"""Historical activations and the control variates of VR-GCN (Chen, Zhu & Song, "Stochastic
Training of Graph Convolutional Networks with Variance Reduction", ICML 2018).

VR-GCN keeps, for every node ``u`` and layer ``l``, a historical activation
:math:`\bar h^{(l)}_u` (the value ``u`` had at layer ``l``'s input when it was last computed)
and estimates a layer's aggregation :math:`(\hat A h)_v` from a couple of sampled neighbours
:math:`S(v)` with the control variate

.. math::
    (\hat A h)_v \approx \hat A_{vv} h_v
    + \sum_{u \in S(v)} \frac{n_v}{s} \hat A_{vu} (h_u - \bar h_u)
    + \sum_{u \in N(v)} \hat A_{vu} \bar h_u ,

unbiased for any histories, exact when the histories are exact, and with a variance that
shrinks with :math:`h - \bar h` (the paper's Eq. 5-6; the self term is taken exactly here,
since the target's own row is computed anyway). Only the sampled sources need fresh
activations; the last sum reads the histories of the whole neighbourhood.

How a batch carries this (see :mod:`spikegraph.samplers.batch`): the block's edges are the
sampled edges and the self-loops, with their final weights (``weights_final=True``):
:math:`\hat A_{vv}` and :math:`\frac{n_v}{s}\hat A_{vu}`. Everything that depends on the
histories is a per-target *correction*

.. math::
    c_v = \sum_{u \in N(v)} \hat A_{vu} \bar h_u - \sum_{u \in S(v)} \frac{n_v}{s}\hat A_{vu}
    \bar h_u ,

described by the block's :class:`ControlVariate` (signed coefficients on global ids) and
computed when the model runs, from the :class:`History` store at that moment: a sampler
(possibly in a worker process, ahead of training) cannot know the histories the model will
have written by then. :func:`control_variate_input` turns a block and the layer's input
into one weights-final aggregation (the corrections as extra source rows joined to their
targets with weight 1), so any layer that aggregates ``sum_u w_uv h_u W`` with given
coefficients (a GCN with ``normalize=False``) computes :math:`(\hat A_s h + c) W` unchanged,
and records the fresh activations of the block's sources into the store.

**Control variate for dropout** (CVD, the paper's Sec. 5.1). With dropout,
:math:`h - \bar h` stays large however close the histories are, so the estimate above keeps
a variance :math:`n_v/s` times the dropout noise's. CVD runs a copy of the model without
dropout beside it, whose activations :math:`\mu` approximate the mean of :math:`h` over the
dropout masks (weight scaling), keeps the histories :math:`\bar\mu` of :math:`\mu` instead, and
estimates

.. math::
    (\hat A h)_v \approx \hat A_{vv} \mathring h_v
    + \sum_{u \in S(v)} \sqrt{\tfrac{n_v}{s}}\, \hat A_{vu} \mathring h_u
    + \text{CV}(\mu)_v , \qquad \mathring h = h - \mu ,

where :math:`\text{CV}(\mu)` is the estimate above applied to :math:`\mu` (what the copy
without dropout aggregates). The noise term has mean zero over the masks, so the estimate
is unbiased; with exact histories and independent masks its variance over the sampling and
the masks is :math:`\sum_{u} \hat A_{vu}^2 \operatorname{Var} \mathring h_u`, the variance
of the exact aggregation of a dropped-out input. The block carries the noise term's
coefficients (:attr:`ControlVariate.noise_weight`: :math:`\sqrt{n_v/s}\,\hat A_{vu}` on the
sampled edges, :math:`\hat A_{vv}` on the self-loops) and the model adds
:func:`noise_aggregate` to the aggregation of :func:`control_variate_input` applied to
:math:`\mu`, which records :math:`\mu` in the histories.

What the history holds: the time-mean of the layer's input, ``h.mean(0)`` for a spike train
``[T, N, F]`` (the firing rates of a spiking layer) and ``h`` itself for a static ``[N, F]``
input. Aggregation is linear and the same at every step, so with rates :math:`\bar r` the
per-step estimate :math:`\hat A_s (S_t - \bar r) + \hat A \bar r` is unbiased for
:math:`\hat A S_t` at every step ``t``; rates are the part of a spike train that histories can
predict (the spike timing of the next pass is not), so they minimise
:math:`\mathbb E\|S_t - \bar h\|^2` among time-constant histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from .batch import BatchContractError


class History:
    """Per-node, per-layer historical activations :math:`\\bar h^{(l)}` of VR-GCN.

    Layer ``l`` holds the input of the model's layer ``l``: an ``[N, F_l]`` tensor allocated
    (zeros) on its first write, whose width then stays fixed. A layer set with
    :meth:`fill` and ``static=True`` (the input features: exact and fixed) is never written.

    Args:
        num_nodes: ``N``.
        num_layers: Number of layers (one history per layer input).
        device: Where the histories are kept (move them with :meth:`to`).

    Attributes:
        layers: One ``[N, F_l]`` tensor or ``None`` (not written yet) per layer.
        static: Per layer, whether it is fixed (filled from the features).
    """

    def __init__(
        self, num_nodes: int, num_layers: int, device: torch.device | str | None = None
    ) -> None:
        for name, v in (("num_nodes", num_nodes), ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"'{name}' must be a positive int, got {v!r}")
        self.num_nodes = num_nodes
        self.num_layers = num_layers
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.layers: list[Tensor | None] = [None] * num_layers
        self.static: list[bool] = [False] * num_layers

    def _check_layer(self, layer: int) -> int:
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise TypeError(f"history layer must be an int, got {layer!r}")
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"history layer {layer} is out of range [0, {self.num_layers})")
        return layer

    def fill(self, layer: int, values: Tensor, static: bool = True) -> None:
        """Set layer ``layer`` to ``values`` ``[N, F]`` (kept by reference when ``static``:
        a static layer is only read, never written)."""
        self._check_layer(layer)
        if not isinstance(values, Tensor) or values.dim() != 2:
            raise ValueError(f"history values must be an [N, F] tensor, got {values!r:.60}")
        if values.size(0) != self.num_nodes:
            raise ValueError(
                f"history of layer {layer} needs {self.num_nodes} rows, got {values.size(0)}"
            )
        if not values.is_floating_point():
            raise TypeError(f"history values must be floating point, got {values.dtype}")
        values = values.detach()
        self.layers[layer] = values if static else values.to(self.device).clone()
        self.static[layer] = bool(static)

    def read(self, layer: int, ids: Tensor, width: int, dtype: torch.dtype) -> Tensor:
        """Rows ``ids`` of layer ``layer`` (zeros for a layer not written yet): ``[len, F]``."""
        self._check_layer(layer)
        store = self.layers[layer]
        if store is None:
            return torch.zeros(ids.numel(), width, dtype=dtype, device=self.device)
        if store.size(1) != width:
            raise ValueError(
                f"history layer {layer} holds width {store.size(1)}, but the layer's input has "
                f"width {width}"
            )
        return store.index_select(0, ids.to(store.device)).to(dtype)

    def write(self, layer: int, ids: Tensor, values: Tensor) -> None:
        """Store ``values`` ``[len(ids), F]`` as the histories of nodes ``ids`` (detached);
        a static layer is left as it is."""
        self._check_layer(layer)
        if self.static[layer]:
            return
        if values.dim() != 2 or values.size(0) != ids.numel():
            raise ValueError(
                f"history write of layer {layer}: {tuple(values.shape)} values for "
                f"{ids.numel()} nodes"
            )
        store = self.layers[layer]
        if store is None:
            store = torch.zeros(
                self.num_nodes, values.size(1), dtype=values.dtype, device=self.device
            )
            self.layers[layer] = store
        elif store.size(1) != values.size(1):
            raise ValueError(
                f"history layer {layer} holds width {store.size(1)}, got values of width "
                f"{values.size(1)}"
            )
        store.index_copy_(0, ids.to(store.device), values.detach().to(store))

    def to(self, device: torch.device | str) -> History:
        """Move the histories (static ones too) to ``device``; returns ``self``."""
        self.device = torch.device(device)
        self.layers = [None if t is None else t.to(self.device) for t in self.layers]
        return self

    def reset(self) -> None:
        """Forget every history that is not static (they start again from zeros)."""
        self.layers = [t if s else None for t, s in zip(self.layers, self.static)]

    def state_dict(self) -> dict[str, Any]:
        """The written histories (CPU copies; ``None`` for a static layer, which the
        sampler fills from the features again, or a layer not written yet)."""
        return {
            "layers": [
                None if t is None or s else t.detach().cpu().clone()
                for t, s in zip(self.layers, self.static)
            ],
            "static": list(self.static),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` of a history of the same nodes and layers.

        Raises:
            ValueError: another number of layers, other static layers, or a layer that is
                not a floating ``[num_nodes, F]`` tensor (naming it).
        """
        if not isinstance(state, dict) or set(state) != {"layers", "static"}:
            raise ValueError(
                f"history state must be a dict of 'layers' and 'static', got {state!r:.80}"
            )
        layers, static = state["layers"], state["static"]
        if not isinstance(layers, list) or len(layers) != self.num_layers:
            raise ValueError(
                f"history state holds {len(layers) if isinstance(layers, list) else layers!r} "
                f"layers, this history has {self.num_layers}"
            )
        if list(static) != self.static:
            raise ValueError(
                f"history state has static layers {list(static)}, this history {self.static}"
            )
        for layer, values in enumerate(layers):
            if values is None:
                continue
            if not isinstance(values, Tensor) or not values.is_floating_point():
                raise ValueError(f"history state of layer {layer} is not a float tensor")
            if values.dim() != 2 or values.size(0) != self.num_nodes:
                raise ValueError(
                    f"history state of layer {layer} has shape {tuple(values.shape)}, expected "
                    f"[{self.num_nodes}, F]"
                )
        self.layers = [
            t if s else (None if v is None else v.to(self.device).clone())
            for t, s, v in zip(self.layers, self.static, layers)
        ]

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the histories the store owns (static layers share their storage
        with the features and are not counted; see :attr:`shared_bytes`)."""
        return sum(
            t.numel() * t.element_size()
            for t, s in zip(self.layers, self.static)
            if t is not None and not s
        )

    @property
    def shared_bytes(self) -> int:
        """Bytes of the static layers, which share the features' storage."""
        return sum(
            t.numel() * t.element_size()
            for t, s in zip(self.layers, self.static)
            if t is not None and s
        )

    def __repr__(self) -> str:
        widths = [None if t is None else int(t.size(1)) for t in self.layers]
        return (
            f"History(num_nodes={self.num_nodes}, widths={widths}, "
            f"memory={self.memory_bytes / 2**20:.1f} MiB)"
        )


@dataclass
class ControlVariate:
    r"""What one block needs for VR-GCN's control variate (see the module docstring).

    Attributes:
        layer: The history layer the block reads and writes: its index in the batch (the
            input of the model's layer ``layer``).
        n_id: ``[num_src]`` global ids of the block's sources: the rows of the history that
            the fresh activations of the block's input are written to.
        src: ``[C]`` global ids of the nodes whose histories enter the correction.
        dst: ``[C]`` local target ids (``< num_dst``) they are added to.
        weight: ``[C]`` signed coefficients: :math:`+\hat A_{vu}` over the whole
            neighbourhood, :math:`-\frac{n_v}{s}\hat A_{vu}` over the sampled neighbours.
            Targets whose every neighbour was taken have no entry (their correction is 0).
        num_dst: Number of targets.
        store: The :class:`History` the model reads and writes; bound in the training
            process (:meth:`~spikegraph.samplers.VRGCNSampler.bind`), ``None`` until then.
        noise_weight: ``[E]`` coefficients of the dropout-noise term of CVD (the control
            variate for dropout, see the module docstring) on each of the block's edges:
            :math:`\sqrt{n_v/s}\,\hat A_{vu}` on a sampled edge, :math:`\hat A_{vv}` on a
            self-loop. ``None`` (the default) for the plain control variate. A block with
            them must be run with the activations of the model without dropout
            (:func:`noise_aggregate`).
    """

    layer: int
    n_id: Tensor
    src: Tensor
    dst: Tensor
    weight: Tensor
    num_dst: int
    store: History | None = None
    noise_weight: Tensor | None = None

    @property
    def dropout_variate(self) -> bool:
        """Whether the block asks for CVD, the control variate for dropout."""
        return self.noise_weight is not None

    def _store(self) -> History:
        if self.store is None:
            raise BatchContractError(
                f"the control variate of block {self.layer} has no history store bound: "
                "bind the batch to its sampler's history (VRGCNSampler.bind(batch); a "
                "Loader does it for you)"
            )
        return self.store

    def correction(self, width: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        r"""The targets' corrections :math:`c` ``[num_dst, width]`` from the current histories."""
        hist = self._store().read(self.layer, self.src, width, dtype).to(device)
        out = torch.zeros(self.num_dst, width, dtype=dtype, device=device)
        w = self.weight.to(device=device, dtype=dtype).unsqueeze(1)
        return out.index_add_(0, self.dst.to(device), hist * w)

    def record(self, h: Tensor) -> None:
        """Write the time-mean of ``h`` (``[T, num_src, F]`` or ``[num_src, F]``) as the
        histories of the block's sources."""
        mean = h.detach().mean(dim=0) if h.dim() == 3 else h.detach()
        self._store().write(self.layer, self.n_id, mean)

    def to(self, device: torch.device | str) -> ControlVariate:
        return replace(
            self,
            n_id=self.n_id.to(device),
            src=self.src.to(device),
            dst=self.dst.to(device),
            weight=self.weight.to(device),
            noise_weight=None if self.noise_weight is None else self.noise_weight.to(device),
        )

    def validate(
        self,
        where: str,
        size: tuple[int, int],
        full: bool = True,
        num_edges: int | None = None,
    ) -> None:
        """Check shapes against the block's ``size`` (and ``noise_weight`` against its
        ``num_edges``); ``full`` also ranges and weights.

        Raises:
            BatchContractError: Naming the block and what is wrong.
        """
        num_src, num_dst = size
        if self.num_dst != num_dst:
            raise BatchContractError(
                f"{where}: control variate for {self.num_dst} targets, block has {num_dst}"
            )
        if self.n_id.shape != (num_src,):
            raise BatchContractError(
                f"{where}: control variate n_id has shape {tuple(self.n_id.shape)}, expected "
                f"({num_src},)"
            )
        c = self.src.numel()
        if self.dst.shape != (c,) or self.weight.shape != (c,) or self.src.dim() != 1:
            raise BatchContractError(
                f"{where}: control variate src/dst/weight shapes differ: "
                f"{tuple(self.src.shape)}, {tuple(self.dst.shape)}, {tuple(self.weight.shape)}"
            )
        noise = self.noise_weight
        if noise is not None and (
            noise.dim() != 1 or (num_edges is not None and noise.numel() != num_edges)
        ):
            raise BatchContractError(
                f"{where}: control variate noise_weight has shape {tuple(noise.shape)}, "
                f"expected one weight per edge ({num_edges},)"
            )
        if not full:
            return
        if c and (int(self.dst.min()) < 0 or int(self.dst.max()) >= num_dst):
            raise BatchContractError(f"{where}: control variate target id out of [0, {num_dst})")
        if c and not bool(torch.isfinite(self.weight).all()):
            raise BatchContractError(f"{where}: control variate weight is not finite")
        if noise is not None and not bool(torch.isfinite(noise).all()):
            raise BatchContractError(f"{where}: control variate noise_weight is not finite")


def control_variate_input(
    h: Tensor,
    edge_index: Tensor,
    edge_weight: Tensor,
    size: tuple[int, int],
    cv: ControlVariate,
) -> tuple[Tensor, Tensor, Tensor, tuple[int, int]]:
    r"""One weights-final aggregation that computes VR-GCN's estimate :math:`\hat A_s h + c`.

    Reads the corrections :math:`c` from the histories (before writing), records the fresh
    activations of the block's sources (the time-mean of ``h``), and appends the corrections
    as ``num_dst`` extra source rows (broadcast over the time steps of a spike train), each
    joined to its target by an edge of weight 1. A layer that computes
    :math:`\sum_u w_{uv} h_u W + b` with the given weights then computes
    :math:`(\hat A_s h + c) W + b`.

    Args:
        h: The layer's input over the block's sources, ``[T, num_src, F]`` or
            ``[num_src, F]`` (strided).
        edge_index: The block's ``[2, E]`` local edges.
        edge_weight: Their final weights ``[E]``.
        size: ``(num_src, num_dst)``.
        cv: The block's :class:`ControlVariate`, bound to a :class:`History`.

    Returns:
        ``(h_aug, edge_index_aug, edge_weight_aug, (num_src + num_dst, num_dst))``.
    """
    num_src, num_dst = size
    if h.size(-2) != num_src:
        raise ValueError(f"the block has {num_src} sources, its input has {h.size(-2)} rows")
    corr = cv.correction(h.size(-1), h.dtype, h.device)
    cv.record(h)
    if h.dim() == 3:
        corr = corr.unsqueeze(0).expand(h.size(0), -1, -1)
    h_aug = torch.cat([h, corr], dim=-2)
    rows = torch.arange(num_dst, device=edge_index.device)
    extra = torch.stack([rows + num_src, rows])
    ei = torch.cat([edge_index, extra], dim=1)
    w = torch.cat([edge_weight, torch.ones(num_dst, dtype=edge_weight.dtype, device=rows.device)])
    return h_aug, ei, w, (num_src + num_dst, num_dst)


def noise_aggregate(h: Tensor, mean: Tensor, edge_index: Tensor, cv: ControlVariate) -> Tensor:
    r"""CVD's dropout-noise term :math:`\hat A_{vv}\mathring h_v + \sum_{u \in S(v)}
    \sqrt{n_v/s}\,\hat A_{vu} \mathring h_u` per target, with :math:`\mathring h = h - \mu`
    (see the module docstring): what a layer adds, times its weight, to its aggregation of
    ``mean`` by :func:`control_variate_input`.

    Args:
        h: The layer's input with dropout, over the block's sources (``[T, num_src, F]``
            or ``[num_src, F]``).
        mean: The same input computed without dropout (:math:`\mu`), same shape.
        edge_index: The block's ``[2, E]`` local edges.
        cv: The block's :class:`ControlVariate`, with ``noise_weight``.

    Returns:
        ``[..., num_dst, F]``.

    Raises:
        BatchContractError: for a block without ``noise_weight`` (not a CVD block).
        ValueError: for ``h`` and ``mean`` of different shapes.
    """
    if cv.noise_weight is None:
        raise BatchContractError(
            f"block {cv.layer} carries no noise_weight: it asks for the plain control variate "
            "(VRGCNSampler(..., dropout_variate=False)), not CVD"
        )
    if h.shape != mean.shape:
        raise ValueError(
            f"CVD needs the layer's input with and without dropout in the same shape, got "
            f"{tuple(h.shape)} and {tuple(mean.shape)}"
        )
    return aggregate(h - mean, edge_index, cv.noise_weight, cv.num_dst)


def uses_dropout_variate(blocks: Sequence[Any]) -> bool:
    """Whether a batch's blocks ask for CVD, the control variate for dropout: all of them
    (a block with a :class:`ControlVariate` whose ``noise_weight`` is set), or none.

    Raises:
        BatchContractError: for a batch where some blocks ask for it and others do not (a
            model runs all its layers with the copy without dropout, or none).
    """
    flags = [getattr(b, "history", None) is not None and b.history.dropout_variate for b in blocks]
    if any(flags) and not all(flags):
        raise BatchContractError(
            "blocks "
            + ", ".join(str(i) for i, f in enumerate(flags) if not f)
            + " do not ask for VR-GCN's control variate for dropout (CVD) while others do: "
            "a model runs all of a batch's layers with it or none"
        )
    return any(flags)


def aggregate(h: Tensor, edge_index: Tensor, edge_weight: Tensor, num_dst: int) -> Tensor:
    r""":math:`\sum_u w_{uv} h_u` per target: the aggregation of a weights-final block."""
    out = h.new_zeros((*h.shape[:-2], num_dst, h.size(-1)))
    msg = h.index_select(-2, edge_index[0]) * edge_weight.to(h.dtype).unsqueeze(-1)
    return out.index_add_(-2, edge_index[1], msg)


__all__ = [
    "ControlVariate",
    "History",
    "aggregate",
    "control_variate_input",
    "noise_aggregate",
    "uses_dropout_variate",
]
