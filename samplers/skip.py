r"""AS-GCN's skip connection: a two-hop block from two sampled blocks, and its term in a layer
(Huang, Zhang, Rong & Huang, "Adaptive Sampling Towards Fast Graph Representation
Learning", NeurIPS 2018, Sec. 3.4, "preserving second-order proximities by skip
connections").

The paper adds to the pre-activation of layer :math:`l + 1` a term from layer
:math:`l - 1`'s input,

.. math::
    \sum_j \hat a_{skip}(v_i, s_j)\, h^{(l-1)}(s_j)\, W_{skip}, \qquad
    \hat a_{skip}(v_i, s_j) = \sum_k \hat a(v_i, u_k)\, \hat a(u_k, s_j),
    \qquad W_{skip} = W^{(l-1)} W^{(l)},

with the two-hop coefficients estimated through the sampled middle layer :math:`u_k` and
:math:`W_{skip}` tied to the two layers' weights (no new parameters). On a batch the
estimate is the product of the two blocks' final coefficient matrices
(:func:`skip_block`), carried as ``Block.skip`` of the upper block (see
:mod:`spikegraph.samplers.batch`); a model adds :func:`skip_term` to that layer's synaptic
current (pre-activation). Since the lower layer is drawn given the middle one and each
block's weights estimate :math:`\hat A` without bias, the product estimates
:math:`\hat A^2` without bias.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .batch import Block


def _weights(block: Block, dtype: torch.dtype) -> Tensor:
    """The block's coefficients in ``dtype`` (ones for an unweighted block)."""
    if block.edge_weight is None:
        return torch.ones(block.num_edges, dtype=dtype, device=block.edge_index.device)
    return block.edge_weight.to(dtype)


def two_hop_product(
    lower_index: Tensor,
    lower_weight: Tensor,
    upper_index: Tensor,
    upper_weight: Tensor,
    num_mid: int,
    num_src: int,
) -> tuple[Tensor, Tensor]:
    r"""The product of two weighted edge lists, :math:`w(s, v) = \sum_u w_1(u, v) w_0(s, u)`.

    A vectorised join on the middle node: each upper edge ``u -> v`` meets every lower
    edge ``s -> u`` (lower edges grouped by ``u``), and paths with the same ``(s, v)`` are
    summed. ``O(paths)`` time and memory.

    Args:
        lower_index: ``[2, E0]`` edges ``s -> u`` (``s < num_src``, ``u < num_mid``).
        lower_weight: ``[E0]``.
        upper_index: ``[2, E1]`` edges ``u -> v`` (``u < num_mid``).
        upper_weight: ``[E1]``.
        num_mid: Number of middle nodes.
        num_src: Number of lower sources.

    Returns:
        ``(edge_index, edge_weight)``: one edge ``s -> v`` per pair joined by a path, sorted
        by ``(v, s)``.
    """
    device = lower_index.device
    mid = lower_index[1]
    order = torch.argsort(mid, stable=True)
    counts = torch.bincount(mid, minlength=num_mid)
    starts = torch.cumsum(counts, 0) - counts
    u, v = upper_index
    n_paths = counts.index_select(0, u)
    owner = torch.repeat_interleave(torch.arange(u.numel(), device=device), n_paths)
    first = torch.cumsum(n_paths, 0) - n_paths
    pos = torch.arange(owner.numel(), device=device) + (
        starts.index_select(0, u) - first
    ).index_select(0, owner)
    lower_edge = order.index_select(0, pos)
    src = lower_index[0].index_select(0, lower_edge)
    dst = v.index_select(0, owner)
    w = lower_weight.index_select(0, lower_edge) * upper_weight.index_select(0, owner)
    key, inv = torch.unique(dst * num_src + src, return_inverse=True)
    weight = torch.zeros(key.numel(), dtype=w.dtype, device=device).index_add_(0, inv, w)
    return torch.stack([key % num_src, key // num_src]), weight


def _compose_dst_index(lower: Block, upper: Block) -> Tensor | None:
    """Row of each of ``upper``'s targets among ``lower``'s sources (``-1``: not there), or
    ``None`` when both blocks list their targets first among their sources."""
    if lower.dst_index is None and upper.dst_index is None:
        return None
    device = upper.edge_index.device
    mid = torch.arange(upper.size[1], device=device) if upper.dst_index is None else upper.dst_index
    low = torch.arange(lower.size[1], device=device) if lower.dst_index is None else lower.dst_index
    if not mid.numel():
        return mid.clone()
    found = mid >= 0
    return torch.where(found, low.index_select(0, mid.clamp(min=0)), torch.full_like(mid, -1))


def skip_block(lower: Block, upper: Block) -> Block:
    r"""The two-hop block from ``lower``'s sources to ``upper``'s targets, with weights
    :math:`w_{skip}(s, v) = \sum_u w_{upper}(u, v)\, w_{lower}(s, u)`: the product of the
    two blocks' coefficient matrices (sparse, one edge per nonzero entry), final.

    Args:
        lower: Block ``i - 1`` (its targets are ``upper``'s sources).
        upper: Block ``i``.

    Returns:
        A :class:`~spikegraph.samplers.Block` of size ``(lower.size[0], upper.size[1])``,
        ``weights_final=True``, ``e_id=None`` (its edges are paths, not graph edges) and the
        composed ``dst_index``.

    Raises:
        ValueError: a block whose weights are not final (a product of raw multipliers that
            the model would renormalise is not the paper's estimate), or blocks that do not
            chain.
    """
    for name, block in (("lower", lower), ("upper", upper)):
        if not block.weights_final:
            raise ValueError(
                f"skip_block needs final weights (estimates of the normalised adjacency); the "
                f"{name} block's weights are not final"
            )
    if lower.size[1] != upper.size[0]:
        raise ValueError(
            f"the lower block has {lower.size[1]} targets but the upper one has "
            f"{upper.size[0]} sources: they do not chain"
        )
    dtypes = [b.edge_weight.dtype for b in (lower, upper) if b.edge_weight is not None]
    dtype = dtypes[0] if dtypes else torch.get_default_dtype()
    if len(dtypes) == 2:
        dtype = torch.promote_types(*dtypes)
    edge_index, edge_weight = two_hop_product(
        lower.edge_index,
        _weights(lower, dtype),
        upper.edge_index,
        _weights(upper, dtype),
        lower.size[1],
        lower.size[0],
    )
    return Block(
        edge_index=edge_index,
        edge_weight=edge_weight,
        size=(lower.size[0], upper.size[1]),
        e_id=None,
        weights_final=True,
        dst_index=_compose_dst_index(lower, upper),
    )


def skip_term(h: Tensor, skip: Block, transforms: Sequence[Callable[[Tensor], Tensor]]) -> Tensor:
    r"""The skip connection's term :math:`\hat A_{skip}\, h\, W_{i-1} W_i` of layer ``i``.

    Args:
        h: Layer ``i - 1``'s input, ``[..., num_src, F]`` (static features ``[N, F]`` or a
            spike train ``[T, N, F]``), rows of the skip block's sources.
        skip: The skip block (``Block.skip`` of block ``i``).
        transforms: The linear maps applied in order before aggregating (layer ``i - 1``'s
            and layer ``i``'s weights, without biases).

    Returns:
        ``[..., num_dst, F_out]``, to add to layer ``i``'s synaptic current.
    """
    for transform in transforms:
        h = transform(h)
    src, dst = skip.edge_index
    msg = h.index_select(-2, src)
    if skip.edge_weight is not None:
        msg = msg * skip.edge_weight.to(msg.dtype).unsqueeze(-1)
    out = msg.new_zeros(*msg.shape[:-2], skip.size[1], msg.size(-1))
    return out.index_add_(-2, dst, msg)


__all__ = ["skip_block", "skip_term", "two_hop_product"]
