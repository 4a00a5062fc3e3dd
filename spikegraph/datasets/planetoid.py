"""Cora, CiteSeer and PubMed (Yang et al., "Revisiting Semi-Supervised Learning with Graph
Embeddings", ICML 2016) through PyG's :class:`~torch_geometric.datasets.Planetoid`, without
downloading and without writing into the data folder.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from torch_geometric.datasets import Planetoid

from spikegraph._validation import check_choice

log = logging.getLogger(__name__)

PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
RAW_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
SPLITS = ("public", "full")


def default_cache_dir() -> Path:
    """Writable cache: ``$SPIKEGRAPH_CACHE``, else ``$XDG_CACHE_HOME/spikegraph``, else
    ``~/.cache/spikegraph``."""
    if os.environ.get("SPIKEGRAPH_CACHE"):
        return Path(os.environ["SPIKEGRAPH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "spikegraph"


def resolve_root(root: str | os.PathLike | None = None) -> Path:
    """Data root: ``root`` if given, else ``$SPIKEGRAPH_DATA``, else ``<cache>/data``."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("SPIKEGRAPH_DATA"):
        return Path(os.environ["SPIKEGRAPH_DATA"]).expanduser()
    return default_cache_dir() / "data"


def canonical_name(name: str) -> str:
    """``"cora"`` -> ``"Cora"``; raises ``ValueError`` for unknown names."""
    key = check_choice(str(name).lower(), tuple(PLANETOID), "Planetoid dataset")
    return PLANETOID[key]


def raw_file_names(name: str) -> list[str]:
    """The eight raw files Planetoid reads, e.g. ``ind.cora.x``."""
    return [f"ind.{name.lower()}.{s}" for s in RAW_SUFFIXES]


def find_raw_dir(name: str, root: Path) -> Path:
    """Locate the folder holding ``name``'s raw files under ``root``.

    Accepted layouts: ``root/planetoid/<Name>/raw`` and ``root/<Name>/raw`` (PyG's own).

    Raises:
        FileNotFoundError: naming the missing files and where to put them.
    """
    files = raw_file_names(name)
    candidates = [root / "planetoid" / name / "raw", root / name / "raw"]
    for cand in candidates:
        if all((cand / f).is_file() for f in files):
            return cand
    best = max(candidates, key=lambda c: sum((c / f).is_file() for f in files))
    missing = [f for f in files if not (best / f).is_file()]
    raise FileNotFoundError(
        f"{name}: missing raw files {missing} in {best}. Downloading is not attempted: put the "
        f"Planetoid files ind.{name.lower()}.{{{','.join(RAW_SUFFIXES)}}} into "
        f"{candidates[0]} (or {candidates[1]}), or point --root / SPIKEGRAPH_DATA at a folder "
        "that holds planetoid/<Name>/raw/"
    )


def load_planetoid(
    name: str,
    root: str | os.PathLike | None = None,
    split: str = "public",
    cache_dir: str | os.PathLike | None = None,
    **kwargs,
) -> Planetoid:
    """Load a Planetoid dataset from local raw files.

    The raw files are linked into a writable cache folder, where PyG writes its processed
    files; the data folder itself is only read.

    Args:
        name: ``"Cora"``, ``"CiteSeer"`` or ``"PubMed"`` (any case).
        root: Data root (see :func:`resolve_root`).
        split: ``"public"`` (the Planetoid split, 20 labels per class) or ``"full"`` (every
            node outside validation and test is a training node).
        cache_dir: Where processed files go (see :func:`default_cache_dir`).
        **kwargs: Passed to :class:`~torch_geometric.datasets.Planetoid` (``transform`` ...).

    Returns:
        The PyG dataset; ``dataset[0]`` holds ``x``, ``edge_index``, ``y`` and the masks.
    """
    name = canonical_name(name)
    check_choice(split, SPLITS, "split")
    raw_dir = find_raw_dir(name, resolve_root(root)).resolve()
    work = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    work = work / "planetoid"
    link_dir = work / name / "raw"
    link_dir.mkdir(parents=True, exist_ok=True)
    for f in raw_file_names(name):
        link = link_dir / f
        if link.is_symlink() and link.resolve() != raw_dir / f:
            # Raw files from another root: drop the stale link and what was processed from it.
            link.unlink()
            shutil.rmtree(work / name / "processed", ignore_errors=True)
        if not link.exists():
            link.symlink_to(raw_dir / f)
    log.info("Loading %s from %s (processed files in %s)", name, raw_dir, work / name)
    return Planetoid(str(work), name, split=split, **kwargs)
