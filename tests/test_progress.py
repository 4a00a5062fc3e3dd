"""Progress bars: shown on a terminal when enabled, never on a pipe or with --no-progress."""

from __future__ import annotations

import io

from spikegraph._progress import Stages, bar_disable, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def drawn(enabled: bool, stream: io.StringIO) -> str:
    for _ in progress_bar(range(3), enabled=enabled, file=stream, desc="work"):
        pass
    return stream.getvalue()


def test_bar_on_a_terminal_only_and_only_when_enabled():
    assert bar_disable(True) is None and bar_disable(False) is True
    assert "work" in drawn(True, Terminal())
    assert drawn(True, io.StringIO()) == ""  # not a terminal: no bar
    assert drawn(False, Terminal()) == ""


def test_stages_name_the_stage_running():
    stream = Terminal()
    stages = Stages("load", ["a", "b"], enabled=True, file=stream)
    with stages, stages.stage("hash files"):
        pass
    assert stages.bar.n == 1 and "hash files" in stream.getvalue()
