"""Gzipped CSV tables of numbers, formatted with numpy and written in chunks.

OGB stores its graphs as headerless gzipped CSV files (Hu et al., "Open Graph Benchmark:
Datasets for Machine Learning on Graphs", NeurIPS 2020), read back by ogb with
``pandas.read_csv``. Writing tens of millions of rows through ``pandas.DataFrame.to_csv``
formats every float in Python (about 3 s per million values); :func:`format_rows` formats a
whole block of integers or fixed-point decimals with a few array operations instead, and
:class:`GzipCsvWriter` streams such blocks into one reproducible gzip file (no file name and
a zero time stamp in its header: the same rows give the same bytes).

Reading such tables back, :func:`count_rows` counts their lines and :func:`read_table`
reads one with pandas and checks it: every cell a finite number (an integer where integers
are expected), every row as wide as expected. Both raise :class:`CsvTableError`, which
names the file and, for a bad row, its 1-based line, the line's text and the bad field.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

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


class CsvTableError(ValueError):
    """A gzipped CSV table is damaged, or holds something other than the numbers expected.

    Attributes:
        path: The file.
        reason: What is wrong (and where: ``"line 4 is '1,2', ..."``), without the path.
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


# what a broken gzip stream raises (a truncated file, another format, damaged data)
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _gzip_damage(err: BaseException) -> str:
    """What one of ``_GZIP_ERRORS`` says about the file, in words."""
    if isinstance(err, EOFError):
        return f"not a complete gzip file: its data ends early, truncated ({err})"
    if isinstance(err, gzip.BadGzipFile):
        return f"not a gzip file ({err})"
    return f"damaged gzip data ({err})"


def count_rows(path: str | os.PathLike, chunk: int = 1 << 24) -> int:
    """Number of lines of a gzipped text file (a last line without its newline counts),
    read in chunks of ``chunk`` decompressed bytes, never whole.

    Raises:
        CsvTableError: the file is not a complete, undamaged gzip file (the error of
            :mod:`gzip` or :mod:`zlib` chained).
    """
    rows, last = 0, b"\n"
    try:
        with gzip.open(path, "rb") as f:
            while block := f.read(chunk):
                rows += block.count(b"\n")
                last = block[-1:]
    except _GZIP_ERRORS as err:
        raise CsvTableError(path, _gzip_damage(err)) from err
    return rows + (last != b"\n")


def _read_line(path: str | os.PathLike, number: int) -> str | None:
    """Line ``number`` (1-based) of a gzipped text file without its line end, streamed
    (``None`` past the end, or where the file breaks off before it)."""
    try:
        with gzip.open(path, "rb") as f:
            for i, line in enumerate(f, start=1):
                if i == number:
                    return line.rstrip(b"\r\n").decode("ascii", errors="replace")
    except _GZIP_ERRORS:
        pass
    return None


def _field_problem(text: str, integers: bool) -> str | None:
    """Why one field's text is not a finite number (an integer within int64), else
    ``None``."""
    if not text.strip():
        return "is empty"
    try:
        value = float(text)
    except ValueError:
        return f"({text!r}) is not a number"
    if not math.isfinite(value):
        return f"({text!r}) is not a finite number"
    if integers and value != math.floor(value):
        return f"({text!r}) is not an integer"
    if integers and abs(value) >= 2**63:
        return f"({text!r}) is beyond the integers int64 holds"
    return None


def _describe_line(text: str | None, width: int | None, integers: bool) -> str | None:
    """Why a table's line is bad: ``"2 fields where 1 is expected"``, ``"field 3 ('x') is
    not a number"``...; ``None`` when it looks right."""
    if text is None:
        return "missing (the file ends before it)"
    if not text.strip():
        return "an empty line"
    fields = text.split(",")
    if width is not None and len(fields) != width:
        count = f"{len(fields)} field" + ("" if len(fields) == 1 else "s")
        return f"{count} where {width} {'is' if width == 1 else 'are'} expected"
    for j, field in enumerate(fields, start=1):
        problem = _field_problem(field, integers)
        if problem is not None:
            return f"field {j} {problem}"
    return None


def _bad_line(path: str | os.PathLike, line: int, width: int | None, integers: bool, why: str):
    """``"line 4 is '1,x', field 2 ('x') is not a number"``: line ``line`` read back from
    ``path`` and described (``why`` where its text looks right)."""
    text = _read_line(path, line)
    shown = text if text is None or len(text) <= 60 else text[:57] + "..."
    return f"line {line} is {shown!r}, {_describe_line(text, width, integers) or why}"


def _bad_cells(values: np.ndarray, integers: bool) -> np.ndarray | None:
    """Mask of the cells of one column (as pandas read it) that are not finite numbers
    (integers within int64); ``None`` when all are."""
    kind = values.dtype.kind
    if kind == "i":
        return None
    if kind == "u":
        return values > _INT64_MAX if integers else None
    if kind == "f":
        bad = ~np.isfinite(values)
        if integers:
            with np.errstate(invalid="ignore"):
                bad |= (values != np.floor(values)) | (np.abs(values) >= 2.0**63)
        return bad
    if kind == "b":  # pandas reads True/False as booleans
        return np.ones(values.shape, dtype=bool)
    # text (pandas found a field that is not a number), or Python objects
    return np.fromiter(
        (
            not isinstance(v, (int, np.integer)) or (integers and abs(int(v)) > _INT64_MAX)
            if not isinstance(v, (str, float))
            else _field_problem(str(v), integers) is not None
            for v in values
        ),
        dtype=bool,
        count=len(values),
    )


def _check_table(
    table: Any, path: str | os.PathLike, width: int | None, integers: bool, lines: int | None
) -> None:
    """See :func:`read_table`."""
    rows, cols = table.shape
    if rows == 0:
        raise CsvTableError(path, "no rows (an empty table)")
    if lines is not None and rows != lines:
        raise CsvTableError(
            path, f"pandas reads {rows} rows from its {lines} lines (quoted line breaks?)"
        )
    expected = cols if width is None else width
    first = rows
    if cols > expected:  # pandas widened the table to its widest row
        for name in list(table.columns)[expected:]:
            present = np.flatnonzero(table[name].notna().to_numpy())
            if present.size:
                first = min(first, int(present[0]))
    elif cols < expected:
        first = 0
    if first == rows:
        for name in table.columns:
            bad = _bad_cells(table[name].to_numpy(), integers)
            where = np.flatnonzero(bad) if bad is not None else ()
            if len(where):
                first = min(first, int(where[0]))
    if first < rows:
        why = "a value that is not a finite number" + (" integer" if integers else "")
        raise CsvTableError(path, _bad_line(path, first + 1, expected, integers, why))


def _read_failure(pandas: Any, path: str | os.PathLike, err: ValueError, width, integers) -> str:
    """What a ``ValueError`` of ``pandas.read_csv`` says about the file, in words."""
    if isinstance(err, pandas.errors.EmptyDataError):
        return "no rows (an empty file)"
    if isinstance(err, UnicodeDecodeError):
        return f"not a text file ({err})"
    found = re.search(r"Expected (\d+) fields in line (\d+)", str(err))
    if found:
        expected, line = int(found[1]), int(found[2])
        note = "" if width is not None else " (as many as line 1 has)"
        return _bad_line(path, line, expected, integers, str(err).strip()) + note
    return f"not a CSV table of numbers ({str(err).strip()})"


def read_table(
    path: str | os.PathLike,
    width: int | None = None,
    integers: bool = False,
    lines: int | None = None,
    read_csv: Any = None,
    **kwargs: Any,
) -> Any:
    """Read a headerless gzipped CSV table of numbers with pandas and check it: every cell
    a finite number (an integer within int64 with ``integers``; ``3.0`` is the integer 3,
    ``3.5`` is refused), every row ``width`` fields wide.

    Blank lines are kept (as rows of NaN, refused), so that row ``i`` is line ``i + 1``.
    pandas fills the cells of a short row with NaN and reads a field that is not a number
    as text: the first bad cell's line is read back from the file to say which (its text,
    the field and why).

    Args:
        path: The file.
        width: Fields every row must have (``None``: as many as the table has).
        integers: Cells must be integers.
        lines: The file's number of lines (:func:`count_rows`), if known: the table must
            have one row per line.
        read_csv: The reader (default: ``pandas.read_csv``).
        **kwargs: Passed to it (``header=None`` unless given; ``skip_blank_lines`` is
            always ``False``).

    Returns:
        The ``pandas.DataFrame``, as ``read_csv`` returned it.

    Raises:
        CsvTableError: naming the first bad line, its text and the bad field, or saying
            how the file is damaged (the error of pandas, :mod:`gzip` or :mod:`zlib`
            chained).
    """
    import pandas

    reader = pandas.read_csv if read_csv is None else read_csv
    kwargs = {"header": None, **kwargs, "skip_blank_lines": False}
    try:
        table = reader(path, **kwargs)
    except _GZIP_ERRORS as err:
        raise CsvTableError(path, _gzip_damage(err)) from err
    except ValueError as err:  # pandas' ParserError and EmptyDataError, UnicodeDecodeError
        raise CsvTableError(path, _read_failure(pandas, path, err, width, integers)) from err
    _check_table(table, path, width, integers, lines)
    return table


__all__ = [
    "CsvTableError",
    "GzipCsvWriter",
    "count_rows",
    "format_rows",
    "read_table",
    "write_csv_gz",
]
