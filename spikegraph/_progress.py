"""Progress bars for long steps (loading, preprocessing, epochs, layer-wise evaluation).

One rule for every bar spikegraph shows: ``enabled=False`` (``--no-progress``) hides it, and
so does an output that is not a terminal (a log file, a pipe, CI), where a bar is only noise;
``tqdm``'s ``disable=None`` makes that check on the stream the bar writes to (stderr).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tqdm.auto import tqdm


def bar_disable(enabled: bool) -> bool | None:
    """``tqdm``'s ``disable`` for a bar that is ``enabled``: ``None`` (shown on a terminal
    only) when enabled, ``True`` when not."""
    return None if enabled else True


def progress_bar(iterable: Iterable[Any] | None = None, *, enabled: bool = True, **kwargs: Any):
    """A ``tqdm`` bar over ``iterable`` (or a manual one with ``total=``), shown only when
    ``enabled`` and writing to a terminal; ``leave=False`` unless given."""
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=bar_disable(enabled), **kwargs)


class Stages:
    """A bar over the named stages of one step (``"hash files"``, ``"process with ogb"``...):
    :meth:`stage` names the stage running, the bar advances when it ends."""

    def __init__(
        self, desc: str, stages: Sequence[str], enabled: bool = True, **kwargs: Any
    ) -> None:
        self.bar = progress_bar(
            total=len(stages), desc=desc, enabled=enabled, unit="stage", **kwargs
        )

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.bar.set_postfix_str(name)
        yield
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Stages", "bar_disable", "progress_bar"]
