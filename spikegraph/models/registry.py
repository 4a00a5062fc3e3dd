"""Build spiking and ordinary node-classification models by name."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from spikegraph._validation import check_channels
from spikegraph.models.baselines import GAT, GCN
from spikegraph.models.basic import PAPER_NEURON, SpikingBasicGNN, _LiveNames
from spikegraph.models.gat import SpikingGAT
from spikegraph.models.gcn import SpikingGCN
from spikegraph.nn.conv.gat import SpikingGATConv
from spikegraph.nn.conv.gcn import SpikingGCNConv
from spikegraph.nn.neurons import neuron_option_names
from spikegraph.nn.registry import Registry


def _class_defaults(*signatures: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The defaults of ``names`` in the constructors ``signatures`` (first one that has it).

    The spiking models' tuned settings live in one place, the classes' defaults; the registry
    reads them from there, so that its entries (and the options recorded with every run)
    still list them explicitly.
    """
    out: dict[str, Any] = {}
    for name in names:
        for fn in signatures:
            param = inspect.signature(fn).parameters.get(name)
            if param is not None and param.default is not inspect.Parameter.empty:
                out[name] = param.default
                break
        else:  # pragma: no cover - a programming error
            raise KeyError(f"no default for {name!r}")
    return out


def _default_neuron(model: type, layer: type) -> dict[str, Any]:
    """The options of a model's default neuron (the model class's, else its layer class's)
    that differ from the neuron class's (the tuned ``tau`` and ``reset``), for the registry's
    entries to list them."""
    _, options = model.default_neuron or layer.default_neuron
    return dict(sorted(options.items()))


class ModelRegistry(Registry):
    """Name -> ``(class, default constructor options)`` of the models :func:`build_model`
    builds, in the order registered (the command line's choices).

    A name is registered once: assigning a name that is taken (``MODELS["sgcn"] = ...``,
    :meth:`update`, :meth:`register`) raises ``ValueError`` and keeps the entry there, so a
    user's model cannot silently replace a built-in. ``MODELS.pop(name)`` removes one.
    """

    #: Defaults every entry gives: :func:`build_model` passes only the feature and class
    #: counts besides them.
    REQUIRED = ("hidden_channels", "num_layers")

    def register(
        self, name: str, cls: type[nn.Module], defaults: dict[str, Any] | None = None
    ) -> type[nn.Module]:
        """Add model ``name``: ``cls`` built with ``defaults`` (``hidden_channels`` and
        ``num_layers`` at least) unless told otherwise; returns ``cls``.

        A subclass of :class:`~spikegraph.models.basic.SpikingBasicGNN` is a spiking model
        (:func:`is_spiking`): it takes ``T``, ``neuron`` and the other spiking options.

        Raises:
            ValueError: for a name that is taken or empty, or defaults without
                ``hidden_channels`` or ``num_layers``.
            TypeError: for a name that is not a string, a ``cls`` that is not a
                ``torch.nn.Module`` class, or ``defaults`` that are not a dict.
        """
        self[name] = (cls, {} if defaults is None else defaults)
        return cls

    def describe(self, name: str) -> str:
        return self[name][0].__name__

    def check_entry(
        self, name: str, entry: tuple[type[nn.Module], dict[str, Any]]
    ) -> tuple[type[nn.Module], dict[str, Any]]:
        """A pair ``(torch.nn.Module subclass, dict of defaults)`` whose defaults give
        :attr:`REQUIRED`.

        Raises:
            TypeError: for another kind of entry, class or defaults.
            ValueError: for defaults without one of :attr:`REQUIRED`.
        """
        if not isinstance(entry, tuple) or len(entry) != 2:
            raise TypeError(
                f"model {name!r}: the entry must be a pair (class, defaults), got {entry!r:.80}"
            )
        cls, defaults = entry
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(
                f"model {name!r}: the class must be a torch.nn.Module subclass, got {cls!r:.80}"
            )
        if not isinstance(defaults, dict):
            raise TypeError(
                f"model {name!r}: the defaults must be a dict, got {type(defaults).__name__} "
                f"({defaults!r:.80})"
            )
        missing = [key for key in self.REQUIRED if key not in defaults]
        if missing:
            raise ValueError(
                f"model {name!r}: the defaults must give {missing[0]!r} "
                f"(every model's defaults give {list(self.REQUIRED)}), got {defaults!r:.120}"
            )
        return cls, defaults


#: Name -> (class, default constructor options): a :class:`ModelRegistry`
#: (``MODELS.register(name, cls, defaults)`` adds a model; a name that is taken is
#: refused). ``gcn`` and ``gat`` are PyG's own models, the ordinary baselines
#: (:mod:`spikegraph.models.baselines`: PyG's classes with the papers' ``input_dropout``
#: as an option, off by default, so that they build PyG's models unchanged); ``sgcn`` and
#: ``sgat`` are GC-SNN and GA-SNN (Xu et al., 2021) with the classes' defaults, the
#: validated settings (the model's default neuron,
#: :attr:`~spikegraph.models.basic.SpikingBasicGNN.default_neuron`, else the layer's,
#: :attr:`~spikegraph.nn.conv.spiking.SpikingMessagePassing.default_neuron`): for the spiking
#: GCN those of the validation-only sweep's best trial on Cora (leaky ``tau=4`` hard-reset
#: neurons, ``T=16``, no normalisation; ``benchmarks/results/class_defaults_tuned.md``), for
#: the spiking GAT integrate-and-fire neurons with soft reset and no normalisation
#: (``benchmarks/configs/node_classification.toml`` and its ablation). ``stfn-sgcn`` and
#: ``stfn-sgat`` are the same models with the paper's neuron and normalisation
#: (:data:`~spikegraph.models.basic.PAPER_NEURON`), the ablation's "paper's neuron" rows.
MODELS: ModelRegistry = ModelRegistry("model")
MODELS.update(
    {
        "sgcn": (
            SpikingGCN,
            {
                "hidden_channels": 64,
                "num_layers": 2,
                **_class_defaults(
                    SpikingGCN.__init__,
                    SpikingBasicGNN.__init__,
                    SpikingGCNConv.__init__,
                    names=("dropout", "input_dropout", "T", "norm", "encoder"),
                ),
                **_default_neuron(SpikingGCN, SpikingGCNConv),
            },
        ),
        "sgat": (
            SpikingGAT,
            {
                "hidden_channels": 64,
                "num_layers": 2,
                **_class_defaults(
                    SpikingGAT.__init__,
                    SpikingBasicGNN.__init__,
                    SpikingGATConv.__init__,
                    names=("dropout", "input_dropout", "heads", "T", "norm", "encoder"),
                ),
                **_default_neuron(SpikingGAT, SpikingGATConv),
            },
        ),
        "gcn": (GCN, {"hidden_channels": 64, "num_layers": 2, "dropout": 0.5}),
        "gat": (GAT, {"hidden_channels": 64, "num_layers": 2, "dropout": 0.6, "heads": 8}),
    }
)
MODELS["stfn-sgcn"] = (SpikingGCN, {**MODELS["sgcn"][1], **PAPER_NEURON})
MODELS["stfn-sgat"] = (SpikingGAT, {**MODELS["sgat"][1], **PAPER_NEURON})
#: The spiking GAT with the spiking GCN's validated neuron: leaky (``tau=4``) hard-reset LIF
#: neurons and no normalisation (:attr:`SpikingGCN.default_neuron
#: <spikegraph.models.SpikingGCN.default_neuron>`, chosen on Cora's validation accuracy,
#: ``benchmarks/results/class_defaults_tuned.md``). ``sgat`` searches the neuron and the
#: normalisation among its 13 parameters; this preset holds them at the spiking GCN's and
#: tunes the rest, as ``stfn-sgat`` holds them at the paper's.
MODELS["lif-sgat"] = (
    SpikingGAT,
    {**MODELS["sgat"][1], "norm": "none", **_default_neuron(SpikingGCN, SpikingGCNConv)},
)

#: The paper-faithful GC-SNN and GA-SNN (Xu et al., IJCAI 2021, and the journal version,
#: arXiv 2407.20508): every layer spiking, the output layer included, with STFN on every
#: layer's synaptic current before leaky (``tau=2``) hard-reset LIF neurons
#: (:data:`~spikegraph.models.basic.PAPER_NEURON`), and the rate readout of the last layer's
#: spikes (``readout="rate"``; ``head_channels=H`` adds the journal version's MLP head,
#: :class:`~spikegraph.models.head.MLPHead`). From the second layer on
#: STFN pools over time steps that differ; with ``encoder="bernoulli"`` or ``"rank-order"``
#: from the first. ``norm="none"`` is the ablation without STFN. The papers' dropout (0.1
#: GC-SNN, 0.6 GA-SNN) is applied to the input and between layers (and to the attention);
#: they do not state ``T``, the hidden width, the threshold or ``rho``: ``T=8`` (the
#: group's STBP code), 64 hidden channels (8 heads of 8 for GA-SNN, as GAT), ``v_threshold=1``,
#: ``rho=1``.
MODELS["gcsnn"] = (
    SpikingGCN,
    {
        "hidden_channels": 64,
        "num_layers": 2,
        "dropout": 0.1,
        "input_dropout": 0.1,
        "T": 8,
        "readout": "rate",
        **PAPER_NEURON,
    },
)
MODELS["gasnn"] = (
    SpikingGAT,
    {
        "hidden_channels": 64,
        "num_layers": 2,
        "dropout": 0.6,
        "input_dropout": 0.6,
        "heads": 8,
        "T": 8,
        "readout": "rate",
        **PAPER_NEURON,
    },
)


def is_spiking(name: str) -> bool:
    """Whether model ``name`` of :data:`MODELS` is a spiking model (its class derives from
    :class:`~spikegraph.models.basic.SpikingBasicGNN`), read from the class when asked.

    Raises:
        ValueError: for a name that is not registered, listing those that are.
    """
    return issubclass(MODELS.resolve(name)[0], SpikingBasicGNN)


def is_attention(name: str) -> bool:
    """Whether model ``name`` of :data:`MODELS` is an attention model (takes ``heads``).

    Raises:
        ValueError: for a name that is not registered, listing those that are.
    """
    return issubclass(MODELS.resolve(name)[0], (SpikingGAT, GAT))


def _spiking_names() -> tuple[str, ...]:
    return tuple(name for name in MODELS if is_spiking(name))


#: The spiking models' names, in registry order: read from :data:`MODELS` and the classes on
#: every use (``name in SPIKING``, iteration, indexing), so a model registered after import
#: is among them; it compares equal to the tuple of those names. :func:`is_spiking` asks
#: about one name.
SPIKING = _LiveNames(_spiking_names)

#: Name -> training options that differ from :class:`~spikegraph.train.TrainConfig`'s
#: defaults (GAT models: the learning rate of Velickovic et al., 2018). ``gcsnn`` and
#: ``gasnn`` list the papers' whole setup: Adam, lr 0.01 / 0.005, weight decay 5e-4, 200
#: epochs.
TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "gat": {"lr": 0.005},
    "sgat": {"lr": 0.005},
    "stfn-sgat": {"lr": 0.005},
    "lif-sgat": {"lr": 0.005},
    "gcsnn": {"lr": 0.01, "weight_decay": 5e-4, "epochs": 200},
    "gasnn": {"lr": 0.005, "weight_decay": 5e-4, "epochs": 200},
}


def build_model(name: str, in_channels: int, out_channels: int, **options: Any) -> nn.Module:
    """Instantiate model ``name`` with its defaults updated by ``options``.

    Args:
        name: ``"sgcn"``, ``"sgat"`` (spiking, the validated settings), ``"stfn-sgcn"``,
            ``"stfn-sgat"`` (spiking, the paper's neuron and STFN), ``"lif-sgat"`` (the
            spiking GAT with the spiking GCN's neuron), ``"gcsnn"``, ``"gasnn"``
            (the paper's models: every layer spiking with STFN, rate readout) or ``"gcn"``,
            ``"gat"`` (PyG's models, with the papers' ``input_dropout`` as an option:
            :mod:`~spikegraph.models.baselines`).
        in_channels: Feature width.
        out_channels: Number of classes.
        **options: Constructor options overriding the defaults (``None`` values are ignored);
            with ``neuron`` given, the preset's neuron options do not apply
            (:func:`preset_options`).

    Raises:
        ValueError, TypeError: for an unknown name or options no model can train with
            (:func:`~spikegraph.models.checks.check_model_options`).
    """
    from spikegraph.models.checks import check_model_options

    kwargs = check_model_options(name, options)
    preset = preset_options(name, options)
    given = {k for k, v in (options or {}).items() if v is not None}
    kwargs = {k: v for k, v in kwargs.items() if k in given or k in preset}
    check_channels(in_channels, "in_channels", lazy=True)
    check_channels(out_channels, "out_channels")
    return MODELS[name][0](in_channels, out_channels=out_channels, **kwargs)


def preset_options(name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The registry's defaults of model ``name`` that apply to a build with ``options``.

    A preset's neuron options (``tau``, ``reset``, ...) describe the neuron it is built with
    (the layers' default LIF, or the paper's); when ``options`` choose a neuron
    (``neuron="plif"``), that neuron starts from its own class's defaults instead, so they
    are left out.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    defaults = dict(MODELS[name][1])
    if (options or {}).get("neuron") is not None:
        for key in neuron_option_names():
            defaults.pop(key, None)
    return defaults


def train_defaults(name: str) -> dict[str, Any]:
    """A copy of the training options model ``name`` uses unless told otherwise."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    return dict(TRAIN_DEFAULTS.get(name, {}))


def model_defaults(name: str) -> dict[str, Any]:
    """A copy of the default options of model ``name``."""
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    return dict(MODELS[name][1])
