import os
import shutil
import stat
from pathlib import Path

import pytest
import torch

from spikegraph.datasets import (
    DATASETS,
    default_cache_dir,
    load_dataset,
    load_planetoid,
    resolve_root,
)
from spikegraph.datasets.planetoid import raw_file_names


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def set_read_only(folder: Path, read_only: bool) -> None:
    for p in [folder, *folder.rglob("*")]:
        if p.is_dir():
            p.chmod(0o555 if read_only else 0o755)
        else:
            p.chmod(0o444 if read_only else 0o644)


@pytest.fixture
def cora_copy(cora_raw, tmp_path) -> Path:
    """A read-only copy of Cora's raw files laid out as ``<root>/planetoid/Cora/raw``."""
    root = tmp_path / "data"
    shutil.copytree(cora_raw, root / "planetoid" / "Cora" / "raw")
    set_read_only(root, True)
    yield root
    set_read_only(root, False)


def test_load_from_read_only_copy_writes_nothing_into_the_data_folder(cora_copy, tmp_path):
    # The check is the snapshot, not the permission bits (which do not stop root).
    before = snapshot(cora_copy)
    assert not os.access(cora_copy / "planetoid" / "Cora" / "raw", os.W_OK) or os.geteuid() == 0
    cache = tmp_path / "cache"
    dataset = load_planetoid("Cora", root=cora_copy, cache_dir=cache)
    data = dataset[0]
    assert snapshot(cora_copy) == before
    assert (data.num_nodes, data.num_edges, data.num_features) == (2708, 10556, 1433)
    assert dataset.num_classes == 7
    assert any((cache / "planetoid" / "Cora" / "processed").iterdir())
    # A second load reads the processed files.
    again = load_planetoid("cora", root=cora_copy, cache_dir=cache)[0]
    assert torch.equal(again.edge_index, data.edge_index)
    assert snapshot(cora_copy) == before


def test_public_split_sizes(data_root, session_cache):
    data, num_classes = load_dataset("Cora", root=data_root, cache_dir=session_cache)
    assert num_classes == 7
    sizes = [int(data[f"{s}_mask"].sum()) for s in ("train", "val", "test")]
    assert sizes == [140, 500, 1000]
    # 20 labels per class in the public training set.
    assert torch.bincount(data.y[data.train_mask]).tolist() == [20] * 7


def test_full_split(data_root, session_cache):
    data, _ = load_dataset("cora", root=data_root, split="full", cache_dir=session_cache)
    train, val, test = data.train_mask, data.val_mask, data.test_mask
    assert int(val.sum()) == 500 and int(test.sum()) == 1000
    assert int(train.sum()) == 2708 - 1500
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert bool((train | val | test).all())


def test_env_var_resolution(monkeypatch, data_root, tmp_path):
    monkeypatch.setenv("SPIKEGRAPH_DATA", str(data_root))
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "envcache"))
    assert resolve_root() == data_root
    assert resolve_root(tmp_path) == tmp_path  # an explicit root wins
    assert default_cache_dir() == tmp_path / "envcache"
    data, _ = load_dataset("Cora")
    assert data.num_nodes == 2708
    assert (tmp_path / "envcache" / "planetoid" / "Cora" / "processed").is_dir()


def test_default_folders_without_env_vars(monkeypatch, tmp_path):
    monkeypatch.delenv("SPIKEGRAPH_DATA", raising=False)
    monkeypatch.delenv("SPIKEGRAPH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "spikegraph"
    assert resolve_root() == tmp_path / "xdg" / "spikegraph" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "spikegraph"


def test_pyg_layout_root_name_raw(cora_raw, tmp_path):
    root = tmp_path / "pyg"
    shutil.copytree(cora_raw, root / "Cora" / "raw")
    data = load_planetoid("Cora", root=root, cache_dir=tmp_path / "c")[0]
    assert data.num_nodes == 2708


def test_switching_roots_relinks_the_cache(cora_raw, tmp_path):
    cache = tmp_path / "cache"
    roots = []
    for name in ("a", "b"):
        root = tmp_path / name
        shutil.copytree(cora_raw, root / "planetoid" / "Cora" / "raw")
        roots.append(root)
    load_planetoid("Cora", root=roots[0], cache_dir=cache)
    load_planetoid("Cora", root=roots[1], cache_dir=cache)
    link = cache / "planetoid" / "Cora" / "raw" / "ind.cora.x"
    assert link.resolve() == (roots[1] / "planetoid" / "Cora" / "raw" / "ind.cora.x").resolve()


def test_missing_raw_files_are_named(cora_raw, tmp_path):
    raw = tmp_path / "data" / "planetoid" / "Cora" / "raw"
    raw.mkdir(parents=True)
    for f in raw_file_names("Cora"):
        if f not in ("ind.cora.tx", "ind.cora.graph"):
            shutil.copy(cora_raw / f, raw / f)
    with pytest.raises(FileNotFoundError) as info:
        load_planetoid("Cora", root=tmp_path / "data", cache_dir=tmp_path / "cache")
    msg = str(info.value)
    assert "missing raw files ['ind.cora.tx', 'ind.cora.graph']" in msg
    assert str(raw) in msg
    assert "Downloading is not attempted" in msg


def test_missing_everything(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"CiteSeer: missing raw files \['ind.citeseer.x'"):
        load_planetoid("citeseer", root=tmp_path, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "planetoid").exists()


def test_unknown_dataset_and_split(tmp_path):
    msg = r"Unknown dataset 'Reddit'; expected one of \['Cora', 'CiteSeer', 'PubMed'"
    with pytest.raises(ValueError, match=msg):
        load_dataset("Reddit", root=tmp_path)
    with pytest.raises(ValueError, match=r"Unknown Planetoid dataset 'reddit'"):
        load_planetoid("Reddit", root=tmp_path)
    with pytest.raises(
        ValueError, match=r"Unknown split 'random'; expected one of \['public', 'full'\]"
    ):
        load_planetoid("Cora", root=tmp_path, split="random")


def test_datasets_lists_planetoid():
    assert {"Cora", "CiteSeer", "PubMed"} <= set(DATASETS)


def test_fixture_copy_is_read_only(cora_copy):
    # The read-only test above relies on these bits being set.
    mode = (cora_copy / "planetoid" / "Cora" / "raw" / "ind.cora.x").stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
