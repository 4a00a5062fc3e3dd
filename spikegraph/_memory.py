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


def current_rss_mb() -> float | None:
    """Resident set size of this process now, in MiB (``VmRSS`` of ``/proc/self/status``);
    ``None`` where the platform does not say."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak resident set size to its current size, so that
    :func:`peak_rss_bytes` then reports the peak of what follows (Linux: writing ``5`` to
    ``/proc/self/clear_refs``, which resets both ``VmHWM`` and ``ru_maxrss``). Returns
    whether it was reset; elsewhere the peak keeps counting from the process's start."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


__all__ = ["current_rss_mb", "peak_rss_bytes", "peak_rss_mb", "reset_peak_rss"]
