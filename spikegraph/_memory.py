"""Peak memory of this process, as records report it."""

from __future__ import annotations

import resource
import sys


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes (``getrusage``'s
    ``ru_maxrss``: kilobytes on Linux, bytes on macOS). Memory-mapped pages that were read
    count while they were resident; worker processes are not included."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def peak_rss_mb() -> float:
    """:func:`peak_rss_bytes` in MiB."""
    return peak_rss_bytes() / 2**20


__all__ = ["peak_rss_bytes", "peak_rss_mb"]
