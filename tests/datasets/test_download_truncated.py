"""Downloads cut off mid-file, against a local HTTP server that drops the connection part-way
(never the internet): nothing is kept, the error says the transfer was incomplete, and the
next run downloads again."""

from __future__ import annotations

import http.server
import shutil
import threading
from pathlib import Path

import pytest

from spikegraph.datasets import ChecksumError, DownloadError, load_planetoid
from spikegraph.datasets import planetoid as planetoid_module
from spikegraph.datasets.download import fetch_files
from spikegraph.datasets.planetoid_raw import PlanetoidFormatError, raw_file_names
from tests.datasets.servers import LocalServer


class CuttingServer(LocalServer):
    """A local HTTP server for the files of one folder (at ``<url>/<name>``) that sends only
    the first half of the files named in :attr:`cuts`, then closes the connection.

    ``cuts`` maps a file name to how its response is framed: ``"length"`` announces the
    whole file's ``Content-Length``, ``"chunked"`` uses chunked transfer encoding (the
    closing chunk never comes), ``"close"`` sends no length at all (HTTP/1.0: the body ends
    when the connection closes, so a cut cannot be seen by the client).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cuts: dict[str, str] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                path = server.folder / name
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                mode = server.cuts.get(name)
                # HTTP/1.0 (the default) unless chunked, which needs HTTP/1.1
                self.protocol_version = "HTTP/1.1" if mode == "chunked" else "HTTP/1.0"
                self.send_response(200)
                if mode == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                elif mode != "close":
                    self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                if mode is None:
                    self.wfile.write(data)
                elif mode == "chunked":
                    half = data[: len(data) // 2]
                    self.wfile.write(f"{len(data):x}\r\n".encode() + half)
                else:
                    self.wfile.write(data[: len(data) // 2])
                self.close_connection = True

        super().__init__(Handler)


@pytest.fixture
def cutting(cora_raw, tmp_path, monkeypatch):
    """A :class:`CuttingServer` for a copy of Cora's raw files, with
    ``SPIKEGRAPH_PLANETOID_URL`` pointing at it, no ``SPIKEGRAPH_DATA`` and a fresh cache."""
    shutil.copytree(cora_raw, tmp_path / "www")
    server = CuttingServer(tmp_path / "www")
    monkeypatch.delenv("SPIKEGRAPH_DATA", raising=False)
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPIKEGRAPH_PLANETOID_URL", server.url)
    yield server
    server.close()


def raw_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "data" / "planetoid" / "Cora" / "raw"


def test_cut_transfer_of_an_unpinned_file_is_an_error_and_the_next_run_downloads_again(
    cutting, cora_raw, tmp_path, monkeypatch
):
    # ind.pubmed.allx is the one file without a pin; Cora's allx stands in for it here
    monkeypatch.setitem(planetoid_module.PINNED_SHA256, "ind.cora.allx", None)
    cutting.cuts["ind.cora.allx"] = "length"
    size = (cora_raw / "ind.cora.allx").stat().st_size
    with pytest.raises(DownloadError) as info:
        load_planetoid("Cora")
    msg = str(info.value)
    assert "ind.cora.allx" in msg and f"{cutting.url}/ind.cora.allx" in msg
    assert f"{size // 2} of the {size} bytes" in msg
    assert "incomplete" in msg
    raw = raw_dir(tmp_path)
    assert not (raw / "ind.cora.allx").exists()  # nothing half-written under its name
    assert not list(raw.parent.glob(".download-*"))
    # the connection is good again: the next run downloads the file again and loads
    cutting.cuts.clear()
    cutting.requests.clear()
    assert load_planetoid("Cora")[0].num_nodes == 2708
    assert "ind.cora.allx" in cutting.requests
    assert (raw / "ind.cora.allx").read_bytes() == (cora_raw / "ind.cora.allx").read_bytes()


def test_cut_transfer_of_a_pinned_file_says_incomplete_not_tampered(cutting, cora_raw, tmp_path):
    cutting.cuts["ind.cora.graph"] = "length"
    size = (cora_raw / "ind.cora.graph").stat().st_size
    with pytest.raises(DownloadError) as info:
        load_planetoid("Cora")
    msg = str(info.value)
    assert not isinstance(info.value, ChecksumError)
    assert "ind.cora.graph" in msg and f"{cutting.url}/ind.cora.graph" in msg
    assert f"{size // 2} of the {size} bytes" in msg
    assert "tampered" not in msg
    assert not (raw_dir(tmp_path) / "ind.cora.graph").exists()


def test_cut_chunked_transfer_is_a_download_error(cutting, tmp_path, monkeypatch):
    monkeypatch.setitem(planetoid_module.PINNED_SHA256, "ind.cora.allx", None)
    cutting.cuts["ind.cora.allx"] = "chunked"
    with pytest.raises(DownloadError, match=r"ind\.cora\.allx.*IncompleteRead"):
        load_planetoid("Cora")
    assert not (raw_dir(tmp_path) / "ind.cora.allx").exists()


def test_cut_transfer_without_a_length_fails_its_pin_and_the_error_says_it_may_be_cut(
    cutting, cora_raw, tmp_path
):
    cutting.cuts["ind.cora.graph"] = "close"
    size = (cora_raw / "ind.cora.graph").stat().st_size
    with pytest.raises(ChecksumError) as info:
        load_planetoid("Cora")
    msg = str(info.value)
    assert "ind.cora.graph" in msg and f"{cutting.url}/ind.cora.graph" in msg
    assert f"received {size // 2} bytes" in msg and "no Content-Length" in msg
    assert not (raw_dir(tmp_path) / "ind.cora.graph").exists()


def test_check_runs_on_the_temporary_file_and_a_refused_file_is_not_kept(cutting, tmp_path):
    # without a length a cut cannot be seen; a reader's check given to fetch_files refuses
    # the half file before it is moved into place, and the next run downloads it again
    cutting.cuts["ind.cora.allx"] = "close"
    folder = tmp_path / "raw"
    urls = {f: f"{cutting.url}/{f}" for f in ("ind.cora.y", "ind.cora.allx")}
    whole = (cutting.folder / "ind.cora.allx").read_bytes()
    seen: list[tuple[str, Path]] = []

    def check(name: str, path: Path) -> None:
        seen.append((name, path))
        assert path.parent != folder  # still in the temporary folder
        if path.read_bytes() != whole and name == "ind.cora.allx":
            raise ValueError(f"{path}: truncated")

    with pytest.raises(ValueError, match="truncated"):
        fetch_files(urls, folder, check=check, what="Cora")
    assert [n for n, _ in seen] == ["ind.cora.y", "ind.cora.allx"]
    assert sorted(p.name for p in folder.iterdir()) == ["ind.cora.y"]
    assert not list(tmp_path.glob(".download-*"))
    cutting.cuts.clear()
    assert fetch_files(urls, folder, check=check, what="Cora") == [folder / "ind.cora.allx"]
    assert (folder / "ind.cora.allx").read_bytes() == whole


def test_a_whole_download_is_unchanged(cutting, cora_raw, tmp_path):
    load_planetoid("Cora")
    for f in raw_file_names("Cora"):
        assert (raw_dir(tmp_path) / f).read_bytes() == (cora_raw / f).read_bytes()


def test_cut_unpinned_file_without_a_length_is_refused_before_it_is_kept(
    cutting, tmp_path, monkeypatch
):
    """No length, no pin (ind.pubmed.allx, with Cora's allx standing in): the cut cannot be
    seen in the transfer, so the reader's parse runs on the temporary file and refuses it;
    the next run downloads it again instead of failing on a kept half file forever."""
    monkeypatch.setitem(planetoid_module.PINNED_SHA256, "ind.cora.allx", None)
    cutting.cuts["ind.cora.allx"] = "close"
    with pytest.raises(PlanetoidFormatError, match=r"ind\.cora\.allx.*not kept.*next run"):
        load_planetoid("Cora")
    assert not (raw_dir(tmp_path) / "ind.cora.allx").exists()
    cutting.cuts.clear()
    assert load_planetoid("Cora")[0].num_nodes == 2708


class StallingServer(http.server.ThreadingHTTPServer):
    """Answers with headers and a length, then sends nothing until it is shut down."""

    def __init__(self) -> None:
        self.release = threading.Event()
        release = self.release

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.flush()
                release.wait(30)

        super().__init__(("127.0.0.1", 0), Handler)


def test_a_stalled_server_is_a_download_error_after_the_timeout(tmp_path, monkeypatch):
    """A server that stops sending hung the download for ever (no socket timeout); the read
    now gives up after DOWNLOAD_TIMEOUT seconds without data, naming the file and URL."""
    from spikegraph.datasets import download

    monkeypatch.setattr(download, "DOWNLOAD_TIMEOUT", 0.5)
    server = StallingServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/ind.cora.x"
    try:
        with pytest.raises(DownloadError, match=r"ind\.cora\.x.*(timed out|timeout)"):
            fetch_files({"ind.cora.x": url}, tmp_path / "raw", what="Cora")
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
    assert not (tmp_path / "raw" / "ind.cora.x").exists()


def test_cut_zip_archive_is_an_incomplete_transfer_not_a_bad_zip(tmp_path):
    """fetch_zip (OGB's archives) reads as fetch_files does: an archive cut short of its
    length said "is not a zip archive"; it is a DownloadError naming the incomplete transfer,
    nothing is kept, and the next call downloads it again."""
    import zipfile

    from spikegraph.datasets.download import fetch_zip

    (tmp_path / "www").mkdir()
    with zipfile.ZipFile(tmp_path / "www" / "ds.zip", "w") as archive:
        archive.writestr("ds/f.csv", "1,2\n" * 5000)
    server = CuttingServer(tmp_path / "www")
    server.cuts["ds.zip"] = "length"
    size = (tmp_path / "www" / "ds.zip").stat().st_size
    folder = tmp_path / "ogb" / "ds"
    try:
        with pytest.raises(DownloadError) as info:
            fetch_zip(f"{server.url}/ds.zip", folder, ["f.csv"], "ds", what="ds")
        msg = str(info.value)
        assert f"{server.url}/ds.zip" in msg and f"{size // 2} of the {size} bytes" in msg
        assert not folder.exists() or not any(folder.iterdir())
        server.cuts.clear()
        assert fetch_zip(f"{server.url}/ds.zip", folder, ["f.csv"], "ds", what="ds") == [
            folder / "f.csv"
        ]
    finally:
        server.close()
    assert (folder / "f.csv").read_text() == "1,2\n" * 5000
