"""The cells of a study on disk: one JSON file per (model, sampler, seed), keyed by the
cell's whole configuration, written atomically, locked while it is computed.

A cell file holds its key: the dataset (name, split, the graph's fingerprint and a
synthetic graph's provenance), the model and its effective options and training settings,
the sampler and its effective options, the seed, the study's budget and the code version
(spikegraph's version and a SHA-256 of its source files). A study run again over the same
folder reuses the cells whose key is its own and refuses, naming the fields that differ, a
cell file made with another configuration: results of two configurations are never mixed.

Beside its key, a cell records what computed it (``measured``: date, machine, processes,
the command -- ``None`` for the Python API -- and the checkout's commit). That is provenance,
not configuration: a study resumed by another command, or at another commit of the same
source, reuses the cell. Cells written before the command and commit were recorded lack
them, and still load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from spikegraph._io import atomic_write
from spikegraph.train.checkpoint import differences, identity_hash, plain

log = logging.getLogger(__name__)

#: Written into every cell file; anything else is not a cell of a sampler study.
CELL_FORMAT = "spikegraph-sampler-study-cell"
#: Bumped whenever the layout or what a cell measures changes; part of every key.
CELL_VERSION = 1
#: Folder of the cell files inside a study's folder.
CELLS = "cells"
#: Folder of the cells' lock files inside a study's folder.
LOCKS = ".locks"


class StudyFileError(ValueError):
    """A file in a study's folder that cannot be used (unreadable, not a cell file)."""


class StudyMismatchError(StudyFileError):
    """A cell file in the study's folder made with another configuration.

    Attributes:
        path: The cell file.
        differences: ``(field, in the file, now)`` for every field that differs.
    """

    def __init__(self, path: Path, diffs: list[tuple[str, Any, Any]]) -> None:
        self.path = path
        self.differences = diffs
        shown = "; ".join(f"{k}: file {_short(a)}, now {_short(b)}" for k, a, b in diffs[:6])
        more = f"; and {len(diffs) - 6} more" if len(diffs) > 6 else ""
        super().__init__(
            f"{path} was made with another configuration ({shown}{more}): a study folder "
            "holds one configuration. Write this study into another folder, or delete that "
            "file to compute the cell again"
        )


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Cell:
    """One (model, sampler, seed) of a study; ``sampler`` is a sampler's registry name or
    :data:`~spikegraph.experiments.study.budget.FULL_BATCH`."""

    model: str
    sampler: str
    seed: int

    @property
    def id(self) -> str:
        """``"gcn--graphsage--seed0"``: the cell's file name without ``.json``."""
        return f"{self.model}--{self.sampler}--seed{self.seed}"

    def path(self, out: str | os.PathLike) -> Path:
        """The cell's file in study folder ``out``."""
        return Path(out) / CELLS / f"{self.id}.json"


def source_digest() -> str:
    """SHA-256 of spikegraph's source files and the sampler zoo's (every ``.py`` file, by
    its path inside the package): the code version a cell's key holds, which also tells
    apart two states of an uncommitted checkout."""
    import spikegraph
    import spikegraph.samplers

    h = hashlib.sha256()
    for package in (spikegraph, spikegraph.samplers):
        root = Path(package.__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            h.update(f"{package.__name__}/{path.relative_to(root).as_posix()}\0".encode())
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def read_cell(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The record in cell file ``path`` if it was made with ``key``; ``None`` if there is
    no such file.

    Raises:
        StudyFileError: for a file that is not a readable cell file.
        StudyMismatchError: for a cell file made with another configuration.
    """
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StudyFileError(
            f"{path} is not a readable cell file ({err}); delete it to compute the cell again"
        ) from None
    if not isinstance(record, dict) or record.get("format") != CELL_FORMAT:
        raise StudyFileError(f"{path} is not a cell file of a sampler study")
    if not isinstance(record.get("key"), dict):
        raise StudyFileError(f"{path} has no key: it cannot be told which configuration made it")
    diffs = differences(record["key"], key)
    if diffs:
        raise StudyMismatchError(path, diffs)
    return record


def write_cell(path: Path, key: dict[str, Any], record: dict[str, Any]) -> None:
    """Write a cell's record with its key, atomically (a reader never sees half a file)."""
    body = {
        "format": CELL_FORMAT,
        "version": CELL_VERSION,
        "key": plain(key),
        "key_sha256": identity_hash(key),
        **record,
    }
    text = json.dumps(plain(body), indent=1, sort_keys=True) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


@contextmanager
def cell_lock(out: str | os.PathLike, cell: Cell, wait: bool) -> Iterator[bool]:
    """Hold the lock of ``cell`` in study folder ``out`` for the block.

    Several processes (``jobs``, or several invocations over one folder) share a study's
    cells this way: the one that holds a cell's lock computes it. Yields ``True`` when held;
    with ``wait=False`` yields ``False`` at once when another process holds it.
    """
    folder = Path(out) / LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f"{cell.id}.lock"))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


__all__ = [
    "CELLS",
    "CELL_FORMAT",
    "CELL_VERSION",
    "LOCKS",
    "Cell",
    "StudyFileError",
    "StudyMismatchError",
    "cell_lock",
    "read_cell",
    "source_digest",
    "write_cell",
]
