"""Reading the raw Planetoid files (Yang et al., "Revisiting Semi-Supervised Learning with
Graph Embeddings", ICML 2016) safely and strictly, into the graph PyG's
``torch_geometric.io.planetoid.read_planetoid_data`` builds from them.

The eight files ``ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}`` are Python 2 pickles
(scipy CSR feature matrices, numpy one-hot label arrays, a ``defaultdict`` adjacency list)
and one text file of test node ids. Here the pickles are read with
:func:`~spikegraph.datasets.safe_pickle.restricted_loads`, which admits only numpy, scipy CSR,
``list`` and ``defaultdict`` globals, so a crafted file cannot run code; and every file is
checked against the others (sizes, index ranges, one-hot labels, adjacency types), so a
truncated file, or one edited into an inconsistent graph, is a :class:`PlanetoidFormatError`
naming it. An edit that leaves the files consistent (two test ids swapped, a changed
feature value) gives another graph, as with PyG: :func:`spikegraph.datasets.load_planetoid`
then warns, naming the files whose sha256 is not the canonical one (records tell the two
graphs apart by their data fingerprint).

The graph is then assembled exactly as PyG does (same node order, CiteSeer's isolated test
nodes as zero rows, the public split, undirected edges without self-loops, coalesced and
sorted by column), and :func:`full_split` gives PyG's ``split="full"``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import scipy.sparse
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, index_to_mask, remove_self_loops

from spikegraph.datasets.safe_pickle import RefusedGlobalError, restricted_loads

#: The eight files of a Planetoid dataset, ``ind.<name>.<suffix>``, in PyG's order.
RAW_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
#: Validation nodes of the public split: the ``NUM_VAL`` nodes after the training nodes.
NUM_VAL = 500

_INDEX_LINE = re.compile(rb"[ \t]*([0-9]+)[ \t\r]*")


class PlanetoidFormatError(ValueError):
    """A raw Planetoid file is malformed, truncated, tampered with or inconsistent with the
    others; the message names the file(s)."""


def raw_file_names(name: str) -> list[str]:
    """The eight raw files Planetoid reads, e.g. ``ind.cora.x``."""
    return [f"ind.{name.lower()}.{s}" for s in RAW_SUFFIXES]


def read_raw_bytes(raw_dir: str | os.PathLike, name: str) -> dict[str, bytes]:
    """The eight files' bytes, keyed by suffix (``"x"`` ... ``"test.index"``)."""
    raw_dir = Path(raw_dir)
    return {s: (raw_dir / f).read_bytes() for s, f in zip(RAW_SUFFIXES, raw_file_names(name))}


def parse_test_index(data: bytes, path: str) -> np.ndarray:
    """Test node ids: one non-negative integer per line (a final newline is optional)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise PlanetoidFormatError(f"{path}: empty file (expected one test node id per line)")
    ids = np.empty(len(lines), dtype=np.int64)
    for i, line in enumerate(lines):
        match = _INDEX_LINE.fullmatch(line)
        if match is None:
            raise PlanetoidFormatError(
                f"{path}: line {i + 1} is {line[:40]!r}, not a non-negative integer"
            )
        value = int(match.group(1))
        if value >= 2**63:
            raise PlanetoidFormatError(
                f"{path}: line {i + 1} is {line[:40]!r}, a node id too large for int64"
            )
        ids[i] = value
    return ids


def parse_pickle(data: bytes, path: str) -> object:
    """Unpickle a raw file with the restricted unpickler, naming ``path`` in any error."""
    try:
        return restricted_loads(data)
    except RefusedGlobalError as err:
        raise PlanetoidFormatError(
            f"{path}: refusing to load: the pickle asks for the global {err.global_name!r}, "
            "which Planetoid files never hold (only numpy arrays, scipy CSR matrices, lists "
            "and dicts); the file is not a Planetoid file or has been tampered with"
        ) from None
    except Exception as err:
        raise PlanetoidFormatError(
            f"{path}: not a readable Planetoid pickle ({type(err).__name__}: {err}); "
            "the file is truncated or corrupt"
        ) from err


def _to_dense(obj: object, path: str) -> np.ndarray:
    """A 2-D numeric, finite matrix (scipy CSR or numpy array) as a dense array."""
    if scipy.sparse.issparse(obj):
        if obj.format != "csr":
            raise PlanetoidFormatError(f"{path}: expected a CSR matrix, got {obj.format!r}")
        try:
            obj.check_format(full_check=True)
            dense = obj.toarray()
        except Exception as err:
            raise PlanetoidFormatError(f"{path}: malformed sparse matrix ({err})") from err
    elif isinstance(obj, np.ndarray):
        dense = np.asarray(obj)
    else:
        raise PlanetoidFormatError(
            f"{path}: expected a numpy array or scipy CSR matrix, got {type(obj).__name__}"
        )
    if dense.ndim != 2:
        raise PlanetoidFormatError(f"{path}: expected a 2-D matrix, got shape {dense.shape}")
    if dense.dtype.kind not in "biuf":
        raise PlanetoidFormatError(f"{path}: expected numbers, got dtype {dense.dtype}")
    if dense.dtype.kind == "f" and not np.isfinite(dense).all():
        raise PlanetoidFormatError(f"{path}: holds NaN or infinite values")
    return dense


def _check_one_hot(labels: np.ndarray, path: str) -> None:
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        row = int(np.nonzero(bad.any(axis=1))[0][0])
        raise PlanetoidFormatError(
            f"{path}: labels must be one-hot 0/1 rows; row {row} is {labels[row].tolist()}"
        )
    counts = labels.sum(axis=1)
    if (counts != 1).any():
        row = int(np.nonzero(counts != 1)[0][0])
        raise PlanetoidFormatError(
            f"{path}: labels must be one-hot (exactly one 1 per row); row {row} has "
            f"{int(counts[row])}"
        )


def _check_graph(graph: object, num_nodes: int, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the adjacency dict ``{node: [neighbour, ...]}``."""
    if not isinstance(graph, dict):
        raise PlanetoidFormatError(
            f"{path}: expected a dict of adjacency lists, got {type(graph).__name__}"
        )
    rows, cols = [], []
    for node, neighbours in graph.items():
        if type(node) is not int:
            raise PlanetoidFormatError(
                f"{path}: node ids must be ints, got {type(node).__name__} {node!r}"
            )
        if not isinstance(neighbours, list) or any(type(v) is not int for v in neighbours):
            raise PlanetoidFormatError(
                f"{path}: the neighbours of node {node} must be a list of ints, got "
                f"{neighbours!r:.80}"
            )
        rows.append(np.full(len(neighbours), node, dtype=np.int64))
        cols.append(np.asarray(neighbours, dtype=np.int64))
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    ids = np.concatenate([np.fromiter(graph.keys(), dtype=np.int64, count=len(graph)), col])
    if ids.size and (ids.min() < 0 or ids.max() >= num_nodes):
        bad = int(ids[(ids < 0) | (ids >= num_nodes)][0])
        raise PlanetoidFormatError(
            f"{path}: node id {bad} is out of range for {num_nodes} nodes "
            f"(from the feature and test index files)"
        )
    return row, col


def read_planetoid(raw_dir: str | os.PathLike, name: str, raw: dict | None = None) -> Data:
    """Read and check a Planetoid dataset's raw files; build PyG's graph from them.

    Args:
        raw_dir: Folder holding ``ind.<name>.*`` (named in errors).
        name: ``"Cora"``, ``"CiteSeer"`` or ``"PubMed"`` (the spelling decides the file
            names, and CiteSeer's isolated test nodes are handled as PyG does).
        raw: The files' bytes as :func:`read_raw_bytes` returns them, if already read (so
            what is checked is exactly what was hashed); read from ``raw_dir`` otherwise.

    Returns:
        ``Data(x, edge_index, y, train_mask, val_mask, test_mask)`` with the public split,
        equal to what PyG's :class:`~torch_geometric.datasets.Planetoid` builds.

    Raises:
        PlanetoidFormatError: naming the file that is malformed or inconsistent.
    """
    raw_dir = Path(raw_dir)
    raw = read_raw_bytes(raw_dir, name) if raw is None else raw
    paths = {s: str(raw_dir / f) for s, f in zip(RAW_SUFFIXES, raw_file_names(name))}
    objs = {s: parse_pickle(raw[s], paths[s]) for s in RAW_SUFFIXES[:-1]}
    test_index = parse_test_index(raw["test.index"], paths["test.index"])
    arr = {s: _to_dense(objs[s], paths[s]) for s in ("x", "tx", "allx", "y", "ty", "ally")}

    def mismatch(what: str, a: str, b: str, axis: int) -> None:
        if arr[a].shape[axis] != arr[b].shape[axis]:
            raise PlanetoidFormatError(
                f"{paths[a]} has {arr[a].shape[axis]} {what} but {paths[b]} has "
                f"{arr[b].shape[axis]}: the files do not belong together (truncated or "
                "tampered?)"
            )

    for a, b in (("x", "y"), ("tx", "ty"), ("allx", "ally")):
        mismatch("rows", a, b, 0)
    for a, b in (("x", "allx"), ("tx", "allx")):
        mismatch("feature columns", a, b, 1)
    for a, b in (("y", "ally"), ("ty", "ally")):
        mismatch("label columns", a, b, 1)
    for s in ("y", "ty", "ally"):
        _check_one_hot(arr[s], paths[s])

    num_train, num_all, num_test = len(arr["y"]), len(arr["allx"]), len(arr["tx"])
    if num_train + NUM_VAL > num_all:
        raise PlanetoidFormatError(
            f"{paths['allx']} has {num_all} rows, fewer than the {num_train} training rows "
            f"of {paths['y']} plus {NUM_VAL} validation nodes"
        )
    path = paths["test.index"]
    if len(test_index) != num_test:
        raise PlanetoidFormatError(
            f"{path} lists {len(test_index)} test nodes but {paths['tx']} has {num_test} "
            "rows: one of them is truncated or tampered with"
        )
    if len(np.unique(test_index)) != len(test_index):
        raise PlanetoidFormatError(f"{path}: test node ids repeat")
    citeseer = name.lower() == "citeseer"
    # Test nodes follow the labelled ones (allx): ids allx.rows ... N - 1. CiteSeer's ids
    # leave gaps (isolated nodes with no features), filled with zero rows as PyG does.
    num_nodes = int(test_index.max()) + 1 if citeseer else num_all + num_test
    if test_index.min() != num_all or test_index.max() >= num_nodes:
        raise PlanetoidFormatError(
            f"{path}: test node ids must cover {num_all} ... {num_nodes - 1} (after the "
            f"{num_all} rows of {paths['allx']}), got {int(test_index.min())} ... "
            f"{int(test_index.max())}"
        )
    row, col = _check_graph(objs["graph"], num_nodes, paths["graph"])
    if citeseer:  # the node count came from the largest test id: it must be the graph's
        graph_nodes = 1 + max(int(row.max(initial=-1)), int(col.max(initial=-1)))
        graph_nodes = max(graph_nodes, 1 + max(objs["graph"], default=-1))
        if graph_nodes != num_nodes:
            raise PlanetoidFormatError(
                f"{path}: the largest test id, {num_nodes - 1}, does not fit the "
                f"{graph_nodes} nodes of {paths['graph']} (ids 0 ... {graph_nodes - 1})"
            )

    t = {s: torch.from_numpy(arr[s]).to(torch.float) for s in arr}
    test = torch.from_numpy(test_index)
    sorted_test = test.sort()[0]
    tx, ty = t["tx"], t["ty"]
    if citeseer:
        tx = tx.new_zeros(num_nodes - num_all, tx.size(1))
        tx[sorted_test - num_all] = t["tx"]
        ty = ty.new_zeros(num_nodes - num_all, ty.size(1))
        ty[sorted_test - num_all] = t["ty"]
    x = torch.cat([t["allx"], tx], dim=0)
    x[test] = x[sorted_test]
    y = torch.cat([t["ally"], ty], dim=0).max(dim=1)[1]
    y[test] = y[sorted_test]

    edge_index = torch.stack([torch.from_numpy(row), torch.from_numpy(col)], dim=0)
    edge_index, _ = remove_self_loops(edge_index)
    edge_index = coalesce(edge_index, num_nodes=num_nodes, sort_by_row=False)

    data = Data(x=x, edge_index=edge_index, y=y)
    data.train_mask = index_to_mask(torch.arange(num_train), size=num_nodes)
    data.val_mask = index_to_mask(torch.arange(num_train, num_train + NUM_VAL), size=num_nodes)
    data.test_mask = index_to_mask(test, size=num_nodes)
    return data


def full_split(data: Data) -> Data:
    """PyG's ``split="full"``: every node outside validation and test trains (in place)."""
    data.train_mask = ~(data.val_mask | data.test_mask)
    return data


__all__ = [
    "NUM_VAL",
    "RAW_SUFFIXES",
    "PlanetoidFormatError",
    "full_split",
    "raw_file_names",
    "read_planetoid",
    "read_raw_bytes",
]
