r"""AS-GCN: adaptive layer-wise sampling with a learned, self-dependent sampling function
(Huang, Zhang, Rong & Huang, "Adaptive Sampling Towards Fast Graph Representation Learning",
NeurIPS 2018)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ._layerwise import check_layer_sizes
from .base import GraphInput, NodeSampler, check_nodes
from .batch import Batch, Block
from .graph import segment_gather, to_csr
from .skip import skip_block
from .vrgcn import gcn_coefficients


class SamplingFunction(nn.Module):
    r"""AS-GCN's self-dependent function :math:`g(x_u) = \mathrm{ReLU}(W_g x_u + b)`.

    Starts at :math:`W_g = 0, b = 1` (:math:`g \equiv 1`), where the layer distribution is
    :math:`q(u) \propto \sum_v \hat A_{vu}`, the uniform-like start that training improves.
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        # Set directly (no random initialisation: a sampler never draws from torch's global
        # generator).
        self.weight = nn.Parameter(torch.zeros(in_channels))
        self.bias = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x @ self.weight + self.bias)


def check_finite_features(x: Tensor, name: str = "x") -> Tensor:
    """Return the features ``x`` ``[N, F]`` if every entry is finite, else raise naming the
    first non-finite one by node and column.

    ``g(x_u)`` of a non-finite feature is NaN or infinite, and so would be the layer
    distribution :func:`layer_distribution` draws from. The check follows
    ``spikegraph._validation.check_features`` (one reduction; the entries themselves are
    inspected only when the sum is not finite), which the zoo cannot import.

    Raises:
        ValueError: naming the node, the column and the value.
    """
    if x.numel() == 0 or bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all()):
        return x
    node, col = (~torch.isfinite(x)).nonzero()[0].tolist()
    raise ValueError(
        f"'{name}' holds a non-finite feature at node {node}, column {col} "
        f"({x[node, col].item()}): AS-GCN's sampling function g(x) needs finite features"
    )


def layer_distribution(g: Tensor, column_sum: Tensor, mix: float) -> Tensor:
    r"""AS-GCN's layer distribution over the candidates ``u`` (the paper's Eq. 10):

    .. math::
        q(u) = (1 - \epsilon)\frac{g(x_u) \sum_v \hat A_{vu}}{\sum_{u'} g(x_{u'})
        \sum_v \hat A_{vu'}} + \epsilon \frac{\sum_v \hat A_{vu}}{\sum_{u'}\sum_v\hat A_{vu'}}

    The mixture with :math:`\epsilon` (``mix``) keeps :math:`q(u) > 0` wherever
    :math:`\hat A_{vu} > 0` (the ReLU can vanish), which the estimator needs to stay unbiased.
    """
    gs = g * column_sum
    total = gs.sum()
    base = column_sum / column_sum.sum()
    if float(total.detach()) <= 0:
        return base
    return (1 - mix) * gs / total + mix * base


@dataclass
class LayerDraw:
    """What one layer's draw needs for the variance loss (global ids, CPU).

    Attributes:
        support: ``[M]`` candidate nodes (the upper layer's in-neighbours and itself).
        column_sum: ``[M]`` :math:`\\sum_v \\hat A_{vu}` over the upper layer.
        column_sq: ``[M]`` :math:`\\sum_v \\hat A_{vu}^2`.
        chosen: ``[S]`` positions in ``support`` of the drawn nodes (the block's sources).
        counts: ``[S]`` how often each was drawn (``counts.sum()`` is the layer size).
    """

    support: Tensor
    column_sum: Tensor
    column_sq: Tensor
    chosen: Tensor
    counts: Tensor


@dataclass(repr=False)  # Batch's short repr, not every tensor of the draws
class ASGCNBatch(Batch):
    """A :class:`~spikegraph.samplers.Batch` with each layer's draw (``draws[i]`` made block
    ``i``), for :meth:`ASGCNSampler.variance_loss`."""

    draws: list[LayerDraw] | None = None


class ASGCNSampler(NodeSampler, name="asgcn"):
    r"""Adaptive layer-wise sampling of AS-GCN (Huang, Zhang, Rong & Huang, "Adaptive Sampling
    Towards Fast Graph Representation Learning", NeurIPS 2018).

    Top-down, each layer draws ``layer_sizes[l]`` nodes i.i.d. from a distribution
    conditioned on the layer above, :math:`q(u) \propto g(x_u)\sum_{v} \hat A_{vu}` over the
    upper layer's nodes ``v`` (:func:`layer_distribution`), where ``g`` is the learned
    self-dependent function :class:`SamplingFunction` of the node's features. A block's
    weights are the importance-sampling coefficients
    :math:`w_{vu} = c_u \hat A_{vu} / (n\, q(u))` (``c_u`` draws of ``u`` among ``n``), final
    and unbiased: :math:`\mathbb E \sum_u w_{vu} h_u = (\hat A h)_v`. Blocks do not nest
    (``dst_index`` says where a target sits among the sources, ``-1`` when not drawn).

    ``g`` is trained on the paper's variance loss (:meth:`variance_loss`): the sampled
    estimate of the estimator's variance as a differentiable function of ``q``.
    With ``learn=True`` every batch the loader hands out takes one Adam step of ``g``
    (:meth:`bind`, in the training process), so it trains jointly with the model. Draws
    use ``g`` as it was at the start of the epoch (:meth:`sync`), so that batches are the
    same for any number of loader workers (not with ``persistent_workers``, whose copies
    never update).

    Follows the paper: the layer-wise, top-down conditional sampling; ``q`` from
    :math:`\hat A` and :math:`g(x) = \mathrm{ReLU}(W_g x)`; i.i.d. draws and the
    importance weights; ``g`` learned by minimising the variance. Differs: ``q`` is mixed
    with ``mix`` of its ``g``-free part so it never vanishes where ``\hat A > 0``; the
    variance loss takes :math:`\|h_u\|` from the features (or from activations the caller
    passes) and trains ``g`` with its own optimiser, not through the classification loss's
    gradient.

    With ``skip_connection=True`` every block ``i >= 1`` carries the paper's skip block
    (Sec. 3.4, ``Block.skip``, :func:`~spikegraph.samplers.skip.skip_block`): the product
    of block ``i``'s and block ``i - 1``'s coefficient matrices, an unbiased estimate of
    :math:`\hat A^2` from block ``i - 1``'s sources to block ``i``'s targets, through which
    models add :math:`\hat A_{skip} h^{(i-1)} W^{(i-1)} W^{(i)}` to layer ``i``'s
    pre-activation (:math:`W_{skip}` tied to the two layers' weights, as in the paper).
    The draws are the same with and without it.

    Args:
        graph: ``Data`` with features ``x`` (``g``'s input; finite, see
            :func:`check_finite_features`).
        layer_sizes: Nodes drawn per layer, one per block, input layer first (as FastGCN's and
            LADIES's; the top layer draws first), each ``>= 1``; or one int for every layer
            (then give ``num_layers``).
        num_layers: Number of blocks; must match a list of ``layer_sizes``.
        learn: Train ``g`` one step per batch handed out by a loader.
        lr: Adam learning rate of ``g``.
        mix: :math:`\epsilon` of :func:`layer_distribution`, in ``(0, 1]``.
        skip_connection: Give every block ``i >= 1`` the paper's skip block (see above).
        num_nodes: Required with an ``edge_index`` (then ``x`` must be given).
        x: Features, when ``graph`` is an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: See :class:`~spikegraph.samplers.base.Sampler`.

    Raises:
        ValueError: for features that are missing, of the wrong shape or not finite
            (naming the first non-finite node and column).
    """

    #: 4096 nodes per layer: chosen on PubMed's validation nodes by
    #: ``benchmarks/sampler_sizes_sweep.py`` (512: 85.6%, 4096: 90.6% mean validation accuracy).
    default_options: ClassVar[dict[str, Any]] = {"layer_sizes": [4096, 4096]}
    default_batch_size = 256
    nested = False
    per_layer_option = "layer_sizes"

    def __init__(
        self,
        graph: GraphInput,
        layer_sizes: int | Sequence[int],
        *,
        num_layers: int | None = None,
        learn: bool = True,
        lr: float = 0.01,
        mix: float = 0.1,
        skip_connection: bool = False,
        num_nodes: int | None = None,
        x: Tensor | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.layer_sizes = check_layer_sizes(layer_sizes, num_layers)
        if any(k < 1 for k in self.layer_sizes):  # -1 (an exact layer) is FastGCN's and LADIES's
            raise ValueError(f"'layer_sizes' must all be >= 1, got {self.layer_sizes}")
        if isinstance(mix, bool) or not isinstance(mix, (int, float)) or not 0 < mix <= 1:
            raise ValueError(f"'mix' must be in (0, 1], got {mix!r}")
        if not isinstance(skip_connection, bool):
            raise TypeError(f"'skip_connection' must be True or False, got {skip_connection!r}")
        self.skip_connection = skip_connection
        super().__init__(graph, num_nodes=num_nodes, seed=seed, cache_dir=cache_dir)
        x = getattr(graph, "x", None) if x is None else x
        if not isinstance(x, Tensor) or x.dim() != 2 or x.size(0) != self.num_nodes:
            raise ValueError(
                "ASGCNSampler needs node features x of shape [num_nodes, F] for its sampling "
                f"function, got {None if x is None else tuple(x.shape)}"
            )
        self.x = check_finite_features(x.detach().float().cpu())
        coef, self_coef, is_self = gcn_coefficients(
            self.edge_index, self.num_nodes, self.graph_edge_weight
        )
        keep = (~is_self).nonzero().view(-1)
        nbr = to_csr(self.edge_index[:, keep], self.num_nodes)
        self.nbr_rowptr, self.nbr_col = nbr.rowptr, nbr.col
        self.nbr_eid = keep.index_select(0, nbr.eid)
        self.nbr_coef = coef.index_select(0, self.nbr_eid)
        self.self_coef = self_coef
        self.mix = float(mix)
        self.learn = bool(learn)
        self.g = SamplingFunction(self.x.size(1))
        self._g_draw = SamplingFunction(self.x.size(1))
        self._g_draw.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.g.parameters(), lr=lr)
        self.lr = lr

    def sync(self) -> None:
        """Draw from the current ``g`` from now on."""
        self._g_draw.load_state_dict(self.g.state_dict())

    def start_epoch(self) -> None:
        """:meth:`sync` as a loader starts an epoch, so that worker processes, which get a
        copy of the sampler per epoch, draw exactly what the training process would (and
        the whole epoch draws from one ``g``, whatever else asks the loader for its plan)."""
        self.sync()

    def state_dict(self) -> dict[str, Any]:
        """The sampling function ``g`` (learned and the one drawn from) and its optimiser."""
        return {
            "g": dict(self.g.state_dict()),
            "g_draw": dict(self._g_draw.state_dict()),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue with the sampling function and optimiser of :meth:`state_dict`.

        Raises:
            ValueError: a state of another sampler (naming what does not fit).
        """
        if not isinstance(state, dict) or set(state) != {"g", "g_draw", "optimizer"}:
            raise ValueError(
                f"{type(self).__name__} state must hold 'g', 'g_draw' and 'optimizer', got "
                f"{sorted(state) if isinstance(state, dict) else state!r}"
            )
        try:
            self.g.load_state_dict(state["g"])
            self._g_draw.load_state_dict(state["g_draw"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise ValueError(
                f"{type(self).__name__} state does not fit this sampler: {err}"
            ) from err

    @property
    def num_layers(self) -> int:
        return len(self.layer_sizes)

    def sample(self, seeds: Tensor, *, generator: torch.Generator | None = None) -> Batch:
        seeds = check_nodes(seeds, self.num_nodes)
        gen = self._generator(generator)
        upper = seeds
        blocks: list[Block] = []
        draws: list[LayerDraw] = []
        ids: list[Tensor] = []
        for n in reversed(self.layer_sizes):  # the top layer draws first
            block, draw, lower = self._layer(upper, n, gen)
            blocks.append(block)
            draws.append(draw)
            ids.append(lower)
            upper = lower
        blocks.reverse()
        draws.reverse()
        ids.reverse()
        if self.skip_connection:
            for i in range(1, len(blocks)):
                blocks[i] = replace(blocks[i], skip=skip_block(blocks[i - 1], blocks[i]))
        return ASGCNBatch(
            n_id=ids[0],
            blocks=blocks,
            target=seeds,
            nested=False,
            layer_n_id=ids,
            draws=draws,
        )

    def _layer(self, upper: Tensor, n: int, gen: torch.Generator) -> tuple:
        """One block: ``n`` draws conditioned on ``upper``; returns (block, draw, sources)."""
        pos, owner = segment_gather(self.nbr_rowptr, upper)
        here = torch.arange(upper.numel())
        cand = torch.cat([self.nbr_col.index_select(0, pos), upper])
        dst = torch.cat([owner, here])
        coef = torch.cat(
            [self.nbr_coef.index_select(0, pos), self.self_coef.index_select(0, upper)]
        )
        e_id = torch.cat([self.nbr_eid.index_select(0, pos), torch.full_like(here, -1)])
        support, inv = torch.unique(cand, return_inverse=True)
        m = support.numel()
        col_sum = torch.zeros(m, dtype=torch.float64).index_add_(0, inv, coef)
        col_sq = torch.zeros(m, dtype=torch.float64).index_add_(0, inv, coef * coef)
        with torch.no_grad():
            q = layer_distribution(self._g_draw(self.x[support]).double(), col_sum, self.mix)
        draw = torch.multinomial(q, n, replacement=True, generator=gen)
        counts = torch.bincount(draw, minlength=m)
        chosen = counts.nonzero().view(-1)
        row = torch.full((m,), -1, dtype=torch.long)
        row[chosen] = torch.arange(chosen.numel())
        src = row[inv]
        kept = src >= 0
        w = coef * counts[inv] / (n * q[inv])
        block = Block(
            edge_index=torch.stack([src[kept], dst[kept]]),
            edge_weight=w[kept].float(),
            size=(int(chosen.numel()), int(upper.numel())),
            e_id=e_id[kept],
            weights_final=True,
            dst_index=row[inv[-upper.numel() :]] if upper.numel() else here,
        )
        draw_info = LayerDraw(support, col_sum, col_sq, chosen, counts[chosen])
        return block, draw_info, support[chosen]

    def variance_loss(self, batch: ASGCNBatch, h: Sequence[Tensor] | None = None) -> Tensor:
        r"""The paper's variance loss, differentiable in ``g``'s parameters.

        For a layer with ``n`` i.i.d. draws :math:`u \sim q` below upper nodes ``v``, the
        part of :math:`\sum_v \mathrm{Var}_q[\hat\mu_v]` that depends on ``q`` is

        .. math::
            \frac1n\sum_u \frac{\sum_v \hat A_{vu}^2 \|h_u\|^2}{q(u)} .

        With ``h=None`` it takes :math:`h_u = x_u` (the features, known on every candidate)
        and computes this sum exactly over the candidates. With activations of the drawn
        nodes only (``h``) it uses the paper's sampled estimate
        :math:`\frac1{n^2}\sum_j \sum_v \hat A_{vu_j}^2\|h_{u_j}\|^2 / q(u_j)^2`
        (unbiased; its gradient in ``q`` is twice the true one in expectation, but heavy
        tailed where ``q`` is small). Summed over the layers, divided by the targets.

        Args:
            batch: A batch of this sampler.
            h: Per block, ``[num_src, F]`` activations of its sources (e.g. the layer's
                input as the model computed it), or ``None``.
        """
        if not isinstance(batch, ASGCNBatch) or batch.draws is None:
            raise TypeError("variance_loss needs a batch drawn by an ASGCNSampler")
        total = torch.zeros((), dtype=torch.float64)
        for i, draw in enumerate(batch.draws):
            q = layer_distribution(self.g(self.x[draw.support]).double(), draw.column_sum, self.mix)
            n = float(draw.counts.sum())
            if h is None:
                norm2 = self.x[draw.support].double().pow(2).sum(-1)
                total = total + (draw.column_sq * norm2 / q).sum() / n
            else:
                norm2 = h[i].detach().cpu().double().pow(2).sum(-1)
                q_c = q[draw.chosen]
                term = draw.counts * draw.column_sq[draw.chosen] * norm2 / q_c**2
                total = total + term.sum() / (n * n)
        return total / batch.num_targets

    def bind(self, batch: Batch) -> Batch:
        """With ``learn``, one Adam step of ``g`` on the batch's variance loss."""
        if self.learn and isinstance(batch, ASGCNBatch) and batch.draws is not None:
            self.optimizer.zero_grad(set_to_none=True)
            self.variance_loss(batch).backward()
            self.optimizer.step()
        return batch

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_nodes={self.num_nodes}, "
            f"layer_sizes={self.layer_sizes}, learn={self.learn}, mix={self.mix}"
            + (", skip_connection=True" if self.skip_connection else "")
            + ")"
        )


__all__ = [
    "ASGCNBatch",
    "ASGCNSampler",
    "LayerDraw",
    "SamplingFunction",
    "check_finite_features",
    "layer_distribution",
]
