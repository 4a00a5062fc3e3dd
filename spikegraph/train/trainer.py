"""Node-classification training: Adam, weight decay, early stopping on validation accuracy.

One loop serves full-batch training and (through ``train_step``) mini-batch training; it
returns a :class:`TrainResult` record rather than printing.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import numbers
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from tqdm.auto import tqdm

from spikegraph._progress import bar_disable
from spikegraph._provenance import code_identity
from spikegraph._validation import check_choice, check_edge_index, check_features
from spikegraph.nn.monitor import (
    SilentLayerWarning,
    SpikeMonitor,
    silent_layer_message,
    silent_layers,
)
from spikegraph.train import distributed
from spikegraph.train.checkpoint import (
    ON_MISMATCH,
    CheckpointCodeWarning,
    CheckpointError,
    CheckpointMismatchError,
    check_output_file,
    checkpoint_lock,
    code_warning,
    data_fingerprint,
    differences,
    identity_hash,
    load_checkpoint,
    new_run_path,
    plain,
    rng_state,
    same_code,
    save_checkpoint,
    set_rng_state,
    writer,
)
from spikegraph.train.device import module_device, resolve_device

log = logging.getLogger(__name__)


def _check_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"'{name}' must be a number, got {type(value).__name__} ({value!r})")
    return float(value)


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"'{name}' must be >= {minimum}, got {value}")
    return int(value)


@dataclass
class TrainConfig:
    """Optimisation settings.

    Attributes:
        epochs: Maximum number of epochs.
        lr: Adam learning rate.
        weight_decay: L2 penalty (Adam's ``weight_decay``).
        patience: Stop after this many epochs without a better validation accuracy
            (``None``: never stop early).
        seed: Seed of torch's RNG, set before the first epoch.
        progress: Show a progress bar.
        checkpoint: File to save the training state to every ``checkpoint_every`` epochs and
            at the end, and to resume from if it exists (see :mod:`spikegraph.train.checkpoint`:
            a checkpoint of another configuration or other data is refused).
        checkpoint_every: Epochs between checkpoints.
        checkpoint_mismatch: When ``checkpoint`` belongs to another run: ``"error"`` (refuse,
            naming the fields that differ) or ``"new"`` (start this run at
            ``<stem>.cfg-<hash><suffix>`` beside it; :attr:`TrainResult.checkpoint` says where).
        device: Where to train: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"`` (CUDA when
            available), or ``None`` (default): wherever the model's parameters are. The model
            is moved there, and so is the data (a copy: the caller's graph stays where it
            is). Not part of a run's identity: a checkpoint resumes on another device (see
            :func:`fit`). Checked here (:func:`~spikegraph.train.device.resolve_device`).
    """

    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 5e-4
    patience: int | None = 100
    seed: int = 0
    progress: bool = True
    checkpoint: str | None = None
    checkpoint_every: int = 10
    checkpoint_mismatch: str = "error"
    device: str | None = None

    def __post_init__(self) -> None:
        _check_int(self.epochs, "epochs", 1)
        if not _check_number(self.lr, "lr") > 0:
            raise ValueError(f"'lr' must be > 0, got {self.lr}")
        if not math.isfinite(self.lr):
            raise ValueError(f"'lr' must be finite, got {self.lr}")
        if not _check_number(self.weight_decay, "weight_decay") >= 0:
            raise ValueError(f"'weight_decay' must be >= 0, got {self.weight_decay}")
        if not math.isfinite(self.weight_decay):
            raise ValueError(f"'weight_decay' must be finite, got {self.weight_decay}")
        if self.patience is not None:
            if isinstance(self.patience, numbers.Integral) and self.patience < 1:
                raise ValueError(f"'patience' must be >= 1 or None, got {self.patience}")
            _check_int(self.patience, "patience", 1)
        _check_int(self.seed, "seed", 0)
        _check_int(self.checkpoint_every, "checkpoint_every", 1)
        check_choice(self.checkpoint_mismatch, ON_MISMATCH, "checkpoint_mismatch")
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, os.PathLike)):
            raise TypeError(f"'checkpoint' must be a path, got {self.checkpoint!r}")
        if self.device is not None:
            resolve_device(self.device)
            if isinstance(self.device, torch.device):
                self.device = str(self.device)

    def identity(self) -> dict[str, Any]:
        """The fields that change a run's result (not progress or checkpointing)."""
        return {k: getattr(self, k) for k in ("epochs", "lr", "weight_decay", "patience", "seed")}


class NonFiniteLossError(FloatingPointError):
    """Training diverged: a loss (training or validation) is NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (``KeyboardInterrupt``) during :func:`fit`, after what could be kept was saved.

    Attributes:
        epoch: Epochs finished before the interrupt (the checkpoint holds this many).
        checkpoint: The checkpoint file that holds them, or ``None`` when nothing was saved
            (no checkpoint asked for, or no epoch finished).
    """

    def __init__(self, message: str, epoch: int, checkpoint: Path | None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.checkpoint = checkpoint

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        test_acc: Test accuracy of the model with the best validation accuracy, scored
            once more after training with those weights restored.
        val_acc: Its validation accuracy in that scoring: the best epoch's, for a model
            that computes the same output every time. A stochastic encoder (``"bernoulli"``)
            draws a new spike train for it, so its scores are a fresh evaluation of the
            selected weights and differ a little from the best epoch's row of ``history``.
        train_acc: Training accuracy of the same model.
        best_epoch: Epoch (1-based) of the best validation accuracy.
        epochs_run: Epochs actually trained (early stopping may cut them short).
        time_per_epoch: Mean wall time of one training epoch, seconds.
        inference_time: Wall time of one full-graph evaluation, seconds.
        firing_rates: Per spiking layer, mean spikes per neuron and step on the full graph
            (empty for non-spiking models).
        history: Per epoch: loss, train/val/test accuracy, validation loss.
        epoch_times: Per epoch, the wall time of its training step in seconds (validation
            scoring excluded; ``None`` for epochs resumed from a checkpoint written before
            epochs were timed): the x axis of a convergence curve against time.
        config: The :class:`TrainConfig` used.
        checkpoint: The checkpoint file this run used (``None`` without one); differs from
            ``config["checkpoint"]`` when a mismatching checkpoint made it start a new run.
        device: The device the run trained on (``"cpu"``, ``"cuda:0"``...).
        resumed_from: ``None`` for a run trained from its first epoch here; for a run that
            resumed from a checkpoint, or whose finished result a checkpoint returned:
            ``{"checkpoint", "epoch", "finished", "written_by", "same_code"}``: the file, the
            epochs it held, whether it held a finished run, the code (commit and package
            versions), date and epochs of each session that wrote it (empty for a checkpoint
            written before checkpoints named their code), and whether all of them ran this
            code (``None``: cannot be told; see
            :func:`~spikegraph.train.checkpoint.same_code`). The epochs it held were trained
            by that code, which may not be this one (a :class:`~spikegraph.train.checkpoint.
            CheckpointCodeWarning` then said so).
    """

    test_acc: float
    val_acc: float
    train_acc: float
    best_epoch: int
    epochs_run: int
    time_per_epoch: float
    inference_time: float
    firing_rates: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    device: str = "cpu"
    epoch_times: list[float | None] = field(default_factory=list)
    resumed_from: dict[str, Any] | None = None

    def to_dict(self, history: bool = False) -> dict[str, Any]:
        """Plain data; the per-epoch ``history`` and ``epoch_times`` only with ``history``;
        ``resumed_from`` only for a run resumed from a checkpoint (records of runs trained
        from their start stay as they were)."""
        out = asdict(self)
        if self.resumed_from is None:
            out.pop("resumed_from")
        if not history:
            out.pop("history")
            out.pop("epoch_times")
        return out


def check_node_data(data: Data) -> None:
    """Validate a node-classification graph: features, edges, labels and masks."""
    if data.num_nodes is None or data.num_nodes == 0:
        raise ValueError("The graph is empty (num_nodes=0)")
    check_features(data.x, "data.x")
    check_edge_index(data.edge_index, data.num_nodes, name="data.edge_index")
    for mask in ("train_mask", "val_mask", "test_mask"):
        m = getattr(data, mask, None)
        if m is None:
            raise ValueError(f"'data' has no '{mask}'")
        if m.dtype != torch.bool or m.numel() != data.num_nodes:
            raise ValueError(
                f"'data.{mask}' must be a bool tensor of {data.num_nodes} entries, got dtype "
                f"{m.dtype} and {m.numel()} entries"
            )
        if not bool(m.any()):
            raise ValueError(f"'data.{mask}' selects no node")


def predict(model: nn.Module, data: Data) -> Tensor:
    """Full-graph logits in eval mode."""
    model.eval()
    with torch.no_grad():
        return model(data.x, data.edge_index, data.edge_weight if "edge_weight" in data else None)


def accuracies(logits: Tensor, data: Data) -> dict[str, float]:
    """Accuracy (the fraction of nodes whose arg-max class is the label) on the train,
    validation and test masks, and the validation loss (``val_loss``).

    Raises:
        ValueError: when a mask selects no node.
    """
    correct = logits.argmax(dim=-1) == data.y
    out = {}
    for split in ("train", "val", "test"):
        mask = getattr(data, f"{split}_mask")
        if not bool(mask.any()):
            raise ValueError(f"{split}_mask selects no node: its accuracy is undefined")
        out[split] = float(correct[mask].double().mean())
    out["val_loss"] = float(F.cross_entropy(logits[data.val_mask], data.y[data.val_mask]))
    return out


def full_batch_step(model: nn.Module, data: Data, optimizer: torch.optim.Optimizer) -> float:
    """One gradient step on the whole graph; returns the training loss."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    edge_weight = data.edge_weight if "edge_weight" in data else None
    out = model(data.x, data.edge_index, edge_weight)
    loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask])
    loss.backward()
    optimizer.step()
    return float(loss.detach())


TrainStep = Callable[[nn.Module, Data, torch.optim.Optimizer], float]


def describe(obj: Any) -> Any:
    """What identifies a train step or evaluator in a checkpoint: its ``describe()`` if it
    has one (e.g. a mini-batch step: sampler, loader and mode), else its qualified name."""
    if hasattr(obj, "describe"):
        return obj.describe()
    name = getattr(obj, "__qualname__", type(obj).__qualname__)
    return f"{getattr(obj, '__module__', '')}.{name}"


_SETTING_TYPES = (bool, int, float, str, type(None))


def module_settings(model: nn.Module) -> dict[str, Any]:
    """The class and plain settings of every module of ``model``: its public attributes
    that are numbers, strings, ``None`` or tuples/lists of them (``T``, a neuron's ``tau``,
    a dropout's ``p``, PyG's ``add_self_loops``...), keyed ``"<module>.<attribute>"``; not
    ``training``, which :func:`fit` sets itself.

    Two models built with different options differ here even where their parameters have
    the same shapes, so a checkpoint of one is not resumed into the other."""
    out: dict[str, Any] = {}
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        cls = type(module)
        out[f"{prefix}<class>"] = f"{cls.__module__}.{cls.__qualname__}"
        for attr, value in vars(module).items():
            if attr.startswith("_") or attr == "training":
                continue
            items = value if isinstance(value, (tuple, list)) else (value,)
            if all(isinstance(v, _SETTING_TYPES) for v in items):
                out[f"{prefix}{attr}"] = value
    return out


def run_identity(
    model: nn.Module,
    config: TrainConfig,
    train_step: Any,
    evaluate: Any,
    data_hash: str,
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a checkpoint must agree on to be resumed (plain data)."""
    cls = type(model)
    world_size = distributed.world()[1]
    return plain(
        {
            **({"world_size": world_size} if world_size > 1 else {}),
            "train": config.identity(),
            "model": {
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "parameters": {n: list(p.shape) for n, p in model.named_parameters()},
                "settings": module_settings(model),
            },
            "train_step": describe(train_step),
            "evaluate": describe(evaluate),
            "data": data_hash,
            "run": run_info or {},
        }
    )


def fit(
    model: nn.Module,
    data: Data,
    config: TrainConfig | None = None,
    train_step: TrainStep = full_batch_step,
    evaluate: Callable[[nn.Module, Data], Tensor] = predict,
    *,
    run_info: dict[str, Any] | None = None,
    data_hash: str | None = None,
    score: Callable[[Tensor, Data], dict[str, float]] = accuracies,
) -> TrainResult:
    """Train ``model`` on ``data`` with early stopping on validation accuracy.

    The weights with the best validation accuracy are restored into ``model`` at the end,
    and the test accuracy reported is theirs.

    With ``config.checkpoint``, the whole training state (weights, optimiser, every random
    generator, the train step's own state such as a mini-batch loader's, history) is saved
    atomically every ``checkpoint_every`` epochs and when the run finishes; a run started
    again with the same settings continues from it and gives exactly the result of a run
    never interrupted; a finished run is returned as it was, without training further.

    In a data-parallel run (``torchrun``, :mod:`spikegraph.train.distributed`) every process
    calls ``fit`` with its shard's ``train_step``; rank 0 alone evaluates (the others wait
    for its scores, so every process takes the same early-stopping decision), holds the
    checkpoint's lock and writes it; every process resumes from it (each with its own random
    generators). The checkpoint's identity holds the world size: a run with another number
    of processes is refused, as another configuration is.

    Args:
        model: Any module with ``forward(x, edge_index, edge_weight=None) -> [N, C]``.
        data: Graph with ``x``, ``edge_index``, ``y`` and the three masks.
        config: Optimisation settings (defaults when ``None``).
        train_step: One epoch of training; full-batch by default. If it has ``state_dict()``
            and ``load_state_dict()`` (e.g. :func:`~spikegraph.train.minibatch.minibatch_step`),
            its state goes into checkpoints; its ``describe()`` into their identity.
        evaluate: Full-graph logits in eval mode.
        run_info: What else identifies the run (model name and options, dataset, split,
            sampler...): stored in checkpoints and compared on resume.
        data_hash: :func:`~spikegraph.train.checkpoint.data_fingerprint` of ``data`` if the
            caller has it (computed here when a checkpoint needs it).
        score: Train/val/test accuracies and ``val_loss`` from logits (default
            :func:`accuracies`; :func:`~spikegraph.train.scores.ogb_scores` for OGB's
            Evaluator): used for early stopping, the history and the result.

    Returns:
        A :class:`TrainResult`.

    Raises:
        CheckpointError: if the checkpoint is unreadable, corrupt, not plain data, or cannot
            be written (checked before the first epoch).
        CheckpointMismatchError: if it belongs to another configuration or other data
            (unless ``config.checkpoint_mismatch == "new"``).
        CheckpointInUseError: if another running process trains from the same checkpoint
            file (each run holds ``<checkpoint>.lock`` while it trains).
        NonFiniteLossError: if the training or validation loss becomes NaN or infinite.
    """
    with contextlib.ExitStack() as held:
        return _fit(model, data, config, train_step, evaluate, run_info, data_hash, held, score)


def _fit(
    model: nn.Module,
    data: Data,
    config: TrainConfig | None,
    train_step: TrainStep,
    evaluate: Callable[[nn.Module, Data], Tensor],
    run_info: dict[str, Any] | None,
    data_hash: str | None,
    held: contextlib.ExitStack,
    score: Callable[[Tensor, Data], dict[str, float]] = accuracies,
) -> TrainResult:
    """:func:`fit`; the checkpoint's lock is entered into ``held``, which :func:`fit`
    releases when training ends, however it ends."""
    config = config or TrainConfig()
    rank, world_size = distributed.world()
    main = rank == 0
    check_node_data(data)
    device = resolve_device(module_device(model) if config.device is None else config.device)
    model.to(device)
    data = data_on(data, device)
    torch.manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    state = {
        "epoch": 0,
        "best_val": -math.inf,
        "best_val_loss": math.inf,
        "best_epoch": 0,
        "best_state": None,
        "history": [],
        "train_time": 0.0,
        "epoch_times": [],
    }
    finished = False
    ckpt = Path(config.checkpoint) if config.checkpoint else None
    identity: dict[str, Any] = {}
    # the sessions that wrote the checkpoint before this one (``written_by``), this
    # process's code, and what the result says of a checkpoint it resumed from
    written_by: list[dict[str, Any]] = []
    code: dict[str, Any] | None = None
    resumed_from: dict[str, Any] | None = None
    if ckpt is not None:
        code = checkpoint_code()
        data_hash = data_hash or data_fingerprint(data)
        identity = run_identity(model, config, train_step, evaluate, data_hash, run_info)
        ckpt = _choose_checkpoint(ckpt, identity, config.checkpoint_mismatch)
        check_output_file(ckpt, "Checkpoint")
        if main:  # the one process that writes it
            held.enter_context(checkpoint_lock(ckpt))
        if ckpt.exists():
            saved = load_checkpoint(ckpt)
            _check_identity(ckpt, saved["identity"], identity)
            _restore(ckpt, saved, model, optimizer, train_step, rank)
            _warn_other_device(ckpt, saved.get("device"), device)
            state, finished = saved["state"], bool(saved["finished"])
            # a checkpoint written before epochs were timed: those epochs' times are unknown
            state.setdefault("epoch_times", [None] * len(state["history"]))
            log.info("Resumed from %s at epoch %d", ckpt, state["epoch"])
            earlier = list(saved.get("written_by") or [])
            resumed_from = {
                "checkpoint": str(ckpt),
                "epoch": state["epoch"],
                "finished": finished,
                "written_by": earlier,
                "same_code": same_code(earlier, code),
            }
            note = code_warning(ckpt, earlier, code, state["epoch"], finished)
            if note is not None and main:
                warnings.warn(note, CheckpointCodeWarning, stacklevel=3)
            # a checkpoint that names no code: its epochs stay marked as of unknown code
            written_by = earlier or [writer(None, None, state["epoch"], finished)]
        distributed.barrier()  # every process has read it before rank 0 writes again

    def payload(done: bool) -> dict[str, Any]:
        """The checkpoint of this moment, as copies (training goes on changing the
        originals in place)."""
        step_state = train_step.state_dict() if hasattr(train_step, "state_dict") else None
        rngs = distributed.all_gather(rng_state(model))  # every process's, in rank order
        # Every process's too: a sampler's state (AS-GCN's sampling function, VR-GCN's
        # histories) follows the batches of that process's shard.
        steps = distributed.all_gather(step_state) if world_size > 1 else None
        return {
            "identity": identity,
            "config_hash": identity_hash(identity),
            "finished": done,
            "device": str(device),
            "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "optimizer": copy.deepcopy(optimizer.state_dict()),
            "rng": rngs[0],
            "world_size": world_size,
            **({"rng_ranks": rngs, "train_step_ranks": steps} if world_size > 1 else {}),
            "train_step": copy.deepcopy(step_state),
            "written_by": [*written_by, writer(code, _now(), state["epoch"], done)],
            "state": {
                **state,
                "history": list(state["history"]),
                "epoch_times": list(state["epoch_times"]),
            },
        }

    bar = tqdm(
        disable=bar_disable(config.progress and main),  # also off when stderr is not a terminal
        desc="train",
        initial=state["epoch"],
        total=config.epochs,
        leave=False,
    )
    was_finished = finished
    # With a checkpoint, the state at the last epoch boundary not yet on disk (a copy), so
    # that Ctrl-C in the middle of an epoch saves a state a resumed run continues exactly.
    saved_epoch, boundary = state["epoch"], None
    try:
        while not finished:
            # The stopping rule is checked before each epoch, so a run resumed from any
            # checkpoint takes the same decision as the run that wrote it.
            if state["epoch"] >= config.epochs or (
                config.patience is not None
                and state["epoch"] - state["best_epoch"] >= config.patience
            ):
                if state["epoch"] < config.epochs:
                    log.info(
                        "Early stop at epoch %d (best %d)", state["epoch"], state["best_epoch"]
                    )
                finished = True
                break
            epoch = state["epoch"] + 1
            start = time.perf_counter()
            loss = train_step(model, data, optimizer)
            elapsed = time.perf_counter() - start
            state["train_time"] += elapsed
            acc = _scores(model, data, evaluate, main, score)
            for name, value in (("training loss", loss), ("validation loss", acc["val_loss"])):
                if not math.isfinite(value):
                    raise NonFiniteLossError(
                        f"The {name} is {value} at epoch {epoch}: training diverged (try a "
                        f"lower learning rate than lr={config.lr}); no result is reported"
                    )
            # Best validation accuracy; among equal accuracies, the lower validation loss.
            best = (acc["val"], -acc["val_loss"]) > (state["best_val"], -state["best_val_loss"])
            after = {
                **state,
                "history": [*state["history"], {"epoch": epoch, "loss": loss, **acc}],
                "epoch_times": [*state["epoch_times"], elapsed],
                "epoch": epoch,
            }
            if best:
                after.update(
                    best_val=acc["val"],
                    best_val_loss=acc["val_loss"],
                    best_epoch=epoch,
                    best_state=copy.deepcopy(model.state_dict()),
                )
            state = after  # one assignment: never a state half-way through an epoch
            bar.update(1)
            bar.set_postfix(
                loss=f"{loss:.3f}", val=f"{acc['val']:.3f}", best=f"{state['best_val']:.3f}"
            )
            if ckpt is not None:
                boundary = payload(False)
                if epoch % config.checkpoint_every == 0:
                    if main:
                        save_checkpoint(ckpt, boundary)
                    saved_epoch, boundary = epoch, None
    except KeyboardInterrupt as err:
        bar.close()
        raise _interrupted(ckpt if main else None, saved_epoch, boundary, state["epoch"]) from err
    bar.close()
    if ckpt is not None and not was_finished:
        final = payload(True)
        if main:
            save_checkpoint(ckpt, final)

    model.load_state_dict(state["best_state"])
    acc, inference_time, firing_rates = None, 0.0, {}
    if main:  # the others wait for rank 0's scores
        with SpikeMonitor(model) as monitor:
            start = time.perf_counter()
            logits = evaluate(model, data)
            inference_time = time.perf_counter() - start
        acc, firing_rates = score(logits, data), monitor.firing_rates()
        if silent := silent_layers(firing_rates):
            where = f"in the evaluation with the weights of epoch {state['best_epoch']} (the best)"
            warnings.warn(silent_layer_message(silent, where), SilentLayerWarning, stacklevel=2)
    acc, inference_time, firing_rates = distributed.broadcast((acc, inference_time, firing_rates))
    return TrainResult(
        test_acc=acc["test"],
        val_acc=acc["val"],
        train_acc=acc["train"],
        best_epoch=state["best_epoch"],
        epochs_run=state["epoch"],
        time_per_epoch=state["train_time"] / max(len(state["history"]), 1),
        inference_time=inference_time,
        firing_rates=firing_rates,
        history=state["history"],
        epoch_times=state["epoch_times"],
        config=asdict(config),
        checkpoint=None if ckpt is None else str(ckpt),
        device=str(device),
        resumed_from=plain(resumed_from) if resumed_from is not None else None,
    )


def checkpoint_code() -> dict[str, Any]:
    """The code identity a checkpoint names its writer by: the checkout's commit and the
    package versions (:func:`spikegraph._provenance.code_identity`, the identity a tuning
    trial's kept seed runs are compared on)."""
    return code_identity()


def _now() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _scores(
    model: nn.Module,
    data: Data,
    evaluate: Callable[[nn.Module, Data], Tensor],
    main: bool,
    score: Callable[[Tensor, Data], dict[str, float]] = accuracies,
) -> dict[str, float]:
    """``score`` of ``evaluate``'s logits; in a data-parallel run computed by rank 0 alone and
    received by the others (:func:`~spikegraph.train.distributed.broadcast`)."""
    return distributed.broadcast(score(evaluate(model, data), data) if main else None)


def data_on(data: Data, device: torch.device) -> Data:
    """``data`` with its tensors on ``device``: ``data`` itself when they already are, else
    a shallow copy moved there (the caller's graph is left where it is)."""
    if all(t.device == device for _, t in data.items() if isinstance(t, Tensor)):
        return data
    return copy.copy(data).to(device)


def _interrupted(
    ckpt: Path | None, saved_epoch: int, boundary: dict[str, Any] | None, epoch: int
) -> TrainingInterrupted:
    """Save the last finished epoch (if a checkpoint is kept) and say what was kept."""
    if ckpt is None:
        return TrainingInterrupted(
            f"Training interrupted after {epoch} finished epoch(s); no checkpoint was asked "
            "for, so nothing was saved (give one to resume an interrupted run)",
            epoch,
            None,
        )
    if boundary is not None:
        save_checkpoint(ckpt, boundary)
        saved_epoch = boundary["state"]["epoch"]
    if saved_epoch == 0:
        return TrainingInterrupted(
            "Training interrupted in epoch 1: no epoch finished, nothing was saved", 0, None
        )
    return TrainingInterrupted(
        f"Training interrupted in epoch {saved_epoch + 1}: saved epoch {saved_epoch} to "
        f"{ckpt}; run again with the same settings to resume from it",
        saved_epoch,
        ckpt,
    )


def _warn_other_device(path: Path, written_on: str | None, device: torch.device) -> None:
    if written_on is not None and torch.device(written_on).type != device.type:
        log.warning(
            "Checkpoint %s was written on %s, resumed on %s: the run continues with this "
            "device's random generators and float rounding, so it is a valid run but not "
            "bit for bit the one an uninterrupted run on either device gives",
            path,
            written_on,
            device,
        )


def _choose_checkpoint(path: Path, identity: dict[str, Any], on_mismatch: str) -> Path:
    """``path``, or with ``on_mismatch="new"`` and a checkpoint of another run there, the
    path of this configuration's own run beside it."""
    if on_mismatch != "new" or not path.is_file():
        return path
    saved = load_checkpoint(path)
    if not differences(saved["identity"], identity):
        return path
    new = new_run_path(path, identity_hash(identity))
    log.warning(
        "Checkpoint %s belongs to another configuration; this run uses %s instead", path, new
    )
    return new


def _check_identity(path: Path, saved: dict[str, Any], now: dict[str, Any]) -> None:
    diffs = differences(saved, now)
    if diffs:
        raise CheckpointMismatchError(path, diffs)


def _restore(
    path: Path, saved: dict, model: nn.Module, optimizer, train_step: Any, rank: int = 0
) -> None:
    """Load weights, optimiser, random generators and the train step's state (process
    ``rank``'s own, in a checkpoint of a data-parallel run)."""
    try:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        rngs = saved.get("rng_ranks")
        set_rng_state(model, saved["rng"] if rngs is None else rngs[rank])
        steps = saved.get("train_step_ranks")
        step_state = saved.get("train_step") if steps is None else steps[rank]
        if step_state is not None:
            if not hasattr(train_step, "load_state_dict"):
                raise TypeError("it holds a train step state this train step cannot take")
            train_step.load_state_dict(step_state)
        for key in ("epoch", "best_epoch", "history", "best_state", "train_time"):
            if key not in saved["state"]:
                raise KeyError(key)
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as err:
        raise CheckpointError(
            f"Checkpoint {path} does not fit this run and was not used ({type(err).__name__}: "
            f"{str(err)[:300]})"
        ) from err
