"""What :func:`spikegraph.cost.count` returns: per-layer operation counts and their energy.

A :class:`Report` holds one :class:`LayerRow` per (module, kind of operation), the
:class:`~spikegraph.cost.EnergyProfile` that prices them, and the number of nodes the
forward pass predicted. Reports of mini-batches add up (``a + b``, :meth:`Report.sum`), and
two reports compare (:meth:`Report.compare`), e.g. a spiking model against an ordinary one
(the energy accounting of Xu et al., IJCAI 2021 and of most spiking-network papers, done
from counted rather than nominal operations).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from spikegraph.cost.energy import EnergyProfile, get_profile
from spikegraph.cost.static_input import describe_static_input

#: Kinds of rows, in the order a layer computes them.
KINDS = (
    "transform",
    "aggregation",
    "attention",
    "combine",
    "bias",
    "norm",
    "neuron",
    "activation",
    "readout",
)
#: Kinds whose operations are synaptic: a weight or an edge per operation.
SYNAPTIC_KINDS = ("transform", "aggregation")


@dataclass(frozen=True)
class LayerRow:
    """The operations of one kind in one module.

    Attributes:
        name: Module path in the model (``"convs.0.lin"``), or the model's class name.
        kind: One of :data:`KINDS`.
        acs: Accumulates.
        macs: Multiply-accumulates.
        energy_pj: Energy under the report's profile, picojoules.
        spikes_in: Spikes received (``None`` when the input was not counted as spikes).
        spikes_out: Spikes emitted (``None`` for rows that are not neurons).
        inputs: Entries of the spike input seen (denominator of the input rate).
        neuron_steps: Neurons times time steps simulated (denominator of the firing rate).
    """

    name: str
    kind: str
    acs: int
    macs: int
    energy_pj: float = 0.0
    spikes_in: int | None = None
    spikes_out: int | None = None
    inputs: int = 0
    neuron_steps: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown row kind {self.kind!r}; expected one of {list(KINDS)}")
        for name in ("acs", "macs", "inputs", "neuron_steps", "spikes_in", "spikes_out"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(
                    f"LayerRow {self.name!r} ({self.kind}): '{name}' must be a non-negative "
                    f"int, got {value!r}"
                )

    @property
    def ops(self) -> int:
        """ACs plus MACs."""
        return self.acs + self.macs

    @property
    def synaptic_ops(self) -> int:
        """Operations on synapses (transform and aggregation rows); 0 for other kinds."""
        return self.ops if self.kind in SYNAPTIC_KINDS else 0

    @property
    def firing_rate(self) -> float | None:
        """Neuron rows: spikes per neuron and step emitted. Rows fed spikes: spikes per
        input entry received. ``None`` otherwise."""
        if self.neuron_steps:
            return (self.spikes_out or 0) / self.neuron_steps
        if self.inputs:
            return (self.spikes_in or 0) / self.inputs
        return None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(ops=self.ops, synaptic_ops=self.synaptic_ops, firing_rate=self.firing_rate)
        return out

    def _merge(self, other: LayerRow) -> LayerRow:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return dataclasses.replace(
            self,
            acs=self.acs + other.acs,
            macs=self.macs + other.macs,
            spikes_in=add(self.spikes_in, other.spikes_in),
            spikes_out=add(self.spikes_out, other.spikes_out),
            inputs=self.inputs + other.inputs,
            neuron_steps=self.neuron_steps + other.neuron_steps,
        )


@dataclass(frozen=True)
class Totals:
    """Sums over the rows of a report.

    Attributes:
        acs: Accumulates.
        macs: Multiply-accumulates.
        synaptic_ops: Operations of transform and aggregation rows.
        spikes: Spikes emitted by all neurons.
        energy_pj: Energy of everything counted, picojoules.
        energy_per_inference_pj: ``energy_pj`` per forward pass.
        energy_per_node_pj: ``energy_pj`` per predicted node.
        num_nodes: Nodes predicted (output rows), summed over forward passes.
        num_forwards: Forward passes counted.
    """

    acs: int
    macs: int
    synaptic_ops: int
    spikes: int
    energy_pj: float
    energy_per_inference_pj: float
    energy_per_node_pj: float
    num_nodes: int
    num_forwards: int

    @property
    def ops(self) -> int:
        return self.acs + self.macs

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ops": self.ops}


@dataclass(frozen=True)
class Report:
    """Operation counts of a model's forward pass(es), per layer, priced by a profile.

    Attributes:
        rows: One :class:`LayerRow` per (module, kind), in the order they first ran.
        profile: Prices of a MAC and an AC; row energies are computed from it.
        num_nodes: Nodes predicted (rows of the output), for the energy per node.
        num_forwards: Forward passes counted (1 for :func:`~spikegraph.cost.count`).
        model: Name of the model, for tables.
        options: Counting options (``execution``, ``fold_norm``), as given to the counter.
        warnings: Things the counter could not count or vouch for.
        static_input: How a spiking model's static input was counted: ``"per-step"`` or
            ``"once"`` (:mod:`spikegraph.cost.static_input`); ``None`` when the model had no
            static spiking input (both conventions count the same).
        training: Whether the model was in training mode in a counted forward pass (dropout
            drawn, batch statistics), as when counting the batches of a training epoch;
            ``False`` for an inference count (``model.eval()`` first); ``None`` when not
            recorded (a report built by hand). Tables say so when it is ``True``.
        neurons_not_counted: Spiking layers whose neurons ran without the counter seeing them,
            so their updates and spikes are missing (and the layers after them ran once on
            the rates rather than at every step): a layer that computes their firing rates
            (:meth:`SpikingNeuron.rate <spikegraph.nn.neurons.SpikingNeuron.rate>`) without
            handing them to the neurons' rate hooks (:meth:`SpikingNeuron.notify_rate
            <spikegraph.nn.neurons.SpikingNeuron.notify_rate>`), or rates that are not means
            of binary spikes. Tables name them; empty for a complete count (every inference
            count, and spikegraph's layers and models in training too).
        rate_layers: Spiking layers whose firing rates were computed directly, without spike
            trains (:meth:`~spikegraph.nn.conv.spiking.SpikingMessagePassing.fire_rate`: a
            spiking model's last hidden layer in training). Their neurons are counted, through
            their rate hooks, with the updates and spikes of the trains behind the rates
            (the rows an inference count on the same spikes has); the layers after them ran
            once on the rates rather than at every step, and are counted as they ran, so
            their rows (and the total) are smaller than an inference count's. Tables name
            them; empty for every inference count.
        counted_as: How the rows were counted, ``"event"`` (event-driven) or ``"dense"``:
            what the ``execution`` option resolved to (``"auto"``: event-driven for a model
            with spiking neurons); ``None`` when not recorded, or for a sum of reports
            counted both ways.
    """

    rows: tuple[LayerRow, ...]
    profile: EnergyProfile
    num_nodes: int
    num_forwards: int = 1
    model: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    static_input: str | None = None
    training: bool | None = None
    neurons_not_counted: tuple[str, ...] = ()
    rate_layers: tuple[str, ...] = ()
    counted_as: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", get_profile(self.profile))
        for name in ("num_nodes", "num_forwards"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Report '{name}' must be a positive int, got {value!r}")
        rows = tuple(self.rows)
        for row in rows:
            if not isinstance(row, LayerRow):
                raise TypeError(f"Report rows must be LayerRow, got {type(row).__name__}")
        priced = tuple(
            dataclasses.replace(r, energy_pj=self.profile.energy_pj(r.macs, r.acs)) for r in rows
        )
        object.__setattr__(self, "rows", priced)
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "neurons_not_counted", tuple(self.neurons_not_counted))
        object.__setattr__(self, "rate_layers", tuple(self.rate_layers))
        object.__setattr__(self, "options", dict(self.options))

    # -- views ---------------------------------------------------------------------------

    @property
    def layers(self) -> tuple[LayerRow, ...]:
        """The rows: name, kind, ACs, MACs, synaptic ops, spikes in/out, firing rate, energy."""
        return self.rows

    def select(self, kind: str | None = None, name: str | None = None) -> tuple[LayerRow, ...]:
        """Rows of one ``kind`` and/or whose name is ``name`` or starts with ``name + "."``."""
        if kind is not None and kind not in KINDS:
            raise ValueError(f"Unknown row kind {kind!r}; expected one of {list(KINDS)}")
        return tuple(
            r
            for r in self.rows
            if (kind is None or r.kind == kind)
            and (name is None or r.name == name or r.name.startswith(name + "."))
        )

    @property
    def total(self) -> Totals:
        """Sums over all rows, with the energy per inference and per node."""
        acs = sum(r.acs for r in self.rows)
        macs = sum(r.macs for r in self.rows)
        energy = self.profile.energy_pj(macs, acs)
        return Totals(
            acs=acs,
            macs=macs,
            synaptic_ops=sum(r.synaptic_ops for r in self.rows),
            spikes=sum(r.spikes_out or 0 for r in self.rows),
            energy_pj=energy,
            energy_per_inference_pj=energy / self.num_forwards,
            energy_per_node_pj=energy / self.num_nodes,
            num_nodes=self.num_nodes,
            num_forwards=self.num_forwards,
        )

    def firing_rates(self) -> dict[str, float]:
        """Firing rate of each neuron row, keyed by the row's name."""
        return {
            r.name: r.firing_rate
            for r in self.rows
            if r.kind == "neuron" and r.firing_rate is not None
        }

    # -- arithmetic ----------------------------------------------------------------------

    def with_profile(self, profile: str | EnergyProfile) -> Report:
        """The same counts priced by another profile."""
        return dataclasses.replace(self, profile=get_profile(profile))

    def __add__(self, other: Report) -> Report:
        """Counts of two forward passes (e.g. two mini-batches) of the same model."""
        if not isinstance(other, Report):
            return NotImplemented
        if other.profile != self.profile:
            raise ValueError(
                f"Cannot add reports priced by different profiles ({self.profile.name!r} and "
                f"{other.profile.name!r}); use with_profile() first"
            )
        if other.options != self.options:
            raise ValueError(
                f"Cannot add reports counted with different options ({self.options} and "
                f"{other.options})"
            )
        conventions = {self.static_input, other.static_input} - {None}
        if len(conventions) > 1:
            raise ValueError(
                "Cannot add reports whose static inputs were counted under different "
                f"conventions ({self.static_input!r} and {other.static_input!r})"
            )
        merged: dict[tuple[str, str], LayerRow] = {(r.name, r.kind): r for r in self.rows}
        for r in other.rows:
            key = (r.name, r.kind)
            merged[key] = merged[key]._merge(r) if key in merged else r
        warnings = tuple(dict.fromkeys(self.warnings + other.warnings))
        model = self.model if self.model == other.model else f"{self.model}+{other.model}"
        return Report(
            rows=tuple(merged.values()),
            profile=self.profile,
            num_nodes=self.num_nodes + other.num_nodes,
            num_forwards=self.num_forwards + other.num_forwards,
            model=model,
            options=self.options,
            warnings=warnings,
            static_input=next(iter(conventions), None),
            training=_either(self.training, other.training),
            neurons_not_counted=tuple(
                dict.fromkeys(self.neurons_not_counted + other.neurons_not_counted)
            ),
            rate_layers=tuple(dict.fromkeys(self.rate_layers + other.rate_layers)),
            counted_as=self.counted_as if self.counted_as == other.counted_as else None,
        )

    def __radd__(self, other: Any) -> Report:
        if isinstance(other, int) and other == 0:  # makes built-in sum() work
            return self
        return NotImplemented

    @classmethod
    def sum(cls, reports: Iterable[Report]) -> Report:
        """Add the reports of several forward passes, e.g. the mini-batches of an epoch."""
        reports = list(reports)
        if not reports:
            raise ValueError("Report.sum() needs at least one report, got none")
        out = reports[0]
        for r in reports[1:]:
            out = out + r
        return out

    def compare(self, other: Report) -> Comparison:
        """This report beside ``other``, with the ratios ``self / other``."""
        if not isinstance(other, Report):
            raise TypeError(f"compare() needs a Report, got {type(other).__name__}")
        return Comparison.of(self, other)

    # -- output --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "profile": self.profile.to_dict(),
            "options": dict(self.options),
            "static_input": self.static_input,
            "training": self.training,
            "neurons_not_counted": list(self.neurons_not_counted),
            "rate_layers": list(self.rate_layers),
            "counted_as": self.counted_as,
            "total": self.total.to_dict(),
            "layers": [r.to_dict() for r in self.rows],
            "warnings": list(self.warnings),
        }

    def table(self) -> str:
        """A plain-text table of the rows and the total."""
        head = (
            f"{'layer':<22} {'kind':<11} {'ACs':>12} {'MACs':>12} {'SOPs':>12} "
            f"{'spikes in':>10} {'spikes out':>10} {'rate':>6} {'energy (nJ)':>12}"
        )
        lines = [
            f"{self.model or 'model'}: profile {self.profile.name} "
            f"(MAC {self.profile.mac_pj} pJ, AC {self.profile.ac_pj} pJ)",
            *([] if self.static_input is None else [describe_static_input(self.static_input)]),
            *([_TRAINING_NOTE] if self.training else []),
            *(_not_counted_note(layer) for layer in self.neurons_not_counted),
            *(_rate_note(layer) for layer in self.rate_layers),
            head,
            "-" * len(head),
        ]
        for r in self.rows:
            rate = "" if r.firing_rate is None else f"{r.firing_rate:.3f}"
            lines.append(
                f"{r.name:<22} {r.kind:<11} {r.acs:>12,} {r.macs:>12,} {r.synaptic_ops:>12,} "
                f"{_opt(r.spikes_in):>10} {_opt(r.spikes_out):>10} {rate:>6} "
                f"{r.energy_pj / 1e3:>12.2f}"
            )
        t = self.total
        lines.append("-" * len(head))
        lines.append(
            f"{'total':<22} {'':<11} {t.acs:>12,} {t.macs:>12,} {t.synaptic_ops:>12,} "
            f"{'':>10} {t.spikes:>10,} {'':>6} {t.energy_pj / 1e3:>12.2f}"
        )
        lines.append(
            f"energy per inference {t.energy_per_inference_pj / 1e6:.4f} uJ, per node "
            f"{t.energy_per_node_pj:.1f} pJ ({t.num_nodes} nodes, {t.num_forwards} pass(es))"
        )
        return "\n".join(lines)


def _opt(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _ratio(a: float, b: float) -> float | None:
    if b == 0:
        return None if a else 1.0
    return a / b


@dataclass(frozen=True)
class Comparison:
    """Two reports side by side (typically a spiking model and its ordinary counterpart).

    Attributes:
        first: Name of the first model.
        second: Name of the second model.
        first_total: Totals of the first report.
        second_total: Totals of the second report.
        first_profile: Profile of the first report.
        second_profile: Profile of the second report.
        ratios: ``first / second`` for energy, energy per node, ACs, MACs, all operations and
            synaptic operations (``None`` where the second is 0 and the first is not).
        first_static_input: How the first report counted a static spiking input
            (:attr:`Report.static_input`; ``None``: it had none).
        second_static_input: The same for the second report.
        first_training: Whether the first report was counted in training mode
            (:attr:`Report.training`).
        second_training: The same for the second report.
        first_execution: How the first report was counted (``"event"`` or ``"dense"``:
            :meth:`Report.compare` takes :attr:`Report.counted_as`, else the ``execution``
            option, ``"auto"`` for a report that records only the option; ``None``: not
            recorded).
        second_execution: The same for the second report.
    """

    first: str
    second: str
    first_total: Totals
    second_total: Totals
    first_profile: EnergyProfile
    second_profile: EnergyProfile
    ratios: dict[str, float | None]
    first_static_input: str | None = None
    second_static_input: str | None = None
    first_training: bool | None = None
    second_training: bool | None = None
    first_execution: str | None = None
    second_execution: str | None = None

    @classmethod
    def of(cls, a: Report, b: Report) -> Comparison:
        ta, tb = a.total, b.total
        ratios = {
            "energy": _ratio(ta.energy_pj, tb.energy_pj),
            "energy_per_node": _ratio(ta.energy_per_node_pj, tb.energy_per_node_pj),
            "acs": _ratio(ta.acs, tb.acs),
            "macs": _ratio(ta.macs, tb.macs),
            "ops": _ratio(ta.ops, tb.ops),
            "synaptic_ops": _ratio(ta.synaptic_ops, tb.synaptic_ops),
        }
        return cls(
            first=a.model or "first",
            second=b.model or "second",
            first_total=ta,
            second_total=tb,
            first_profile=a.profile,
            second_profile=b.profile,
            ratios=ratios,
            first_static_input=a.static_input,
            second_static_input=b.static_input,
            first_training=a.training,
            second_training=b.training,
            first_execution=a.counted_as or a.options.get("execution"),
            second_execution=b.counted_as or b.options.get("execution"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "first_total": self.first_total.to_dict(),
            "second_total": self.second_total.to_dict(),
            "first_profile": self.first_profile.to_dict(),
            "second_profile": self.second_profile.to_dict(),
            "ratios": dict(self.ratios),
            "first_static_input": self.first_static_input,
            "second_static_input": self.second_static_input,
            "first_training": self.first_training,
            "second_training": self.second_training,
            "first_execution": self.first_execution,
            "second_execution": self.second_execution,
        }

    def table(self) -> str:
        """The two totals beside each other, with the ratio first / second."""
        a, b = self.first_total, self.second_total
        rows = [
            ("ACs", a.acs, b.acs, self.ratios["acs"]),
            ("MACs", a.macs, b.macs, self.ratios["macs"]),
            ("all ops", a.ops, b.ops, self.ratios["ops"]),
            ("synaptic ops", a.synaptic_ops, b.synaptic_ops, self.ratios["synaptic_ops"]),
            ("energy (uJ)", a.energy_pj / 1e6, b.energy_pj / 1e6, self.ratios["energy"]),
            (
                "energy/node (pJ)",
                a.energy_per_node_pj,
                b.energy_per_node_pj,
                self.ratios["energy_per_node"],
            ),
        ]
        w = max(len(self.first), len(self.second), 14)
        lines = [f"{'':<17} {self.first:>{w}} {self.second:>{w}} {'ratio':>8}"]
        if self.first_execution is not None or self.second_execution is not None:
            # the ratios depend on it (event-driven or dense): say how each was counted
            a_ex, b_ex = (_EXECUTION.get(e, str(e)) for e in (self.first_execution,
                                                              self.second_execution))  # fmt: skip
            lines.append(f"{'execution':<17} {a_ex:>{w}} {b_ex:>{w}}")
        for label, x, y, r in rows:
            ratio = "n/a" if r is None else f"{r:.4f}"
            lines.append(f"{label:<17} {_num(x):>{w}} {_num(y):>{w}} {ratio:>8}")
        profiles = {self.first_profile.name, self.second_profile.name}
        lines.append(f"profile: {', '.join(sorted(profiles))}")
        # the ratios depend on it (a static input counted once or at every step): say which
        for name, value in ((self.first, self.first_static_input),
                            (self.second, self.second_static_input)):  # fmt: skip
            if value is not None:
                lines.append(f"{name}: {describe_static_input(value)}")
        for name, training in ((self.first, self.first_training),
                               (self.second, self.second_training)):  # fmt: skip
            if training:
                lines.append(f"{name}: {_TRAINING_NOTE}")
        return "\n".join(lines)


#: How a comparison table names an execution (``"auto"``: event-driven for spiking models).
_EXECUTION = {"event": "event-driven", "dense": "dense", "auto": "auto", None: "-"}

#: What a table says of a report counted in training mode.
_TRAINING_NOTE = (
    "counted in training mode (dropout drawn, batch statistics); call model.eval() first "
    "for an inference count"
)


def _not_counted_note(layer: str) -> str:
    """What a table says of a spiking layer whose neurons the counter did not see."""
    return (
        f"{layer}: neurons not counted (firing rates computed directly, and no rates a "
        "rate hook could count): their updates and spikes are missing, and the layers after "
        "them ran once on the rates, not at every step"
    )


def _rate_note(layer: str) -> str:
    """What a table says of a spiking layer whose firing rates were computed directly."""
    return (
        f"{layer}: firing rates computed directly (training): its neurons are counted from "
        "them; the layers after it ran once on the rates, not at every step, and are counted "
        "as they ran"
    )


def _either(a: bool | None, b: bool | None) -> bool | None:
    """Whether either of two reports was counted in training mode (``None``: neither says)."""
    return None if a is None and b is None else bool(a) or bool(b)


def _num(x: float) -> str:
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.3f}" if math.isfinite(x) else str(x)


__all__ = ["KINDS", "SYNAPTIC_KINDS", "Comparison", "LayerRow", "Report", "Totals"]
