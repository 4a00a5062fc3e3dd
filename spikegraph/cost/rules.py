r"""Counting rules of :mod:`spikegraph.cost`: how many operations each kind of computation
costs, from the tensors it actually saw.

These are pure functions of tensors and settings; :class:`~spikegraph.cost.Counter` calls
them from its hooks. Every rule returns an :class:`Ops` record of accumulates (ACs, one
addition or comparison) and multiply-accumulates (MACs, a multiplication followed by an
addition, or any other non-additive operation), plus the spike statistics that went with
them. The convention each rule implements is written out in its docstring and in
``docs/cost.md``; in short (``T'`` is the number of distinct time steps a tensor holds: 1 for
a static ``[N, F]`` input, ``T`` for a spike train ``[T, N, F]``):

========================  ======================================  ======================
operation                 event-driven (spiking models)           dense (ordinary models)
========================  ======================================  ======================
synaptic transform        binary input: ``nnz(x) * F_out`` ACs;   ``T' N F_in F_out``
                          real input: ``nnz(x) * F_out`` MACs     MACs
edge aggregation          unweighted spikes: ``nnz`` ACs;         one MAC per message
                          otherwise one MAC per non-zero message  entry
                          entry
bias / root addition      one AC per output entry                 same
========================  ======================================  ======================
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.typing import SparseTensor
from torch_geometric.utils import to_edge_index

#: Reductions the aggregation rules know.
REDUCES = ("sum", "mean", "max", "min", "mul")
#: Per edge and head, attention costs these many ACs (logit sum a_j + a_i, max comparison,
#: subtraction of the max, addition to the denominator) ...
ATTENTION_EDGE_ACS = 4
#: ... and these many MAC-priced operations (LeakyReLU product, exp, division).
ATTENTION_EDGE_MACS = 3


@dataclass
class Ops:
    """Operation counts of one computation, and the spikes that went in or came out.

    Attributes:
        acs: Accumulates (additions, comparisons).
        macs: Multiply-accumulates (and other MAC-priced operations).
        spikes_in: Spikes received, when the input was counted as spikes.
        inputs: Entries of that spike input (so ``spikes_in / inputs`` is its rate).
        spikes_out: Spikes emitted (neurons).
        neuron_steps: Neurons times time steps simulated (neurons).
    """

    acs: int = 0
    macs: int = 0
    spikes_in: int = 0
    inputs: int = 0
    spikes_out: int = 0
    neuron_steps: int = 0

    def __iadd__(self, other: Ops) -> Ops:
        self.acs += other.acs
        self.macs += other.macs
        self.spikes_in += other.spikes_in
        self.inputs += other.inputs
        self.spikes_out += other.spikes_out
        self.neuron_steps += other.neuron_steps
        return self


#: Below this many entries, a float32 sum of zeros and ones is exact (every partial sum is an
#: integer below 2**24); above it, non-zeros are counted one by one.
_EXACT_SUM = 2**24
_CHUNK = 2**20


def nonzeros(spikes: Tensor) -> int:
    """Number of ones in a tensor known to hold only zeros and ones (fast: one sum)."""
    with torch.no_grad():
        if spikes.numel() < _EXACT_SUM and spikes.dtype in (torch.float32, torch.float64):
            return int(spikes.sum())
        return int(torch.count_nonzero(spikes))


def nonzero_entries(x: Tensor) -> int:
    """Number of non-zero entries of ``x``, dense or sparse (for a sparse layout, its stored
    values that are not zero)."""
    with torch.no_grad():
        if x.layout != torch.strided:
            return int(torch.count_nonzero(x.values()))
        return int(torch.count_nonzero(x))


def spike_count(x: Tensor) -> int | None:
    r"""``nnz(x)`` if every entry of ``x`` is 0 or 1 (a spike tensor), else ``None``.

    Exact and cheap: the range ``[0, 1]`` comes from a min/max pass; inside it, ``x`` is
    binary exactly when :math:`\sum x (1 - x) = 0`, since every term is non-negative and
    strictly positive for :math:`0 < x < 1` (also in floating point: neither factor rounds to
    zero, and a sum of non-negative numbers is zero only if all are).
    """
    if not x.is_floating_point():
        raise TypeError(f"spike_count needs a floating-point tensor, got dtype {x.dtype}")
    if x.layout != torch.strided:  # sparse features: the stored entries decide
        return spike_count(x.values())
    if x.numel() == 0:
        return 0
    with torch.no_grad():
        # In chunks that stay in cache: a range check, the binary check, the count.
        total = 0
        for chunk in x.reshape(-1).split(_CHUNK):
            lo, hi = (float(v) for v in torch.aminmax(chunk))
            if lo < 0.0 or hi > 1.0 or lo != lo:  # out of range, or NaN
                return None
            if hi == 0.0:
                continue
            if float(torch.dot(chunk, 1.0 - chunk)) != 0.0:
                return None
            total += nonzeros(chunk)
    return total


def transform_ops(
    x: Tensor, out_features: int, event: bool, known_spikes: int | None = None
) -> Ops:
    r"""A synaptic transform :math:`x W^\top` (a ``Linear`` layer).

    Binary input on event-driven hardware (``event``): each spike adds one weight to each of
    the ``out_features`` outputs, ``nnz(x) * out_features`` ACs. Real-valued input on
    event-driven hardware: only non-zero entries are sent (as for messages, see
    :func:`aggregation_ops`), each multiplied into every output, ``nnz(x) * out_features``
    MACs. Dense hardware multiplies every input entry into every output,
    ``x.numel() * out_features`` MACs. ``x`` holds every row that was computed, so a static
    ``[N, F]`` input is counted once and a ``[T, N, F]`` input ``T`` times. The bias is
    counted by :func:`bias_ops`.
    ``known_spikes`` is ``nnz(x)`` when ``x`` is known to be a spike tensor (the output of
    LIF neurons), which saves checking it.
    """
    entries = x.shape.numel()  # dense entries, also for a sparse CSR input
    if event:
        spikes = spike_count(x) if known_spikes is None else known_spikes
        if spikes is not None:
            return Ops(acs=spikes * out_features, spikes_in=spikes, inputs=entries)
        return Ops(macs=nonzero_entries(x) * out_features)
    return Ops(macs=entries * out_features)


def bias_ops(entries: int) -> Ops:
    """Adding a bias (or another node-wise term) to ``entries`` outputs: one AC each."""
    return Ops(acs=int(entries))


def _check_reduce(reduce: str) -> None:
    if reduce not in REDUCES:
        raise ValueError(f"Unknown reduce {reduce!r}; expected one of {list(REDUCES)}")


def aggregation_ops(messages: Tensor, weighted: bool, reduce: str, event: bool) -> Ops:
    """Aggregating ``messages`` (one entry per edge, feature, and step or head) at the targets.

    Dense hardware (``event=False``) processes every message entry: for ``sum``/``mean`` one
    MAC each, which pays for the edge weighting ``w_ij * x_j`` when there is one (real-valued
    unweighted messages are also counted as MACs, the issue's convention); for ``max``/``min``
    one comparison (AC) each; for ``mul`` one MAC each.

    Event-driven hardware (``event=True``) only sends messages that exist: an entry that is
    exactly zero (a source that did not spike at that step, so :math:`W s_j = 0`) costs
    nothing. Unweighted binary messages are pure spikes: one AC per spike. Otherwise one MAC
    (``max``/``min``: one AC) per non-zero entry. ``mul`` always counts every entry (a zero
    changes a product).

    The division of a mean is counted by :func:`mean_ops`.
    """
    _check_reduce(reduce)
    if not event or reduce == "mul":
        n = messages.numel()
        return Ops(acs=n) if reduce in ("max", "min") else Ops(macs=n)
    if not weighted:
        spikes = spike_count(messages)
        if spikes is not None:
            return Ops(acs=spikes, spikes_in=spikes, inputs=messages.numel())
    sent = nonzero_entries(messages)
    return Ops(acs=sent) if reduce in ("max", "min") else Ops(macs=sent)


def mean_ops(aggregated: Tensor) -> Ops:
    """The division of a mean aggregation: one MAC per aggregated entry."""
    return Ops(macs=aggregated.numel())


def _adjacency(adj) -> tuple[Tensor, Tensor | None, int]:
    """Source ids, values (``None`` if unweighted) and source count of a sparse ``adj_t``."""
    if isinstance(adj, SparseTensor):
        _row, col, value = adj.coo()
        return col, value, adj.size(1)
    (_row, col), value = to_edge_index(adj)
    return col, value, adj.size(1)


def is_weighted(adj) -> bool:
    """Whether a sparse ``adj_t`` carries edge weights other than 1."""
    _, value, _ = _adjacency(adj)
    if value is None:
        return False
    with torch.no_grad():
        return not bool((value == 1).all())


def sent_aggregation_ops(x: Tensor, src: Tensor, node_dim: int, weighted: bool, reduce: str) -> Ops:
    r"""Event-driven aggregation computed from the node side: the messages sent are the
    non-zero entries of each source's features, once per outgoing edge,
    :math:`\sum_j \mathrm{deg}_{out}(j)\, \mathrm{nnz}(x_j)`.

    This is the count :func:`aggregation_ops` gives on the messages themselves (a message
    entry ``w_ij x_j`` is sent exactly when ``x_j`` is non-zero), obtained from the
    ``N``-sized source features instead of the ``E``-sized messages.

    Args:
        x: Source features, nodes along ``node_dim``.
        src: Source node of every edge.
        node_dim: The node dimension of ``x``.
        weighted: Whether the messages carry edge weights.
        reduce: The aggregation's reduction.
    """
    _check_reduce(reduce)
    num_nodes = x.size(node_dim)
    width = x.numel() // max(num_nodes, 1)
    if reduce == "mul":
        return Ops(macs=src.numel() * width)
    node_dim = node_dim % x.dim()
    others = tuple(d for d in range(x.dim()) if d != node_dim)
    with torch.no_grad():
        per_src = x.bool().sum(dim=others) if others else x.bool().long()
        degree = torch.bincount(src, minlength=num_nodes)[:num_nodes]
        sent = int((degree * per_src).sum())
    if not weighted and spike_count(x) is not None:
        return Ops(acs=sent, spikes_in=sent, inputs=src.numel() * width)
    return Ops(acs=sent) if reduce in ("max", "min") else Ops(macs=sent)


def fused_aggregation_ops(
    adj, x: Tensor, node_dim: int, weighted: bool, reduce: str, event: bool
) -> Ops:
    """Aggregation through a sparse product ``adj_t @ x`` (``message_and_aggregate``).

    The rule of :func:`aggregation_ops` applied to the messages the product implies: one per
    stored entry ``(i, j)`` of ``adj_t`` and entry of ``x_j`` (its features, and its time
    steps or heads); on event-driven hardware, only the non-zero entries of ``x_j`` are sent
    (:func:`sent_aggregation_ops`).
    """
    _check_reduce(reduce)
    src, _, _ = _adjacency(adj)
    if not event:
        n = src.numel() * (x.numel() // max(x.size(node_dim), 1))
        return Ops(acs=n) if reduce in ("max", "min") else Ops(macs=n)
    return sent_aggregation_ops(x, src, node_dim, weighted, reduce)


def attention_node_ops(h_src: Tensor, h_dst: Tensor | None) -> Ops:
    r"""GAT attention logits (Velickovic et al., ICLR 2018), node part: the projections
    :math:`a_{src}^\top W h_j` and :math:`a_{dst}^\top W h_i` of the transformed features
    ``[N, H', C]``, one MAC per entry (``C`` per node and head), for the source side and, when
    it is computed, the target side.
    """
    return Ops(macs=h_src.numel() + (0 if h_dst is None else h_dst.numel()))


def attention_edge_ops(alpha: Tensor, has_dst: bool) -> Ops:
    r"""GAT attention, edge part: logits and their softmax, per edge and head
    (``alpha.numel()``): :data:`ATTENTION_EDGE_ACS` ACs (logit sum :math:`a_j + a_i` when a
    target side exists, the max comparison and the subtraction of the max of PyG's stable
    softmax, the addition to the denominator) and :data:`ATTENTION_EDGE_MACS` MAC-priced
    operations (LeakyReLU, exp, division). Pricing an exp or a division as one MAC is a lower
    bound.
    """
    edges = alpha.numel()
    edge_acs = ATTENTION_EDGE_ACS - (0 if has_dst else 1)
    return Ops(acs=edges * edge_acs, macs=edges * ATTENTION_EDGE_MACS)


def head_mean_ops(positions: int, heads: int, channels: int) -> Ops:
    """Averaging ``heads`` attention heads at ``positions`` (node, step) pairs:
    ``heads - 1`` additions and one scaling per output entry."""
    return Ops(acs=positions * channels * (heads - 1), macs=positions * channels)


def neuron_ops(spikes: Tensor, decay: float, reset: str, macs_per_step: int = 0) -> Ops:
    r"""LIF updates (charge, fire, reset) behind the output spikes ``[T, ...]``.

    - charge :math:`V_t = k \tilde V_{t-1} + I_t`: one MAC per neuron and step after the
      first (at :math:`t = 0`, :math:`V_0 = I_0`); an AC when :math:`k = 1` (IF neuron),
      nothing when :math:`k = 0`;
    - fire :math:`V_t \ge V_{th}`: one comparison (AC) per neuron and step;
    - reset: one AC per spike (``"hard"`` or ``"soft"``), nothing for ``"none"``;
    - ``macs_per_step`` further MACs per neuron and step after the first (the neuron's
      :meth:`~spikegraph.nn.neurons.SpikingNeuron.counting_rule`, e.g. an adaptive threshold).
    """
    steps = spikes.size(0)
    neurons = spikes.numel() // max(steps, 1)
    return _neuron_updates(steps, neurons, nonzeros(spikes), decay, reset, macs_per_step)


def rate_spike_count(rates: Tensor, steps: int) -> tuple[int | None, float]:
    r"""The spikes behind firing rates ``rates`` (any shape, one entry per neuron), each the
    mean of a neuron's binary spikes over ``steps`` steps: :math:`\sum \mathrm{round}(r
    \cdot T)`.

    Returns ``(spikes, deviation)``, with the largest distance of a :math:`r \cdot T` from its
    integer; ``spikes`` is ``None`` when the rates cannot be such means: not finite, outside
    ``[0, 1]``, or a :math:`r \cdot T` farther from an integer than the rates' precision
    allows (``max(1e-3, T * eps)`` of their dtype, at most 0.25).
    """
    if not rates.is_floating_point():
        raise TypeError(f"rate_spike_count needs a floating-point tensor, got {rates.dtype}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"'steps' must be a positive int, got {steps!r}")
    if rates.numel() == 0:
        return 0, 0.0
    with torch.no_grad():
        counts = rates.detach().double() * steps
        whole = counts.round()
        deviation = float((counts - whole).abs().max())
        lo, hi = (float(v) for v in torch.aminmax(whole))
        tolerance = min(0.25, max(1e-3, steps * torch.finfo(rates.dtype).eps))
        if not deviation <= tolerance or lo < 0.0 or hi > steps:  # (NaN fails the first)
            return None, deviation
        return int(whole.sum()), deviation


def rate_neuron_ops(
    rates: Tensor, steps: int, decay: float, reset: str, macs_per_step: int = 0
) -> Ops | None:
    """:func:`neuron_ops` of the spike trains behind firing rates ``rates`` over ``steps``
    steps (one entry per neuron; the spikes by :func:`rate_spike_count`): the same count as
    from the trains themselves. ``None`` if the rates are not means of binary spikes."""
    fired, _ = rate_spike_count(rates, steps)
    if fired is None:
        return None
    return _neuron_updates(steps, rates.numel(), fired, decay, reset, macs_per_step)


def _neuron_updates(
    steps: int, neurons: int, fired: int, decay: float, reset: str, macs_per_step: int
) -> Ops:
    """The rule of :func:`neuron_ops` for ``neurons`` neurons over ``steps`` steps that fired
    ``fired`` spikes."""
    charges = (steps - 1) * neurons
    ops = Ops(acs=steps * neurons, spikes_out=fired, neuron_steps=steps * neurons)
    if decay == 1.0:
        ops.acs += charges
    elif decay != 0.0:
        ops.macs += charges
    if reset != "none":
        ops.acs += fired
    ops.macs += macs_per_step * charges
    return ops


def _nodes(x: Tensor) -> int:
    return x.size(-2) if x.dim() >= 2 else 1


def stfn_ops(x: Tensor, affine: bool, fold: bool) -> Ops:
    r"""STFN (Xu et al., IJCAI 2021) on its input ``x`` (``[T', N, C]``, ``M = x.numel()``).

    Statistics per node (always needed: they depend on the input): mean, ``M`` ACs; centring,
    ``M`` ACs; variance, ``M`` MACs; scale :math:`\rho V_{th}/\sqrt{\sigma^2+\epsilon}`, one
    MAC per node.

    - Unfolded: scaling the centred input, ``M`` MACs; affine :math:`\lambda y + \gamma`,
      ``M`` MACs.
    - Folded into thresholds (see :mod:`spikegraph.cost.folding`): per node and feature (per
      node without the affine), a threshold and an offset, one MAC each; the offset is added
      to the current, ``M`` ACs. No normalised tensor is formed.
    """
    M = x.numel()
    N = _nodes(x)
    ops = Ops(acs=2 * M, macs=M + N)
    if fold:
        per = N * x.size(-1) if affine else N
        ops.macs += 2 * per
        ops.acs += M
    else:
        ops.macs += M + (M if affine else 0)
    return ops


def batchnorm_ops(x: Tensor, batch_statistics: bool, fold: bool) -> Ops:
    """Batch normalisation (tdBN or ``torch.nn.BatchNorm``) on ``x`` (``M = x.numel()``).

    With running statistics (inference) it is one MAC per entry, :math:`a_k x + b_k`, and
    nothing when folded into the preceding weights and bias. With batch statistics
    (training): mean and centring, ``2M`` ACs; variance, scaling and affine, ``3M`` MACs;
    one MAC per feature for the scale. Batch statistics cannot be folded.
    """
    M = x.numel()
    if batch_statistics:
        return Ops(acs=2 * M, macs=3 * M + x.size(-1))
    return Ops() if fold else Ops(macs=M)


def activation_ops(x: Tensor, relu: bool) -> Ops:
    """An element-wise activation: ReLU is one comparison (AC) per entry; any other
    (ELU, GELU, sigmoid, ...) is priced as one MAC per entry, a lower bound."""
    return Ops(acs=x.numel()) if relu else Ops(macs=x.numel())


def readout_ops(out: Tensor) -> Ops:
    """Averaging the output layer over its ``T`` steps (``[T, N, C] -> [N, C]``): ``T - 1``
    additions and one scaling per output entry. A static output (the same tensor at every
    step, stride 0 in time) is its own average and costs nothing."""
    if out.dim() < 3 or out.size(0) == 1 or out.stride(0) == 0:
        return Ops()
    per_step = out[0].numel()
    return Ops(acs=(out.size(0) - 1) * per_step, macs=per_step)


__all__ = [
    "ATTENTION_EDGE_ACS",
    "ATTENTION_EDGE_MACS",
    "REDUCES",
    "Ops",
    "activation_ops",
    "aggregation_ops",
    "attention_edge_ops",
    "attention_node_ops",
    "batchnorm_ops",
    "bias_ops",
    "fused_aggregation_ops",
    "head_mean_ops",
    "is_weighted",
    "mean_ops",
    "neuron_ops",
    "nonzero_entries",
    "nonzeros",
    "rate_neuron_ops",
    "rate_spike_count",
    "readout_ops",
    "sent_aggregation_ops",
    "spike_count",
    "stfn_ops",
    "transform_ops",
]
