r"""How a spiking model's static input is counted: once, or at every time step.

A direct-coded input (the same ``[N, F]`` features at every one of the ``T`` steps, GC-SNN's
coding of bag-of-words features, Xu et al., IJCAI 2021) reaches the first layer's synapses at
every step. spikegraph's layers compute what does not change over time once, so the forward
pass performs the first layer's transform, aggregation and bias once; hardware that
receives the input as spikes performs them at every step. Two conventions follow:

- ``"per-step"`` (the default of every energy output): the static input is counted at every
  one of the ``T`` steps, as the spike train ``[T, N, F]`` it stands for (the model is run on
  that train: identical predictions). This is the convention of the spiking-network energy
  estimates the field compares against: synaptic operations are
  :math:`\mathrm{SOP}_l = \mathrm{fr}_l \cdot T \cdot \mathrm{FLOPs}_l` for every layer whose
  input is spikes (Zhou et al., "Spikformer", ICLR 2023; Yao et al., "Spike-driven
  Transformer", NeurIPS 2023), and direct-coded binary features are spikes, fed at every one
  of the ``T`` steps (Xu et al., 2021). Those papers count the first layer once when it
  reads real-valued pixels (``E_MAC x FLOPs_1``: an encoding layer of MACs, not spikes), and
  so does spikegraph: a static input whose encoding is not binary (PubMed's TF-IDF weights)
  is counted once under both conventions (:func:`has_static_input`).
- ``"once"``: the static input is counted once, as the forward pass computes it (an
  accelerator that caches the first layer's current over the steps).

Counting a spike-train input (Bernoulli, rank-order coding) or an ordinary model is the
same under both: there is nothing static to repeat.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from spikegraph._validation import check_choice
from spikegraph.cost.rules import spike_count

#: Convention -> what it counts (printed beside every energy figure).
STATIC_INPUT: dict[str, str] = {
    "per-step": "static input counted at every time step (as the spike train it stands for)",
    "once": "static input counted once (the first layer's current reused over the steps)",
}
#: The literature's convention (see the module docstring), the default of energy outputs.
DEFAULT_STATIC_INPUT = "per-step"


def check_static_input(value: Any) -> str:
    """Return ``value`` if it is a convention of :data:`STATIC_INPUT`.

    Raises:
        ValueError: naming the value and the conventions.
    """
    return check_choice(value, tuple(STATIC_INPUT), "static_input")


def is_spiking_model(module: Any) -> bool:
    """Whether ``module`` is a spiking model that encodes its own input: it has ``T`` time
    steps and an encoder (spikegraph's :class:`~spikegraph.models.basic.SpikingBasicGNN`)."""
    encoder = getattr(module, "encoder", None)
    return isinstance(getattr(module, "T", None), int) and hasattr(encoder, "static_output")


def static_spike_input(x: Any) -> bool:
    """Whether ``x``, the input of a spiking layer, is a static spike input: a 2-D
    floating-point tensor of 0s and 1s (dense or sparse), or a bipartite pair of them (either
    side may be ``None``). A spiking layer
    (:class:`~spikegraph.nn.conv.spiking.SpikingMessagePassing`) reads a 2-D input as the
    same at every one of its ``T`` steps."""
    if isinstance(x, (tuple, list)):
        parts = [p for p in x if p is not None]
        return bool(parts) and len(x) == 2 and all(static_spike_input(p) for p in parts)
    return (
        isinstance(x, Tensor)
        and x.dim() == 2
        and x.is_floating_point()
        and spike_count(x) is not None
    )


def steps_train(x: Any, steps: int) -> Any:
    """A spiking layer's static input ``x`` (see :func:`static_spike_input`) as the
    ``[steps, N, F]`` train it stands for (dense; each side of a pair)."""
    if isinstance(x, (tuple, list)):
        return type(x)(None if p is None else steps_train(p, steps) for p in x)
    dense = x if x.layout == torch.strided else x.to_dense()
    return dense.unsqueeze(0).expand(steps, *dense.shape)


def has_static_input(model: Any, x: Any) -> bool:
    """Whether ``model`` is a spiking model that would feed ``x`` as a static spike input: its
    encoder keeps static features static (direct / current coding), ``x`` is ``[N, F]``, and
    what the encoder makes of it is spikes (every entry 0 or 1).

    A real-valued static input (PubMed's TF-IDF weights, scaled) is not: it is the input of an
    encoding layer, which the literature counts once, as multiply-accumulates; both
    conventions then count it the same.
    """
    if not (
        isinstance(x, Tensor)
        and x.dim() == 2
        and is_spiking_model(model)
        and bool(model.encoder.static_output)
    ):
        return False
    with torch.no_grad():
        encoded = model.encoder(x)
    return encoded.is_floating_point() and spike_count(encoded) is not None


def as_spike_train(model: Any, x: Tensor) -> Tensor:
    """The static input ``x`` as the ``[T, N, F]`` train of the model's ``T`` steps (its
    encoder's output at every step); ``x`` itself when :func:`has_static_input` is false."""
    if not has_static_input(model, x):
        return x
    encoded = model.encoder(x)
    return encoded.unsqueeze(0).expand(model.T, *encoded.shape)


def describe_static_input(value: str | None) -> str:
    """A sentence for tables: the convention, or that it does not apply (``None``)."""
    if value is None:
        return "no static spiking input (both conventions count the same)"
    return f"{STATIC_INPUT[check_static_input(value)]} [{value}]"


__all__ = [
    "DEFAULT_STATIC_INPUT",
    "STATIC_INPUT",
    "as_spike_train",
    "check_static_input",
    "describe_static_input",
    "has_static_input",
    "is_spiking_model",
    "static_spike_input",
    "steps_train",
]
