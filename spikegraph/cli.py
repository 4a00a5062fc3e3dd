"""The ``spikegraph`` command: a thin shell over :mod:`spikegraph.train` and friends.

Errors: a bad value is one ``spikegraph: error: ...`` line on stderr and exit code 2, with
nothing run; an unexpected error is one line and exit code 1 (``-v`` shows its traceback); a
diverged run exits 1; Ctrl-C keeps what finished and exits 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from spikegraph.cost.static_input import (
    DEFAULT_STATIC_INPUT,
    STATIC_INPUT,
    describe_static_input,
)
from spikegraph.datasets import DATASETS
from spikegraph.models import MODELS, is_attention, is_spiking
from spikegraph.models.registry import TRAIN_DEFAULTS
from spikegraph.nn.conv.spiking import SpikingMessagePassing
from spikegraph.nn.encoding import ENCODERS
from spikegraph.nn.neurons import NEURONS
from spikegraph.nn.norm import norm_names
from spikegraph.nn.readout import READOUTS
from spikegraph.train.checkpoint import ON_MISMATCH
from spikegraph.train.trainer import TrainConfig

# The API of this module: the parser and the entry point. Everything else here is their
# implementation; the commands themselves are documented in docs/.
__all__ = ["build_parser", "main"]

#: What the ``--help`` pages say the command is for.
DESCRIPTION = (
    "Spiking graph neural networks for PyTorch Geometric: train node classifiers, count "
    "their operations and energy, run the benchmarks."
)
#: Exit codes: bad input (nothing was run), Ctrl-C.
EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


class UsageError(ValueError):
    """Options of the command line that do not go together (exit code 2)."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean a bad value, file or setting, not a bug: one line, exit code 2.

    The project's own (checkpoints, outputs, datasets' formats, run sizes: all
    :class:`ValueError`; sampler caches:
    :class:`spikegraph.samplers.base.SamplerCacheError`; a ``torchrun`` environment that
    cannot start: :class:`spikegraph.train.distributed.DistributedError`), files and folders
    (:class:`OSError`), files refused by the safe unpickler, and the :class:`ValueError` /
    :class:`TypeError` every check raises.
    """
    from spikegraph.samplers.base import SamplerCacheError
    from spikegraph.train.distributed import DistributedError

    return (
        ValueError,
        TypeError,
        OSError,
        SamplerCacheError,
        DistributedError,
        pickle.UnpicklingError,
    )


def plain_text(text: str) -> str:
    """``text`` without reST markup: ``:role:`~a.b.c``` -> ``c``, ``:role:`a.b``` -> ``a.b``,
    double backquotes dropped (for ``--help`` pages made from docstrings)."""
    text = re.sub(r":[a-z]+(?::[a-z]+)*:`~?([^`<]*?)(?:\s*<[^>]*>)?`", _role_target, text)
    return text.replace("``", "")


def _role_target(match: re.Match) -> str:
    target = match.group(1)
    return target.rsplit(".", 1)[-1] if match.group(0).split("`")[1].startswith("~") else target


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default, unless it has none worth showing (``None``,
    ``False``, empty) or its help already says it; reST markup removed."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = plain_text(action.help or "")
        default = action.default
        if (
            "default" in text
            or any(default is nothing for nothing in (None, False, argparse.SUPPRESS))
            or (isinstance(default, list) and not default)
            or not action.option_strings
        ):
            return text
        return text + " (default: %(default)s)"

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain_text(text))


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose refusals are one ``spikegraph: error: ...`` line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(
            f"spikegraph: error: {one_line(message)} (see '{self.prog} --help')",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE)


def one_line(text: str) -> str:
    """``text`` on one line (a message spread over lines is joined with spaces)."""
    return " ".join(str(text).split())


def add_verbose(p: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    """``-v``: accepted before and after the subcommand (the subcommand's does not reset it)."""
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="log at INFO level; show the traceback of an unexpected error",
    )


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default="cpu",
        metavar="DEVICE",
        help="where to train: cpu, cuda, cuda:N or auto (CUDA when available, else cpu); "
        "cpu gives the same numbers on every machine of one CPU kind",
    )


def _parse_value(text: str) -> Any:
    """``"8"`` -> 8, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"null"`` -> None,
    ``"[10, 5]"`` -> ``[10, 5]`` (a JSON list, e.g. a per-layer option), else the text.

    ``"none"`` stays the text ``"none"``: it is a value of its own (``norm=none``: no
    normalisation, ``reset=none``), and reading it as ``None``, which means "the default",
    turned ``--option norm=none`` into the preset's STFN without a word.

    Raises:
        UsageError: for a ``[...]`` value that is not a JSON list.
    """
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise UsageError(f"{text!r} is not a list such as [10, 5] ({err})") from None
        if not isinstance(value, list):  # pragma: no cover - "[" starts a JSON list
            raise UsageError(f"{text!r} is not a list such as [10, 5]")
        return value
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _options(pairs: Sequence[str], flag: str = "--option") -> dict[str, Any]:
    """``["T=4", "tau=2"]`` -> ``{"T": 4, "tau": 2}`` (values read by :func:`_parse_value`).

    Raises:
        UsageError: for a pair without ``=``, or a key given twice (the last one silently
            won), naming both.
    """
    out = {}
    given = _option_texts(pairs, flag)
    for key, pair in given.items():
        out[key] = _parse_value(pair.split("=", 1)[1].strip())
    return out


def _option_texts(pairs: Sequence[str], flag: str = "--option") -> dict[str, str]:
    """``["T=4", " tau = 2"]`` -> ``{"T": "T=4", "tau": "tau = 2"}``: each key's pair, as given.

    Raises:
        UsageError: for a pair without ``=``, or a key given twice, naming both.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"{flag} expects key=value, got {pair!r}")
        key = pair.split("=", 1)[0].strip()
        if key in out:
            raise UsageError(
                f"{flag} {out[key]} and {flag} {pair.strip()} both set {key}: give it once"
            )
        out[key] = pair.strip()
    return out


def _refuse_twice(
    flags: dict[str, tuple[str, Any]], pairs: dict[str, str], flag: str, what: str
) -> None:
    """Refuse an option set both by its own flag and by a ``KEY=VALUE`` option (the latter
    silently won).

    Args:
        flags: Option -> (its flag, the value given there; ``None``: not given).
        pairs: Option -> its ``KEY=VALUE`` text (:func:`_option_texts`).
        flag: The ``KEY=VALUE`` flag (``"--option"``).
        what: What the options are (``"model option"``).
    """
    for key, pair in pairs.items():
        own, value = flags.get(key, (None, None))
        if value is not None:
            raise UsageError(
                f"{own} {value} and {flag} {pair} both set the {what} {key}: give it once"
            )


def model_defaults(key: str) -> str:
    """``"(default: sgcn 64, gcn 64, ...)"``: option ``key`` of each registered model that
    has one, read from the registry and the classes' signatures."""
    import inspect

    import torch

    values = []
    for name, (cls, registry) in MODELS.items():
        value = registry.get(key)
        for klass in cls.__mro__:  # the constructors that receive the option (**kwargs)
            if value is not None or klass in (torch.nn.Module, object):
                break
            if "__init__" not in klass.__dict__:
                continue
            params = inspect.signature(klass.__dict__["__init__"]).parameters
            if key in params and params[key].default is not inspect.Parameter.empty:
                value = params[key].default
            if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
                break
        if value is None and is_spiking(name):  # passed on to the layers: their default
            param = inspect.signature(SpikingMessagePassing.__init__).parameters.get(key)
            if param is not None and param.default is not inspect.Parameter.empty:
                value = param.default
        if value is not None and (key != "norm" or is_spiking(name)):
            values.append(f"{name} {value}")
    return f"(default: {', '.join(values)})" if values else "(default: the model's)"


def train_default(key: str) -> Any:
    """The default of :class:`~spikegraph.train.TrainConfig` field ``key`` (the CLI's
    training options default to ``None``: the trainer's defaults apply)."""
    return {f.name: f.default for f in dataclasses.fields(TrainConfig)}[key]


def run_default(key: str) -> Any:
    """The default of :func:`~spikegraph.experiments.run_node_classification`'s argument
    ``key`` (the CLI's run options default to ``None``: the library's defaults apply)."""
    import inspect

    from spikegraph.experiments.node_classification import run_node_classification

    return inspect.signature(run_node_classification).parameters[key].default


def lr_help() -> str:
    """``--lr``'s help: :class:`~spikegraph.train.TrainConfig`'s learning rate and the models
    whose :func:`~spikegraph.models.train_defaults` differ."""
    per_model = ", ".join(f"{m} {o['lr']}" for m, o in TRAIN_DEFAULTS.items() if "lr" in o)
    extra = f"; {per_model}" if per_model else ""
    return f"Adam learning rate (default: {train_default('lr')}{extra})"


def _preset_neuron(name: str) -> tuple[str | None, dict[str, Any]]:
    """The neuron model ``name`` builds without ``--neuron``: its class's default neuron
    (the model class's, else the layers') updated by the registry's options; ``(None, {})``
    for a model that is not spiking."""
    if not is_spiking(name):
        return None, {}
    cls, opts = MODELS[name]
    neuron, options = cls.default_neuron or SpikingMessagePassing.default_neuron
    if opts.get("neuron", neuron) != neuron:  # another neuron: its own class's defaults
        neuron, options = opts["neuron"], {}
    return neuron, {**options, **{k: opts[k] for k in ("tau", "reset") if k in opts}}


def neuron_help(change: str = "with --option, e.g. --option tau=4") -> str:
    """``--neuron``'s help, with each registered neuron's own defaults of ``tau``/``reset``
    and the neuron each spiking model builds without it; ``change`` says how the command
    sets a neuron's options."""
    own = "; ".join(
        f"{name}: "
        + ", ".join(f"{k}={cls.defaults()[k]}" for k in ("tau", "reset") if k in cls.defaults())
        for name, cls in sorted(NEURONS.items())
    )
    presets = "; ".join(
        f"{name}: LIF tau={options.get('tau')}, reset={options.get('reset')}"
        for name in MODELS
        for neuron, options in [_preset_neuron(name)]
        if neuron == "lif"
    )
    return (
        "spiking neuron class, spiking models. Without it the model's preset neuron is used "
        f"({presets}). Naming one "
        "(also 'lif') builds that class with its own defaults, not the preset's neuron "
        f"options ({own}); change them {change}. The record's "
        "model_options show the options the neuron was built with"
    )


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by commands that train a model."""
    p.add_argument("--dataset", default="Cora", help=f"one of {list(DATASETS)} (any case)")
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--split", default="public", choices=["public", "full"], help="Planetoid split")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"maximum training epochs (default: {train_default('epochs')})",
    )
    p.add_argument("--lr", type=float, default=None, help=lr_help())
    p.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help=f"Adam's L2 penalty (default: {train_default('weight_decay')})",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="stop after this many epochs without a better validation accuracy "
        f"(default: {train_default('patience')})",
    )
    p.add_argument("--model", default="sgcn", choices=list(MODELS), help="model to train")
    p.add_argument(
        "--hidden", type=int, default=None, help=f"hidden width {model_defaults('hidden_channels')}"
    )
    p.add_argument(
        "--layers",
        type=int,
        default=None,
        help=f"number of graph layers {model_defaults('num_layers')}",
    )
    p.add_argument(
        "--dropout", type=float, default=None, help=f"dropout rate {model_defaults('dropout')}"
    )
    p.add_argument(
        "--T", type=int, default=None, help=f"time steps, spiking models {model_defaults('T')}"
    )
    p.add_argument(
        "--encoder",
        default=None,
        choices=list(ENCODERS),
        help=f"input encoder, spiking models {model_defaults('encoder')}",
    )
    p.add_argument(
        "--readout",
        default=None,
        choices=list(READOUTS),
        help=f"output readout, spiking models {model_defaults('readout')}",
    )
    p.add_argument(
        "--norm",
        default=None,
        choices=list(norm_names()),
        help=f"normalisation, spiking models {model_defaults('norm')}",
    )
    p.add_argument(
        "--neuron",
        default=None,
        choices=sorted(NEURONS),
        help=neuron_help(),
    )
    p.add_argument(
        "--heads",
        type=int,
        default=None,
        help=f"attention heads, GAT models {model_defaults('heads')}",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other model option, e.g. --option tau=2 --option surrogate=sigmoid; an "
        "unknown key is refused with the list of valid ones",
    )
    add_device(p)
    add_sampler_arguments(p)
    p.add_argument(
        "--eval",
        default="full",
        choices=["full", "layerwise"],
        help="score validation and test with one full-graph forward or layer by layer in "
        "node batches (same logits, one layer's activations in memory: for large graphs)",
    )
    p.add_argument(
        "--eval-batch-size",
        type=int,
        default=None,
        help="target nodes per batch of --eval layerwise "
        f"(default: {run_default('eval_batch_size')})",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="save/resume training state: one file per seed, PATH 'ck.pt' -> 'ck.seed0.pt', "
        "'ck.seed1.pt', ...; a file of another configuration or other data is refused",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        metavar="N",
        help=f"epochs between checkpoints (default: {train_default('checkpoint_every')})",
    )
    p.add_argument(
        "--checkpoint-mismatch",
        default=None,
        choices=list(ON_MISMATCH),
        help="when a checkpoint belongs to another configuration: refuse (error) or start a new "
        "run beside it at 'ck.seed0.cfg-<hash>.pt' (new) "
        f"(default: {train_default('checkpoint_mismatch')})",
    )
    p.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="write the result record here (on Ctrl-C: the finished seeds')",
    )
    p.add_argument(
        "--mmap",
        action="store_true",
        help="memory-map an OGB dataset's processed features and edges from the cache "
        "instead of reading them into memory",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress bars (loading, preprocessing, epochs, layer-wise evaluation; "
        "they are shown only on a terminal)",
    )
    add_verbose(p)


def check_output(path: str | None, what: str) -> None:
    """Fail now, before any work, if output ``path`` cannot be written."""
    if path is not None:
        from spikegraph.train.checkpoint import check_output_file

        check_output_file(path, what)


def write_record(path: str | os.PathLike, record: dict[str, Any]) -> int:
    """Write ``record`` as JSON to ``path`` atomically; if that fails, to a fallback file.

    A finished result is never lost: when ``path`` cannot be written (disk full, folder
    removed, permissions changed during the run), the record goes to a file in the system's
    temporary folder (else the working folder, else standard output) and the message says
    where. Returns 0 if ``path`` was written, 1 otherwise.
    """
    from spikegraph.train.checkpoint import atomic_write

    text = json.dumps(record, indent=2) + "\n"
    path = Path(path)
    try:
        atomic_write(path, lambda f: f.write(text.encode()))
    except OSError as err:
        reason = f"{type(err).__name__}: {err}"
        name = f"spikegraph-record-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.json"
        for folder in (Path(tempfile.gettempdir()), Path.cwd()):
            fallback = folder / name
            try:
                atomic_write(fallback, lambda f: f.write(text.encode()))
            except OSError:
                continue
            print(
                f"spikegraph: could not write the record to {path} ({reason}); "
                f"it was written to {fallback} instead",
                file=sys.stderr,
            )
            return 1
        print(
            f"spikegraph: could not write the record to {path} ({reason}) nor to a "
            "fallback file; here it is:",
            file=sys.stderr,
        )
        print(text)
        return 1
    print(f"wrote {path}")
    return 0


def add_sampler_arguments(p: argparse.ArgumentParser) -> None:
    """Mini-batch options: which sampler and how it draws batches."""
    from spikegraph.samplers import MODES, SAMPLERS

    g = p.add_argument_group("mini-batch training (default: full-batch)")
    g.add_argument(
        "--sampler",
        default=None,
        choices=list(SAMPLERS),
        help="sampler of spikegraph.samplers to train with",
    )
    g.add_argument("--batch-size", type=int, default=None, help="seeds per batch (node-wise)")
    g.add_argument(
        "--num-neighbors", type=int, nargs="+", default=None, help="fan-out per layer (-1: all)"
    )
    g.add_argument("--num-parts", type=int, default=None, help="METIS clusters (cluster-gcn)")
    g.add_argument("--clusters-per-batch", type=int, default=None, help="(cluster-gcn)")
    g.add_argument("--diag-lambda", type=float, default=None, help="(cluster-gcn)")
    g.add_argument("--budget", type=int, default=None, help="draws per subgraph (graphsaint)")
    g.add_argument("--num-roots", type=int, default=None, help="walk roots (graphsaint-rw)")
    g.add_argument("--walk-length", type=int, default=None, help="(graphsaint-rw, pinsage)")
    g.add_argument("--sample-coverage", type=int, default=None, help="(graphsaint)")
    g.add_argument("--subgraph-size", type=int, default=None, help="(ripple)")
    g.add_argument("--expansion-ratio", type=float, default=None, help="(ripple)")
    g.add_argument("--depth", type=int, default=None, help="hops of a subgraph (shadow)")
    g.add_argument("--ppr-topk", type=int, default=None, help="PPR-selected nodes (shadow)")
    g.add_argument(
        "--sampler-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other sampler option, e.g. --sampler-option num_walks=40",
    )
    g.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help=f"sampling worker processes (default: {run_default('num_workers')})",
    )
    g.add_argument(
        "--mode",
        default=None,
        choices=list(MODES),
        help="run the model on the sampled subgraph or layer by layer on the blocks (default: "
        "subgraph for samplers whose batches nest, blocks for layer-wise ones)",
    )


SAMPLER_FLAGS = (
    "num_neighbors",
    "num_parts",
    "clusters_per_batch",
    "diag_lambda",
    "budget",
    "num_roots",
    "walk_length",
    "sample_coverage",
    "subgraph_size",
    "expansion_ratio",
    "depth",
    "ppr_topk",
)


def _flag_text(value: Any) -> str | None:
    """A flag's value as typed: ``[10, 5]`` -> ``"10 5"`` (``nargs="+"``); ``None`` stays."""
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return value


def sampler_options(args: argparse.Namespace) -> dict[str, Any]:
    """Sampler constructor options given on the command line."""
    opts = {k: getattr(args, k) for k in SAMPLER_FLAGS if getattr(args, k) is not None}
    flags = {k: (f"--{k.replace('_', '-')}", _flag_text(getattr(args, k))) for k in SAMPLER_FLAGS}
    texts = _option_texts(args.sampler_option, "--sampler-option")
    _refuse_twice(flags, texts, "--sampler-option", "sampler option")
    opts.update(_options(args.sampler_option, "--sampler-option"))
    if args.sampler is None and (opts or args.batch_size is not None):
        raise UsageError("sampler options (--batch-size, --num-neighbors, ...) need --sampler")
    return opts


#: ``train`` options that act only with another one: ``(dest, flag, whether it acts, what it
#: needs)``.
#: Given without it, each is refused instead of being silently ignored.
DEPENDENT_FLAGS = (
    ("num_workers", "--num-workers", lambda a: a.sampler is not None, "needs --sampler: its "
     "workers draw a sampler's batches, and full-batch training draws none"),
    ("mode", "--mode", lambda a: a.sampler is not None, "needs a sampler (--sampler): it says "
     "how the model runs on a sampled batch, and full-batch training runs it on the graph"),
    ("eval_batch_size", "--eval-batch-size", lambda a: a.eval == "layerwise", "needs --eval "
     "layerwise: --eval full scores the whole graph in one forward"),
    ("checkpoint_every", "--checkpoint-every", lambda a: a.checkpoint is not None, "needs "
     "--checkpoint PATH: without it no checkpoint is written"),
    ("checkpoint_mismatch", "--checkpoint-mismatch", lambda a: a.checkpoint is not None,
     "needs --checkpoint PATH: without it no checkpoint is read"),
)  # fmt: skip


def check_dependent_options(args: argparse.Namespace) -> None:
    """Refuse a ``train`` option given without the one it acts with (:data:`DEPENDENT_FLAGS`),
    naming it, its value and what it needs."""
    for dest, flag, applies, needs in DEPENDENT_FLAGS:
        value = getattr(args, dest)
        if value is not None and not applies(args):
            raise UsageError(f"{flag} {value} {needs}")


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`~spikegraph.experiments.run_node_classification` options of ``train``
    given on the command line; those left out take the function's defaults."""
    opts = {"num_workers": args.num_workers, "mode": args.mode}
    opts.update(eval_batch_size=args.eval_batch_size)
    return {k: v for k, v in opts.items() if v is not None}


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """Model constructor options given on the command line."""
    spiking_only = {
        "T": args.T,
        "encoder": args.encoder,
        "readout": args.readout,
        "norm": args.norm,
        "neuron": args.neuron,
    }
    opts = {
        "hidden_channels": args.hidden,
        "num_layers": args.layers,
        "dropout": args.dropout,
        "heads": args.heads,
    }
    if is_spiking(args.model):
        opts.update(spiking_only)
    elif any(v is not None for v in spiking_only.values()):
        given = [k for k, v in spiking_only.items() if v is not None]
        raise UsageError(f"--{'/--'.join(given)} only apply to spiking models, not {args.model}")
    if args.heads is not None and not is_attention(args.model):
        raise UsageError(f"--heads only applies to GAT models, not {args.model}")
    flags = {
        "hidden_channels": ("--hidden", args.hidden),
        "num_layers": ("--layers", args.layers),
        "dropout": ("--dropout", args.dropout),
        "heads": ("--heads", args.heads),
        **{k: (f"--{k}", v) for k, v in spiking_only.items()},
    }
    _refuse_twice(flags, _option_texts(args.option), "--option", "model option")
    given = _options(args.option)
    dropped = sorted(k for k, v in given.items() if v is None)
    if dropped:
        raise UsageError(
            f"--option {dropped[0]}=null: null means the option's default, which is what "
            "leaving it out gives"
        )
    opts.update(given)
    return {k: v for k, v in opts.items() if v is not None}


#: ``train`` options that are :class:`~spikegraph.train.TrainConfig` fields of the same name.
TRAIN_FLAGS = (
    "epochs",
    "lr",
    "weight_decay",
    "patience",
    "checkpoint_every",
    "checkpoint_mismatch",
)


def cli_train_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~spikegraph.train.TrainConfig` fields given on the command line; those
    left out take the model's :func:`~spikegraph.models.train_defaults`, then the
    trainer's defaults (:func:`~spikegraph.experiments.run_node_classification`)."""
    opts = {k: getattr(args, k) for k in TRAIN_FLAGS if getattr(args, k) is not None}
    opts["progress"] = not args.no_progress
    opts["checkpoint"] = args.checkpoint
    return opts


def cmd_train(args: argparse.Namespace) -> int:
    from spikegraph.experiments import RunInterrupted, check_seeds, run_node_classification

    check_seeds(args.seeds)
    check_dependent_options(args)
    check_output(args.json, "--json")
    train_options = cli_train_options(args)
    try:
        summary = run_node_classification(
            args.dataset,
            args.model,
            seeds=args.seeds,
            root=args.root,
            split=args.split,
            model_options=model_options(args),
            train_options=train_options,
            sampler=args.sampler,
            sampler_options=sampler_options(args),
            batch_size=args.batch_size,
            evaluation=args.eval,
            device=args.device,
            mmap=args.mmap,
            **run_options(args),
        )
    except RunInterrupted as stop:
        return report_interrupt(args, stop) if _main_process() else EXIT_INTERRUPTED
    if not _main_process():  # under torchrun: rank 0 prints and writes the record
        return 0
    summary.command = getattr(args, "argv", None)
    record = summary.to_dict()
    print(format_summary(record))
    for run in summary.runs:
        asked = run.result.config.get("checkpoint")
        if run.result.checkpoint is not None and run.result.checkpoint != asked:
            print(
                f"  seed {run.seed}: {asked} belongs to another configuration; this run's "
                f"checkpoint is {run.result.checkpoint}"
            )
    return write_record(args.json, record) if args.json else 0


def _main_process() -> bool:
    """Whether this process reports (not a rank other than 0 of a ``torchrun`` run)."""
    from spikegraph.train.distributed import from_environ

    env = from_environ()
    return env is None or env.is_main


def report_interrupt(args: argparse.Namespace, stop: Any) -> int:
    """Ctrl-C during ``train``: write the finished seeds' record (to ``--json``, else it is
    printed), say in one line what was kept and how to resume; exit code 130."""
    kept = []
    if stop.summary is not None:
        stop.summary.command = getattr(args, "argv", None)
        record = stop.summary.to_dict()
        print(format_summary(record))
        done = len(stop.summary.runs)
        if args.json:
            if write_record(args.json, record) == 0:
                kept.append(f"the {done} finished seed(s) written to {args.json}")
            else:
                kept.append(f"the {done} finished seed(s) written to a fallback file")
        else:
            kept.append(f"the {done} finished seed(s) printed above")
    training = stop.training
    if training is not None and training.checkpoint is not None:
        kept.append(f"saved epoch {training.epoch} of seed {stop.seed} to {training.checkpoint}")
    if not kept:
        kept.append("nothing was saved")
    if args.checkpoint:
        how = "run the same command again to resume (finished seeds are read back)"
    else:
        how = "give --checkpoint to make a run resumable"
    message = f"interrupted during seed {stop.seed}: "
    if stop.summary is not None:
        message += f"{len(stop.summary.runs)} of {len(args.seeds)} seed(s) finished; "
    print(f"spikegraph: {message}{'; '.join(kept)}; {how}", file=sys.stderr)
    return EXIT_INTERRUPTED


def format_summary(record: dict[str, Any]) -> str:
    """Human-readable lines for a training summary record."""
    runs = record["runs"]
    lines = [
        f"{record['model']} on {record['dataset']} ({runs[0]['split']} split), {len(runs)} seed(s)",
        f"  test accuracy   {100 * record['test_acc_mean']:.2f} +- "
        f"{100 * record['test_acc_std']:.2f} % (mean +- population std, {len(runs)} seed(s))",
        f"  time per epoch  {1000 * record['time_per_epoch_mean']:.1f} ms",
    ]
    if record.get("sampler"):
        lines.insert(
            1,
            f"  sampler         {record['sampler']} (preprocessing "
            f"{record['preprocess_time_mean']:.2f} s, "
            f"{runs[0]['batches_per_epoch']} batches/epoch)",
        )
    if runs[0].get("evaluation") == "layerwise":
        lines.append(
            f"  evaluation      layer-wise, {runs[0]['eval_batch_size']} target nodes per batch"
        )
    if record.get("peak_rss_mb"):
        lines.append(f"  peak memory     {record['peak_rss_mb'] / 1024:.2f} GiB (RSS)")
    if runs[0].get("metric", "accuracy") != "accuracy":
        lines.append(f"  metric          {runs[0]['metric']}")
    stop = record.get("interrupted")
    if stop:
        lines.append(
            f"  interrupted     seed {stop['interrupted_seed']} ({len(stop['finished'])} of "
            f"{len(stop['seeds'])} seeds finished)"
        )
    if record["firing_rates"]:
        rates = ", ".join(f"{k}: {v:.3f}" for k, v in record["firing_rates"].items())
        lines.append(f"  firing rates    {rates}")
    for r in runs:
        res = r["result"]
        lines.append(
            f"  seed {r['seed']}: test {100 * res['test_acc']:.2f} val {100 * res['val_acc']:.2f} "
            f"(best epoch {res['best_epoch']}/{res['epochs_run']})"
        )
        if res.get("resumed_from"):
            lines.append(f"    {describe_resumed(res['resumed_from'])}")
    return "\n".join(lines)


def describe_resumed(resumed: dict[str, Any]) -> str:
    """One line on the checkpoint a run came from (its ``resumed_from``): ``"returned
    finished from a checkpoint, ck.seed0.pt (written by other code)"``."""
    how = "returned finished" if resumed["finished"] else f"resumed at epoch {resumed['epoch']}"
    who = {True: "this code", False: "other code"}.get(
        resumed["same_code"], "code that cannot be told apart from this one"
    )
    return f"{how} from a checkpoint, {resumed['checkpoint']} (written by {who})"


def add_cost_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``spikegraph cost``."""
    p.add_argument("--dataset", default="Cora", help=f"one of {list(DATASETS)} (any case)")
    p.add_argument("--model", default="sgcn", choices=list(MODELS), help="model to count")
    p.add_argument("--vs", default="gcn", choices=[*MODELS, "none"], help="model to compare with")
    p.add_argument(
        "--neuron",
        default=None,
        choices=sorted(NEURONS),
        help=neuron_help("in a --config file's [MODEL] table, e.g. tau = 4.0")
        + " (of --model only)",
    )
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--split", default="public", choices=["public", "full"], help="Planetoid split")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="train each model this many epochs first (spike counts depend on the trained "
        "weights); 0 counts freshly initialised models (default: the --config file's, else "
        f"{train_default('epochs')})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation and training")
    p.add_argument(
        "--profile",
        default=None,
        help="energy profile: 45nm, fp16, int32, int8 (default: 45nm); with --mac-pj, --ac-pj "
        "and --profile-source, the name of that custom profile instead (default there: "
        "custom), which may not be a built-in profile's",
    )
    p.add_argument("--mac-pj", type=float, default=None, help="custom profile: pJ per MAC")
    p.add_argument("--ac-pj", type=float, default=None, help="custom profile: pJ per AC")
    p.add_argument("--profile-source", default=None, help="custom profile: where figures come from")
    p.add_argument(
        "--execution",
        default="auto",
        choices=["auto", "event", "dense"],
        help="event-driven or dense counting (auto: event-driven for spiking models)",
    )
    p.add_argument("--fold-norm", action="store_true", help="count STFN folded into thresholds")
    p.add_argument(
        "--static-input",
        default=DEFAULT_STATIC_INPUT,
        choices=list(STATIC_INPUT),
        help="how a spiking model's static (direct-coded) input is counted in the tables and "
        "the headline ratio: at every time step, the literature's convention, or once "
        f"(default: {DEFAULT_STATIC_INPUT}); the ratios under both are printed",
    )
    p.add_argument(
        "--config",
        default=None,
        metavar="TOML",
        help="file of tuned options ([model] and [model.Dataset] tables; default: the "
        "registry's defaults)",
    )
    add_device(p)
    p.add_argument("--json", default=None, metavar="PATH", help="write the record here")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_verbose(p)


def cmd_cost(args: argparse.Namespace) -> dict[str, Any]:
    from spikegraph.cost import EnergyProfile, get_profile
    from spikegraph.experiments.cost import cost_comparison, describe_execution

    model_options = None
    if args.neuron is not None:
        if not is_spiking(args.model):
            raise UsageError(f"--neuron only applies to spiking models, not {args.model}")
        model_options = {"neuron": args.neuron}
    profile: Any = "45nm" if args.profile is None else args.profile
    if args.mac_pj is not None or args.ac_pj is not None:
        if args.mac_pj is None or args.ac_pj is None or not args.profile_source:
            raise UsageError("a custom profile needs --mac-pj, --ac-pj and --profile-source")
        # named by --profile, else "custom": never a built-in profile's name, whose figures
        # a reader of the record would take them for (EnergyProfile refuses one)
        name = "custom" if args.profile is None else args.profile
        profile = EnergyProfile(name, args.mac_pj, args.ac_pj, args.profile_source)
    elif args.profile_source is not None:  # it would name no figures, and be dropped
        raise UsageError(
            f"--profile-source {args.profile_source!r} describes a custom profile: give "
            "--mac-pj and --ac-pj too (a built-in profile's source is fixed)"
        )
    profile = get_profile(profile)  # a bad name fails before any data is loaded
    check_output(args.json, "--json")
    result = cost_comparison(
        args.dataset,
        args.model,
        None if args.vs == "none" else args.vs,
        root=args.root,
        split=args.split,
        epochs=args.epochs,
        seed=args.seed,
        profile=profile,
        execution=args.execution,
        fold_norm=args.fold_norm,
        config=args.config,
        model_options=model_options,
        progress=not args.no_progress,
        device=args.device,
        static_input=args.static_input,
    )
    runs = [run for run in (result.first, result.second) if run is not None]
    for run in runs:
        state = f"trained {run.epochs_run} epochs" if run.trained else "untrained"
        acc = 100 * run.test_acc
        print(
            f"{run.name} on {run.dataset} ({state}; counted {describe_execution(run.execution)})"
            f": test accuracy {acc:.2f} %"
        )
        print(run.report.table())
        print()
    if result.comparison is not None:
        print(result.comparison.table())
        # how each model was counted: the headline ratio depends on both
        counted = (
            f"{run.name} {describe_execution(run.execution)}, "
            f"{describe_static_input(run.report.static_input)}"
            for run in runs
        )
        print(f"counted as: {'; '.join(counted)}")
        print()
        print(result.ratios_table())
    result.command = getattr(args, "argv", None)
    record = result.to_dict()
    return write_record(args.json, record) if args.json else 0


def add_make_dataset_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``spikegraph make-dataset``."""
    from spikegraph.datasets.synthetic import PRESETS

    p.add_argument(
        "--like",
        required=True,
        metavar="NAME",
        help=f"the OGB dataset to imitate, one of {list(PRESETS)} (any case)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="data root to write into (then: spikegraph train --dataset NAME --root DIR); "
        "must be empty or new unless --force",
    )
    p.add_argument("--seed", type=int, default=0, help="seed: the same seed, the same files")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the real sizes, in (0, 1]")
    p.add_argument(
        "--force", action="store_true", help="write into a non-empty DIR, replacing DIR/<name>"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_verbose(p)


def cmd_make_dataset(args: argparse.Namespace) -> int:
    """Write a synthetic stand-in for an OGB graph (:mod:`spikegraph.datasets.synthetic`)."""
    from spikegraph.datasets.synthetic import make_dataset

    made = make_dataset(
        args.like,
        args.out,
        seed=args.seed,
        scale=args.scale,
        force=args.force,
        progress=not args.no_progress,
    )
    spec, stats = made.spec, made.stats
    parts = made.provenance["split_sizes"]
    print(f"wrote {made.label} to {made.folder} in {stats['seconds']:.1f} s")
    print(
        f"  {spec.num_nodes} nodes, {spec.num_edges} edges stored, {spec.num_features} "
        f"features, {spec.num_classes} classes; split {parts['train']} / {parts['valid']} / "
        f"{parts['test']}; edge homophily {stats['edge_homophily']:.3f}, max degree "
        f"{stats['max_degree']}"
    )
    print(f"  train on it: spikegraph train --dataset {spec.like} --root {made.root}")
    return 0


def add_tune_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``spikegraph tune`` (defaults: :class:`~spikegraph.experiments.tune.Budget`)."""
    from spikegraph.experiments.tune import FINAL_SEEDS, RESCORE_SEEDS, Budget

    budget = {f.name: f.default for f in dataclasses.fields(Budget)}
    p.add_argument("--dataset", default="Cora", help=f"one of {list(DATASETS)} (any case)")
    p.add_argument("--model", default="sgcn", choices=list(MODELS), help="model to tune")
    p.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model option held fixed in every trial (an ablation: --fix norm=none tunes "
        "gcsnn without STFN); not a parameter of the search space",
    )
    p.add_argument(
        "--trials",
        type=int,
        default=None,
        help="trials that count (finished or diverged; the same for every model of a table)",
    )
    p.add_argument(
        "--storage",
        default="sqlite:///spikegraph-tune.db",
        metavar="URL",
        help="Optuna storage, any SQLAlchemy database URL (sqlite:///PATH, postgresql://...): "
        "processes or machines sharing it run one study together, and a killed sweep resumes",
    )
    p.add_argument(
        "--study", default=None, metavar="NAME", help="study name (default: DATASET-MODEL)"
    )
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(budget["seeds"]),
        help="training seeds of every trial; its score is their mean best-epoch validation "
        "accuracy",
    )
    p.add_argument("--epochs", type=int, default=budget["epochs"], help="epochs of each run")
    p.add_argument(
        "--patience", type=int, default=budget["patience"], help="early-stopping patience"
    )
    p.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler")
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--split", default="public", choices=["public", "full"], help="Planetoid split")
    add_device(p)
    p.add_argument(
        "--records",
        default=None,
        metavar="PATH",
        help="write the trial records (JSON) here, after every trial and at the end",
    )
    p.add_argument(
        "--resume-from",
        default=None,
        metavar="PATH",
        help="the --records file of this study, unfinished, written on a machine whose "
        "storage is not this one: an empty --storage starts from its trials, so the study "
        "goes on as it would have there (same configuration and commit only)",
    )
    p.add_argument(
        "--final",
        action="store_true",
        help="then train the selected configuration on --final-seeds and report its test "
        "accuracy (read once per seed); its seeds are stored in the study's storage too, "
        "shared by workers and kept when a run is killed",
    )
    p.add_argument(
        "--final-seeds",
        type=int,
        nargs="+",
        default=None,
        help="with --final: fresh seeds of the final evaluation (none of --seeds; default: "
        f"{' '.join(map(str, FINAL_SEEDS))})",
    )
    p.add_argument(
        "--rescore-top",
        type=int,
        default=0,
        metavar="K",
        help="with --final: first train the K best trials again on --rescore-seeds (test "
        "labels hidden) and select the best of them there; 0 selects the sweep's best",
    )
    p.add_argument(
        "--rescore-seeds",
        type=int,
        nargs="+",
        default=None,
        help="with --rescore-top: fresh seeds of the re-scoring (none of --seeds or "
        f"--final-seeds; default: {' '.join(map(str, RESCORE_SEEDS))})",
    )
    p.add_argument(
        "--reproduce",
        type=int,
        default=None,
        metavar="TRIAL",
        help="instead of tuning: train trial TRIAL of the --records file again and check that "
        "its validation scores are reproduced exactly (exit 1 if not)",
    )
    add_verbose(p)


class InterruptedTrialFilter(logging.Filter):
    """Drops Optuna's warnings about a trial that Ctrl-C failed.

    Optuna logs a trial whose objective raised :class:`KeyboardInterrupt` (spikegraph's
    :class:`~spikegraph.train.trainer.TrainingInterrupted` is one) as failed, at WARNING with
    the interrupt's traceback, then "Trial N failed with value None."; the command then says
    in one line what was kept. Both records of such a trial are dropped; every other record
    (an ordinary error's failure, other warnings) passes.
    """

    _TRIAL = re.compile(r"Trial (\d+) failed")

    def __init__(self) -> None:
        super().__init__()
        self._interrupted: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        match = self._TRIAL.match(record.getMessage())
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, KeyboardInterrupt):
            if match:
                self._interrupted.add(match.group(1))
            return False
        if match and match.group(1) in self._interrupted and "failed with value" in match.string:
            self._interrupted.discard(match.group(1))
            return False
        return True


def quiet_interrupted_trials() -> None:
    """Install :class:`InterruptedTrialFilter` on Optuna's logger and its handlers (once):
    a logger's filter sees only the records logged on it, a handler's those of Optuna's
    modules, whose loggers hand their records to it."""
    optuna_logger = logging.getLogger("optuna")
    for target in (optuna_logger, *optuna_logger.handlers):
        if not any(isinstance(f, InterruptedTrialFilter) for f in target.filters):
            target.addFilter(InterruptedTrialFilter())


def cmd_tune(args: argparse.Namespace) -> int:
    """``spikegraph tune``: run or resume a study, or reproduce one trial of its records."""
    try:
        import optuna
    except ImportError as err:
        raise UsageError("'spikegraph tune' needs Optuna: pip install 'spikegraph[tune]'") from err
    from spikegraph.experiments import tune

    if args.reproduce is not None:
        if args.records is None:
            raise UsageError("--reproduce TRIAL needs --records PATH (the study's record)")
        records = tune.read_records(args.records)
        trial = tune.trial_record(records, args.reproduce)
        scores = tune.reproduce_trial(records, args.reproduce, root=args.root, device=args.device)
        same = scores == trial["val_scores"]
        print(
            f"trial {args.reproduce} of {args.records}: recorded {trial['val_scores']}, "
            f"now {scores}: {'reproduced exactly' if same else 'NOT reproduced'}"
        )
        here = tune.ran_on(args.device)
        there = trial.get("ran_on")
        if not same and there != here:
            print(
                f"the trial ran on {there or 'hardware the record does not name'}, this run on "
                f"{here}: scores repeat exactly only on the same hardware kind (vectorised sums "
                "round differently in their last bits on another)"
            )
        return 0 if same else 1
    if args.trials is None:
        raise UsageError("--trials N is required (the budget of every model of a table)")
    if args.records is not None:
        check_output(args.records, "--records")
    budget = tune.Budget(
        trials=args.trials, seeds=tuple(args.seeds), epochs=args.epochs, patience=args.patience
    )
    config = tune.StudyConfig(
        dataset=args.dataset,
        model=args.model,
        budget=budget,
        split=args.split,
        sampler_seed=args.sampler_seed,
        commit=tune.source_commit(),
        fixed=_options(args.fix, "--fix"),
    )
    # A stage's seeds without the stage would be ignored: refused, as the user meant it to run.
    if args.final_seeds is not None and not args.final:
        raise UsageError("--final-seeds is the final evaluation's: give --final too")
    if args.rescore_seeds is not None and not args.rescore_top:
        raise UsageError("--rescore-seeds is the re-scoring's: give --rescore-top K too")
    if args.final_seeds is None:
        args.final_seeds = list(tune.FINAL_SEEDS)
    if args.rescore_seeds is None:
        args.rescore_seeds = list(tune.RESCORE_SEEDS)
    if args.final:  # distinct fresh final seeds, checked before any trial runs
        tune.check_seed_option(args.final_seeds, "--final-seeds")
        overlap = sorted(set(args.final_seeds) & set(args.seeds))
        if overlap:
            raise UsageError(f"--final-seeds {overlap} are also tuning --seeds: give fresh ones")
    rule = None
    if args.rescore_top:
        if not args.final:
            raise UsageError("--rescore-top selects for the final evaluation: give --final too")
        rule = tune.Rescore(args.rescore_top, tuple(args.rescore_seeds))
        overlap = sorted(set(rule.seeds) & (set(args.seeds) | set(args.final_seeds)))
        if overlap:
            raise UsageError(
                f"--rescore-seeds {overlap} are also tuning or final seeds: give fresh ones"
            )
    tune.check_storage_url(args.storage)
    if not args.verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    quiet_interrupted_trials()  # Ctrl-C: one line, not Optuna's traceback of the trial
    fixed = "".join(f"-{k}={v}" for k, v in config.fixed.items())
    name = args.study or f"{config.dataset}-{config.model}{fixed}"
    resume = tune.read_records(args.resume_from) if args.resume_from else None
    kept = f"the finished trials are kept in {args.storage}"
    if args.records:
        kept += f" and {args.records}"
    keep = (lambda r: tune.write_records(args.records, r)) if args.records else None
    try:
        records = tune.run_study(
            config,
            args.storage,
            name,
            root=args.root,
            device=args.device,
            resume_from=resume,
            on_trial=keep,
            on_seed=keep,
        )
    except KeyboardInterrupt as err:
        raise KeyboardInterrupt(f"{kept}; run the same command again to resume") from err
    best = records["best"]
    print(
        f"{config.label} on {config.dataset}: study {name!r}, {len(records['counted'])} counted "
        f"trial(s) of {len(records['trials'])}"
    )
    if best is None:
        print("  no trial finished: nothing selected")
    else:
        print(f"  best trial {best['number']}: validation {100 * best['value']:.2f} %")
        print(f"  parameters {json.dumps(best['params'], sort_keys=True)}")
    if rule is not None and best is not None:
        try:
            records["rescore"] = tune.rescore(
                records, rule, root=args.root, device=args.device, storage=args.storage
            )
        except KeyboardInterrupt as err:
            raise KeyboardInterrupt(
                f"{kept}, with the re-scoring's finished runs; run the same command again to resume"
            ) from err
        for c in records["rescore"]["candidates"]:
            print(
                f"  re-scored trial {c['trial']}: validation {100 * c['val_acc_mean']:.2f} % "
                f"on seeds {list(rule.seeds)}"
            )
        print(f"  selected trial {records['rescore']['trial']}")
    if args.final and best is not None:
        try:
            row = tune.final_evaluation(
                records, args.final_seeds, root=args.root, device=args.device, storage=args.storage
            )
        except KeyboardInterrupt as err:
            raise KeyboardInterrupt(
                f"{kept}, with the final evaluation's finished seeds; run the same command "
                "again to resume"
            ) from err
        records["final"] = row
        print(
            f"  final: test accuracy {100 * row['test_acc_mean']:.2f} +- "
            f"{100 * row['test_acc_std']:.2f} % over {len(row['seeds'])} fresh seeds (mean +- "
            f"population std; features {row['features']})"
        )
    return write_record(args.records, records) if args.records else 0


def _name_list(values: Sequence[str]) -> list[str]:
    """``["gcn,sgcn"]`` or ``["gcn", "sgcn"]`` -> ``["gcn", "sgcn"]`` (empty items kept out,
    so that ``--models ""`` is an empty list the library refuses)."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _named_options(pairs: Sequence[str], option: str) -> dict[str, dict[str, Any]]:
    """``["cluster-gcn:num_parts=50", ...]`` -> ``{"cluster-gcn": {"num_parts": 50}}``."""
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, rest = pair.partition(":")
        if not sep or "=" not in rest:
            raise UsageError(f"{option} expects NAME:KEY=VALUE, got {pair!r}")
        options = out.setdefault(name.strip(), {})
        ((key, value),) = _options([rest], option).items()
        if key in options:
            raise UsageError(
                f"{option} {name.strip()}:{key}=... given twice ({pair!r} after "
                f"{key}={options[key]!r}): give it once"
            )
        options[key] = value
    return out


def add_study_samplers_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``spikegraph study samplers`` (budget defaults: :class:`StudyBudget`)."""
    from spikegraph.experiments.study import GRADIENT_WEIGHTS, StudyBudget

    budget = {f.name: f.default for f in dataclasses.fields(StudyBudget)}
    p.add_argument("--dataset", default="Cora", help=f"one of {list(DATASETS)} (any case)")
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--split", default="public", choices=["public", "full"], help="Planetoid split")
    p.add_argument(
        "--models",
        nargs="+",
        default=["gcn", "sgcn"],
        metavar="NAMES",
        help=f"models, comma- or space-separated, of {list(MODELS)}",
    )
    p.add_argument(
        "--samplers",
        nargs="+",
        default=["all"],
        metavar="NAMES",
        help="samplers of spikegraph.samplers, comma- or space-separated, or 'all'",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one cell per seed")
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="the study's folder: cells/, study.json, study.md, plots/; a study run again "
        "into it resumes (cells of another configuration are refused)",
    )
    p.add_argument("--epochs", type=int, default=budget["epochs"], help="epochs of every cell")
    p.add_argument(
        "--patience",
        type=int,
        default=budget["patience"],
        help="early-stopping patience (default: none, every cell trains all epochs)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="seeds per batch of node-wise and layer-wise samplers (default: each class's)",
    )
    p.add_argument(
        "--measure-batches",
        type=int,
        default=budget["measure_batches"],
        help="batches of epoch 1 whose nodes, edges and energy are measured",
    )
    p.add_argument(
        "--gradient-batches",
        type=int,
        default=budget["gradient_batches"],
        help="batch gradients per estimate of the gradient's bias and variance",
    )
    p.add_argument(
        "--budget-multiples",
        type=float,
        nargs="+",
        default=list(budget["budget_multiples"]),
        metavar="M",
        help="multiples of each sampler's batch size at which the gradient is measured "
        "(1 must be among them)",
    )
    p.add_argument(
        "--gradient-weights",
        default=budget["gradient_weights"],
        choices=list(GRADIENT_WEIGHTS),
        help="measure the gradient at the seed's initial weights (the same for every sampler) "
        "or at each cell's trained weights",
    )
    p.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="MODEL:KEY=VALUE",
        help="a model option over the registry's defaults, e.g. sgcn:T=4",
    )
    p.add_argument(
        "--sampler-option",
        action="append",
        default=[],
        metavar="SAMPLER:KEY=VALUE",
        help="a sampler option over the class's defaults, e.g. cluster-gcn:num_parts=50",
    )
    p.add_argument(
        "--no-full-batch", action="store_true", help="leave out the full-batch reference row"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes computing cells at the same time (timings then share the machine)",
    )
    p.add_argument("--no-plots", action="store_true", help="write no plots (no matplotlib needed)")
    add_verbose(p)


def cmd_study_samplers(args: argparse.Namespace) -> int:
    """``spikegraph study samplers``: run or resume a sampler study, print its summary."""
    from spikegraph.experiments.study import StudyBudget, StudyCellError, run_sampler_study

    samplers = _name_list(args.samplers)
    # one line per finished cell: a study runs for hours
    logging.getLogger("spikegraph.experiments.study.runner").setLevel(logging.INFO)
    budget = StudyBudget(
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        measure_batches=args.measure_batches,
        gradient_batches=args.gradient_batches,
        budget_multiples=tuple(args.budget_multiples),
        gradient_weights=args.gradient_weights,
    )
    try:
        result = run_sampler_study(
            args.dataset,
            _name_list(args.models),
            "all" if samplers == ["all"] else samplers,
            args.seeds,
            args.out,
            root=args.root,
            split=args.split,
            budget=budget,
            model_options=_named_options(args.model_option, "--model-option"),
            sampler_options=_named_options(args.sampler_option, "--sampler-option"),
            full_batch=not args.no_full_batch,
            jobs=args.jobs,
            plots=not args.no_plots,
            command=getattr(args, "argv", None),
        )
    except ModuleNotFoundError as err:
        if err.name != "matplotlib":
            raise
        raise UsageError(str(err)) from err
    except StudyCellError as err:  # the input was fine, cells failed: exit 1
        print(f"spikegraph: error: {one_line(str(err))}", file=sys.stderr)
        return 1
    print(format_study(result))
    return 0


def format_study(result: Any) -> str:
    """The study's rows, one line each, and where its files are."""
    from spikegraph.experiments.study.summary import gradient_at_training_budget, seeds_text

    d = result.study["dataset"]
    lines = [
        f"sampler study on {d['name']} (split={d['split']}), seeds {result.study['seeds']} "
        f"(test accuracy: mean +- population std over {seeds_text(result.rows)}):"
    ]
    for r in result.rows:
        g = gradient_at_training_budget(r)
        var = "-" if g["variance_mean"] is None else f"{g['variance_mean']:.3g}"
        lines.append(
            f"  {r['model']:<6} {r['sampler']:<16} test {100 * r['test_acc_mean']:6.2f} "
            f"+- {100 * r['test_acc_std']:5.2f} %  {r['time_per_epoch_mean']:8.3g} s/epoch "
            f"({100 * r['sampling_share_mean']:3.0f} % sampling)  grad variance {var:>8}  "
            f"{r['energy_train_epoch_pj_mean'] / 1e6:9.3g} uJ/epoch"
        )
    lines.append(
        f"{len(result.computed)} cell(s) computed, {len(result.reused)} reused; wrote "
        f"{', '.join(str(result.out / f) for f in result.files[:2])} and "
        f"{len(result.files) - 2} plot file(s)"
    )
    return "\n".join(lines)


#: ``spikegraph bench NAME`` -> script in the source tree's ``benchmarks/`` folder.
BENCHMARKS = {
    "nodes": "node_classification.py",
    "speed": "speed.py",
    "energy": "energy.py",
    "cost-overhead": "cost_overhead.py",
    "samplers-speed": "samplers_speed.py",
    "samplers-accuracy": "samplers_accuracy.py",
    "samplers-variance": "samplers_variance.py",
    "saint-norms": "saint_norms.py",
    "sampler-study": "sampler_study.py",
    "pyg-example": "pyg_example.py",
    "paper-baselines": "paper_baselines.py",
    "class-defaults": "class_defaults_sweep.py",
    "sampler-sizes": "sampler_sizes_sweep.py",
    "neuron-speed": "neuron_speed.py",
    "minibatch-speed": "minibatch_speed.py",
    "tune-sweeps": "tune_sweeps.py",
    "probe-variants": "probe_variants.py",
    "scale": "scale.py",
    "ddp-speedup": "ddp_speedup.py",
    "vrgcn-cvd": "vrgcn_cvd.py",
}


def benchmark_script(name: str, cwd: str | os.PathLike | None = None) -> Path:
    """Path of benchmark ``name`` (a key of :data:`BENCHMARKS`) in a source checkout.

    The benchmarks are scripts of the repository, not part of the installed package. They
    are looked for in the checkout the package runs from (an editable install or
    ``PYTHONPATH``), else in ``cwd`` (default: the current directory) or the nearest folder
    above it that is a spikegraph checkout, so that ``spikegraph bench`` works from inside a
    checkout whatever the install mode. A checkout is a folder holding both
    ``spikegraph/__init__.py`` and ``benchmarks/<script>``.

    Raises:
        FileNotFoundError: outside a checkout, naming the folders searched.
    """
    script = Path("benchmarks") / BENCHMARKS[name]
    here = Path(cwd if cwd is not None else Path.cwd()).resolve()
    candidates = [Path(__file__).resolve().parents[1], here, *here.parents]
    for folder in candidates:
        if (folder / script).is_file() and (folder / "spikegraph" / "__init__.py").is_file():
            return folder / script
    raise FileNotFoundError(
        f"benchmark {name!r} needs a source checkout of spikegraph: {script} was not found "
        f"beside the installed package ({candidates[0]}) nor in {here} or a folder above it. "
        "The benchmarks are scripts in the repository's benchmarks/ folder, not part of the "
        "installed package: run 'spikegraph bench' from inside a checkout"
    )


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a benchmark script in a fresh interpreter (its rows spawn child processes) and
    return its exit code (128 + N when signal N ended it)."""
    path = benchmark_script(args.name)
    code = subprocess.call([sys.executable, str(path), *args.args])
    return code if code >= 0 else 128 - code


def _subcommand(sub, name: str, text: str, func, add_arguments) -> argparse.ArgumentParser:
    """Add subcommand ``name`` (help ``text``, its description capitalised) whose options
    ``add_arguments`` declares and whose work ``func`` does."""
    parser = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    add_arguments(parser)
    parser.set_defaults(func=func)
    return parser


def add_study_arguments(p: argparse.ArgumentParser) -> None:
    """``spikegraph study``: one subcommand per kind of study."""
    add_verbose(p)
    studies = p.add_subparsers(dest="study", required=True, parser_class=Parser)
    text = (
        "compare samplers of the zoo with the same models and budget: accuracy, time per "
        "epoch and its sampling share, memory, nodes and edges per batch, gradient bias and "
        "variance, energy, convergence; tables and plots, resumable"
    )
    _subcommand(studies, "samplers", text, cmd_study_samplers, add_study_samplers_arguments)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="spikegraph", description=DESCRIPTION)
    add_verbose(parser, default=False)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    text = "train a node classifier and report its accuracy"
    _subcommand(sub, "train", text, cmd_train, add_train_arguments)
    text = "count operations and energy of a model, beside an ordinary one"
    _subcommand(sub, "cost", text, cmd_cost, add_cost_arguments)
    bench = _subcommand(
        sub,
        "bench",
        "run a benchmark of benchmarks/ (source checkout), e.g. 'spikegraph bench nodes'",
        cmd_bench,
        add_verbose,
    )
    bench.add_argument("name", choices=list(BENCHMARKS), help="benchmark to run")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="its options (see NAME --help)")
    text = "tune a model's hyper-parameters on validation accuracy with Optuna"
    _subcommand(sub, "tune", text, cmd_tune, add_tune_arguments)
    text = "run a study: 'spikegraph study samplers' compares the sampler zoo on one dataset"
    _subcommand(sub, "study", text, cmd_study_samplers, add_study_arguments)
    _subcommand(
        sub,
        "make-dataset",
        "write a synthetic stand-in for an OGB graph at its real size, in OGB's layout",
        cmd_make_dataset,
        add_make_dataset_arguments,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status:
    0 done (or ``--help``), 1 the run failed (a diverged loss, an unexpected error) or its
    record went to a fallback file, 2 bad input (one ``spikegraph: error:`` line, nothing
    was run), 130 interrupted (Ctrl-C; what finished was kept)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a refusal already printed in one line
        return exit_.code if isinstance(exit_.code, int) else 0
    args.argv = ["spikegraph", *argv]
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        result = args.func(args)
    except KeyboardInterrupt as err:
        detail = one_line(str(err))
        print(
            f"spikegraph: interrupted; {detail if detail else 'nothing was saved'}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except FloatingPointError as err:  # a diverged run: the input was fine, the run failed
        report(err, args.verbose)
        return 1
    except user_errors() as err:
        report(err, args.verbose)
        return EXIT_USAGE
    except Exception as err:
        report(err, args.verbose, unexpected=True)
        return 1
    return result if isinstance(result, int) else 0


def report(err: BaseException, verbose: bool, unexpected: bool = False) -> None:
    """Print ``err`` as one ``spikegraph: error:`` line (after its traceback with ``-v``)."""
    if verbose:
        traceback.print_exception(err, file=sys.stderr)
    text = one_line(str(err)) or type(err).__name__
    if isinstance(err, OSError):
        text = _os_error(err, text)
    if unexpected:
        text = f"{type(err).__name__}: {text} (an unexpected error"
        text += ")" if verbose else "; run with -v for the traceback)"
    print(f"spikegraph: error: {text}", file=sys.stderr)


def _os_error(err: OSError, text: str) -> str:
    """An OS error's message, saying which folder to fix when it is the cache."""
    try:
        from spikegraph.datasets.planetoid import default_cache_dir

        cache = default_cache_dir().resolve()
    except Exception:  # the message stays as it is
        return text
    name = err.filename or ""
    if name and (Path(name).resolve() == cache or cache in Path(name).resolve().parents):
        text += (
            f" (the cache folder {cache} cannot be used: set SPIKEGRAPH_CACHE to a writable folder)"
        )
    return text


if __name__ == "__main__":
    raise SystemExit(main())
