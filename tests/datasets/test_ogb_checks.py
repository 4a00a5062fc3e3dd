"""load_ogb refuses malformed OGB files (bad values, corrupt gzip, rows of the wrong shape)
with errors that name the dataset, the file, the line and the value."""

import gzip
import zlib

import pandas as pd
import pytest
import torch

from spikegraph.datasets import load_ogb
from tests.datasets.test_ogb import write_ogb_dataset

pytest.importorskip("ogb.nodeproppred")


#: Any attempt by ogb to reach the network fails the test.
pytestmark = pytest.mark.usefixtures("no_ogb_download")


def replace_line(path, number, text):
    """Replace line ``number`` (1-based) of the gzipped text file ``path`` by ``text``."""
    lines = gzip.decompress(path.read_bytes()).split(b"\n")
    lines[number - 1] = text
    path.write_bytes(gzip.compress(b"\n".join(lines)))


def tiny(tmp_path, name="ogbn-arxiv"):
    return write_ogb_dataset(tmp_path / "data", name)


def load(tmp_path, name="ogbn-arxiv"):
    return load_ogb(name, root=tmp_path / "data", cache_dir=tmp_path / "cache")


# --- D2: values ogb would take silently -------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        (b",".join([b"nan"] * 6), r"line 4 is 'nan,nan,.*', field 1 \('nan'\) is not a finite"),
        (b"1,2,3,inf,5,6", r"line 4 is '1,2,3,inf,5,6', field 4 \('inf'\) is not a finite"),
        (b"1,2,3,1e999,5,6", r"field 4 \('1e999'\) is not a finite"),
        (b"1,2,3,4,5", r"line 4 is '1,2,3,4,5', 5 fields where 6 are expected"),
        (b"1,2,,4,5,6", r"line 4 is '1,2,,4,5,6', field 3 is empty"),
        (b"1,2,x,4,5,6", r"line 4 is '1,2,x,4,5,6', field 3 \('x'\) is not a number"),
        (b"", r"line 4 is '', an empty line"),
    ],
)
def test_a_bad_feature_row_is_an_error_naming_file_line_and_value(tmp_path, text, message):
    # A NaN or a short row used to load as NaN features, without an error.
    arrays = tiny(tmp_path)
    replace_line(arrays["dir"] / "raw" / "node-feat.csv.gz", 4, text)
    with pytest.raises(ValueError, match=r"ogbn-arxiv: raw/node-feat.csv.gz in .*, " + message):
        load(tmp_path)
    assert not list((tmp_path / "cache").rglob("*.pt"))  # nothing cached


@pytest.mark.parametrize(
    "text, message",
    [
        (b"3.5", r"line 8 is '3.5', field 1 \('3.5'\) is not an integer \(a label is one of"),
        (b"", r"line 8 is '', an empty line"),
        (b"nan", r"line 8 is 'nan', field 1 \('nan'\) is not a finite number .*labels every"),
        (b"3,4", r"line 8 is '3,4', 2 fields where 1 is expected"),
        (b"three", r"line 8 is 'three', field 1 \('three'\) is not a number"),
    ],
)
def test_a_label_that_is_not_an_integer_is_an_error(tmp_path, text, message):
    # A label 3.5 used to be loaded as 3.
    arrays = tiny(tmp_path)
    replace_line(arrays["dir"] / "raw" / "node-label.csv.gz", 8, text)
    with pytest.raises(ValueError, match=r"ogbn-arxiv: raw/node-label.csv.gz in .*, " + message):
        load(tmp_path)


def test_integral_numbers_written_with_a_point_are_still_accepted(tmp_path):
    # "3.0" is the integer 3 (ogb reads it so): only a fractional part is refused.
    arrays = tiny(tmp_path)
    path = arrays["dir"] / "raw" / "node-label.csv.gz"
    replace_line(path, 8, b"%d.0" % int(arrays["y"][7, 0]))
    data, _ = load(tmp_path)
    assert torch.equal(data.y, torch.from_numpy(arrays["y"]).view(-1))


@pytest.mark.parametrize(
    "file, line, text, message",
    [
        ("raw/edge.csv.gz", 4, b"3.5,2", r"line 4 is '3.5,2', field 1 \('3.5'\) is not an integer"),
        ("split/time/valid.csv.gz", 2, b"2.5", r"line 2 is '2.5', field 1 \('2.5'\) is not an"),
        ("raw/node_year.csv.gz", 5, b"inf", r"line 5 is 'inf', field 1 \('inf'\) is not a finite"),
    ],
)
def test_non_integers_in_id_tables_are_an_error(tmp_path, file, line, text, message):
    # ogb casts edge ends and split ids to int64: 3.5 would silently become node 3.
    arrays = tiny(tmp_path)
    replace_line(arrays["dir"] / file, line, text)
    with pytest.raises(ValueError, match=rf"ogbn-arxiv: {file} in .*, {message}"):
        load(tmp_path)


@pytest.mark.parametrize("bad", [40, -3])
def test_labels_outside_the_classes_name_the_line(tmp_path, bad):
    arrays = tiny(tmp_path)
    replace_line(arrays["dir"] / "raw" / "node-label.csv.gz", 8, str(bad).encode())
    with pytest.raises(ValueError, match=rf"label {bad} at node 7 \(line 8\), outside the 40"):
        load(tmp_path)


def test_clean_files_give_the_same_graph_as_before(tmp_path):
    arrays = tiny(tmp_path)
    data, classes = load(tmp_path)
    assert classes == 40
    assert torch.equal(data.x, torch.from_numpy(arrays["x"]))
    assert torch.equal(data.y, torch.from_numpy(arrays["y"]).view(-1))
    assert torch.equal(data.edge_index, torch.from_numpy(arrays["edge"]).t())


# --- D3: corrupt files ----------------------------------------------------------------


@pytest.mark.parametrize(
    "file",
    [
        "raw/edge.csv.gz",
        "raw/node-feat.csv.gz",
        "raw/num-node-list.csv.gz",
        "split/time/test.csv.gz",
    ],
)
def test_a_truncated_gzip_file_is_an_error_naming_it(tmp_path, file):
    # used to be a bare EOFError from gzip, naming neither the file nor the dataset
    arrays = tiny(tmp_path)
    path = arrays["dir"] / file
    # uncompressed (stored) blocks: half of the file is a truncated stream with some lines
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data, compresslevel=0)[: len(data) // 2 + 20])
    with pytest.raises(ValueError, match=rf"ogbn-arxiv: {file} in .*, not a complete gzip") as e:
        load(tmp_path)
    assert isinstance(e.value.__cause__, EOFError)


def test_a_file_that_is_not_gzip_is_an_error_naming_it(tmp_path):
    arrays = tiny(tmp_path)
    path = arrays["dir"] / "raw" / "edge.csv.gz"
    path.write_bytes(gzip.decompress(path.read_bytes()))  # plain text under a .gz name
    with pytest.raises(ValueError, match=r"ogbn-arxiv: raw/edge.csv.gz in .*, not a gzip") as e:
        load(tmp_path)
    assert isinstance(e.value.__cause__, gzip.BadGzipFile)


def test_damaged_compressed_data_is_an_error_naming_the_file(tmp_path):
    arrays = tiny(tmp_path)
    path = arrays["dir"] / "raw" / "node-feat.csv.gz"
    raw = bytearray(path.read_bytes())
    raw[30:60] = b"\xff" * 30  # inside the deflate stream
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"ogbn-arxiv: raw/node-feat.csv.gz in .*gzip") as e:
        load(tmp_path)
    assert isinstance(e.value.__cause__, (zlib.error, gzip.BadGzipFile, EOFError))


@pytest.mark.parametrize(
    "line, text, message",
    [
        (4, b"foo,3", r"line 4 is 'foo,3', field 1 \('foo'\) is not a number"),
        (4, b"1,2,3", r"line 4 is '1,2,3', 3 fields where 2 are expected"),
        (1, b"1,2,3", r"line 1 is '1,2,3', 3 fields where 2 are expected"),
        (4, b"7", r"line 4 is '7', 1 field where 2 are expected"),
    ],
)
def test_a_malformed_edge_row_is_an_error_naming_file_and_line(tmp_path, line, text, message):
    # used to be ValueError("invalid literal for int() ...") or pandas' ParserError
    arrays = tiny(tmp_path)
    replace_line(arrays["dir"] / "raw" / "edge.csv.gz", line, text)
    with pytest.raises(ValueError, match=r"ogbn-arxiv: raw/edge.csv.gz in .*, " + message):
        load(tmp_path)


def test_a_parser_error_is_chained(tmp_path):
    arrays = tiny(tmp_path)
    replace_line(arrays["dir"] / "raw" / "edge.csv.gz", 4, b"1,2,3")
    with pytest.raises(ValueError, match="line 4") as e:
        load(tmp_path)
    assert isinstance(e.value.__cause__, pd.errors.ParserError)


def test_a_malformed_count_file_is_an_error_naming_it(tmp_path):
    arrays = tiny(tmp_path)
    replace_line(arrays["dir"] / "raw" / "num-edge-list.csv.gz", 1, b"many")
    with pytest.raises(
        ValueError, match=r"raw/num-edge-list.csv.gz in .*, line 1 is 'many', field 1"
    ):
        load(tmp_path)


def test_an_empty_table_is_an_error_naming_it(tmp_path):
    arrays = tiny(tmp_path)
    path = arrays["dir"] / "split" / "time" / "valid.csv.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(ValueError, match=r"split/time/valid.csv.gz in .*, no rows"):
        load(tmp_path)


def test_an_entry_cached_before_the_checks_is_not_reused(tmp_path, monkeypatch):
    # An entry that format 2 built from a NaN feature row must not be served by format 3.
    import contextlib

    import spikegraph.datasets.ogb as ogb_module

    arrays = tiny(tmp_path)
    replace_line(arrays["dir"] / "raw" / "node-feat.csv.gz", 4, b",".join([b"nan"] * 6))
    with monkeypatch.context() as old:  # the loader as it was: format 2, no table checks
        old.setattr(ogb_module, "FORMAT_VERSION", "2")
        old.setattr(ogb_module, "_checked_reads", lambda *a: contextlib.nullcontext())
        old.setattr(ogb_module, "read_table", lambda path, **k: pd.read_csv(path, header=None))
        data, _ = load(tmp_path)
        assert int(data.x.isnan().sum()) == 6
    assert len(list((tmp_path / "cache").rglob("*.pt"))) == 1
    with pytest.raises(ValueError, match=r"node-feat.csv.gz in .*, line 4 is 'nan,"):
        load(tmp_path)


def test_products_rows_are_checked_too(tmp_path):
    arrays = tiny(tmp_path, "ogbn-products")
    replace_line(arrays["dir"] / "raw" / "node-feat.csv.gz", 2, b"1,2,3,4,5")
    with pytest.raises(ValueError, match=r"ogbn-products: raw/node-feat.csv.gz .*, line 2"):
        load(tmp_path, "ogbn-products")
