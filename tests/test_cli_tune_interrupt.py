"""Ctrl-C during ``spikegraph tune`` is one line: Optuna's record of the trial it failed (a
warning with the KeyboardInterrupt's traceback) is dropped, its other warnings are kept
(audit of the command line, D6)."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spikegraph.train.trainer import TrainingInterrupted

optuna = pytest.importorskip("optuna")

from spikegraph.cli import InterruptedTrialFilter, quiet_interrupted_trials  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _record(message: str, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise error
        except BaseException:
            exc_info = sys.exc_info()
    return logging.LogRecord(
        "optuna.study._optimize", logging.WARNING, __file__, 1, message, None, exc_info
    )


@pytest.mark.parametrize("error", [KeyboardInterrupt(), TrainingInterrupted("at epoch 3", 3, None)])
def test_the_filter_drops_an_interrupted_trials_records_only(error):
    f = InterruptedTrialFilter()
    failed = "Trial 3 failed with parameters: {'lr': 0.1} because of the following error: "
    assert not f.filter(_record(failed + "KeyboardInterrupt().", error))
    assert not f.filter(_record("Trial 3 failed with value None."))
    # another trial's failure, and a failure by an ordinary error, are kept
    assert f.filter(_record("Trial 4 failed with value None."))
    assert f.filter(_record(failed.replace("3", "5") + "ValueError().", ValueError("x")))
    assert f.filter(_record("Trial 5 failed with value None."))
    assert f.filter(_record("some other optuna warning"))


def test_installed_on_optunas_logger(monkeypatch):
    root = logging.getLogger("optuna")
    optuna.logging.get_logger("optuna.study._optimize")  # optuna's handler exists
    stream = io.StringIO()
    handlers = list(root.handlers)
    assert handlers
    old = [(h, h.setStream(stream)) for h in handlers if isinstance(h, logging.StreamHandler)]
    filters = {h: list(h.filters) for h in handlers}
    try:
        quiet_interrupted_trials()
        quiet_interrupted_trials()  # installed once
        assert all(
            sum(isinstance(f, InterruptedTrialFilter) for f in h.filters) == 1 for h in handlers
        )
        log = optuna.logging.get_logger("optuna.study._optimize")
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            log.warning("Trial 0 failed because of the following error", exc_info=True)
        log.warning("Trial 0 failed with value None.")
        log.warning("Trial 1 failed with value nan.")
        text = stream.getvalue()
        assert "Traceback" not in text and "Trial 0" not in text
        assert "Trial 1 failed with value nan." in text
    finally:
        for h, previous in old:
            h.setStream(previous)
        for h, kept in filters.items():
            h.filters[:] = kept


def test_sigint_during_tune_prints_one_line(data_root, tmp_path):
    """A real Ctrl-C (SIGINT) to a running ``spikegraph tune``: no traceback, one line."""
    db = tmp_path / "tune.db"
    argv = [sys.executable, "-m", "spikegraph.cli", "tune", "--model", "gcn", "--trials", "2"]
    argv += ["--root", str(data_root), "--seeds", "0", "--epochs", "100000"]
    argv += ["--patience", "100000", "--storage", f"sqlite:///{db}"]
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _running_trial(db):  # the first trial is training
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spikegraph: interrupted;"), err


def _running_trial(db: Path) -> bool:
    import sqlite3

    if not db.exists():
        return False
    try:
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT count(*) FROM trials WHERE state = 'RUNNING'").fetchone()
    except sqlite3.Error:
        return False
    return bool(rows and rows[0])
