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
from spikegraph.models import build_model, train_defaults
from spikegraph.train.inference import make_evaluator
from spikegraph.train.trainer import TrainConfig, TrainResult, fit, full_batch_step


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
    sampler: str | None = None
    sampler_options: dict[str, Any] = field(default_factory=dict)
    preprocess_time: float = 0.0
    batches_per_epoch: int = 1
    evaluation: str = "full"
    eval_batch_size: int | None = None

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
    sampler: str | None = None
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
            "sampler": self.sampler,
            "preprocess_time_mean": statistics.fmean(r.preprocess_time for r in self.runs),
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
    sampler: str | None = None,
    sampler_options: dict[str, Any] | None = None,
    batch_size: int | None = None,
    num_workers: int = 0,
    mode: str = "subgraph",
    evaluation: str = "full",
    eval_batch_size: int = 4096,
) -> Summary:
    """Train ``model`` on ``dataset`` once per seed.

    Args:
        dataset: ``"Cora"``, ``"CiteSeer"``, ``"PubMed"``.
        model: ``"sgcn"``, ``"sgat"``, ``"gcn"`` or ``"gat"``.
        seeds: One run per seed (model initialisation, dropout, encoder).
        root: Data root.
        split: ``"public"`` or ``"full"``.
        model_options: Overrides of the model's defaults.
        train_options: Fields of :class:`TrainConfig` (``seed`` is set per run); fields left
            out take the model's :func:`~spikegraph.models.train_defaults`, then
            :class:`TrainConfig`'s defaults.
        sampler: Train on mini-batches of this sampler of :data:`samplers.SAMPLERS`
            (``None``: full-batch); validation and test are scored on the full graph.
        sampler_options: Sampler options (see :func:`~spikegraph.train.minibatch.build_loader`).
        batch_size: Seeds per batch (node-wise samplers).
        num_workers: Loader worker processes.
        mode: ``"subgraph"`` or ``"blocks"`` (see :mod:`spikegraph.train.minibatch`).
        evaluation: How validation and test are scored: ``"full"`` (one full-graph
            forward) or ``"layerwise"`` (:func:`~spikegraph.train.inference.layerwise_predict`,
            the same logits holding one layer's activations at a time).
        eval_batch_size: Target nodes per batch of layer-wise evaluation.

    Returns:
        A :class:`Summary` of the runs.
    """
    evaluate = make_evaluator(evaluation, eval_batch_size)
    data, num_classes = load_dataset(dataset, root=root, split=split)
    # Up-front checks: options that cannot hold for this run, and its memory estimate.
    from spikegraph.models.checks import check_run_options

    check_run_options(
        model, model_options, sampler=sampler, mode=mode, data=data, num_classes=num_classes,
        evaluation=evaluation,
    )  # fmt: skip
    model_options = dict(model_options or {})
    train_options = {**train_defaults(model), **(train_options or {})}
    runs = []
    for seed in seeds:
        torch.manual_seed(seed)
        net = build_model(model, data.num_features, num_classes, **model_options)
        config = TrainConfig(**{**train_options, "seed": seed})
        step, setup = full_batch_step, None
        if sampler is not None:
            from spikegraph.train.minibatch import build_loader, minibatch_step

            setup = build_loader(
                sampler,
                data,
                num_layers=getattr(net, "num_layers", 2),
                batch_size=batch_size,
                options=sampler_options,
                num_workers=num_workers,
                seed=seed,
            )
            step = minibatch_step(setup.loader, mode=mode)
        result = fit(net, data, config, train_step=step, evaluate=evaluate)
        runs.append(
            RunRecord(
                dataset=dataset,
                model=model,
                seed=seed,
                split=split,
                model_options=model_options,
                num_parameters=sum(p.numel() for p in net.parameters()),
                result=result,
                sampler=sampler,
                sampler_options={} if setup is None else setup.options,
                preprocess_time=0.0 if setup is None else setup.preprocess_time,
                batches_per_epoch=1 if setup is None else len(setup.loader),
                evaluation=evaluation,
                eval_batch_size=eval_batch_size if evaluation == "layerwise" else None,
            )
        )
    return Summary(
        dataset=dataset,
        model=model,
        runs=runs,
        sampler=sampler,
        machine=machine_info(),
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
