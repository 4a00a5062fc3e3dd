"""Atomic file writes: a reader sees the old file or the new one, never part of one.

Checkpoints, processed-dataset caches and result records are all written this way: into a
temporary file in the target's folder, flushed and ``fsync``-ed, then moved over the target
with :func:`os.replace`, and the folder itself synced so the rename survives a power cut.
A process killed at any moment leaves either the previous file or the complete new one.
A Ctrl-C (``SIGINT``) during a write waits for the write to finish, then interrupts; a second
one stops the write at once (:func:`sigint_deferred`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (``SIGINT``) until the block ends, then raise ``KeyboardInterrupt``; a
    second Ctrl-C meanwhile raises at once.

    An interrupt inside ``torch.save`` breaks its zip writer, which then raises
    ``RuntimeError`` ("unexpected pos") instead of the interrupt, so a Ctrl-C that landed on
    a checkpoint write looked like a crash. Only in the main thread and with Python's own
    handler installed; elsewhere the block runs as it is.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: object) -> None:
        if received:  # the second Ctrl-C: stop now
            raise KeyboardInterrupt
        received.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then replace ``path``.

    The folder is created if needed. The new file has the permissions a file ``open()``
    creates has (``0o666`` less the umask; the temporary file's own are ``0o600``), so a
    shared cache or results folder stays readable to whom the umask allows. On any error
    (or interrupt) the temporary file is removed and ``path`` is left as it was. A Ctrl-C
    during the write lands after it, the new file in place (:func:`sigint_deferred`); a
    second one stops the write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sigint_deferred():
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


__all__ = ["atomic_write", "fsync_dir", "sigint_deferred"]
