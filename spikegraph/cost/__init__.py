r"""Compute-cost counters for neuromorphic energy estimates that understand message passing.

Spiking GNN papers (GC-SNN / GA-SNN, Xu et al., IJCAI 2021, and successors) estimate energy as
operations times energy per operation. ``count(model, *inputs)`` runs one forward pass and
returns a :class:`Report` of the accumulates (ACs: additions, comparisons) and
multiply-accumulates (MACs: a multiplication and an addition; divisions and exps are priced
as one MAC, a lower bound) it really performed, per module and kind of operation, priced by an
:class:`EnergyProfile` (default ``"45nm"``: 4.6 pJ per MAC, 0.9 pJ per AC, Horowitz, ISSCC
2014). Counts come from the tensors seen (real spike counts), not nominal shapes; ``T'`` is the
number of distinct time steps a tensor holds (1 for a static ``[N, F]`` input, ``T`` for
``[T, N, F]``), so a static input is counted once by ``count`` unless
``static_input="per-step"``; energy outputs (:func:`energy_of`, ``spikegraph cost``, the
energy benchmark) count it at every step by default, the literature's convention
(:mod:`spikegraph.cost.static_input`), and name the convention they used.

Convention (``execution="event"`` for spiking models, ``"dense"`` for ordinary ones by
default; see ``docs/cost.md``):

- transform ``x W^T``: binary ``x`` (event-driven) ``nnz(x) * F_out`` ACs; otherwise
  ``T' N F_in F_out`` MACs;
- aggregation over edges: unweighted binary messages, one AC per spike; real-valued or
  weighted messages, one MAC per message entry (event-driven: only non-zero entries, i.e.
  sources that spiked, are sent); mean adds one MAC per aggregated entry, max/min compare
  (ACs). In the spiking GCN the transform comes before propagation, so its messages
  ``w_ij W s_j`` are real-valued: MACs;
- attention (own rows): per node and head ``C`` MACs per side; per edge and head 4 ACs and
  3 MACs (logit sum, LeakyReLU, softmax's max, subtraction, exp, sum, division);
- bias: one AC per output entry computed; head averaging and root terms: ``combine`` rows;
- STFN (own rows): statistics ``2M`` ACs + ``M + N`` MACs, normalisation ``M`` MACs, affine
  ``M`` MACs; with ``fold_norm=True`` folded into per-neuron thresholds
  (:mod:`spikegraph.cost.folding`);
- LIF neurons (own rows): charge one MAC per neuron and step after the first, fire one AC per
  neuron and step, reset one AC per spike;
- readout (mean over ``T``): ``T - 1`` ACs and 1 MAC per output entry.

Not counted: graph normalisation (once per graph), dropout, input encoding, memory access.
"""

from spikegraph.cost.counter import EXECUTIONS, Counter, count, energy_of
from spikegraph.cost.energy import PROFILES, EnergyProfile, get_profile
from spikegraph.cost.folding import FoldedSTFN, fold_stfn, folded_lif
from spikegraph.cost.report import KINDS, Comparison, LayerRow, Report, Totals
from spikegraph.cost.rules import Ops
from spikegraph.cost.static_input import (
    DEFAULT_STATIC_INPUT,
    STATIC_INPUT,
    as_spike_train,
    describe_static_input,
)

__all__ = [
    "DEFAULT_STATIC_INPUT",
    "EXECUTIONS",
    "KINDS",
    "PROFILES",
    "STATIC_INPUT",
    "Comparison",
    "Counter",
    "EnergyProfile",
    "FoldedSTFN",
    "LayerRow",
    "Ops",
    "Report",
    "Totals",
    "as_spike_train",
    "count",
    "describe_static_input",
    "energy_of",
    "fold_stfn",
    "folded_lif",
    "get_profile",
]
