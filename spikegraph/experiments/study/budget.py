"""The budget every cell of a sampler study gets, and how a sampler's batches are sized.

A fair comparison of sampling methods gives every method the same model and the same
training budget (Liu et al., "Sampling Methods for Efficient Training of Graph
Convolutional Networks: A Survey", arXiv 2021, IEEE/CAA Journal of Automatica Sinica
2022, compare them at equal epochs and batch sizes); :class:`StudyBudget` holds it, with
the measuring budget (how many batches the measurements draw) beside it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

from spikegraph._validation import check_choice

#: The reference row of a study: the model trained on the whole graph, one step per epoch.
FULL_BATCH = "full-batch"
#: Where the gradient's bias and variance are measured (see :class:`StudyBudget`).
GRADIENT_WEIGHTS = ("initial", "trained")
#: Subgraph samplers' size options, in the order they are looked for; each grows the
#: subgraph. Cluster-GCN's ``clusters_per_batch`` (not ``num_parts``): a budget multiple
#: then reuses the one METIS partition.
SUBGRAPH_SIZE_OPTIONS = ("clusters_per_batch", "budget", "num_roots", "subgraph_size")


def _int(value: Any, name: str, minimum: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"'{name}' must be >= {minimum}, got {value}")
    return int(value)


@dataclass(frozen=True)
class StudyBudget:
    """The training and measuring budget of every cell of a sampler study.

    Every sampler trains the same model for the same number of epochs with the same
    optimiser settings (the model's, :func:`~spikegraph.models.train_defaults`); the test
    accuracy is read once, at the epoch of the best validation accuracy.

    Attributes:
        epochs: Training epochs of every cell (full-batch included).
        patience: Early-stopping patience (``None``: every cell trains all ``epochs``, so
            that the convergence curves have the same length).
        batch_size: Seeds per batch of node-wise and layer-wise samplers (``None``: each
            class's ``default_batch_size``); subgraph samplers size their batches with their
            own options.
        measure_batches: Batches of the first epoch's plan whose nodes, edges and energy
            are measured (at most the epoch's batches).
        gradient_batches: Mini-batch gradients per estimate of the gradient's bias and
            variance (at least 2).
        budget_multiples: Multiples of each sampler's batch size (its size option, see
            :func:`budget_option`) at which the gradient is measured: variance against
            budget. Must hold ``1.0``, the training budget.
        gradient_weights: The weights the gradient is measured at: ``"initial"`` (default:
            the seed's initial weights, the same for every sampler of a model and seed, so
            that every sampler estimates the same full-batch gradient) or ``"trained"`` (the
            weights each cell selected on validation).

    Raises:
        ValueError, TypeError: naming a bad value.
    """

    epochs: int = 50
    patience: int | None = None
    batch_size: int | None = None
    measure_batches: int = 8
    gradient_batches: int = 16
    budget_multiples: tuple[float, ...] = (0.5, 1.0, 2.0)
    gradient_weights: str = "initial"

    def __post_init__(self) -> None:
        _int(self.epochs, "epochs", 1)
        _int(self.patience, "patience", 1, allow_none=True)
        _int(self.batch_size, "batch_size", 1, allow_none=True)
        _int(self.measure_batches, "measure_batches", 1)
        _int(self.gradient_batches, "gradient_batches", 2)
        multiples = self.budget_multiples
        if isinstance(multiples, (str, bytes)) or not isinstance(multiples, (tuple, list)):
            raise TypeError(f"'budget_multiples' must be a tuple of numbers, got {multiples!r}")
        for m in multiples:
            if isinstance(m, bool) or not isinstance(m, numbers.Real):
                raise TypeError(f"'budget_multiples' must hold numbers, got {m!r}")
            if not (math.isfinite(m) and m > 0):
                raise ValueError(f"'budget_multiples' must hold finite numbers > 0, got {m!r}")
        if len(set(multiples)) != len(multiples):
            raise ValueError(f"'budget_multiples' holds a multiple twice: {list(multiples)}")
        if 1.0 not in multiples:
            raise ValueError(
                f"'budget_multiples' must hold 1.0 (the training budget), got {list(multiples)}"
            )
        object.__setattr__(self, "budget_multiples", tuple(sorted(float(m) for m in multiples)))
        check_choice(self.gradient_weights, GRADIENT_WEIGHTS, "gradient_weights")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the multiples as a list)."""
        out = asdict(self)
        out["budget_multiples"] = list(self.budget_multiples)
        return out


def sampler_family(cls: type) -> str:
    """``"node-wise"``, ``"layer-wise"`` or ``"subgraph"``: the survey's three families
    (a sampler with historical activations, VR-GCN, is node-wise)."""
    if not cls.takes_seeds:
        return "subgraph"
    if "layer_sizes" in cls.default_options:
        return "layer-wise"
    return "node-wise"


def budget_option(cls: type) -> str:
    """The option that sizes a sampler's batches: ``"batch_size"`` (node-wise samplers:
    seeds per batch), ``"layer_sizes"`` (layer-wise samplers: nodes per layer) or a
    subgraph sampler's size option (:data:`SUBGRAPH_SIZE_OPTIONS`).

    Raises:
        ValueError: for a subgraph sampler with none of the known size options.
    """
    if "layer_sizes" in cls.default_options:
        return "layer_sizes"
    if cls.takes_seeds:
        return "batch_size"
    for key in SUBGRAPH_SIZE_OPTIONS:
        if key in cls.default_options:
            return key
    raise ValueError(
        f"sampler {cls.name!r} takes no seeds and has none of the size options "
        f"{list(SUBGRAPH_SIZE_OPTIONS)}: add its size option to SUBGRAPH_SIZE_OPTIONS"
    )


def scaled_budget(
    cls: type,
    options: dict[str, Any],
    batch_size: int | None,
    multiple: float,
    num_train: int,
) -> tuple[dict[str, Any], int | None, str, Any]:
    """A sampler's options and batch size with its batches ``multiple`` times as large
    (:func:`budget_option` scaled, rounded, at least 1; seeds per batch at most the training
    nodes, Cluster-GCN's clusters per batch at most its clusters).

    Returns:
        ``(options, batch_size, option, value)``: what to build the sampler with, the option
        scaled and its new value.
    """
    option = budget_option(cls)
    options = dict(options)

    def scale(v: int) -> int:
        return max(1, round(v * multiple))

    if option == "batch_size":
        batch_size = min(scale(batch_size), num_train)
        return options, batch_size, option, batch_size
    if option == "layer_sizes":
        options[option] = [scale(v) for v in options[option]]
    else:
        value = scale(options[option])
        if option == "clusters_per_batch" and "num_parts" in options:
            value = min(value, options["num_parts"])
        options[option] = value
    return options, batch_size, option, options[option]


__all__ = [
    "FULL_BATCH",
    "GRADIENT_WEIGHTS",
    "SUBGRAPH_SIZE_OPTIONS",
    "StudyBudget",
    "budget_option",
    "sampler_family",
    "scaled_budget",
]
