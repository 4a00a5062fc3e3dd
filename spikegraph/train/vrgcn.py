r"""PyG's ``GCN`` on weights-final blocks, with VR-GCN's control variates (Chen, Zhu & Song,
ICML 2018).

:func:`gcn_forward_blocks` runs the layers of a :class:`torch_geometric.nn.models.GCN` one
block at a time, aggregating with the block's final coefficients (no self-loops added, no
renormalisation) and, for a block with a ``history``, with VR-GCN's control variate
(:func:`spikegraph.samplers.history.control_variate_input`). Spikegraph's own models do
the same in their ``forward_blocks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn
from torch_geometric.nn import GCNConv

from spikegraph.samplers.history import control_variate_input


def gcn_forward_blocks(model: nn.Module, x: Tensor, blocks: Sequence[Any]) -> Tensor:
    """Logits ``[num_dst of the last block, C]`` of PyG's ``GCN`` run on ``blocks``.

    Args:
        model: A :class:`torch_geometric.nn.models.GCN` (no jumping knowledge).
        x: Features of block 0's sources.
        blocks: Blocks with final weights (``weights_final=True``), input layer first.

    Raises:
        ValueError: A block whose weights are not final, a model with jumping knowledge or
            layers that are not ``GCNConv``, or blocks that do not match the model.
    """
    convs = getattr(model, "convs", None)
    if convs is None or not all(isinstance(c, GCNConv) for c in convs):
        raise ValueError(f"gcn_forward_blocks runs PyG's GCN, got {type(model).__name__}")
    if getattr(model, "jk_mode", None) is not None:
        raise ValueError("gcn_forward_blocks does not support jumping knowledge (jk)")
    if len(blocks) != len(convs):
        raise ValueError(f"Got {len(blocks)} blocks for a model with {len(convs)} layers")
    h = x
    for i, (conv, norm, block) in enumerate(zip(convs, model.norms, blocks)):
        if not block.weights_final:
            raise ValueError(
                f"block {i} has weights that are not final; gcn_forward_blocks aggregates with "
                "the block's coefficients as given"
            )
        if h.size(-2) != block.size[0]:
            raise ValueError(f"Block {i} expects {block.size[0]} source nodes, got {h.size(-2)}")
        edge_index, edge_weight, size = block.edge_index, block.edge_weight, block.size
        if block.history is not None:
            h, edge_index, edge_weight, size = control_variate_input(
                h, edge_index, edge_weight, size, block.history
            )
        h = conv.propagate(edge_index, x=(conv.lin(h), None), edge_weight=edge_weight, size=size)
        if conv.bias is not None:
            h = h + conv.bias
        if i < len(convs) - 1:
            if model.act is not None and model.act_first:
                h = model.act(h)
            h = norm(h)
            if model.act is not None and not model.act_first:
                h = model.act(h)
            h = model.dropout(h)
    return h


__all__ = ["gcn_forward_blocks"]
