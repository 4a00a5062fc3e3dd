"""Closed-form operation counts of spikegraph's and PyG's models, and the counter's
guarantees (outputs and gradients unchanged, hooks removed, errors)."""

import dataclasses
import functools
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch_geometric.nn import GINConv, SAGEConv
from torch_geometric.nn.models import GAT, GCN, GraphSAGE
from torch_geometric.utils import subgraph, to_torch_csr_tensor

from spikegraph.cost import Counter, Report, count
from spikegraph.cost.rules import ATTENTION_EDGE_ACS, ATTENTION_EDGE_MACS
from spikegraph.models import PAPER_NEURON, SpikingGAT, SpikingGCN
from spikegraph.models.registry import SPIKING, build_model
from spikegraph.nn import SpikingGATConv, SpikingGCNConv
from spikegraph.nn.monitor import SpikeMonitor

from .conftest import N, spike_train, undirected_edges

F_IN, HID, C, T = 5, 4, 3, 4


def kind_total(report: Report, kind: str, name: str | None = None) -> tuple[int, int]:
    rows = report.select(kind=kind, name=name)
    return sum(r.acs for r in rows), sum(r.macs for r in rows)


# -- PyG's ordinary models: exact closed forms ------------------------------------------------


def test_pyg_gcn_closed_form(edge_index):
    torch.manual_seed(0)
    E = edge_index.size(1)
    model = GCN(F_IN, HID, 2, C).eval()
    report = count(model, torch.randn(N, F_IN), edge_index)
    # The issue's formula: transforms plus weighted aggregations over E edges and N self-loops.
    assert report.total.macs == N * F_IN * HID + (E + N) * HID + N * HID * C + (E + N) * C
    # Bias convention: one AC per output entry; ReLU: one comparison (AC) per entry.
    assert kind_total(report, "bias") == (N * HID + N * C, 0)
    assert kind_total(report, "activation") == (N * HID, 0)
    assert report.total.acs == N * HID + N * C + N * HID
    assert kind_total(report, "transform") == (0, N * F_IN * HID + N * HID * C)
    assert kind_total(report, "aggregation") == (0, (E + N) * (HID + C))
    assert report.total.synaptic_ops == report.total.macs
    assert report.total.energy_pj == pytest.approx(4.6 * report.total.macs + 0.9 * report.total.acs)


def test_pyg_gcn_binary_input_dense_vs_event(edge_index):
    torch.manual_seed(0)
    model = GCN(F_IN, HID, 2, C).eval()
    x = spike_train((N, F_IN), spikes=11)
    dense = count(model, x, edge_index)  # ordinary model: dense by default
    event = count(model, x, edge_index, execution="event")
    real = count(model, torch.randn(N, F_IN), edge_index)
    assert dense.total.macs == real.total.macs
    first = event.select(kind="transform", name="convs.0")[0]
    assert (first.acs, first.macs, first.spikes_in) == (11 * HID, 0, 11)
    assert first.firing_rate == pytest.approx(11 / (N * F_IN))


def test_pyg_gcn_sparse_adjacency_counts_like_edge_index(edge_index):
    torch.manual_seed(0)
    model = GCN(F_IN, HID, 2, C).eval()
    x = torch.randn(N, F_IN)
    adj_t = to_torch_csr_tensor(edge_index.flip(0), size=(N, N))
    a = count(model, x, edge_index)
    b = count(model, x, adj_t)
    assert [(r.name, r.kind, r.acs, r.macs) for r in a.layers] == [
        (r.name, r.kind, r.acs, r.macs) for r in b.layers
    ]


def test_pyg_gat_closed_form(edge_index):
    torch.manual_seed(0)
    E, h, hid = edge_index.size(1), 2, 8
    c1 = hid // h
    model = GAT(F_IN, hid, 2, C, heads=h).eval()
    report = count(model, torch.randn(N, F_IN), edge_index)
    edges = (E + N) * h  # self-loops added, per head
    # layer 1: transform, attention (node projections, per-edge logits + softmax), messages
    assert kind_total(report, "transform", "convs.0") == (0, N * F_IN * hid)
    assert kind_total(report, "attention", "convs.0") == (
        edges * ATTENTION_EDGE_ACS,
        2 * N * h * c1 + edges * ATTENTION_EDGE_MACS,
    )
    assert kind_total(report, "aggregation", "convs.0") == (0, edges * c1)
    assert kind_total(report, "bias", "convs.0") == (N * hid, 0)
    # layer 2: h heads of C channels, averaged (concat=False)
    assert kind_total(report, "transform", "convs.1") == (0, N * hid * h * C)
    assert kind_total(report, "attention", "convs.1") == (
        edges * ATTENTION_EDGE_ACS,
        2 * N * h * C + edges * ATTENTION_EDGE_MACS,
    )
    assert kind_total(report, "aggregation", "convs.1") == (0, edges * C)
    assert kind_total(report, "combine", "convs.1") == (N * C * (h - 1), N * C)
    assert kind_total(report, "bias", "convs.1") == (N * C, 0)
    assert kind_total(report, "activation") == (N * hid, 0)
    assert (ATTENTION_EDGE_ACS, ATTENTION_EDGE_MACS) == (4, 3)


def test_pyg_graphsage_closed_form(edge_index):
    torch.manual_seed(0)
    E = edge_index.size(1)
    model = GraphSAGE(F_IN, HID, 2, C).eval()
    report = count(model, torch.randn(N, F_IN), edge_index)
    macs = 0
    acs = N * HID  # ReLU
    for f_in, f_out in ((F_IN, HID), (HID, C)):
        # mean aggregation: E real-valued messages of f_in entries, then one division each
        macs += E * f_in + N * f_in
        macs += 2 * N * f_in * f_out  # lin_l (neighbours) and lin_r (root)
        acs += N * f_out + N * f_out  # lin_l's bias, root addition
    assert (report.total.acs, report.total.macs) == (acs, macs)
    assert kind_total(report, "aggregation", "convs.0") == (0, E * F_IN + N * F_IN)
    assert kind_total(report, "combine") == (N * HID + N * C, 0)


def test_sage_on_spikes_counts_spike_events_on_both_adjacency_formats(edge_index):
    conv = SAGEConv(F_IN, HID)
    x = spike_train((N, F_IN), spikes=9, seed=3)
    out_degree = torch.bincount(edge_index[0], minlength=N)
    events = int((out_degree * x.sum(dim=1)).sum())  # each spike of j reaches deg(j) targets
    a = count(conv, x, edge_index, execution="event")
    adj_t = to_torch_csr_tensor(edge_index.flip(0), size=(N, N))
    b = count(conv, x, adj_t, execution="event")
    for report in (a, b):
        agg = report.select(kind="aggregation")[0]
        assert (agg.acs, agg.macs, agg.spikes_in) == (events, N * F_IN, events)
    dense = count(conv, x, edge_index)
    assert kind_total(dense, "aggregation") == (0, edge_index.size(1) * F_IN + N * F_IN)


# -- spiking layers: counts from real spikes ---------------------------------------------------


@pytest.mark.parametrize("spikes", [1, 10, 37])
def test_spiking_gcn_layer_acs_are_spikes_times_width(edge_index, spikes):
    conv = SpikingGCNConv(F_IN, 7, T=T)
    x = spike_train((T, N, F_IN), spikes)
    row = count(conv, x, edge_index).select(kind="transform")[0]
    assert (row.acs, row.macs, row.spikes_in) == (spikes * 7, 0, spikes)


def test_spiking_gat_layer_acs_are_spikes_times_width(edge_index):
    conv = SpikingGATConv(F_IN, 3, heads=2, T=T)
    x = spike_train((T, N, F_IN), 13)
    report = count(conv, x, edge_index)
    assert kind_total(report, "transform") == (13 * 2 * 3, 0)
    E = edge_index.size(1)
    # attention for every step (time folded into heads)
    assert kind_total(report, "attention")[0] == (E + N) * T * 2 * ATTENTION_EDGE_ACS


def test_doubling_the_spikes_doubles_the_acs(edge_index):
    conv = SpikingGCNConv(F_IN, 7, T=T)
    both = spike_train((T, N, F_IN), 24, seed=1)
    ones = both.nonzero()
    half = torch.zeros_like(both)
    half[tuple(ones[::2].t())] = 1.0  # 12 of the 24 spikes
    a = count(conv, half, edge_index).select(kind="transform")[0]
    b = count(conv, both, edge_index).select(kind="transform")[0]
    assert b.acs == 2 * a.acs == 24 * 7


@pytest.mark.parametrize(
    "conv",
    [
        SpikingGCNConv(F_IN, 7, T=T, **PAPER_NEURON),
        SpikingGATConv(F_IN, 3, heads=2, T=T, **PAPER_NEURON),
    ],
    ids=["gcn", "gat"],
)
def test_zero_spikes_cost_zero_synaptic_ops(edge_index, conv):
    report = count(conv, torch.zeros(T, N, F_IN), edge_index)
    assert sum(r.synaptic_ops for r in report.layers) == 0
    assert kind_total(report, "transform") == (0, 0)
    assert kind_total(report, "aggregation") == (0, 0)
    # neurons still update (charge and compare) at every step, and do not fire here
    neuron = report.select(kind="neuron")[0]
    assert neuron.spikes_out == 0 and neuron.neuron_steps == T * N * conv.norm.num_features


def test_static_input_is_counted_once_per_distinct_step(edge_index):
    """Direct coding: a static [N, F] input is transformed and propagated once, not T times."""
    torch.manual_seed(0)
    E = edge_index.size(1)
    conv = SpikingGCNConv(F_IN, 7, T=T)
    real = torch.rand(N, F_IN) + 0.1
    static = count(conv, real, edge_index)
    assert kind_total(static, "transform") == (0, N * F_IN * 7)
    assert kind_total(static, "aggregation") == (0, (E + N) * 7)
    assert kind_total(static, "bias") == (N * 7, 0)
    train = count(conv, real.expand(T, N, F_IN).contiguous(), edge_index)
    assert kind_total(train, "transform") == (0, T * N * F_IN * 7)
    assert kind_total(train, "aggregation") == (0, T * (E + N) * 7)
    assert kind_total(train, "bias") == (T * N * 7, 0)
    binary = spike_train((N, F_IN), 8)
    assert kind_total(count(conv, binary, edge_index), "transform") == (8 * 7, 0)


def test_spiking_gcn_aggregation_is_real_valued_macs_on_sent_messages(edge_index):
    """The spiking GCN transforms before propagating: messages are w_ij (W s_j), real-valued
    and weighted, so MACs, one per message entry actually sent (a node that did not spike at
    step t sends nothing)."""
    conv = SpikingGCNConv(F_IN, 7, T=T)
    x = spike_train((T, N, F_IN), 10, seed=2)
    active = (x.sum(dim=-1) > 0).float()  # [T, N]: nodes with a spike at step t
    in_edges = torch.cat([edge_index, torch.arange(N).repeat(2, 1)], dim=1)  # + self-loops
    sent = int(active[:, in_edges[0]].sum()) * 7
    agg = count(conv, x, edge_index).select(kind="aggregation")[0]
    assert (agg.acs, agg.macs) == (0, sent)
    adj_t = to_torch_csr_tensor(edge_index.flip(0), size=(N, N))
    fused = count(conv, x, adj_t).select(kind="aggregation")[0]
    assert (fused.acs, fused.macs) == (0, sent)
    dense = count(conv, x, edge_index, execution="dense")
    assert kind_total(dense, "aggregation") == (0, T * in_edges.size(1) * 7)
    assert kind_total(dense, "transform") == (0, T * N * F_IN * 7)


def test_neuron_and_stfn_rows(edge_index):
    conv = SpikingGCNConv(F_IN, 7, T=T, **PAPER_NEURON)
    x = spike_train((T, N, F_IN), 30, seed=4)
    with SpikeMonitor(conv) as monitor:
        out = conv(x, edge_index)
    report = count(conv, x, edge_index)
    neuron = report.select(kind="neuron")[0]
    n = N * 7
    fired = int(out.sum())
    assert neuron.spikes_out == fired and neuron.neuron_steps == T * n
    assert neuron.firing_rate == pytest.approx(monitor.firing_rates()["neuron"])
    # charge after the first step (MAC), compare at every step, one reset per spike (AC)
    assert (neuron.acs, neuron.macs) == (T * n + fired, (T - 1) * n)
    M = T * n
    assert kind_total(report, "norm") == (2 * M, 3 * M + N)
    folded = count(conv, x, edge_index, fold_norm=True)
    assert kind_total(folded, "norm") == (3 * M, M + N + 2 * n)
    assert folded.select(kind="neuron")[0].spikes_out == fired
    soft = SpikingGCNConv(F_IN, 7, T=T, tau=2.0, reset="none")
    soft_neuron = count(soft, x, edge_index).select(kind="neuron")[0]
    assert soft_neuron.acs == T * n


def test_tdbn_rows(edge_index):
    conv = SpikingGCNConv(F_IN, 7, T=T, norm="tdbn")
    x = spike_train((T, N, F_IN), 30, seed=4)
    M = T * N * 7
    assert kind_total(count(conv.train(), x, edge_index), "norm") == (2 * M, 3 * M + 7)
    conv.eval()
    assert kind_total(count(conv, x, edge_index), "norm") == (0, M)
    assert kind_total(count(conv, x, edge_index, fold_norm=True), "norm") == (0, 0)


def test_spiking_gcn_model_rows_and_rates(edge_index):
    torch.manual_seed(0)
    model = SpikingGCN(F_IN, 8, 2, C, T=T, **PAPER_NEURON).eval()
    x = spike_train((N, F_IN), 12)
    with SpikeMonitor(model) as monitor:
        model(x, edge_index)
    report = count(model, x, edge_index)
    names = [(r.name, r.kind) for r in report.layers]
    assert names == [
        ("convs.0.lin", "transform"),
        ("convs.0", "aggregation"),
        ("convs.0", "bias"),
        ("convs.0.norm", "norm"),
        ("convs.0.neuron", "neuron"),
        ("convs.1.lin", "transform"),
        ("convs.1", "aggregation"),
        ("convs.1", "bias"),
        ("SpikingGCN", "readout"),
    ]
    assert report.firing_rates()["convs.0.neuron"] == pytest.approx(
        monitor.firing_rates()["convs.0"]
    )
    hidden_spikes = report.select(kind="neuron")[0].spikes_out
    second = report.select(kind="transform", name="convs.1")[0]
    assert (second.acs, second.spikes_in) == (hidden_spikes * C, hidden_spikes)
    assert kind_total(report, "readout") == ((T - 1) * N * C, N * C)
    assert report.total.spikes == hidden_spikes


def test_spiking_gat_model_counts(edge_index):
    """Closed forms of every row of a two-layer spiking GAT on a static spike input (counted
    once): the hidden layer attends once (``T' = 1``), the output layer at each of the ``T``
    steps of the hidden spike train (time folded into the heads), then averages its heads."""
    torch.manual_seed(0)
    E, h, hid = edge_index.size(1), 2, 8
    c1 = hid // h  # channels per head of the hidden layer (concatenated)
    model = SpikingGAT(F_IN, hid, 2, C, heads=h, T=T, **PAPER_NEURON).eval()
    x = spike_train((N, F_IN), 12)
    # The hidden layer's spikes [T, N, hid], as the output layer receives them (eval mode:
    # the same in the counted pass).
    seen = {}
    handle = model.convs[0].register_forward_hook(lambda m, i, out: seen.update(spikes=out))
    with torch.no_grad():
        model(x, edge_index)
    handle.remove()
    spikes = seen["spikes"]
    assert spikes.shape == (T, N, hid)
    fired = int(spikes.sum())
    assert fired > 0  # otherwise the output layer's event counts below are all zero

    report = count(model, x, edge_index)
    in_edges = torch.cat([edge_index, torch.arange(N).repeat(2, 1)], dim=1)  # + self-loops
    assert in_edges.size(1) == E + N
    # -- hidden layer: static input, attended once --------------------------------------
    edges0 = (E + N) * h  # attention logits: one per edge (self-loops too) and head
    assert kind_total(report, "transform", "convs.0.lin") == (12 * hid, 0)  # spikes x width
    assert kind_total(report, "attention", "convs.0") == (
        edges0 * ATTENTION_EDGE_ACS,  # a_j + a_i, max, subtract max, denominator
        2 * N * h * c1 + edges0 * ATTENTION_EDGE_MACS,  # node scores (src, dst); LeakyReLU, exp, /
    )
    # messages alpha_ij * (W x_j): real-valued, sent only by sources with a spike
    active0 = x.sum(dim=-1) > 0
    assert kind_total(report, "aggregation", "convs.0") == (
        0,
        int(active0[in_edges[0]].sum()) * h * c1,
    )
    assert not report.select(kind="combine", name="convs.0")  # heads concatenated
    assert kind_total(report, "bias", "convs.0") == (N * hid, 0)
    # STFN (affine, unfolded) on the static current [N, hid]: mean and centring (ACs);
    # variance, one scale per node, scaling, affine (MACs)
    M = N * hid
    assert kind_total(report, "norm", "convs.0.norm") == (2 * M, M + N + M + M)
    n = N * hid  # leaky neurons, hard reset, T steps
    assert kind_total(report, "neuron", "convs.0.neuron") == (T * n + fired, (T - 1) * n)
    # -- output layer: a spike train of T steps, out_heads = h, averaged ----------------
    positions = N * T  # (node, step) pairs
    edges1 = (E + N) * T * h
    assert kind_total(report, "transform", "convs.1.lin") == (fired * h * C, 0)
    assert kind_total(report, "attention", "convs.1") == (
        edges1 * ATTENTION_EDGE_ACS,
        2 * positions * h * C + edges1 * ATTENTION_EDGE_MACS,
    )
    active1 = spikes.sum(dim=-1) > 0  # [T, N]: nodes with a spike at step t
    assert kind_total(report, "aggregation", "convs.1") == (
        0,
        int(active1[:, in_edges[0]].sum()) * h * C,
    )
    # head mean at every node and step: h - 1 additions and one scaling per output entry
    assert kind_total(report, "combine", "convs.1") == (positions * C * (h - 1), positions * C)
    assert kind_total(report, "bias", "convs.1") == (positions * C, 0)
    assert kind_total(report, "readout") == ((T - 1) * N * C, N * C)
    kinds = {r.kind for r in report.layers}
    assert kinds == {
        "transform",
        "attention",
        "aggregation",
        "bias",
        "norm",
        "neuron",
        "combine",
        "readout",
    }
    assert report.warnings == ()


# -- mini-batches -----------------------------------------------------------------------------


def test_reports_of_batches_sum(edge_index):
    torch.manual_seed(0)
    model = SpikingGCN(F_IN, 8, 2, C, T=T).eval()
    x = spike_train((N, F_IN), 14)
    parts = [torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])]
    reports = []
    for nodes in parts:
        sub, _ = subgraph(nodes, edge_index, relabel_nodes=True, num_nodes=N)
        reports.append(count(model, x[nodes], sub))
    total = reports[0] + reports[1]
    assert total == Report.sum(reports) == sum(reports)
    assert total.total.acs == reports[0].total.acs + reports[1].total.acs
    assert total.total.macs == reports[0].total.macs + reports[1].total.macs
    assert total.total.num_nodes == N and total.total.num_forwards == 2
    assert total.total.energy_pj == pytest.approx(sum(r.total.energy_pj for r in reports))
    assert total.total.energy_per_node_pj == pytest.approx(total.total.energy_pj / N)
    assert total.total.energy_per_inference_pj == pytest.approx(total.total.energy_pj / 2)
    neuron = total.select(kind="neuron")[0]
    assert neuron.spikes_out == sum(r.select(kind="neuron")[0].spikes_out for r in reports)
    # one Counter around both forward passes counts the same
    with Counter(model) as counter:
        for nodes in parts:
            sub, _ = subgraph(nodes, edge_index, relabel_nodes=True, num_nodes=N)
            model(x[nodes], sub)
    assert counter.report() == total


def test_bipartite_blocks_closed_form():
    """Sampled blocks (bipartite src -> dst with size) through forward_blocks."""
    torch.manual_seed(0)
    model = SpikingGCN(F_IN, HID, 2, C, T=T).eval()
    x = torch.rand(6, F_IN) + 0.1  # real-valued: MACs
    block0 = SimpleNamespace(
        edge_index=torch.tensor([[1, 2, 3, 4, 5, 5], [0, 0, 1, 2, 3, 1]]),
        edge_weight=None,
        size=(6, 4),
    )
    block1 = SimpleNamespace(
        edge_index=torch.tensor([[1, 2, 3], [0, 1, 0]]), edge_weight=None, size=(4, 2)
    )
    report = count(model, x, [block0, block1], forward="forward_blocks", execution="dense")
    assert report.total.num_nodes == 2
    # layer 1: static input, once; self-loops for the 4 targets
    assert kind_total(report, "transform", "convs.0") == (0, 6 * F_IN * HID)
    assert kind_total(report, "aggregation", "convs.0") == (0, (6 + 4) * HID)
    # layer 2: spike train of the 4 sources, T steps; self-loops for the 2 targets
    assert kind_total(report, "transform", "convs.1") == (0, T * 4 * HID * C)
    assert kind_total(report, "aggregation", "convs.1") == (0, T * (3 + 2) * C)
    assert kind_total(report, "readout") == ((T - 1) * 2 * C, 2 * C)


def test_spiking_gat_blocks_attend_from_both_sides():
    torch.manual_seed(0)
    conv = SpikingGATConv(F_IN, 3, heads=2, T=T)
    x_src = spike_train((T, 6, F_IN), 20)
    block = torch.tensor([[1, 2, 3, 4, 5, 5], [0, 0, 1, 2, 3, 1]])
    report = count(conv, (x_src, x_src[:, :4]), block, size=(6, 4), execution="dense")
    edges = (6 + 4) * T * 2  # 6 edges + 4 self-loops, per step and head
    assert kind_total(report, "attention") == (
        edges * ATTENTION_EDGE_ACS,
        (6 + 4) * T * 2 * 3 + edges * ATTENTION_EDGE_MACS,
    )
    assert kind_total(report, "aggregation") == (0, edges * 3)
    assert kind_total(report, "transform") == (0, T * (6 + 4) * F_IN * 2 * 3)
    assert report.total.num_nodes == 4


# -- training: neurons seen through their rate hooks ------------------------------------------

#: Models whose training pass computes the last hidden layer's firing rates directly
#: (SpikingGCN with the membrane read-out: ``fire_rate``) and runs the output layer once.
RATE_SHORTCUT = ("sgcn", "stfn-sgcn")
TRAIN_EVAL_CASES = [
    *((name, {"norm": norm}) for name in SPIKING for norm in ("none", "stfn")),
    ("sgcn", {"norm": "none", "neuron": "plif"}),
    ("sgcn", {"norm": "none", "neuron": "alif"}),
    ("sgcn", {"norm": "none", "num_layers": 3}),
]


@pytest.mark.parametrize("execution", ["event", "dense"])
@pytest.mark.parametrize("static_input", ["once", "per-step"])
@pytest.mark.parametrize(
    ("name", "options"),
    TRAIN_EVAL_CASES,
    ids=[f"{n}-" + "-".join(map(str, o.values())) for n, o in TRAIN_EVAL_CASES],
)
def test_a_training_count_matches_an_inference_count(name, options, static_input, execution):
    """Without dropout and batch statistics (norm "none" or STFN, which normalises each node on
    its own), training and inference fire the same spikes, so their counts agree: every row,
    firing rate and the energy. The one difference is the spiking GCN's training shortcut: its
    last hidden layer's neurons, whose firing rates it computes without spike trains, are
    counted through their rate hooks (the inference count's neuron rows), but the layers
    after them run once on the rates, not at every step, and are counted as they ran."""
    torch.manual_seed(0)
    model = build_model(
        name, F_IN, C, hidden_channels=8, dropout=0.0, input_dropout=0.0, T=T, **options
    )
    x, edge_index = spike_train((N, F_IN), 15), undirected_edges()
    kwargs = {"static_input": static_input, "execution": execution}
    trained = count(model.train(), x, edge_index, **kwargs)
    inferred = count(model.eval(), x, edge_index, **kwargs)
    assert trained.static_input == inferred.static_input == static_input
    assert trained.neurons_not_counted == inferred.neurons_not_counted == ()
    assert trained.firing_rates() == inferred.firing_rates() != {}
    assert trained.total.spikes == inferred.total.spikes > 0
    if name not in RATE_SHORTCUT:
        assert trained.rate_layers == inferred.rate_layers == ()
        assert trained.rows == inferred.rows
        assert trained.total == inferred.total
        return
    layer = f"convs.{model.num_layers - 2}"
    assert (trained.rate_layers, inferred.rate_layers) == ((layer,), ())
    # everything up to the rate layer's neurons is the same; after them, the same rows ...
    cut = [r.name for r in inferred.rows].index(f"{layer}.neuron") + 1
    assert trained.rows[:cut] == inferred.rows[:cut]
    after = [(r.name, r.kind) for r in inferred.rows[cut:]]
    assert [(r.name, r.kind) for r in trained.rows[cut:]] == after
    last = f"convs.{model.num_layers - 1}"
    assert {name for name, _ in after} == {f"{last}.lin", last, "SpikingGCN"}
    # ... counted once (dense: a T-th of every step's operations) where inference counts T
    if execution == "dense":
        for t, i in zip(trained.rows[cut:], inferred.rows[cut:]):
            if t.kind == "readout":  # the average of a constant output costs nothing
                assert (t.acs, t.macs, i.acs, i.macs) == (0, 0, (T - 1) * N * C, N * C)
            else:
                assert (T * t.acs, T * t.macs) == (i.acs, i.macs)
    assert trained.total.energy_pj < inferred.total.energy_pj


@pytest.mark.parametrize("options", [{}, {"neuron": "alif"}, {"neuron": "plif"}, {"num_layers": 3}])
def test_rate_hooks_leave_training_outputs_and_gradients_unchanged(options):
    """The counter reads the rates the spiking GCN's last hidden layer hands its rate hooks in
    training: outputs and gradients are bit-identical with and without it (dropout drawn),
    and the hooks are gone afterwards. (Not with STFN: the counter's hook on the norm keeps
    the layer off the fused STFN-LIF path, whose gradients differ in the last bits.)"""
    torch.manual_seed(0)
    options = {"num_layers": 2, **options}
    model = SpikingGCN(F_IN, 8, out_channels=C, T=T, dropout=0.5, input_dropout=0.2, **options)
    model.train()
    x, edge_index = spike_train((N, F_IN), 15), undirected_edges()

    def run(counter: Counter | None):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(7)
        if counter is None:
            out = model(x, edge_index)
        else:
            with counter:
                out = model(x, edge_index)
        (out * torch.arange(out.numel()).view_as(out)).sum().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters()]

    out_a, grads_a = run(None)
    counter = Counter(model)
    out_b, grads_b = run(counter)
    assert torch.equal(out_a, out_b)
    assert len(grads_a) == len(grads_b) > 0
    assert all(torch.equal(a, b) for a, b in zip(grads_a, grads_b))
    layer = f"convs.{model.num_layers - 2}"
    report = counter.report()
    assert (report.rate_layers, report.neurons_not_counted) == ((layer,), ())
    assert report.select(kind="neuron", name=f"{layer}.neuron")[0].spikes_out > 0
    assert not any(m.__dict__.get("_rate_hooks") for m in model.modules())


# -- guarantees -------------------------------------------------------------------------------


def _models():
    torch.manual_seed(0)
    return {
        "sgcn": SpikingGCN(F_IN, 8, 2, C, T=T, dropout=0.5),
        "sgat": SpikingGAT(F_IN, 8, 2, C, heads=2, T=T, dropout=0.5),
        "gcn": GCN(F_IN, 8, 2, C, dropout=0.5),
        "gat": GAT(F_IN, 8, 2, C, heads=2, dropout=0.5),
        "sage": GraphSAGE(F_IN, 8, 2, C, dropout=0.5),
    }


@pytest.mark.parametrize("name", ["sgcn", "sgat", "gcn", "gat", "sage"])
@pytest.mark.parametrize("training", [True, False])
def test_outputs_and_gradients_unchanged(name, training):
    model = _models()[name].train(training)
    x = spike_train((N, F_IN), 15)
    edge_index = undirected_edges()

    def run(counting: bool):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(7)
        if counting:
            with Counter(model) as counter:
                out = model(x, edge_index)
        else:
            out = model(x, edge_index)
        (out * torch.arange(out.numel()).view_as(out)).sum().backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        return out.detach(), grads, counter if counting else None

    out_a, grads_a, _ = run(False)
    out_b, grads_b, counter = run(True)
    assert torch.equal(out_a, out_b)
    assert len(grads_a) == len(grads_b) > 0
    assert all(torch.equal(a, b) for a, b in zip(grads_a, grads_b))
    assert counter.report().total.ops > 0
    # every hook is gone
    for m in model.modules():
        assert not m._forward_hooks
        assert not m.__dict__.get("_rate_hooks")
        for attr in (
            "_message_forward_hooks",
            "_propagate_forward_hooks",
            "_edge_update_forward_hooks",
        ):
            assert not getattr(m, attr, {})
    assert "decode" not in model.__dict__


def test_count_under_no_grad_matches(edge_index):
    torch.manual_seed(0)
    model = SpikingGCN(F_IN, 8, 2, C, T=T).eval()
    x = spike_train((N, F_IN), 12)
    with torch.no_grad():
        a = count(model, x, edge_index)
    assert a == count(model, x, edge_index)


# -- errors and warnings ----------------------------------------------------------------------


def test_errors(edge_index):
    x = torch.randn(N, F_IN)
    with pytest.raises(TypeError, match=r"'model' must be a torch\.nn\.Module, got function"):
        count(lambda a: a, x)
    with pytest.raises(ValueError, match="Unknown execution 'fast'"):
        count(GCN(F_IN, HID, 2, C), x, edge_index, execution="fast")
    with pytest.raises(TypeError, match="'fold_norm' must be a bool"):
        count(GCN(F_IN, HID, 2, C), x, edge_index, fold_norm="yes")
    with pytest.raises(ValueError, match="Nothing countable ran in Identity"):
        count(nn.Identity(), x)
    with pytest.raises(ValueError, match="GCN has no method 'forward_blockz'"):
        count(GCN(F_IN, HID, 2, C), x, edge_index, forward="forward_blockz")
    with pytest.raises(TypeError, match="'forward' must be a method name or a callable"):
        count(GCN(F_IN, HID, 2, C), x, edge_index, forward=3)

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(F_IN, 2)

        def forward(self, a):
            return self.lin(a), self.lin(a)

    with pytest.raises(ValueError, match="pass num_nodes"):
        count(Pair(), x)
    assert count(Pair(), x, num_nodes=N).total.macs == 2 * N * F_IN * 2


def test_counter_reuse_and_reset(edge_index):
    model = GCN(F_IN, HID, 2, C).eval()
    x = torch.randn(N, F_IN)
    counter = Counter(model)
    with counter:
        with pytest.raises(RuntimeError, match="already active"), counter:
            pass
        model(x, edge_index)
    first = counter.report()
    with counter:  # counting goes on where it stopped
        model(x, edge_index)
    assert counter.report().total.ops == 2 * first.total.ops
    counter.reset()
    with pytest.raises(ValueError, match="Nothing countable"):
        counter.report()
    via_callable = count(model, x, edge_index, forward=lambda a, b: model(a, b))
    assert via_callable.total.ops == first.total.ops


def test_uncounted_arithmetic_is_reported(edge_index):
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(F_IN, 2)
            self.scale = nn.Parameter(torch.ones(2))

        def forward(self, a):
            return self.lin(a) * self.scale

    report = count(Scaled(), torch.randn(N, F_IN))
    assert report.warnings == (
        "Scaled: Scaled has parameters ['scale'] whose arithmetic is not counted",
    )
    gin = GINConv(nn.Linear(F_IN, 3), train_eps=True)
    warnings = count(gin, torch.randn(N, F_IN), edge_index).warnings
    assert any("GINConv has parameters ['eps']" in w for w in warnings)
    assert any("GINConv is not among the layers the counter was checked on" in w for w in warnings)


# -- a Counter around mini-batches run through forward_blocks (audit F2) ----------------------


def _sampled_batches(model_cls):
    from spikegraph.samplers import GraphSAGESampler

    torch.manual_seed(0)
    edge_index = undirected_edges()
    x = spike_train((N, F_IN), 12)
    heads = {"heads": 2} if model_cls is SpikingGAT else {}
    model = model_cls(F_IN, 8, 2, C, T=T, **heads).eval()
    sampler = GraphSAGESampler(edge_index, num_neighbors=[-1, -1], num_nodes=N)
    return model, x, [sampler.sample(torch.tensor(s)) for s in ([0, 1], [2, 3, 4], [5])]


@pytest.mark.parametrize("model_cls", [SpikingGCN, SpikingGAT])
def test_counter_around_forward_blocks_counts_every_batch_as_a_pass(model_cls):
    model, x, batches = _sampled_batches(model_cls)
    with Counter(model) as counter:
        for b in batches:
            model.forward_blocks(x[b.n_id], b.blocks)
    report = counter.report()  # the predicted nodes are known: the batches' targets
    separate = Report.sum(
        count(model, x[b.n_id], b.blocks, forward="forward_blocks") for b in batches
    )
    assert (report.total.num_forwards, report.total.num_nodes) == (3, 2 + 3 + 1)
    assert report.static_input == separate.static_input == "once"
    assert report.total.energy_per_inference_pj == pytest.approx(
        separate.total.energy_per_inference_pj
    )
    assert report == dataclasses.replace(separate, model=report.model)


def test_counter_refuses_to_guess_the_passes_it_did_not_see(edge_index):
    """Operations counted but no call of the model (nor of a spiking model's forward_blocks)
    seen: the number of passes is unknown, and the error says so instead of assuming one."""
    model = SpikingGCN(F_IN, HID, 2, C, T=T).eval()
    with Counter(model) as counter:
        model.convs[0](spike_train((N, F_IN), 9), edge_index)
    with pytest.raises(ValueError, match=r"no forward pass of SpikingGCN .*pass num_forwards"):
        counter.report()
    assert counter.report(num_nodes=N, num_forwards=1).total.num_forwards == 1


# -- compiled models (audit F4) ---------------------------------------------------------------


def test_a_compiled_model_is_counted_through_its_eager_module(edge_index):
    """PyG skips its message-passing hooks in compiled code: count() counts the eager module
    a torch.compile'd model wraps (same weights, same arithmetic), never the compiled call."""
    torch.manual_seed(0)
    x = torch.randn(N, F_IN)
    for model in (GCN(F_IN, HID, 2, C).eval(), SpikingGCN(F_IN, 8, 2, C, T=T).eval()):
        eager = count(model, x, edge_index)
        compiled = count(torch.compile(model, backend="eager"), x, edge_index)
        assert compiled == eager


def test_a_counter_refuses_compiled_and_scripted_modules(edge_index):
    torch.manual_seed(0)
    model = GCN(F_IN, HID, 2, C).eval()
    with pytest.raises(ValueError, match=r"OptimizedModule.*torch\.compile.*_orig_mod"):
        Counter(torch.compile(model, backend="eager"))

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.gnn = torch.compile(GCN(F_IN, HID, 2, C), backend="eager")

        def forward(self, x, edge_index):
            return self.gnn(x, edge_index)

    with pytest.raises(ValueError, match=r"'gnn' .*torch\.compile"):
        count(Holder().eval(), x := torch.randn(N, F_IN), edge_index)
    in_place = GCN(F_IN, HID, 2, C).eval()
    in_place.compile(backend="eager")
    with pytest.raises(ValueError, match=r"compiled in place"):
        count(in_place, x, edge_index)
    with pytest.raises(ValueError, match=r"TorchScript"):
        Counter(torch.jit.script(nn.Linear(F_IN, 2)))


class _CallsCompiled(nn.Module):
    """A model whose eager forward calls a compiled function (or, ``compiled=False``, the
    same function uncompiled): nothing in the model is a compiled module for the counter
    to see."""

    def __init__(self, compiled: bool):
        super().__init__()
        self.gnn = GCN(F_IN, HID, 2, C)
        self.body = torch.compile(self._body, backend="eager") if compiled else self._body

    def _body(self, x, edge_index):
        return self.gnn(x, edge_index).relu()

    def forward(self, x, edge_index):
        return self.body(x, edge_index)


@pytest.mark.skipif(not hasattr(torch.compiler, "set_stance"), reason="torch < 2.6")
def test_compiled_code_inside_an_eager_forward_is_counted_eagerly(edge_index):
    """A compiled function that the eager forward calls ran compiled under the counter: PyG
    skipped its hooks there, so the count lost the aggregations and biases, without an
    error. The counter runs compiled code eagerly while it is active (the compiler's
    "force_eager" stance), and restores the stance afterwards, also after an error."""
    from torch._dynamo import eval_frame

    torch.manual_seed(0)
    x = torch.randn(N, F_IN)
    eager = _CallsCompiled(compiled=False).eval()
    compiled = _CallsCompiled(compiled=True).eval()
    compiled.load_state_dict(eager.state_dict())
    compiled(x, edge_index)  # compiled once before counting, as in a user's script
    want = count(eager, x, edge_index)
    assert want.select(kind="aggregation")
    assert count(compiled, x, edge_index) == want
    assert eval_frame._stance.stance == "default"
    with pytest.raises(RuntimeError, match="boom"), Counter(compiled):
        assert eval_frame._stance.stance == "force_eager"
        raise RuntimeError("boom")
    assert eval_frame._stance.stance == "default"


def _doubled(x: torch.Tensor) -> torch.Tensor:
    return 2.0 * x


def test_count_refuses_a_compiled_or_scripted_forward(edge_index):
    """A compiled function passed as forward= would run the model in compiled code, where PyG
    skips its hooks. count() refuses it, naming the argument: what a counter counts is the
    eager arithmetic (it runs compiled code eagerly), not the compiled code's; a function
    wrapped by torch.compiler.disable runs eagerly and is accepted."""
    torch.manual_seed(0)
    model = GCN(F_IN, HID, 2, C).eval()
    x = torch.randn(N, F_IN)
    eager = count(model, x, edge_index)
    compiled_forward = torch.compile(model.forward, backend="eager")
    if hasattr(torch.compiler, "set_stance"):  # a Counter runs compiled code eagerly
        with Counter(model) as counter:
            compiled_forward(x, edge_index)
        assert counter.report(num_nodes=N, num_forwards=1).rows == eager.rows
    scripted_linear = torch.jit.script(nn.Linear(F_IN, C))
    refused = {
        "torch.compile": [
            compiled_forward,
            torch.compile(lambda a, b: model(a, b), backend="eager"),
            functools.partial(torch.compile(model, backend="eager").forward),
        ],
        r"OptimizedModule \(torch\.compile\)": [torch.compile(model, backend="eager")],
        "TorchScript function": [torch.jit.script(_doubled), scripted_linear.forward],
        "TorchScript module": [scripted_linear],
    }
    for what, forwards in refused.items():
        for forward in forwards:
            with pytest.raises(ValueError, match=rf"^'forward' \(.*\) is .*{what}.*eager"):
                count(model, x, edge_index, forward=forward)
    uncompiled = torch.compiler.disable(lambda a, b: model(a, b))
    assert count(model, x, edge_index, forward=uncompiled) == eager
