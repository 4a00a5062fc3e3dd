"""Downloading a missing OGB dataset (ogb's zip archive), against a local HTTP server."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch

from spikegraph.datasets import DownloadError, load_ogb
from tests.datasets.test_download import Server, closed_port
from tests.datasets.test_ogb import write_ogb_dataset

pytest.importorskip("ogb.nodeproppred")


def zip_folder(folder: Path, archive: Path, member: str) -> None:
    """Zip ``folder``'s files as ``member/<relative path>`` (the layout of OGB's archives)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, f"{member}/{p.relative_to(folder)}")


@pytest.fixture
def ogb_server(tmp_path, monkeypatch):
    """A server for ``arxiv.zip`` (a tiny dataset in OGB's layout) at ``$SPIKEGRAPH_OGB_URL``;
    no ``SPIKEGRAPH_DATA``, a fresh cache; yields the server and the dataset's local root."""
    source = tmp_path / "source"
    arrays = write_ogb_dataset(source, "ogbn-arxiv")
    zip_folder(arrays["dir"], tmp_path / "www" / "ogb" / "arxiv.zip", "arxiv")
    server = Server(tmp_path / "www")
    monkeypatch.delenv("SPIKEGRAPH_DATA", raising=False)
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPIKEGRAPH_OGB_URL", server.url.replace("/data", "/ogb"))
    yield server, source
    server.close()


def test_missing_ogb_dataset_is_downloaded_into_the_default_folder(ogb_server, tmp_path):
    server, source = ogb_server
    data, num_classes = load_ogb("ogbn-arxiv")
    reference, _ = load_ogb("ogbn-arxiv", root=source, cache_dir=tmp_path / "other")
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        assert torch.equal(data[key], reference[key]), key
    assert num_classes == 40
    folder = tmp_path / "cache" / "data" / "ogb" / "ogbn_arxiv"
    assert (folder / "raw" / "node_year.csv.gz").read_bytes() == (
        source / "ogb" / "ogbn_arxiv" / "raw" / "node_year.csv.gz"
    ).read_bytes()
    assert not list(folder.parent.glob(".download-*"))
    load_ogb("ogbn-arxiv")  # read from the folder now: no second request
    assert server.requests == ["/ogb/arxiv.zip"]


def test_given_root_is_only_read(ogb_server, tmp_path):
    server, _ = ogb_server
    with pytest.raises(FileNotFoundError, match=r"downloaded into .*cache/data/ogb/ogbn_arxiv"):
        load_ogb("ogbn-arxiv", root=tmp_path / "mine")
    assert server.requests == [] and not (tmp_path / "mine").exists()
    load_ogb("ogbn-arxiv", root=tmp_path / "mine", download=True)
    assert (tmp_path / "mine" / "ogb" / "ogbn_arxiv" / "RELEASE_v1.txt").is_file()


def test_archive_without_the_files_is_an_error(ogb_server, tmp_path):
    server, source = ogb_server
    folder = source / "ogb" / "ogbn_arxiv"
    (folder / "raw" / "node-feat.csv.gz").unlink()
    zip_folder(folder, server.folder / "ogb" / "arxiv.zip", "arxiv")
    with pytest.raises(ValueError, match=r"arxiv.zip lacks arxiv/\['raw/node-feat.csv.gz'\]"):
        load_ogb("ogbn-arxiv")
    target = tmp_path / "cache" / "data" / "ogb" / "ogbn_arxiv"
    assert not target.exists() or not any(target.rglob("*.gz"))
    (server.folder / "ogb" / "arxiv.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"arxiv\.zip is not a zip archive"):
        load_ogb("ogbn-arxiv")


def test_offline_error_names_files_url_and_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SPIKEGRAPH_DATA", raising=False)
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{closed_port()}/ogb"
    monkeypatch.setenv("SPIKEGRAPH_OGB_URL", url)
    with pytest.raises(DownloadError) as info:
        load_ogb("ogbn-products")
    msg = str(info.value)
    folder = tmp_path / "cache" / "data" / "ogb" / "ogbn_products"
    assert f"{url}/products.zip" in msg and str(folder) in msg and "refused" in msg.lower()
    assert "'raw/edge.csv.gz'" in msg and "'split/sales_ranking/test.csv.gz'" in msg
    assert not folder.exists() and not list(folder.parent.glob(".download-*"))


def test_default_url_is_ogbs(monkeypatch):
    from spikegraph.datasets.ogb import ogb_url

    monkeypatch.delenv("SPIKEGRAPH_OGB_URL")
    assert ogb_url("ogbn-arxiv") == "http://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip"


def test_two_datasets_downloading_into_one_root_leave_each_other_alone(tmp_path, monkeypatch):
    # Each dataset's download holds its own lock; a second dataset's download, starting
    # while the first one's archive is being fetched, must not clear the first one's
    # temporary folder (it clears only its own dataset's leftovers).
    from spikegraph.datasets import download
    from spikegraph.datasets.download import fetch_zip

    for name in ("a", "b"):
        (tmp_path / "src" / name).mkdir(parents=True)
        (tmp_path / "src" / name / "f.csv").write_text(f"{name}\n")
        zip_folder(tmp_path / "src" / name, tmp_path / "www" / f"{name}.zip", name)
    root = tmp_path / "ogb"

    def fake_download(url, target):
        name = url.rpartition("/")[2]
        data = (tmp_path / "www" / name).read_bytes()
        target.write_bytes(data)
        if name == "a.zip":  # as a's archive has arrived, b's download runs start to end
            fetch_zip("http://x/b.zip", root / "ds_b", ["f.csv"], "b", what="b")
        return len(data), len(data)

    monkeypatch.setattr(download, "_download", fake_download)
    done = fetch_zip("http://x/a.zip", root / "ds_a", ["f.csv"], "a", what="a")
    assert done == [root / "ds_a" / "f.csv"]
    assert (root / "ds_a" / "f.csv").read_text() == "a\n"
    assert (root / "ds_b" / "f.csv").read_text() == "b\n"
    assert not list(root.glob(".download-*"))


def test_a_killed_downloads_leftovers_are_cleared_by_the_next_download_of_it(tmp_path, monkeypatch):
    from spikegraph.datasets import download
    from spikegraph.datasets.download import fetch_zip

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f.csv").write_text("a\n")
    zip_folder(tmp_path / "src", tmp_path / "www" / "a.zip", "a")
    root = tmp_path / "ogb"
    root.mkdir()
    mine, other = root / ".download-ds_a-killed.tmp", root / ".download-ds_b-running.tmp"
    for stale in (mine, other):
        stale.mkdir()

    def fake_download(url, target):
        data = (tmp_path / "www" / "a.zip").read_bytes()
        target.write_bytes(data)
        return len(data), len(data)

    monkeypatch.setattr(download, "_download", fake_download)
    fetch_zip("http://x/a.zip", root / "ds_a", ["f.csv"], "a", what="a")
    assert not mine.exists() and other.exists()
