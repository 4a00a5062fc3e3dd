"""Train (optionally) and count a spiking model beside an ordinary one on a dataset.

This is the library side of ``spikegraph cost`` and of ``benchmarks/energy.py``: it returns
records (dataclasses with ``to_dict``), the command prints them. The energy accounting is the
one spiking-GNN papers do by hand (GC-SNN / GA-SNN, Xu et al., IJCAI 2021), done here from
counted operations (:func:`spikegraph.cost.count`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import torch
from torch import nn
from torch_geometric.data import Data

from spikegraph.config import load_model_config
from spikegraph.cost.counter import count
from spikegraph.cost.energy import EnergyProfile, get_profile
from spikegraph.cost.report import Comparison, Report
from spikegraph.models.options import check_model_option_names
from spikegraph.train.device import resolve_device

log = logging.getLogger(__name__)


def load_tuned_config(
    path: str | os.PathLike | None, model: str, dataset: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Constructor and training options of ``model`` on ``dataset`` from a TOML file
    (:func:`spikegraph.config.load_model_config`: the file is checked whole, an unknown key
    is an error); ``path=None`` gives empty options."""
    return load_model_config(path, model, dataset)


@dataclass
class ModelCost:
    """One model: how well it classifies and what one full-graph inference costs.

    Attributes:
        name: Registry name (``"sgcn"``, ``"gcn"``, ...).
        dataset: Dataset name.
        trained: Whether the model was trained (else freshly initialised).
        test_acc: Test accuracy of the counted weights.
        val_acc: Validation accuracy of the counted weights.
        epochs_run: Epochs trained (0 if untrained).
        model_options: Constructor options given on top of the registry defaults.
        train_options: :class:`~spikegraph.train.TrainConfig` fields used.
        report: Operation counts and energy of one eval-mode forward pass on the full graph.
        model: The counted model (in eval mode), to count again under other settings; not
            serialised.
    """

    name: str
    dataset: str
    trained: bool
    test_acc: float
    val_acc: float
    epochs_run: int
    model_options: dict[str, Any]
    train_options: dict[str, Any]
    report: Report
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "trained": self.trained,
            "test_acc": self.test_acc,
            "val_acc": self.val_acc,
            "epochs_run": self.epochs_run,
            "model_options": self.model_options,
            "train_options": self.train_options,
            "report": self.report.to_dict(),
        }


def model_cost(
    name: str,
    data: Data,
    num_classes: int,
    *,
    dataset: str = "",
    epochs: int | None = None,
    seed: int = 0,
    profile: str | EnergyProfile = "45nm",
    execution: str = "auto",
    fold_norm: bool = False,
    model_options: dict[str, Any] | None = None,
    train_options: dict[str, Any] | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> ModelCost:
    """Build model ``name``, train it (unless ``epochs == 0``), and count one inference.

    Spike counts, hence the cost of a spiking model, depend on its weights: count trained
    models for results, freshly initialised ones only for a quick look.

    Args:
        name: Registry name (see :func:`spikegraph.models.build_model`).
        data: Graph with ``x``, ``edge_index``, ``y`` and the three masks.
        num_classes: Number of classes.
        dataset: Dataset name, for the record.
        epochs: Maximum training epochs; ``0`` counts the untrained model; ``None`` takes
            them from ``train_options`` (or :class:`~spikegraph.train.TrainConfig`).
        seed: Seed of initialisation and training.
        profile: Energy profile.
        execution: ``"auto"``, ``"event"`` or ``"dense"`` (see
            :class:`~spikegraph.cost.Counter`).
        fold_norm: Count normalisation folded for inference.
        model_options: Constructor options over the registry defaults.
        train_options: :class:`~spikegraph.train.TrainConfig` fields.
        progress: Show a training progress bar.
        device: Where to train and count (see :mod:`spikegraph.train.device`); operation
            counts do not depend on it. ``train_options["device"]`` wins if given.

    Raises:
        ValueError: for a bad epoch count, profile, device or unknown model option (before
            any training).
    """
    from spikegraph.models import build_model
    from spikegraph.train import TrainConfig, accuracies, fit, predict
    from spikegraph.train.trainer import data_on

    model_options = dict(model_options or {})
    train_options = dict(train_options or {})
    train_options.setdefault("device", device)
    dev = resolve_device(train_options["device"])
    check_model_option_names(name, model_options)
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"'epochs' must be an int >= 0, got {epochs!r}")
        train_options["epochs"] = epochs
    get_profile(profile)  # fail early on a bad profile, before training
    torch.manual_seed(seed)
    model = build_model(name, data.num_features, num_classes, **model_options)
    trained = train_options.get("epochs", 1) > 0
    epochs_run = 0
    if trained:
        config = TrainConfig(**{**train_options, "seed": seed, "progress": progress})
        # A checkpoint named in the tuned config is tied to this model and dataset.
        run_info = {"model": name, "model_options": model_options, "dataset": dataset}
        result = fit(model, data, config, run_info=run_info)
        test_acc, val_acc, epochs_run = result.test_acc, result.val_acc, result.epochs_run
    else:
        model.to(dev)
        acc = accuracies(predict(model, data_on(data, dev)), data_on(data, dev))
        test_acc, val_acc = acc["test"], acc["val"]
    data = data_on(data, dev)
    model.eval()
    args = [data.x, data.edge_index]
    if "edge_weight" in data and data.edge_weight is not None:
        args.append(data.edge_weight)
    with torch.no_grad():
        report = count(model, *args, execution=execution, fold_norm=fold_norm, profile=profile)
    log.info("%s on %s: test accuracy %.4f", name, dataset, test_acc)
    return ModelCost(
        name=name,
        dataset=dataset,
        trained=trained,
        test_acc=test_acc,
        val_acc=val_acc,
        epochs_run=epochs_run,
        model_options=model_options,
        train_options=train_options,
        report=report,
        model=model,
    )


@dataclass
class CostComparison:
    """A model and (optionally) the one it is compared with, on one dataset."""

    dataset: str
    first: ModelCost
    second: ModelCost | None = None
    comparison: Comparison | None = None
    machine: dict[str, Any] = field(default_factory=dict)
    date: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "first": self.first.to_dict(),
            "second": None if self.second is None else self.second.to_dict(),
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "machine": self.machine,
            "date": self.date,
        }


def cost_comparison(
    dataset: str,
    model: str = "sgcn",
    vs: str | None = "gcn",
    *,
    root: str | os.PathLike | None = None,
    split: str = "public",
    epochs: int | None = None,
    seed: int = 0,
    profile: str | EnergyProfile = "45nm",
    execution: str = "auto",
    fold_norm: bool = False,
    config: str | os.PathLike | None = None,
    model_options: dict[str, Any] | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> CostComparison:
    """Count ``model`` and ``vs`` on ``dataset`` and compare them (``model / vs``).

    Args:
        dataset: Dataset name (see :data:`spikegraph.datasets.DATASETS`).
        model: Registry name of the first model.
        vs: Registry name of the model to compare with, or ``None``.
        root: Data root.
        split: ``"public"`` or ``"full"``.
        epochs: Training epochs (``0``: untrained; ``None``: from the config or the default).
        seed: Seed of initialisation and training.
        profile: Energy profile.
        execution: ``"auto"`` (event-driven for spiking models, dense for the others),
            ``"event"`` or ``"dense"``.
        fold_norm: Count normalisation folded for inference.
        config: TOML file of tuned options (see :func:`load_tuned_config`).
        model_options: Extra constructor options of the first model.
        progress: Show training progress bars.
        device: Where to train and count (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``).

    Raises:
        FileNotFoundError: for a ``config`` that is not a file.
        ValueError: for a bad config, device or model option -- before any data is loaded.
    """
    from spikegraph.datasets import load_dataset
    from spikegraph.experiments.node_classification import machine_info

    resolve_device(device)
    names = [model] if vs is None else [model, vs]
    tuned = []
    for i, name in enumerate(names):
        opts, train = load_tuned_config(config, name, dataset)
        if i == 0 and model_options:
            opts.update(model_options)
        check_model_option_names(name, opts)
        tuned.append((name, opts, train))
    data, num_classes = load_dataset(dataset, root=root, split=split)
    runs = []
    for name, opts, train in tuned:
        runs.append(
            model_cost(
                name,
                data,
                num_classes,
                dataset=dataset,
                epochs=epochs,
                seed=seed,
                profile=profile,
                execution=execution,
                fold_norm=fold_norm,
                model_options=opts,
                train_options=train,
                progress=progress,
                device=device,
            )
        )
    second = runs[1] if len(runs) > 1 else None
    return CostComparison(
        dataset=dataset,
        first=runs[0],
        second=second,
        comparison=None if second is None else runs[0].report.compare(second.report),
        machine=machine_info(),
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


__all__ = ["CostComparison", "ModelCost", "cost_comparison", "load_tuned_config", "model_cost"]
