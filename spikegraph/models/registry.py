"""Build spiking and ordinary node-classification models by name."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch_geometric.nn.models import GAT, GCN

from spikegraph._validation import check_channels
from spikegraph.models.gat import SpikingGAT
from spikegraph.models.gcn import SpikingGCN

#: The spiking neuron and normalisation of the tuned spiking models (see
#: ``benchmarks/configs/node_classification.toml`` and its ablation): integrate-and-fire
#: neurons (``tau=inf``) with soft reset and no normalisation beat the paper's STFN with a
#: leaky, hard-reset neuron on all three Planetoid datasets. ``norm="stfn"`` restores it.
_TUNED_NEURON = {"norm": "none", "reset": "soft", "tau": float("inf")}

#: Name -> (class, default constructor options). ``gcn`` and ``gat`` are PyG's own models,
#: the ordinary baselines; ``sgcn`` and ``sgat`` are GC-SNN and GA-SNN (Xu et al., 2021).
MODELS: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {
    "sgcn": (
        SpikingGCN,
        {
            "hidden_channels": 64,
            "num_layers": 2,
            "dropout": 0.5,
            "input_dropout": 0.5,
            "T": 8,
            **_TUNED_NEURON,
        },
    ),
    "sgat": (
        SpikingGAT,
        {
            "hidden_channels": 64,
            "num_layers": 2,
            "dropout": 0.6,
            "input_dropout": 0.6,
            "heads": 8,
            "T": 8,
            **_TUNED_NEURON,
        },
    ),
    "gcn": (GCN, {"hidden_channels": 64, "num_layers": 2, "dropout": 0.5}),
    "gat": (GAT, {"hidden_channels": 64, "num_layers": 2, "dropout": 0.6, "heads": 8}),
}
SPIKING = ("sgcn", "sgat")

#: Name -> training options that differ from :class:`~spikegraph.train.TrainConfig`'s
#: defaults (GAT models: the learning rate of Velickovic et al., 2018).
TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {"gat": {"lr": 0.005}, "sgat": {"lr": 0.005}}


def build_model(name: str, in_channels: int, out_channels: int, **options: Any) -> nn.Module:
    """Instantiate model ``name`` with its defaults updated by ``options``.

    Args:
        name: ``"sgcn"``, ``"sgat"`` (spiking) or ``"gcn"``, ``"gat"`` (PyG's models).
        in_channels: Feature width.
        out_channels: Number of classes.
        **options: Constructor options overriding the defaults (``None`` values are ignored).

    Raises:
        ValueError, TypeError: for an unknown name or options no model can train with
            (:func:`~spikegraph.models.checks.check_model_options`).
    """
    from spikegraph.models.checks import check_model_options

    kwargs = check_model_options(name, options)
    check_channels(in_channels, "in_channels", lazy=True)
    check_channels(out_channels, "out_channels")
    return MODELS[name][0](in_channels, out_channels=out_channels, **kwargs)


def train_defaults(name: str) -> dict[str, Any]:
    """A copy of the training options model ``name`` uses unless told otherwise."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    return dict(TRAIN_DEFAULTS.get(name, {}))


def model_defaults(name: str) -> dict[str, Any]:
    """A copy of the default options of model ``name``."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    return dict(MODELS[name][1])
