"""Cora, CiteSeer and PubMed (Yang et al., "Revisiting Semi-Supervised Learning with Graph
Embeddings", ICML 2016) from local raw files, without downloading, without writing into the
data folder, and without running code from the files.

The raw files are read by :mod:`spikegraph.datasets.planetoid_raw` (a restricted unpickler
and consistency checks) into the same graph PyG's
:class:`~torch_geometric.datasets.Planetoid` builds. The result is cached as plain tensors
in ``<cache>/planetoid/<Name>/processed/<split>-<key>.pt``, where ``<key>`` is a sha256 of
the eight raw files' content, the split and :data:`FORMAT_VERSION`: changed raw files never
reuse an old entry. Entries are written atomically under an inter-process lock and read
with ``torch.load(weights_only=True)``; an unreadable or damaged entry is rebuilt.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch_geometric.data import Data, InMemoryDataset

from spikegraph._validation import check_choice
from spikegraph.datasets.cache import (
    cache_lock,
    content_key,
    load_tensors,
    remove_stale_temporaries,
    save_tensors,
    sha256_bytes,
)
from spikegraph.datasets.planetoid_raw import (
    RAW_SUFFIXES,
    full_split,
    raw_file_names,
    read_planetoid,
    read_raw_bytes,
)

log = logging.getLogger(__name__)

PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
SPLITS = ("public", "full")
#: Where PyG downloads the same files from (spikegraph never downloads).
PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
#: Version of the processed format: part of every cache key, bumped when it changes.
FORMAT_VERSION = "1"
#: The tensors a processed entry holds.
TENSOR_KEYS = ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")


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
        f"that holds planetoid/<Name>/raw/ (PyG downloads these files from {PLANETOID_URL})"
    )


class PlanetoidDataset(InMemoryDataset):
    """One Planetoid graph as a PyG dataset: ``dataset[0]`` (with ``transform`` applied),
    ``num_classes``, ``num_features``, like :class:`~torch_geometric.datasets.Planetoid`.

    Args:
        data: The graph.
        name: ``"Cora"``, ``"CiteSeer"`` or ``"PubMed"``.
        split: The split the masks hold.
        transform: Applied to the graph on every access, as in PyG.
    """

    def __init__(
        self, data: Data, name: str, split: str, transform: Callable | None = None
    ) -> None:
        super().__init__(None, transform)
        self.name, self.split = name, split
        self.data, self.slices = self.collate([data])

    def __repr__(self) -> str:
        return f"{self.name}()"


def _load_entry(path: Path, key: str) -> dict | None:
    """A cache entry that is readable, for ``key``, and shaped like a Planetoid graph."""
    t = load_tensors(path, key)
    if t is None:
        return None
    if set(t) == set(TENSOR_KEYS) and t["x"].dim() == 2:
        n = t["x"].size(0)
        masks = all(t[k].dtype == torch.bool and t[k].shape == (n,) for k in TENSOR_KEYS[3:])
        e = t["edge_index"]
        edges = e.dtype == torch.long and e.dim() == 2 and e.size(0) == 2
        edges = edges and (e.numel() == 0 or (int(e.min()) >= 0 and int(e.max()) < n))
        if masks and edges and t["y"].dtype == torch.long and t["y"].shape == (n,):
            return t
    log.warning("Ignoring cache file %s: not a Planetoid graph", path)
    return None


def _processed(name: str, split: str, raw_dir: Path, work: Path, rebuild: bool) -> Data:
    """The graph from the content-keyed cache, built (once, under the lock) when absent or
    when ``rebuild``."""
    raw = read_raw_bytes(raw_dir, name)
    key = content_key(
        [
            ("format", FORMAT_VERSION),
            ("dataset", name),
            ("split", split),
            *((f"ind.{name.lower()}.{s}", sha256_bytes(raw[s])) for s in RAW_SUFFIXES),
        ]
    )
    folder = work / name / "processed"
    path = folder / f"{split}-{key[:16]}.pt"
    tensors = None if rebuild else _load_entry(path, key)
    if tensors is None:
        with cache_lock(folder.parent / ".lock"):
            # Another process may have built it while this one waited for the lock.
            tensors = None if rebuild else _load_entry(path, key)
            if tensors is None:
                folder.mkdir(parents=True, exist_ok=True)
                remove_stale_temporaries(folder)
                log.info("Processing %s (%s split) from %s into %s", name, split, raw_dir, path)
                # Built from the very bytes the key was computed from.
                data = read_planetoid(raw_dir, name, raw=raw)
                if split == "full":
                    data = full_split(data)
                tensors = {k: data[k] for k in TENSOR_KEYS}
                save_tensors(path, key, tensors)
    return Data(**{k: tensors[k] for k in TENSOR_KEYS})


def load_planetoid(
    name: str,
    root: str | os.PathLike | None = None,
    split: str = "public",
    cache_dir: str | os.PathLike | None = None,
    transform: Callable | None = None,
    pre_transform: Callable | None = None,
    force_reload: bool = False,
) -> PlanetoidDataset:
    """Load a Planetoid dataset from local raw files.

    The raw files are only read; the processed graph is cached under ``cache_dir``, keyed
    by the raw files' content (see the module docstring).

    Args:
        name: ``"Cora"``, ``"CiteSeer"`` or ``"PubMed"`` (any case).
        root: Data root (see :func:`resolve_root`).
        split: ``"public"`` (the Planetoid split, 20 labels per class) or ``"full"`` (every
            node outside validation and test is a training node).
        cache_dir: Where processed files go (see :func:`default_cache_dir`).
        transform: Applied on every access to ``dataset[0]``, as in PyG.
        pre_transform: Applied once to the loaded graph (not stored in the cache, so a
            different ``pre_transform`` never reads another one's result).
        force_reload: Rebuild the cache entry from the raw files.

    Returns:
        The dataset; ``dataset[0]`` holds ``x``, ``edge_index``, ``y`` and the masks, equal
        to what PyG's :class:`~torch_geometric.datasets.Planetoid` gives.

    Raises:
        ValueError: for an unknown name or split.
        FileNotFoundError: naming the missing raw files and where they belong.
        spikegraph.datasets.planetoid_raw.PlanetoidFormatError: (a ``ValueError``) naming
            a raw file that is malformed, truncated, tampered with or refused.
    """
    name = canonical_name(name)
    check_choice(split, SPLITS, "split")
    raw_dir = find_raw_dir(name, resolve_root(root)).resolve()
    work = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    work = work / "planetoid"
    log.info("Loading %s from %s (processed files in %s)", name, raw_dir, work / name)
    data = _processed(name, split, raw_dir, work, rebuild=force_reload)
    if pre_transform is not None:
        data = pre_transform(data)
    return PlanetoidDataset(data, name, split, transform=transform)
