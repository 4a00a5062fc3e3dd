"""Hooks that count what a model computes in a forward pass, without changing its code.

Spiking GNN papers (GC-SNN / GA-SNN, Xu et al., IJCAI 2021, and their successors) estimate
energy as operations times a per-operation energy. :class:`Counter` obtains the operations
from the tensors a forward pass actually produces: torch forward hooks on ``Linear``
layers, spiking neurons (each by its counting rule; the neurons' rate hooks where a layer
computes their firing rates directly), STFN / batch norms, activations; PyG's
message-passing hooks
(``message``, ``aggregate``, ``message_and_aggregate``, ``propagate``, ``edge_update``) for the
gathers and scatters over edges and the attention. The rules themselves live in
:mod:`spikegraph.cost.rules`; the convention is written out in ``docs/cost.md``.

Counting only reads tensors: outputs and gradients are unchanged. It works in eager mode (PyG
skips its hooks under ``torch.compile`` and TorchScript): a :class:`Counter` refuses a compiled
or scripted module, :func:`count` counts a ``torch.compile``'d model through the eager
module it wraps, and while a counter is active, functions compiled with ``torch.compile``
that a forward pass calls run eagerly (the compiler's ``"force_eager"`` stance, torch 2.6 and
later), so their arithmetic is counted too (their outputs may then differ from the compiled
code's in the last bits).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch_geometric.nn import GATConv, GCNConv, MessagePassing, SAGEConv
from torch_geometric.nn.aggr import (
    MaxAggregation,
    MeanAggregation,
    MinAggregation,
    MulAggregation,
    SumAggregation,
)
from torch_geometric.nn.dense.linear import Linear as PygLinear
from torch_geometric.utils import is_sparse

from spikegraph._validation import check_choice
from spikegraph.cost import rules
from spikegraph.cost.energy import EnergyProfile, get_profile
from spikegraph.cost.report import LayerRow, Report
from spikegraph.cost.static_input import (
    DEFAULT_STATIC_INPUT,
    as_spike_train,
    check_static_input,
    has_static_input,
    is_spiking_model,
    static_spike_input,
    steps_train,
)
from spikegraph.nn.conv import SpikingGATConv, SpikingGCNConv
from spikegraph.nn.conv.spiking import SpikingMessagePassing
from spikegraph.nn.neurons import SpikingNeuron
from spikegraph.nn.readout import Readout
from spikegraph.nn.stfn import STFN
from spikegraph.nn.tdbn import TemporalBatchNorm

log = logging.getLogger(__name__)

EXECUTIONS = ("auto", "event", "dense")
#: Message-passing layers whose arithmetic the counter has been checked on, in closed form.
VALIDATED_LAYERS = (GCNConv, GATConv, SAGEConv, SpikingGCNConv, SpikingGATConv)
#: Parameters of a message-passing layer whose arithmetic the counter covers.
MP_COUNTED_PARAMS = frozenset({"bias", "att_src", "att_dst"})
ACTIVATIONS = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Hardtanh,
)
_REDUCE_OF = {
    SumAggregation: "sum",
    MeanAggregation: "mean",
    MaxAggregation: "max",
    MinAggregation: "min",
    MulAggregation: "mul",
}


def _reduce(module: MessagePassing) -> str | None:
    """The reduction of a layer's aggregation, if it is one the rules know."""
    return _REDUCE_OF.get(type(module.aggr_module))


def _nodes_of(output: Any) -> int | None:
    """Predicted nodes of a forward output: rows of ``[N, C]``, ``N`` of ``[T, N, C]``."""
    if isinstance(output, Tensor) and output.dim() >= 1:
        return output.size(0) if output.dim() <= 2 else output.size(-2)
    return None


def _is_compiled_wrapper(module: nn.Module) -> bool:
    """Whether ``module`` is the wrapper ``torch.compile`` returns (an ``OptimizedModule``)."""
    if not hasattr(module, "_orig_mod"):  # avoids importing torch._dynamo (slow) otherwise
        return False
    from torch._dynamo.eval_frame import OptimizedModule

    return isinstance(module, OptimizedModule)


def _compiled_callable(fn: Any) -> str | None:
    """How a callable was compiled, if it was: what a forward pass through it would run
    instead of eager code (``None`` for eager code). Sees through ``functools.partial``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if isinstance(fn, nn.Module):
        if _is_compiled_wrapper(fn):
            return "an OptimizedModule (torch.compile)"
        if getattr(fn, "_compiled_call_impl", None) is not None:
            return "a module compiled in place (Module.compile())"
        if isinstance(fn, torch.jit.ScriptModule):
            return "a TorchScript module"
        return None
    if isinstance(fn, (torch.jit.ScriptFunction, torch._C.ScriptMethod)):
        return "a TorchScript function"
    # torch.compile's wrappers (of a function, a method or a module's forward) keep the
    # callable they wrap here; torch.compiler.disable's, which run it eagerly, do too
    if getattr(fn, "_torchdynamo_orig_callable", None) is not None and not getattr(
        fn, "_torchdynamo_disable", False
    ):
        return "compiled with torch.compile"
    return None


def _force_eager() -> Any:
    """Run compiled code eagerly until the returned object's ``__exit__`` (``None`` on torch
    before 2.6, which has no compiler stances): a function compiled with ``torch.compile``
    that an eager forward calls would otherwise run compiled, where PyG skips its hooks and
    torch runs no module hooks, and its arithmetic would go uncounted without an error."""
    set_stance = getattr(torch.compiler, "set_stance", None)
    return None if set_stance is None else set_stance("force_eager")


def _name_of(fn: Any) -> str:
    """A short name of a callable, for messages."""
    if isinstance(fn, str):
        return repr(fn)
    if isinstance(fn, nn.Module):
        return type(fn).__name__
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def check_eager(model: nn.Module) -> None:
    """Refuse a model that is, or contains, a compiled or scripted module.

    PyG skips its message-passing hooks in compiled code (``torch.compile``) and TorchScript
    runs no Python hooks, so such a module's aggregation, attention and bias (or all of its
    arithmetic) would go uncounted without an error.

    Raises:
        ValueError: naming the module and what was done to it.
    """
    root = type(model).__name__
    for path, module in model.named_modules():
        where = f"The model ({root})" if not path else f"Submodule {path!r} of {root}"
        eager = "model._orig_mod" if not path else f"{path}._orig_mod"
        if _is_compiled_wrapper(module):
            raise ValueError(
                f"{where} is an OptimizedModule, compiled with torch.compile: PyG skips its "
                "message-passing hooks in compiled code, so its aggregation, attention and "
                f"bias would not be counted. Count the eager module it wraps ({eager}: the "
                "same weights and arithmetic); spikegraph.cost.count does so for a compiled "
                "model"
            )
        if getattr(module, "_compiled_call_impl", None) is not None:
            raise ValueError(
                f"{where} was compiled in place (Module.compile()): PyG skips its "
                "message-passing hooks in compiled code, so its aggregation, attention and "
                "bias would not be counted. Count an eager copy of it, one that was not "
                "compiled"
            )
        if isinstance(module, torch.jit.ScriptModule):
            raise ValueError(
                f"{where} is a TorchScript module, which runs no Python hooks, so its "
                "arithmetic would not be counted. Count the eager module it was scripted from"
            )


def _inside(path: str, parent: str) -> bool:
    """Whether module ``path`` lies strictly inside module ``parent`` ("" is the root)."""
    return path != parent and (parent == "" or path.startswith(parent + "."))


def _check_steps_known(model: nn.Module, x: Any) -> None:
    """Refuse ``static_input="per-step"`` for a 2-D spike input of a model with spiking
    neurons but no spikegraph spiking model or layer: its neurons read the rows of a 2-D
    input as time steps, so whether the input is static, and for how many steps, is unknown.

    Raises:
        ValueError: naming the model.
    """
    modules = list(model.modules())
    if (
        not static_spike_input(x)
        or not any(isinstance(m, SpikingNeuron) for m in modules)
        or any(is_spiking_model(m) or isinstance(m, SpikingMessagePassing) for m in modules)
    ):
        return
    raise ValueError(
        f"static_input='per-step': {type(model).__name__} has spiking neurons but no "
        "spikegraph spiking layer or model (SpikingMessagePassing, or a model with an encoder "
        "and T) to read its 2-D input as the same at every time step, so the counter cannot "
        "tell whether that input is static, nor for how many steps; pass the spike train "
        "[T, N, F] it stands for, or count with static_input='once'"
    )


class Counter:
    """Count the operations of every forward pass of ``model`` run inside the ``with`` block.

    Args:
        model: Any :class:`torch.nn.Module`: spikegraph's spiking layers and models, PyG's
            ``GCN``, ``GAT``, ``GraphSAGE`` and their layers, or a module built from them.
        execution: The hardware the count assumes. ``"event"``: event-driven (neuromorphic):
            a binary (0/1) input to a synaptic transform or an unweighted aggregation is
            counted as spikes (one AC per spike and output), and zero messages are not sent.
            ``"dense"``: every entry is computed, with MACs, as on a GPU or an ordinary
            accelerator. ``"auto"`` (default): event-driven if the model contains spiking neurons,
            dense otherwise.
        fold_norm: Count STFN folded into per-neuron thresholds and inference-mode batch
            norms folded into the weights, as deployed hardware would
            (:mod:`spikegraph.cost.folding`).
        profile: Energy profile name or :class:`~spikegraph.cost.EnergyProfile`.
        static_input: How a static spiking input is counted
            (:mod:`spikegraph.cost.static_input`): ``"once"`` (default: as the forward pass
            computes it) or ``"per-step"``: every spikegraph spiking model (a module with an
            encoder and ``T``) and spiking layer
            (:class:`~spikegraph.nn.conv.spiking.SpikingMessagePassing`) that the model calls
            with a static spike input (``[N, F]``, 0/1 once encoded) runs on the ``[T, N, F]``
            spike train it stands for instead (same predictions). The report names the
            convention if such an input was seen (:attr:`Report.static_input
            <spikegraph.cost.Report.static_input>`).

    A forward pass is a call of ``model``, or, outside one, a pass of a spiking model that
    ends in its readout (``forward_blocks`` on sampled blocks). Neurons whose firing rates a
    layer computes without a module call (a spiking model's last hidden layer in training,
    :meth:`~spikegraph.nn.conv.spiking.SpikingMessagePassing.fire_rate`) are counted through
    their rate hooks, with the updates and spikes of the trains behind the rates; what runs
    on the rates runs once, and is counted so (:attr:`Report.rate_layers
    <spikegraph.cost.Report.rate_layers>` names those layers). Neurons the counter cannot see
    at all are named in :attr:`Report.neurons_not_counted
    <spikegraph.cost.Report.neurons_not_counted>`. While the counter is active, functions
    compiled with ``torch.compile`` that a forward pass calls run eagerly (the compiler's
    ``"force_eager"`` stance; torch 2.6 and later), so that their arithmetic is counted.

    Raises:
        ValueError: for a compiled or scripted module (:func:`check_eager`), a bad option,
            or, under ``"per-step"``, a static spike input the counter cannot run at every
            step (a model with neurons but no spikegraph spiking layer, whose time steps it
            cannot tell; a spiking model's layer called with one outside the model's call).

    Example:
        >>> with Counter(model) as counter:  # doctest: +SKIP
        ...     for batch in loader:
        ...         model(batch.x, batch.edge_index)
        >>> counter.report().total.energy_pj  # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        execution: str = "auto",
        fold_norm: bool = False,
        profile: str | EnergyProfile = "45nm",
        static_input: str = "once",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"'model' must be a torch.nn.Module, got {type(model).__name__}")
        check_eager(model)
        check_choice(execution, EXECUTIONS, "execution")
        if not isinstance(fold_norm, bool):
            raise TypeError(f"'fold_norm' must be a bool, got {fold_norm!r}")
        self.model = model
        self.execution = execution
        self.fold_norm = fold_norm
        self.profile = get_profile(profile)
        self.static_input = check_static_input(static_input)
        has_neurons = any(isinstance(m, SpikingNeuron) for m in model.modules())
        self.event = execution == "event" or (execution == "auto" and has_neurons)
        self._ops: dict[tuple[str, str], rules.Ops] = {}
        self._warnings: dict[str, None] = {}
        self._handles: list[Any] = []
        self._stance: Any = None
        self._spikes: dict[int, tuple[weakref.ref, int, int]] = {}
        self._pending: dict[int, tuple[Tensor, Tensor]] = {}
        self._forwards = 0
        self._nodes = 0
        self._static_input: str | None = None
        self._modes: set[bool] = set()  # model.training in each counted call of the model
        self._entered_training = False
        self._active = False
        self._depth = 0  # calls of the model in progress
        self._spiking_depth = 0  # calls of spiking models and layers in progress
        # spiking layers whose message passing ran with no call of their neurons since, and
        # those seen doing so again (neurons computed without a module call)
        self._unfired: dict[str, None] = {}
        self._not_counted: dict[str, None] = {}
        # spiking layers whose neurons handed firing rates to their rate hooks
        self._rate_layers: dict[str, None] = {}
        self._neuron_layer: dict[str, str] = {}  # neuron's path -> its spiking layer's

    # -- bookkeeping ---------------------------------------------------------------------

    def _add(self, name: str, kind: str, ops: rules.Ops) -> None:
        key = (name, kind)
        if key not in self._ops:
            self._ops[key] = rules.Ops()
        self._ops[key] += ops

    def _warn(self, message: str) -> None:
        self._warnings.setdefault(message, None)

    def reset(self) -> None:
        """Forget everything counted so far."""
        self._ops.clear()
        self._warnings.clear()
        self._spikes.clear()
        self._forwards = 0
        self._nodes = 0
        self._static_input = None
        self._modes.clear()
        self._unfired.clear()
        self._not_counted.clear()
        self._rate_layers.clear()
        self._entered_training = self.model.training

    # -- hooks ---------------------------------------------------------------------------

    def _remember_spikes(self, spikes: Tensor, count: int) -> None:
        """Note that ``spikes`` (a neuron output) holds ``count`` spikes."""
        self._spikes[id(spikes)] = (weakref.ref(spikes), spikes._version, count)

    def _known_spikes(self, x: Tensor) -> int | None:
        """The spike count of ``x`` if it is an unmodified neuron output seen before."""
        entry = self._spikes.get(id(x))
        if entry is not None and entry[0]() is x and entry[1] == x._version:
            return entry[2]
        return None

    def _linear_hook(self, name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            x = inputs[0]
            ops = rules.transform_ops(x, output.size(-1), self.event, self._known_spikes(x))
            self._add(name, "transform", ops)
            if getattr(module, "bias", None) is not None:
                self._add(name, "bias", rules.bias_ops(output.numel()))

        return hook

    def _message_hook(self, name: str) -> Callable:
        def hook(module: MessagePassing, inputs: tuple, output: Tensor) -> None:
            reduce = _reduce(module)
            if reduce is None:
                self._warn(
                    f"{name}: aggregation {module.aggr!r} is not one the counter knows "
                    f"({list(rules.REDUCES)}); its messages are counted as one MAC per entry "
                    "and any further arithmetic of the aggregator is not counted"
                )
                reduce = "sum"
            weighted = output is not inputs[0].get("x_j")
            pending = self._pending.pop(id(module), None)
            if self.event and pending is not None:
                x, src = pending
                ops = rules.sent_aggregation_ops(x, src, module.node_dim, weighted, reduce)
            else:
                ops = rules.aggregation_ops(output, weighted, reduce, self.event)
            self._add(name, "aggregation", ops)

        return hook

    def _pre_propagate_hook(self, name: str) -> Callable:
        def hook(module: MessagePassing, inputs: tuple) -> None:
            # Event-driven counts of the messages come cheaper from the source features
            # (N rows) than from the messages (E rows); keep what the message hook needs.
            self._pending.pop(id(module), None)
            edge_index, _, kwargs = inputs
            if not self.event or module.decomposed_layers != 1 or is_sparse(edge_index):
                return
            x = kwargs.get("x")
            if isinstance(x, (tuple, list)):
                x = x[0]
            if isinstance(x, Tensor) and isinstance(edge_index, Tensor):
                row = 0 if module.flow == "source_to_target" else 1
                self._pending[id(module)] = (x, edge_index[row])

        return hook

    def _aggregate_hook(self, name: str) -> Callable:
        def hook(module: MessagePassing, inputs: tuple, output: Tensor) -> None:
            if _reduce(module) == "mean":
                self._add(name, "aggregation", rules.mean_ops(output))

        return hook

    def _fused_hook(self, name: str) -> Callable:
        def hook(module: MessagePassing, inputs: tuple, output: Tensor) -> None:
            adj, kwargs = inputs[0], inputs[1]
            x = kwargs.get("x")
            if isinstance(x, (tuple, list)):
                x = x[0]
            if not isinstance(x, Tensor):
                self._warn(
                    f"{name}: message_and_aggregate without a tensor argument 'x'; its "
                    "aggregation is not counted"
                )
                return
            reduce = _reduce(module) or "sum"
            # SAGEConv drops the values of adj_t inside message_and_aggregate.
            weighted = not isinstance(module, SAGEConv) and rules.is_weighted(adj)
            ops = rules.fused_aggregation_ops(adj, x, module.node_dim, weighted, reduce, self.event)
            self._add(name, "aggregation", ops)
            if reduce == "mean":
                self._add(name, "aggregation", rules.mean_ops(output))

        return hook

    def _propagate_hook(self, name: str) -> Callable:
        def hook(module: MessagePassing, inputs: tuple, output: Tensor) -> None:
            if name in self._neuron_layer.values():
                if name in self._unfired:  # the current before did not reach its neurons
                    self._not_counted.setdefault(name, None)
                self._unfired.setdefault(name, None)
            heads = getattr(module, "heads", None)
            if isinstance(heads, int) and output.dim() == 3 and module.node_dim == 0:
                # GAT layout [N, T'*H, C]: time steps (if any) folded into the heads.
                positions = output.size(0) * (output.size(1) // heads)
                channels = output.size(2)
                if not getattr(module, "concat", True) and heads > 1:
                    self._add(name, "combine", rules.head_mean_ops(positions, heads, channels))
            else:
                positions = output.numel() // max(output.size(-1), 1)
            if module._parameters.get("att_src") is not None:
                x = inputs[2].get("x")
                if isinstance(x, (tuple, list)) and isinstance(x[0], Tensor):
                    self._add(name, "attention", rules.attention_node_ops(x[0], x[1]))
            bias = module._parameters.get("bias")
            if bias is not None:
                self._add(name, "bias", rules.bias_ops(positions * bias.numel()))

        return hook

    def _attention_hook(self, name: str) -> Callable:
        def hook(module: MessagePassing, inputs: tuple, output: Tensor) -> None:
            kwargs = inputs[2]
            if module._parameters.get("att_src") is None or "alpha_j" not in kwargs:
                self._warn(f"{name}: edge_update of {type(module).__name__} is not counted")
                return
            if kwargs.get("edge_attr") is not None and hasattr(module, "att_edge"):
                self._warn(f"{name}: edge-feature attention (att_edge) is not counted")
            has_dst = kwargs.get("alpha_i") is not None
            self._add(name, "attention", rules.attention_edge_ops(output, has_dst))

        return hook

    def _sage_hook(self, name: str) -> Callable:
        def hook(module: SAGEConv, inputs: tuple, output: Tensor) -> None:
            x = inputs[0]
            x_r = x if isinstance(x, Tensor) else x[1]
            if module.root_weight and x_r is not None:
                self._add(name, "combine", rules.bias_ops(output.numel()))
            if module.normalize:
                # Squared norm (one MAC per entry) and division (one MAC per entry).
                self._add(name, "combine", rules.Ops(macs=2 * output.numel()))
            if module.project:
                self._warn(f"{name}: the ReLU of SAGEConv's projection is not counted")

        return hook

    def _neuron_hook(self, name: str) -> Callable:
        def hook(module: SpikingNeuron, inputs: tuple, output: Tensor) -> None:
            rule = module.counting_rule()
            ops = rules.neuron_ops(output, rule.decay, rule.reset, rule.macs_per_step)
            self._remember_spikes(output, ops.spikes_out)
            self._add(name, "neuron", ops)
            self._unfired.pop(self._neuron_layer.get(name, ""), None)

        return hook

    def _rate_hook(self, name: str) -> Callable:
        """Rate hook of a neuron (:meth:`SpikingNeuron.register_rate_hook
        <spikegraph.nn.neurons.SpikingNeuron.register_rate_hook>`): a layer computed its firing
        rates without a call of the neuron. The rates are means of binary spikes over
        ``steps`` steps, so ``rates * steps`` are the spike counts of the trains the neurons
        ran: the neuron row gets the updates and spikes the forward hook would have counted.
        The rates themselves are real-valued: what runs on them runs once, and is counted as
        it runs (the layer is recorded in :attr:`Report.rate_layers
        <spikegraph.cost.Report.rate_layers>`)."""

        def hook(module: SpikingNeuron, rates: Tensor, steps: int) -> None:
            layer = self._neuron_layer.get(name, name)
            rule = module.counting_rule()
            ops = rules.rate_neuron_ops(rates, steps, rule.decay, rule.reset, rule.macs_per_step)
            if ops is None:
                _, deviation = rules.rate_spike_count(rates, steps)
                self._warn(
                    f"{name}: the firing rates its rate hook received are not means of binary "
                    f"spikes over {steps} steps (rates * steps is {deviation:.3g} from an "
                    "integer, or a rate lies outside [0, 1]), so its updates and spikes are not "
                    "counted"
                )
                self._not_counted.setdefault(layer, None)
            else:
                self._add(name, "neuron", ops)
                self._rate_layers.setdefault(layer, None)
            self._unfired.pop(layer, None)

        return hook

    def _stfn_hook(self, name: str) -> Callable:
        def hook(module: STFN, inputs: tuple, output: Tensor) -> None:
            self._add(name, "norm", rules.stfn_ops(inputs[0], module.affine, self.fold_norm))

        return hook

    def _batchnorm_hook(self, name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            running = getattr(module, "running_mean", None) is not None
            batch_stats = module.training or not running
            if self.fold_norm and batch_stats:
                self._warn(
                    f"{name}: {type(module).__name__} uses batch statistics (training mode), "
                    "which cannot be folded; it is counted unfolded"
                )
            self._add(name, "norm", rules.batchnorm_ops(inputs[0], batch_stats, self.fold_norm))

        return hook

    def _activation_hook(self, name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            relu = isinstance(module, nn.ReLU)
            self._add(name, "activation", rules.activation_ops(output, relu))

        return hook

    def _flag_hook(self, message: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
            self._warn(message)

        return hook

    def _record_forward(self, training: bool, output: Any) -> None:
        self._modes.add(training)
        self._forwards += 1
        self._nodes += _nodes_of(output) or 0

    def _root_pre_hook(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self._depth += 1  # first: the exit hook runs even if the check below raises
        if self._depth == 1 and self.static_input == "per-step":
            _check_steps_known(module, args[0] if args else kwargs.get("x"))

    def _root_hook(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        if self._depth == 1:
            self._record_forward(module.training, output)

    def _root_exit_hook(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        self._depth -= 1  # always called, also when the forward raised

    def _readout_hook(self, name: str) -> Callable:
        def hook(module: Readout, inputs: tuple, output: Tensor) -> None:
            self._add(name, "readout", rules.readout_ops(inputs[0]))
            if self._depth == 0:
                # the end of a pass that did not go through the model's call (a spiking
                # model's forward_blocks): one forward pass, predicting the readout's rows
                self._record_forward(module.training, output)

        return hook

    def _spiking_entry_hook(self, name: str, module: nn.Module, owner: str | None) -> Callable:
        """Pre-hook of a spiking model or layer: where a static input enters, outside any
        other spiking model or layer, note it and (per step) run on its spike train."""

        def hook(mod: nn.Module, args: tuple, kwargs: dict) -> tuple | None:
            self._spiking_depth += 1
            if self._spiking_depth > 1:
                return None
            in_args = bool(args)
            x = args[0] if in_args else kwargs.get("x")
            if is_spiking_model(mod):
                if not has_static_input(mod, x):
                    return None
                train = as_spike_train(mod, x) if self.static_input == "per-step" else None
            else:
                if not static_spike_input(x):
                    return None
                if self.static_input == "per-step" and owner is not None:
                    raise ValueError(
                        f"static_input='per-step': {name} got a static spike input outside a "
                        f"call of the model it belongs to ({owner}), e.g. through "
                        "forward_blocks, so the counter cannot run that model on the spike "
                        "train the input stands for. Pass the train yourself "
                        "(spikegraph.cost.as_spike_train(model, x)), or use count(model, x, "
                        "blocks, forward='forward_blocks', static_input='per-step')"
                    )
                train = steps_train(x, mod.T) if self.static_input == "per-step" else None
            self._static_input = self.static_input
            if train is None:
                return None
            if in_args:
                return (train, *args[1:]), kwargs
            return args, {**kwargs, "x": train}

        return hook

    def _spiking_exit_hook(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        self._spiking_depth -= 1

    # -- registration --------------------------------------------------------------------

    def __enter__(self) -> Counter:
        if self._active:
            raise RuntimeError("This Counter is already active")
        self._entered_training = self.model.training
        self._depth = self._spiking_depth = 0
        root_name = type(self.model).__name__
        models: list[str] = []  # paths of the spiking models met so far (parents first)
        for path, module in self.model.named_modules():
            name = path or root_name
            covered: frozenset[str] | set[str] = frozenset()
            reg = module.register_forward_hook
            if is_spiking_model(module) or isinstance(module, SpikingMessagePassing):
                owner = next((m or root_name for m in reversed(models) if _inside(path, m)), None)
                if is_spiking_model(module):
                    models.append(path)
                self._handles += [
                    module.register_forward_pre_hook(
                        self._spiking_entry_hook(name, module, owner), with_kwargs=True
                    ),
                    reg(self._spiking_exit_hook, always_call=True),
                ]
            if isinstance(module, SpikingMessagePassing) and module.neuron is not None:
                self._neuron_layer[f"{path}.neuron" if path else "neuron"] = name
            if isinstance(module, (nn.Linear, PygLinear)):
                self._handles.append(reg(self._linear_hook(name)))
                covered = {"weight", "bias"}
            elif isinstance(module, MessagePassing):
                self._register_message_passing(name, module)
                covered = MP_COUNTED_PARAMS
            elif isinstance(module, SpikingNeuron):
                self._handles += [
                    reg(self._neuron_hook(name)),
                    module.register_rate_hook(self._rate_hook(name)),
                ]
                # A neuron's parameters (time constants, thresholds) enter its counting rule.
                covered = {n for n, _ in module.named_parameters(recurse=False)}
            elif isinstance(module, STFN):
                self._handles.append(reg(self._stfn_hook(name)))
                covered = {"weight", "bias"}
            elif isinstance(module, (TemporalBatchNorm, _BatchNorm)):
                self._handles.append(reg(self._batchnorm_hook(name)))
                covered = {"weight", "bias"}
            elif isinstance(module, ACTIVATIONS):
                self._handles.append(reg(self._activation_hook(name)))
                covered = {"weight"}
            elif isinstance(module, Readout):
                # A readout's row is named after the model it reads out (its parent).
                self._handles.append(reg(self._readout_hook(path.rpartition(".")[0] or root_name)))
            own = {n for n, p in module.named_parameters(recurse=False) if p is not None}
            missing = sorted(own - set(covered))
            if missing:
                msg = (
                    f"{name}: {type(module).__name__} has parameters {missing} whose "
                    "arithmetic is not counted"
                )
                self._handles.append(reg(self._flag_hook(msg)))
        self._handles += [
            self.model.register_forward_pre_hook(self._root_pre_hook, with_kwargs=True),
            self.model.register_forward_hook(self._root_hook),
            self.model.register_forward_hook(self._root_exit_hook, always_call=True),
        ]
        self._stance = _force_eager()  # last: nothing after it can fail and skip __exit__
        self._active = True
        return self

    def _register_message_passing(self, name: str, module: MessagePassing) -> None:
        self._handles += [
            module.register_propagate_forward_pre_hook(self._pre_propagate_hook(name)),
            module.register_message_forward_hook(self._message_hook(name)),
            module.register_aggregate_forward_hook(self._aggregate_hook(name)),
            module.register_message_and_aggregate_forward_hook(self._fused_hook(name)),
            module.register_propagate_forward_hook(self._propagate_hook(name)),
            module.register_edge_update_forward_hook(self._attention_hook(name)),
        ]
        if isinstance(module, SAGEConv):
            self._handles.append(module.register_forward_hook(self._sage_hook(name)))
        if not isinstance(module, VALIDATED_LAYERS):
            msg = (
                f"{name}: {type(module).__name__} is not among the layers the counter was "
                "checked on; its messages, aggregation and bias are counted, any other "
                "arithmetic in its forward is not"
            )
            self._handles.append(module.register_forward_hook(self._flag_hook(msg)))

    def __exit__(self, *exc: Any) -> None:
        if self._stance is not None:
            self._stance.__exit__(None, None, None)  # the stance before the counter's
            self._stance = None
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._spikes.clear()
        self._pending.clear()
        self._active = False

    # -- result --------------------------------------------------------------------------

    def report(self, num_nodes: int | None = None, num_forwards: int | None = None) -> Report:
        """The counts so far as a :class:`~spikegraph.cost.Report`.

        Args:
            num_nodes: Nodes predicted, for the energy per node; by default the rows of the
                outputs of the model's forward calls.
            num_forwards: Forward passes; by default the number seen: calls of the model,
                and passes of a spiking model through another method (``forward_blocks``).

        Raises:
            ValueError: if nothing countable ran, or no forward pass was seen (operations of
                submodules called on their own: the number of passes is unknown) and
                ``num_forwards`` is not given, or the number of nodes is unknown.
        """
        if not self._ops:
            raise ValueError(
                f"Nothing countable ran in {type(self.model).__name__}: no Linear layer, "
                "message-passing layer, spiking neuron, normalisation or activation was called "
                "inside the counter"
            )
        if num_forwards is None and not self._forwards:
            raise ValueError(
                f"Operations were counted, but no forward pass of {type(self.model).__name__} "
                "was seen inside the counter (no call of the model, nor a spiking model's pass "
                "through forward_blocks): its submodules were called on their own, so the "
                "number of passes and of predicted nodes is unknown; pass num_forwards and "
                "num_nodes"
            )
        num_nodes = self._nodes if num_nodes is None else num_nodes
        num_forwards = self._forwards if num_forwards is None else num_forwards
        if not num_nodes:
            raise ValueError(
                "Could not tell how many nodes the forward pass predicted (its output is not "
                "a [N, C] tensor); pass num_nodes"
            )
        rows = tuple(
            LayerRow(
                name=name,
                kind=kind,
                acs=ops.acs,
                macs=ops.macs,
                spikes_in=ops.spikes_in if ops.inputs else None,
                spikes_out=ops.spikes_out if ops.neuron_steps else None,
                inputs=ops.inputs,
                neuron_steps=ops.neuron_steps,
            )
            for (name, kind), ops in self._ops.items()
        )
        not_counted = tuple(dict.fromkeys([*self._not_counted, *self._unfired]))
        for layer in not_counted:
            self._warn(
                f"{layer}: its neurons ran without the counter seeing them (no module call, "
                "and no firing rates it could count handed to their rate hooks, as when a "
                "layer computes them with SpikingNeuron.rate but not through fire_rate), so "
                "their updates and spikes are not counted, and the layers after them ran once "
                "on the rates rather than at every step"
            )
        for message in self._warnings:
            log.warning(message)
        return Report(
            rows=rows,
            profile=self.profile,
            num_nodes=int(num_nodes),
            num_forwards=int(num_forwards),
            model=type(self.model).__name__,
            options={"execution": self.execution, "fold_norm": self.fold_norm},
            warnings=tuple(self._warnings),
            static_input=self._static_input,
            # passes seen: their modes; none seen: the mode it was counted in
            training=any(self._modes) if self._modes else self._entered_training,
            neurons_not_counted=not_counted,
            rate_layers=tuple(layer for layer in self._rate_layers if layer not in not_counted),
            counted_as="event" if self.event else "dense",
        )


def count(
    model: nn.Module,
    *inputs: Any,
    forward: str | Callable | None = None,
    execution: str = "auto",
    fold_norm: bool = False,
    profile: str | EnergyProfile = "45nm",
    num_nodes: int | None = None,
    static_input: str = "once",
    **kwargs: Any,
) -> Report:
    """Run one forward pass of ``model`` on ``inputs`` and count what it computed.

    The model runs in whatever mode it is in (call ``model.eval()`` first for inference
    counts) and with gradients if they are enabled; counting changes neither its outputs nor
    its gradients.

    Args:
        model: The model (see :class:`Counter`).
        *inputs: Positional arguments of the forward pass (``x, edge_index, ...``).
        forward: The method to run instead of ``model(...)``: a name
            (``"forward_blocks"`` for sampled blocks) or a callable, run in eager mode (not
            compiled or scripted).
        execution: ``"auto"``, ``"event"`` or ``"dense"`` (see :class:`Counter`).
        fold_norm: Count STFN / batch norm folded for inference (see :class:`Counter`).
        profile: Energy profile name or :class:`~spikegraph.cost.EnergyProfile`.
        num_nodes: Nodes predicted, for the energy per node (default: rows of the output).
        static_input: How a static spiking input (``[N, F]``, direct coding) is counted
            (:mod:`spikegraph.cost.static_input`): ``"once"`` (default: the forward pass as it
            runs, computing what does not change over time once) or ``"per-step"`` (the
            spiking model or layer that gets it runs on the ``[T, N, F]`` spike train the
            input stands for: same predictions, the first layer counted at every step, the
            literature's convention and the default of :func:`energy_of`, ``spikegraph
            cost`` and the energy benchmark). It applies to a spiking model, a spiking layer,
            and a module that calls them (see :class:`Counter`). The report records which
            applied (:attr:`Report.static_input <spikegraph.cost.Report.static_input>`).
        **kwargs: Keyword arguments of the forward pass.

    A ``torch.compile``'d model is counted through the eager module it wraps (same weights
    and arithmetic: PyG skips its hooks in compiled code). A compiled or scripted ``forward``
    is refused instead (it is the caller's code, not the model's); compiled code that an
    eager ``forward`` calls cannot be told apart, and would be counted wrong.

    Returns:
        A :class:`~spikegraph.cost.Report` of that one forward pass.

    Raises:
        ValueError: see :class:`Counter` (a compiled submodule, a per-step count that cannot
            be made); a ``forward`` compiled with ``torch.compile`` or scripted.
    """
    check_static_input(static_input)
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module, got {type(model).__name__}")
    if _is_compiled_wrapper(model):
        model = model._orig_mod  # the eager module: PyG's hooks do not run in compiled code
    if forward is None:
        fn = model
    elif isinstance(forward, str):
        fn = getattr(model, forward, None)
        if not callable(fn):
            raise ValueError(f"{type(model).__name__} has no method {forward!r}")
    elif callable(forward):
        fn = forward
    else:
        raise TypeError(f"'forward' must be a method name or a callable, got {forward!r}")
    compiled = _compiled_callable(fn)
    if compiled is not None:
        why = (
            "TorchScript runs no Python hooks, so none of its arithmetic would be counted"
            if "TorchScript" in compiled
            else "compiled code skips PyG's message-passing hooks, so its aggregation, "
            "attention and bias would not be counted"
        )
        raise ValueError(
            f"'forward' ({_name_of(forward)}) is {compiled}: {why}. Pass the eager callable "
            "instead (for torch.compile(f), f itself: the same arithmetic)"
        )
    # A spiking model's own input is converted here, so that a method other than its call
    # (forward_blocks) runs on the spike train too; the counter does it for the spiking
    # models and layers that a module calls.
    static = bool(inputs) and has_static_input(model, inputs[0])
    if static and static_input == "per-step":
        inputs = (as_spike_train(model, inputs[0]), *inputs[1:])
    counter = Counter(
        model,
        execution=execution,
        fold_norm=fold_norm,
        profile=profile,
        static_input=static_input,
    )
    with counter as c:
        output = fn(*inputs, **kwargs)
    nodes = _nodes_of(output) if num_nodes is None else num_nodes
    report = c.report(num_nodes=nodes, num_forwards=1)
    return dataclasses.replace(report, static_input=static_input if static else report.static_input)


def energy_of(
    model: nn.Module,
    data: Any,
    profile: str | EnergyProfile = "45nm",
    execution: str = "auto",
    fold_norm: bool = False,
    static_input: str = DEFAULT_STATIC_INPUT,
) -> dict[str, Any]:
    """Energy of one full-graph inference of ``model`` on ``data``, as a flat dict.

    Meant for results tables (e.g. an energy column in the node-classification benchmark).
    The model is put in eval mode for the count and restored afterwards; gradients are off.

    Args:
        model: Any model with ``forward(x, edge_index[, edge_weight])``.
        data: A PyG ``Data`` with ``x`` and ``edge_index`` (``edge_weight`` is used if present).
        profile: Energy profile name or :class:`~spikegraph.cost.EnergyProfile`.
        execution: See :class:`Counter`.
        fold_norm: See :class:`Counter`.
        static_input: ``"per-step"`` (default, the literature's convention) or ``"once"``
            (see :func:`count`).

    Returns:
        ``energy_pj``, ``energy_per_node_pj``, ``acs``, ``macs``, ``synaptic_ops``,
        ``spikes``, ``firing_rates``, ``profile``, ``profile_source``, ``execution``,
        ``fold_norm``, ``static_input`` (the convention that applied; ``None`` without a
        static spiking input).

    Raises:
        ValueError: see :func:`count` (e.g. ``"per-step"`` for a model with spiking neurons
            but no spikegraph spiking layer, whose time steps the counter cannot tell).
    """
    args = [data.x, data.edge_index]
    if "edge_weight" in data and data.edge_weight is not None:
        args.append(data.edge_weight)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            report = count(
                model,
                *args,
                execution=execution,
                fold_norm=fold_norm,
                profile=profile,
                static_input=static_input,
            )
    finally:
        model.train(was_training)
    t = report.total
    return {
        "energy_pj": t.energy_pj,
        "energy_per_node_pj": t.energy_per_node_pj,
        "acs": t.acs,
        "macs": t.macs,
        "synaptic_ops": t.synaptic_ops,
        "spikes": t.spikes,
        "firing_rates": report.firing_rates(),
        "profile": report.profile.name,
        "profile_source": report.profile.source,
        "execution": execution,
        "fold_norm": fold_norm,
        "static_input": report.static_input,
    }


__all__ = ["EXECUTIONS", "VALIDATED_LAYERS", "Counter", "check_eager", "count", "energy_of"]
