"""Run a sampler study: plan its cells, compute the missing ones (in parallel processes if
asked), and write the summary, the markdown report and the plots.

A study is a grid of cells, one per (model, sampler, seed), plus a full-batch reference
cell per (model, seed). Each cell trains with
:func:`~spikegraph.experiments.run_node_classification` (the same trainer, loaders and
sampler defaults as ``spikegraph train``) and is then measured
(:mod:`spikegraph.experiments.study.measure`). Every finished cell is written at once to
its own file (:mod:`spikegraph.experiments.study.cells`), so a study that is killed resumes
where it stopped, and several processes (``jobs``, or several invocations over one folder)
share the cells, each computing those it holds the lock of.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from spikegraph._memory import current_rss_mb, reset_peak_rss
from spikegraph.datasets import DATASETS, dataset_provenance, default_cache_dir, load_dataset
from spikegraph.experiments.node_classification import (
    TrainedRun,
    check_finite_options,
    check_seeds,
    effective_model_options,
    machine_info,
    run_node_classification,
    versions,
)
from spikegraph.experiments.study.budget import (
    FULL_BATCH,
    StudyBudget,
    budget_option,
    sampler_family,
)
from spikegraph.experiments.study.cells import (
    Cell,
    StudyFileError,
    cell_lock,
    read_cell,
    source_digest,
    write_cell,
)
from spikegraph.experiments.study.measure import (
    batches_and_energy,
    convergence_curve,
    gradient_error,
    gradient_weights,
)
from spikegraph.experiments.study.summary import UNKNOWN_ORIGIN, summarise, to_markdown
from spikegraph.models import MODELS, train_defaults
from spikegraph.models.checks import check_model_options, check_run_options
from spikegraph.models.options import check_model_option_names
from spikegraph.samplers import SAMPLERS, default_mode
from spikegraph.train.checkpoint import check_output_file, data_fingerprint, plain
from spikegraph.train.minibatch import check_sampler_option_names, sampler_defaults
from spikegraph.train.trainer import TrainConfig

log = logging.getLogger(__name__)

#: Written into ``study.json``.
STUDY_FORMAT = "spikegraph-sampler-study"
STUDY_VERSION = 1


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_sampler_study`; the cells finished before it are on disk.

    Attributes:
        finished: Cells of the plan whose files are written.
        planned: Cells of the plan.
    """

    def __init__(self, message: str, finished: int, planned: int) -> None:
        super().__init__(message)
        self.finished, self.planned = finished, planned

    def __str__(self) -> str:
        return str(self.args[0])


class StudyCellError(RuntimeError):
    """Cells of a study that raised an error; every other cell was computed and kept, and
    no summary was written (it needs every cell).

    Attributes:
        failures: ``(cell id, error)`` of every cell that failed.
    """

    def __init__(self, failures: list[tuple[str, BaseException]], planned: int) -> None:
        self.failures = failures
        shown = "; ".join(f"{cid}: {type(e).__name__}: {e}" for cid, e in failures[:5])
        more = f"; and {len(failures) - 5} more" if len(failures) > 5 else ""
        super().__init__(
            f"{len(failures)} of {planned} cells failed ({shown}{more}); the other cells are "
            "kept: fix the cause (e.g. a sampler option too large for this graph) and run the "
            "study again"
        )


@dataclass(frozen=True)
class CellJob:
    """Everything a process needs to compute one cell (picklable, for ``jobs > 1``).

    ``command`` (``None``: the Python API) and ``git_commit`` are what the cell records as
    having computed it; they are provenance, not part of its ``key``.
    """

    cell: Cell
    key: dict[str, Any]
    out: str
    dataset: str
    root: str | None
    split: str
    model_options: dict[str, Any]
    sampler_options: dict[str, Any]
    batch_size: int | None
    num_layers: int
    budget: StudyBudget
    jobs: int
    command: list[str] | None = None
    git_commit: str | None = None


@dataclass
class StudyResult:
    """What :func:`run_sampler_study` produced.

    Attributes:
        out: The study's folder.
        study: What ran: dataset, models, samplers, seeds, budget, effective options, code.
        rows: One summary per (model, sampler) over the seeds
            (:func:`~spikegraph.experiments.study.summary.summarise`).
        cells: Every cell's record, as in its file.
        computed: Ids of the cells this call computed.
        reused: Ids of the cells it found finished in ``out``.
        files: The files it wrote (``study.json``, ``study.md``, the plots).
        provenance: What computed the shown cells, from their own records (a resumed
            study reuses cells of earlier commands): the command and commit (``commands``
            with their cell counts when several), machine, processes and dates; and who
            wrote the report (``written``, ``written_by``) with the package versions.
    """

    out: Path
    study: dict[str, Any]
    rows: list[dict[str, Any]]
    cells: list[dict[str, Any]]
    computed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The content of ``study.json``."""
        return {
            "format": STUDY_FORMAT,
            "version": STUDY_VERSION,
            "study": self.study,
            "provenance": self.provenance,
            "rows": self.rows,
            "cells": [c["id"] for c in self.cells],
            "files": self.files,
        }


# ----------------------------------------------------------------------------- checks
def _names(values: Any, known: Sequence[str], what: str, allow_all: bool = False) -> list[str]:
    """A non-empty list of distinct names of ``known`` (``"all"``: every one, if allowed)."""
    if isinstance(values, str):
        values = list(known) if allow_all and values == "all" else [values]
    if not isinstance(values, Sequence):
        raise TypeError(f"'{what}' must be a list of names, got {values!r}")
    values = list(values)
    if allow_all and values == ["all"]:
        values = list(known)
    if not values:
        raise ValueError(f"'{what}' is empty: give at least one of {list(known)}")
    valid = [*known, "all"] if allow_all else list(known)
    for v in values:
        if v not in known:
            raise ValueError(f"Unknown {what[:-1]} {v!r}; expected one of {valid}")
    dup = sorted({v for v in values if values.count(v) > 1})
    if dup:
        raise ValueError(f"'{what}' names {dup} more than once")
    return values


def _per_name(options: Any, names: list[str], what: str) -> dict[str, dict[str, Any]]:
    """``{name: options}`` for names of the study only."""
    options = dict(options or {})
    for name, opts in options.items():
        if name not in names:
            raise ValueError(f"{what} for {name!r}, which the study does not run ({names})")
        if not isinstance(opts, dict):
            raise TypeError(f"{what} of {name!r} must be a dict, got {opts!r}")
        check_finite_options(opts, what[:-1])
    return {n: dict(options.get(n, {})) for n in names}


def _check_per_layer(name: str, given: dict[str, Any], model: str, num_layers: int) -> None:
    """Refuse a per-layer sampler option without one entry per layer of ``model``."""
    cls = SAMPLERS[name]
    key = cls.per_layer_option
    value = {**sampler_defaults(cls, num_layers, given), **given}.get(key) if key else None
    if value is not None and (not isinstance(value, (list, tuple)) or len(value) != num_layers):
        raise ValueError(
            f"Sampler option {key!r} of {name!r} must be a list of one entry per layer "
            f"({num_layers} for {model}), got {value!r}"
        )


def _dataset_name(dataset: Any) -> str:
    by_lower = {d.lower(): d for d in DATASETS}
    if not isinstance(dataset, str) or dataset.lower() not in by_lower:
        raise ValueError(f"Unknown dataset {dataset!r}; expected one of {list(DATASETS)}")
    return by_lower[dataset.lower()]


def _matplotlib_or_error() -> None:
    from spikegraph.experiments.study.plots import require_matplotlib

    require_matplotlib()


# ----------------------------------------------------------------------------- planning
def plan_study(
    dataset: str,
    models: Sequence[str],
    samplers: Sequence[str] | str,
    seeds: Sequence[int],
    out: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    split: str = "public",
    budget: StudyBudget | None = None,
    model_options: dict[str, dict[str, Any]] | None = None,
    sampler_options: dict[str, dict[str, Any]] | None = None,
    full_batch: bool = True,
    jobs: int = 1,
    command: Sequence[str] | None = None,
) -> tuple[dict[str, Any], list[CellJob]]:
    """Check a study's arguments, load its graph, and return what it runs and its cells'
    jobs (keys included), without training anything (see :func:`run_sampler_study`).
    Each job carries ``command`` (``None``: the Python API) and the checkout's commit, for
    the provenance of the cell it computes."""
    budget = StudyBudget() if budget is None else budget
    if not isinstance(budget, StudyBudget):
        raise TypeError(f"'budget' must be a StudyBudget, got {type(budget).__name__}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"'jobs' must be an int >= 1, got {jobs!r}")
    if split not in ("public", "full"):
        raise ValueError(f"Unknown split {split!r}; expected one of ['public', 'full']")
    dataset = _dataset_name(dataset)
    models = _names(models, list(MODELS), "models")
    samplers = _names(samplers, list(SAMPLERS), "samplers", allow_all=True)
    seeds = check_seeds(seeds)
    model_options = _per_name(model_options, models, "Model options")
    sampler_options = _per_name(sampler_options, samplers, "Sampler options")
    for model in models:
        check_model_options(model, model_options[model])
        check_model_option_names(model, model_options[model])
    for name in samplers:
        check_sampler_option_names(name, sampler_options[name])
        budget_option(SAMPLERS[name])  # a sampler the study cannot size fails now
    for model in models:  # per-layer options fit every model's depth
        num_layers = int(effective_model_options(model, model_options[model]).get("num_layers", 2))
        for name in samplers:
            _check_per_layer(name, sampler_options[name], model, num_layers)
    out = Path(out)
    check_output_file(out / "study.json", "Study folder")
    data, num_classes = load_dataset(dataset, root=root, split=split)
    provenance = dataset_provenance(dataset, root)
    label = dataset if provenance is None else provenance["label"]
    data_info = {
        "name": label,
        "split": split,
        "fingerprint": data_fingerprint(data),
        "provenance": provenance,
        "num_nodes": int(data.num_nodes),
        "num_edges": int(data.edge_index.size(1)),
        "num_train": int(data.train_mask.sum()),
        "num_classes": int(num_classes),
        "num_features": int(data.num_features),
    }
    code = {"spikegraph": versions()["spikegraph"], "source_sha256": source_digest()}
    origin = {"command": None if command is None else list(command), "git_commit": _commit()}
    defaults = {f: getattr(TrainConfig, f) for f in ("lr", "weight_decay")}
    study: dict[str, Any] = {
        "kind": "samplers",
        "dataset": data_info,
        "models": models,
        "samplers": samplers,
        "full_batch": bool(full_batch),
        "seeds": seeds,
        "budget": budget.to_dict(),
        "model_options": {},
        "train_options": {},
        "sampler_options": {},
        "code": code,
    }
    jobs_out: list[CellJob] = []
    rows = [FULL_BATCH] * bool(full_batch) + samplers
    for model in models:
        effective = effective_model_options(model, model_options[model])
        num_layers = int(effective.get("num_layers", 2))
        train = {**defaults, **train_defaults(model)}
        train = {k: train[k] for k in ("lr", "weight_decay")}
        train.update(epochs=budget.epochs, patience=budget.patience)
        study["model_options"][model] = effective
        study["train_options"][model] = train
        study["sampler_options"][model] = {}
        for name in rows:
            cls = None if name == FULL_BATCH else SAMPLERS[name]
            check_run_options(
                model,
                model_options[model],
                sampler=None if cls is None else name,
                data=data,
                num_classes=num_classes,
            )
            given = {} if cls is None else sampler_options[name]
            opts = (
                {}
                if cls is None
                else {**sampler_defaults(cls, num_layers, given, data.num_nodes), **given}
            )
            batch_size = None
            if cls is not None and cls.takes_seeds:
                batch_size = budget.batch_size or cls.default_batch_size
            sampler_part = {
                "name": name,
                "family": "full-batch" if cls is None else sampler_family(cls),
                "options": plain(opts),
                "batch_size": batch_size,
                "mode": "full-batch" if cls is None else default_mode(cls),
            }
            study["sampler_options"][model][name] = sampler_part
            for seed in seeds:
                key = {
                    "study": "samplers",
                    "dataset": data_info,
                    "model": {"name": model, "options": effective, "train": train},
                    "sampler": sampler_part,
                    "seed": seed,
                    "budget": budget.to_dict(),
                    "code": code,
                }
                jobs_out.append(
                    CellJob(
                        cell=Cell(model, name, seed),
                        key=plain(key),
                        out=str(out),
                        dataset=dataset,
                        root=None if root is None else str(root),
                        split=split,
                        model_options=model_options[model],
                        sampler_options=given,
                        batch_size=batch_size,
                        num_layers=num_layers,
                        budget=budget,
                        jobs=jobs,
                        **origin,
                    )
                )
    return plain(study), jobs_out


# ----------------------------------------------------------------------------- one cell
#: What this process has run once (models and samplers): see :func:`warm_up`.
_WARM: set[str] = set()
#: Nodes of the graph :func:`warm_up` runs on, and the size it clips the options to.
_WARM_NODES, _WARM_SIZE = 64, 8


def _warm_graph(num_features: int, num_classes: int) -> Data:
    """A small random graph (a ring and random chords, every node a training node)."""
    gen = torch.Generator().manual_seed(0)
    n = _WARM_NODES
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    chords = torch.randint(0, n, (2, 2 * n), generator=gen)
    chords = chords[:, chords[0] != chords[1]]
    edge_index = torch.unique(torch.cat([ring, chords, ring.flip(0), chords.flip(0)], 1), dim=1)
    masks = {k: torch.ones(n, dtype=torch.bool) for k in ("train_mask", "val_mask", "test_mask")}
    x = (torch.rand(n, num_features, generator=gen) < 0.1).float()
    y = torch.randint(0, num_classes, (n,), generator=gen)
    return Data(x=x, edge_index=edge_index, y=y, **masks)


def _clipped(value: Any) -> Any:
    if isinstance(value, list):
        return [_clipped(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value > _WARM_SIZE:
        return _WARM_SIZE
    return value


def warm_up(job: CellJob) -> None:
    """Run the cell's model and sampler once, on a small random graph, once per process:
    one-off costs (compiling or loading numba kernels of the spiking neurons and of the
    samplers, first allocations) then do not land in the first cell's time per epoch or
    preprocessing time. A warm-up that fails is logged (that cell's first timings may then
    include them); the cell itself reports its own errors."""
    from spikegraph.models import build_model
    from spikegraph.train.minibatch import batch_logits, build_loader

    cell, info = job.cell, job.key["dataset"]
    tag = f"{cell.model}:{cell.sampler}:{sorted(job.model_options.items())!r}"
    if tag in _WARM:
        return
    _WARM.add(tag)
    data = _warm_graph(info["num_features"], info["num_classes"])
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            options = job.model_options
            net = build_model(cell.model, data.num_features, info["num_classes"], **options)
            net(data.x, data.edge_index).sum().backward()
            if cell.sampler == FULL_BATCH:
                return
            options = {k: _clipped(v) for k, v in job.key["sampler"]["options"].items()}
            batch_size = None if job.batch_size is None else _WARM_SIZE
            setup = build_loader(cell.sampler, data, job.num_layers, batch_size, options)
            for batch in itertools.islice(iter(setup.loader), 2):
                if batch.num_targets:
                    batch_logits(net, data.x, batch, None).sum().backward()
    except Exception as err:  # the warm-up is a courtesy to the timings, not the measurement
        log.warning(
            "warming up %s with %s failed (%s: %s); its first cell's timings may include "
            "one-off costs such as compiling kernels",
            cell.model,
            cell.sampler,
            type(err).__name__,
            err,
        )


def compute_cell(job: CellJob) -> dict[str, Any]:
    """Train and measure one cell (its record, without the key; see
    :func:`~spikegraph.experiments.study.cells.write_cell`)."""
    cell, budget = job.cell, job.budget
    warm_up(job)
    peak_reset = reset_peak_rss()
    start_rss = current_rss_mb()
    start = time.perf_counter()
    minibatch = cell.sampler != FULL_BATCH
    measured: dict[str, Any] = {}

    def measure(run: TrainedRun) -> None:
        loader = run.setup.loader if minibatch else None
        mode = run.step.mode if minibatch else None
        batches, energy = batches_and_energy(
            run.model, run.data, loader, mode, budget.measure_batches
        )
        with gradient_weights(run.model, run.initial_state, budget.gradient_weights) as model:
            gradient = gradient_error(
                model,
                run.data,
                cell.sampler,
                dict(run.setup.options) if minibatch else {},
                run.setup.loader.batch_size if minibatch else None,
                job.num_layers,
                budget,
                cell.seed,
                str(default_cache_dir() / "samplers"),
            )
        measured.update(
            batches=batches,
            energy=energy,
            gradient=gradient,
            sample_time=getattr(run.step, "sample_time", 0.0),
        )

    summary = run_node_classification(
        job.dataset,
        cell.model,
        seeds=[cell.seed],
        root=job.root,
        split=job.split,
        model_options=job.model_options,
        train_options={"epochs": budget.epochs, "patience": budget.patience, "progress": False},
        sampler=cell.sampler if minibatch else None,
        sampler_options=job.sampler_options if minibatch else None,
        batch_size=job.batch_size,
        on_run=measure,
    )
    record = summary.runs[0]
    result = record.result
    if record.data_fingerprint != job.key["dataset"]["fingerprint"]:
        raise StudyFileError(
            f"cell {cell.id}: the graph loaded now differs from the one the study was planned "
            "on (its files changed during the study); run the study again"
        )
    if minibatch and plain(record.sampler_options) != job.key["sampler"]["options"]:
        raise RuntimeError(  # pragma: no cover - the key and the loader disagree: a bug
            f"cell {cell.id}: built with {record.sampler_options}, keyed with "
            f"{job.key['sampler']['options']}"
        )
    train_time = sum(t for t in result.epoch_times if t is not None)
    sample_time = measured["sample_time"]
    run = record.to_dict()
    for entry in run["result"]["history"]:  # the test set is read once, for the selected epoch
        entry.pop("test", None)
    metrics = {
        "test_acc": result.test_acc,
        "val_acc": result.val_acc,
        "train_acc": result.train_acc,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "time_per_epoch": result.time_per_epoch,
        "sample_time_per_epoch": sample_time / max(result.epochs_run, 1),
        "sampling_share": sample_time / train_time if train_time > 0 else 0.0,
        "preprocess_time": record.preprocess_time,
        "preprocess_cached": record.preprocess_cached,
        "inference_time": result.inference_time,
        "peak_rss_mb": record.peak_rss_mb,
        "start_rss_mb": None if start_rss is None else round(start_rss, 1),
        "peak_rss_reset": peak_reset,
        "firing_rates": result.firing_rates,
        "batches": measured["batches"],
        "energy": measured["energy"],
        "gradient": measured["gradient"],
    }
    return {
        "id": cell.id,
        "model": cell.model,
        "sampler": cell.sampler,
        "family": job.key["sampler"]["family"],
        "seed": cell.seed,
        "metrics": metrics,
        "curve": convergence_curve(result.history, result.epoch_times),
        "run": run,
        "measured": {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "seconds": time.perf_counter() - start,
            "jobs": job.jobs,
            "process": os.getpid(),
            "command": job.command,
            "git_commit": job.git_commit,
        },
    }


def run_cell_job(job: CellJob, wait: bool = False) -> tuple[str, dict[str, Any] | None]:
    """Compute ``job``'s cell unless its file is already there; returns ``(status,
    record)``: ``"computed"``, ``"reused"``, or ``("busy", None)`` when another process holds
    the cell's lock (``wait=False``)."""
    path = job.cell.path(job.out)
    with cell_lock(job.out, job.cell, wait) as held:
        if not held:
            return "busy", None
        record = read_cell(path, job.key)
        if record is not None:
            return "reused", record
        log.info("computing cell %s", job.cell.id)
        write_cell(path, job.key, compute_cell(job))
        return "computed", read_cell(path, job.key)


def _worker_init(threads: int) -> None:
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- the study
def run_sampler_study(
    dataset: str,
    models: Sequence[str],
    samplers: Sequence[str] | str,
    seeds: Sequence[int],
    out: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    split: str = "public",
    budget: StudyBudget | None = None,
    model_options: dict[str, dict[str, Any]] | None = None,
    sampler_options: dict[str, dict[str, Any]] | None = None,
    full_batch: bool = True,
    jobs: int = 1,
    plots: bool = True,
    command: Sequence[str] | None = None,
) -> StudyResult:
    r"""Compare samplers of the zoo on one dataset: the same models, the same budget.

    The study runs every model of ``models`` through every sampler of ``samplers`` (and
    full-batch, the reference) with every seed, and reports per (model, sampler), over the
    seeds, what the survey of Liu et al. ("Sampling Methods for Efficient Training of Graph
    Convolutional Networks: A Survey", arXiv 2021, IEEE/CAA Journal of Automatica Sinica
    2022) compares the families on: test accuracy (the epoch of best validation accuracy),
    time per epoch and its sampling share, preprocessing time, peak memory, nodes and edges
    per batch, the gradient's bias and variance against the full-batch gradient at several
    batch sizes, energy per training step and per inference, and the convergence curve
    (see :mod:`spikegraph.experiments.study.measure` for how each is measured).

    Files written into ``out``: ``cells/<model>--<sampler>--seed<k>.json`` (one per cell,
    keyed by its whole configuration), ``study.json`` (the summary), ``study.md`` (tables
    and provenance) and, with ``plots``, PNG and SVG plots (``matplotlib``, the ``plot``
    extra). A cell already in ``out`` with this configuration is reused, so a killed study
    resumes; a cell file of another configuration is refused. With ``jobs > 1`` the cells run
    in that many processes (each with ``torch.get_num_threads() // jobs`` threads, at least
    one); several invocations over one folder share the cells too (a lock per cell). Timings
    measured while other cells run beside them share the machine: commit timings of
    ``jobs=1`` runs.

    Peak memory is the process's peak resident set size during a cell's training (on Linux
    the high-water mark is reset when the cell starts; ``peak_rss_reset`` in the cell says
    whether it was), beside its resident size at the start (``start_rss_mb``): cells share
    their process with the data and the cells before them. Progress is logged at INFO level
    (``spikegraph.experiments.study.runner``).

    Args:
        dataset: A dataset of :data:`spikegraph.datasets.DATASETS` (any case).
        models: Model names of :data:`spikegraph.models.MODELS`.
        samplers: Sampler names of :data:`spikegraph.samplers.SAMPLERS`, or ``"all"``.
        seeds: One cell per seed (model initialisation, dropout, batches).
        out: The study's folder (created if needed).
        root: Data root (default: ``$SPIKEGRAPH_DATA``).
        split: ``"public"`` or ``"full"`` (Planetoid).
        budget: Training and measuring budget (:class:`StudyBudget`; default: its defaults).
        model_options: ``{model: options}`` over the registry's defaults.
        sampler_options: ``{sampler: options}`` over the class's defaults.
        full_batch: Add the full-batch reference row.
        jobs: Processes computing cells at the same time.
        plots: Write the plots (needs matplotlib).
        command: The command line, recorded in every cell this call computes (``None``:
            the Python API); the report names the command and commit of every cell it
            shows, reused ones included.

    Returns:
        A :class:`StudyResult`.

    Raises:
        ValueError, TypeError: for a bad argument (an unknown name lists the valid ones), a
            folder that cannot be written, or a run that cannot hold -- before any training.
        ModuleNotFoundError: with ``plots`` and no matplotlib, before any training.
        StudyMismatchError: when ``out`` holds a cell of another configuration (naming the
            fields that differ), before any training.
        StudyCellError: when cells raised an error (e.g. a sampler option too large for
            the graph), after every other cell was computed and kept.
        StudyInterrupted: on Ctrl-C, saying how many cells are kept.
    """
    if plots:
        _matplotlib_or_error()
    study, jobs_list = plan_study(
        dataset,
        models,
        samplers,
        seeds,
        out,
        root=root,
        split=split,
        budget=budget,
        model_options=model_options,
        sampler_options=sampler_options,
        full_batch=full_batch,
        jobs=jobs,
        command=command,
    )
    out = Path(out)
    records: dict[str, dict[str, Any]] = {}
    for job in jobs_list:  # every cell already there is checked before anything runs
        record = read_cell(job.cell.path(out), job.key)
        if record is not None:
            records[job.cell.id] = record
    reused = list(records)
    todo = [j for j in jobs_list if j.cell.id not in records]
    computed: list[str] = []
    log.info("%d cells: %d finished, %d to compute", len(jobs_list), len(reused), len(todo))
    failures: list[tuple[str, BaseException]] = []
    try:
        busy = _run_jobs(todo, jobs, records, computed, reused, failures)
        for job in busy:  # cells another process was computing: wait for them
            try:
                status, record = run_cell_job(job, wait=True)
            except Exception as err:
                failures.append((job.cell.id, err))
                continue
            records[job.cell.id] = record
            (computed if status == "computed" else reused).append(job.cell.id)
    except KeyboardInterrupt as err:
        done = sum(j.cell.path(out).exists() for j in jobs_list)
        raise StudyInterrupted(
            f"study interrupted: {done} of {len(jobs_list)} cells are finished and kept in "
            f"{out / 'cells'}; run the same study again to compute the rest",
            done,
            len(jobs_list),
        ) from err
    if failures:
        raise StudyCellError(failures, len(jobs_list))
    cells = [records[j.cell.id] for j in jobs_list]
    provenance = {
        **cells_provenance(cells),
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "written_by": {"command": jobs_list[0].command, "git_commit": jobs_list[0].git_commit},
        "versions": versions(),
    }
    result = StudyResult(
        out=out,
        study=study,
        rows=summarise(study, cells),
        cells=cells,
        computed=computed,
        reused=reused,
        provenance=provenance,
    )
    _write_outputs(result, plots)
    return result


def _origin(cell: dict[str, Any]) -> dict[str, Any]:
    """The command (``None``: the Python API) and commit that computed ``cell``;
    :data:`~spikegraph.experiments.study.summary.UNKNOWN_ORIGIN` for a cell written before
    cells recorded them."""
    measured = cell["measured"]
    return {
        "command": measured.get("command", UNKNOWN_ORIGIN),
        "git_commit": measured.get("git_commit", UNKNOWN_ORIGIN),
    }


def cells_provenance(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """What, where, how and when computed the shown ``cells``, from their own ``measured``
    records (a resumed study reuses cells of earlier commands): ``command`` and
    ``git_commit`` when every cell shares them (else ``commands``: each command and commit
    with its cell count, in the cells' order), ``machine`` and ``jobs`` when every cell
    shares one (else ``machines`` with their cell counts and ``jobs`` as a sorted list), and
    the dates of the first and last cell."""
    origins: list[dict[str, Any]] = []
    for cell in cells:
        origin = _origin(cell)
        for entry in origins:
            if (
                entry["command"] == origin["command"]
                and entry["git_commit"] == origin["git_commit"]
            ):
                entry["cells"] += 1
                break
        else:
            origins.append({**origin, "cells": 1})
    machines: list[dict[str, Any]] = []
    for cell in cells:
        machine = cell["measured"]["machine"]
        for entry in machines:
            if entry["machine"] == machine:
                entry["cells"] += 1
                break
        else:
            machines.append({"machine": machine, "cells": 1})
    jobs = sorted({cell["measured"]["jobs"] for cell in cells})
    dates = sorted(cell["measured"]["date"] for cell in cells)
    out: dict[str, Any] = {}
    if len(origins) == 1:
        out.update(command=origins[0]["command"], git_commit=origins[0]["git_commit"])
    else:
        out["commands"] = origins
    out |= {
        "jobs": jobs[0] if len(jobs) == 1 else jobs,
        "first_date": dates[0] if dates else None,
        "date": dates[-1] if dates else None,
    }
    if len(machines) == 1:
        out["machine"] = machines[0]["machine"]
    else:
        out["machines"] = machines
    return out


def _run_jobs(
    todo: list[CellJob],
    jobs: int,
    records: dict[str, dict[str, Any]],
    computed: list[str],
    reused: list[str],
    failures: list[tuple[str, BaseException]],
) -> list[CellJob]:
    """Run ``todo`` (``jobs`` processes), filling ``records`` and ``failures`` (a cell that
    raises does not stop the others); returns the jobs whose cell another process holds."""
    busy = []

    def failed(job: CellJob, err: Exception) -> None:
        log.error("cell %s failed: %s: %s", job.cell.id, type(err).__name__, err)
        failures.append((job.cell.id, err))

    start = time.perf_counter()

    def take(job: CellJob, status: str, record: dict[str, Any] | None) -> None:
        if status == "busy":
            busy.append(job)
            log.info("cell %s: another process holds it, left to it", job.cell.id)
            return
        records[job.cell.id] = record
        (computed if status == "computed" else reused).append(job.cell.id)
        done = len(computed) + len(reused) + len(failures) + len(busy)
        log.info(
            "[%d/%d] cell %s %s (%.0f s so far)",
            done,
            len(todo),
            job.cell.id,
            status,
            time.perf_counter() - start,
        )

    if jobs == 1 or len(todo) <= 1:
        for job in todo:
            try:
                take(job, *run_cell_job(job))
            except Exception as err:
                failed(job, err)
        return busy
    threads = max(1, torch.get_num_threads() // jobs)
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(todo)),
        mp_context=get_context("spawn"),
        initializer=_worker_init,
        initargs=(threads,),
    ) as pool:
        futures = [(job, pool.submit(run_cell_job, job)) for job in todo]
        try:
            for job, future in futures:
                try:
                    outcome = future.result()
                except Exception as err:
                    failed(job, err)
                    continue
                take(job, *outcome)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return busy


def _commit() -> str | None:
    from spikegraph.experiments.tune import source_commit

    return source_commit()


def _write_outputs(result: StudyResult, plots: bool) -> None:
    """``study.json``, ``study.md`` and the plots, each written atomically."""
    import json

    from spikegraph._io import atomic_write

    out = result.out
    files = [str(out / "study.json"), str(out / "study.md")]
    if plots:
        from spikegraph.experiments.study.plots import write_plots

        files += [str(p) for p in write_plots(result.rows, result.study, out)]
    result.files = [os.path.relpath(f, out) for f in files]
    text = json.dumps(plain(result.to_dict()), indent=1, sort_keys=True) + "\n"
    atomic_write(out / "study.json", lambda f: f.write(text.encode()))
    md = to_markdown(result.study, result.rows, result.provenance, result.files)
    atomic_write(out / "study.md", lambda f: f.write(md.encode()))


__all__ = [
    "STUDY_FORMAT",
    "STUDY_VERSION",
    "CellJob",
    "StudyCellError",
    "StudyInterrupted",
    "StudyResult",
    "compute_cell",
    "plan_study",
    "run_cell_job",
    "run_sampler_study",
]
