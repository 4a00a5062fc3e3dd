"""The restricted unpickler: numpy / scipy CSR / list / defaultdict only, nothing runs."""

import collections
import os
import pickle

import numpy as np
import pytest
import scipy.sparse

from spikegraph.datasets.safe_pickle import (
    ARRAY_GLOBALS,
    RefusedGlobalError,
    restricted_loads,
)


class Reduce:
    """Pickles as ``func(*args)``: what a crafted file uses to run code on load."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_arrays_csr_and_adjacency_round_trip(protocol):
    dense = np.arange(12, dtype=np.float32).reshape(3, 4)
    labels = np.eye(3, dtype=np.int32)
    csr = scipy.sparse.csr_matrix(dense)
    graph = collections.defaultdict(list, {0: [1, 2], 2: [0]})
    out = restricted_loads(pickle.dumps((dense, labels, csr, graph), protocol=protocol))
    assert np.array_equal(out[0], dense) and out[0].dtype == np.float32
    assert np.array_equal(out[1], labels) and out[1].dtype == np.int32
    assert scipy.sparse.issparse(out[2]) and np.array_equal(out[2].toarray(), dense)
    assert isinstance(out[3], collections.defaultdict) and out[3] == graph


@pytest.mark.parametrize(
    ("func", "args", "refused"),
    [
        (os.system, ("true",), f"{os.system.__module__}.system"),
        (eval, ("1 + 1",), "__builtin__.eval"),  # protocol 2 writes Python 2 names
        (getattr, (np.ndarray, "tofile"), "__builtin__.getattr"),
        (np.load, ("nothing.npy",), "numpy.load"),
    ],
)
def test_globals_off_the_list_are_refused_before_anything_runs(tmp_path, func, args, refused):
    marker = tmp_path / "ran"
    payload = pickle.dumps(Reduce(func, *args), protocol=2)
    with pytest.raises(RefusedGlobalError, match=rf"refused global '{refused}'") as info:
        restricted_loads(payload)
    assert info.value.global_name == refused
    # And the real thing, a shell command, leaves no trace.
    evil = pickle.dumps(Reduce(os.system, f"touch {marker}"), protocol=2)
    with pytest.raises(RefusedGlobalError):
        restricted_loads(evil)
    assert not marker.exists()


def test_refused_inside_an_otherwise_valid_structure(tmp_path):
    marker = tmp_path / "ran"
    graph = {0: [1], 1: [Reduce(os.system, f"touch {marker}")]}
    with pytest.raises(RefusedGlobalError, match="system"):
        restricted_loads(pickle.dumps(graph, protocol=2))
    assert not marker.exists()


def test_codecs_encode_only_latin1():
    ok = pickle.dumps(b"\x00\xff", protocol=2)  # Python 3 bytes at protocol 2
    assert restricted_loads(ok) == b"\x00\xff"
    zlib = pickle.dumps(Reduce(__import__("codecs").encode, b"x", "zlib_codec"), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=r"only latin-1 encoding of a str"):
        restricted_loads(zlib)


def test_truncated_and_trailing_bytes():
    data = pickle.dumps(np.ones((50, 50)), protocol=2)
    with pytest.raises((pickle.UnpicklingError, EOFError)):
        restricted_loads(data[: len(data) // 2])
    with pytest.raises(pickle.UnpicklingError, match=r"3 unexpected bytes after the end"):
        restricted_loads(data + b"abc")


def test_persistent_ids_are_refused():
    class Persist(pickle.Pickler):
        def persistent_id(self, obj):
            return "id" if obj == "x" else None

    import io

    buf = io.BytesIO()
    Persist(buf, protocol=2).dump(["x"])
    with pytest.raises(pickle.UnpicklingError, match="persistent"):
        restricted_loads(buf.getvalue())


def test_allow_list_holds_only_data_types():
    from spikegraph.datasets import safe_pickle

    allowed = {id(v) for v in ARRAY_GLOBALS.values()}
    expected = [
        np.ndarray,
        np.dtype,
        safe_pickle._reconstruct,
        safe_pickle._frombuffer,
        scipy.sparse.csr_matrix,
        list,
        collections.defaultdict,
        safe_pickle._latin1_encode,
    ]
    assert allowed == {id(v) for v in expected}
