"""Train (optionally) and count a spiking model beside an ordinary one on a dataset.

This is the library side of ``spikegraph cost`` and of ``benchmarks/energy.py``: it returns
records (dataclasses with ``to_dict``), the command prints them. The energy accounting is the
one spiking-GNN papers do by hand (GC-SNN / GA-SNN, Xu et al., IJCAI 2021), done here from
counted operations (:func:`spikegraph.cost.count`).
"""

from __future__ import annotations

import dataclasses
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
from spikegraph.cost.static_input import (
    DEFAULT_STATIC_INPUT,
    STATIC_INPUT,
    check_static_input,
)
from spikegraph.models.checks import check_model_options
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


def check_seed(seed: Any) -> int:
    """``seed`` if it is an int ``>= 0``, else a :class:`ValueError` naming it (checked
    whether or not the model is trained, so that ``--epochs 0`` accepts no seed that
    ``--epochs 1`` refuses)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"'seed' must be an int >= 0, got {seed!r}")
    return seed


def check_epochs(epochs: Any) -> int:
    """``epochs`` if it is an int ``>= 0`` (``0``: count the untrained model), else a
    :class:`ValueError` naming it."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(
            f"'epochs' must be an int >= 0, got {epochs!r} (0 counts the untrained model)"
        )
    return epochs


def check_train_options(train_options: dict[str, Any], seed: int = 0) -> None:
    """Refuse :class:`~spikegraph.train.TrainConfig` fields no training takes (the
    config's own checks), ``epochs = 0`` (an untrained count) included.

    Raises:
        ValueError, TypeError: naming the field and its value.
    """
    from spikegraph.train import TrainConfig

    options = dict(train_options)
    if "epochs" in options and check_epochs(options["epochs"]) == 0:
        options["epochs"] = 1  # untrained: the other fields are still checked
    TrainConfig(**{**options, "seed": seed})


def _config_table(raw: dict[str, Any], model: str, dataset: str, section: str, key: str) -> str:
    """``"[gcn.Cora.train]"`` or ``"[gcn.train]"``: the table of ``raw`` (a parsed config)
    that gives ``key`` of ``section`` to ``model`` on ``dataset`` (the dataset's wins)."""
    table = raw.get(model, {})
    for name, sub in table.items():
        if name.lower() == dataset.lower() and key in sub.get(section, {}):
            return f"[{model}.{name}.{section}]"
    return f"[{model}.{section}]"


def check_cost_options(
    name: str,
    dataset: str,
    model_options: dict[str, Any],
    train_options: dict[str, Any],
    *,
    seed: int = 0,
    config: str | os.PathLike | None = None,
    given: dict[str, Any] | None = None,
) -> None:
    """Refuse the options of model ``name`` no count can run with, before any data is
    loaded, naming where each came from: ``config``'s table and key (``[gcn.train] epochs``),
    or ``model_options`` for the ``given`` ones.

    Checks the model options' names and values
    (:func:`~spikegraph.models.checks.check_model_options`) and the training options
    (:func:`check_train_options`; ``epochs`` an int ``>= 0``).

    Raises:
        ValueError: naming the source, key and value (a
            :class:`~spikegraph.config.ConfigError` for a value of ``config``).
    """
    from spikegraph.config import ConfigError, read_toml
    from spikegraph.models import train_defaults

    given = given or {}
    raw = read_toml(config) if config is not None else {}

    def refuse(section: str, key: str, value: Any, err: Exception) -> Exception:
        if section == "model" and key in given:
            return ValueError(f"model_options of {name}: {key} = {value!r}: {err}")
        table = _config_table(raw, name, dataset, section, key)
        return ConfigError(f"{config}: {table} {key} = {value!r}: {err}")

    check_model_option_names(name, model_options)
    for key, value in model_options.items():
        try:
            check_model_options(name, {key: value})
        except (TypeError, ValueError) as err:
            raise refuse("model", key, value, err) from err
    try:
        check_model_options(name, model_options)  # options that do not go together
    except (TypeError, ValueError) as err:
        raise ValueError(f"model options of {name} {model_options}: {err}") from err
    for key, value in train_options.items():
        try:
            check_train_options({key: value}, seed)
        except (TypeError, ValueError) as err:
            raise refuse("train", key, value, err) from err
    try:
        check_train_options({**train_defaults(name), **train_options}, seed)
    except (TypeError, ValueError) as err:
        raise ValueError(f"training options of {name} {train_options}: {err}") from err


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
        train_options: :class:`~spikegraph.train.TrainConfig` fields given (the model's
            :func:`~spikegraph.models.train_defaults` and the options asked for).
        report: Operation counts and energy of one eval-mode forward pass on the full graph.
        execution: How the report was counted: ``"event"`` or ``"dense"`` (``"auto"``
            resolved as :class:`~spikegraph.cost.Counter` does).
        seed: Seed of initialisation and training.
        effective_model_options: Every constructor option the model was built with
            (:func:`~spikegraph.experiments.effective_model_options`), as the record of
            ``spikegraph train`` has them.
        effective_train_options: Every :class:`~spikegraph.train.TrainConfig` field it was
            trained with; ``None`` for an untrained model.
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
    execution: str = ""
    seed: int = 0
    effective_model_options: dict[str, Any] = field(default_factory=dict)
    effective_train_options: dict[str, Any] | None = None
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "trained": self.trained,
            "test_acc": self.test_acc,
            "val_acc": self.val_acc,
            "epochs_run": self.epochs_run,
            "seed": self.seed,
            "model_options": self.model_options,
            "train_options": self.train_options,
            "effective_model_options": self.effective_model_options,
            "effective_train_options": self.effective_train_options,
            "execution": self.execution,
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
    static_input: str = DEFAULT_STATIC_INPUT,
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
        train_options: :class:`~spikegraph.train.TrainConfig` fields, over the model's
            :func:`~spikegraph.models.train_defaults` (GAT models: ``lr=0.005``).
        progress: Show a training progress bar.
        device: Where to train and count (see :mod:`spikegraph.train.device`); operation
            counts do not depend on it. ``train_options["device"]`` wins if given.
        static_input: How a spiking model's static input is counted: ``"per-step"``
            (default, the literature's convention) or ``"once"``
            (:mod:`spikegraph.cost.static_input`).

    Raises:
        ValueError: for a bad epoch count (``epochs`` or ``train_options["epochs"]``), seed,
            training option, profile, device, or unknown or bad model option (before any
            training).
    """
    from spikegraph.experiments.node_classification import effective_model_options
    from spikegraph.models import build_model, train_defaults
    from spikegraph.train import TrainConfig, accuracies, fit, predict
    from spikegraph.train.checkpoint import plain
    from spikegraph.train.trainer import data_on

    model_options = dict(model_options or {})
    # the model's own training defaults (GAT models: lr 0.005), as `spikegraph train` uses
    train_options = {**train_defaults(name), **dict(train_options or {})}
    train_options.setdefault("device", device)
    dev = resolve_device(train_options["device"])
    check_seed(seed)
    check_model_option_names(name, model_options)
    check_model_options(name, model_options)
    if epochs is not None:
        train_options["epochs"] = check_epochs(epochs)
    check_train_options(train_options, seed)
    get_profile(profile)  # fail early on a bad profile, before training
    check_static_input(static_input)
    torch.manual_seed(seed)
    model = build_model(name, data.num_features, num_classes, **model_options)
    trained = train_options.get("epochs", 1) > 0
    epochs_run = 0
    effective_train = None
    if trained:
        config = TrainConfig(**{**train_options, "seed": seed, "progress": progress})
        effective_train = plain(dataclasses.asdict(config))
        # A checkpoint named in the tuned config is tied to this model and dataset.
        run_info = {"model": name, "model_options": model_options, "dataset": dataset}
        result = fit(model, data, config, run_info=run_info)
        test_acc, val_acc, epochs_run = result.test_acc, result.val_acc, result.epochs_run
    else:
        model.to(dev)
        acc = accuracies(predict(model, data_on(data, dev)), data_on(data, dev))
        test_acc, val_acc = acc["test"], acc["val"]
    model.eval()
    report = recount(
        model,
        data_on(data, dev),
        execution=execution,
        fold_norm=fold_norm,
        profile=profile,
        static_input=static_input,
    )
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
        execution=model_execution(model, execution),
        seed=seed,
        effective_model_options=effective_model_options(name, model_options, model),
        effective_train_options=effective_train,
        model=model,
    )


def recount(model: nn.Module, data: Data, **options: Any) -> Report:
    """Count one eval-mode, gradient-free, full-graph inference of ``model`` on ``data``
    (``x``, ``edge_index`` and ``edge_weight`` if present) with the options of
    :func:`~spikegraph.cost.count` (``execution``, ``fold_norm``, ``profile``,
    ``static_input``). The model must already be on ``data``'s device and in eval mode."""
    args = [data.x, data.edge_index]
    if "edge_weight" in data and data.edge_weight is not None:
        args.append(data.edge_weight)
    with torch.no_grad():
        return count(model, *args, **options)


@dataclass
class EnergyRatio:
    """The energy of the first model over the second under one set of conventions.

    A row never mixes static-input conventions: its convention is applied to every model of
    the pair that has a static spiking input (both, when both are spiking).

    Attributes:
        static_input: The row's static-input convention (``"per-step"`` or ``"once"``),
            applied to every model of the pair with a static spiking input; ``None`` when
            neither has one (both conventions count the same).
        first_static_input: How the first model's static input was counted
            (:attr:`~spikegraph.cost.Report.static_input`; ``None``: it had none).
        second_static_input: The same for the second model.
        first_execution: How the first model was counted (``"event"`` or ``"dense"``; its
            report's, the same in every row).
        second_execution: How the second model was counted (``"event"`` or ``"dense"``).
        ratio: ``energy(first) / energy(second)``.
        default: Whether these are the conventions of the headline comparison.
    """

    static_input: str | None
    first_static_input: str | None
    second_static_input: str | None
    first_execution: str
    second_execution: str
    ratio: float
    default: bool = False

    def describe(self, first: str = "first model", second: str = "second model") -> str:
        """How each model was counted, e.g. ``"sgcn event-driven [per-step]; gcn dense (no
        static spiking input)"`` (the tags are :data:`~spikegraph.cost.STATIC_INPUT`'s)."""
        return (
            f"{_counted(first, self.first_execution, self.first_static_input)}; "
            f"{_counted(second, self.second_execution, self.second_static_input)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _counted(name: str, execution: str, static_input: str | None) -> str:
    """``"sgcn event-driven [once]"``: how one model of a ratio was counted."""
    convention = "(no static spiking input)" if static_input is None else f"[{static_input}]"
    return f"{name} {describe_execution(execution)} {convention}"


def describe_execution(execution: str) -> str:
    """``"event-driven"``, ``"dense"``, or ``"auto"`` said in words (see
    :class:`~spikegraph.cost.Counter`)."""
    return {"event": "event-driven", "dense": "dense"}.get(
        execution, f"{execution} (event-driven for spiking models, dense for the others)"
    )


def model_execution(model: nn.Module | None, execution: str) -> str:
    """``"event"`` or ``"dense"``: how ``model`` is counted under ``execution`` (``"auto"``
    resolved as :class:`~spikegraph.cost.Counter` does: event-driven for models with spiking
    neurons)."""
    from spikegraph.nn.neurons import SpikingNeuron

    if execution != "auto":
        return execution
    spiking = model is not None and any(isinstance(m, SpikingNeuron) for m in model.modules())
    return "event" if spiking else "dense"


def effective_execution(run: ModelCost) -> str:
    """``"event"`` or ``"dense"``: how ``run``'s report was counted (:func:`model_execution`
    of its report's ``execution`` option)."""
    return run.execution or model_execution(run.model, run.report.options.get("execution", "auto"))


def energy_ratios(
    first: ModelCost, second: ModelCost, data: Data, default: tuple[str | None, str]
) -> list[EnergyRatio]:
    """``first / second`` energy under both static-input conventions and against the second
    model counted dense and event-driven, the counted models recounted on ``data``.

    Each convention is applied to both models together (to those with a static spiking
    input), so a ratio never divides a model counted once by one counted at every step;
    when neither model has a static spiking input, the conventions count the same and are
    given once (``static_input=None``). The first model keeps its report's execution. The
    row whose ``(static_input, second_execution)`` is ``default`` is marked.
    """
    from spikegraph.train.trainer import data_on

    dev = next(iter(first.model.parameters())).device
    data = data_on(data, dev)
    profile = first.report.profile
    first_execution = effective_execution(first)
    static = first.report.static_input is not None or second.report.static_input is not None
    conventions = sorted(STATIC_INPUT, key=lambda c: c != DEFAULT_STATIC_INPUT) if static else []

    def counted(run: ModelCost, convention: str | None, execution: str) -> Report:
        """``run``'s report, or its model recounted under ``convention`` and ``execution``."""
        own = run.report
        same_input = convention is None or own.static_input in (None, convention)
        if same_input and execution == effective_execution(run):
            return own
        options = {**own.options, "execution": execution, "profile": profile}
        options["static_input"] = convention or own.static_input or "once"
        return recount(run.model, data, **options)

    out = []
    for convention in conventions or [None]:
        a = counted(first, convention, first_execution)
        for execution in ("dense", "event"):
            b = counted(second, convention, execution)
            energy = b.total.energy_pj
            out.append(
                EnergyRatio(
                    static_input=convention,
                    first_static_input=a.static_input,
                    second_static_input=b.static_input,
                    first_execution=first_execution,
                    second_execution=execution,
                    ratio=a.total.energy_pj / energy if energy else float("nan"),
                    default=(convention, execution) == tuple(default),
                )
            )
    return out


@dataclass
class CostComparison:
    """A model and (optionally) the one it is compared with, on one dataset.

    What produced it is recorded as in the record of ``spikegraph train``
    (:class:`~spikegraph.experiments.Summary`), so that the records of two runs cannot be
    taken for each other.

    Attributes:
        dataset: Dataset name (a synthetic stand-in's label, as ``train``'s records name it).
        first: The first model.
        second: The model compared with, or ``None``.
        comparison: ``first`` beside ``second``, with each one's execution.
        machine: Where it was counted (:func:`~spikegraph.experiments.machine_info`).
        date: When (UTC, ISO 8601).
        ratios: The energy ratio first / second under both static-input conventions and
            against the second model counted dense and event-driven (:func:`energy_ratios`).
        split: The dataset split.
        seed: Seed of initialisation and training of both models.
        command: The command line that produced it (set by ``spikegraph cost``).
        versions: Versions of the packages (:func:`~spikegraph.experiments.versions`).
        commit: The spikegraph commit it ran at
            (:func:`~spikegraph.experiments.tune.source_commit`; ``None`` outside a checkout).
        data_fingerprint: :func:`~spikegraph.train.checkpoint.data_fingerprint` of the graph,
            masks included.
        data_provenance: A synthetic stand-in's provenance; ``None`` (and absent from the
            record) for real data.
    """

    dataset: str
    first: ModelCost
    second: ModelCost | None = None
    comparison: Comparison | None = None
    machine: dict[str, Any] = field(default_factory=dict)
    date: str = ""
    ratios: list[EnergyRatio] = field(default_factory=list)
    split: str = ""
    seed: int = 0
    command: list[str] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    commit: str | None = None
    data_fingerprint: str = ""
    data_provenance: dict[str, Any] | None = None

    def ratios_table(self) -> str:
        """The energy ratios, one line per pair of conventions, each named."""
        if not self.ratios or self.second is None:
            return ""
        a, b = self.first.name, self.second.name
        lines = [f"energy ratio {a} / {b} under each counting convention:"]
        for r in self.ratios:
            mark = "  (headline)" if r.default else ""
            lines.append(f"  {r.ratio:10.4f}  {r.describe(a, b)}{mark}")
        used = dict.fromkeys(r.static_input for r in self.ratios if r.static_input)
        lines.extend(f"  [{c}]: {STATIC_INPUT[c]}" for c in used)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "dataset": self.dataset,
            "split": self.split,
            "seed": self.seed,
            "data_fingerprint": self.data_fingerprint,
            "first": self.first.to_dict(),
            "second": None if self.second is None else self.second.to_dict(),
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
            "ratios": [r.to_dict() for r in self.ratios],
            "machine": self.machine,
            "date": self.date,
            "versions": self.versions,
            "commit": self.commit,
            "command": self.command,
        }
        if self.data_provenance is not None:
            out["data_provenance"] = self.data_provenance
        return out


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
    static_input: str = DEFAULT_STATIC_INPUT,
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
        static_input: How the first model's static input is counted in the reports and the
            headline ratio: ``"per-step"`` (default, the literature's convention) or
            ``"once"``; :attr:`CostComparison.ratios` gives both, against the second model
            counted dense and event-driven.

    Raises:
        FileNotFoundError: for a ``config`` that is not a file.
        ValueError: for a bad config (a bad value names its file, table and key), seed,
            epoch count, device, or model or training option of either model -- before any
            data is loaded (:func:`check_cost_options`).
    """
    from spikegraph.datasets import dataset_provenance, load_dataset
    from spikegraph.experiments.node_classification import machine_info
    from spikegraph.experiments.tune import code_identity
    from spikegraph.train.checkpoint import data_fingerprint

    resolve_device(device)
    check_static_input(static_input)
    check_seed(seed)
    if epochs is not None:
        check_epochs(epochs)
    names = [model] if vs is None else [model, vs]
    tuned = []
    for i, name in enumerate(names):
        opts, train = load_tuned_config(config, name, dataset)
        given = dict(model_options or {}) if i == 0 else {}
        opts.update(given)
        # every model's options, before the data loads and the first model trains
        check_cost_options(name, dataset, opts, train, seed=seed, config=config, given=given)
        tuned.append((name, opts, train))
    data, num_classes = load_dataset(dataset, root=root, split=split)
    provenance = dataset_provenance(dataset, root)
    if provenance is not None:  # records never call a synthetic stand-in by OGB's name
        dataset = provenance["label"]
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
                static_input=static_input,
            )
        )
    second = runs[1] if len(runs) > 1 else None
    comparison = None
    ratios = []
    if second is not None:
        # both reports were counted under `static_input` (where it applies)
        applies = runs[0].report.static_input or second.report.static_input
        headline = (applies, effective_execution(second))
        ratios = energy_ratios(runs[0], second, data, default=headline)
        comparison = dataclasses.replace(
            runs[0].report.compare(second.report),
            first_execution=effective_execution(runs[0]),
            second_execution=effective_execution(second),
        )
    return CostComparison(
        dataset=dataset,
        first=runs[0],
        second=second,
        comparison=comparison,
        machine=machine_info(),
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        ratios=ratios,
        split=split,
        seed=seed,
        data_fingerprint=data_fingerprint(data),
        data_provenance=provenance,
        **code_identity(),
    )


__all__ = [
    "CostComparison",
    "EnergyRatio",
    "ModelCost",
    "check_cost_options",
    "check_epochs",
    "check_seed",
    "check_train_options",
    "cost_comparison",
    "describe_execution",
    "effective_execution",
    "energy_ratios",
    "load_tuned_config",
    "model_cost",
    "model_execution",
    "recount",
]
