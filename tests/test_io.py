"""Atomic writes (spikegraph._io): the new file's permissions follow the umask, as a file
``open()`` creates does, and a failed write leaves the old file."""

from __future__ import annotations

import os

import pytest

from spikegraph._io import atomic_write


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_get_the_umasks_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "a.bin", lambda f: f.write(b"x"))
        with open(tmp_path / "b.bin", "wb") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    mode = (tmp_path / "a.bin").stat().st_mode & 0o777
    assert mode == (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_replaced_file_keeps_the_new_files_permissions_not_a_temporarys(tmp_path):
    target = tmp_path / "c.bin"
    atomic_write(target, lambda f: f.write(b"1"))
    atomic_write(target, lambda f: f.write(b"2"))
    assert target.read_bytes() == b"2"
    assert target.stat().st_mode & 0o777 == 0o666 & ~_current_umask()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "d.bin"
    atomic_write(target, lambda f: f.write(b"old"))

    def fail(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.bin"]


def test_a_ctrl_c_during_a_write_lands_after_it(tmp_path):
    """A Ctrl-C inside ``torch.save`` (a checkpoint being written) broke its zip writer,
    which raised ``RuntimeError: ... unexpected pos`` instead of the interrupt: the CLI said
    "an unexpected error", exit 1 (seen in CI's SIGINT test). The interrupt now waits for
    the write to finish: the new file is complete, then ``KeyboardInterrupt`` is raised."""
    import signal

    import torch

    path = tmp_path / "ck.pt"
    big = {"w": torch.arange(200_000, dtype=torch.float64)}

    def write(f):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while writing
        torch.save(big, f)

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, write)
    assert torch.equal(torch.load(path, weights_only=True)["w"], big["w"])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_a_second_ctrl_c_stops_the_write_at_once(tmp_path):
    """The first Ctrl-C waits for the write; a second one stops it (a long write can still
    be abandoned), leaving the old file and no temporary."""
    import signal

    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def write(f):
        os.kill(os.getpid(), signal.SIGINT)
        f.write(b"new")
        os.kill(os.getpid(), signal.SIGINT)
        f.write(b"never")

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, write)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
