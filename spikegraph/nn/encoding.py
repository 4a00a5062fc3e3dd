r"""Spike encoders: turn node features ``[N, F]`` into the input of the first spiking layer.

- :class:`DirectEncoder`: binary features are fed as the same spike vector at every one of
  the ``T`` steps (the coding of GC-SNN / GA-SNN, Xu et al., IJCAI 2021).
- :class:`CurrentEncoder`: real-valued features fed as the same input current at every step
  (direct coding for non-binary features such as PubMed's TF-IDF).
- :class:`BernoulliEncoder`: rate coding, a spike with probability ``x`` at each step.
- :class:`RankOrderEncoder`: rank-order (temporal) coding, one spike per active feature, the
  larger features first (the temporal coding studied in the journal version of GC-SNN).

Direct and current coding return the static ``[N, F]`` tensor itself: spikegraph's layers
read a 2-D input as "the same at every time step" and compute everything that does not
change over time once instead of ``T`` times. Bernoulli and rank-order coding return
``[T, N, F]``: the first layer's current then changes over the steps, so a normalisation that
pools over time (STFN) acts from the first layer on.
"""

from __future__ import annotations

import inspect
import itertools
import weakref
from typing import ClassVar

import torch
from torch import Tensor, nn

from spikegraph._validation import (
    check_features,
    check_time_steps,
    data_checks_apply,
)
from spikegraph.nn.registry import Registered, Registry

#: Name -> encoder class; filled by subclassing :class:`Encoder` with a ``name``.
ENCODERS: Registry = Registry("encoder")


def is_binary(x: Tensor) -> bool:
    """Whether every entry of ``x`` is exactly 0 or 1."""
    return bool(((x == 0) | (x == 1)).all())


class Encoder(Registered, nn.Module):
    """Base class of the encoders; a subclass with ``name="..."`` registers in
    :data:`ENCODERS`. Constructor options that a model sets are ``T`` (time steps) and
    ``seed``; a constructor takes those it needs (:func:`make_encoder`)."""

    registry = ENCODERS
    #: Whether the output is spikes (0/1).
    binary_output: ClassVar[bool] = False
    #: Whether the output is the static ``[N, F]`` input fed at every step (a model may then
    #: keep it, e.g. as a sparse tensor), rather than a fresh ``[T, N, F]`` draw.
    static_output: ClassVar[bool] = True


class DirectEncoder(Encoder, name="direct"):
    """Direct spike coding of binary features (Xu et al., IJCAI 2021).

    Raises:
        ValueError: if the features are not all 0 or 1 (use :class:`CurrentEncoder`).
    """

    binary_output = True

    def forward(self, x: Tensor) -> Tensor:
        check_features(x)
        if data_checks_apply() and not is_binary(x):  # not while torch.compile traces
            bad = x[(x != 0) & (x != 1)][0].item()
            raise ValueError(
                f"DirectEncoder needs binary (0/1) features, found the value {bad}; "
                "use encoder='current' for real-valued features"
            )
        return x


class CurrentEncoder(Encoder, name="current"):
    """Direct coding of real-valued features as a constant input current."""

    binary_output = False

    def forward(self, x: Tensor) -> Tensor:
        return check_features(x)


#: Live Bernoulli encoders by key, for :func:`_bernoulli_draw` (a compiled graph cannot hold
#: a ``torch.Generator``; it holds the key). Weak: the table keeps no encoder alive.
_BERNOULLI_ENCODERS: weakref.WeakValueDictionary[int, BernoulliEncoder] = (
    weakref.WeakValueDictionary()
)
_BERNOULLI_KEYS = itertools.count()


@torch.library.custom_op("spikegraph::bernoulli_draw", mutates_args=(), device_types=None)
def _bernoulli_draw(probs: Tensor, key: int) -> Tensor:
    """``torch.bernoulli(probs)`` from the own generator of the encoder registered as ``key``.

    A custom operator so that :func:`torch.compile` treats the draw as one opaque op (its
    tracer cannot take a ``torch.Generator`` as an argument, nor create one); it runs
    eagerly inside the compiled graph, drawing exactly what eager mode draws. The compiler
    neither recomputes custom ops nor removes one whose output is used.
    """
    encoder = _BERNOULLI_ENCODERS[key]
    return torch.bernoulli(probs, generator=encoder._generator(probs.device))


@_bernoulli_draw.register_fake
def _(probs, key):
    return torch.empty(probs.shape, dtype=probs.dtype, device=probs.device)


class BernoulliEncoder(Encoder, name="bernoulli"):
    """Rate coding: at each of ``T`` steps, feature ``x`` spikes with probability ``x``.

    Compiles with ``torch.compile(fullgraph=True)``: the draw is a custom operator that
    calls the same generator, so compiled and eager modes give the same spike trains.

    Args:
        T: Number of time steps.
        seed: Seed of the encoder's own generator (the global RNG is never used), so the
            same seed gives the same spike trains.
    """

    binary_output = True
    static_output = False

    def __init__(self, T: int, seed: int = 0) -> None:
        super().__init__()
        self.T = check_time_steps(T)
        self.seed = int(seed)
        self._generators: dict[torch.device, torch.Generator] = {}
        self._register()

    def _register(self) -> None:
        """Give this encoder its own key for :func:`_bernoulli_draw` (a copy gets a new one)."""
        self._key = next(_BERNOULLI_KEYS)
        _BERNOULLI_ENCODERS[self._key] = self

    def _generator(self, device: torch.device) -> torch.Generator:
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[device]

    def reset_generator(self) -> None:
        """Restart the spike trains from ``seed``."""
        self._generators.clear()

    def forward(self, x: Tensor) -> Tensor:
        check_features(x)
        if data_checks_apply() and x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                "BernoulliEncoder needs features in [0, 1] (spike probabilities), got "
                f"values in [{x.min().item()}, {x.max().item()}]"
            )
        probs = x.unsqueeze(0).expand(self.T, *x.shape)
        if torch.compiler.is_compiling():
            # The draw has no gradient (torch.bernoulli's is zero): detached, the custom op
            # needs no autograd formula.
            return _bernoulli_draw(probs.detach(), self._key)
        return torch.bernoulli(probs, generator=self._generator(x.device))

    def extra_repr(self) -> str:
        return f"T={self.T}, seed={self.seed}"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_generators"] = {}
        return state

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        self._register()


def rank_order_times(x: Tensor, T: int) -> Tensor:
    r"""Spike step of every feature under rank-order coding; ``-1`` for features that never
    spike (zeros).

    Node :math:`v`'s :math:`n_v` non-zero features are ranked by value, largest first (ties:
    lower feature index first); the feature of rank :math:`r = 0, \dots, n_v - 1` spikes once,
    at step :math:`\lfloor r T / n_v \rfloor`, so every node's spikes spread over the ``T``
    steps and its largest feature spikes at step 0.

    Args:
        x: Non-negative features ``[N, F]``.
        T: Number of time steps.

    Returns:
        ``[N, F]`` int64 steps in ``[0, T)``, ``-1`` where ``x`` is 0.
    """
    order = torch.sort(x, dim=-1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    positions = torch.arange(x.size(-1), device=x.device).expand_as(order)
    ranks.scatter_(-1, order, positions)
    active = x > 0
    n = active.sum(dim=-1, keepdim=True).clamp(min=1)
    steps = torch.div(ranks * T, n, rounding_mode="floor")
    return torch.where(active, steps, torch.full_like(steps, -1))


class RankOrderEncoder(Encoder, name="rank-order"):
    r"""Rank-order coding (Thorpe & Gautrais, "Rank order coding", Computational Neuroscience,
    1998), the temporal coding of the journal version of GC-SNN / GA-SNN (Xu et al., arXiv
    2407.20508): each non-zero feature spikes once, the larger ones earlier
    (:func:`rank_order_times`); zero features never spike.

    Deterministic: no generator. For binary features (bag-of-words) the order among a node's
    active features is their index order; the spikes still spread over the steps, so the
    first layer's current changes in time.

    Args:
        T: Number of time steps.

    Raises:
        ValueError: for negative features (their rank has no meaning as a spike time).

    Shapes:
        - **input:** :math:`(N, F)`
        - **output:** :math:`(T, N, F)`, one spike per non-zero feature
    """

    binary_output = True
    static_output = False

    def __init__(self, T: int) -> None:
        super().__init__()
        self.T = check_time_steps(T)

    def forward(self, x: Tensor) -> Tensor:
        check_features(x)
        if data_checks_apply() and x.numel() and x.min() < 0:
            raise ValueError(
                "RankOrderEncoder needs non-negative features (larger values spike earlier), "
                f"found the value {x.min().item()}"
            )
        steps = rank_order_times(x, self.T)
        t = torch.arange(self.T, device=x.device).view(self.T, *([1] * x.dim()))
        return (steps.unsqueeze(0) == t).to(x.dtype)

    def extra_repr(self) -> str:
        return f"T={self.T}"


class AutoEncoder(CurrentEncoder, name="auto"):
    """The features fed unchanged at every step: for binary features exactly direct spike
    coding, for real-valued ones direct current coding, without the check that
    :class:`DirectEncoder` makes."""


class MaxScaledEncoder(CurrentEncoder, name="max-scaled"):
    """Each node's features divided by their largest absolute value, fed at every step.

    Every node's strongest input is then a current of 1, on the scale of the neurons'
    threshold, whatever the features' own scale: binary features pass unchanged (exactly
    direct spike coding), and a positive rescaling of a node's features (PyG's
    ``NormalizeFeatures``, TF-IDF weights, counts) gives the same input. A node whose features
    are all 0 stays 0.
    """

    def forward(self, x: Tensor) -> Tensor:
        return max_scale(check_features(x))


def max_scale(x: Tensor) -> Tensor:
    """``x`` with each row divided by its largest absolute value (rows of zeros unchanged)."""
    peak = x.abs().amax(dim=-1, keepdim=True)
    return x / torch.where(peak > 0, peak, torch.ones_like(peak))


def make_encoder(name: str, T: int, seed: int = 0) -> Encoder:
    """Build the encoder registered as ``name`` (:data:`ENCODERS`), handing its constructor
    the time steps ``T`` and the ``seed`` if it takes them (other options: its defaults).

    Raises:
        ValueError: for an unknown name, listing the registered ones.
    """
    cls = ENCODERS.resolve(name)
    params = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in (("T", T), ("seed", seed)) if k in params})
