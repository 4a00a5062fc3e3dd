r"""The interface every spiking neuron of spikegraph implements, and the neuron registry.

A neuron is a module that turns a synaptic current into spikes over time, ``[T, *] -> [T, *]``
(or a static current ``[*]`` fed at each of ``steps`` steps). Layers and models take one as a
single argument (``neuron=LIF(tau=2.0, reset="soft")``, ``neuron=PLIF``, ``neuron="plif"``),
in the way of spikingjelly's ``spiking_neuron=`` (Fang et al., "SpikingJelly: An open-source
machine learning infrastructure platform for spike-based intelligence", Science Advances
2023), and :func:`build_neuron` turns any of these into a module.

Adding a neuron is one file in :mod:`spikegraph.nn.neurons`: a subclass of
:class:`SpikingNeuron` with ``name="..."`` in its class statement registers itself in
:data:`NEURONS`, and the package imports all its modules, so layers, models, the cost counters,
the spike monitor and the CLI (``--neuron``) know it from there.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from spikegraph.nn.registry import Registered, Registry

#: Name -> neuron class; filled by :meth:`SpikingNeuron.__init_subclass__`.
NEURONS: Registry = Registry("neuron")


@dataclass(frozen=True)
class CountingRule:
    """What one neuron costs per step, for :mod:`spikegraph.cost` (which counts it).

    Attributes:
        decay: Leak factor of the charge :math:`V_t = k \\tilde V_{t-1} + I_t`: 1 is an
            addition (AC), 0 nothing, anything else a multiply-accumulate (MAC).
        reset: ``"hard"``, ``"soft"`` (one AC per spike) or ``"none"``.
        macs_per_step: Further MACs per neuron and step after the first (e.g. an adaptive
            threshold's update).
    """

    decay: float
    reset: str
    macs_per_step: int = 0


class SpikingNeuron(Registered, nn.Module):
    """Base class of spikegraph's neurons.

    Subclasses implement :meth:`multistep` and :meth:`counting_rule`
    (:attr:`required_methods`: a class statement with a name that lacks one is refused) and
    register with a name (``class MyNeuron(SpikingNeuron, name="mine")``). Constructor
    arguments are the neuron's options; their defaults are the registered class's defaults
    (:meth:`defaults`), and the constructor stores each under its own name so that
    :meth:`options` can report them.
    A constructor argument ``num_features`` (if any) receives the width of the layer the
    neuron sits in (per-feature parameters).

    Neurons are stateless across calls: every forward starts from the resting state and runs
    all steps of its input (node classification with a fixed window). :meth:`reset_state`
    exists for neurons that keep state between calls and is a no-op here.
    """

    registry = NEURONS
    #: What a registered neuron implements (checked when it registers).
    required_methods = ("multistep", "counting_rule")
    #: Options the layer sets on the neuron, never the user (not reported by :meth:`options`).
    layer_options: ClassVar[tuple[str, ...]] = ("num_features",)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The class's options and their defaults, read from its constructor and, while a
        constructor passes ``**options`` on, from those up the class hierarchy (a
        subclass's default wins)."""
        out: dict[str, Any] = {}
        for klass in cls.__mro__:
            if klass is nn.Module:
                break
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            params = inspect.signature(init).parameters
            for k, p in params.items():
                if (
                    k != "self"
                    and k not in cls.layer_options
                    and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                    and p.default is not inspect.Parameter.empty
                ):
                    out.setdefault(k, p.default)
            if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
                break
        return out

    def options(self) -> dict[str, Any]:
        """This neuron's options as plain data (``neuron`` names its class), e.g. for a
        run's record; the surrogate by its registered name."""
        out: dict[str, Any] = {"neuron": self.name}
        for key in self.defaults():
            value = getattr(self, key, None)
            if key == "surrogate" and value is not None:
                value = getattr(value, "name", None) or type(value).__name__
            elif key == "surrogate_alpha":
                value = float(self.surrogate.alpha)
            elif isinstance(value, Tensor):
                value = value.tolist()
            out[key] = value
        return out

    def multistep(self, x: Tensor, steps: int | None = None) -> Tensor:
        """Spikes ``[T, *]`` for a current ``[T, *]``, or a static ``[*]`` with ``steps``."""
        raise NotImplementedError(_lacks(self, "multistep"))

    def forward(self, x: Tensor, steps: int | None = None) -> Tensor:
        """Integrate ``x`` and return spikes ``[T, *]`` (see :meth:`multistep`)."""
        return self.multistep(x, steps)

    def rate(self, x: Tensor, steps: int | None = None) -> Tensor:
        """Firing rates ``forward(x, steps).mean(0)``; subclasses may compute them without
        the spike trains."""
        return self.multistep(x, steps).mean(dim=0)

    def fused_norm(
        self, x: Tensor, norm: nn.Module, steps: int | None = None, rate: bool = False
    ) -> Tensor | None:
        """``self.rate(norm(x), steps)`` (``rate``) or ``self(norm(x), steps)`` computed in
        one fused pass, or ``None`` where this neuron has no fused path for ``norm`` (the
        layer then runs the plain path). None by default."""
        return None

    def register_rate_hook(
        self, hook: Callable[[SpikingNeuron, Tensor, int], None]
    ) -> RemovableHandle:
        """Call ``hook(neuron, rates, steps)`` whenever a layer computes this neuron's firing
        rates without its spike trains.

        A layer's :meth:`~spikegraph.nn.conv.spiking.SpikingMessagePassing.fire_rate` (the
        spiking GCN's training shortcut for its last hidden layer) never calls the neuron's
        ``forward``, so forward hooks do not see those neurons; it hands their rates
        ``[N, F]`` (the spikes' mean over ``steps`` steps) to these hooks instead. An
        observer (:class:`~spikegraph.nn.monitor.SpikeMonitor`) must not change them.

        Args:
            hook: Called with the neuron, the rates and the number of time steps.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        # An OrderedDict: the handle holds it by weak reference, as torch's own hooks.
        hooks = self.__dict__.setdefault("_rate_hooks", OrderedDict())
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def notify_rate(self, rates: Tensor, steps: int) -> None:
        """Hand firing rates computed without spike trains to the hooks of
        :meth:`register_rate_hook` (nothing without hooks)."""
        hooks = self.__dict__.get("_rate_hooks")
        if hooks:
            for hook in list(hooks.values()):
                hook(self, rates, steps)

    def reset_state(self) -> None:
        """Forget any state kept between calls (none: every call starts at rest)."""

    @property
    def threshold_scale(self) -> float:
        """The firing threshold a normalisation before the neurons scales to (STFN)."""
        return float(getattr(self, "v_threshold", 1.0))

    def summary(self) -> str:
        """What a layer's repr shows of its neurons."""
        return f"neuron={type(self).__name__}({self.extra_repr()})"

    def counting_rule(self) -> CountingRule:
        """What one neuron costs per step (:class:`CountingRule`)."""
        raise NotImplementedError(_lacks(self, "counting_rule"))


def _lacks(neuron: SpikingNeuron, method: str) -> str:
    """The message of a base-class stub called on a neuron whose class lacks ``method``."""
    return (
        f"{type(neuron).__qualname__} does not implement {method}, which every SpikingNeuron "
        "must (a neuron class registered with a name is checked for it)"
    )


def neuron_option_names() -> tuple[str, ...]:
    """Every option some registered neuron takes (sorted)."""
    return tuple(sorted({k for cls in NEURONS.values() for k in cls.defaults()}))


def resolve_neuron_class(neuron: str | type[SpikingNeuron]) -> type[SpikingNeuron]:
    """A neuron class from its registered name or the class itself."""
    if isinstance(neuron, str):
        if neuron not in NEURONS:
            raise ValueError(f"Unknown neuron {neuron!r}; expected one of {sorted(NEURONS)}")
        return NEURONS[neuron]
    if isinstance(neuron, type) and issubclass(neuron, SpikingNeuron):
        return neuron
    raise TypeError(
        "'neuron' must be a registered name, a SpikingNeuron subclass or instance, or a "
        f"factory returning one, got {neuron!r}"
    )


def pop_neuron_options(
    neuron: Any, kwargs: dict[str, Any], default: tuple[str, dict[str, Any]]
) -> dict[str, Any]:
    """Take the options of the neuron ``neuron`` stands for out of a layer's ``kwargs``.

    Keyword options that the neuron class takes (``tau=``, ``reset=``, ...) are removed from
    ``kwargs`` (the rest goes to PyG's ``MessagePassing``). Returns them, over the
    ``default`` options when ``neuron`` is ``None`` (the layer's default neuron).
    """
    if neuron is None:
        cls, base = resolve_neuron_class(default[0]), dict(default[1])
    elif isinstance(neuron, (str, type)):
        cls, base = resolve_neuron_class(neuron), {}
    else:
        return {}
    names = set(cls.defaults())
    return {**base, **{k: kwargs.pop(k) for k in list(kwargs) if k in names}}


def build_neuron(
    neuron: Any,
    options: dict[str, Any] | None = None,
    default: tuple[str, dict[str, Any]] = ("lif", {}),
    num_features: int | None = None,
) -> SpikingNeuron:
    """A neuron module from ``neuron``: an instance (used as is), a class or registered name
    (built with ``options`` over its defaults), a factory called with ``options``, or
    ``None`` (the ``default`` ``(name, options)``, updated by ``options``).

    Args:
        neuron: See above.
        options: Keyword options for the neuron (refused with an instance).
        default: The neuron built for ``None``.
        num_features: The layer's width, passed to a constructor that takes it.

    Raises:
        TypeError: for anything else, or options together with an instance.
    """
    options = dict(options or {})
    if isinstance(neuron, SpikingNeuron):
        if options:
            raise TypeError(
                f"Neuron options {sorted(options)} were given with a neuron instance "
                f"({neuron!r}); set them on the instance, or pass its class or name instead"
            )
        return neuron
    if neuron is None:
        neuron, options = default[0], {**default[1], **options}
    if isinstance(neuron, (str, type)):
        cls = resolve_neuron_class(neuron)
        unknown = sorted(set(options) - set(cls.defaults()))
        if unknown:
            raise TypeError(
                f"Neuron {cls.__name__} takes no option(s) {unknown}; its options: "
                f"{sorted(cls.defaults())}"
            )
        if "num_features" in inspect.signature(cls.__init__).parameters:
            options["num_features"] = num_features
        return cls(**options)
    if callable(neuron):
        built = neuron(**options)
        if not isinstance(built, SpikingNeuron):
            raise TypeError(
                f"The neuron factory {neuron!r} returned {type(built).__name__}, not a "
                "SpikingNeuron"
            )
        return built
    return resolve_neuron_class(neuron)  # raises the TypeError
