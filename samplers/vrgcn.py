r"""VR-GCN: neighbour sampling with control variates (Chen, Zhu & Song, "Stochastic Training of
Graph Convolutional Networks with Variance Reduction", ICML 2018)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.utils.data import get_worker_info

from .base import GraphInput, NodeSampler, check_fanouts, check_nodes, make_block
from .batch import Batch
from .graph import sample_positions, segment_gather, to_csr
from .history import ControlVariate, History


def gcn_coefficients(
    edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    r"""The coefficients of GCN's operator :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde
    D^{-1/2}` on the full graph (Kipf & Welling, ICLR 2017), as PyG's ``gcn_norm`` computes
    them.

    Degrees are weighted in-degrees plus the self-loop; a self-loop already in the graph
    keeps its weight (PyG's ``add_remaining_self_loops``), otherwise it has weight 1.

    Returns:
        ``(coef, self_coef, is_self)``: ``coef[e]`` is :math:`\hat A_{vu}` of edge
        ``e = (u, v)`` (its entry on a graph self-loop is meaningless: see ``is_self``),
        ``self_coef[v]`` is :math:`\hat A_{vv}`, ``is_self[e]`` marks graph self-loops.
    """
    src, dst = edge_index
    w = (
        torch.ones(src.numel(), dtype=torch.float64)
        if edge_weight is None
        else edge_weight.to(torch.float64)
    )
    is_self = src == dst
    self_w = torch.ones(num_nodes, dtype=torch.float64)
    self_w[dst[is_self]] = w[is_self]
    deg = torch.zeros(num_nodes, dtype=torch.float64).index_add_(0, dst[~is_self], w[~is_self])
    deg += self_w
    inv = deg.rsqrt()
    coef = inv[src] * w * inv[dst]
    return coef, self_w / deg, is_self


class VRGCNSampler(NodeSampler, name="vrgcn"):
    r"""Neighbour sampling with control variates on historical activations: VR-GCN (Chen, Zhu
    & Song, "Stochastic Training of Graph Convolutional Networks with Variance Reduction",
    ICML 2018).

    Every node of a layer draws ``num_neighbors`` in-neighbours uniformly without
    replacement (2 by default: the paper's :math:`D^{(l)} = 2`), hop by hop as GraphSAGE
    does, and the layer estimates GCN's aggregation :math:`(\hat A h)_v` by

    .. math::
        \hat A_{vv} h_v + \sum_{u \in S(v)} \frac{n_v}{s} \hat A_{vu}(h_u - \bar h_u)
        + \sum_{u \in N(v)} \hat A_{vu} \bar h_u

    with historical activations :math:`\bar h` kept per node and layer in
    :attr:`history` (:class:`~spikegraph.samplers.history.History`). The estimate is
    unbiased for any histories and exact with exact ones; its variance falls as the
    histories approach the activations. A node with at most ``s`` neighbours takes them
    all, exactly.

    A batch's blocks carry the sampled edges and self-loops with their final weights
    (``weights_final``) and a :class:`~spikegraph.samplers.history.ControlVariate` each;
    the model runs them with ``forward_blocks``, which reads the histories and writes the
    fresh activations of every block's sources (the time-mean of a spike train: firing
    rates). They do not run as one subgraph (``nested=False``), though each block's
    targets are the first of its sources.

    The input layer's history is the features (``input_history``): fixed and exact, as the
    paper precomputes :math:`\hat A X`; it shares the features' storage.

    With ``dropout_variate=True`` the blocks ask for the paper's control variate for
    dropout (CVD, its Sec. 5.1): the model runs a copy of itself without dropout, whose
    activations :math:`\mu` the histories hold, and adds a zero-mean dropout-noise term
    weighted :math:`\sqrt{n_v/s}\,\hat A_{vu}` (see :mod:`spikegraph.samplers.history`).
    With dropout, the plain estimate's variance keeps the dropout noise times
    :math:`n_v/s`; CVD's is that of the exact aggregation. PyG's ``GCN``
    (:func:`spikegraph.train.blocks.pyg_forward_blocks`) and the spiking GCN
    (:meth:`spikegraph.models.SpikingGCN.forward_blocks`) run it.

    Memory: one ``[N, F_l]`` float history per hidden layer, ``N * sum(F_hidden) * 4``
    bytes, allocated on first use; :attr:`memory_bytes` reports it.

    Args:
        graph: ``Data`` (its ``x`` is the input layer's history) or ``edge_index``.
        num_neighbors: Neighbours per node, per hop (top layer first), each ``>= 1`` or
            ``-1`` (all: exact).
        input_history: Use the graph's features ``x`` as the (static) history of the input
            layer; without them the input layer's history is written like the others.
        dropout_variate: Ask for CVD, the control variate for dropout (above): every
            block's :class:`~spikegraph.samplers.history.ControlVariate` carries its
            ``noise_weight``.
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: See :class:`~spikegraph.samplers.base.Sampler`.

    Attributes:
        history: The :class:`~spikegraph.samplers.history.History` of this training run
            (``None`` in a loader's worker processes, which only sample).
    """

    default_options: ClassVar[dict[str, Any]] = {"num_neighbors": [2, 2]}
    default_batch_size = 512
    per_layer_option = "num_neighbors"
    nested = False

    def __init__(
        self,
        graph: GraphInput,
        num_neighbors: Sequence[int],
        *,
        input_history: bool = True,
        dropout_variate: bool = False,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.num_neighbors = check_fanouts(num_neighbors)
        if not isinstance(dropout_variate, bool):
            raise TypeError(f"'dropout_variate' must be a bool, got {dropout_variate!r}")
        self.dropout_variate = dropout_variate
        super().__init__(graph, num_nodes=num_nodes, seed=seed, cache_dir=cache_dir)
        coef, self_coef, is_self = gcn_coefficients(
            self.edge_index, self.num_nodes, self.graph_edge_weight
        )
        keep = (~is_self).nonzero().view(-1)
        nbr = to_csr(self.edge_index[:, keep], self.num_nodes)
        self.nbr_rowptr, self.nbr_col = nbr.rowptr, nbr.col
        self.nbr_eid = keep.index_select(0, nbr.eid)
        self.nbr_coef = coef.index_select(0, self.nbr_eid).float()
        self.nbr_deg = nbr.deg
        self.self_coef = self_coef.float()
        self.history: History | None = History(self.num_nodes, self.num_layers)
        x = getattr(graph, "x", None)
        self.input_history = bool(input_history) and isinstance(x, Tensor)
        if self.input_history:
            if not x.is_floating_point() or x.dim() != 2 or x.size(0) != self.num_nodes:
                raise ValueError(
                    "input_history=True needs float features x of shape [num_nodes, F], got "
                    f"{x.dtype} {tuple(x.shape)}"
                )
            self.history.fill(0, x, static=True)

    @property
    def num_layers(self) -> int:
        return len(self.num_neighbors)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the histories (not counting the features they share)."""
        return 0 if self.history is None else self.history.memory_bytes

    def bind(self, batch: Batch) -> Batch:
        """Point the batch's control variates at :attr:`history` (in the training process)."""
        if self.history is not None:
            for block in batch.blocks:
                if block.history is not None:
                    block.history.store = self.history
        return batch

    def state_dict(self) -> dict[str, Any]:
        """The histories written so far (:meth:`History.state_dict`), for checkpoints."""
        return {} if self.history is None else {"history": self.history.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue with the histories of :meth:`state_dict`.

        Raises:
            ValueError: a state of another sampler or history (naming what differs).
        """
        if self.history is None or not isinstance(state, dict) or set(state) != {"history"}:
            super().load_state_dict(state)
            return
        self.history.load_state_dict(state["history"])

    def __getstate__(self) -> dict[str, Any]:
        # Workers only sample: the histories stay in the training process.
        state = dict(self.__dict__)
        state["history"] = None
        return state

    def sample(self, seeds: Tensor, *, generator: torch.Generator | None = None) -> Batch:
        seeds = check_nodes(seeds, self.num_nodes)
        gen = self._generator(generator)
        rl = self._relabel
        rl.start(seeds)
        hops: list[tuple[Tensor, ...]] = []
        try:
            frontier, offset = seeds, 0
            nodes, nodes_per_hop = [seeds], [seeds.numel()]
            for k in self.num_neighbors:
                hops.append(self._hop(frontier, offset, k, gen))
                new = hops[-1][-1]
                nodes.append(new)
                nodes_per_hop.append(new.numel())
                offset += frontier.numel()
                frontier = new
        finally:
            rl.reset()
        n_id = torch.cat(nodes)
        nodes_cum = torch.tensor(nodes_per_hop).cumsum(0).tolist()
        num_hops = len(hops)
        blocks = []
        for h in range(num_hops, 0, -1):
            parts = [torch.cat(p) for p in zip(*(hop[:-1] for hop in hops[:h]))]
            src, dst, w, noise_w, e_id, c_src, c_dst, c_w = parts
            size = (nodes_cum[h], nodes_cum[h - 1])
            block = make_block(src, dst, size, w, e_id)
            block.weights_final = True
            block.history = ControlVariate(
                layer=num_hops - h,
                n_id=n_id[: size[0]],
                src=c_src,
                dst=c_dst,
                weight=c_w,
                num_dst=size[1],
                noise_weight=noise_w if self.dropout_variate else None,
            )
            blocks.append(block)
        batch = Batch(
            n_id=n_id,
            blocks=blocks,
            target=seeds,
            num_sampled_nodes=nodes_per_hop,
            nested=False,
            layer_n_id=[n_id[: b.size[0]] for b in blocks],
        )
        if get_worker_info() is None:
            self.bind(batch)
        return batch

    def _hop(self, frontier: Tensor, offset: int, k: int, gen: torch.Generator) -> tuple:
        """Edges into ``frontier`` (local ids from ``offset``) and their corrections."""
        rl = self._relabel
        deg = self.nbr_deg.index_select(0, frontier)
        pos, owner = sample_positions(self.nbr_rowptr, frontier, k, False, gen)
        local, new = rl.add(self.nbr_col.index_select(0, pos))
        big = deg > k if k > 0 else torch.zeros_like(deg, dtype=torch.bool)
        scale = torch.where(big, deg.float() / max(k, 1), torch.ones(deg.shape))
        coef = self.nbr_coef.index_select(0, pos)
        w = coef * scale.index_select(0, owner)
        noise_w = coef * scale.sqrt().index_select(0, owner)  # CVD's sqrt(n_v / s) A_vu
        here = offset + torch.arange(frontier.numel())
        src = torch.cat([local, here])
        dst = torch.cat([owner + offset, here])
        self_w = self.self_coef.index_select(0, frontier)
        weight = torch.cat([w, self_w])
        noise_weight = torch.cat([noise_w, self_w])
        e_id = torch.cat([self.nbr_eid.index_select(0, pos), torch.full_like(here, -1)])
        # Corrections of the targets that sampled: + whole neighbourhood, - sampled part.
        big_idx = big.nonzero().view(-1)
        fpos, fown = segment_gather(self.nbr_rowptr, frontier.index_select(0, big_idx))
        sampled = big.index_select(0, owner)
        c_src = torch.cat(
            [self.nbr_col.index_select(0, fpos), self.nbr_col.index_select(0, pos[sampled])]
        )
        c_dst = torch.cat([offset + big_idx.index_select(0, fown), owner[sampled] + offset])
        c_w = torch.cat([self.nbr_coef.index_select(0, fpos), -w[sampled]])
        return src, dst, weight, noise_weight, e_id, c_src, c_dst, c_w, new

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_nodes={self.num_nodes}, "
            f"num_neighbors={self.num_neighbors}, input_history={self.input_history}"
            + (", dropout_variate=True" if self.dropout_variate else "")
            + ")"
        )


__all__ = ["VRGCNSampler", "gcn_coefficients"]
