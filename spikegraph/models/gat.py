"""GA-SNN: the spiking graph attention network of Xu et al. (IJCAI 2021)."""

from __future__ import annotations

from typing import Any

from spikegraph.models.basic import SpikingBasicGNN
from spikegraph.nn.conv.gat import SpikingAttentionConv, SpikingGATConv
from spikegraph.nn.conv.gatv2 import SpikingGATv2Conv


class SpikingGAT(SpikingBasicGNN):
    r"""GA-SNN, the spiking graph attention network of Xu et al., "Exploiting Spiking Dynamics
    with Spatial-temporal Feature Normalization in Graph Learning" (IJCAI 2021), built from
    :class:`~spikegraph.nn.SpikingGATConv` layers (:class:`~spikegraph.nn.SpikingGATv2Conv`
    with ``v2=True``).

    A drop-in for :class:`torch_geometric.nn.models.GAT`, with PyG's conventions: ``heads``
    attention heads per layer; hidden layers concatenate them (``concat=True``, heads of
    width ``hidden_channels // heads``, so ``hidden_channels`` must be divisible by ``heads``
    when there is a hidden layer) or average them (``concat=False``, heads of width
    ``hidden_channels``); the output layer averages them; and ``dropout`` is also the
    attention dropout unless ``attention_dropout`` is given.

    Defaults: the validated settings of spikegraph's benchmarks
    (``benchmarks/configs/node_classification.toml``; not :class:`~spikegraph.models.SpikingGCN`'s,
    which changed since): integrate-and-fire neurons, soft reset, no normalisation,
    ``T=8``, with GAT's dropout 0.6 (on spikes, input and attention) and 8
    heads, the settings of Velickovic et al. (2018) and of PyG's ``examples/gat.py``.
    ``SpikingGAT.with_paper_neuron(...)`` gives the paper's STFN and leaky hard-reset neuron.

    Example:
        >>> model = SpikingGAT(dataset.num_features, 64, 2, dataset.num_classes)  # doctest: +SKIP

    Args:
        dropout: Dropout on the spikes between layers (0.6).
        heads: Attention heads of the hidden layers (8; PyG's ``GAT`` has 1).
        concat: Whether the hidden layers concatenate their heads (``True``, as PyG's
            ``GAT``) or average them (``False``). The output layer always averages.
        out_heads: Attention heads of the output layer (averaged); ``heads`` when ``None``.
        attention_dropout: Dropout on attention coefficients; ``dropout`` when ``None``.
        input_dropout: Dropout on the encoded input (0.6).
        v2: Build every layer as :class:`~spikegraph.nn.SpikingGATv2Conv` (GATv2's dynamic
            attention) instead of :class:`~spikegraph.nn.SpikingGATConv`, as PyG's
            ``GAT(..., v2=True)`` does; GATv2's options (``share_weights``) then reach the
            layers.
        **kwargs: See :class:`~spikegraph.models.basic.SpikingBasicGNN`; among them
            ``edge_dim``, the width of the edge features ``edge_attr`` that every layer's
            attention reads, as PyG's ``GAT(..., edge_dim=...)``.
    """

    supports_edge_attr = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int | None = None,
        dropout: float = 0.6,
        heads: int = 8,
        out_heads: int | None = None,
        attention_dropout: float | None = None,
        input_dropout: float = 0.6,
        v2: bool = False,
        concat: bool = True,
        **kwargs: Any,
    ) -> None:
        for name, value in (("v2", v2), ("concat", concat)):
            if not isinstance(value, bool):
                raise TypeError(f"'{name}' must be a bool, got {type(value).__name__} ({value!r})")
        if not isinstance(heads, int) or heads < 1:
            raise ValueError(f"'heads' must be a positive int, got {heads!r}")
        # Hidden layers: all but the output one, or all of them with jumping knowledge.
        has_hidden = kwargs.get("jk") is not None or (
            isinstance(num_layers, int) and num_layers > 1
        )
        if concat and has_hidden and hidden_channels % heads != 0:
            raise ValueError(
                f"'hidden_channels'={hidden_channels} must be divisible by heads={heads}: "
                "the hidden layers concatenate their heads (concat=True); use concat=False "
                "to average them"
            )
        self.v2 = v2
        self.concat = concat
        self.heads = heads
        self.out_heads = heads if out_heads is None else out_heads
        self.attention_dropout = dropout if attention_dropout is None else attention_dropout
        super().__init__(
            in_channels,
            hidden_channels,
            num_layers,
            out_channels,
            dropout,
            input_dropout=input_dropout,
            **kwargs,
        )

    def init_conv(
        self, in_channels: int, out_channels: int, last: bool, **kwargs: Any
    ) -> SpikingAttentionConv:
        layer = SpikingGATv2Conv if self.v2 else SpikingGATConv
        if last:
            return layer(
                in_channels,
                out_channels,
                heads=self.out_heads,
                concat=False,
                dropout=self.attention_dropout,
                T=self.T,
                **kwargs,
            )
        return layer(
            in_channels,
            out_channels // self.heads if self.concat else out_channels,
            heads=self.heads,
            concat=self.concat,
            dropout=self.attention_dropout,
            T=self.T,
            **kwargs,
        )
