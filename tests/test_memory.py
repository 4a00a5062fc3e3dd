"""spikegraph._memory: the peak and current resident memory records report."""

from __future__ import annotations

import pytest

from spikegraph._memory import current_rss_mb, peak_rss_mb, reset_peak_rss


def test_the_peak_can_be_reset_to_measure_what_follows():
    if current_rss_mb() is None or not reset_peak_rss():
        pytest.skip("this platform cannot reset the peak resident memory")
    # From a reset, so that an earlier, higher peak of this process cannot hide the block.
    assert reset_peak_rss()
    before = current_rss_mb()
    block = bytearray(64 * 2**20)
    block[::4096] = b"\1" * len(block[::4096])  # touch every page: resident
    high = peak_rss_mb()
    assert high >= before + 48  # the block's pages were resident at the peak
    del block  # whether the allocator returns its pages to the system or not
    assert reset_peak_rss()
    now = current_rss_mb()
    assert now - 1 <= peak_rss_mb() <= now + 8  # the peak starts again from the current size
