"""Datasets: Planetoid citation graphs and OGB node-property graphs, read from local files
and downloaded into the default data folder where missing; synthetic stand-ins for OGB's
graphs at their real sizes (:mod:`spikegraph.datasets.synthetic`)."""

from spikegraph.datasets.download import ChecksumError, DownloadError
from spikegraph.datasets.ogb import OGB_NODE, load_ogb, ogb_accuracy
from spikegraph.datasets.planetoid import (
    default_cache_dir,
    default_data_dir,
    download_planetoid,
    load_planetoid,
    resolve_root,
)
from spikegraph.datasets.planetoid_raw import PlanetoidFormatError
from spikegraph.datasets.registry import DATASETS, dataset_provenance, load_dataset

__all__ = [
    "DATASETS",
    "OGB_NODE",
    "ChecksumError",
    "DownloadError",
    "PlanetoidFormatError",
    "dataset_provenance",
    "default_cache_dir",
    "default_data_dir",
    "download_planetoid",
    "load_dataset",
    "load_ogb",
    "load_planetoid",
    "ogb_accuracy",
    "resolve_root",
]
