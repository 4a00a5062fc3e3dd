"""Atomic file writes: a reader sees the old file or the new one, never part of one.

Checkpoints, processed-dataset caches and result records are all written this way: into a
temporary file in the target's folder, flushed and ``fsync``-ed, then moved over the target
with :func:`os.replace`, and the folder itself synced so the rename survives a power cut.
A process killed at any moment leaves either the previous file or the complete new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the platform allows."""
    with contextlib.suppress(OSError):  # not supported on every platform / file system
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    """The process's umask: read where the platform shows it (Linux), since setting it to
    read it back would change it for every thread for a moment."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then replace ``path``.

    The folder is created if needed. The new file has the permissions a file ``open()``
    creates has (``0o666`` less the umask; the temporary file's own are ``0o600``), so a
    shared cache or results folder stays readable to whom the umask allows. On any error
    (or interrupt) the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # POSIX
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


__all__ = ["atomic_write", "fsync_dir"]
