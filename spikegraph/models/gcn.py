"""GC-SNN: the spiking graph convolutional network of Xu et al. (IJCAI 2021)."""

from __future__ import annotations

from typing import Any

from spikegraph.models.basic import SpikingBasicGNN
from spikegraph.nn.conv.gcn import SpikingGCNConv


class SpikingGCN(SpikingBasicGNN):
    r"""GC-SNN, the spiking GCN of Xu et al., "Exploiting Spiking Dynamics with
    Spatial-temporal Feature Normalization in Graph Learning" (IJCAI 2021), built from
    :class:`~spikegraph.nn.SpikingGCNConv` layers.

    A drop-in for :class:`torch_geometric.nn.models.GCN`: same leading constructor arguments
    (``in_channels, hidden_channels, num_layers, out_channels, dropout``) and the same
    ``forward(x, edge_index, edge_weight=None) -> [N, C]``, plus the spiking options of
    :class:`~spikegraph.models.basic.SpikingBasicGNN`.

    Defaults: the validated settings of spikegraph's benchmarks, not the paper's: the model
    options of the best trial of the validation-only Optuna sweep of
    ``benchmarks/tune_sweeps.py`` on Cora (trial 11 of
    ``benchmarks/results/sweeps/Cora-sgcn.json``; the re-scoring stage added later selects
    another of its trials for the tuned table), kept as class defaults because they also
    passed the rule declared beforehand in PyG's example shape: a higher validation accuracy
    averaged over Cora and CiteSeer at hidden width 16, and not lower by more than 0.3 points
    at width 64 (``benchmarks/results/class_defaults_tuned.md``; higher at both, though not
    on every dataset: Cora at width 64 validated slightly lower): ``T=16``, leaky
    neurons (``tau=4``) with hard reset, no normalisation, dropout 0.6 on the spikes between
    layers and input dropout 0.8. ``T=16`` costs twice the time steps of ``T=8`` (the same
    options at ``T=8`` validated 0.07 points lower at width 16). The paper's STFN and leaky
    (``tau=2``) hard-reset neuron: ``SpikingGCN.with_paper_neuron(...)``,
    ``**PAPER_NEURON`` or the registry's ``"stfn-sgcn"``.

    Example:
        >>> model = SpikingGCN(1433, 16, num_layers=2, out_channels=7)
        >>> logits = model(data.x, data.edge_index)  # doctest: +SKIP
    """

    supports_edge_weight = True
    #: Leaky neurons (``tau=4``) with hard reset: the validated choice
    #: (``benchmarks/results/class_defaults_tuned.md``); the layer's own default neuron is
    #: integrate-and-fire with soft reset.
    default_neuron = ("lif", {"tau": 4.0, "reset": "hard"})

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int | None = None,
        dropout: float = 0.6,
        T: int = 16,
        input_dropout: float = 0.8,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            in_channels,
            hidden_channels,
            num_layers,
            out_channels,
            dropout,
            T=T,
            input_dropout=input_dropout,
            **kwargs,
        )

    def init_conv(
        self, in_channels: int, out_channels: int, last: bool, **kwargs: Any
    ) -> SpikingGCNConv:
        return SpikingGCNConv(in_channels, out_channels, T=self.T, **kwargs)
