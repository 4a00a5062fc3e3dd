"""Datasets: Planetoid citation graphs (and OGB node-property graphs) from local files."""

from spikegraph.datasets.planetoid import (
    default_cache_dir,
    load_planetoid,
    resolve_root,
)
from spikegraph.datasets.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "default_cache_dir", "load_dataset", "load_planetoid", "resolve_root"]
