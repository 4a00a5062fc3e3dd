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
