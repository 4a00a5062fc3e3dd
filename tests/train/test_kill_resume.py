"""SIGKILL at a random moment, or in the middle of a checkpoint write, then run again: the
record is exactly the uninterrupted one (full-batch and mini-batch, any ``num_workers``)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.train.kill_child import EPOCHS, run

ROOT = Path(__file__).resolve().parents[2]


def child(mode: str, ckpt: Path, workers: int = 0, crash: str = "none") -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.train.kill_child", mode, str(ckpt), str(workers), crash],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def reference() -> dict:
    return {mode: run(mode, None) for mode in ("full", "mini")}


@pytest.mark.parametrize("mode, workers", [("full", 0), ("mini", 2)])
def test_sigkill_at_a_random_moment_then_rerun(reference, tmp_path, mode, workers):
    rng = random.Random()
    # Epochs announced before the kill. The line of epoch k comes from its training step,
    # after epoch k - 1's checkpoint and before epoch k's: from k = 2 on, one exists.
    kill_after = rng.randint(2, EPOCHS - 10)
    delay = rng.uniform(0, 0.01)
    ckpt = tmp_path / "ck.pt"
    proc = child(mode, ckpt, workers)
    seen = 0
    for line in proc.stdout:
        seen += line.strip() == "epoch"
        if seen == kill_after:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    where = f"(killed after epoch line {kill_after} + {delay * 1000:.1f} ms)"
    assert proc.returncode == -signal.SIGKILL, f"{where}: {proc.stderr.read()[-2000:]}"
    assert ckpt.exists(), where  # checkpoint_every=1: at least one checkpoint was written
    saved = torch.load(ckpt, weights_only=True)
    assert not saved["finished"] and 1 <= saved["state"]["epoch"] < EPOCHS, where
    # "Rerunning the same command": a fresh model and loader, state from the checkpoint.
    assert run(mode, str(ckpt), workers) == reference[mode], where


@pytest.mark.parametrize("mode, crash", [("full", "save:5"), ("mini", "replace:3")])
def test_crash_in_the_middle_of_a_checkpoint_write(reference, tmp_path, mode, crash):
    ckpt = tmp_path / "ck.pt"
    proc = child(mode, ckpt, 0, crash)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 9, err[-2000:]
    k = int(crash.split(":")[1])
    # The previous checkpoint is intact; the half-written one never took its place.
    assert torch.load(ckpt, weights_only=True)["state"]["epoch"] == k - 1
    assert run(mode, str(ckpt)) == reference[mode]
