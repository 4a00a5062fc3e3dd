"""Node-classification training: Adam, weight decay, early stopping on validation accuracy.

One loop serves full-batch training and (through ``train_step``) mini-batch training; it
returns a :class:`TrainResult` record rather than printing.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score
from torch import Tensor, nn
from torch_geometric.data import Data
from tqdm.auto import tqdm

from spikegraph._validation import check_edge_index, check_features
from spikegraph.nn.monitor import SpikeMonitor

log = logging.getLogger(__name__)


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
            to resume from if it exists.
        checkpoint_every: Epochs between checkpoints.
    """

    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 5e-4
    patience: int | None = 100
    seed: int = 0
    progress: bool = True
    checkpoint: str | None = None
    checkpoint_every: int = 10

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"'epochs' must be >= 1, got {self.epochs}")
        if not self.lr > 0:
            raise ValueError(f"'lr' must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"'weight_decay' must be >= 0, got {self.weight_decay}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"'patience' must be >= 1 or None, got {self.patience}")
        if self.checkpoint_every < 1:
            raise ValueError(f"'checkpoint_every' must be >= 1, got {self.checkpoint_every}")


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes:
        test_acc: Test accuracy of the model with the best validation accuracy.
        val_acc: That best validation accuracy.
        train_acc: Training accuracy of the same model.
        best_epoch: Epoch (1-based) of the best validation accuracy.
        epochs_run: Epochs actually trained (early stopping may cut them short).
        time_per_epoch: Mean wall time of one training epoch, seconds.
        inference_time: Wall time of one full-graph evaluation, seconds.
        firing_rates: Per spiking layer, mean spikes per neuron and step on the full graph
            (empty for non-spiking models).
        history: Per epoch: loss, train/val accuracy.
        config: The :class:`TrainConfig` used.
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

    def to_dict(self, history: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not history:
            out.pop("history")
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
    """Accuracy on the train, validation and test masks (scikit-learn's ``accuracy_score``),
    and the validation loss (``val_loss``)."""
    pred = logits.argmax(dim=-1).cpu().numpy()
    y = data.y.cpu().numpy()
    out = {}
    for split in ("train", "val", "test"):
        mask = getattr(data, f"{split}_mask").cpu().numpy()
        out[split] = float(accuracy_score(y[mask], pred[mask]))
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


def fit(
    model: nn.Module,
    data: Data,
    config: TrainConfig | None = None,
    train_step: TrainStep = full_batch_step,
    evaluate: Callable[[nn.Module, Data], Tensor] = predict,
) -> TrainResult:
    """Train ``model`` on ``data`` with early stopping on validation accuracy.

    The weights with the best validation accuracy are restored into ``model`` at the end,
    and the test accuracy reported is theirs.

    Args:
        model: Any module with ``forward(x, edge_index, edge_weight=None) -> [N, C]``.
        data: Graph with ``x``, ``edge_index``, ``y`` and the three masks.
        config: Optimisation settings (defaults when ``None``).
        train_step: One epoch of training; full-batch by default.
        evaluate: Full-graph logits in eval mode.

    Returns:
        A :class:`TrainResult`.
    """
    config = config or TrainConfig()
    check_node_data(data)
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
    }
    ckpt = Path(config.checkpoint) if config.checkpoint else None
    if ckpt is not None and ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
        state = saved["state"]
        log.info("Resumed from %s at epoch %d", ckpt, state["epoch"])

    bar = tqdm(
        range(state["epoch"], config.epochs),
        disable=not config.progress,
        desc="train",
        initial=state["epoch"],
        total=config.epochs,
        leave=False,
    )
    for epoch in bar:
        start = time.perf_counter()
        loss = train_step(model, data, optimizer)
        state["train_time"] += time.perf_counter() - start
        acc = accuracies(evaluate(model, data), data)
        state["history"].append({"epoch": epoch + 1, "loss": loss, **acc})
        state["epoch"] = epoch + 1
        # Best validation accuracy; among equal accuracies, the lower validation loss.
        if (acc["val"], -acc["val_loss"]) > (state["best_val"], -state["best_val_loss"]):
            state.update(
                best_val=acc["val"],
                best_val_loss=acc["val_loss"],
                best_epoch=epoch + 1,
                best_state=copy.deepcopy(model.state_dict()),
            )
        bar.set_postfix(
            loss=f"{loss:.3f}", val=f"{acc['val']:.3f}", best=f"{state['best_val']:.3f}"
        )
        if ckpt is not None and (state["epoch"] % config.checkpoint_every == 0):
            _save_checkpoint(ckpt, model, optimizer, state)
        if config.patience is not None and state["epoch"] - state["best_epoch"] >= config.patience:
            log.info("Early stop at epoch %d (best %d)", state["epoch"], state["best_epoch"])
            break
    bar.close()
    if ckpt is not None:
        _save_checkpoint(ckpt, model, optimizer, state)

    model.load_state_dict(state["best_state"])
    with SpikeMonitor(model) as monitor:
        start = time.perf_counter()
        logits = evaluate(model, data)
        inference_time = time.perf_counter() - start
    acc = accuracies(logits, data)
    return TrainResult(
        test_acc=acc["test"],
        val_acc=acc["val"],
        train_acc=acc["train"],
        best_epoch=state["best_epoch"],
        epochs_run=state["epoch"],
        time_per_epoch=state["train_time"] / max(len(state["history"]), 1),
        inference_time=inference_time,
        firing_rates=monitor.firing_rates(),
        history=state["history"],
        config=asdict(config),
    )


def _save_checkpoint(path: Path, model: nn.Module, optimizer, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": torch.get_rng_state(),
            "state": state,
        },
        tmp,
    )
    os.replace(tmp, path)
