"""Record firing rates of the spiking neurons inside any model, without changing its code."""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor, nn

from spikegraph.nn.neurons import SpikingNeuron


class SpikeMonitor:
    """Forward hooks on every :class:`~spikegraph.nn.neurons.SpikingNeuron` of ``model`` that
    count spikes.

    The name of a neuron's parent layer (e.g. ``"convs.0"``) keys its record. Use as a
    context manager; hooks are removed on exit. Neurons whose firing rates a layer computes
    without spike trains (``fire_rate``: the spiking GCN's last hidden layer in training)
    are recorded through their rate hooks
    (:meth:`~spikegraph.nn.neurons.SpikingNeuron.register_rate_hook`): rates over ``T``
    steps count as their ``T`` steps of spikes, so training and evaluation passes are
    recorded alike, and the model's outputs are unchanged.

    Example:
        >>> with SpikeMonitor(model) as mon:  # doctest: +SKIP
        ...     model(x, edge_index)
        >>> mon.firing_rates()  # doctest: +SKIP
        {'convs.0': 0.12}
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.spikes: dict[str, float] = defaultdict(float)
        self.slots: dict[str, int] = defaultdict(int)
        self._handles: list = []

    def _hook(self, name: str):
        def hook(_module: nn.Module, _inputs, output: Tensor) -> None:
            with torch.no_grad():
                self.spikes[name] += float(output.sum())
                self.slots[name] += output.numel()

        return hook

    def _rate_hook(self, name: str):
        def hook(_module: nn.Module, rates: Tensor, steps: int) -> None:
            with torch.no_grad():  # spikes = rate * steps per neuron
                self.spikes[name] += float(rates.sum()) * steps
                self.slots[name] += rates.numel() * steps

        return hook

    def __enter__(self) -> SpikeMonitor:
        for name, module in self.model.named_modules():
            if isinstance(module, SpikingNeuron):
                layer = name.rsplit(".", 1)[0] if "." in name else name
                self._handles.append(module.register_forward_hook(self._hook(layer)))
                self._handles.append(module.register_rate_hook(self._rate_hook(layer)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def firing_rates(self) -> dict[str, float]:
        """Mean spikes per neuron and time step, per layer, over all recorded forwards."""
        return {k: self.spikes[k] / self.slots[k] for k in self.spikes if self.slots[k]}


class SilentLayerWarning(UserWarning):
    """A spiking layer fired no spike: what comes after it does not depend on the input
    through it (a model whose only hidden layer is silent predicts one class)."""


def silent_layers(rates: dict[str, float]) -> list[str]:
    """The layers of :meth:`SpikeMonitor.firing_rates` that fired no spike at all."""
    return sorted(name for name, rate in rates.items() if rate == 0.0)


def silent_layer_message(layers: list[str], where: str) -> str:
    """Why ``layers`` (:func:`silent_layers`) are a problem and what usually fixes it."""
    return (
        f"Spiking layer(s) {', '.join(repr(n) for n in layers)} fired no spike {where}: the "
        "output does not depend on the input through them (typically a constant prediction). "
        "Their synaptic current never reached the firing threshold; scale the input "
        "(encoder='max-scaled' for features much smaller than 1, e.g. row-normalised), "
        "normalise the current (norm='stfn' or 'tdbn') or lower v_threshold."
    )
