"""Datasets: Planetoid citation graphs (and OGB node-property graphs) from local files."""

from spikegraph.datasets.ogb import OGB_NODE, load_ogb, ogb_accuracy
from spikegraph.datasets.planetoid import (
    default_cache_dir,
    load_planetoid,
    resolve_root,
)
from spikegraph.datasets.planetoid_raw import PlanetoidFormatError
from spikegraph.datasets.registry import DATASETS, load_dataset

__all__ = [
    "DATASETS",
    "OGB_NODE",
    "PlanetoidFormatError",
    "default_cache_dir",
    "load_dataset",
    "load_ogb",
    "load_planetoid",
    "ogb_accuracy",
    "resolve_root",
]
