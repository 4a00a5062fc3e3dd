"""Build spiking and ordinary node-classification models by name."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from spikegraph._validation import check_channels
from spikegraph.models.baselines import GAT, GCN
from spikegraph.models.basic import PAPER_NEURON, SpikingBasicGNN
from spikegraph.models.gat import SpikingGAT
from spikegraph.models.gcn import SpikingGCN
from spikegraph.nn.conv.gat import SpikingGATConv
from spikegraph.nn.conv.gcn import SpikingGCNConv
from spikegraph.nn.neurons import neuron_option_names


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


#: Name -> (class, default constructor options). ``gcn`` and ``gat`` are PyG's own models,
#: the ordinary baselines (:mod:`spikegraph.models.baselines`: PyG's classes with the papers'
#: ``input_dropout`` as an option, off by default, so that they build PyG's models
#: unchanged); ``sgcn`` and ``sgat`` are GC-SNN and GA-SNN (Xu et al., 2021) with
#: the classes' defaults, the validated settings (the model's default neuron,
#: :attr:`~spikegraph.models.basic.SpikingBasicGNN.default_neuron`, else the layer's,
#: :attr:`~spikegraph.nn.conv.spiking.SpikingMessagePassing.default_neuron`): for the spiking
#: GCN those of the validation-only sweep's best trial on Cora (leaky ``tau=4`` hard-reset neurons,
#: ``T=16``, no normalisation; ``benchmarks/results/class_defaults_tuned.md``), for the
#: spiking GAT integrate-and-fire neurons with soft reset and no normalisation
#: (``benchmarks/configs/node_classification.toml`` and its ablation). ``stfn-sgcn`` and
#: ``stfn-sgat`` are the same models with the paper's neuron and normalisation
#: (:data:`~spikegraph.models.basic.PAPER_NEURON`), the ablation's "paper's neuron" rows.
MODELS: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {
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
    """Whether model ``name`` of :data:`MODELS` is one of spikegraph's spiking models."""
    return issubclass(MODELS[name][0], SpikingBasicGNN)


def is_attention(name: str) -> bool:
    """Whether model ``name`` of :data:`MODELS` is an attention model (takes ``heads``)."""
    return issubclass(MODELS[name][0], (SpikingGAT, GAT))


#: The spiking models' names (read from the classes).
SPIKING = tuple(name for name in MODELS if is_spiking(name))

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
