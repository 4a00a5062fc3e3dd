"""Cora, CiteSeer and PubMed (Yang et al., "Revisiting Semi-Supervised Learning with Graph
Embeddings", ICML 2016) from their raw files, without running code from the files.

Where the raw files are: under ``--root`` / ``$SPIKEGRAPH_DATA`` when given (a folder that is
only read: missing files there are an error, unless ``download=True``); otherwise in the
default data folder ``<cache>/data`` (see :func:`resolve_root`), into which missing files are
downloaded, as PyG's :class:`~torch_geometric.datasets.Planetoid` does, from
:data:`PLANETOID_URL` (or ``$SPIKEGRAPH_PLANETOID_URL``), atomically, checked against the
server's ``Content-Length`` and :data:`PINNED_SHA256` (the one file without a pin is parsed
before it is kept; see :mod:`spikegraph.datasets.download`).

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
from spikegraph.datasets.download import fetch_files, join_url
from spikegraph.datasets.planetoid_raw import (
    RAW_SUFFIXES,
    PlanetoidFormatError,
    full_split,
    parse_pickle,
    raw_file_names,
    read_planetoid,
    read_raw_bytes,
)

log = logging.getLogger(__name__)

PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
SPLITS = ("public", "full")
#: Where PyG downloads the raw files from, and so does spikegraph; overridden by the
#: environment variable ``SPIKEGRAPH_PLANETOID_URL`` (a mirror, or a local server in tests).
PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
#: sha256 of the canonical raw files (kimiyoung/planetoid, ``data/``, commit af6abf4), which
#: every download must match. ``ind.pubmed.allx`` has no pin: the copy these sums were taken
#: from is a faithful reconstruction, not the canonical byte stream, so its canonical sum is
#: not known here; that one file is vouched for only by the restricted unpickler and the
#: consistency checks of :mod:`spikegraph.datasets.planetoid_raw` (sizes, ranges, its first
#: rows against ``ind.pubmed.x``...).
PINNED_SHA256: dict[str, str | None] = {
    "ind.cora.x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "ind.cora.tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "ind.cora.allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "ind.cora.y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
    "ind.cora.ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "ind.cora.ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "ind.cora.graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "ind.cora.test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    "ind.citeseer.x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
    "ind.citeseer.tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
    "ind.citeseer.allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
    "ind.citeseer.y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
    "ind.citeseer.ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
    "ind.citeseer.ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
    "ind.citeseer.graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
    "ind.citeseer.test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
    "ind.pubmed.x": "fbe9cb5c47200d1b7769a26e579be3b7130b556831f9d850e77c4c74f2599b33",
    "ind.pubmed.tx": "4eb5f5d0f30f26497eb0ac6ac9719d09c67e284f1ed0385c93f3ef27a671da3d",
    "ind.pubmed.allx": None,
    "ind.pubmed.y": "e6c807633307a07ed659249006536a147c7999c797f11a2560752990181b41b3",
    "ind.pubmed.ty": "ee2e0d4819d9fbcc403689c3bf2e49face401b605932f093bc58ab6461130fdd",
    "ind.pubmed.ally": "0c37bbe3b5014ec365e9d393cf4791925e5ed94fb194305d74f064a8d7b50f0e",
    "ind.pubmed.graph": "5b89f0036ca22909471f1e6558eb42fa06e0c730a577bde5b058b40638f81dc9",
    "ind.pubmed.test.index": "b101d421688bbaecbd82e8a18f1e282378d6830f3a37666f28ebc47f844341b5",
}
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
    return default_data_dir()


def default_data_dir() -> Path:
    """The default data folder, ``<cache>/data``: where downloads go."""
    return default_cache_dir() / "data"


def root_is_given(root: str | os.PathLike | None) -> bool:
    """Whether the data root was chosen by the user (``root`` or ``$SPIKEGRAPH_DATA``),
    rather than being the default data folder that downloads go into."""
    return root is not None or bool(os.environ.get("SPIKEGRAPH_DATA"))


def locate_files(
    root: str | os.PathLike | None,
    download: bool | None,
    find: Callable[..., Path],
    fetch: Callable[[Path], Path],
    download_dir: Path,
) -> Path:
    """The folder holding a dataset's files: found under the data root, or downloaded.

    Args:
        root: The user's data root (``None``: ``$SPIKEGRAPH_DATA``, else the default folder).
        download: Download missing files (``None``: only into the default folder, never into
            a folder the user named).
        find: ``find(data_root, hint="")`` -> the folder, or ``FileNotFoundError`` naming the
            missing files (``hint`` is appended to its message).
        fetch: ``fetch(data_root)`` -> the folder, after downloading the files into it.
        download_dir: Where the files would be downloaded (named in the error).
    """
    data_root = resolve_root(root)
    if download is None:
        download = not root_is_given(root)
    if download:
        try:
            return find(data_root).resolve()
        except FileNotFoundError:
            return fetch(data_root).resolve()
    hint = (
        f"; without --root and SPIKEGRAPH_DATA they are downloaded into {download_dir}"
        if root_is_given(root)
        else ""
    )
    return find(data_root, hint=hint).resolve()


def planetoid_url() -> str:
    """Base URL of the raw files: ``$SPIKEGRAPH_PLANETOID_URL``, else :data:`PLANETOID_URL`."""
    return os.environ.get("SPIKEGRAPH_PLANETOID_URL") or PLANETOID_URL


def canonical_name(name: str) -> str:
    """``"cora"`` -> ``"Cora"``; raises ``ValueError`` for unknown names."""
    key = check_choice(str(name).lower(), tuple(PLANETOID), "Planetoid dataset")
    return PLANETOID[key]


def _candidates(name: str, root: Path) -> list[Path]:
    return [root / "planetoid" / name / "raw", root / name / "raw"]


def find_raw_dir(name: str, root: Path, hint: str = "") -> Path:
    """Locate the folder holding ``name``'s raw files under ``root``.

    Accepted layouts: ``root/planetoid/<Name>/raw`` and ``root/<Name>/raw`` (PyG's own).

    Args:
        name: Canonical dataset name.
        root: The data root.
        hint: Appended to the error message (how else the files can be had).

    Raises:
        FileNotFoundError: naming the missing files, their URLs and where to put them.
    """
    files = raw_file_names(name)
    candidates = _candidates(name, root)
    for cand in candidates:
        if all((cand / f).is_file() for f in files):
            return cand
    best = max(candidates, key=lambda c: sum((c / f).is_file() for f in files))
    missing = [f for f in files if not (best / f).is_file()]
    urls = ", ".join(join_url(planetoid_url(), f) for f in missing)
    raise FileNotFoundError(
        f"{name}: missing raw files {missing} in {best}. Put the Planetoid files "
        f"({urls}) into {candidates[0]} (or {candidates[1]}), or point --root / "
        f"SPIKEGRAPH_DATA at a folder that holds planetoid/<Name>/raw/{hint}"
    )


def download_planetoid(name: str, root: str | os.PathLike) -> Path:
    """Download ``name``'s missing raw files into ``root/planetoid/<Name>/raw``.

    Each file comes from :func:`planetoid_url`, is checked against the announced length and
    :data:`PINNED_SHA256` (a file without a pin is parsed instead) and moved into place
    atomically (see :func:`spikegraph.datasets.download.fetch_files`).

    Returns:
        The raw folder.

    Raises:
        spikegraph.datasets.download.DownloadError: (a ``FileNotFoundError``) offline or
            refused: names the files, their URLs and the folder.
        spikegraph.datasets.download.ChecksumError: (a ``ValueError``) a downloaded file
            does not match its pin.
        PlanetoidFormatError: a downloaded file without a pin is not a readable pickle.
    """
    name = canonical_name(name)
    raw_dir = _candidates(name, Path(root))[0]
    base = planetoid_url()
    urls = {f: join_url(base, f) for f in raw_file_names(name)}
    fetch_files(
        urls, raw_dir, {f: PINNED_SHA256[f] for f in urls}, what=name, check=_check_unpinned
    )
    return raw_dir


def _check_unpinned(name: str, path: Path) -> None:
    """Parse a downloaded file that has no pin (``ind.pubmed.allx``) while it is still in the
    download's temporary folder: a transfer cut short by a server that announced no length
    passes the size check, and kept, it would fail every later run.

    Raises:
        PlanetoidFormatError: naming the file; it is not kept.
    """
    if PINNED_SHA256.get(name) is not None:
        return
    try:
        parse_pickle(path.read_bytes(), str(path))
    except PlanetoidFormatError as err:
        raise PlanetoidFormatError(
            f"the downloaded {name} is not a readable Planetoid file, so it was not kept "
            f"and the next run downloads it again (a transfer cut short, or a wrong "
            f"SPIKEGRAPH_PLANETOID_URL): {err}"
        ) from err


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
    sums = {f"ind.{name.lower()}.{s}": sha256_bytes(raw[s]) for s in RAW_SUFFIXES}
    edited = [f for f, digest in sums.items() if PINNED_SHA256[f] not in (None, digest)]
    if edited:
        log.warning(
            "%s in %s: %s not the canonical Planetoid file%s (sha256 unlike the pinned "
            "one); loading the graph the files in this folder hold",
            name,
            raw_dir,
            ", ".join(edited) + (" are" if len(edited) > 1 else " is"),
            "s" if len(edited) > 1 else "",
        )
    key = content_key(
        [("format", FORMAT_VERSION), ("dataset", name), ("split", split), *sums.items()]
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
    download: bool | None = None,
) -> PlanetoidDataset:
    """Load a Planetoid dataset, downloading its raw files first where they are missing.

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
        download: Download missing raw files into the data root. ``None`` (default): only
            when the root is the default data folder, i.e. neither ``root`` nor
            ``$SPIKEGRAPH_DATA`` is given (a folder the user names is only read, so that a
            mistyped path is an error, not a fresh download); ``True``: also into a given
            root, as PyG does; ``False``: never.

    Returns:
        The dataset; ``dataset[0]`` holds ``x``, ``edge_index``, ``y`` and the masks, equal
        to what PyG's :class:`~torch_geometric.datasets.Planetoid` gives.

    Raises:
        ValueError: for an unknown name or split.
        FileNotFoundError: naming the missing raw files, their URLs and where they belong
            (a :class:`~spikegraph.datasets.download.DownloadError` when downloading them
            failed).
        spikegraph.datasets.download.ChecksumError: (a ``ValueError``) a downloaded file
            does not have its pinned sha256.
        spikegraph.datasets.planetoid_raw.PlanetoidFormatError: (a ``ValueError``) naming
            a raw file that is malformed, truncated, inconsistent with the others or
            refused. Local files that are consistent but not the canonical ones (their
            sha256 unlike :data:`PINNED_SHA256`) load with a warning naming them.
    """
    name = canonical_name(name)
    check_choice(split, SPLITS, "split")
    raw_dir = locate_files(
        root,
        download,
        lambda data_root, hint="": find_raw_dir(name, data_root, hint=hint),
        lambda data_root: download_planetoid(name, data_root),
        _candidates(name, default_data_dir())[0],
    )
    work = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    work = work / "planetoid"
    log.info("Loading %s from %s (processed files in %s)", name, raw_dir, work / name)
    data = _processed(name, split, raw_dir, work, rebuild=force_reload)
    if pre_transform is not None:
        data = pre_transform(data)
    return PlanetoidDataset(data, name, split, transform=transform)
