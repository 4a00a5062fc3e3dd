"""Processed-dataset caches that are keyed by content, written atomically, read without
running code, and shared safely between processes.

- :func:`content_key` hashes the bytes a cache entry is derived from (sha256), so a changed
  input never reuses an old entry.
- :func:`atomic_torch_save` writes a temporary file in the target's folder, ``fsync``\\ s it and
  moves it into place with :func:`os.replace`: a reader sees the old file, the new file, or
  none, never half of one, even when the writer is killed mid-write.
- :func:`load_tensors` reads with ``torch.load(weights_only=True)`` (tensors and primitives
  only) and checks a sha256 of the tensors stored beside them, so a damaged entry is
  detected and rebuilt rather than used.
- :func:`cache_lock` is an inter-process lock (``filelock``) held while an entry is built,
  so concurrent first loads build it once and the others wait and read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from torch import Tensor

from spikegraph._io import atomic_write, fsync_dir

log = logging.getLogger(__name__)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's content, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def content_key(parts: Iterable[tuple[str, str]]) -> str:
    """One hex sha256 over ``(label, value)`` pairs (file names with their digests, format
    versions, options), unambiguous in how the pairs are joined."""
    h = hashlib.sha256()
    for label, value in parts:
        for s in (label, value):
            b = s.encode()
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    return h.hexdigest()


def tensors_digest(tensors: Mapping[str, Tensor]) -> str:
    """sha256 over the names, dtypes, shapes and bytes of ``tensors`` (in key order)."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        update_with_tensor(h, t)
    return h.hexdigest()


def update_with_tensor(h: Any, t: Tensor, chunk: int = 1 << 26) -> None:
    """Feed a contiguous CPU tensor's bytes to hash ``h`` in chunks of ``chunk`` bytes,
    without a copy of the whole tensor (a 2 GB edge index stays 2 GB, not 4)."""
    if not t.numel():
        h.update(b"")
        return
    flat = t.reshape(-1).view(torch.uint8).numpy()
    for start in range(0, flat.size, chunk):
        h.update(flat[start : start + chunk])


def atomic_torch_save(obj: object, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)`` through :func:`spikegraph._io.atomic_write`, so ``path``
    never holds a partial file."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save_tensors(path: str | os.PathLike, key: str, tensors: Mapping[str, Tensor]) -> None:
    """Store plain ``tensors`` at ``path`` (atomically) with the cache ``key`` they were
    built for and a digest of their content."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    payload = {"key": key, "sha256": tensors_digest(tensors), "tensors": tensors}
    atomic_torch_save(payload, path)


def load_tensors(path: str | os.PathLike, key: str, mmap: bool = False) -> dict[str, Tensor] | None:
    """Read what :func:`save_tensors` wrote, or ``None`` when ``path`` is missing, unreadable
    (truncated, not a torch file, holds anything but tensors and primitives), built for
    another ``key``, or does not match its own digest. Nothing in the file is executed.

    With ``mmap=True`` the tensors are memory-mapped from the file (``torch.load(...,
    mmap=True)``, copy-on-write) instead of read into memory: the operating system pages
    features and edges in as they are used and can drop them again under memory pressure.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as err:
        log.warning("Ignoring unreadable cache file %s (%s: %s)", path, type(err).__name__, err)
        return None
    tensors = payload.get("tensors") if isinstance(payload, dict) else None
    if (
        not isinstance(tensors, dict)
        or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in tensors.items())
        or payload.get("key") != key
    ):
        log.warning("Ignoring cache file %s: not an entry for key %s", path, key[:16])
        return None
    if payload.get("sha256") != tensors_digest(tensors):
        log.warning("Ignoring cache file %s: its content does not match its digest", path)
        return None
    return tensors


@contextlib.contextmanager
def cache_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold the inter-process lock file ``path`` (created if needed) for the block.

    The lock is an OS-level lock (``flock``), released when its holder exits, also when it
    is killed, so a crashed builder never blocks later runs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("Waiting for %s (another process is building this cache entry)", path)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def remove_stale_temporaries(folder: str | os.PathLike) -> None:
    """Delete ``.*.tmp`` files a killed writer left in ``folder``; call with the folder's
    lock held, when no writer can be active."""
    for tmp in Path(folder).glob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()


__all__ = [
    "atomic_torch_save",
    "cache_lock",
    "content_key",
    "fsync_dir",
    "load_tensors",
    "remove_stale_temporaries",
    "save_tensors",
    "sha256_bytes",
    "sha256_file",
    "tensors_digest",
    "update_with_tensor",
]
