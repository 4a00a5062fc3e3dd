"""spikegraph._memory: the peak and current resident memory records report."""

from __future__ import annotations

import pytest

from spikegraph._memory import current_rss_mb, peak_rss_mb, reset_peak_rss


def test_the_peak_can_be_reset_to_measure_what_follows():
    if current_rss_mb() is None or not reset_peak_rss():
        pytest.skip("this platform cannot reset the peak resident memory")
    block = bytearray(64 * 2**20)
    block[::4096] = b"\1" * len(block[::4096])  # touch every page: resident
    high = peak_rss_mb()
    del block
    assert high >= current_rss_mb() + 48  # the block's pages were resident at the peak
    assert reset_peak_rss()
    assert peak_rss_mb() < high - 48  # the peak starts again from the current size
    assert peak_rss_mb() >= current_rss_mb() - 1
