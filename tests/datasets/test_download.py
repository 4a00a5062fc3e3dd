"""Downloading missing Planetoid files, against a local HTTP server (never the internet)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import socket
from pathlib import Path

import pytest
import torch

from spikegraph.datasets import (
    ChecksumError,
    DownloadError,
    default_data_dir,
    load_dataset,
    load_planetoid,
)
from spikegraph.datasets.planetoid import PINNED_SHA256, raw_file_names
from tests.datasets.servers import LocalServer


class Server(LocalServer):
    """A local HTTP server for the files of one folder, counting the requests."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                server.requests.append(self.path)

        super().__init__(functools.partial(Handler, directory=str(folder)))


@pytest.fixture
def served(cora_raw, tmp_path, monkeypatch):
    """A server for a temporary copy of Cora's raw files (at ``<url>/ind.cora.*``), with
    ``SPIKEGRAPH_PLANETOID_URL`` pointing at it, no ``SPIKEGRAPH_DATA`` and a fresh cache."""
    shutil.copytree(cora_raw, tmp_path / "www" / "data")
    server = Server(tmp_path / "www")
    monkeypatch.delenv("SPIKEGRAPH_DATA", raising=False)
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPIKEGRAPH_PLANETOID_URL", server.url)
    yield server
    server.close()


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_same_graph(a, b) -> None:
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(a[key], b[key]), key


def test_fresh_machine_downloads_into_the_default_folder(served, cora_raw, data_root, tmp_path):
    dataset = load_planetoid("Cora")
    raw = tmp_path / "cache" / "data" / "planetoid" / "Cora" / "raw"
    assert default_data_dir() == tmp_path / "cache" / "data"
    assert sorted(p.name for p in raw.iterdir()) == sorted(raw_file_names("Cora"))
    for f in raw_file_names("Cora"):
        assert (raw / f).read_bytes() == (cora_raw / f).read_bytes()
    assert sorted(served.requests) == sorted(f"/data/{f}" for f in raw_file_names("Cora"))
    assert not list(raw.parent.glob(".download-*"))  # no temporary left behind
    reference = load_planetoid("Cora", root=data_root, cache_dir=tmp_path / "other")
    assert_same_graph(dataset[0], reference[0])
    assert dataset.num_classes == 7
    # a second load reads the downloaded files: nothing requested again
    data, num_classes = load_dataset("cora")
    assert_same_graph(data, reference[0])
    assert num_classes == 7
    assert len(served.requests) == 8


def test_only_missing_files_are_downloaded(served, cora_raw, tmp_path):
    raw = tmp_path / "cache" / "data" / "planetoid" / "Cora" / "raw"
    raw.mkdir(parents=True)
    for f in raw_file_names("Cora")[:6]:
        shutil.copy(cora_raw / f, raw / f)
    load_planetoid("Cora")
    assert sorted(served.requests) == ["/data/ind.cora.graph", "/data/ind.cora.test.index"]


def test_tampered_download_is_a_clear_error_and_not_kept(served, tmp_path):
    graph = served.folder / "data" / "ind.cora.graph"
    content = bytearray(graph.read_bytes())
    content[100] ^= 1
    graph.write_bytes(bytes(content))
    with pytest.raises(ChecksumError) as info:
        load_planetoid("Cora")
    msg = str(info.value)
    assert "ind.cora.graph" in msg and f"{served.url}/ind.cora.graph" in msg
    assert PINNED_SHA256["ind.cora.graph"] in msg
    assert hashlib.sha256(bytes(content)).hexdigest() in msg
    raw = tmp_path / "cache" / "data" / "planetoid" / "Cora" / "raw"
    assert not (raw / "ind.cora.graph").exists()
    assert not list(raw.parent.glob(".download-*"))


def test_offline_error_names_files_urls_and_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SPIKEGRAPH_DATA", raising=False)
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{closed_port()}/planetoid"
    monkeypatch.setenv("SPIKEGRAPH_PLANETOID_URL", url)
    with pytest.raises(DownloadError) as info:
        load_planetoid("CiteSeer")
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    raw = tmp_path / "cache" / "data" / "planetoid" / "CiteSeer" / "raw"
    assert str(raw) in msg and "refused" in msg.lower()
    for f in raw_file_names("CiteSeer"):
        assert f"'{f}'" in msg and f"{url}/{f}" in msg
    assert not any(raw.iterdir()) and not list(raw.parent.glob(".download-*"))


def test_missing_file_on_the_server_is_named(served, tmp_path):
    (served.folder / "data" / "ind.cora.ty").unlink()
    with pytest.raises(DownloadError, match=r"ind\.cora\.ty.*HTTPError: HTTP Error 404") as info:
        load_planetoid("Cora")
    assert f"{served.url}/ind.cora.ty" in str(info.value)
    raw = tmp_path / "cache" / "data" / "planetoid" / "Cora" / "raw"
    assert not (raw / "ind.cora.ty").exists()
    assert (raw / "ind.cora.y").is_file()  # files that did arrive intact are kept


def test_given_root_is_only_read_unless_download_is_asked(served, tmp_path, monkeypatch):
    root = tmp_path / "mine"
    with pytest.raises(FileNotFoundError) as info:
        load_planetoid("Cora", root=root)
    msg = str(info.value)
    assert f"{served.url}/ind.cora.x" in msg and str(root / "planetoid" / "Cora" / "raw") in msg
    assert str(tmp_path / "cache" / "data" / "planetoid" / "Cora" / "raw") in msg
    assert served.requests == [] and not root.exists()
    monkeypatch.setenv("SPIKEGRAPH_DATA", str(root))  # the same for $SPIKEGRAPH_DATA
    with pytest.raises(FileNotFoundError):
        load_planetoid("Cora")
    assert served.requests == []
    # asked explicitly, as PyG does: into the given root
    load_planetoid("Cora", root=root, download=True)
    assert (root / "planetoid" / "Cora" / "raw" / "ind.cora.x").is_file()
    # and download=False never downloads, even into the default folder
    monkeypatch.delenv("SPIKEGRAPH_DATA")
    with pytest.raises(FileNotFoundError, match="missing raw files"):
        load_planetoid("Cora", download=False)


def test_interrupted_download_leaves_no_file_that_looks_complete(served, tmp_path, monkeypatch):
    import spikegraph.datasets.download as download

    real = download._download

    def cut_short(url, path, chunk=1 << 20):
        received, announced = real(url, path, chunk)
        if path.name == "ind.cora.allx":
            path.write_bytes(path.read_bytes()[:1000])
            raise KeyboardInterrupt  # killed mid-file
        return received, announced

    monkeypatch.setattr(download, "_download", cut_short)
    with pytest.raises(KeyboardInterrupt):
        load_planetoid("Cora")
    raw = tmp_path / "cache" / "data" / "planetoid" / "Cora" / "raw"
    assert not (raw / "ind.cora.allx").exists()
    assert not list(raw.parent.glob(".download-*"))
    # a SIGKILL leaves its temporary folder: the next download clears it, and loads
    stale = raw.parent / ".download-raw-killed.tmp"
    stale.mkdir()
    (stale / "ind.cora.allx").write_bytes(b"partial")
    monkeypatch.setattr(download, "_download", real)
    assert load_planetoid("Cora")[0].num_nodes == 2708
    assert not stale.exists()


def test_pins_are_the_canonical_sums(data_root):
    """Every pin equals the sha256 of the canonical file; ind.pubmed.allx (a reconstruction
    in the shared folder, its canonical sum unknown) is the one file without a pin."""
    sums = data_root / "SHA256SUMS.tsv"
    if not sums.is_file():
        pytest.skip(f"no SHA256SUMS.tsv in {data_root}")
    listed = {}
    for line in sums.read_text().splitlines():
        if line and not line.startswith("#"):
            _, digest, path = line.split("\t")
            listed[Path(path).name] = digest
    assert set(PINNED_SHA256) == set(listed)
    unpinned = {f for f, v in PINNED_SHA256.items() if v is None}
    assert unpinned == {"ind.pubmed.allx"}
    for f, digest in PINNED_SHA256.items():
        if digest is not None:
            assert digest == listed[f], f


def test_readme_train_command_on_a_fresh_machine(served, tmp_path, capsys):
    """README's `spikegraph train --dataset Cora --model sgcn` with no data anywhere and a
    local server standing in for the internet (fewer epochs, the same data path)."""
    from spikegraph.cli import main

    argv = ["train", "--dataset", "Cora", "--model", "sgcn", "--epochs", "2", "--no-progress"]
    assert main(argv) == 0
    assert "sgcn on Cora (public split)" in capsys.readouterr().out
    assert len(served.requests) == 8
    assert (tmp_path / "cache" / "data" / "planetoid" / "Cora" / "raw" / "ind.cora.x").is_file()
