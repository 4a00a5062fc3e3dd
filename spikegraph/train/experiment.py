"""Run a node-classification experiment by name: dataset, model, seeds -> records."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import torch

from spikegraph.datasets import load_dataset
from spikegraph.models import build_model
from spikegraph.train.trainer import TrainConfig, TrainResult, fit


@dataclass
class RunRecord:
    """One trained model: what was run and what it scored."""

    dataset: str
    model: str
    seed: int
    split: str
    model_options: dict[str, Any]
    num_parameters: int
    result: TrainResult

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["result"] = self.result.to_dict()
        return out


@dataclass
class Summary:
    """Several seeds of one configuration, with means and standard deviations."""

    dataset: str
    model: str
    runs: list[RunRecord]
    machine: dict[str, Any] = field(default_factory=dict)
    date: str = ""

    def stat(self, key: str) -> tuple[float, float]:
        vals = [getattr(r.result, key) for r in self.runs]
        return statistics.fmean(vals), statistics.pstdev(vals) if len(vals) > 1 else 0.0

    def firing_rates(self) -> dict[str, float]:
        layers = self.runs[0].result.firing_rates.keys()
        return {k: statistics.fmean(r.result.firing_rates[k] for r in self.runs) for k in layers}

    def to_dict(self) -> dict[str, Any]:
        mean, std = self.stat("test_acc")
        return {
            "dataset": self.dataset,
            "model": self.model,
            "test_acc_mean": mean,
            "test_acc_std": std,
            "time_per_epoch_mean": self.stat("time_per_epoch")[0],
            "firing_rates": self.firing_rates(),
            "machine": self.machine,
            "date": self.date,
            "runs": [r.to_dict() for r in self.runs],
        }


def machine_info() -> dict[str, Any]:
    """Where a result was measured."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def run_node_classification(
    dataset: str,
    model: str,
    seeds: list[int] | tuple[int, ...] = (0,),
    root: str | None = None,
    split: str = "public",
    model_options: dict[str, Any] | None = None,
    train_options: dict[str, Any] | None = None,
) -> Summary:
    """Train ``model`` on ``dataset`` once per seed.

    Args:
        dataset: ``"Cora"``, ``"CiteSeer"``, ``"PubMed"``.
        model: ``"sgcn"``, ``"sgat"``, ``"gcn"`` or ``"gat"``.
        seeds: One run per seed (model initialisation, dropout, encoder).
        root: Data root.
        split: ``"public"`` or ``"full"``.
        model_options: Overrides of the model's defaults.
        train_options: Fields of :class:`TrainConfig` (``seed`` is set per run).

    Returns:
        A :class:`Summary` of the runs.
    """
    data, num_classes = load_dataset(dataset, root=root, split=split)
    model_options = dict(model_options or {})
    runs = []
    for seed in seeds:
        torch.manual_seed(seed)
        net = build_model(model, data.num_features, num_classes, **model_options)
        config = TrainConfig(**{**(train_options or {}), "seed": seed})
        result = fit(net, data, config)
        runs.append(
            RunRecord(
                dataset=dataset,
                model=model,
                seed=seed,
                split=split,
                model_options=model_options,
                num_parameters=sum(p.numel() for p in net.parameters()),
                result=result,
            )
        )
    return Summary(
        dataset=dataset,
        model=model,
        runs=runs,
        machine=machine_info(),
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
