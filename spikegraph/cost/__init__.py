"""Compute-cost counters for neuromorphic energy estimates that understand message passing.

``count(model, *inputs)`` runs one forward pass and returns a :class:`Report` of the
accumulates (ACs) and multiply-accumulates (MACs) it really performed, per layer and kind of
operation (synaptic transform, edge aggregation, attention, bias, normalisation, neuron
updates, readout), priced by an :class:`EnergyProfile` (default: 45 nm, Horowitz, ISSCC
2014). The counting convention is in :mod:`spikegraph.cost.rules` and ``docs/cost.md``.
"""

from spikegraph.cost.counter import EXECUTIONS, Counter, count, energy_of
from spikegraph.cost.energy import PROFILES, EnergyProfile, get_profile
from spikegraph.cost.folding import FoldedSTFN, fold_stfn, folded_lif
from spikegraph.cost.report import KINDS, Comparison, LayerRow, Report, Totals
from spikegraph.cost.rules import Ops

__all__ = [
    "EXECUTIONS",
    "KINDS",
    "PROFILES",
    "Comparison",
    "Counter",
    "EnergyProfile",
    "FoldedSTFN",
    "LayerRow",
    "Ops",
    "Report",
    "Totals",
    "count",
    "energy_of",
    "fold_stfn",
    "folded_lif",
    "get_profile",
]
