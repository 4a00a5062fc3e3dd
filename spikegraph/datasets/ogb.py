"""OGB node-property datasets (Hu et al., "Open Graph Benchmark: Datasets for Machine Learning
on Graphs", NeurIPS 2020) through ogb's own :class:`~ogb.nodeproppred.PygNodePropPredDataset`,
from local files, without writing into the data folder.

The data folder holds a dataset in OGB's on-disk layout, under ``<root>/ogb/<dir>`` or
``<root>/<dir>`` where ``<dir>`` is OGB's folder name (``ogbn_arxiv`` for ``ogbn-arxiv``).
When no data folder is given (no ``--root``, no ``$SPIKEGRAPH_DATA``) and the files are
missing from the default one (``<cache>/data``), they are downloaded from the URL in ogb's
own ``master.csv`` (``$SPIKEGRAPH_OGB_URL`` replaces the folder part of that URL), unpacked
and moved into place atomically (see :func:`download_ogb`); ogb's own download, which asks
questions on stdin, is never used. No sha256 is pinned for OGB's archives; the files are
CSV tables read by ogb with pandas (no code runs from them) and checked before they are
cached, as ogb does not: every file is a complete gzip file; every row has the fields its
table needs (two for an edge, one for a label, a split id or a count; as many as the first
row for features) and every field is a finite number, an integer in the tables of ids,
labels and counts (``3.0`` is read as 3, ``3.5`` is refused where ogb would truncate it to
3); every table has the rows that ``num-node-list``/``num-edge-list`` declare, edge ends
are node ids, labels are among the classes OGB declares, and the split's parts list each
node at most once, in one part only. A file that fails is named in the error, with the
dataset, the 1-based line, its text and the bad field. ogb itself reads a label ``NaN`` as
an unlabelled node (ogbn-papers100M has such nodes); ogbn-arxiv and ogbn-products label
every node, so a ``NaN`` label there is refused like any other value that is not a
class::

    RELEASE_v1.txt
    raw/edge.csv.gz  raw/node-feat.csv.gz  raw/node-label.csv.gz
    raw/num-node-list.csv.gz  raw/num-edge-list.csv.gz  (raw/node_year.csv.gz for arxiv)
    split/<split>/{train,valid,test}.csv.gz             (<split> is "time" for arxiv)

Processing runs ogb's own code in a temporary folder of the cache (the files linked into
it), under an inter-process lock; the resulting graph, labels and split masks are stored as
plain tensors in ``<cache>/ogb/<dir>/processed/<key>.pt``, where ``<key>`` is a sha256 of
the dataset files' content and :data:`FORMAT_VERSION`. Changed files therefore never reuse an
old entry; entries are written atomically and read with ``torch.load(weights_only=True)``,
and a damaged entry is rebuilt (see :mod:`spikegraph.datasets.cache`).

Compatibility notes (ogb 1.3.6 with torch >= 2.6 and pandas >= 3):

- ogb reads its processed file with a bare ``torch.load``; since torch 2.6 that defaults to
  ``weights_only=True``, which refuses PyG's ``Data`` classes. That load (only ever of the
  file ogb has just written into the temporary folder) runs inside
  ``torch.serialization.safe_globals`` for exactly those classes.
- ogb's readers use the pandas module they import as ``pd``; while spikegraph processes a
  dataset, that name in ``ogb.io.read_graph_raw`` and ``ogb.nodeproppred.dataset_pyg`` is a
  stand-in whose ``read_csv`` reads the dataset's tables through
  :func:`spikegraph.datasets.gzcsv.read_table` (blank lines kept, so that row ``i`` is line
  ``i + 1``), checking what ogb is given before it casts it (one process-wide lock around
  it; processing fails if ogb read a table without it).
- with pandas' copy-on-write, ogb's ``torch.from_numpy(df.values)`` sees read-only arrays and
  torch warns that it does not support non-writable tensors. The tensors concerned (split
  indices, labels before saving) are only read, so that one warning is silenced.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import index_to_mask

from spikegraph._progress import Stages
from spikegraph._validation import check_choice
from spikegraph.datasets.cache import (
    cache_lock,
    content_key,
    load_tensors,
    remove_stale_temporaries,
    save_tensors,
    sha256_file,
)
from spikegraph.datasets.download import fetch_zip, join_url
from spikegraph.datasets.gzcsv import CsvTableError, count_rows, read_table
from spikegraph.datasets.planetoid import (
    default_cache_dir,
    default_data_dir,
    locate_files,
)
from spikegraph.datasets.synthetic import read_provenance

log = logging.getLogger(__name__)

#: OGB node-property datasets spikegraph loads: homogeneous, single-label, multi-class.
OGB_NODE = ("ogbn-arxiv", "ogbn-products")
#: Version of the processed format: part of every cache key, bumped when it changes.
FORMAT_VERSION = "3"  # 2: files failing the checks of _process_with_ogb are refused
# 3: tables are read through gzcsv.read_table: NaN features, short rows, labels or ids that
# are not integers (once truncated by ogb) are refused, so no entry built before is reused


def _require_ogb():
    try:
        import ogb.nodeproppred as nodeproppred
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Loading OGB datasets needs the 'ogb' package: pip install 'spikegraph[ogb]'"
        ) from err
    return nodeproppred


def canonical_ogb_name(name: str) -> str:
    """``"OGBN-Arxiv"`` -> ``"ogbn-arxiv"``; raises ``ValueError`` for other names."""
    return check_choice(str(name).lower(), OGB_NODE, "OGB node dataset")


def ogb_dir_name(name: str) -> str:
    """OGB's folder name for a dataset: ``"ogbn-arxiv"`` -> ``"ogbn_arxiv"``."""
    return canonical_ogb_name(name).replace("-", "_")


def _meta_info(name: str) -> dict[str, str]:
    """The row of ogb's own ``master.csv`` for ``name``."""
    import pandas as pd

    nodeproppred = _require_ogb()
    master = Path(nodeproppred.__file__).parent / "master.csv"
    table = pd.read_csv(master, index_col=0, keep_default_na=False)
    return {k: str(v) for k, v in table[canonical_ogb_name(name)].items()}


def required_files(name: str) -> list[str]:
    """Paths, relative to the dataset folder, that ogb reads for ``name``."""
    meta = _meta_info(name)
    raw = ["edge", "num-node-list", "num-edge-list", "node-label"]
    if meta["has_node_attr"] == "True":
        raw.append("node-feat")
    if meta["has_edge_attr"] == "True":
        raw.append("edge-feat")
    for key in ("additional node files", "additional edge files"):
        if meta[key] != "None":
            raw.extend(meta[key].split(","))
    split = meta["split"]
    return [
        f"RELEASE_v{meta['version']}.txt",
        *(f"raw/{f}.csv.gz" for f in raw),
        *(f"split/{split}/{part}.csv.gz" for part in ("train", "valid", "test")),
    ]


def ogb_url(name: str) -> str:
    """URL of ``name``'s zip archive: ogb's (``master.csv``), its folder replaced by
    ``$SPIKEGRAPH_OGB_URL`` when set."""
    url = _meta_info(name)["url"]
    base = os.environ.get("SPIKEGRAPH_OGB_URL")
    return join_url(base, url.rpartition("/")[2]) if base else url


def find_ogb_dir(name: str, root: Path, hint: str = "") -> Path:
    """Locate ``name``'s folder under ``root`` (``root/ogb/<dir>`` or ``root/<dir>``).

    Args:
        name: The dataset.
        root: The data root.
        hint: Appended to the error message (how else the files can be had).

    Raises:
        FileNotFoundError: naming the missing files, the URL and where to put them.
    """
    files = required_files(name)
    dir_name = ogb_dir_name(name)
    candidates = [root / "ogb" / dir_name, root / dir_name]
    for cand in candidates:
        if all((cand / f).is_file() for f in files):
            return cand
    best = max(candidates, key=lambda c: sum((c / f).is_file() for f in files))
    missing = [f for f in files if not (best / f).is_file()]
    member = _meta_info(name)["download_name"]
    raise FileNotFoundError(
        f"{canonical_ogb_name(name)}: missing files {missing} in {best}. Put OGB's files "
        f"({', '.join(files)}; the folder {member}/ of {ogb_url(name)}) into {candidates[0]} "
        f"(or {candidates[1]}), or point --root / SPIKEGRAPH_DATA at a folder that holds "
        f"ogb/{dir_name}/{hint}"
    )


def download_ogb(name: str, root: str | os.PathLike) -> Path:
    """Download ``name``'s archive (:func:`ogb_url`) and put its missing files into
    ``root/ogb/<dir>``, atomically (see :func:`spikegraph.datasets.download.fetch_zip`).

    Returns:
        The dataset folder.

    Raises:
        spikegraph.datasets.download.DownloadError: (a ``FileNotFoundError``) offline or
            refused: names the files, the URL and the folder.
    """
    name = canonical_ogb_name(name)
    folder = Path(root) / "ogb" / ogb_dir_name(name)
    member = _meta_info(name)["download_name"]
    fetch_zip(ogb_url(name), folder, required_files(name), member, what=name)
    return folder


def _link_files(src: Path, work: Path, files: list[str]) -> None:
    """Symlink ``src/f`` to ``work/f`` for every file (``work`` is a fresh folder)."""
    for f in files:
        link = work / f
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(src / f)


def _safe_globals():
    """Allow-list PyG's ``Data`` classes for ogb's ``torch.load`` of its processed file."""
    safe = getattr(torch.serialization, "safe_globals", None)
    if safe is None:  # torch < 2.5: weights_only is off by default
        return contextlib.nullcontext()
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    return safe([DataEdgeAttr, DataTensorAttr, GlobalStorage])


def _files_key(name: str, src: Path, files: list[str]) -> str:
    """sha256 over the dataset files' content (and the format version)."""
    parts = [("format", FORMAT_VERSION), ("dataset", name)]
    return content_key([*parts, *((f, sha256_file(src / f)) for f in files)])


def _table_shape(file: str) -> tuple[int | None, bool]:
    """``(fields per row or None for any, integers only)`` of one of a dataset's tables."""
    table = file.rpartition("/")[2].removesuffix(".csv.gz")
    if file.startswith("split/") or table in ("num-node-list", "num-edge-list", "node-label"):
        return 1, True
    if table == "edge":
        return 2, True
    return None, False  # node-feat, edge-feat, node_year ...: finite numbers


def _table_error(name: str, src: Path, file: str, err: CsvTableError) -> ValueError:
    """The error for ``file`` of ``name`` in ``src``, from what :mod:`gzcsv` found."""
    note = ""
    if file == "raw/node-label.csv.gz":
        classes = int(_meta_info(name)["num classes"])
        note = f" (a label is one of the classes 0 ... {classes - 1}"
        if "finite" in err.reason or "empty" in err.reason:
            note += f"; {name} labels every node: ogb's NaN for an unlabelled node is refused"
        note += ")"
    return ValueError(f"{name}: {file} in {src}, {err.reason}{note}")


def _read_checked(
    name: str, src: Path, file: str, path: Any, lines: int | None, **kwargs: Any
) -> Any:
    """``file`` of ``name`` (at ``path``) read by pandas and checked (see
    :func:`spikegraph.datasets.gzcsv.read_table`), else a ``ValueError`` naming the
    dataset, the file, the line and the value."""
    width, integers = _table_shape(file)
    try:
        return read_table(path, width=width, integers=integers, lines=lines, **kwargs)
    except CsvTableError as err:
        raise _table_error(name, src, file, err) from err.__cause__


def _declared(name: str, src: Path, file: str, lines: int, what: str) -> int:
    """The one count in ``raw/<file>`` (an OGB node dataset is one graph)."""
    table = _read_checked(name, src, f"raw/{file}", src / "raw" / file, lines)
    counts = table.to_numpy().ravel()
    if len(counts) != 1:
        raise ValueError(
            f"raw/{file} in {src} holds {len(counts)} {what} counts; a node dataset is one "
            "graph, so it must hold exactly one"
        )
    return int(counts[0])


def _check_counts(name: str, src: Path, files: list[str]) -> dict[str, int]:
    """Every table is a complete gzip file, and every node (edge) table has as many rows as
    ``num-node-list`` (``num-edge-list``) declares: ogb slices the tables by those counts
    without comparing, so a smaller count would drop rows. Returns every table's lines."""
    lines = {}
    for file in files:
        if file.endswith(".csv.gz"):
            try:
                lines[file] = count_rows(src / file)
            except CsvTableError as err:
                raise _table_error(name, src, file, err) from err.__cause__
    declared = {
        what: (
            f"num-{what}-list.csv.gz",
            _declared(
                name, src, f"num-{what}-list.csv.gz", lines[f"raw/num-{what}-list.csv.gz"], what
            ),
        )
        for what in ("edge", "node")
    }
    for file in files:
        table = file.removeprefix("raw/")
        if table == file or table.startswith("num-") or not table.endswith(".csv.gz"):
            continue
        what = "edge" if table.startswith("edge") else "node"
        count_file, count = declared[what]
        rows = lines[file]
        if rows != count:
            raise ValueError(
                f"{name}: raw/{count_file} in {src} declares {count} {what}s, but {file} "
                f"has {rows} rows"
            )
    return lines


def _check_values(name: str, src: Path, data: Data) -> None:
    """Edge ends are nodes, and labels are classes that OGB declares for ``name``."""
    n = data.num_nodes
    bad = ((data.edge_index < 0) | (data.edge_index >= n)).any(dim=0)
    if bool(bad.any()):
        edge = int(bad.nonzero()[0])
        value = next(int(v) for v in data.edge_index[:, edge] if not 0 <= v < n)
        # ogb stores an edge and its reverse side by side where it adds the reverse edges
        row = edge // 2 if _meta_info(name)["add_inverse_edge"] == "True" else edge
        raise ValueError(
            f"{name}: raw/edge.csv.gz in {src} holds node id {value} (line {row + 1}) outside "
            f"0 ... {n - 1}"
        )
    classes = int(_meta_info(name)["num classes"])
    bad = (data.y < 0) | (data.y >= classes)
    if bool(bad.any()):
        node = int(bad.nonzero()[0])
        raise ValueError(
            f"{name}: raw/node-label.csv.gz in {src} has label {int(data.y[node])} at node "
            f"{node} (line {node + 1}), outside the {classes} classes 0 ... {classes - 1} "
            "that OGB declares"
        )


def _check_split(name: str, src: Path, parts: dict[str, Tensor], num_nodes: int) -> None:
    """Each part's ids are nodes, listed once, and no node is in two parts."""
    folder = f"split/{_meta_info(name)['split']}"
    owner = torch.full((num_nodes,), -1, dtype=torch.long)
    names = list(parts)
    for k, (part, idx) in enumerate(parts.items()):
        where = f"{name}: {folder}/{part}.csv.gz in {src}"
        if idx.numel() and (idx.min() < 0 or idx.max() >= num_nodes):
            raise ValueError(f"{where} holds node ids outside 0 ... {num_nodes - 1}")
        ordered = idx.sort().values
        twice = ordered[1:][ordered[1:] == ordered[:-1]]
        if twice.numel():
            raise ValueError(f"{where} lists node {int(twice[0])} twice")
        taken = owner[idx] >= 0
        if bool(taken.any()):
            node = int(idx[taken][0])
            other = names[int(owner[node])]
            raise ValueError(
                f"{name}: node {node} is in both {folder}/{other}.csv.gz and "
                f"{folder}/{part}.csv.gz in {src}"
            )
        owner[idx] = k


#: Held while ogb's readers see :class:`_CheckedPandas` (one dataset at a time per process).
_OGB_READS = threading.Lock()


class _CheckedPandas:
    """pandas as ogb's readers see it while spikegraph processes a dataset: ``read_csv`` of
    one of the dataset's tables reads and checks it (:func:`_read_checked`), so that ogb is
    only ever given checked tables; everything else is pandas' own.

    Args:
        name: The dataset.
        src: Its folder (named in errors).
        folder: The folder ogb reads (``src``'s files linked into the work folder).
        lines: Each table's lines (:func:`_check_counts`), by path relative to ``folder``.
    """

    def __init__(self, name: str, src: Path, folder: Path, lines: dict[str, int]) -> None:
        import pandas

        self._pandas = pandas
        self._name, self._src, self._folder, self._lines = name, src, folder, lines
        self.checked: set[str] = set()

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._pandas, attr)

    def read_csv(self, filepath: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            file = Path(filepath).relative_to(self._folder).as_posix()
        except (TypeError, ValueError):  # not a path in the folder (ogb's master.csv)
            file = None
        if file not in self._lines or args:
            return self._pandas.read_csv(filepath, *args, **kwargs)
        self.checked.add(file)
        return _read_checked(
            self._name,
            self._src,
            file,
            filepath,
            self._lines[file],
            read_csv=self._pandas.read_csv,
            **kwargs,
        )


@contextlib.contextmanager
def _checked_reads(name: str, src: Path, folder: Path, lines: dict[str, int]):
    """Within it, ogb's readers read ``folder``'s tables through :class:`_CheckedPandas`;
    after it, every table must have been read so."""
    import ogb.io.read_graph_raw as graph_raw
    import ogb.nodeproppred.dataset_pyg as dataset_pyg

    modules = (graph_raw, dataset_pyg)
    with _OGB_READS:
        shim = _CheckedPandas(name, src, folder, lines)
        saved = [module.pd for module in modules]
        for module in modules:
            module.pd = shim
        try:
            yield
        finally:
            for module, pd in zip(modules, saved):
                module.pd = pd
    unchecked = sorted(set(lines) - shim.checked)
    if unchecked:
        raise RuntimeError(
            f"{name}: ogb read {unchecked} in {src} without spikegraph's checks (an ogb "
            "version whose readers are not those of ogb 1.3.6?)"
        )


def _process_with_ogb(name: str, src: Path, files: list[str], work: Path) -> dict[str, Tensor]:
    """Run ogb's loader on ``src``'s files linked into ``work``; the tensors to cache, after
    the checks that ogb does not make (counts, ranges, a split without repeats)."""
    nodeproppred = _require_ogb()
    lines = _check_counts(name, src, files)
    folder = work / ogb_dir_name(name)
    _link_files(src, folder, files)

    class LocalNodePropPredDataset(nodeproppred.PygNodePropPredDataset):
        """ogb's dataset, with downloading replaced by an error."""

        def download(self) -> None:
            raise FileNotFoundError(
                f"{name}: ogb asked to download into {self.root}; refusing (files in {src})"
            )

    chatter = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(chatter),
        contextlib.redirect_stderr(chatter),  # ogb's own bars: spikegraph's bar says it
        _safe_globals(),
        _checked_reads(name, src, folder, lines),
    ):
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        dataset = LocalNodePropPredDataset(name, root=str(work))
        split = dataset.get_idx_split()
    if chatter.getvalue().strip():
        log.debug("ogb: %s", chatter.getvalue().strip())

    data = dataset[0]
    if data.y.is_floating_point():  # NaN labels are refused by the checks before this
        raise ValueError(f"{name}: labels contain NaN (unlabelled nodes); not supported")
    data.y = data.y.view(-1)
    _check_values(name, src, data)
    parts = {"train": "train_mask", "valid": "val_mask", "test": "test_mask"}
    _check_split(name, src, {part: split[part].to(torch.long) for part in parts}, data.num_nodes)
    for part, key in parts.items():
        data[key] = index_to_mask(split[part].to(torch.long), size=data.num_nodes)
    tensors = {k: v for k, v in data.items() if isinstance(v, Tensor)}
    tensors["num_nodes"] = torch.tensor(int(data.num_nodes))
    return tensors


def load_ogb(
    name: str,
    root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool | None = None,
    mmap: bool = False,
    progress: bool = False,
) -> tuple[Data, int]:
    """Load an OGB node-property dataset with ogb's own loader, downloading its files first
    where they are missing.

    spikegraph adds no edges to the graph ogb builds: ``ogbn-products`` has both directions
    of every edge (ogb adds them, its ``add_inverse_edge``), but ``ogbn-arxiv`` stays
    directed, one edge per citation row of ``edge.csv``, so a paper aggregates only
    over the edges stored towards it. OGB's and PyG's arxiv examples symmetrise it first;
    to do the same, apply ``torch_geometric.transforms.ToUndirected()`` to the loaded graph
    (``data = ToUndirected()(data)``).

    Args:
        name: ``"ogbn-arxiv"`` or ``"ogbn-products"`` (any case).
        root: Data root (see :func:`~spikegraph.datasets.resolve_root`).
        cache_dir: Where processed files go (see
            :func:`~spikegraph.datasets.default_cache_dir`).
        download: Download missing files into the data root: ``None`` (default) only into
            the default data folder (neither ``root`` nor ``$SPIKEGRAPH_DATA`` given);
            ``True`` also into a given root; ``False`` never.
        mmap: Memory-map the processed tensors (features, edges, labels) from the cache
            file instead of reading them into memory (see
            :func:`~spikegraph.datasets.cache.load_tensors`); on the first load they are
            processed, stored, then mapped from the stored file. spikegraph replaces cache
            files atomically (a new file), so a mapped graph never changes under a run; a
            file overwritten in place by other means would.
        progress: Show a progress bar over the loading stages (hashing the files,
            processing them with ogb, reading the processed tensors).

    Returns:
        ``(data, num_classes)``: the graph with ``x``, ``edge_index``, ``y`` of shape ``[N]``
        and ``train_mask``, ``val_mask``, ``test_mask`` from OGB's official split
        (``get_idx_split()``), and the number of classes OGB declares for the dataset.

    Raises:
        ValueError: for a dataset other than those in :data:`OGB_NODE`.
        FileNotFoundError: naming the files that are missing, the URL and where they
            belong (a :class:`~spikegraph.datasets.download.DownloadError` when downloading
            them failed).
    """
    name = canonical_ogb_name(name)
    _require_ogb()
    files = required_files(name)
    src = locate_files(
        root,
        download,
        lambda data_root, hint="": find_ogb_dir(name, data_root, hint=hint),
        lambda data_root: download_ogb(name, data_root),
        default_data_dir() / "ogb" / ogb_dir_name(name),
    )
    base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    folder = base / "ogb" / ogb_dir_name(name)
    provenance = read_provenance(src)
    if provenance is not None:
        log.info("%s in %s is %s, not OGB's data", name, src, provenance["label"])
    stages = ("hash files", "process with ogb", "read processed")
    with Stages(f"load {name}", stages, enabled=progress) as bar:
        with bar.stage("hash files"):
            key = _files_key(name, src, files)
        path = folder / "processed" / f"{key[:16]}.pt"
        log.info("Loading %s from %s (processed files in %s)", name, src, path.parent)
        with bar.stage("process with ogb"):
            tensors = load_tensors(path, key, mmap=mmap)
            built = False
            if tensors is None:
                with cache_lock(folder / ".lock"):
                    # another process may have built it meanwhile
                    tensors = load_tensors(path, key, mmap=mmap)
                    if tensors is None:
                        tensors, built = _build(name, src, files, folder, key, path), True
        with bar.stage("read processed"):
            if built and mmap:
                del tensors  # the in-memory copies go; the stored file is mapped instead
                tensors = load_tensors(path, key, mmap=True)
                if tensors is None:
                    raise RuntimeError(
                        f"{name}: the processed file {path} just written cannot be read back"
                    )
    num_nodes = int(tensors.pop("num_nodes"))
    data = Data(**tensors)
    data.num_nodes = num_nodes
    return data, int(_meta_info(name)["num classes"])


def _build(name: str, src: Path, files: list[str], folder: Path, key: str, path: Path):
    """Process with ogb in a temporary folder (lock held) and store the tensors at ``path``."""
    for stale in folder.glob(".work-*.tmp"):  # left by a process killed while processing
        shutil.rmtree(stale, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    work = Path(tempfile.mkdtemp(dir=folder, prefix=".work-", suffix=".tmp"))
    try:
        log.info("Processing %s from %s", name, src)
        tensors = _process_with_ogb(name, src, files, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if _files_key(name, src, files) != key:
        raise RuntimeError(
            f"{name}: the files in {src} changed while they were being processed; run again"
        )
    save_tensors(path, key, tensors)
    return tensors


def ogb_provenance(name: str, root: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """Where the files :func:`load_ogb` reads for ``name`` under ``root`` come from:
    ``None`` for OGB's own, the provenance of a synthetic stand-in written by
    :func:`spikegraph.datasets.synthetic.make_dataset` otherwise (its ``"label"`` is what
    records call the data, e.g. ``"arxiv-like (synthetic, seed 0)"``).

    Raises:
        FileNotFoundError: the files are not there (nothing is downloaded).
    """
    name = canonical_ogb_name(name)
    src = locate_files(
        root,
        False,
        lambda data_root, hint="": find_ogb_dir(name, data_root, hint=hint),
        lambda data_root: download_ogb(name, data_root),
        default_data_dir() / "ogb" / ogb_dir_name(name),
    )
    return read_provenance(src)


def ogb_accuracy(name: str, y_true: Tensor, y_pred: Tensor) -> float:
    """Accuracy by OGB's own :class:`ogb.nodeproppred.Evaluator` (the official metric).

    Args:
        name: An OGB node dataset whose metric is accuracy (``"ogbn-arxiv"``,
            ``"ogbn-products"``).
        y_true: True labels ``[N]`` or ``[N, 1]``.
        y_pred: Predicted labels, same shape as ``y_true`` (take ``argmax`` of logits first).

    Returns:
        The fraction of correct predictions.
    """
    name = canonical_ogb_name(name)
    y_true, y_pred = torch.as_tensor(y_true), torch.as_tensor(y_pred)
    if y_true.numel() == 0:
        raise ValueError("'y_true' is empty: accuracy needs at least one node")
    column = y_true.dim() == 1 or (y_true.dim() == 2 and y_true.size(1) == 1)
    if y_true.shape != y_pred.shape or not column:
        raise ValueError(
            f"'y_true' and 'y_pred' must both be [N] or [N, 1] labels, got shapes "
            f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}"
        )
    evaluator = _require_ogb().Evaluator(name)
    out: dict[str, Any] = evaluator.eval(
        {"y_true": y_true.reshape(-1, 1), "y_pred": y_pred.reshape(-1, 1)}
    )
    return float(out["acc"])


__all__ = [
    "OGB_NODE",
    "download_ogb",
    "find_ogb_dir",
    "load_ogb",
    "ogb_accuracy",
    "ogb_provenance",
    "ogb_url",
    "required_files",
]
