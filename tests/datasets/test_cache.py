"""Content-keyed caches: keys, atomic writes, checked reads."""

import os

import pytest
import torch

from spikegraph.datasets import cache
from spikegraph.datasets.cache import (
    atomic_torch_save,
    cache_lock,
    content_key,
    load_tensors,
    save_tensors,
    sha256_bytes,
    sha256_file,
    tensors_digest,
)


def test_keys_are_unambiguous_and_content_based(tmp_path):
    assert content_key([("ab", "c")]) != content_key([("a", "bc")])
    assert content_key([("a", "1"), ("b", "2")]) != content_key([("b", "2"), ("a", "1")])
    f = tmp_path / "f"
    f.write_bytes(b"x" * 3_000_000)  # several read chunks
    assert sha256_file(f, chunk=1 << 20) == sha256_bytes(f.read_bytes())


def test_digest_sees_dtype_shape_and_values():
    a = torch.arange(6, dtype=torch.float32)
    base = tensors_digest({"a": a})
    assert tensors_digest({"a": a.clone()}) == base
    assert tensors_digest({"a": a.view(2, 3)}) != base
    assert tensors_digest({"a": a.to(torch.float64)}) != base
    assert tensors_digest({"b": a}) != base
    b = a.clone()
    b[5] = 5.5
    assert tensors_digest({"a": b}) != base
    assert tensors_digest({"m": torch.tensor(True), "e": torch.zeros(0)})  # 0-d and empty


def test_round_trip_and_wrong_key(tmp_path):
    path = tmp_path / "e.pt"
    tensors = {"x": torch.randn(4, 3), "mask": torch.tensor([True, False, True, True])}
    save_tensors(path, "k1", tensors)
    out = load_tensors(path, "k1")
    assert out.keys() == tensors.keys() and all(torch.equal(out[k], tensors[k]) for k in out)
    assert load_tensors(path, "k2") is None
    assert load_tensors(tmp_path / "missing.pt", "k1") is None


@pytest.mark.parametrize(
    "payload",
    [[1, 2], {"key": "k", "tensors": {"x": [1.0]}, "sha256": ""}, {"key": "k"}],
)
def test_entries_of_the_wrong_shape_are_ignored(tmp_path, payload):
    path = tmp_path / "e.pt"
    torch.save(payload, path)
    assert load_tensors(path, "k") is None


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "e.pt"
    save_tensors(path, "old", {"x": torch.ones(3)})
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(cache.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_torch_save({"x": 1}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["e.pt"]


def test_lock_is_exclusive_between_holders(tmp_path):
    from filelock import FileLock, Timeout

    lock_path = tmp_path / "sub" / ".lock"
    with cache_lock(lock_path), pytest.raises(Timeout):
        FileLock(str(lock_path)).acquire(timeout=0.05)
    other = FileLock(str(lock_path))
    other.acquire(timeout=0.05)  # released on leaving the block
    other.release()
