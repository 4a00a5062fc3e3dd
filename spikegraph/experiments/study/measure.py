r"""What a sampler study measures on each trained cell, beyond the training record.

Along the comparison axes of the survey by Liu et al. ("Sampling Methods for Efficient
Training of Graph Convolutional Networks: A Survey", arXiv 2021, IEEE/CAA Journal of
Automatica Sinica 2022): the nodes and edges a batch touches, the bias and variance of the
gradient it estimates against the full-batch gradient, at several batch sizes, and the
energy of a training step and of an inference from the cost counters
(:mod:`spikegraph.cost`).

- **Batches**: the first ``measure_batches`` batches of the training loader's first epoch
  (the batches epoch 1 trained on): input nodes (block 0's sources, the features read),
  nodes of every layer (each block's sources, then the last block's targets), edges of every
  block, and the edges the batch computes on (:attr:`spikegraph.samplers.Batch.num_edges`).
- **Gradient**: at each budget multiple ``m`` the sampler is built again with its batches
  ``m`` times as large (:func:`~spikegraph.experiments.study.budget.scaled_budget`), and
  ``gradient_batches`` batches of its loader (the same seed as training) each give a gradient
  (:func:`~spikegraph.experiments.gradient_error.batch_gradient`: the training loss, the
  batch's mode and loss weights), compared with the exact full-batch gradient of the mean
  training loss by :class:`~spikegraph.experiments.gradient_error.ErrorStats` (one row: the
  gradient vector). Both in eval mode (no dropout: sampling is the only noise), at the
  weights ``gradient_weights`` names. Samplers with historical activations (VR-GCN) first
  run one epoch of forward passes with those weights, which fills the histories as one
  training epoch would ("warm" histories).
- **Energy**: counted on the trained model (:func:`spikegraph.cost.count`, ``execution``
  ``"auto"``: event-driven for spiking models, dense for the others; a static spike input
  counted at every time step, the literature's convention, and a real-valued one once, as
  the counter does; the cell records which applied; the ``45nm`` profile). A training step is
  the forward pass of one training batch (the batches above), in eval mode; the backward
  pass and the optimiser step are not counted (the counters count forward operations). An
  epoch is a step times the batches per epoch. An inference is one full-graph forward pass.
  For full-batch training a step is the full-graph forward pass.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch_geometric.data import Data

from spikegraph.cost import DEFAULT_STATIC_INPUT, count, describe_static_input
from spikegraph.experiments.gradient_error import (
    ErrorStats,
    batch_gradient,
    full_batch_gradient,
    layer_edges_of,
    layer_sizes_of,
)
from spikegraph.experiments.study.budget import FULL_BATCH, StudyBudget, scaled_budget
from spikegraph.nn.neurons import SpikingNeuron
from spikegraph.samplers import SAMPLERS, Batch, Loader
from spikegraph.train.minibatch import batch_forward, build_loader, resolve_mode

log = logging.getLogger(__name__)

#: Energy profile of every study (Horowitz, ISSCC 2014, 45 nm; see spikegraph.cost).
PROFILE = "45nm"


def _applied(reports: list[Any]) -> str | list[str | None] | None:
    """The static-input convention the counter applied in ``reports``: the one value they
    share, else each report's in order."""
    values = [r.static_input for r in reports]
    return values[0] if len(set(values)) == 1 else values


def _static_input_text(applied: dict[str, Any]) -> str:
    def text(value: Any) -> str:
        if isinstance(value, list):
            return "differs between the measured batches (" + ", ".join(map(str, value)) + ")"
        return describe_static_input(value)

    if applied["inference"] == applied["training_step"]:
        return text(applied["inference"])
    return f"inference: {text(applied['inference'])}; training steps: " + text(
        applied["training_step"]
    )


def energy_convention(model: nn.Module, inference: Any, steps: list[Any]) -> dict[str, Any]:
    """How a cell's energy was counted, in words and settings (stored beside the numbers).

    ``static_input`` is the convention the counter *applied* (the reports' own
    ``static_input``) to the inference and to the training steps, not the one requested
    (``static_input_requested``): a static input that is not binary (PubMed's TF-IDF rows) is
    counted once under either convention, and then none applied (``None``).
    """
    spiking = any(isinstance(m, SpikingNeuron) for m in model.modules())
    applied = {"inference": inference.static_input, "training_step": _applied(steps)}
    return {
        "execution": "event" if spiking else "dense",
        "static_input_requested": DEFAULT_STATIC_INPUT,
        "static_input": applied,
        "static_input_text": _static_input_text(applied) if spiking else None,
        "training_step": "forward pass of one training batch in eval mode (no dropout); the "
        "backward pass and the optimiser step are not counted",
        "training_epoch": "a training step times the batches per epoch",
        "inference": "one full-graph forward pass in eval mode",
    }


def _input(data: Data) -> list[Any]:
    args = [data.x, data.edge_index]
    if "edge_weight" in data and data.edge_weight is not None:
        args.append(data.edge_weight)
    return args


def count_full(model: nn.Module, data: Data) -> Any:
    """:func:`~spikegraph.cost.count` of one full-graph forward pass (eval mode, no grad)."""
    with torch.no_grad():
        return count(model, *_input(data), profile=PROFILE, static_input=DEFAULT_STATIC_INPUT)


def count_batch(model: nn.Module, data: Data, batch: Batch, mode: str) -> Any:
    """:func:`~spikegraph.cost.count` of the forward pass of one batch, as training runs it
    (:func:`~spikegraph.train.minibatch.batch_forward` in ``mode``)."""
    x_in = data.x.index_select(0, batch.n_id)
    with torch.no_grad():
        return count(
            model,
            x_in,
            forward=lambda x: batch_forward(model, x, batch, mode),
            profile=PROFILE,
            static_input=DEFAULT_STATIC_INPUT,
            num_nodes=max(batch.num_targets, 1),
        )


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _mean_lists(rows: list[list[int]]) -> list[float]:
    return [statistics.fmean(r[i] for r in rows) for i in range(len(rows[0]))]


def batches_and_energy(
    model: nn.Module,
    data: Data,
    loader: Loader | None,
    mode: str | None,
    num_batches: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Nodes and edges of the first ``num_batches`` batches of ``loader``'s first epoch, and
    the energy of a training step on them and of a full-graph inference (see the module
    docstring); ``loader=None``: full-batch training.

    Returns:
        ``(batches, energy)`` as plain data.
    """
    model.eval()
    inference = count_full(model, data)
    if loader is None:
        n, e = data.num_nodes, int(data.edge_index.size(1))
        batches = {
            "mode": "full-batch",
            "batches_per_epoch": 1,
            "measured_batches": 1,
            "input_nodes": float(n),
            "targets": float(int(data.train_mask.sum())),
            "nodes_per_layer": [float(n)] * 3,
            "edges_per_layer": [float(e)] * 2,
            "edges": float(e),
        }
        steps = [inference]
    else:
        loader.set_epoch(0)  # the batches of the first training epoch
        drawn = list(itertools.islice(iter(loader), num_batches))
        batches = {
            "mode": mode,
            "batches_per_epoch": len(loader),
            "measured_batches": len(drawn),
            "input_nodes": _mean([b.n_id.numel() for b in drawn]),
            "targets": _mean([b.num_targets for b in drawn]),
            "nodes_per_layer": _mean_lists([layer_sizes_of(b) for b in drawn]),
            "edges_per_layer": _mean_lists([layer_edges_of(b) for b in drawn]),
            "edges": _mean([b.num_edges for b in drawn]),
        }
        steps = [count_batch(model, data, b, mode) for b in drawn]
    step_pj = _mean([r.total.energy_pj for r in steps])
    energy = {
        "profile": inference.profile.to_dict(),
        "convention": energy_convention(model, inference, steps),
        "train_step_pj": step_pj,
        "train_step_macs": _mean([r.total.macs for r in steps]),
        "train_step_acs": _mean([r.total.acs for r in steps]),
        "train_epoch_pj": step_pj * batches["batches_per_epoch"],
        "inference_pj": inference.total.energy_pj,
        "inference_per_node_pj": inference.total.energy_per_node_pj,
        # firing rates of the training batches' forward passes (sampled neighbourhoods),
        # beside the record's full-graph ones
        "batch_firing_rates": {
            k: _mean([r.firing_rates().get(k, 0.0) for r in steps]) for k in steps[0].firing_rates()
        },
        "warnings": sorted({w for r in [inference, *steps] for w in r.warnings}),
    }
    return batches, energy


def _gradients(
    model: nn.Module,
    data: Data,
    loader: Loader,
    mode: str,
    exact: torch.Tensor,
    num_batches: int,
) -> dict[str, Any]:
    """Error statistics of ``num_batches`` gradients of ``loader``'s batches (those without
    targets skipped, as training skips them; at most ten epochs are drawn)."""
    stats = ErrorStats(exact.unsqueeze(0))
    row = torch.zeros(1, dtype=torch.long)
    sizes, skipped, got = [], 0, 0
    for _ in range(10):
        for batch in loader:
            grad = batch_gradient(model, data, batch, mode)
            if grad is None:
                skipped += 1
                continue
            stats.add(row, grad.unsqueeze(0))
            sizes.append(batch.n_id.numel())
            got += 1
            if got == num_batches:
                break
        if got == num_batches:
            break
    return {
        **stats.summary(),
        "batches": got,
        "batches_without_targets": skipped,
        "input_nodes": _mean(sizes),
    }


def _warm_histories(model: nn.Module, data: Data, loader: Loader, mode: str) -> None:
    """One epoch of forward passes over ``loader``: the histories of a sampler that keeps
    them (VR-GCN) then hold the activations of ``model``'s weights."""
    with torch.no_grad():
        for batch in loader:
            batch_forward(model, data.x.index_select(0, batch.n_id), batch, mode)


def gradient_error(
    model: nn.Module,
    data: Data,
    sampler: str,
    options: dict[str, Any],
    batch_size: int | None,
    num_layers: int,
    budget: StudyBudget,
    seed: int,
    cache_dir: str | None,
) -> dict[str, Any]:
    """Bias and variance of the gradient of ``sampler`` (or of full-batch training) at each
    of ``budget.budget_multiples``, against the exact full-batch gradient of ``model`` as it
    is (the caller sets the weights; see the module docstring).

    Returns:
        ``{"weights", "exact_norm", "budgets": [...]}``, one entry per multiple with the
        option scaled, its value, the mean input nodes and targets of the measured batches
        and :meth:`~spikegraph.experiments.gradient_error.ErrorStats.summary`.
    """
    model.eval()
    torch.manual_seed(seed)
    exact = full_batch_gradient(model, data)
    out: dict[str, Any] = {
        "weights": budget.gradient_weights,
        "exact_norm": float(exact.norm()),
        "budgets": [],
    }
    if sampler == FULL_BATCH:  # the reference: the same full batch twice, no error at all
        stats = ErrorStats(exact.unsqueeze(0))
        for _ in range(2):
            stats.add(torch.zeros(1, dtype=torch.long), full_batch_gradient(model, data)[None])
        summary = {**stats.summary(), "batches": 2, "batches_without_targets": 0}
        entry = {"multiple": 1.0, "option": None, "value": None, **summary}
        out["budgets"].append({**entry, "input_nodes": float(data.num_nodes)})
        return out
    cls = SAMPLERS[sampler]
    num_train = int(data.train_mask.sum())
    for multiple in budget.budget_multiples:
        opts, bs, option, value = scaled_budget(cls, options, batch_size, multiple, num_train)
        setup = build_loader(
            sampler,
            data,
            num_layers=num_layers,
            batch_size=bs,
            options=opts,
            seed=seed,
            cache_dir=cache_dir,
        )
        mode = resolve_mode(setup.sampler, None)
        if getattr(setup.sampler, "history", None) is not None:
            _warm_histories(model, data, setup.loader, mode)
        entry = _gradients(model, data, setup.loader, mode, exact, budget.gradient_batches)
        out["budgets"].append({"multiple": multiple, "option": option, "value": value, **entry})
        log.info("%s x%g (%s=%s): gradient %s", sampler, multiple, option, value, entry)
    return out


@contextmanager
def gradient_weights(
    model: nn.Module, initial_state: dict[str, torch.Tensor], weights: str
) -> Iterator[nn.Module]:
    """``model`` holding the weights the gradient is measured at for the block (its initial
    weights for ``"initial"``), its own weights restored after. (The model is not copied: a
    spiking model may cache a sparse input, which ``copy.deepcopy`` cannot copy.)"""
    trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if weights == "initial":
        model.load_state_dict(initial_state)
    try:
        yield model
    finally:
        model.load_state_dict(trained)


def convergence_curve(history: list[dict[str, Any]], times: list[Any]) -> list[dict[str, Any]]:
    """Per epoch: training loss, training and validation accuracy, and the training time so
    far (seconds; ``None`` after an epoch whose time is unknown). No test accuracy: the test
    set is read once, at the epoch validation selected."""
    out, total = [], 0.0
    for entry, seconds in zip(history, list(times) + [None] * (len(history) - len(times))):
        total = None if seconds is None or total is None else total + seconds
        out.append(
            {
                "epoch": entry["epoch"],
                "time": total,
                "loss": entry["loss"],
                "train": entry["train"],
                "val": entry["val"],
            }
        )
    return out


__all__ = [
    "PROFILE",
    "batches_and_energy",
    "convergence_curve",
    "count_batch",
    "count_full",
    "energy_convention",
    "gradient_error",
    "gradient_weights",
]
