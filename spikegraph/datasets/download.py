"""Fetching missing dataset files over HTTP(S), atomically and verified.

:func:`fetch_files` downloads each missing file into a temporary folder beside the target
folder, reading it in chunks and counting the bytes against the ``Content-Length`` the
server announced: a transfer cut short (or chunked and cut) is a :class:`DownloadError`
naming the file, its URL and both sizes. The file is then checked against a pinned sha256
where one is known and by the caller's ``check`` where one is given, ``fsync``\\ ed and moved
into place with :func:`os.replace`. A download that is killed, fails, comes up short or
does not pass its checks therefore never leaves a file under the target name that a later
run would take as complete, and the next run downloads it again; leftovers
(``.download-*.tmp`` folders) are removed by the next download. The whole fetch holds an
inter-process lock, so concurrent first loads download once, and a server that sends
nothing for :data:`DOWNLOAD_TIMEOUT` seconds fails the download. Only a server that sends
neither a length nor chunked encoding (the body ends when the connection closes) can cut a
transfer unseen; then the pin or ``check`` refuses the file before it is kept (Planetoid's
one unpinned file is parsed there). :func:`fetch_zip` downloads an archive the same way.

Like PyG's :func:`torch_geometric.data.download_url`, the download does not verify TLS
certificates; the pinned sha256 sums are what vouch for a downloaded file, and the readers
that follow never run code from a file (see :mod:`spikegraph.datasets.safe_pickle`) and
check the files against each other.
"""

from __future__ import annotations

import glob
import http.client
import logging
import os
import shutil
import ssl
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from spikegraph.datasets.cache import cache_lock, fsync_dir, sha256_file

log = logging.getLogger(__name__)


class ChecksumError(ValueError):
    """A downloaded file does not have its pinned sha256; the message names the file, its
    URL and both sums."""


class DownloadError(FileNotFoundError):
    """Dataset files are missing and could not be downloaded (offline, refused, HTTP error);
    the message names the files, their URLs and the folder where they belong."""


def join_url(base: str, name: str) -> str:
    """``base`` and a file name, joined by exactly one ``/``."""
    return f"{base.rstrip('/')}/{name}"


def download_temporary(folder: Path) -> Path:
    """A fresh temporary folder for a download into ``folder``, beside it and named after
    it (``.download-<name>-*.tmp``), so that :func:`remove_stale_downloads` of another
    dataset sharing the parent folder leaves it alone."""
    return Path(
        tempfile.mkdtemp(dir=folder.parent, prefix=f".download-{folder.name}-", suffix=".tmp")
    )


def remove_stale_downloads(folder: Path) -> None:
    """Delete the temporary folders of killed downloads into ``folder`` (call with its
    download lock held: those of other folders may belong to downloads still running)."""
    for stale in folder.parent.glob(f".download-{glob.escape(folder.name)}-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


#: Seconds a download waits for the server (to connect, then for each read) before it
#: fails with a :class:`DownloadError`: a stalled server would otherwise hang it for ever.
DOWNLOAD_TIMEOUT: float = 60.0


class IncompleteTransfer(http.client.HTTPException):
    """A download ended before (or after) the ``Content-Length`` its server announced."""


def _content_length(value: str | None) -> int | None:
    """The announced body size from a ``Content-Length`` header value, ``None`` when absent
    or not a plain non-negative integer."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def _download(url: str, path: Path, chunk: int = 1 << 20) -> tuple[int, int | None]:
    """Write the body of ``url`` to ``path``, read in chunks.

    Returns:
        The bytes received, and the ``Content-Length`` the server announced (``None`` when
        it sent none, so that a cut cannot be seen here).

    Raises:
        IncompleteTransfer: when fewer (or more) bytes came than the length announced:
            :mod:`http.client` never reads past it and ends a short body without an error.
        OSError, http.client.HTTPException: as :func:`urllib.request.urlopen` and reading
            the response raise them (a chunked body cut short: ``IncompleteRead``; refused,
            HTTP error, reset, no data for :data:`DOWNLOAD_TIMEOUT` seconds).
    """
    # as PyG's download_url: no certificate check, the pinned sums vouch for the files
    context = ssl._create_unverified_context()
    received = 0
    opened = urllib.request.urlopen(url, context=context, timeout=DOWNLOAD_TIMEOUT)
    with opened as response, open(path, "wb") as out:
        announced = _content_length(response.headers.get("Content-Length"))
        while block := response.read(chunk):
            out.write(block)
            received += len(block)
    if announced is not None and received != announced:
        raise IncompleteTransfer(
            f"incomplete transfer: {path.name} ended after {received} of the {announced} "
            "bytes its Content-Length announced; it was not kept, and the next run downloads "
            "it again"
        )
    return received, announced


def offline_message(what: str, urls: Mapping[str, str], folder: Path, reason: str) -> str:
    """The error text for files that could not be downloaded."""
    listing = ", ".join(urls.values())
    return (
        f"{what}: missing files {list(urls)} in {folder}, and downloading them failed "
        f"({reason}). Download {listing} into {folder} by hand, or point --root / "
        "SPIKEGRAPH_DATA at a folder that already holds them"
    )


def fetch_files(
    urls: Mapping[str, str],
    folder: str | os.PathLike,
    sha256: Mapping[str, str | None] | None = None,
    what: str = "dataset",
    check: Callable[[str, Path], None] | None = None,
) -> list[Path]:
    """Download every file of ``urls`` (file name -> URL) that ``folder`` lacks.

    Args:
        urls: The files to have in ``folder``, each with the URL it is downloaded from.
        folder: Where the files go (created if needed).
        sha256: Pinned hex sha256 per file name; a file without one (or with ``None``) is
            not checked here and must be checked by ``check`` or by its reader.
        what: The dataset's name, for messages.
        check: Called as ``check(name, path)`` on each downloaded file while it is still in
            the temporary folder (after its size and pin passed); whatever it raises is
            raised here, and the file is not kept, so the next run downloads it again.

    Returns:
        The paths of the files that were downloaded (empty when none was missing).

    Raises:
        DownloadError: (a ``FileNotFoundError``) when a download fails or comes up short of
            its ``Content-Length``: names the missing files, their URLs and ``folder`` (and,
            for a short one, the bytes announced and received).
        ChecksumError: (a ``ValueError``) when a downloaded file does not match its pin;
            the file is not kept.
        PermissionError: when ``folder`` cannot be written (named in the message).
    """
    folder = Path(folder)
    sha256 = dict(sha256 or {})
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError as err:
        raise PermissionError(
            f"{what}: cannot create {folder} to download the missing files into ({err})"
        ) from None
    done: list[Path] = []
    with cache_lock(folder.parent / f".{folder.name}.download.lock"):
        remove_stale_downloads(folder)
        # Another process may have downloaded some of them while this one waited.
        missing = {f: u for f, u in urls.items() if not (folder / f).is_file()}
        if not missing:
            return done
        tmp = download_temporary(folder)
        try:
            for name, url in missing.items():
                log.info("Downloading %s into %s", url, folder)
                print(f"Downloading {url}", file=sys.stderr)  # as PyG's download_url did
                path = tmp / name
                try:
                    received, announced = _download(url, path)
                # URLError, HTTPError, refused, reset, timeout; IncompleteRead when chunked,
                # IncompleteTransfer when short of its length
                except (OSError, http.client.HTTPException) as err:
                    left = {f: u for f, u in missing.items() if not (folder / f).is_file()}
                    reason = f"{url}: {type(err).__name__}: {err}"
                    raise DownloadError(offline_message(what, left, folder, reason)) from err
                expected = sha256.get(name)
                if expected is not None:
                    actual = sha256_file(path)
                    if actual != expected:
                        path.unlink()
                        if announced is None:
                            cause = (
                                f"received {received} bytes and the server sent no "
                                "Content-Length to compare them with: a transfer cut short, "
                                "which the next run downloads again, or a changed or tampered "
                                "file, or a wrong SPIKEGRAPH_*_URL"
                            )
                        else:
                            cause = "a changed or tampered file, or a wrong SPIKEGRAPH_*_URL"
                        raise ChecksumError(
                            f"{what}: the downloaded file {name} from {url} has sha256 "
                            f"{actual}, expected {expected}; it was not kept ({cause})"
                        )
                if check is not None:
                    check(name, path)
                _fsync_file(path)
                os.replace(path, folder / name)
                fsync_dir(folder)
                done.append(folder / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return done


def fetch_zip(
    url: str, folder: str | os.PathLike, files: list[str], member: str, what: str = "dataset"
) -> list[Path]:
    """Download the zip archive ``url`` and take from its folder ``member`` every file of
    ``files`` (paths relative to ``folder``) that ``folder`` lacks.

    The archive is downloaded (as :func:`fetch_files` downloads: a transfer short of its
    ``Content-Length`` or silent for :data:`DOWNLOAD_TIMEOUT` seconds is a
    :class:`DownloadError`) and extracted (PyG's ``extract_zip``; :mod:`zipfile` keeps every
    member inside the extraction folder) in a temporary folder
    beside ``folder``; each file is then ``fsync``\\ ed and moved into place with
    :func:`os.replace`, so ``folder`` never holds a partial file. No sha256 is pinned for
    these archives: the files are checked by their reader.

    Returns:
        The paths of the files that were added.

    Raises:
        DownloadError: (a ``FileNotFoundError``) when the download fails: names the missing
            files, the URL and ``folder``.
        ValueError: when the archive is not a zip file or lacks some of ``files``.
    """
    import zipfile

    from torch_geometric.data import extract_zip

    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except PermissionError as err:
        raise PermissionError(
            f"{what}: cannot create {folder.parent} to download the missing files into ({err})"
        ) from None
    done: list[Path] = []
    with cache_lock(folder.parent / f".{folder.name}.download.lock"):
        remove_stale_downloads(folder)
        missing = [f for f in files if not (folder / f).is_file()]
        if not missing:
            return done
        tmp = download_temporary(folder)
        try:
            log.info("Downloading %s for %s into %s", url, what, folder)
            print(f"Downloading {url}", file=sys.stderr)
            archive = tmp / "zip" / (url.rstrip("/").rpartition("/")[2] or "archive.zip")
            archive.parent.mkdir()
            try:
                _download(url, archive)
            # as fetch_files: refused, HTTP error, reset, timeout, cut short
            except (OSError, http.client.HTTPException) as err:
                reason = f"{url}: {type(err).__name__}: {err}"
                raise DownloadError(
                    f"{what}: missing files {missing} in {folder}, and downloading them failed "
                    f"({reason}). Download {url} and unpack its folder {member}/ as {folder} "
                    "by hand, or point --root / SPIKEGRAPH_DATA at a folder that already "
                    "holds them"
                ) from err
            try:
                extract_zip(str(archive), str(tmp / "unpacked"), log=False)
            except zipfile.BadZipFile as err:
                raise ValueError(f"{what}: {url} is not a zip archive ({err})") from None
            src = tmp / "unpacked" / member
            absent = [f for f in missing if not (src / f).is_file()]
            if absent:
                raise ValueError(f"{what}: the archive {url} lacks {member}/{absent}")
            for f in missing:
                (folder / f).parent.mkdir(parents=True, exist_ok=True)
                _fsync_file(src / f)
                os.replace(src / f, folder / f)
                fsync_dir((folder / f).parent)
                done.append(folder / f)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return done


__all__ = [
    "DOWNLOAD_TIMEOUT",
    "ChecksumError",
    "DownloadError",
    "IncompleteTransfer",
    "fetch_files",
    "fetch_zip",
    "join_url",
]
