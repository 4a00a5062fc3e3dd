"""Raw Planetoid files: read without running code, checked, and built exactly as PyG does."""

import os
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import torch

from spikegraph.datasets import load_dataset, load_planetoid
from spikegraph.datasets.planetoid_raw import PlanetoidFormatError, raw_file_names
from spikegraph.datasets.safe_pickle import restricted_loads

KEYS = ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")


def raw_dir_of(data_root: Path, name: str) -> Path:
    for cand in (data_root / "planetoid" / name / "raw", data_root / name / "raw"):
        if (cand / f"ind.{name.lower()}.x").is_file():
            return cand
    pytest.skip(f"no {name} raw files under {data_root}")


@pytest.fixture
def cora(cora_raw, tmp_path) -> Path:
    """A writable copy of Cora's raw files as ``<root>/planetoid/Cora/raw``; returns root."""
    root = tmp_path / "data"
    shutil.copytree(cora_raw, root / "planetoid" / "Cora" / "raw")
    return root


def raw(root: Path, suffix: str) -> Path:
    return root / "planetoid" / "Cora" / "raw" / f"ind.cora.{suffix}"


def read(root: Path, suffix: str):
    return restricted_loads(raw(root, suffix).read_bytes())


def write(root: Path, suffix: str, obj) -> None:
    raw(root, suffix).write_bytes(pickle.dumps(obj, protocol=2))


class Reduce:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("name", ["Cora", "CiteSeer", "PubMed"])
def test_equals_pygs_own_planetoid(data_root, name, tmp_path):
    """Independent reference: PyG's loader on the same (trusted) files, both splits."""
    from torch_geometric.datasets import Planetoid

    src = raw_dir_of(data_root, name)
    pyg_root = tmp_path / "pyg"
    (pyg_root / name / "raw").mkdir(parents=True)
    for f in raw_file_names(name):
        os.symlink(src / f, pyg_root / name / "raw" / f)
    root = src.parent.parent
    for split in ("public", "full"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = Planetoid(str(pyg_root), name, split=split)
        ours = load_planetoid(name, root=root, split=split, cache_dir=tmp_path / "cache")
        assert ours.num_classes == ref.num_classes
        a, b = ours[0], ref[0]
        assert sorted(a.keys()) == sorted(b.keys())
        for key in KEYS:
            assert a[key].dtype == b[key].dtype, (split, key)
            assert torch.equal(a[key], b[key]), (split, key)
        data, num_classes = load_dataset(name, root=root, split=split, cache_dir=tmp_path / "c2")
        assert num_classes == ref.num_classes
        assert all(torch.equal(data[k], b[k]) for k in KEYS)


@pytest.mark.parametrize("suffix", ["x", "graph", "ally", "test.index"])
def test_crafted_pickle_runs_nothing_and_names_file_and_global(cora, tmp_path, suffix):
    marker = tmp_path / "pwned"
    write(cora, suffix, Reduce(os.system, f"touch {marker}"))
    if suffix == "test.index":  # a text file: a pickle there is not a list of ids
        with pytest.raises(PlanetoidFormatError, match=r"ind\.cora\.test\.index: line 1 is"):
            load_planetoid("Cora", root=cora, cache_dir=tmp_path / "cache")
    else:
        msg = rf"{raw(cora, suffix)}: refusing to load: .*global '{os.system.__module__}.system'"
        with pytest.raises(PlanetoidFormatError, match=msg):
            load_planetoid("Cora", root=cora, cache_dir=tmp_path / "cache")
    assert not marker.exists()


def test_test_index_cut_to_500_lines_is_an_error(cora, tmp_path):
    """Today's silent 22% run: half the test ids, the rest of the files intact."""
    path = raw(cora, "test.index")
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:500]))
    msg = r"ind\.cora\.test\.index lists 500 test nodes but .*ind\.cora\.tx has 1000 rows"
    with pytest.raises(PlanetoidFormatError, match=msg):
        load_planetoid("Cora", root=cora, cache_dir=tmp_path / "cache")
    assert issubclass(PlanetoidFormatError, ValueError)


@pytest.mark.parametrize("suffix", ["x", "allx", "ty", "graph"])
def test_truncated_pickle_names_the_file(cora, tmp_path, suffix):
    path = raw(cora, suffix)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    msg = rf"{path}: not a readable Planetoid pickle .*truncated or corrupt"
    with pytest.raises(PlanetoidFormatError, match=msg):
        load_planetoid("Cora", root=cora, cache_dir=tmp_path / "cache")


def _drop_last_row(a):
    return a[:-1]


def _tamper_graph(root, change):
    graph = read(root, "graph")
    change(graph)
    write(root, "graph", graph)


def _set(a, index, value):
    a = a.copy()
    a[index] = value
    return a


def _edit_lines(root, change):
    path = raw(root, "test.index")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(change(lines)) + "\n")


def _trailing(root, suffix):
    path = raw(root, suffix)
    path.write_bytes(path.read_bytes() + b"junk")


def _bad_csr(root):
    m = read(root, "tx")
    m.indices = m.indices.copy()
    m.indices[0] = 10_000  # column beyond 1433
    write(root, "tx", m)


TAMPER = {
    "y row dropped": (
        lambda r: write(r, "y", _drop_last_row(read(r, "y"))),
        r"ind\.cora\.x has 140 rows but .*ind\.cora\.y has 139",
    ),
    "ty row dropped": (
        lambda r: write(r, "ty", _drop_last_row(read(r, "ty"))),
        r"ind\.cora\.tx has 1000 rows but .*ind\.cora\.ty has 999",
    ),
    "allx row dropped": (
        lambda r: write(r, "allx", _drop_last_row(read(r, "allx"))),
        r"ind\.cora\.allx has 1707 rows but .*ind\.cora\.ally has 1708",
    ),
    "tx column dropped": (
        lambda r: write(r, "tx", read(r, "tx")[:, :-1]),
        r"ind\.cora\.tx has 1432 feature columns but .*ind\.cora\.allx has 1433",
    ),
    "ty column dropped": (
        lambda r: write(r, "ty", read(r, "ty")[:, :-1]),
        r"ind\.cora\.ty has 6 label columns but .*ind\.cora\.ally has 7",
    ),
    "two labels": (
        lambda r: write(r, "ally", _set(read(r, "ally"), (3, slice(0, 2)), 1)),
        r"ind\.cora\.ally: labels must be one-hot \(exactly one 1 per row\); row 3 has 2",
    ),
    "no label": (
        lambda r: write(r, "y", _set(read(r, "y"), 5, 0)),
        r"ind\.cora\.y: labels must be one-hot \(exactly one 1 per row\); row 5 has 0",
    ),
    "label value 2": (
        lambda r: write(r, "ty", _set(read(r, "ty"), (0, 0), 2)),
        r"ind\.cora\.ty: labels must be one-hot 0/1 rows; row 0 is \[2,",
    ),
    "labels as strings": (
        lambda r: write(r, "ally", read(r, "ally").astype(str)),
        r"ind\.cora\.ally: expected numbers, got dtype <U",
    ),
    "NaN feature": (
        lambda r: write(
            r, "allx", scipy.sparse.csr_matrix(_set(read(r, "allx").toarray(), 0, np.nan))
        ),
        r"ind\.cora\.allx: holds NaN or infinite values",
    ),
    "malformed CSR": (_bad_csr, r"ind\.cora\.tx: malformed sparse matrix"),
    "features as a list": (
        lambda r: write(r, "x", [[0.0, 1.0]]),
        r"ind\.cora\.x: expected a numpy array or scipy CSR matrix, got list",
    ),
    "features 1-D": (
        lambda r: write(r, "x", np.zeros(140, dtype=np.float32)),
        r"ind\.cora\.x: expected a 2-D matrix, got shape \(140,\)",
    ),
    "test id out of range": (
        lambda r: _edit_lines(r, lambda lines: [*lines[:-1], "99999"]),
        r"ind\.cora\.test\.index: test node ids must cover 1708 \.\.\. 2707 .* 99999",
    ),
    "test id into the training nodes": (
        lambda r: _edit_lines(r, lambda lines: ["3", *lines[1:]]),
        r"ind\.cora\.test\.index: test node ids must cover 1708 \.\.\. 2707 .* got 3 \.\.\.",
    ),
    "test id repeated": (
        lambda r: _edit_lines(r, lambda lines: [lines[1], *lines[1:]]),
        r"ind\.cora\.test\.index: test node ids repeat",
    ),
    "test id not a number": (
        lambda r: _edit_lines(r, lambda lines: [*lines[:4], "12a", *lines[5:]]),
        r"ind\.cora\.test\.index: line 5 is b'12a', not a non-negative integer",
    ),
    "test id negative": (
        lambda r: _edit_lines(r, lambda lines: ["-1", *lines[1:]]),
        r"ind\.cora\.test\.index: line 1 is b'-1', not a non-negative integer",
    ),
    "test index empty": (
        lambda r: raw(r, "test.index").write_bytes(b""),
        r"ind\.cora\.test\.index: empty file",
    ),
    "neighbour out of range": (
        lambda r: _tamper_graph(r, lambda g: g[0].append(5000)),
        r"ind\.cora\.graph: node id 5000 is out of range for 2708 nodes",
    ),
    "node out of range": (
        lambda r: _tamper_graph(r, lambda g: g.__setitem__(-1, [0])),
        r"ind\.cora\.graph: node id -1 is out of range for 2708 nodes",
    ),
    "node id a string": (
        lambda r: _tamper_graph(r, lambda g: g.__setitem__("7", [0])),
        r"ind\.cora\.graph: node ids must be ints, got str '7'",
    ),
    "neighbours not a list": (
        lambda r: _tamper_graph(r, lambda g: g.__setitem__(4, 3)),
        r"ind\.cora\.graph: the neighbours of node 4 must be a list of ints, got 3",
    ),
    "neighbour a float": (
        lambda r: _tamper_graph(r, lambda g: g[4].append(1.5)),
        r"ind\.cora\.graph: the neighbours of node 4 must be a list of ints",
    ),
    "graph a list": (
        lambda r: write(r, "graph", [[1], [0]]),
        r"ind\.cora\.graph: expected a dict of adjacency lists, got list",
    ),
    "bytes after the pickle": (
        lambda r: _trailing(r, "ally"),
        r"ind\.cora\.ally: not a readable Planetoid pickle .*4 unexpected bytes",
    ),
}


@pytest.mark.parametrize("case", list(TAMPER))
def test_tampered_files_are_clear_errors_naming_the_file(cora, tmp_path, case):
    tamper, msg = TAMPER[case]
    tamper(cora)
    with pytest.raises(PlanetoidFormatError, match=msg):
        load_planetoid("Cora", root=cora, cache_dir=tmp_path / "cache")


def test_too_few_labelled_rows_for_the_validation_nodes(cora, tmp_path):
    # 140 training rows + 500 validation nodes need at least 640 rows in allx/ally.
    write(cora, "allx", read(cora, "allx")[:600])
    write(cora, "ally", read(cora, "ally")[:600])
    with pytest.raises(PlanetoidFormatError, match=r"ind\.cora\.allx has 600 rows, fewer than"):
        load_planetoid("Cora", root=cora, cache_dir=tmp_path / "cache")


def test_intact_copy_rewritten_with_python3_pickles_loads_the_same(cora, cora_raw, tmp_path):
    """Files re-pickled by Python 3 (protocols 2 and 5) are read as the originals."""
    ref = load_planetoid("Cora", root=cora, cache_dir=tmp_path / "c0")[0]
    for i, suffix in enumerate(("x", "tx", "allx", "y", "ty", "ally", "graph")):
        raw(cora, suffix).write_bytes(pickle.dumps(read(cora, suffix), protocol=(2, 5)[i % 2]))
    data = load_planetoid("Cora", root=cora, cache_dir=tmp_path / "c1")[0]
    assert all(torch.equal(data[k], ref[k]) for k in KEYS)


def test_test_id_too_large_for_int64_names_the_file(cora, tmp_path):
    _edit_lines(cora, lambda lines: [*lines[:-1], "99999999999999999999"])
    with pytest.raises(PlanetoidFormatError, match=r"ind\.cora\.test\.index: line 1000 is .*99999"):
        load_planetoid("Cora", root=cora, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("largest", [4000, 99999999999])
def test_citeseer_test_ids_beyond_the_graph_name_the_files(data_root, tmp_path, largest):
    # CiteSeer's node count comes from its largest test id (its isolated test nodes leave
    # gaps), so a tampered id must be checked against the graph, before any allocation.
    root = tmp_path / "data"
    shutil.copytree(raw_dir_of(data_root, "CiteSeer"), root / "planetoid" / "CiteSeer" / "raw")
    path = root / "planetoid" / "CiteSeer" / "raw" / "ind.citeseer.test.index"
    lines = path.read_text().splitlines()
    top = max(range(len(lines)), key=lambda i: int(lines[i]))
    lines[top] = str(largest)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        PlanetoidFormatError,
        match=rf"ind\.citeseer\.test\.index: the largest test id, {largest}, .* 3327 nodes of "
        r".*ind\.citeseer\.graph",
    ):
        load_planetoid("CiteSeer", root=root, cache_dir=tmp_path / "cache")


def test_files_unlike_the_pinned_ones_load_with_a_warning_naming_them(cora, tmp_path, caplog):
    # A user may edit the raw files (a different graph, and a different cache entry and data
    # fingerprint in records); it is said, naming the files that are not the canonical ones.
    _edit_lines(cora, lambda lines: [lines[1], lines[0], *lines[2:]])
    with caplog.at_level("WARNING", logger="spikegraph.datasets.planetoid"):
        load_planetoid("Cora", root=cora, cache_dir=tmp_path / "cache")
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(messages) == 1 and "ind.cora.test.index" in messages[0], messages
    assert "not the canonical" in messages[0] and "ind.cora.x" not in messages[0]


def test_canonical_files_load_without_a_warning(cora, tmp_path, caplog):
    with caplog.at_level("WARNING", logger="spikegraph.datasets.planetoid"):
        load_planetoid("Cora", root=cora, cache_dir=tmp_path / "cache")
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
