import multiprocessing
import os
import pickle
import shutil
import signal
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
from spikegraph.datasets.safe_pickle import restricted_loads


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


def write_label(root: Path, node: int, label: int) -> None:
    """Give ``node`` (one of the labelled nodes in ``ind.cora.ally``) class ``label``."""
    path = root / "planetoid" / "Cora" / "raw" / "ind.cora.ally"
    ally = restricted_loads(path.read_bytes())
    ally[node] = 0
    ally[node, label] = 1
    path.write_bytes(pickle.dumps(ally, protocol=2))


def processed_files(cache: Path) -> list[Path]:
    return sorted((cache / "planetoid" / "Cora" / "processed").glob("*.pt"))


@pytest.fixture
def cora_rw(cora_raw, tmp_path) -> Path:
    """A writable copy of Cora's raw files as ``<root>/planetoid/Cora/raw``; returns root."""
    root = tmp_path / "data"
    shutil.copytree(cora_raw, root / "planetoid" / "Cora" / "raw")
    return root


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


def test_switching_roots_uses_each_roots_content(cora_raw, tmp_path):
    cache = tmp_path / "cache"
    roots = []
    for name in ("a", "b"):
        root = tmp_path / name
        shutil.copytree(cora_raw, root / "planetoid" / "Cora" / "raw")
        roots.append(root)
    write_label(roots[1], 0, 6)  # root b's node 0 is in class 6 (3 in the real file)
    for _ in range(2):  # back and forth, through the cache
        assert int(load_planetoid("Cora", root=roots[0], cache_dir=cache)[0].y[0]) == 3
        assert int(load_planetoid("Cora", root=roots[1], cache_dir=cache)[0].y[0]) == 6
    assert not (cache / "planetoid" / "Cora" / "raw").exists()  # nothing linked any more


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
    base = os.environ["SPIKEGRAPH_PLANETOID_URL"]  # a local dead end during the tests
    assert f"{base}/ind.cora.tx, {base}/ind.cora.graph" in msg
    assert "without --root and SPIKEGRAPH_DATA they are downloaded into" in msg


def test_default_url_is_pygs(monkeypatch):
    from spikegraph.datasets.planetoid import PLANETOID_URL, planetoid_url

    monkeypatch.delenv("SPIKEGRAPH_PLANETOID_URL")
    assert planetoid_url() == PLANETOID_URL
    from torch_geometric.datasets import Planetoid

    assert Planetoid.url == PLANETOID_URL


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


# --- the processed cache: content keys, atomic writes, locking, damage -------------------


def test_raw_files_changed_after_processing_do_not_reuse_the_cache(cora_rw, tmp_path):
    cache = tmp_path / "cache"
    assert int(load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0].y[0]) == 3
    write_label(cora_rw, 0, 5)
    before = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    assert int(before.y[0]) == 5
    # An edit that keeps size and modification time (which a timestamp check would miss):
    # swap the first two test ids, so those two nodes swap features and labels.
    path = cora_rw / "planetoid" / "Cora" / "raw" / "ind.cora.test.index"
    st = path.stat()
    lines = path.read_text().splitlines()
    lines[0], lines[1] = lines[1], lines[0]
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    after = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    a, b = int(lines[0]), int(lines[1])
    assert not torch.equal(before.x[a], before.x[b])
    assert torch.equal(after.x[a], before.x[b]) and torch.equal(after.x[b], before.x[a])
    fresh = load_planetoid("Cora", root=cora_rw, cache_dir=tmp_path / "fresh")[0]
    assert torch.equal(after.x, fresh.x) and torch.equal(after.y, fresh.y)


def test_unchanged_files_are_read_from_the_cache(cora_rw, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    from spikegraph.datasets import planetoid

    def refuse(*args, **kwargs):
        raise AssertionError("processed again although nothing changed")

    monkeypatch.setattr(planetoid, "read_planetoid", refuse)
    again = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    assert all(torch.equal(first[k], again[k]) for k in ("x", "edge_index", "y", "test_mask"))


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_damaged_cache_file_is_rebuilt_not_a_crash(cora_rw, tmp_path, damage):
    """What a SIGKILL in the middle of a non-atomic first write used to leave behind."""
    cache = tmp_path / "cache"
    ref = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    files = processed_files(cache)
    assert files
    for f in files:
        data = f.read_bytes()
        f.write_bytes(
            {"truncate": data[: len(data) // 2], "empty": b"", "garbage": b"x" * 99}[damage]
        )
    data = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    assert all(torch.equal(data[k], ref[k]) for k in ("x", "edge_index", "y", "train_mask"))
    data = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]  # and the rebuilt entry
    assert torch.equal(data.x, ref.x)


class _Reduce:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def test_crafted_cache_file_runs_nothing(cora_rw, tmp_path):
    cache = tmp_path / "cache"
    ref = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    marker = tmp_path / "pwned"
    for f in processed_files(cache):
        torch.save(_Reduce(os.system, f"touch {marker}"), f)
    data = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    assert not marker.exists()
    assert torch.equal(data.x, ref.x) and torch.equal(data.y, ref.y)


def test_cache_entry_with_wrong_tensors_is_rebuilt(cora_rw, tmp_path):
    """A readable entry whose tensors do not match its digest (bit rot, a hand edit)."""
    cache = tmp_path / "cache"
    ref = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    (f,) = processed_files(cache)
    payload = torch.load(f, weights_only=True)
    payload["tensors"]["y"] = torch.zeros_like(payload["tensors"]["y"])
    torch.save(payload, f)
    assert torch.equal(load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0].y, ref.y)


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t.pop("val_mask"),
        lambda t: t.__setitem__("y", t["y"][:-1]),
        lambda t: t.__setitem__("edge_index", t["edge_index"] + 5000),
        lambda t: t.__setitem__("train_mask", t["train_mask"].long()),
    ],
)
def test_cache_entry_that_is_not_a_planetoid_graph_is_rebuilt(cora_rw, tmp_path, forge):
    """Well-formed entries (matching key and digest) whose tensors cannot be this graph."""
    from spikegraph.datasets.cache import save_tensors

    cache = tmp_path / "cache"
    ref = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    (f,) = processed_files(cache)
    payload = torch.load(f, weights_only=True)
    forge(payload["tensors"])
    save_tensors(f, payload["key"], payload["tensors"])
    data = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    assert all(torch.equal(data[k], ref[k]) for k in ("edge_index", "y", "train_mask", "val_mask"))


def test_force_reload_rebuilds(cora_rw, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    load_planetoid("Cora", root=cora_rw, cache_dir=cache)
    from spikegraph.datasets import planetoid

    calls = []
    real = planetoid.read_planetoid
    monkeypatch.setattr(
        planetoid, "read_planetoid", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    load_planetoid("Cora", root=cora_rw, cache_dir=cache)
    assert calls == []
    load_planetoid("Cora", root=cora_rw, cache_dir=cache, force_reload=True)
    assert calls == [1]


def test_transform_and_pre_transform(data_root, session_cache):
    from torch_geometric.transforms import NormalizeFeatures

    plain = load_planetoid("Cora", root=data_root, cache_dir=session_cache)[0]
    dataset = load_planetoid(
        "Cora", root=data_root, cache_dir=session_cache, transform=NormalizeFeatures()
    )
    rows = dataset[0].x.sum(dim=1)
    assert torch.allclose(rows[rows > 0], torch.ones(int((rows > 0).sum())))
    assert not torch.equal(dataset[0].x, plain.x)
    pre = load_planetoid(
        "Cora", root=data_root, cache_dir=session_cache, pre_transform=NormalizeFeatures()
    )
    assert torch.equal(pre[0].x, dataset[0].x)
    # pre_transform is not cached: the plain graph is still the plain graph.
    assert torch.equal(
        load_planetoid("Cora", root=data_root, cache_dir=session_cache)[0].x, plain.x
    )
    assert repr(dataset) == "Cora()" and dataset.num_features == 1433 and len(dataset) == 1


def _load_rounds(root, cache_base, rounds, barrier, queue):
    torch.set_num_threads(1)
    from spikegraph.datasets import load_planetoid
    from spikegraph.datasets.cache import tensors_digest

    for r in range(rounds):
        barrier.wait()
        try:
            data = load_planetoid("Cora", root=root, cache_dir=os.path.join(cache_base, str(r)))[0]
            keys = ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")
            queue.put((r, tensors_digest({k: data[k] for k in keys})))
        except Exception as err:  # reported to the parent, which fails the test
            queue.put((r, f"error: {type(err).__name__}: {err}"))


def fresh_processes():
    """A multiprocessing context whose processes start clean, like ``spawn`` (nothing of
    this test process is inherited), but fork from one server that has already imported
    spikegraph, so that four of them start in well under a second on a 2-core machine."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "spikegraph.datasets"])
    return ctx


def test_concurrent_first_loads_all_succeed_with_identical_data(cora_raw, tmp_path):
    """4 processes x 3 rounds, each round on an empty cache, all starting together."""
    procs, rounds = 4, 3
    root = cora_raw.parent.parent.parent
    ctx = fresh_processes()
    barrier, queue = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=_load_rounds, args=(root, str(tmp_path / "c"), rounds, barrier, queue))
        for _ in range(procs)
    ]
    for w in workers:
        w.start()
    results = [queue.get(timeout=120) for _ in range(procs * rounds)]
    for w in workers:
        w.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * procs
    errors = [d for _, d in results if d.startswith("error")]
    assert errors == []
    assert len({d for _, d in results}) == 1
    for r in range(rounds):  # one entry per round, no temporary files left behind
        folder = tmp_path / "c" / str(r) / "planetoid" / "Cora" / "processed"
        assert len(list(folder.glob("*.pt"))) == 1
        assert list(folder.glob("*.tmp")) == []


def _killed_mid_write(root, cache):
    import spikegraph.datasets.cache as cache_module

    real_save = torch.save

    def save_half_then_die(obj, f, *args, **kwargs):
        import io

        buf = io.BytesIO()
        real_save(obj, buf, *args, **kwargs)
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    cache_module.torch.save = save_half_then_die
    from spikegraph.datasets import load_planetoid

    load_planetoid("Cora", root=root, cache_dir=cache)


def test_sigkill_during_first_processing_leaves_no_partial_entry(cora_rw, tmp_path):
    cache = tmp_path / "cache"
    proc = fresh_processes().Process(target=_killed_mid_write, args=(cora_rw, cache))
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == -signal.SIGKILL
    folder = cache / "planetoid" / "Cora" / "processed"
    assert processed_files(cache) == [] and len(list(folder.glob(".*.tmp"))) == 1
    data = load_planetoid("Cora", root=cora_rw, cache_dir=cache)[0]
    assert data.num_nodes == 2708 and int(data.test_mask.sum()) == 1000
    assert len(processed_files(cache)) == 1 and list(folder.glob(".*.tmp")) == []
