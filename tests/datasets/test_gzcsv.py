"""Fast CSV formatting and reproducible gzip writing (spikegraph.datasets.gzcsv)."""

import gzip

import numpy as np
import pandas as pd
import pytest

from spikegraph.datasets.gzcsv import GzipCsvWriter, count_rows, format_rows, write_csv_gz


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
