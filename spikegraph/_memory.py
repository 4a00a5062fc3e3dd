"""Peak memory of this process, as records report it."""

from __future__ import annotations

import resource
import sys


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes: its high-water mark
    (``VmHWM`` of ``/proc/self/status``) where the platform reports one, else
    ``getrusage``'s ``ru_maxrss`` (kilobytes on Linux, bytes on macOS). Memory-mapped pages
    that were read count while they were resident; worker processes are not included.

    Not ``ru_maxrss`` on Linux: it keeps, across ``exec``, the size of the process that
    started this one, and :func:`reset_peak_rss` does not lower that floor, so a small
    process started by a large one would report the large one's size as its peak.
    """
    hwm = _status_kib("VmHWM:")
    if hwm is not None:
        return hwm * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _status_kib(field: str) -> int | None:
    """The value in KiB of ``field`` (e.g. ``"VmRSS:"``) of ``/proc/self/status``; ``None``
    where the platform does not say."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_mb() -> float:
    """:func:`peak_rss_bytes` in MiB."""
    return peak_rss_bytes() / 2**20


def current_rss_mb() -> float | None:
    """Resident set size of this process now, in MiB (``VmRSS`` of ``/proc/self/status``);
    ``None`` where the platform does not say."""
    rss = _status_kib("VmRSS:")
    return None if rss is None else rss / 1024


def reset_peak_rss() -> bool:
    """Reset this process's peak resident set size to its current size, so that
    :func:`peak_rss_bytes` then reports the peak of what follows (Linux: writing ``5`` to
    ``/proc/self/clear_refs``, which resets ``VmHWM``; ``ru_maxrss`` keeps a floor, the size
    of the process that started this one, so it is not what the peak reads). Returns
    whether it was reset; elsewhere the peak keeps counting from the process's start."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


__all__ = ["current_rss_mb", "peak_rss_bytes", "peak_rss_mb", "reset_peak_rss"]
