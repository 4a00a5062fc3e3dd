"""One entry point for every dataset spikegraph knows by name."""

from __future__ import annotations

import os
from typing import Any

from torch_geometric.data import Data

from spikegraph.datasets.ogb import OGB_NODE, load_ogb, ogb_provenance
from spikegraph.datasets.planetoid import PLANETOID, load_planetoid

DATASETS = (*PLANETOID.values(), *OGB_NODE)


def load_dataset(
    name: str, root: str | os.PathLike | None = None, split: str = "public", **kwargs
) -> tuple[Data, int]:
    """Load a dataset by name and return its graph and number of classes.

    Args:
        name: One of :data:`DATASETS` (any case).
        root: Data root; see :func:`spikegraph.datasets.resolve_root`.
        split: ``"public"`` or ``"full"`` for Planetoid; OGB datasets have only their
            official split, ``"public"``.
        **kwargs: Passed to the loader (``cache_dir`` ...).

    Returns:
        ``(data, num_classes)`` where ``data`` carries ``train_mask``, ``val_mask`` and
        ``test_mask``.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if str(name).lower() in PLANETOID:
        dataset = load_planetoid(name, root, split, **kwargs)
        return dataset[0], dataset.num_classes
    if str(name).lower() in OGB_NODE:
        if split != "public":
            raise ValueError(
                f"{name} has only OGB's official split: use split='public', got {split!r}"
            )
        return load_ogb(name, root, **kwargs)
    raise ValueError(f"Unknown dataset {name!r}; expected one of {list(DATASETS)}")


def dataset_provenance(name: str, root: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """``None`` for a dataset's own files, else the provenance of the synthetic stand-in that
    :func:`load_dataset` reads for ``name`` under ``root`` (see
    :func:`spikegraph.datasets.synthetic.read_provenance`; its ``"label"``, e.g.
    ``"arxiv-like (synthetic, seed 0)"``, is the name records give the data)."""
    if str(name).lower() in OGB_NODE:
        return ogb_provenance(name, root)
    return None
