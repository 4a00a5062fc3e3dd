"""Fast CSV formatting and reproducible gzip writing (spikegraph.datasets.gzcsv)."""

import gzip
import zlib

import numpy as np
import pandas as pd
import pytest

from spikegraph.datasets.gzcsv import (
    CsvTableError,
    GzipCsvWriter,
    count_rows,
    format_rows,
    read_table,
    write_csv_gz,
)


def python_format(value: float, decimals: int) -> str:
    if decimals == 0:
        return str(int(value))
    text = f"{np.rint(value * 10.0**decimals) / 10.0**decimals:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def test_format_rows_equals_python_formatting():
    rng = np.random.default_rng(0)
    ints = rng.integers(-(10**12), 10**12, 500)
    ints[:6] = [0, -1, 9, 10, -10, 10**15]
    floats = rng.standard_normal(500) * rng.choice([1e-3, 1.0, 1e3], 500)
    floats[:5] = [0.0, -0.00004, -0.00006, 0.99996, -12.5]
    small = rng.integers(0, 7, 500).astype(np.uint8)
    text = format_rows([ints, floats, small], [0, 4, 0]).decode()
    expected = "".join(f"{a},{python_format(b, 4)},{c}\n" for a, b, c in zip(ints, floats, small))
    assert text == expected
    # one block with one precision for all columns takes another path: same text
    block = rng.standard_normal((50, 7)).astype(np.float32)
    expected = "".join(",".join(python_format(float(v), 3) for v in row) + "\n" for row in block)
    assert format_rows(block, 3).decode() == expected


def test_format_rows_is_read_back_by_pandas():
    x = np.random.default_rng(1).standard_normal((40, 5)).astype(np.float32)
    text = format_rows(x, 4).decode()
    back = pd.read_csv(__import__("io").StringIO(text), header=None).values
    assert np.abs(back - x).max() <= 0.5e-4 + 1e-7


@pytest.mark.parametrize(
    ("columns", "decimals", "match"),
    [
        ([np.array([1.0, np.nan])], 2, "NaN or infinite"),
        ([np.array([1, 2]), np.array([1])], 0, "length 2"),
        ([np.array([1, 2])], -1, "'decimals' must be >= 0"),
        ([np.array(["a"])], 0, "expected numbers"),
        ([np.array([1]), np.array([2])], [0], "2 columns"),
    ],
)
def test_format_rows_refuses_bad_input(columns, decimals, match):
    with pytest.raises(ValueError, match=match):
        format_rows(columns, decimals)


def test_gzip_writer_is_reproducible_and_chunked(tmp_path):
    rows = np.arange(30).reshape(15, 2)
    with GzipCsvWriter(tmp_path / "a.csv.gz") as writer:
        writer.write(rows[:7])
        writer.write(rows[7:])
    assert writer.rows == 15
    write_csv_gz(tmp_path / "b.csv.gz", rows)
    assert gzip.decompress((tmp_path / "a.csv.gz").read_bytes()) == format_rows(rows)
    write_csv_gz(tmp_path / "c.csv.gz", rows)  # another name and time: the same bytes
    assert (tmp_path / "b.csv.gz").read_bytes() == (tmp_path / "c.csv.gz").read_bytes()
    with pytest.raises(ValueError, match=r"'compresslevel' must be an int in 1 \.\.\. 9, got 0"):
        GzipCsvWriter(tmp_path / "d.csv.gz", compresslevel=0)


@pytest.mark.parametrize("text", [b"", b"1\n", b"1,2\n3,4\n", b"1\n2", b"\n\n", b"12\n" * 1000])
@pytest.mark.parametrize("chunk", [1, 2, 7, 1 << 20])
def test_count_rows_counts_what_pandas_reads(tmp_path, text, chunk):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(text))
    assert count_rows(path, chunk=chunk) == len(text.splitlines())
    if text.strip():
        assert count_rows(path, chunk=chunk) == len(pd.read_csv(path, header=None))


@pytest.mark.parametrize(
    "column, decimals, value",
    [
        (np.array([1, 2**63], dtype=np.uint64), 0, "9223372036854775808"),
        (np.array([np.iinfo(np.int64).min, 0]), 0, "-9223372036854775808"),
        (np.array([1e19, 1.0]), 0, "1e\\+19"),
        (np.array([1.0, -1e15]), 4, "-1000000000000000.0"),
        (np.array([10**15, 1]), 4, "1000000000000000"),
    ],
)
def test_values_beyond_int64_once_scaled_are_an_error_naming_them(column, decimals, value):
    # Formatting goes through int64 (the value times 10 ** decimals): beyond it the numbers
    # used to wrap around into other numbers, without an error.
    with pytest.raises(ValueError, match=rf"column 0 holds {value}, .* 10 \*\* {decimals}"):
        format_rows([column], decimals)


def test_values_at_the_int64_edge_are_written_exactly():
    big = np.iinfo(np.int64).max
    assert format_rows([np.array([big, -big])]) == f"{big}\n{-big}\n".encode()
    assert format_rows([np.array([2**63 - 1], dtype=np.uint64)]) == f"{big}\n".encode()


def gz(tmp_path, text, name="t.csv.gz"):
    path = tmp_path / name
    path.write_bytes(gzip.compress(text))
    return path


@pytest.mark.parametrize(
    "damage, cause, reason",
    [
        (lambda b: b[: len(b) // 2], EOFError, "not a complete gzip file"),
        (lambda b: gzip.decompress(b), gzip.BadGzipFile, "not a gzip file"),
        (lambda b: b[:12] + b"\xff" * 8 + b[20:], zlib.error, "damaged gzip data"),
    ],
)
def test_a_damaged_gzip_file_is_an_error_naming_it(tmp_path, damage, cause, reason):
    # count_rows used to let gzip's bare EOFError through, naming no file
    path = tmp_path / "t.csv.gz"
    path.write_bytes(damage(gzip.compress(b"12,34\n" * 5000, compresslevel=0)))
    with pytest.raises(CsvTableError, match=rf"t.csv.gz: {reason}") as e:
        count_rows(path)
    assert isinstance(e.value.__cause__, cause) and e.value.path == path
    assert e.value.reason.startswith(reason)
    with pytest.raises(CsvTableError, match=reason):
        read_table(path)


def test_read_table_returns_what_pandas_reads(tmp_path):
    path = gz(tmp_path, b"1,2\n3,4.0\n")
    table = read_table(path, width=2, integers=True, lines=2)
    assert table.to_numpy().tolist() == [[1, 2], [3, 4]]
    floats = read_table(gz(tmp_path, b"0.5,-1e3\n2,3\n", "f.csv.gz"))
    assert floats.to_numpy().tolist() == [[0.5, -1000.0], [2.0, 3.0]]


@pytest.mark.parametrize(
    "text, width, integers, reason",
    [
        (b"1,2\n3,nan\n", None, False, r"line 2 is '3,nan', field 2 \('nan'\) is not a finite"),
        (b"1,2\n-inf,2\n", None, False, r"line 2 is '-inf,2', field 1 \('-inf'\) is not a fini"),
        (b"1,2\n3\n5,6\n", None, False, r"line 2 is '3', 1 field where 2 are expected"),
        (b"1,2\n3,4,5\n", None, False, r"line 2 is '3,4,5', 3 fields where 2 are expected \(as"),
        (b"1,2\n\n5,6\n", None, False, r"line 2 is '', an empty line"),
        (b"1,2\n3, \n", None, False, r"line 2 is '3, ', field 2 is empty"),
        (b"1,2\n3,x\n", None, False, r"line 2 is '3,x', field 2 \('x'\) is not a number"),
        (b"1,2\nTrue,False\n", None, False, r"line 2 is 'True,False', field 1 \('True'\) is"),
        (b"1\n2.5\n", 1, True, r"line 2 is '2.5', field 1 \('2.5'\) is not an integer"),
        (b"1\n1e30\n", 1, True, r"line 2 is '1e30', field 1 \('1e30'\) is beyond the integ"),
        (b"1\n99999999999999999999\n", 1, True, r"line 2 .* is beyond the integers int64"),
        (b"1,2,3\n4,5\n", 2, True, r"line 1 is '1,2,3', 3 fields where 2 are expected"),
        (b"1\n2\n", 2, True, r"line 1 is '1', 1 field where 2 are expected"),
        (b"", 1, True, r"no rows"),
    ],
)
def test_read_table_names_the_first_bad_line_and_field(tmp_path, text, width, integers, reason):
    path = gz(tmp_path, text)
    with pytest.raises(CsvTableError, match=r"t.csv.gz: " + reason) as e:
        read_table(path, width=width, integers=integers)
    assert e.value.reason.startswith(reason.split(" ")[0].replace("\\", ""))


def test_read_table_refuses_rows_that_are_not_lines(tmp_path):
    path = gz(tmp_path, b'1\n"2\n3"\n4\n')
    with pytest.raises(CsvTableError, match="pandas reads 3 rows from its 4 lines"):
        read_table(path, lines=count_rows(path))
