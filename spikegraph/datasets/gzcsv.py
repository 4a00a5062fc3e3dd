"""Gzipped CSV tables of numbers, formatted with numpy and written in chunks.

OGB stores its graphs as headerless gzipped CSV files (Hu et al., "Open Graph Benchmark:
Datasets for Machine Learning on Graphs", NeurIPS 2020), read back by ogb with
``pandas.read_csv``. Writing tens of millions of rows through ``pandas.DataFrame.to_csv``
formats every float in Python (about 3 s per million values); :func:`format_rows` formats a
whole block of integers or fixed-point decimals with a few array operations instead, and
:class:`GzipCsvWriter` streams such blocks into one reproducible gzip file (no file name and
a zero time stamp in its header: the same rows give the same bytes).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np

_ZERO, _MINUS, _DOT, _COMMA, _NEWLINE = (ord(c) for c in "0-.,\n")


def _column_bytes(values: np.ndarray, decimals: int) -> np.ndarray:
    """``values`` as right-aligned ASCII digits in a ``[k, width]`` ``uint8`` matrix whose
    padding is ``0`` bytes (removed by :func:`format_rows`).

    Args:
        values: ``[k]`` integers; with ``decimals > 0`` the value times ``10 ** decimals``.
        decimals: Digits after the decimal point (``0``: an integer, no point).
    """
    values = values.astype(np.int64, copy=False)
    negative = values < 0
    magnitude = np.abs(values)
    largest = int(magnitude.max()) if magnitude.size else 0
    digits = max(len(str(largest)), decimals + 1)  # at least one digit before the point
    width = digits + (decimals > 0) + 1  # the point, the sign
    out = np.zeros((values.shape[0], width), dtype=np.uint8)
    # number of digits each value needs (at least one before the point)
    needed = np.full(values.shape, decimals + 1, dtype=np.int64)
    power = 10 ** (decimals + 1)
    while power <= largest:
        needed += magnitude >= power
        power *= 10
    rest = magnitude.copy()
    col = width - 1
    for position in range(digits):
        if decimals and position == decimals:
            out[:, col] = _DOT
            col -= 1
        digit = (rest % 10).astype(np.uint8) + _ZERO
        out[:, col] = np.where(position < needed, digit, 0)
        rest //= 10
        col -= 1
    # the sign goes just left of the leftmost digit
    sign_col = width - 1 - needed - (decimals > 0)
    rows = np.flatnonzero(negative)
    out[rows, sign_col[rows]] = _MINUS
    return out


_INT64_MAX = 2**63 - 1


def _beyond_int64(j: int, value: object, decimals: int) -> None:
    raise ValueError(
        f"column {j} holds {value}, beyond what can be written: values are formatted as "
        f"int64 integers of the value times 10 ** {decimals} (at most {_INT64_MAX})"
    )


def format_rows(columns: Sequence[np.ndarray], decimals: Sequence[int] | int = 0) -> bytes:
    """CSV text of ``k`` rows: ``columns[j][i]`` is row ``i``'s ``j``-th field.

    Integers are written as they are; a column with ``decimals=d > 0`` holds floats written
    with exactly ``d`` digits after the point (rounded half to even, like ``numpy.rint``;
    ``-0.0`` is written without its sign). The result ends with a newline (empty for
    ``k = 0``).

    Args:
        columns: Equal-length 1-D arrays (or one 2-D array, one column per field).
        decimals: Digits after the point, per column or one for all.

    Raises:
        ValueError: for columns of unequal length, a non-finite float, a value whose
            magnitude times ``10 ** decimals`` exceeds int64's range, or a negative
            ``decimals``.
    """
    if isinstance(columns, np.ndarray) and columns.ndim == 2:
        columns = list(columns.T)
    columns = [np.asarray(c) for c in columns]
    if not columns:
        raise ValueError("format_rows needs at least one column")
    if isinstance(decimals, (int, np.integer)):
        decimals = [int(decimals)] * len(columns)
    decimals = [int(d) for d in decimals]
    if len(decimals) != len(columns):
        raise ValueError(f"'decimals' has {len(decimals)} entries for {len(columns)} columns")
    k = columns[0].shape[0]
    scaled = []
    for j, (column, d) in enumerate(zip(columns, decimals)):
        if column.ndim != 1 or column.shape[0] != k:
            raise ValueError(
                f"column {j} has shape {column.shape}; every column must be 1-D of length {k}"
            )
        if d < 0:
            raise ValueError(f"'decimals' must be >= 0, got {d} for column {j}")
        if column.dtype.kind == "f":
            if not np.isfinite(column).all():
                raise ValueError(f"column {j} holds NaN or infinite values; cannot write them")
            rounded = np.rint(column.astype(np.float64) * 10.0**d)
            beyond = np.abs(rounded) >= 2.0**63
            if beyond.any():
                _beyond_int64(j, column[beyond][0], d)
            column = rounded.astype(np.int64)
        elif column.dtype.kind not in "iub":
            raise ValueError(f"column {j} has dtype {column.dtype}; expected numbers")
        else:
            if column.size:
                for end in (int(column.min()), int(column.max())):
                    if abs(end) * 10**d > _INT64_MAX:
                        _beyond_int64(j, end, d)
            column = column.astype(np.int64) * 10**d
        scaled.append(column)
    if len(set(decimals)) == 1:  # one block for all columns: fewer, larger array operations
        flat = np.stack(scaled, axis=1).ravel()
        fields = _column_bytes(flat, decimals[0]).reshape(k, len(columns), -1)
    else:
        fields = None
    ends = np.full((k, len(columns), 1), _COMMA, dtype=np.uint8)
    ends[:, -1] = _NEWLINE
    if fields is not None:
        text = np.concatenate([fields, ends], axis=2).ravel()
    else:
        blocks = []
        for j, (column, d) in enumerate(zip(scaled, decimals)):
            blocks.extend([_column_bytes(column, d), ends[:, j]])
        text = np.concatenate(blocks, axis=1).ravel()
    return text[text != 0].tobytes()


class GzipCsvWriter:
    """Write blocks of rows (:func:`format_rows`) into one gzip file, reproducibly.

    The gzip header holds no file name and a zero time stamp, so the same rows and level
    give the same bytes. Use as a context manager; the file is complete (flushed and
    ``fsync``-ed) when the ``with`` block ends without an error.

    Args:
        path: The ``.csv.gz`` file to create (its folder must exist).
        compresslevel: zlib level, 1 (fast, default) to 9 (small).
    """

    def __init__(self, path: str | os.PathLike, compresslevel: int = 1) -> None:
        if isinstance(compresslevel, bool) or compresslevel not in range(1, 10):
            raise ValueError(f"'compresslevel' must be an int in 1 ... 9, got {compresslevel!r}")
        self.path = Path(path)
        self.rows = 0
        self._raw = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._raw, compresslevel=compresslevel, mtime=0
        )

    def write(self, columns: Sequence[np.ndarray], decimals: Sequence[int] | int = 0) -> None:
        """Append the rows of ``columns`` (see :func:`format_rows`)."""
        text = format_rows(columns, decimals)
        self._gz.write(text)
        self.rows += len(columns[0]) if not isinstance(columns, np.ndarray) else columns.shape[0]

    def close(self) -> None:
        """Finish the gzip stream and sync the file to disk."""
        if self._raw.closed:
            return
        try:
            self._gz.close()
            self._raw.flush()
            os.fsync(self._raw.fileno())
        finally:
            self._raw.close()

    def __enter__(self) -> GzipCsvWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def write_csv_gz(
    path: str | os.PathLike,
    columns: Sequence[np.ndarray],
    decimals: Sequence[int] | int = 0,
    compresslevel: int = 1,
) -> None:
    """Write one small table (all rows at once) with :class:`GzipCsvWriter`."""
    with GzipCsvWriter(path, compresslevel) as writer:
        writer.write(columns, decimals)


def count_rows(path: str | os.PathLike, chunk: int = 1 << 24) -> int:
    """Number of lines of a gzipped text file (a last line without its newline counts),
    read in chunks of ``chunk`` decompressed bytes, never whole."""
    rows, last = 0, b"\n"
    with gzip.open(path, "rb") as f:
        while block := f.read(chunk):
            rows += block.count(b"\n")
            last = block[-1:]
    return rows + (last != b"\n")


__all__ = ["GzipCsvWriter", "count_rows", "format_rows", "write_csv_gz"]
