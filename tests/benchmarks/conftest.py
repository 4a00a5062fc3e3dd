"""Fixtures of the benchmark tests: the scripts as modules, a copy of the committed results
standing in for them, fake training, and a deadline so that a hang fails instead of waiting."""

from __future__ import annotations

import importlib
import shutil
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
SCRIPTS = (
    "node_classification",
    "speed",
    "energy",
    "cost_overhead",
    "samplers_accuracy",
    "samplers_speed",
)


def load(name: str):
    """A benchmark script (or ``_common``) as a module."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (the scratch folder aside) and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "local" not in p.relative_to(folder).parts
    }


@contextmanager
def deadline(seconds: int):
    """Raise ``TimeoutError`` in the main thread after ``seconds``: a hang fails the test."""

    def alarm(*_):
        raise TimeoutError(f"no answer within {seconds} s: the benchmark hangs")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def results_copy(tmp_path, monkeypatch) -> Path:
    """A copy of ``benchmarks/results/`` that every script takes for the committed results."""
    copy = tmp_path / "results"
    shutil.copytree(BENCH / "results", copy, ignore=shutil.ignore_patterns("local", "quick"))
    common = load("_common")
    monkeypatch.setattr(common, "RESULTS", copy)
    monkeypatch.setattr(common, "SCRATCH", copy / "local", raising=False)
    for name in SCRIPTS:
        monkeypatch.setattr(load(name), "RESULTS", copy, raising=False)
    return copy


def fake_child(job, queue):
    """Stands in for node_classification's training child: one made-up run per seed."""
    for seed in job["seeds"]:
        queue.put(
            {
                "key": job["key"],
                "seed": seed,
                "dataset": job["dataset"],
                "model": job["model"],
                "model_options": job["model_options"],
                "train_options": job["train_options"],
                "result": {
                    "test_acc": 0.5 + seed / 100,
                    "time_per_epoch": 0.01,
                    "firing_rates": {},
                },
                "peak_rss_mb": 100.0,
                "base_rss_mb": 90.0,
                "num_parameters": 10,
                "energy": {"energy_per_node_pj": 1e3, "profile": "45nm", "profile_source": "test"},
                "energy_event": {"energy_per_node_pj": 9e2},
            }
        )


@pytest.fixture
def fake_training(monkeypatch):
    """node_classification trains through :func:`fake_child` in a forked child (fast)."""
    nc = load("node_classification")
    monkeypatch.setattr(nc, "_child", fake_child)
    monkeypatch.setattr(nc, "MP_CONTEXT", "fork", raising=False)
    return nc
