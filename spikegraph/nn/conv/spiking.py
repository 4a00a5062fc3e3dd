"""The spiking tail shared by spikegraph's message-passing layers.

A spiking graph layer (Xu et al., IJCAI 2021) computes a synaptic current by message passing,
normalises it (STFN), and feeds it to spiking neurons (LIF by default; any registered
:class:`~spikegraph.nn.neurons.SpikingNeuron`). :class:`SpikingMessagePassing` holds the
parts after the message passing and the handling of the time dimension; the layers
(:class:`~spikegraph.nn.conv.SpikingGCNConv`, :class:`~spikegraph.nn.conv.SpikingGATConv`)
supply the current.

Time convention: a 3-D input ``[T', N, F]`` is a spike train and runs over its own ``T'``
steps, whatever the layer's ``T``; a 2-D input ``[N, F]`` is the same at every one of the
layer's ``T`` steps (direct coding), so everything up to the neuron is computed once rather
than ``T`` times. ``T`` only applies to static inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.parameter import UninitializedParameter
from torch_geometric.nn import MessagePassing

from spikegraph._validation import (
    check_dtype,
    check_features,
    check_node_input,
    check_time_steps,
    check_width,
)
from spikegraph.nn.neurons import (
    SpikingNeuron,
    build_neuron,
    neuron_option_names,
    pop_neuron_options,
)
from spikegraph.nn.norm import NORMS, make_norm, norm_names

__all__ = ["NORMS", "SpikingMessagePassing", "make_norm", "norm_names"]


def _has_forward_hooks(module: torch.nn.Module) -> bool:
    """Whether calling ``module`` runs forward hooks (its own or global ones)."""
    from torch.nn.modules import module as _m

    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or _m._global_forward_hooks
        or _m._global_forward_pre_hooks
    )


class SpikingMessagePassing(MessagePassing):
    """Base class: time handling, normalisation and spiking neurons after message passing.

    Args:
        num_features: Width of the current that is normalised and fed to the neurons.
        T: Number of time steps a static (2-D) input is repeated for. A spike train
            ``[T', N, F]`` runs over its own ``T'`` steps.
        norm: ``"none"`` (default), ``"stfn"`` (the paper's) or ``"tdbn"`` (batch statistics).
        rho: STFN's scale :math:`\\rho` (tdBN's :math:`\\alpha`).
        spiking: If ``False`` the neuron is the identity: the layer returns its current at
            every step, which makes it the ordinary (non-spiking) graph layer.
        neuron: The neurons, as one object: an instance (``LIF(tau=2.0, reset="hard")``), a
            class (``PLIF``) or registered name (``"plif"``, see
            :data:`~spikegraph.nn.neurons.NEURONS`) built with the neuron options, or a
            factory. ``None`` (default): :attr:`default_neuron`.
        neuron_kwargs: Options for a neuron given by class, name or factory.
        **kwargs: The neuron's options by name (``tau=``, ``v_threshold=``, ``reset=``,
            ``surrogate=``, ...: whatever the neuron class takes), the rest passed to
            :class:`torch_geometric.nn.MessagePassing`.

    The default neuron is :attr:`default_neuron`: integrate-and-fire LIF neurons
    (``tau=inf``) with soft reset, and no normalisation: the validated settings of
    spikegraph's benchmarks, which beat the paper's (``norm="stfn", tau=2.0,
    reset="hard"``, :data:`spikegraph.models.PAPER_NEURON`) on Cora, CiteSeer and PubMed.
    """

    #: The neuron built for ``neuron=None``: a registered name and options over its defaults.
    default_neuron: tuple[str, dict] = ("lif", {"tau": float("inf"), "reset": "soft"})

    def __init__(
        self,
        num_features: int,
        T: int = 8,
        norm: str | None = "none",
        rho: float = 1.0,
        spiking: bool = True,
        neuron: SpikingNeuron | type[SpikingNeuron] | str | None = None,
        neuron_kwargs: dict | None = None,
        **kwargs,
    ) -> None:
        options = {**pop_neuron_options(neuron, kwargs, self.default_neuron)}
        options.update(neuron_kwargs or {})
        super().__init__(**kwargs)
        self.T = check_time_steps(T)
        self.spiking = bool(spiking)
        # The neuron validates its options even when spiking is off.
        built = build_neuron(neuron, options, self.default_neuron, num_features)
        self.norm = make_norm(norm, num_features, rho, built.threshold_scale)
        self.neuron: SpikingNeuron | None = built if self.spiking else None
        #: The options of the neuron the layer was built with (also when ``spiking=False``).
        self.neuron_options = built.options()

    @staticmethod
    def neuron_option_names() -> tuple[str, ...]:
        """The neuron options a layer takes by name: those of every registered neuron."""
        return neuron_option_names()

    def reset_parameters(self) -> None:
        """Reset the message passing's parameters, the normalisation's and the neurons'
        (learnt time constants and thresholds back at their initial values)."""
        super().reset_parameters()
        for module in (self.norm, self.neuron):
            if module is not None and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def _check_x(self, x: Tensor, in_channels: int, name: str = "x") -> Tensor:
        """Validate a node-feature input ``[N, F]`` or ``[T, N, F]``."""
        check_node_input(x, name)
        check_features(x, name)
        if x.size(-2) == 0:
            raise ValueError(
                f"'{name}' holds no nodes (shape {tuple(x.shape)}): the graph is empty"
            )
        check_width(x, in_channels, name)
        check_dtype(x, self.param_dtype(), name)
        return x

    @staticmethod
    def _check_pair(x_src: Tensor, x_dst: Tensor | None) -> None:
        """Refuse a bipartite pair whose parts are not both static or both of one length."""
        if x_dst is None:
            return
        if x_dst.dim() != x_src.dim():
            raise ValueError(
                f"'x_src' and 'x_dst' must both be static or both spike trains, got "
                f"shapes {tuple(x_src.shape)} and {tuple(x_dst.shape)}"
            )
        if x_src.dim() == 3 and x_src.size(0) != x_dst.size(0):
            raise ValueError(
                f"'x_src' has {x_src.size(0)} time steps but 'x_dst' has {x_dst.size(0)} "
                f"(shapes {tuple(x_src.shape)} and {tuple(x_dst.shape)}): a bipartite pair "
                "must run over the same steps"
            )

    def param_dtype(self) -> torch.dtype | None:
        """The dtype of the layer's (floating, initialised) parameters; ``None`` if none."""
        for p in self.parameters():
            if p.is_floating_point() and not isinstance(p, UninitializedParameter):
                return p.dtype
        return None

    #: Run the normalisation inside the neurons' kernels where the neuron has such a fused
    #: path (STFN with the LIF family, :mod:`spikegraph.nn.fused`): same values and
    #: gradients, no normalised current in memory. ``False``: the plain path (norm, then
    #: neurons), e.g. as a reference.
    fuse_norm: bool = True

    def _fused(self, current: Tensor, rate: bool) -> Tensor | None:
        """Normalisation and neurons in one pass, or ``None`` (no fused path)."""
        if not self.fuse_norm or self.norm is None or self.neuron is None:
            return None
        if _has_forward_hooks(self.norm) or (not rate and _has_forward_hooks(self.neuron)):
            # Observers of the normalisation or of the neurons' spikes (SpikeMonitor, the
            # cost counters) hook their forward call: the plain path keeps it.
            return None
        steps = self.T if current.dim() == 2 else None
        return self.neuron.fused_norm(current, self.norm, steps, rate)

    def fire(self, current: Tensor) -> Tensor:
        """Normalise the current and run the neurons; always returns ``[T, N, F]``."""
        fused = self._fused(current, rate=False)
        if fused is not None:
            return fused
        if self.norm is not None:
            current = self.norm(current)
        static = current.dim() == 2
        if self.neuron is None:
            return current.unsqueeze(0).expand(self.T, *current.shape) if static else current
        return self.neuron(current, steps=self.T if static else None)

    def fire_rate(self, current: Tensor) -> Tensor:
        """``fire(current).mean(0)``, the firing rates ``[N, F]``, computed without the spike
        trains where the neuron can (:meth:`spikegraph.nn.neurons.SpikingNeuron.rate`).

        The neuron's ``forward`` does not run, so its forward hooks do not either; its rate
        hooks (:meth:`~spikegraph.nn.neurons.SpikingNeuron.register_rate_hook`, e.g. a
        :class:`~spikegraph.nn.monitor.SpikeMonitor`'s) receive the rates."""
        steps = self.T if current.dim() == 2 else current.size(0)
        rates = self._fused(current, rate=True)
        if rates is None:
            if self.norm is not None:
                current = self.norm(current)
            static = current.dim() == 2
            if self.neuron is None:
                return current if static else current.mean(dim=0)
            rates = self.neuron.rate(current, steps=self.T if static else None)
        self.neuron.notify_rate(rates, steps)
        return rates

    def _spiking_repr(self) -> str:
        norm = "none" if self.norm is None else type(self.norm).__name__
        if self.neuron is None:
            return f"T={self.T}, norm={norm}, spiking=False"
        return f"T={self.T}, norm={norm}, {self.neuron.summary()}"
