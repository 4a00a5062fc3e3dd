"""Build spiking and ordinary node-classification models by name."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch_geometric.nn.models import GAT, GCN

from spikegraph.models.gat import SpikingGAT
from spikegraph.models.gcn import SpikingGCN

#: Name -> (class, default constructor options). ``gcn`` and ``gat`` are PyG's own models,
#: the ordinary baselines; ``sgcn`` and ``sgat`` are GC-SNN and GA-SNN.
MODELS: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {
    "sgcn": (SpikingGCN, {"hidden_channels": 64, "num_layers": 2, "dropout": 0.5, "T": 8}),
    "sgat": (
        SpikingGAT,
        {"hidden_channels": 64, "num_layers": 2, "dropout": 0.6, "heads": 8, "T": 8},
    ),
    "gcn": (GCN, {"hidden_channels": 64, "num_layers": 2, "dropout": 0.5}),
    "gat": (GAT, {"hidden_channels": 64, "num_layers": 2, "dropout": 0.6, "heads": 8}),
}
SPIKING = ("sgcn", "sgat")


def build_model(name: str, in_channels: int, out_channels: int, **options: Any) -> nn.Module:
    """Instantiate model ``name`` with its defaults updated by ``options``.

    Args:
        name: ``"sgcn"``, ``"sgat"`` (spiking) or ``"gcn"``, ``"gat"`` (PyG's models).
        in_channels: Feature width.
        out_channels: Number of classes.
        **options: Constructor options overriding the defaults (``None`` values are ignored).

    Raises:
        ValueError: for an unknown name.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    cls, defaults = MODELS[name]
    kwargs = {**defaults, **{k: v for k, v in options.items() if v is not None}}
    return cls(in_channels, out_channels=out_channels, **kwargs)


def model_defaults(name: str) -> dict[str, Any]:
    """A copy of the default options of model ``name``."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    return dict(MODELS[name][1])
