"""Up-front checks of a run: options that cannot hold, and whether its activations fit.

:func:`check_run_options` is called by :func:`~spikegraph.train.run_node_classification`
after the dataset is loaded and before any model is built, so an impossible run fails in
seconds with a clear error instead of training at chance level, crashing after preprocessing,
or filling the machine's memory.

Memory: :func:`estimate_memory` is a rough lower bound of the activations one full-graph
forward (and backward) holds, :func:`available_memory` what the machine has free
(``MemAvailable`` of ``/proc/meminfo``, capped by a cgroup limit). The environment variable
``SPIKEGRAPH_MEMORY_LIMIT`` overrides the latter: a size (``"64G"``, ``"512MiB"``, bytes) or
``"off"`` to skip the check.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch_geometric.nn import models as pyg_models

from spikegraph._validation import (
    check_channels,
    check_choice,
    check_probability,
    check_time_steps,
)
from spikegraph.models.basic import NEURON_OPTIONS, _LiveNames
from spikegraph.models.registry import MODELS, is_attention, is_spiking
from spikegraph.nn.encoding import ENCODERS
from spikegraph.samplers import MODES, SAMPLERS, resolve_mode


def _spiking_only() -> tuple[str, ...]:
    return ("T", "encoder", "readout", "encoder_seed", "sparse_input", "head_channels",
            *NEURON_OPTIONS)  # fmt: skip


#: Options only spikegraph's spiking models take (the neurons' read from their registry on
#: every use, as :data:`~spikegraph.models.basic.NEURON_OPTIONS`, so a neuron registered
#: after import counts).
SPIKING_ONLY = _LiveNames(_spiking_only)
#: Options only the attention models take.
GAT_ONLY = ("heads", "out_heads", "attention_dropout")
#: Environment variable that overrides the memory available to a run (a size, or "off").
MEMORY_LIMIT_ENV = "SPIKEGRAPH_MEMORY_LIMIT"


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{name}' must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"'{name}' must be >= {minimum}, got {value}")
    return value


def _time_varying_encoder(name: Any) -> bool:
    """Whether encoder ``name`` feeds a ``[T, N, F]`` spike train (Bernoulli, rank-order)
    rather than the static features; ``False`` for names that are not registered (the
    model's constructor reports those)."""
    return isinstance(name, str) and name in ENCODERS and not ENCODERS[name].static_output


def check_model_options(name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Refuse model options no run can train with; return them merged with the defaults.

    Checks what the models themselves check late, raw or not at all: widths and depths
    (``hidden_channels=0`` trains at chance level, PyG's ``GCN`` takes ``num_layers=0``),
    attention heads (``heads=0`` divides by zero in PyG's ``GAT``), dropout rates, and
    options that belong to other models (``T`` for PyG's ``gcn``, ``heads`` for ``sgcn``).

    Args:
        name: A model of :data:`~spikegraph.models.MODELS`.
        options: Overrides of its defaults (``None`` values are ignored, as in
            :func:`~spikegraph.models.build_model`).

    Raises:
        ValueError, TypeError: naming the option and its value.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    given = {k: v for k, v in (options or {}).items() if v is not None}
    spiking, attention = is_spiking(name), is_attention(name)
    spiking_only = _spiking_only()
    wrong = [k for k in given if (k in spiking_only and not spiking)]
    if wrong:
        raise ValueError(f"option(s) {wrong} only apply to spiking models, not {name!r}")
    wrong = [k for k in given if k in GAT_ONLY and not attention]
    if wrong:
        raise ValueError(f"option(s) {wrong} only apply to GAT models, not {name!r}")
    opts = {**MODELS[name][1], **given}
    check_channels(opts["hidden_channels"], "hidden_channels")
    _check_int(opts["num_layers"], "num_layers", 1)
    for key in ("dropout", "input_dropout", "attention_dropout"):
        if opts.get(key) is not None:
            check_probability(opts[key], key)
    if spiking:
        check_time_steps(opts.get("T", 8))
        if opts.get("sparse_input") is True and _time_varying_encoder(opts.get("encoder")):
            raise ValueError(
                f"sparse_input=True cannot hold with encoder={opts['encoder']!r}: the encoder "
                "feeds a dense [T, N, F] spike train; leave sparse_input unset"
            )
    if attention:
        heads = _check_int(opts.get("heads", 1), "heads", 1)
        if opts.get("out_heads") is not None:
            _check_int(opts["out_heads"], "out_heads", 1)
        # as the models do: only a hidden layer (any but the output one, every one with
        # jumping knowledge) that concatenates its heads needs the width to divide
        has_hidden = opts.get("jk") is not None or opts["num_layers"] > 1
        if opts.get("concat", True) and has_hidden and opts["hidden_channels"] % heads:
            raise ValueError(
                f"'hidden_channels'={opts['hidden_channels']} must be divisible by "
                f"heads={heads} (hidden layers concatenate the heads; concat=False averages "
                "them)"
            )
    return opts


def check_run_options(
    name: str,
    options: dict[str, Any] | None = None,
    *,
    sampler: str | None = None,
    mode: str | None = None,
    data: Any = None,
    num_classes: int | None = None,
    evaluation: str = "full",
) -> None:
    """Refuse a run whose options cannot hold together, or whose activations cannot fit.

    On top of :func:`check_model_options`:

    - ``cached=True`` (GCN layers, spikegraph's and PyG's) caches the normalised graph of the
      first call; with a sampler every batch is another graph, so it cannot hold.
    - ``mode`` (``None``: the sampler's default, see :func:`spikegraph.samplers.resolve_mode`)
      must suit the sampler (``"subgraph"`` needs nested batches); ``"blocks"`` needs a
      sampler and a model that runs on blocks (``forward_blocks``, or PyG's ``GCN``).
    - With ``data`` (and ``num_classes``): :func:`check_memory` of :func:`estimate_memory`.

    Raises:
        ValueError, TypeError: naming the options that cannot hold.
        RunTooLargeError: when the estimate exceeds the available memory.
    """
    opts = check_model_options(name, options)
    if sampler is not None:
        mode = resolve_mode(SAMPLERS[check_choice(sampler, tuple(SAMPLERS), "sampler")], mode)
    elif mode is not None:
        check_choice(mode, MODES, "mode")
    if sampler is not None and opts.get("cached"):
        raise ValueError(
            f"option cached=True cannot hold with the sampler {sampler!r}: the layers cache "
            "the normalised graph of their first call and would reuse it for every "
            "mini-batch (another graph each time); drop cached=True (it only serves "
            "full-batch training on a fixed graph)"
        )
    if mode == "blocks":
        if sampler is None:
            raise ValueError(
                "mode='blocks' runs the model on a sampler's blocks: it needs a sampler "
                "(full-batch training has no blocks)"
            )
        cls = MODELS[name][0]
        if not (hasattr(cls, "forward_blocks") or issubclass(cls, pyg_models.GCN)):
            raise ValueError(
                f"mode='blocks' needs a model that runs on blocks (forward_blocks, or PyG's "
                f"GCN); {name!r} ({cls.__name__}) does not: use mode='subgraph' with a "
                "sampler whose batches nest"
            )
    if data is not None:
        layerwise = evaluation == "layerwise"
        estimate = estimate_memory(
            name,
            opts,
            num_nodes=int(data.num_nodes),
            num_edges=int(data.edge_index.size(1)),
            num_features=int(data.num_features),
            num_classes=int(num_classes or 1),
            layerwise=layerwise and sampler is not None,
        )
        check_memory(estimate)


@dataclass
class MemoryEstimate:
    """A rough lower bound of the bytes a run's activations take, and how it was made.

    Attributes:
        bytes: The estimate.
        formula: The sizes that went into it, for error messages.
    """

    bytes: int
    formula: str


def estimate_memory(
    name: str,
    options: dict[str, Any],
    *,
    num_nodes: int,
    num_edges: int,
    num_features: int,
    num_classes: int,
    layerwise: bool = False,
    dtype_bytes: int = 4,
) -> MemoryEstimate:
    """Roughly the activation memory of one full-graph forward with its backward pass.

    A spiking hidden layer holds ``T x N x hidden`` spikes and as many membrane potentials
    (kept for backpropagation through time); a layer fed a spike train holds its messages,
    ``T x (E + N) x width``. The first layer sees the static features once (a Bernoulli
    encoder feeds a ``T x N x F_in`` spike train instead). Attention layers keep about four
    per-edge tensors (scores, softmax, dropout, messages). PyG's models are the case ``T=1``.
    Parameters and optimiser state are small next to this and left out; measured peaks
    (Cora, several models, T and widths) are 1x-2x this figure, so it is a lower bound to
    refuse runs that cannot fit, not a prediction.

    With ``layerwise`` (mini-batch training with layer-wise evaluation) only one layer's
    input and output for all nodes count: ``2 x T x N x hidden``.
    """
    opts = {**MODELS[name][1], **options} if name in MODELS else dict(options)
    spiking = name in MODELS and is_spiking(name)
    T = int(opts.get("T", 8)) if spiking else 1
    hidden, layers = int(opts["hidden_channels"]), int(opts["num_layers"])
    n, e = num_nodes, num_edges + num_nodes  # messages include the self-loops
    attention = name in MODELS and is_attention(name)
    heads = int(opts.get("out_heads") or opts.get("heads", 1)) if attention else 1
    edge_factor = 4 if attention else 1
    if layerwise:
        values = 2 * T * n * hidden
        formula = f"2 x T={T} x {n} nodes x hidden={hidden} (one layer in and out)"
        return MemoryEstimate(values * dtype_bytes, formula + f" x {dtype_bytes} bytes")
    bernoulli = spiking and _time_varying_encoder(opts.get("encoder"))
    values = T * n * num_features if bernoulli else 0
    hidden_layers = layers - 1
    values += 2 * T * n * hidden * hidden_layers  # spikes and potentials of hidden layers
    for i in range(layers):
        last = i == layers - 1
        width = num_classes * heads if last else hidden
        steps = T if (i > 0 or bernoulli) else 1
        values += edge_factor * steps * e * width  # messages
    values += T * n * num_classes  # the output layer's currents
    formula = (
        f"T={T} x {n} nodes x hidden={hidden} x {hidden_layers} hidden layer(s) x 2 "
        f"(spikes, potentials) + messages over {e} edges"
        + (f" + a T x N x {num_features} input spike train" if bernoulli else "")
        + f", {dtype_bytes} bytes each"
    )
    return MemoryEstimate(values * dtype_bytes, formula)


class RunTooLargeError(ValueError):
    """A run's estimated memory exceeds what the machine has available."""


_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str, name: str = MEMORY_LIMIT_ENV) -> int | None:
    """Bytes of ``"64G"``, ``"512MiB"``, ``"1.5gb"``, ``"1000000"``; ``None`` for ``"off"``.

    Raises:
        ValueError: naming ``name`` and the text.
    """
    t = text.strip().lower()
    if t in ("off", "none", "unlimited"):
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", t)
    if m is None:
        raise ValueError(
            f"{name}={text!r} is not a size: give e.g. '64G', '512MiB', a number of bytes, or "
            "'off' to skip the memory check"
        )
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def available_memory() -> tuple[int | None, str]:
    """``(bytes, where from)``: memory a run may use, ``None`` when unknown or unlimited.

    ``SPIKEGRAPH_MEMORY_LIMIT`` when set; else ``MemAvailable`` of ``/proc/meminfo`` (or
    ``os.sysconf``'s available pages), capped by the headroom of a cgroup v2 memory limit.
    """
    env = os.environ.get(MEMORY_LIMIT_ENV)
    if env is not None and env.strip():
        return parse_size(env), f"{MEMORY_LIMIT_ENV}={env}"
    avail, source = None, "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail, source = int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
                break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            source = "os.sysconf available pages"
        except (ValueError, OSError, AttributeError):
            return None, source
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            headroom = max(int(limit) - used, 0)
            if headroom < avail:
                avail, source = headroom, "the cgroup memory limit (memory.max)"
    except (OSError, ValueError):
        pass
    return avail, source


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_memory(estimate: MemoryEstimate, available: int | None = None) -> None:
    """Raise :class:`RunTooLargeError` if ``estimate`` exceeds the available memory.

    Args:
        estimate: From :func:`estimate_memory`.
        available: Bytes; :func:`available_memory` when ``None``.
    """
    source = "given"
    if available is None:
        available, source = available_memory()
        if available is None:
            return
    if estimate.bytes > available:
        raise RunTooLargeError(
            f"this run needs at least about {_gib(estimate.bytes)} for its activations "
            f"({estimate.formula}), more than the {_gib(available)} available ({source}); "
            "lower T, hidden_channels or num_layers, train with a sampler and "
            "--eval layerwise, or set "
            f"{MEMORY_LIMIT_ENV} (e.g. '256G', or 'off') if the estimate is wrong for your "
            "machine"
        )


__all__ = [
    "GAT_ONLY",
    "MEMORY_LIMIT_ENV",
    "SPIKING_ONLY",
    "MemoryEstimate",
    "RunTooLargeError",
    "available_memory",
    "check_memory",
    "check_model_options",
    "check_run_options",
    "estimate_memory",
    "parse_size",
]
