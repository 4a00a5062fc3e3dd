"""One small sampler study shared by the study's tests (computed once per session), and
how to compare two studies' numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spikegraph.experiments.study import StudyBudget, run_sampler_study

#: The shared study: two models (ordinary and spiking), two samplers of two families (and
#: full-batch), two seeds, two epochs; small sizes so that every cell takes a fraction of a
#: second.
BUDGET = StudyBudget(
    epochs=2, batch_size=64, measure_batches=2, gradient_batches=4, budget_multiples=(1.0, 2.0)
)
ARGS: dict[str, Any] = {
    "dataset": "ogbn-arxiv",
    "models": ["gcn", "sgcn"],
    "samplers": ["graphsage", "cluster-gcn"],
    "seeds": [0, 1],
}
OPTIONS: dict[str, Any] = {
    "budget": BUDGET,
    "model_options": {"gcn": {"hidden_channels": 16}, "sgcn": {"hidden_channels": 16, "T": 4}},
    "sampler_options": {"cluster-gcn": {"num_parts": 8, "clusters_per_batch": 2}},
}


def study_args(root: Path, out: Path, **changes: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`run_sampler_study` for the shared configuration."""
    return {**ARGS, **OPTIONS, "out": out, "root": root, **changes}


@pytest.fixture(scope="session")
def shared_study(tiny_arxiv_root, tmp_path_factory):
    """``(result, folder)`` of the shared study (plots included). Tests copy the folder
    before changing anything in it."""
    out = tmp_path_factory.mktemp("study") / "out"
    return run_sampler_study(**study_args(tiny_arxiv_root, out)), out


TIMING = {
    "time_per_epoch",
    "sample_time_per_epoch",
    "sampling_share",
    "preprocess_time",
    "preprocess_cached",  # whether the cache was hit depends on which run came first
    "inference_time",
    "peak_rss_mb",
    "start_rss_mb",
    "peak_rss_reset",
}


def deterministic(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's numbers that do not depend on the machine's speed or load (timings and
    memory left out): what two runs of the same cell must agree on exactly."""
    metrics = {k: v for k, v in cell["metrics"].items() if k not in TIMING}
    curve = [{k: v for k, v in e.items() if k != "time"} for e in cell["curve"]]
    return {"id": cell["id"], "key": cell["key"], "metrics": metrics, "curve": curve}


def deterministic_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary rows without timings and memory."""
    skip = {
        "time_per_epoch_mean",
        "time_per_epoch_std",
        "sampling_share_mean",
        "preprocess_time_mean",
        "preprocess_cached",
        "peak_rss_mb_max",
    }
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k not in skip}
        row["curve"] = {k: v for k, v in row["curve"].items() if k != "time_mean"}
        out.append(row)
    return out
