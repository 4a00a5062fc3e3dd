"""Run a node-classification experiment by name: dataset, model, seeds -> records."""

from __future__ import annotations

import inspect
import math
import numbers
import os
import platform
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from spikegraph._memory import peak_rss_mb
from spikegraph._progress import Stages
from spikegraph._provenance import versions
from spikegraph.datasets import OGB_NODE, dataset_provenance, default_cache_dir, load_dataset
from spikegraph.models import MODELS, build_model, train_defaults
from spikegraph.models.checks import check_model_options, check_run_options
from spikegraph.models.options import check_model_option_names
from spikegraph.models.registry import preset_options
from spikegraph.train import distributed
from spikegraph.train.checkpoint import (
    OutputPathError,
    check_output_file,
    data_fingerprint,
    plain,
    run_checkpoint_path,
)
from spikegraph.train.inference import make_evaluator
from spikegraph.train.scores import make_scorer
from spikegraph.train.trainer import (
    TrainConfig,
    TrainingInterrupted,
    TrainResult,
    fit,
    full_batch_step,
)


@dataclass
class RunRecord:
    """One trained model: what was run and what it scored.

    ``model_options`` are the options given; ``effective_model_options`` everything the model
    class was built with (its signature's defaults, the registry's defaults, the options
    given). ``batch_size`` is the loader's effective batch size (``None`` for full-batch and
    subgraph samplers). ``data_fingerprint`` is
    :func:`~spikegraph.train.checkpoint.data_fingerprint` of the graph trained on.
    On a synthetic stand-in for an OGB graph (:mod:`spikegraph.datasets.synthetic`),
    ``dataset`` is its label (``"arxiv-like (synthetic, seed 0)"``) and ``data_provenance``
    its provenance; both are absent from the record of real data. ``metric`` names what
    computed the accuracies (``"accuracy"``, or OGB's ``Evaluator`` for ``ogbn-*``);
    ``peak_rss_mb`` is the process's peak resident memory (its high-water mark,
    :func:`~spikegraph._memory.peak_rss_bytes`) when the run ended.
    ``preprocess_cached`` says whether the sampler's preprocessing was loaded from its
    on-disk cache (then ``preprocess_time`` is the load's; ``None`` without a sampler).
    """

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
    preprocess_cached: bool | None = None
    batches_per_epoch: int = 1
    evaluation: str = "full"
    eval_batch_size: int | None = None
    effective_model_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    mode: str | None = None
    num_workers: int = 0
    data_fingerprint: str = ""
    data_provenance: dict[str, Any] | None = None
    metric: str = "accuracy"
    peak_rss_mb: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data, with the per-epoch history of the result."""
        out = asdict(self)
        if self.data_provenance is None:
            del out["data_provenance"]
        out["result"] = self.result.to_dict(history=True)
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
    versions: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None
    #: Set when Ctrl-C stopped the runs: the seeds asked for, finished, and interrupted.
    interrupted: dict[str, Any] | None = None
    #: Set for a synthetic stand-in of an OGB graph: generator, seed, sizes.
    data_provenance: dict[str, Any] | None = None

    def stat(self, key: str) -> tuple[float, float]:
        vals = [getattr(r.result, key) for r in self.runs]
        return statistics.fmean(vals), statistics.pstdev(vals) if len(vals) > 1 else 0.0

    def firing_rates(self) -> dict[str, float]:
        layers = self.runs[0].result.firing_rates.keys()
        return {k: statistics.fmean(r.result.firing_rates[k] for r in self.runs) for k in layers}

    def to_dict(self) -> dict[str, Any]:
        mean, std = self.stat("test_acc")
        return (
            {
                "dataset": self.dataset,
                "model": self.model,
                "test_acc_mean": mean,
                "test_acc_std": std,
                "time_per_epoch_mean": self.stat("time_per_epoch")[0],
                "sampler": self.sampler,
                "preprocess_time_mean": statistics.fmean(r.preprocess_time for r in self.runs),
                "firing_rates": self.firing_rates(),
                "peak_rss_mb": max((r.peak_rss_mb or 0.0) for r in self.runs),
                "machine": self.machine,
                "date": self.date,
                "versions": self.versions,
                "command": self.command,
                "runs": [r.to_dict() for r in self.runs],
            }
            | ({} if self.interrupted is None else {"interrupted": self.interrupted})
            | ({} if self.data_provenance is None else {"data_provenance": self.data_provenance})
        )


@dataclass
class TrainedRun:
    """One seed's run of :func:`run_node_classification` as it ends, for a caller that
    measures more than the record holds (its ``on_run`` argument; e.g. the sampler study,
    :mod:`spikegraph.experiments.study`).

    Attributes:
        record: The run's :class:`RunRecord`.
        model: The trained model (the best validation epoch's weights), on the device it
            trained on.
        initial_state: Its weights before the first epoch (CPU copies).
        data: The graph it trained on (on the CPU).
        setup: The sampler and loader of a mini-batch run
            (:class:`~spikegraph.train.minibatch.SamplerSetup`), ``None`` for full-batch.
        step: The train step: :func:`~spikegraph.train.trainer.full_batch_step`, or a
            :class:`~spikegraph.train.minibatch.MinibatchStep` (its ``sample_time``: seconds
            spent drawing batches).
    """

    record: RunRecord
    model: nn.Module
    initial_state: dict[str, Tensor]
    data: Data
    setup: Any
    step: Any


def cpu_kind() -> str:
    """The CPU kind that decides the last bits of a CPU run: LLVM's name for the host CPU
    (the target numba compiles the neuron kernels for) and the instruction set torch's CPU
    kernels dispatch to, e.g. ``"rocketlake, AVX512"``.

    On one CPU kind and one thread, a seeded CPU run repeats bit for bit; on another, its
    vectorised sums may round differently, which can move a validation score by a node.
    """
    try:
        import llvmlite.binding as llvm  # numba's compiler, a dependency of numba

        host = llvm.get_host_cpu_name()
    except Exception:  # no LLVM: say so rather than fail a record
        host = "unknown"
    return f"{host}, {torch.backends.cpu.get_cpu_capability()}"


def machine_info() -> dict[str, Any]:
    """Where a result was measured."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu_kind(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_node_classification`, with what finished before it.

    Attributes:
        summary: A :class:`Summary` of the seeds that finished (its ``interrupted`` says
            which were asked for), or ``None`` if none did.
        seed: The seed whose run was interrupted (``None``: before the first run started).
        training: The :class:`~spikegraph.train.trainer.TrainingInterrupted` of that run
            (what its checkpoint holds), or ``None`` if the interrupt came outside training.
    """

    def __init__(
        self,
        message: str,
        summary: Summary | None,
        seed: int | None,
        training: TrainingInterrupted | None,
    ) -> None:
        super().__init__(message)
        self.summary, self.seed, self.training = summary, seed, training

    def __str__(self) -> str:
        return str(self.args[0])


def _signature_defaults(cls: type, skip: set[str], inherit: bool = False) -> dict[str, Any]:
    """The defaults of ``cls``'s constructor; with ``inherit``, also those of the base
    classes' constructors that it passes its ``**kwargs`` on to (a subclass's default wins),
    up to :class:`torch.nn.Module`."""
    out: dict[str, Any] = {}
    for klass in cls.__mro__ if inherit else (cls,):
        if klass is torch.nn.Module:
            break
        if inherit and "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters
        for k, p in params.items():
            if (
                k not in skip
                and k not in out
                and p.default is not inspect.Parameter.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ):
                out[k] = p.default
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break
    return out


def effective_model_options(
    name: str, options: dict[str, Any] | None = None, model: torch.nn.Module | None = None
) -> dict[str, Any]:
    """Every constructor option model ``name`` is built with by
    :func:`~spikegraph.models.build_model`, as plain data.

    The class signature's defaults, updated by the registry's defaults, updated by
    ``options`` (``None`` values ignored). With the built ``model``, the defaults of its
    layer class (``model.convs[0]``: neuron ``tau``, ``v_threshold``, ``surrogate``, GCN
    ``improved``...) fill the options the model passes on to its layers and does not set.
    An option the class lists in ``recorded_when_set`` (option -> value) is left out at
    that value: one added to a class later, whose value there gives the model as it was
    before (the baselines' ``input_dropout=0``), so that earlier records still match.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    cls, defaults = MODELS[name][0], preset_options(name, options)
    merged = _signature_defaults(cls, {"self", "in_channels", "out_channels"}, inherit=True)
    convs = getattr(model, "convs", None)
    if isinstance(convs, torch.nn.ModuleList) and len(convs):
        skip = {"self", "in_channels", "out_channels", "T", "spiking"}
        layer = _signature_defaults(type(convs[0]), skip)
        layer.update(getattr(convs[0], "neuron_options", {}))  # the neuron it was built with
        merged = {**{k: v for k, v in layer.items() if k not in merged}, **merged}
    given = {k: v for k, v in (options or {}).items() if v is not None}
    out = plain({**merged, **defaults, **given})
    for key, value in getattr(cls, "recorded_when_set", {}).items():
        if key in out and out[key] == value:
            del out[key]
    return out


def check_seeds(seeds: Any, name: str = "'seeds'") -> list[int]:
    """A non-empty list of distinct ints ``>= 0``, else a clear error calling them ``name``
    (the argument or command-line option they came from, e.g. ``"--final-seeds"``)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise TypeError(f"{name} must be a list of ints, got {seeds!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError(f"{name} is empty: give at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"{name} must hold ints >= 0, got {s!r}")
    dup = sorted({s for s in seeds if seeds.count(s) > 1})
    if dup:
        raise ValueError(
            f"{name} holds {', '.join(map(str, dup))} more than once ({seeds}): a seed twice "
            "would count the same run twice in the mean and standard deviation"
        )
    return [int(s) for s in seeds]


def check_finite_options(options: dict[str, Any] | None, what: str) -> None:
    """Refuse NaN option values (infinity is a meaningful setting, e.g. ``tau=inf``)."""
    for key, value in (options or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, float) and math.isnan(v):
                raise ValueError(f"{what} {key!r} is NaN, which no setting means")


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
    mode: str | None = None,
    evaluation: str = "full",
    eval_batch_size: int = 4096,
    device: str = "cpu",
    mmap: bool = False,
    on_run: Callable[[TrainedRun], None] | None = None,
) -> Summary:
    """Train ``model`` on ``dataset`` once per seed.

    Args:
        dataset: ``"Cora"``, ``"CiteSeer"``, ``"PubMed"``.
        model: ``"sgcn"``, ``"sgat"``, ``"gcn"`` or ``"gat"``.
        seeds: One run per seed (model initialisation, dropout, the sampler and loader).
            A Bernoulli encoder draws from its own generator, seeded by the model option
            ``encoder_seed`` (default 0) and not by the run's seed, so the runs of a
            ``--seeds`` list share its spike trains; give ``encoder_seed`` to vary them.
        root: Data root.
        split: ``"public"`` or ``"full"``.
        model_options: Overrides of the model's defaults.
        train_options: Fields of :class:`TrainConfig` (``seed`` is set per run); fields left
            out take the model's :func:`~spikegraph.models.train_defaults`, then
            :class:`TrainConfig`'s defaults.
        sampler: Train on mini-batches of this sampler of
            :data:`spikegraph.samplers.SAMPLERS` (``None``: full-batch); validation and test
            are scored on the full graph.
        sampler_options: Sampler options (see :func:`~spikegraph.train.minibatch.build_loader`).
        batch_size: Seeds per batch (node-wise samplers).
        num_workers: Loader worker processes.
        mode: ``"subgraph"``, ``"blocks"`` or ``None`` for the sampler's default (see
            :mod:`spikegraph.train.minibatch`).
        evaluation: How validation and test are scored: ``"full"`` (one full-graph
            forward) or ``"layerwise"`` (:func:`~spikegraph.train.inference.layerwise_predict`,
            the same logits holding one layer's activations at a time).
        eval_batch_size: Target nodes per batch of layer-wise evaluation.
        device: Where to train and evaluate: ``"cpu"`` (default: the same numbers on every
            machine), ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when available); see
            :mod:`spikegraph.train.device`. ``train_options["device"]`` wins if given.
            Data is loaded and batches are sampled on the CPU, then moved.
        mmap: Memory-map an OGB dataset's processed features and edges from the cache
            instead of reading them into memory (see :func:`~spikegraph.datasets.load_ogb`).
        on_run: Called after each seed's run with its :class:`TrainedRun` (trained model,
            initial weights, data, sampler), before the next seed starts.

    Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the processes train one model
    together, data-parallel (:mod:`spikegraph.train.distributed`: ``gloo`` on the CPU,
    ``nccl`` on ``cuda``, which becomes ``cuda:LOCAL_RANK``); each process's loader takes its
    shard of every epoch, rank 0 evaluates and writes checkpoints, and every process returns
    the same summary (the caller writes it from rank 0). Full-batch training is refused
    there: every process would take the same step.

    Checkpoints: with ``train_options["checkpoint"] = "ck.pt"`` every seed has its own file,
    ``ck.seed<seed>.pt`` (:func:`~spikegraph.train.checkpoint.run_checkpoint_path`), tied to
    the run's whole configuration and data (see :func:`~spikegraph.train.trainer.fit`).

    Returns:
        A :class:`Summary` of the runs.

    Raises:
        ValueError: for repeated or negative seeds, NaN options, unknown model options,
            invalid training options, a device this machine lacks
            (:class:`~spikegraph.train.device.DeviceError`) or an output (checkpoint) that
            cannot be written -- all before any data is loaded.
        RunInterrupted: on Ctrl-C, with the finished seeds' summary (the interrupted run's
            checkpoint, if any, holds its last finished epoch).
    """
    seeds = check_seeds(seeds)
    # a bad setting fails before anything else, named as the caller named it
    make_evaluator(evaluation, eval_batch_size, name="eval_batch_size")
    check_finite_options(model_options, "Model option")
    check_finite_options(sampler_options, "Sampler option")
    model_options = dict(model_options or {})
    train_options = {**train_defaults(model), **(train_options or {})}
    train_options.setdefault("device", device)
    check_model_options(model, model_options)  # values, and options of other model kinds
    check_model_option_names(model, model_options)
    TrainConfig(**{**train_options, "seed": seeds[0]})  # invalid settings fail before the data
    checkpoint = train_options.pop("checkpoint", None)
    if checkpoint is not None and os.path.isdir(checkpoint):
        raise OutputPathError(
            f"Checkpoint {checkpoint} is a folder; give a file path (each seed gets its own "
            "file beside it, e.g. ck.pt -> ck.seed0.pt)"
        )
    checkpoints = {
        s: None if checkpoint is None else str(run_checkpoint_path(checkpoint, s)) for s in seeds
    }
    for path in checkpoints.values():
        if path is not None:
            check_output_file(path, "Checkpoint")
    progress = bool(train_options.get("progress", True))
    evaluate = make_evaluator(evaluation, eval_batch_size, progress=progress)
    score = make_scorer(dataset)
    metric = getattr(score, "__qualname__", "accuracy")
    ogb = str(dataset).lower() in OGB_NODE
    load_options = {"progress": progress, "mmap": mmap} if ogb else {}
    env = distributed.from_environ()
    if env is not None and env.world_size > 1 and sampler is None:
        raise ValueError(
            f"torchrun started {env.world_size} processes for full-batch training, where each "
            "would take the same step: give a sampler (--sampler) to train data-parallel"
        )
    train_options["device"] = distributed.device_for(train_options["device"], env)
    joined = env is not None and not distributed.active()
    distributed.init(train_options["device"] or "cpu")
    try:
        return _run(
            dataset,
            model,
            seeds,
            root,
            split,
            model_options,
            train_options,
            sampler,
            sampler_options,
            batch_size,
            num_workers,
            mode,
            evaluation,
            eval_batch_size,
            evaluate,
            checkpoints,
            progress,
            score,
            metric,
            load_options,
            on_run,
        )
    finally:
        if joined:
            distributed.shutdown()


def _run(
    dataset: str,
    model: str,
    seeds: list[int],
    root: str | None,
    split: str,
    model_options: dict[str, Any],
    train_options: dict[str, Any],
    sampler: str | None,
    sampler_options: dict[str, Any] | None,
    batch_size: int | None,
    num_workers: int,
    mode: str | None,
    evaluation: str,
    eval_batch_size: int,
    evaluate: Any,
    checkpoints: dict[int, str | None],
    progress: bool,
    score: Any,
    metric: str,
    load_options: dict[str, Any],
    on_run: Callable[[TrainedRun], None] | None = None,
) -> Summary:
    """:func:`run_node_classification` once its arguments are checked (and, under
    ``torchrun``, the process group is up)."""
    rank, world_size = distributed.world()
    data, num_classes = load_dataset(dataset, root=root, split=split, **load_options)
    provenance = dataset_provenance(dataset, root)
    if provenance is not None:  # records never call a synthetic stand-in by OGB's name
        dataset = provenance["label"]
    # Options that cannot hold for this run, and its memory estimate, before any training.
    check_run_options(
        model,
        model_options,
        sampler=sampler,
        mode=mode,
        data=data,
        num_classes=num_classes,
        evaluation=evaluation,
    )
    data_hash = data_fingerprint(data)
    effective: dict[str, Any] | None = None

    def run_seed(seed: int) -> RunRecord:
        """Build, train and record the run of one seed."""
        nonlocal effective
        torch.manual_seed(seed)
        net = build_model(model, data.num_features, num_classes, **model_options)
        if effective is None:
            effective = effective_model_options(model, model_options, net)
        initial = None
        if on_run is not None:
            initial = {k: v.detach().clone() for k, v in net.state_dict().items()}
        config = TrainConfig(**{**train_options, "seed": seed, "checkpoint": checkpoints[seed]})
        step, setup = full_batch_step, None
        if sampler is not None:
            from spikegraph.train.minibatch import build_loader, minibatch_step

            bar = Stages(f"preprocess {sampler}", ["sampler"], enabled=progress)
            with bar, bar.stage("sampler"):
                setup = build_loader(
                    sampler,
                    data,
                    num_layers=getattr(net, "num_layers", 2),
                    batch_size=batch_size,
                    options=sampler_options,
                    num_workers=num_workers,
                    seed=seed,
                    num_replicas=world_size,
                    rank=rank,
                    cache_dir=str(default_cache_dir() / "samplers"),
                )
            step = minibatch_step(setup.loader, mode=mode)
            step.progress = progress
        run_info = {
            "dataset": dataset,
            "split": split,
            "model": model,
            "model_options": effective,
            "sampler": sampler,
            "sampler_options": {} if setup is None else plain(setup.options),
            "batch_size": None if setup is None else setup.loader.batch_size,
            "mode": None if setup is None else step.mode,
            "evaluation": evaluation,
            "eval_batch_size": eval_batch_size if evaluation == "layerwise" else None,
        }
        result = fit(
            net,
            data,
            config,
            train_step=step,
            evaluate=evaluate,
            run_info=run_info,
            data_hash=data_hash,
            score=score,
        )
        record = RunRecord(
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
            preprocess_cached=None if setup is None else setup.sampler.preprocess_cached,
            batches_per_epoch=1 if setup is None else len(setup.loader),
            evaluation=evaluation,
            eval_batch_size=eval_batch_size if evaluation == "layerwise" else None,
            effective_model_options=effective,
            batch_size=run_info["batch_size"],
            mode=run_info["mode"],
            num_workers=num_workers if sampler is not None else 0,
            data_fingerprint=data_hash,
            data_provenance=provenance,
            metric="accuracy" if metric == "accuracies" else metric,
            peak_rss_mb=round(peak_rss_mb(), 1),
        )
        if on_run is not None:
            on_run(TrainedRun(record, net, initial, data, setup, step))
        return record

    def summarise(runs: list[RunRecord], interrupted: dict[str, Any] | None = None) -> Summary:
        return Summary(
            dataset=dataset,
            model=model,
            runs=runs,
            sampler=sampler,
            # world_size: processes that trained each model together (under torchrun)
            machine={**machine_info(), "world_size": world_size},
            date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            versions=versions(),
            interrupted=interrupted,
            data_provenance=provenance,
        )

    runs: list[RunRecord] = []
    seed = None
    try:
        for seed in seeds:
            runs.append(run_seed(seed))
    except KeyboardInterrupt as err:
        training = err if isinstance(err, TrainingInterrupted) else None
        done = [r.seed for r in runs]
        info = {"seeds": seeds, "finished": done, "interrupted_seed": seed}
        message = f"Interrupted during seed {seed}: {len(done)} of {len(seeds)} seed(s) finished"
        if training is not None:
            message += f"; {training}"
        summary = summarise(runs, info) if runs else None
        raise RunInterrupted(message, summary, seed, training) from err
    return summarise(runs)
