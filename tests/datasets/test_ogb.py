"""OGB loading on tiny datasets written here in OGB's on-disk layout (nothing is downloaded)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score

from spikegraph.cli import main
from spikegraph.datasets import DATASETS, load_dataset, load_ogb, ogb_accuracy
from spikegraph.datasets.ogb import required_files

pytest.importorskip("ogb.nodeproppred")

# name -> (folder, split folder, extra raw files, inverse edges added by ogb, classes)
LAYOUT = {
    "ogbn-arxiv": ("ogbn_arxiv", "time", ["node_year"], False, 40),
    "ogbn-products": ("ogbn_products", "sales_ranking", [], True, 47),
}


def write_csv(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(array).to_csv(path, header=False, index=False, compression="gzip")


def write_ogb_dataset(root: Path, name: str, num_nodes: int = 50, seed: int = 0) -> dict:
    """Write a random graph in OGB's layout under ``root/ogb/<folder>``; return its arrays."""
    folder, split, extra, _, num_classes = LAYOUT[name]
    rng = np.random.default_rng(seed)
    d = root / "ogb" / folder
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, num_nodes, (200, 2)) if a != b}
    edge = np.array(sorted(pairs), dtype=np.int64)
    arrays = {
        "edge": edge,
        "x": rng.standard_normal((num_nodes, 6)).astype(np.float32),
        "y": rng.integers(0, num_classes, (num_nodes, 1)),
        "perm": rng.permutation(num_nodes),
    }
    write_csv(d / "raw" / "edge.csv.gz", edge)
    write_csv(d / "raw" / "node-feat.csv.gz", arrays["x"])
    write_csv(d / "raw" / "node-label.csv.gz", arrays["y"])
    write_csv(d / "raw" / "num-node-list.csv.gz", np.array([[num_nodes]]))
    write_csv(d / "raw" / "num-edge-list.csv.gz", np.array([[len(edge)]]))
    for f in extra:
        write_csv(d / "raw" / f"{f}.csv.gz", rng.integers(2000, 2020, (num_nodes, 1)))
    p = arrays["perm"]
    n_train, n_val = num_nodes * 6 // 10, num_nodes * 2 // 10
    for part, idx in (
        ("train", p[:n_train]),
        ("valid", p[n_train : n_train + n_val]),
        ("test", p[n_train + n_val :]),
    ):
        write_csv(d / "split" / split / f"{part}.csv.gz", idx.reshape(-1, 1))
        arrays[part] = idx
    (d / "RELEASE_v1.txt").write_text("tiny test data in OGB's layout\n")
    arrays["dir"] = d
    return arrays


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def mask_of(idx, n):
    m = torch.zeros(n, dtype=torch.bool)
    m[torch.as_tensor(idx)] = True
    return m


#: Any attempt by ogb to reach the network fails the test.
pytestmark = pytest.mark.usefixtures("no_ogb_download")


@pytest.mark.parametrize("name", list(LAYOUT))
def test_load_tiny_dataset_with_ogbs_loader(tmp_path, name):
    root = tmp_path / "data"
    arrays = write_ogb_dataset(root, name)
    _, _, _, inverse, num_classes = LAYOUT[name]
    data, classes = load_ogb(name, root=root, cache_dir=tmp_path / "cache")
    assert classes == num_classes  # what OGB declares for the dataset
    assert data.num_nodes == 50
    edge = torch.from_numpy(arrays["edge"]).t()
    if inverse:  # ogb adds reverse edges for products
        edge = torch.cat([edge, edge.flip(0)], dim=1)
    ours = set(map(tuple, data.edge_index.t().tolist()))
    assert ours == set(map(tuple, edge.t().tolist()))
    assert data.edge_index.size(1) == edge.size(1)
    assert data.x.dtype == torch.float32
    assert torch.equal(data.x, torch.from_numpy(arrays["x"]))
    assert data.y.shape == (50,) and data.y.dtype == torch.long
    assert torch.equal(data.y, torch.from_numpy(arrays["y"]).view(-1))
    for key, part in (("train_mask", "train"), ("val_mask", "valid"), ("test_mask", "test")):
        assert torch.equal(data[key], mask_of(arrays[part], 50)), key
    assert int(data.train_mask.sum()) == 30 and int(data.val_mask.sum()) == 10


def test_read_only_data_folder_is_left_untouched(tmp_path):
    root = tmp_path / "data"
    write_ogb_dataset(root, "ogbn-arxiv")
    for p in [root, *root.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    before = snapshot(root)
    try:
        cache = tmp_path / "cache"
        data, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache)
        again, _ = load_ogb("OGBN-ARXIV", root=root, cache_dir=cache)  # from processed files
        assert snapshot(root) == before
    finally:
        for p in [root, *root.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    assert (cache / "ogb" / "ogbn_arxiv" / "processed").is_dir()
    assert torch.equal(again.edge_index, data.edge_index)
    assert torch.equal(again.train_mask, data.train_mask)


def test_layout_without_the_ogb_folder(tmp_path):
    arrays = write_ogb_dataset(tmp_path / "tmp", "ogbn-arxiv")
    root = tmp_path / "flat"
    arrays["dir"].rename(root.parent / "flat_ogbn_arxiv")
    root.mkdir()
    (root.parent / "flat_ogbn_arxiv").rename(root / "ogbn_arxiv")
    data, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=tmp_path / "cache")
    assert data.num_nodes == 50


def test_switching_roots_reprocesses(tmp_path):
    cache = tmp_path / "cache"
    write_ogb_dataset(tmp_path / "a", "ogbn-arxiv", num_nodes=50, seed=0)
    write_ogb_dataset(tmp_path / "b", "ogbn-arxiv", num_nodes=30, seed=1)
    assert load_ogb("ogbn-arxiv", root=tmp_path / "a", cache_dir=cache)[0].num_nodes == 50
    assert load_ogb("ogbn-arxiv", root=tmp_path / "b", cache_dir=cache)[0].num_nodes == 30


def test_missing_files_are_named(tmp_path):
    root = tmp_path / "data"
    arrays = write_ogb_dataset(root, "ogbn-arxiv")
    (arrays["dir"] / "raw" / "node-label.csv.gz").unlink()
    (arrays["dir"] / "split" / "time" / "valid.csv.gz").unlink()
    (arrays["dir"] / "RELEASE_v1.txt").unlink()
    before = snapshot(root)
    with pytest.raises(FileNotFoundError) as info:
        load_ogb("ogbn-arxiv", root=root, cache_dir=tmp_path / "cache")
    msg = str(info.value)
    missing = "['RELEASE_v1.txt', 'raw/node-label.csv.gz', 'split/time/valid.csv.gz']"
    assert f"ogbn-arxiv: missing files {missing} in {arrays['dir']}" in msg
    assert "the folder arxiv/ of http://127.0.0.1:9/" in msg  # conftest's dead end
    assert "without --root and SPIKEGRAPH_DATA they are downloaded into" in msg
    assert snapshot(root) == before


def test_nothing_there(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ogbn-products: missing files \['RELEASE_v1.txt'"):
        load_ogb("ogbn-products", root=tmp_path, cache_dir=tmp_path / "cache")
    assert list(tmp_path.iterdir()) == []


def test_required_files_follow_ogbs_metadata():
    assert required_files("ogbn-arxiv") == [
        "RELEASE_v1.txt",
        "raw/edge.csv.gz",
        "raw/num-node-list.csv.gz",
        "raw/num-edge-list.csv.gz",
        "raw/node-label.csv.gz",
        "raw/node-feat.csv.gz",
        "raw/node_year.csv.gz",
        "split/time/train.csv.gz",
        "split/time/valid.csv.gz",
        "split/time/test.csv.gz",
    ]
    assert "split/sales_ranking/test.csv.gz" in required_files("ogbn-products")


def test_registry_env_vars_and_split(tmp_path, monkeypatch):
    write_ogb_dataset(tmp_path / "data", "ogbn-arxiv")
    monkeypatch.setenv("SPIKEGRAPH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "cache"))
    assert {"ogbn-arxiv", "ogbn-products"} <= set(DATASETS)
    data, num_classes = load_dataset("ogbn-arxiv")
    assert (data.num_nodes, num_classes) == (50, 40)
    assert (tmp_path / "cache" / "ogb" / "ogbn_arxiv" / "processed").is_dir()
    with pytest.raises(ValueError, match=r"ogbn-arxiv has only OGB's official split: .*'full'"):
        load_dataset("ogbn-arxiv", split="full")


def test_unsupported_ogb_names(tmp_path):
    msg = r"Unknown OGB node dataset 'ogbn-mag'; expected one of \['ogbn-arxiv', 'ogbn-products'\]"
    with pytest.raises(ValueError, match=msg):
        load_ogb("ogbn-mag", root=tmp_path)
    with pytest.raises(ValueError, match=r"Unknown dataset 'ogbn-mag'; expected one of"):
        load_dataset("ogbn-mag", root=tmp_path)


def test_cli_trains_on_tiny_ogb_data(tmp_path, capsys):
    write_ogb_dataset(tmp_path / "data", "ogbn-arxiv")
    out = tmp_path / "r.json"
    argv = ["train", "--dataset", "ogbn-arxiv", "--root", str(tmp_path / "data"), "--epochs"]
    argv += ["2", "--hidden", "8", "--T", "2", "--json", str(out), "--no-progress"]
    assert main(argv) == 0
    record = json.loads(out.read_text())
    assert record["dataset"] == "ogbn-arxiv" and record["runs"][0]["result"]["epochs_run"] == 2


@pytest.mark.parametrize("shape", [(200,), (200, 1)])
def test_ogb_accuracy_equals_sklearn(shape):
    gen = torch.Generator().manual_seed(0)
    y_true = torch.randint(0, 5, shape, generator=gen)
    y_pred = torch.where(torch.rand(shape, generator=gen) < 0.6, y_true, torch.randint(0, 5, shape))
    expected = accuracy_score(y_true.view(-1).numpy(), y_pred.view(-1).numpy())
    assert 0.4 < expected < 0.95
    assert ogb_accuracy("ogbn-arxiv", y_true, y_pred) == pytest.approx(expected, abs=1e-12)
    assert ogb_accuracy("ogbn-products", y_true, y_true) == 1.0


def test_ogb_accuracy_errors():
    with pytest.raises(ValueError, match=r"must both be \[N\] or \[N, 1\] labels, got shapes"):
        ogb_accuracy("ogbn-arxiv", torch.zeros(5, dtype=torch.long), torch.zeros(4))
    with pytest.raises(ValueError, match=r"got shapes \(5, 2\) and \(5, 2\)"):
        ogb_accuracy("ogbn-arxiv", torch.zeros(5, 2), torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"'y_true' is empty"):
        ogb_accuracy("ogbn-arxiv", torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match=r"Unknown OGB node dataset 'ogbn-proteins'"):
        ogb_accuracy("ogbn-proteins", torch.zeros(3), torch.zeros(3))


# --- the processed cache: content keys, damage, leftovers ----------------------------------


def test_changed_files_do_not_reuse_the_processed_cache(tmp_path):
    root, cache = tmp_path / "data", tmp_path / "cache"
    arrays = write_ogb_dataset(root, "ogbn-arxiv")
    first, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache)
    assert torch.equal(first.y, torch.from_numpy(arrays["y"]).view(-1))
    new_y = (arrays["y"] + 1) % 40  # same folder, same file names, new labels
    write_csv(arrays["dir"] / "raw" / "node-label.csv.gz", new_y)
    again, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache)
    assert torch.equal(again.y, torch.from_numpy(new_y).view(-1))
    # A new split too (the split files are part of the key as well).
    perm = arrays["perm"][::-1].copy()
    write_csv(arrays["dir"] / "split" / "time" / "test.csv.gz", perm[:5].reshape(-1, 1))
    third, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache)
    assert torch.equal(third.test_mask, mask_of(perm[:5], 50))


@pytest.mark.parametrize("damage", ["truncate", "empty"])
def test_damaged_processed_file_is_rebuilt_not_a_crash(tmp_path, damage):
    """A SIGKILL during first-time processing used to leave a truncated processed file."""
    root, cache = tmp_path / "data", tmp_path / "cache"
    write_ogb_dataset(root, "ogbn-arxiv")
    ref, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache)
    files = sorted((cache / "ogb").rglob("*.pt"))
    assert files
    for f in files:
        data = f.read_bytes()
        f.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"")
    data, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache)
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask", "node_year"):
        assert torch.equal(data[key], ref[key]), key
    assert data.num_nodes == ref.num_nodes == 50


def test_leftovers_of_a_killed_processing_run_are_cleared(tmp_path):
    root, cache = tmp_path / "data", tmp_path / "cache"
    write_ogb_dataset(root, "ogbn-arxiv")
    folder = cache / "ogb" / "ogbn_arxiv"
    stale = folder / ".work-killed.tmp" / "ogbn_arxiv" / "processed"
    stale.mkdir(parents=True)
    (stale / "geometric_data_processed.pt").write_bytes(b"half")
    (folder / "processed").mkdir()
    (folder / "processed" / ".abc.pt.x.tmp").write_bytes(b"half")
    data, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache)
    assert data.num_nodes == 50
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "processed"]
    assert [p.suffix for p in (folder / "processed").iterdir()] == [".pt"]


def test_split_ids_out_of_range_are_an_error(tmp_path):
    root = tmp_path / "data"
    arrays = write_ogb_dataset(root, "ogbn-arxiv")
    write_csv(arrays["dir"] / "split" / "time" / "valid.csv.gz", np.array([[3], [-1]]))
    with pytest.raises(ValueError, match=r"split/time/valid.csv.gz in .* holds node ids outside 0"):
        load_ogb("ogbn-arxiv", root=root, cache_dir=tmp_path / "cache")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc/self/maps")
def test_mmap_maps_the_processed_file_and_gives_the_same_graph(tmp_path):
    root, cache = tmp_path / "data", tmp_path / "cache"
    write_ogb_dataset(root, "ogbn-arxiv")
    first, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache, mmap=True)  # builds, maps
    (processed,) = sorted((cache / "ogb").rglob("*.pt"))
    assert str(processed) in Path("/proc/self/maps").read_text()
    again, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache, mmap=True)  # cached, maps
    plain, _ = load_ogb("ogbn-arxiv", root=root, cache_dir=cache)
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(first[key], plain[key]) and torch.equal(again[key], plain[key]), key
    del first, again


def load_tiny(tmp_path, name="ogbn-arxiv"):
    return load_ogb(name, root=tmp_path / "data", cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("bad", [40, -3])
def test_labels_outside_the_declared_classes_are_an_error(tmp_path, bad):
    arrays = write_ogb_dataset(tmp_path / "data", "ogbn-arxiv")
    y = arrays["y"].copy()
    y[7, 0] = bad
    write_csv(arrays["dir"] / "raw" / "node-label.csv.gz", y)
    with pytest.raises(
        ValueError, match=rf"node-label.csv.gz .* label {bad} at node 7.* 0 \.\.\. 39"
    ):
        load_tiny(tmp_path)


@pytest.mark.parametrize(
    "into, source, message",
    [
        ("test", "train", r"node {node} is in both split/time/train.* and .*test"),
        ("valid", "valid", r"valid.csv.gz in .* lists node {node} twice"),
    ],
)
def test_a_node_twice_in_the_split_is_an_error(tmp_path, into, source, message):
    # a training node also listed as a test node, or a node listed twice in one part
    arrays = write_ogb_dataset(tmp_path / "data", "ogbn-arxiv")
    node = int(arrays[source][0])
    ids = np.append(arrays[into], node).reshape(-1, 1)
    write_csv(arrays["dir"] / "split" / "time" / f"{into}.csv.gz", ids)
    with pytest.raises(ValueError, match=message.format(node=node)):
        load_tiny(tmp_path)


@pytest.mark.parametrize("name", list(LAYOUT))
@pytest.mark.parametrize("delta", [-10, 10])
def test_an_edge_count_unlike_the_edge_file_is_an_error(tmp_path, name, delta):
    arrays = write_ogb_dataset(tmp_path / "data", name)
    declared = len(arrays["edge"]) + delta
    write_csv(arrays["dir"] / "raw" / "num-edge-list.csv.gz", np.array([[declared]]))
    rows = len(arrays["edge"])
    message = rf"num-edge-list.csv.gz .* {declared} edges, but raw/edge.csv.gz has {rows} rows"
    with pytest.raises(ValueError, match=message):
        load_tiny(tmp_path, name)


@pytest.mark.parametrize("declared", [40, 60])
def test_a_node_count_unlike_the_node_files_is_an_error(tmp_path, declared):
    arrays = write_ogb_dataset(tmp_path / "data", "ogbn-arxiv")
    write_csv(arrays["dir"] / "raw" / "num-node-list.csv.gz", np.array([[declared]]))
    with pytest.raises(ValueError, match=rf"num-node-list.csv.gz .* {declared} nodes.* 50"):
        load_tiny(tmp_path)


def test_edge_ids_outside_the_nodes_are_an_error(tmp_path):
    arrays = write_ogb_dataset(tmp_path / "data", "ogbn-arxiv")
    edge = arrays["edge"].copy()
    edge[3] = (2, 50)
    write_csv(arrays["dir"] / "raw" / "edge.csv.gz", edge)
    with pytest.raises(ValueError, match=r"edge.csv.gz in .* node id 50 .* 0 \.\.\. 49"):
        load_tiny(tmp_path)
