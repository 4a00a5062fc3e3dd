"""spikegraph._memory: the peak and current resident memory records report."""

from __future__ import annotations

import gc
import mmap

import pytest

from spikegraph._memory import current_rss_mb, peak_rss_mb, reset_peak_rss


def test_the_peak_can_be_reset_to_measure_what_follows():
    if current_rss_mb() is None or not reset_peak_rss():
        pytest.skip("this platform cannot reset the peak resident memory")
    # From a reset, so that an earlier, higher peak of this process cannot hide the block.
    # The block is an anonymous mapping, not a heap allocation: its pages come fresh from the
    # kernel, where malloc could hand back pages an earlier test freed that are still
    # resident (in a long-lived test worker the resident size then does not grow). The
    # garbage collector is held off so that no collection frees memory meanwhile.
    gc.collect()
    gc.disable()
    try:
        assert reset_peak_rss()
        before = current_rss_mb()
        block = mmap.mmap(-1, 64 * 2**20)
        for offset in range(0, len(block), mmap.PAGESIZE):  # touch every page: resident
            block[offset] = 1
        high = peak_rss_mb()
        block.close()
    finally:
        gc.enable()
    assert high >= before + 48  # the block's pages were resident at the peak
    assert reset_peak_rss()
    now = current_rss_mb()
    assert now - 1 <= peak_rss_mb() <= now + 8  # the peak starts again from the current size


#: Run in a fresh interpreter that loads spikegraph/_memory.py alone (it imports only the
#: standard library), so that the process's peak is its small start-up size, not the
#: hundreds of MiB torch and earlier tests leave behind, which a block could not raise. It is
#: a grandchild of the test process: Linux keeps a process's ru_maxrss across exec from the
#: memory of the process it was forked from, so a direct child starts with this large
#: process's peak (and clear_refs does not lower it); a child of a small interpreter does not.
_FRESH_PEAK = """
import importlib.util, mmap, sys
spec = importlib.util.spec_from_file_location("_memory", sys.argv[1])
memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory)

def hwm_bytes():  # the kernel's own peak: VmHWM of /proc/self/status, in kB
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))

start = memory.peak_rss_bytes()
before = memory.current_rss_mb()
block = mmap.mmap(-1, 256 * 2**20)
for offset in range(0, len(block), mmap.PAGESIZE):  # touch every page: resident
    block[offset] = 1
block.close()  # unmapped: its pages leave the resident set, not the peak
print(start, before, memory.peak_rss_bytes(), memory.peak_rss_mb(), hwm_bytes(),
      memory.current_rss_mb())
"""


def test_a_large_block_raises_the_peak_by_most_of_its_size():
    import subprocess
    import sys
    from pathlib import Path

    import spikegraph._memory

    if not Path("/proc/self/status").exists():
        pytest.skip("the kernel's peak (VmHWM) is read from /proc on Linux")
    relay = "import subprocess, sys; subprocess.run(sys.argv[1:], check=True)"
    inner = [sys.executable, "-S", "-c", _FRESH_PEAK, spikegraph._memory.__file__]
    out = subprocess.run(
        [sys.executable, "-S", "-c", relay, *inner],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    start, peak, hwm = int(out[0]), int(out[2]), int(out[4])
    before, peak_mb, after = float(out[1]) * 2**20, float(out[3]), float(out[5]) * 2**20
    block = 256 * 2**20
    assert 0 < start < block  # a fresh interpreter's peak: far below the block
    # the block's pages were all resident at once: the peak grew by at least most of it,
    # and stayed there after the block was gone (a peak, not the current size)
    assert peak >= before + 0.9 * block
    assert after < before + 0.25 * block < peak
    # in bytes and MiB alike, as the kernel counts it (VmHWM, read just after)
    assert peak_mb * 2**20 == peak
    assert abs(peak - hwm) <= 4 * 2**20


def test_a_child_of_a_large_process_reports_its_own_peak():
    """On Linux ``ru_maxrss`` keeps, across ``exec``, the size of the process that started
    it, and ``clear_refs`` does not lower that floor: a study cell or benchmark step started
    by a large parent reported the parent's size as its own peak, even after
    ``reset_peak_rss()``. The peak is the process's own high-water mark (``VmHWM``)."""
    import subprocess
    import sys

    if current_rss_mb() is None:
        pytest.skip("this platform does not report the resident memory")
    parent = (
        "import mmap, subprocess, sys\n"
        "block = mmap.mmap(-1, 512 * 2**20)\n"
        "for offset in range(0, len(block), mmap.PAGESIZE):\n"
        "    block[offset] = 1\n"
        "child = ('from spikegraph._memory import peak_rss_mb, reset_peak_rss; "
        "reset_peak_rss(); print(peak_rss_mb())')\n"
        "out = subprocess.run([sys.executable, '-c', child], capture_output=True, text=True)\n"
        "print(out.stdout.strip() or out.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True)
    child_peak = float(out.stdout.strip().splitlines()[-1])
    assert child_peak < 256, f"the child reported a peak of {child_peak:.0f} MiB"
