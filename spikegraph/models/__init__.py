"""Spiking GNN models with the constructor shape of PyG's ``GCN`` and ``GAT``, and the
ordinary baselines (PyG's models with the papers' input dropout)."""

from spikegraph.models.baselines import GAT, GCN
from spikegraph.models.basic import PAPER_NEURON, SpikingBasicGNN
from spikegraph.models.checks import (
    RunTooLargeError,
    check_model_options,
    check_run_options,
    estimate_memory,
)
from spikegraph.models.gat import SpikingGAT
from spikegraph.models.gcn import SpikingGCN
from spikegraph.models.options import check_model_option_names, model_option_names
from spikegraph.models.registry import (
    MODELS,
    SPIKING,
    build_model,
    is_attention,
    is_spiking,
    model_defaults,
    train_defaults,
)

__all__ = [
    "GAT",
    "GCN",
    "MODELS",
    "PAPER_NEURON",
    "SPIKING",
    "RunTooLargeError",
    "SpikingBasicGNN",
    "SpikingGAT",
    "SpikingGCN",
    "build_model",
    "check_model_option_names",
    "check_model_options",
    "check_run_options",
    "estimate_memory",
    "is_attention",
    "is_spiking",
    "model_defaults",
    "model_option_names",
    "train_defaults",
]
