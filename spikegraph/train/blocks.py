r"""PyG's GCN on a sampler's blocks: the batch contract of :mod:`spikegraph.samplers.batch`
for :class:`torch_geometric.nn.models.GCN` (Kipf & Welling, ICLR 2017).

PyG's ``GCNConv`` takes no bipartite input and has no per-call normalisation switch, so a
layer-wise batch (blocks that do not nest, weights that are final) cannot go through
``GCN.forward``. :func:`pyg_forward_blocks` runs such a model on the blocks with the conv's
own parameters, without touching any of its attributes:

.. math::
    h^{(i+1)}_v = b + \sum_{u \to v \in \text{block } i} \hat w_{uv}\, h^{(i)}_u W

computed as :math:`(\hat A h^{(i)}) W` when that is cheaper
(:func:`~spikegraph.nn.conv.gcn.aggregate_first`: a sampled block's first layer), where
:math:`\hat w` are the block's weights as they are when ``weights_final`` is set (or
the conv was built with ``normalize=False``), else the block's weights normalised as
``GCNConv`` normalises a graph (:func:`~spikegraph.nn.conv.gcn.bipartite_gcn_norm`: self-loops
joining each target to its own source row, degrees inside the block). Between layers the
model's own activation, normalisation and dropout run in ``BasicGNN.forward``'s order
(after the input dropout of :class:`spikegraph.models.GCN`, which PyG's lacks); a
jumping-knowledge read-out gets each layer's rows of the last block's targets.

Blocks of VR-GCN with the control variate for dropout (CVD,
``VRGCNSampler(..., dropout_variate=True)``; Chen, Zhu & Song, ICML 2018, Sec. 5.1) run a
copy of the model without dropout beside it, with the same weights: layer ``i`` computes
:math:`\text{CV}(\mu^{(i)}) W + b` for the copy, :math:`\mu^{(i+1)}` its activation without
dropout (what the histories record), and adds the noise term
:math:`\text{noise}(h^{(i)} - \mu^{(i)}) W` (:func:`~spikegraph.samplers.history.noise_aggregate`)
for the model itself, whose output is returned. In evaluation mode dropout draws nothing,
:math:`h = \mu`, and one pass runs. The norm layers see both passes.

A block with ``skip`` (AS-GCN's skip connection, Huang et al., NeurIPS 2018, Sec. 3.4)
adds :math:`\hat A_{skip} h^{(i-1)} W^{(i-1)} W^{(i)}` to layer ``i``'s output before its
activation, with :math:`h^{(i-1)}` layer ``i - 1``'s input and the two convs' ``lin``
weights (:func:`~spikegraph.samplers.skip.skip_term`; no bias, no new parameters).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv
from torch_geometric.nn.models.basic_gnn import BasicGNN
from torch_geometric.typing import OptTensor
from torch_geometric.utils import scatter

from spikegraph.models.baselines import InputDropout
from spikegraph.models.basic import final_target_rows
from spikegraph.nn.conv.gcn import aggregate_first, bipartite_gcn_norm, block_operator
from spikegraph.samplers import BatchContractError, Block, check_block_count
from spikegraph.samplers.history import (
    control_variate_input,
    noise_aggregate,
    uses_dropout_variate,
)
from spikegraph.samplers.skip import skip_term


def block_aggregate(h: Tensor, edge_index: Tensor, edge_weight: OptTensor, num_dst: int) -> Tensor:
    r"""Weighted sum over a block's edges: :math:`o_v = \sum_{u \to v} w_{uv} h_u`.

    Args:
        h: Source rows ``[N_src, F]``.
        edge_index: ``[2, E]`` local ids, sources in row 0, targets in row 1.
        edge_weight: ``[E]`` coefficients, ones when ``None``.
        num_dst: Number of targets.

    Returns:
        ``[num_dst, F]``.
    """
    src, dst = edge_index
    msg = h.index_select(0, src)
    if edge_weight is not None:
        msg = msg * edge_weight.view(-1, 1).to(msg.dtype)
    return scatter(msg, dst, 0, dim_size=num_dst, reduce="sum")


def gcn_conv_block(
    conv: GCNConv, h: Tensor, block: Block, weights_final: bool | None = None
) -> Tensor:
    """One PyG ``GCNConv`` on one block, with the conv's ``lin`` and ``bias``.

    Args:
        conv: The layer (its ``cached`` graph is neither read nor written).
        h: Source rows ``[N_src, F_in]``.
        block: The block.
        weights_final: Overrides ``block.weights_final`` when given.

    Returns:
        ``[N_dst, F_out]``.
    """
    final = block.weights_final if weights_final is None else weights_final
    edge_index, edge_weight, size = block.edge_index, block.edge_weight, block.size
    if getattr(block, "history", None) is not None:  # VR-GCN's control variate
        h, edge_index, edge_weight, size = control_variate_input(
            h, edge_index, edge_weight, size, block.history
        )
        final = True
    if not final and conv.normalize:
        # PyG's gcn_norm adds loops of weight 1, not 2, to an edge index without weights
        # even when improved: same here, so the block equals GCNConv on a full graph.
        edge_index, edge_weight = bipartite_gcn_norm(
            edge_index,
            edge_weight,
            block.size,
            conv.improved and edge_weight is not None,
            conv.add_self_loops,
            h.dtype,
            dst_index=block.dst_index,
        )
    grad_weights = edge_weight is not None and edge_weight.requires_grad
    if (
        h.dim() == 2
        and h.layout == torch.strided
        and not grad_weights
        and aggregate_first(size[0], size[1], edge_index.size(1), h.size(-1), conv.out_channels)
    ):
        # (Â X) W: only the targets' rows are transformed (see aggregate_first).
        if edge_weight is None:
            edge_weight = torch.ones(edge_index.size(1), dtype=h.dtype, device=h.device)
        out = conv.lin(block_operator(edge_index, edge_weight, size) @ h)
    else:
        out = block_aggregate(conv.lin(h), edge_index, edge_weight, size[1])
    if conv.bias is not None:
        out = out + conv.bias
    return out


def check_pyg_gcn(model: nn.Module) -> None:
    """Raise unless ``model`` is a PyG ``BasicGNN`` whose layers are all ``GCNConv`` that
    sum (``aggr="add"``, PyG's default): blocks are aggregated as weighted sums.

    Raises:
        TypeError: naming the model and the first other layer, or the first layer with
            another ``aggr``.
    """
    if not isinstance(model, BasicGNN):
        raise TypeError(
            f"{type(model).__name__} is not a PyG BasicGNN: it cannot run on a sampler's blocks "
            "(give it a forward_blocks method, or use a nested sampler in mode='subgraph')"
        )
    for i, conv in enumerate(model.convs):
        if not isinstance(conv, GCNConv):
            raise TypeError(
                f"{type(model).__name__} runs on blocks only with GCNConv layers (PyG's GCN); "
                f"layer {i} is {type(conv).__name__}. A layer-wise batch, or a batch whose "
                "weights are final, needs a model that aggregates with given coefficients"
            )
        if conv.aggr not in ("add", "sum"):
            raise TypeError(
                f"{type(model).__name__} runs on blocks only with summing GCNConv layers; "
                f"layer {i} aggregates with aggr={conv.aggr!r}. Blocks are aggregated as "
                "weighted sums (a sampler's coefficients estimate a sum): use aggr='add', or "
                "a nested sampler in mode='subgraph', where the model runs its own forward"
            )


def pyg_forward_blocks(
    model: BasicGNN, x: Tensor, blocks: Sequence[Block], weights_final: bool | None = None
) -> Tensor:
    """Run PyG's ``GCN`` (a ``BasicGNN`` of ``GCNConv`` layers) on a batch's blocks.

    The output of block ``i`` is block ``i + 1``'s input; see the module docstring for the
    maths. Equal to ``model(x, edge_index, edge_weight)`` on a "block" that is the whole
    graph of an undirected graph (targets = sources), and for ``weights_final=True`` to that
    forward with the convs built ``normalize=False``.

    Args:
        model: PyG's ``GCN`` (any ``BasicGNN`` whose convs are ``GCNConv``).
        x: Features of block 0's sources ``[N_src, F]`` (``x[batch.n_id]``).
        blocks: One :class:`~spikegraph.samplers.Block` per layer.
        weights_final: Overrides every block's ``weights_final`` when given.

    Returns:
        ``[num_dst of the last block, C]``.

    Raises:
        TypeError: for a model that is not such a GCN.
        ValueError: for a wrong number of blocks or mismatched sizes.
    """
    check_pyg_gcn(model)
    check_block_count(blocks, model.num_layers)
    xs: list[Tensor] = []
    # spikegraph's GCN (PyG's with the paper's input dropout): what its forward does first
    h = model.drop_input(x) if isinstance(model, InputDropout) else x
    # CVD: the copy of the model without dropout (only where dropout draws anything)
    cvd = uses_dropout_variate(blocks) and model.training
    mean: Tensor | None = x if cvd else None
    h_prev: Tensor | None = None  # layer i - 1's input, for a skip block
    for i, (conv, norm, block) in enumerate(zip(model.convs, model.norms, blocks)):
        if h.size(0) != block.size[0]:
            raise ValueError(f"Block {i} expects {block.size[0]} source nodes, got {h.size(0)}")
        skip = getattr(block, "skip", None)
        if skip is not None and (i == 0 or h_prev.size(0) != skip.size[0]):
            raise BatchContractError(
                f"block {i}'s skip block must start at block {i - 1}'s sources"
                if i
                else "block 0 has a skip block, but a skip connection starts at the input of "
                "the layer below"
            )
        if mean is not None:
            # the plain control variate on the copy without dropout, plus the noise term
            out_mean = gcn_conv_block(conv, mean, block, weights_final)
            out = out_mean + conv.lin(noise_aggregate(h, mean, block.edge_index, block.history))
        else:
            out = gcn_conv_block(conv, h, block, weights_final)
        if skip is not None:
            out = out + skip_term(h_prev, skip, [model.convs[i - 1].lin, conv.lin])
        h_prev, h = h, out
        if i < model.num_layers - 1 or model.jk_mode is not None:
            h = _between(model, norm, h)
            h = model.dropout(h)
            if mean is not None:
                mean = _between(model, norm, out_mean)
            if hasattr(model, "jk"):
                xs.append(h)
    if hasattr(model, "jk"):
        try:
            rows = [final_target_rows(blocks, i) for i in range(len(blocks))]
        except BatchContractError as err:
            raise BatchContractError(f"{type(model).__name__}: {err}") from err
        xs = [t[:r] if isinstance(r, int) else t.index_select(0, r) for t, r in zip(xs, rows)]
        h = model.jk(xs)
    if hasattr(model, "lin"):
        h = model.lin(h)
    return h


def _between(model: BasicGNN, norm: nn.Module, h: Tensor) -> Tensor:
    """What ``BasicGNN.forward`` applies between layers before dropout: the activation and
    the norm, in the model's order."""
    if model.act is not None and model.act_first:
        h = model.act(h)
    h = norm(h, None, None) if model.supports_norm_batch else norm(h)
    if model.act is not None and not model.act_first:
        h = model.act(h)
    return h


__all__ = ["block_aggregate", "check_pyg_gcn", "gcn_conv_block", "pyg_forward_blocks"]
