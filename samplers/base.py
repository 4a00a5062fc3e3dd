"""The sampler interface shared by every method of the survey (Liu et al., 2022).

A sampler is built from a graph (a PyG ``Data`` or an ``edge_index`` with ``num_nodes``) and
a seed, does its expensive preprocessing once (timed, optionally cached on disk), and returns
one :class:`~spikegraph.samplers.batch.Batch` per call of ``sample``. Node-wise methods
sample around given seed nodes; subgraph methods draw their own subgraphs and take no seeds.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from .batch import Batch, Block
from .graph import CSRGraph, Relabeler, induced_edges, to_csr

log = logging.getLogger(__name__)

GraphInput = Any  # torch_geometric.data.Data or an edge_index Tensor

#: Version of the on-disk layout of preprocessing caches; part of every key and file name, so
#: files of another layout are never read.
CACHE_FORMAT = 2


class SamplerCacheError(RuntimeError):
    """A preprocessing cache file cannot be loaded safely or does not hold a valid result."""


def make_generator(seed: int | torch.Generator) -> torch.Generator:
    """A CPU ``torch.Generator`` from an int seed, or the generator itself."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"'seed' must be an int or a torch.Generator, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"'seed' must be >= 0, got {seed}")
    return torch.Generator().manual_seed(seed)


def check_int(value: Any, name: str, minimum: int) -> int:
    """Return ``value`` if it is an int ``>= minimum``, else raise naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{name}' must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"'{name}' must be >= {minimum}, got {value}")
    return value


def check_fraction(value: Any, name: str, low_open: bool = True) -> float:
    """Return ``value`` if it is a number in ``(0, 1]`` (or ``[0, 1)`` when not low_open)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"'{name}' must be a number, got {type(value).__name__} ({value!r})")
    ok = 0.0 < value <= 1.0 if low_open else 0.0 <= value < 1.0
    if not ok:
        rng = "(0, 1]" if low_open else "[0, 1)"
        raise ValueError(f"'{name}' must be in {rng}, got {value}")
    return float(value)


def graph_from_input(graph: GraphInput, num_nodes: int | None) -> tuple[Tensor, int, Tensor | None]:
    """``(edge_index, num_nodes, edge_weight)`` from a ``Data`` or an ``edge_index``."""
    edge_weight = None
    if isinstance(graph, Tensor):
        edge_index = graph
        if num_nodes is None:
            raise ValueError("'num_nodes' is required when the graph is given as an edge_index")
    else:
        edge_index = getattr(graph, "edge_index", None)
        if edge_index is None:
            raise TypeError(
                "'graph' must be a torch_geometric Data with 'edge_index' or an edge_index "
                f"tensor, got {type(graph).__name__}"
            )
        if num_nodes is None:
            num_nodes = graph.num_nodes
        edge_weight = getattr(graph, "edge_weight", None)
    check_int(num_nodes, "num_nodes", 1)
    if not isinstance(edge_index, Tensor) or edge_index.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"'edge_index' must be an integer tensor, got {edge_index!r:.80}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, E], got {tuple(edge_index.shape)}")
    edge_index = edge_index.long().cpu()
    if edge_index.numel():
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0 or hi >= num_nodes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"'edge_index' holds node id {bad}, out of range for num_nodes={num_nodes}"
            )
    if edge_weight is not None:
        edge_weight = edge_weight.cpu()
        if edge_weight.dim() != 1 or edge_weight.numel() != edge_index.size(1):
            raise ValueError(
                f"'edge_weight' must have one entry per edge ({edge_index.size(1)}), got shape "
                f"{tuple(edge_weight.shape)}"
            )
        if not bool(torch.isfinite(edge_weight).all()) or bool((edge_weight <= 0).any()):
            raise ValueError("'edge_weight' must be finite and positive for sampling")
    return edge_index, num_nodes, edge_weight


def check_nodes(nodes: Any, num_nodes: int, name: str = "seeds") -> Tensor:
    """A 1-D tensor of distinct node ids in ``[0, num_nodes)``, else a clear error."""
    if not isinstance(nodes, Tensor):
        nodes = torch.as_tensor(nodes)
    if nodes.dtype == torch.bool:
        raise TypeError(f"'{name}' must hold node ids, not a mask; use mask.nonzero().view(-1)")
    if nodes.is_floating_point() or nodes.is_complex():
        raise TypeError(f"'{name}' must be an integer tensor, got dtype {nodes.dtype}")
    if nodes.dim() != 1:
        raise ValueError(f"'{name}' must be 1-D, got shape {tuple(nodes.shape)}")
    if nodes.numel() == 0:
        raise ValueError(f"'{name}' is empty")
    nodes = nodes.long().cpu()
    lo, hi = int(nodes.min()), int(nodes.max())
    if lo < 0 or hi >= num_nodes:
        bad = lo if lo < 0 else hi
        raise ValueError(f"'{name}' holds node id {bad}, out of range for {num_nodes} nodes")
    uniq, counts = torch.unique(nodes, return_counts=True)
    if uniq.numel() != nodes.numel():
        dup = int(uniq[counts > 1][0])
        raise ValueError(f"'{name}' holds node id {dup} more than once")
    return nodes


def _hash_value(h: Any, value: Any) -> None:
    """Feed ``value`` into hash ``h`` unambiguously (type tags, lengths, full tensor bytes)."""
    if value is None or isinstance(value, (bool, int, str)):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, float):
        h.update(f"float:{value.hex()};".encode())
    elif isinstance(value, Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"tensor:{t.dtype}:{tuple(t.shape)}:".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        h.update(b";")
    elif isinstance(value, (list, tuple)):
        h.update(f"list:{len(value)}[".encode())
        for v in value:
            _hash_value(h, v)
        h.update(b"]")
    elif isinstance(value, dict):
        h.update(f"dict:{len(value)}{{".encode())
        for k in sorted(value, key=str):
            _hash_value(h, str(k))
            _hash_value(h, value[k])
        h.update(b"}")
    else:
        raise TypeError(f"cannot key a preprocessing cache by a {type(value).__name__}: {value!r}")


def _check_payload(payload: Any, key: str, step: str, uses_generator: bool) -> dict[str, Any]:
    """The result dict of a loaded cache payload, after checking its envelope."""
    if not isinstance(payload, dict) or not isinstance(payload.get("result"), dict):
        raise ValueError(f"expected a cache payload (a dict), got {type(payload).__name__}")
    if payload.get("format") != CACHE_FORMAT:
        raise ValueError(f"format {payload.get('format')!r}, expected {CACHE_FORMAT}")
    if payload.get("key") != key or payload.get("step") != step:
        raise ValueError(
            f"it was written for another key (step {payload.get('step')!r}, key "
            f"{str(payload.get('key'))[:24]}...), not {step!r} {key[:24]}..."
        )
    if uses_generator:
        state = payload.get("generator_state")
        if not isinstance(state, Tensor) or state.dtype != torch.uint8 or state.dim() != 1:
            raise ValueError("'generator_state' is not a uint8 vector")
    return payload["result"]


def check_cached_tensor(
    result: dict[str, Any],
    name: str,
    dtype: torch.dtype,
    length: int,
    low: float | None = None,
    high: float | None = None,
    positive: bool = False,
) -> Tensor:
    """``result[name]`` if it is a 1-D ``dtype`` tensor of ``length`` finite entries in range.

    Raises:
        ValueError: naming the entry and what is wrong with it.
    """
    t = result.get(name)
    if not isinstance(t, Tensor):
        raise ValueError(f"'{name}' is missing or not a tensor ({type(t).__name__})")
    if t.dtype != dtype:
        raise ValueError(f"'{name}' has dtype {t.dtype}, expected {dtype}")
    if t.dim() != 1 or t.numel() != length:
        raise ValueError(f"'{name}' has shape {tuple(t.shape)}, expected {length} entries")
    if not length:
        return t
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise ValueError(f"'{name}' holds NaN or infinite values")
    if positive and bool((t <= 0).any()):
        i = int((t <= 0).nonzero()[0])
        raise ValueError(f"'{name}' holds {t[i].item()} at index {i}, expected > 0")
    if low is not None and bool((t < low).any()):
        i = int((t < low).nonzero()[0])
        raise ValueError(f"'{name}' holds {t[i].item()} at index {i}, below {low}: negative")
    if high is not None and bool((t > high).any()):
        i = int((t > high).nonzero()[0])
        raise ValueError(f"'{name}' holds {t[i].item()} at index {i}, above {high}")
    return t


def check_cached_number(
    result: dict[str, Any], name: str, kind: type, low: float, high: float = math.inf
) -> Any:
    """``result[name]`` if it is a finite number of ``kind`` in ``[low, high]``."""
    v = result.get(name)
    if isinstance(v, bool) or not isinstance(v, kind) or not (low <= v <= high):
        raise ValueError(f"'{name}' is {v!r}, expected a {kind.__name__} in [{low}, {high}]")
    return v


class Registry(dict):
    """Name -> class of one extension point of the zoo (``kind``: ``"sampler"``).

    The zoo's copy of :class:`spikegraph.nn.registry.Registry` (the zoo imports nothing from
    the rest of spikegraph), which also refuses, on every way in (``registry[name] = cls``,
    :meth:`update`, a class statement), a name that is taken, so that a built-in is never
    replaced silently; ``registry.pop(name)`` removes an entry.

    Args:
        kind: What the registry holds, for messages.
        base: The class every entry must derive from (``None``: any class).
    """

    def __init__(self, kind: str, base: type | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.base = base

    def resolve(self, name: Any) -> type:
        """The class registered as ``name``.

        Raises:
            ValueError: for a name that is not registered, listing those that are.
        """
        if not isinstance(name, str) or name not in self:
            raise ValueError(f"Unknown {self.kind} {name!r}; expected one of {list(self)}")
        return self[name]

    def __setitem__(self, name: str, cls: type) -> None:
        kind = self.kind
        if not isinstance(name, str):
            raise TypeError(
                f"A {kind}'s name must be a non-empty str, got {type(name).__name__} {name!r}"
            )
        if not name.strip():
            raise ValueError(f"A {kind}'s name must be a non-empty str, got {name!r}")
        if name in self:
            raise ValueError(
                f"A {kind} named {name!r} is registered already ({self[name].__qualname__}); "
                "register yours under another name"
            )
        base = self.base or object
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(
                f"{kind} {name!r}: expected a {base.__name__} subclass, got {cls!r:.80}"
            )
        if getattr(cls, "name", name) != name:
            raise ValueError(
                f"{kind} {name!r}: {cls.__qualname__} is named {cls.name!r}; a class is "
                f"registered under its own name (class {cls.__qualname__}({base.__name__}, "
                f"name={name!r}))"
            )
        super().__setitem__(name, cls)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Register every entry, as assignment does (a taken name is refused)."""
        for name, cls in dict(*args, **kwargs).items():
            self[name] = cls

    def setdefault(self, name: str, cls: Any = None) -> Any:
        """The class of ``name``; registers ``cls`` first if the name is free."""
        if name not in self:
            self[name] = cls
        return self[name]

    def __ior__(self, other: Any) -> Registry:
        self.update(other)
        return self


class Registered:
    """Mixin: a subclass with ``name="..."`` in its class statement gets that :attr:`name`
    and registers itself in the base class's :attr:`registry` (the zoo's copy of
    :class:`spikegraph.nn.registry.Registered`). A subclass without a name keeps its
    parent's and is not registered."""

    #: The registry of the extension point (set by its base class).
    registry: ClassVar[Registry]

    def __init_subclass__(cls, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name is not None:
            cls.name = name
            cls.registry[name] = cls  # refuses a name that is taken, naming it


class Sampler(Registered, ABC):
    """Base of every sampler: graph storage, random source, timed and cached preprocessing.

    A subclass with a name in its class statement (``class MySampler(NodeSampler,
    name="mysampler")``) registers itself in :data:`~spikegraph.samplers.SAMPLERS`
    (:attr:`registry`): the command line, the trainer and the study then take it by that
    name, with its :attr:`default_options`. A name that is taken is refused.

    Args:
        graph: A ``torch_geometric.data.Data`` (its ``edge_index``, ``num_nodes`` and, if
            present, ``edge_weight`` are used) or an ``edge_index`` tensor ``[2, E]``.
        num_nodes: Number of nodes; required with an ``edge_index``.
        seed: An int or a ``torch.Generator``; the same seed gives the same batches.
        cache_dir: Folder to keep expensive preprocessing results in (METIS partitions,
            GraphSAINT norms), keyed by a SHA-256 of everything they depend on (sampler class,
            step, options, node count, edge index and edge weights, the random state where
            used, the cache format); ``None`` keeps them only in this object. Files are
            loaded with ``torch.load(weights_only=True)`` (no code runs) and their content
            is checked; one that fails raises :class:`SamplerCacheError` naming it.

    Attributes:
        preprocess_time: Seconds spent preprocessing (graph compression plus the method's
            own step, or loading it from ``cache_dir``).
        preprocess_times: The same, per step.
        preprocess_cached: Whether the method's step was loaded from ``cache_dir``.
    """

    #: Whether ``sample`` takes seed nodes (node-wise methods) or draws its own subgraphs.
    takes_seeds: ClassVar[bool] = True
    #: Name used in records and on the command line (set by ``name=`` in the class statement;
    #: a subclass without one keeps its parent's).
    name: ClassVar[str] = "sampler"
    #: Constructor options the CLI, the trainer and the benchmarks use unless told otherwise
    #: (sized for PubMed); see :meth:`options_for`.
    default_options: ClassVar[dict[str, Any]] = {}
    #: Seeds per batch of a loader when none is given (``None``: the method sizes its own
    #: batches with its options).
    default_batch_size: ClassVar[int | None] = None
    #: Whether the method's batches nest (see :mod:`spikegraph.samplers.batch`); a model
    #: without block support can run only on nested batches.
    nested: ClassVar[bool] = True
    #: The option that holds one entry per layer (``"num_neighbors"``, ``"layer_sizes"``), or
    #: ``None``; :meth:`options_for` repeats its first default entry once per layer.
    per_layer_option: ClassVar[str | None] = None

    @classmethod
    def options_for(cls, num_layers: int) -> dict[str, Any]:
        """The default constructor options for a model with ``num_layers`` layers (a copy)."""
        opts = {k: list(v) if isinstance(v, list) else v for k, v in cls.default_options.items()}
        key = cls.per_layer_option
        if key is not None and key in opts:
            opts[key] = [opts[key][0]] * num_layers
        return opts

    def __init__(
        self,
        graph: GraphInput,
        *,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.edge_index, self.num_nodes, self.graph_edge_weight = graph_from_input(graph, num_nodes)
        self.generator = make_generator(seed)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.preprocess_times: dict[str, float] = {}
        self.preprocess_cached = False
        start = time.perf_counter()
        self.csr: CSRGraph = to_csr(self.edge_index, self.num_nodes)
        self.preprocess_times["csr"] = time.perf_counter() - start
        self._relabel = Relabeler(self.num_nodes)

    @property
    def preprocess_time(self) -> float:
        return float(sum(self.preprocess_times.values()))

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.size(1))

    def _generator(self, generator: torch.Generator | None) -> torch.Generator:
        return self.generator if generator is None else generator

    def _weights(self, e_id: Tensor, factor: Tensor | None = None) -> Tensor | None:
        """The graph's own weights of edges ``e_id`` times the method's ``factor``."""
        w = None
        if self.graph_edge_weight is not None:
            w = torch.ones(e_id.numel(), dtype=self.graph_edge_weight.dtype)
            real = e_id >= 0
            w[real] = self.graph_edge_weight[e_id[real]]
        if factor is not None:
            w = factor if w is None else w * factor
        return w

    def _preprocess(
        self,
        step: str,
        options: dict[str, Any],
        compute: Callable[[], dict[str, Any]],
        check: Callable[[dict[str, Any]], None],
        *,
        uses_generator: bool = False,
    ) -> dict[str, Any]:
        """Run ``compute`` once, timed as ``step``; load/save its result under ``cache_dir``.

        Args:
            step: Name of the step (in the file name and ``preprocess_times``).
            options: Everything besides the graph that the result depends on (ints, floats,
                strings, bools, ``None``, tensors, and lists/dicts of them).
            compute: Returns the result as a dict of tensors and plain numbers.
            check: Raises ``ValueError`` naming what is wrong when a loaded result is not one
                ``compute`` could have returned for this graph and these options.
            uses_generator: ``compute`` draws from ``self.generator``: its state is part of the
                key, and loading restores the state ``compute`` would have left, so a cached
                sampler draws the same batches as an uncached one.

        Raises:
            SamplerCacheError: A cache file that cannot be loaded safely or fails ``check``.
        """
        start = time.perf_counter()
        key = None
        if self.cache_dir is not None:
            key = self._cache_key(step, options, uses_generator)
        path = None if key is None else self._cache_path(step, key)
        if path is not None and path.exists():
            out = self._load_cache(path, step, key, check, uses_generator)
            self.preprocess_cached = True
            log.info("Loaded %s from %s", step, path)
        else:
            out = compute()
            if path is not None:
                state = self.generator.get_state() if uses_generator else None
                self._save_cache(path, step, key, out, state)
        self.preprocess_times[step] = time.perf_counter() - start
        return out

    def _cache_key(self, step: str, options: dict[str, Any], uses_generator: bool) -> str:
        """SHA-256 of everything a preprocessing result depends on."""
        h = hashlib.sha256()
        cls = type(self)
        _hash_value(h, ["format", CACHE_FORMAT, f"{cls.__module__}.{cls.__qualname__}", step])
        _hash_value(h, ["num_nodes", self.num_nodes, "edge_index", self.edge_index])
        _hash_value(h, ["edge_weight", self.graph_edge_weight])
        _hash_value(h, ["options", options])
        if uses_generator:
            _hash_value(h, ["generator", self.generator.get_state()])
        return h.hexdigest()

    def _cache_path(self, step: str, key: str) -> Path:
        return Path(self.cache_dir) / f"{self.name}-{step}-v{CACHE_FORMAT}-{key[:24]}.pt"

    def _load_cache(
        self,
        path: Path,
        step: str,
        key: str,
        check: Callable[[dict[str, Any]], None],
        uses_generator: bool,
    ) -> dict[str, Any]:
        """Load and check a cache file (no code runs: ``weights_only=True``)."""
        hint = "delete it to recompute it"
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise SamplerCacheError(
                f"Cache file {path} cannot be loaded safely ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); it is truncated, corrupt or "
                f"not written by this version of spikegraph.samplers: {hint}"
            ) from exc
        try:
            result = _check_payload(payload, key, step, uses_generator)
            check(result)
            if uses_generator:
                self.generator.set_state(payload["generator_state"])
        except (ValueError, TypeError, RuntimeError) as exc:
            raise SamplerCacheError(f"Cache file {path} is not valid: {exc}; {hint}") from exc
        return result

    def _save_cache(
        self, path: Path, step: str, key: str, result: dict[str, Any], state: Tensor | None
    ) -> None:
        """Write atomically: a unique temporary file in the same folder, fsync, replace.

        A cache that cannot be written is logged and skipped; the result is kept in memory.
        """
        payload = {
            "format": CACHE_FORMAT,
            "step": step,
            "key": key,
            "result": result,
            "generator_state": state,
        }
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            tmp = Path(name)
            with os.fdopen(fd, "wb") as f:
                torch.save(payload, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
        except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as RuntimeError
            log.warning(
                "could not write the %s cache %s (%s); continuing without it", step, path, exc
            )
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    @abstractmethod
    def sample(self, *args: Any, generator: torch.Generator | None = None) -> Batch:
        """One batch."""

    def bind(self, batch: Batch) -> Batch:
        """Attach state that lives in the training process to a batch that may have been
        sampled in a worker (VR-GCN's histories); the identity for most methods."""
        return batch

    def start_epoch(self) -> None:
        """Called by a :class:`~spikegraph.samplers.Loader` in the training process as it
        starts iterating an epoch, before any batch of it is drawn (AS-GCN fixes the
        sampling function the epoch draws from); nothing for most methods."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """What the sampler learns or records while a model trains (AS-GCN's sampling
        function, VR-GCN's histories), as plain tensors and values, so that a checkpoint
        resumes exactly; empty for most methods (a sampler's draws come from the
        generators the loader passes in, which the loader's own state covers)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` of a sampler built the same way.

        Raises:
            ValueError: a state this sampler does not keep.
        """
        if not isinstance(state, dict) or state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {state!r:.80} to load")

    def _epoch_args(
        self, seeds: Tensor | None, batch_size: int | None, shuffle: bool, gen: torch.Generator
    ) -> list[tuple]:
        """The positional arguments of ``sample`` for every batch of one epoch."""
        if seeds is None:
            raise ValueError(f"{type(self).__name__} samples around seed nodes: give 'seeds'")
        if batch_size is None:
            raise ValueError(f"{type(self).__name__} needs a 'batch_size'")
        order = seeds[torch.randperm(seeds.numel(), generator=gen)] if shuffle else seeds
        return [(chunk,) for chunk in order.split(batch_size)]


#: Every sampler registered by name (``spikegraph.samplers.SAMPLERS``).
Sampler.registry = Registry("sampler", Sampler)


class NodeSampler(Sampler):
    """A method that samples around seed nodes: ``sample(seeds)``."""

    takes_seeds = True

    @abstractmethod
    def sample(self, seeds: Tensor, *, generator: torch.Generator | None = None) -> Batch:
        """The computation graph of ``seeds`` (global ids, distinct)."""


class SubgraphSampler(Sampler):
    """A method that draws whole subgraphs and takes no seeds: ``sample()``.

    Args:
        targets: Nodes whose loss counts (e.g. the training nodes); every node when ``None``.
            A batch lists the targets it contains first.
        num_layers: Number of blocks per batch (the model's depth); all blocks are the same
            square subgraph.
    """

    takes_seeds = False

    def __init__(
        self,
        graph: GraphInput,
        *,
        targets: Tensor | None = None,
        num_layers: int = 2,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(graph, num_nodes=num_nodes, seed=seed, cache_dir=cache_dir)
        self.num_layers = check_int(num_layers, "num_layers", 1)
        self.target_mask = torch.ones(self.num_nodes, dtype=torch.bool)
        if targets is not None:
            targets = check_nodes(targets, self.num_nodes, "targets")
            self.target_mask = torch.zeros(self.num_nodes, dtype=torch.bool)
            self.target_mask[targets] = True
        self.num_targets = int(self.target_mask.sum())

    @property
    def batches_per_epoch(self) -> int:
        """Batches in one epoch of a :class:`~spikegraph.samplers.Loader`."""
        return 1

    def _epoch_args(
        self, seeds: Tensor | None, batch_size: int | None, shuffle: bool, gen: torch.Generator
    ) -> list[tuple]:
        if seeds is not None:
            raise ValueError(
                f"{type(self).__name__} draws whole subgraphs and takes no seeds; give the "
                "nodes whose loss counts as 'targets' when building the sampler"
            )
        return [() for _ in range(self.batches_per_epoch)]

    def _subgraph_batch(
        self,
        nodes: Tensor,
        extra: Callable[[Tensor, Tensor, Tensor], Tensor | None] | None = None,
        loss_weight: Callable[[Tensor], Tensor | None] | None = None,
        *,
        final: bool = False,
        loops: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None,
    ) -> Batch:
        """The batch of the subgraph induced by ``nodes`` (distinct global ids).

        Targets come first in ``n_id``. ``extra(src, dst, e_id)`` (global ids) returns the
        method's edge factor; ``loss_weight(target)`` its per-target loss weight.

        With ``final`` the factor is the edge weight itself (not multiplied by the graph's
        own weights) and the block's weights are final (``Block.weights_final``);
        ``loops(n_id)`` then returns ``(local ids, weights)`` of self-loops to append
        (``e_id = -1``).
        """
        is_t = self.target_mask[nodes]
        n_id = torch.cat([nodes[is_t], nodes[~is_t]])
        rl = self._relabel
        rl.start(n_id)
        try:
            src, dst, e_id = induced_edges(self.csr, n_id, rl.map)
        finally:
            rl.reset()
        factor = None if extra is None else extra(n_id[src], n_id[dst], e_id)
        weight = factor if final else self._weights(e_id, factor)
        if loops is not None:
            local, loop_weight = loops(n_id)
            src, dst = torch.cat([src, local]), torch.cat([dst, local])
            e_id = torch.cat([e_id, torch.full_like(local, -1)])
            weight = torch.cat([weight, loop_weight.to(weight.dtype)])
        block = make_block(src, dst, (n_id.numel(), n_id.numel()), weight, e_id)
        block.weights_final = final
        target = n_id[: int(is_t.sum())]
        return Batch(
            n_id=n_id,
            blocks=[block] * self.num_layers,
            target=target,
            loss_weight=None if loss_weight is None else loss_weight(target),
        )


def make_block(
    src: Tensor,
    dst: Tensor,
    size: tuple[int, int],
    edge_weight: Tensor | None,
    e_id: Tensor | None,
) -> Block:
    """A :class:`Block` from local source and target ids."""
    return Block(
        edge_index=torch.stack([src, dst]),
        edge_weight=edge_weight,
        size=(int(size[0]), int(size[1])),
        e_id=e_id,
    )


def check_fanouts(num_neighbors: Sequence[int], name: str = "num_neighbors") -> list[int]:
    """A non-empty list of fan-outs, each ``>= 1`` or ``-1`` (all neighbours)."""
    if isinstance(num_neighbors, (int, Tensor)) or not isinstance(num_neighbors, Sequence):
        raise TypeError(f"'{name}' must be a list of ints (one per layer), got {num_neighbors!r}")
    out = list(num_neighbors)
    if not out:
        raise ValueError(f"'{name}' must have one fan-out per layer, got an empty list")
    for i, k in enumerate(out):
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"'{name}[{i}]' must be an int, got {k!r}")
        if k == 0 or k < -1:
            raise ValueError(f"'{name}[{i}]' must be >= 1 or -1 (all neighbours), got {k}")
    return out


__all__ = [
    "CACHE_FORMAT",
    "NodeSampler",
    "Registered",
    "Registry",
    "Sampler",
    "SamplerCacheError",
    "SubgraphSampler",
    "check_cached_number",
    "check_cached_tensor",
    "check_fanouts",
    "check_nodes",
    "make_generator",
]
