"""Both counting conventions of a spiking model's static input: once, or at every step."""

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torch_geometric.nn.models import GCN

from spikegraph.cli import main
from spikegraph.cost import (
    DEFAULT_STATIC_INPUT,
    STATIC_INPUT,
    as_spike_train,
    count,
    energy_of,
)
from spikegraph.models import SpikingGCN
from spikegraph.nn import LIF, SpikingGATConv, SpikingGCNConv

T, HID = 4, 2
# path graph 0 - 1 - 2; node 2 has no features
X = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
EDGES = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])


def _model() -> SpikingGCN:
    torch.manual_seed(0)
    model = SpikingGCN(2, HID, 2, 2, T=T).eval()
    with torch.no_grad():
        model.convs[0].lin.weight.fill_(1.0)  # W s_j != 0 for nodes 0 and 1, 0 for node 2
    return model


def _row(report, kind, name):
    (row,) = report.select(kind=kind, name=name)
    return row.acs, row.macs


def test_a_real_valued_static_input_is_an_encoding_layer_counted_once():
    """TF-IDF-like features (not 0/1 after the encoder): the literature counts such a first
    layer once, as MACs, so both conventions count the same, and the report says so."""
    model = _model()
    real = torch.tensor([[0.5, 0.0], [1.0, 0.25], [0.0, 0.0]])  # max-scaled: node 1 keeps 0.25
    once = count(model, real, EDGES, static_input="once")
    per_step = count(model, real, EDGES, static_input="per-step")
    assert once.static_input is None and per_step.static_input is None
    assert [(r.name, r.kind, r.acs, r.macs) for r in once.rows] == [
        (r.name, r.kind, r.acs, r.macs) for r in per_step.rows
    ]
    # the transform of the real input, once: its non-zero entries (3 of N F = 6; event-driven
    # hardware sends no zero) times every output, as MACs
    assert _row(per_step, "transform", "convs.0.lin") == (0, 3 * HID)
    # the binary input of the test below is still counted at every step under per-step
    spikes = count(model, X, EDGES, static_input="per-step")
    assert spikes.static_input == "per-step"
    assert _row(spikes, "transform", "convs.0.lin") == (T * 3 * HID, 0)


def test_closed_form_counts_under_both_conventions():
    model = _model()
    once = count(model, X, EDGES, static_input="once")
    per_step = count(model, X, EDGES, static_input="per-step")
    assert (once.static_input, per_step.static_input) == ("once", "per-step")
    # transform: nnz(x) = 3 spikes x HID outputs, once or at each of the T steps
    assert _row(once, "transform", "convs.0.lin") == (3 * HID, 0)
    assert _row(per_step, "transform", "convs.0.lin") == (T * 3 * HID, 0)
    # aggregation of the real-valued messages W s_j (MACs), self-loops included: node 0
    # sends to 1 and itself, node 1 to 0, 2 and itself, node 2 sends nothing (W s_2 = 0)
    assert _row(once, "aggregation", "convs.0") == (0, (2 + 3) * HID)
    assert _row(per_step, "aggregation", "convs.0") == (0, T * (2 + 3) * HID)
    # bias: one AC per output entry computed, N x HID once or per step
    assert _row(once, "bias", "convs.0") == (3 * HID, 0)
    assert _row(per_step, "bias", "convs.0") == (T * 3 * HID, 0)
    # everything from the neurons on sees the same current: the same counts
    first_layer = {("convs.0.lin", "transform"), ("convs.0", "aggregation"), ("convs.0", "bias")}
    rest = [
        (r.name, r.kind, r.acs, r.macs) for r in once.rows if (r.name, r.kind) not in first_layer
    ]
    assert rest == [
        (r.name, r.kind, r.acs, r.macs)
        for r in per_step.rows
        if (r.name, r.kind) not in first_layer
    ]
    extra = (T - 1) * (3 * HID + 3 * HID) * 0.9 + (T - 1) * (2 + 3) * HID * 4.6  # 45 nm pJ
    assert per_step.total.energy_pj - once.total.energy_pj == pytest.approx(extra)


def test_per_step_runs_the_spike_train_the_input_stands_for():
    model = _model()
    train = as_spike_train(model, X)
    assert train.shape == (T, 3, 2) and torch.equal(train[2], X)
    torch.testing.assert_close(model(train, EDGES), model(X, EDGES))
    assert as_spike_train(GCN(2, 4, 2, 2), X) is X  # an ordinary model has no steps


def test_conventions_apply_only_to_a_static_spiking_input():
    gcn = GCN(2, 4, 2, 2).eval()
    a = count(gcn, X, EDGES, static_input="per-step")
    assert a.static_input is None and a.rows == count(gcn, X, EDGES, static_input="once").rows
    model = _model()
    train = as_spike_train(model, X)
    a = count(model, train, EDGES, static_input="once")
    b = count(model, train, EDGES, static_input="per-step")
    assert a.static_input is None and a.rows == b.rows
    with pytest.raises(ValueError, match="static_input"):
        count(model, X, EDGES, static_input="twice")
    once = count(model, X, EDGES, static_input="once")
    with pytest.raises(ValueError, match="different conventions \\('once' and 'per-step'\\)"):
        once + count(model, X, EDGES, static_input="per-step")


def test_energy_outputs_default_to_the_literature_convention_and_name_it():
    assert DEFAULT_STATIC_INPUT == "per-step" and set(STATIC_INPUT) == {"per-step", "once"}
    model = _model()
    data = type("D", (), {"x": X, "edge_index": EDGES, "__contains__": lambda s, k: False})()
    out = energy_of(model, data)
    assert out["static_input"] == "per-step"
    assert out["acs"] == count(model, X, EDGES, static_input="per-step").total.acs
    assert energy_of(model, data, static_input="once")["acs"] < out["acs"]
    report = count(model, X, EDGES, static_input="per-step")
    assert "every time step" in report.table() and "[per-step]" in report.table()
    assert json.loads(json.dumps(report.to_dict()))["static_input"] == "per-step"


def test_cli_names_the_convention_and_gives_both(data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPIKEGRAPH_DATA", str(data_root))
    path = tmp_path / "cost.json"
    args = ["cost", "--dataset", "Cora", "--model", "sgcn", "--vs", "gcn", "--epochs", "0"]
    assert main([*args, "--json", str(path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "counted as: sgcn event-driven, static input counted at every time step" in printed
    # each ratio names both models' conventions; the legend names the tags once
    assert printed.count("sgcn event-driven [per-step]; gcn") == 2
    assert printed.count("sgcn event-driven [once]; gcn") == 2
    assert "[per-step]; gcn dense (no static spiking input)  (headline)" in printed
    assert "gcn event-driven (no static spiking input)" in printed
    record = json.loads(Path(path).read_text())
    assert record["first"]["report"]["static_input"] == "per-step"
    ratios = {(r["static_input"], r["second_execution"]): r for r in record["ratios"]}
    assert set(ratios) == {(c, e) for c in STATIC_INPUT for e in ("dense", "event")}
    assert ratios[("per-step", "dense")]["default"]
    assert ratios[("per-step", "dense")]["ratio"] == pytest.approx(
        record["comparison"]["ratios"]["energy"]
    )
    # counting the input at every step costs more than counting it once
    assert ratios[("per-step", "dense")]["ratio"] > ratios[("once", "dense")]["ratio"]


# -- the convention reaches every spiking layer that gets a static input (audit F1) ----------


def _rows(report, prefix=""):
    return [(r.name.removeprefix(prefix), r.kind, r.acs, r.macs) for r in report.rows]


@pytest.mark.parametrize("layer", ["gcn", "gat"])
def test_per_step_applies_to_a_single_spiking_layer(layer):
    """A spiking layer reads a 2-D input as the same at every one of its T steps: per step,
    it is counted as the spike train it stands for, and the report names the convention."""
    torch.manual_seed(0)
    conv = SpikingGCNConv(2, HID, T=T) if layer == "gcn" else SpikingGATConv(2, HID, T=T)
    conv.eval()
    once = count(conv, X, EDGES, static_input="once")
    per_step = count(conv, X, EDGES, static_input="per-step")
    train = count(conv, X.expand(T, *X.shape), EDGES)
    assert (once.static_input, per_step.static_input, train.static_input) == (
        "once",
        "per-step",
        None,
    )
    assert _row(once, "transform", "lin") == (3 * HID, 0)
    assert _row(per_step, "transform", "lin") == (T * 3 * HID, 0)
    assert _rows(per_step) == _rows(train)
    assert per_step.total.energy_pj > once.total.energy_pj


def test_per_step_applies_to_a_module_wrapping_a_spiking_model():
    class Wrap(nn.Module):
        def __init__(self, gnn):
            super().__init__()
            self.gnn = gnn

        def forward(self, x, edge_index):
            return self.gnn(x, edge_index)

    model = _model()
    wrapped = Wrap(model).eval()
    for convention in ("once", "per-step"):
        inner = count(model, X, EDGES, static_input=convention)
        outer = count(wrapped, X, EDGES, static_input=convention)
        assert outer.static_input == inner.static_input == convention
        # the same rows, under the wrapper's names (the readout's row is its model's)
        assert _rows(outer, "gnn.") == [
            ("gnn" if name == "SpikingGCN" else name, *rest) for name, *rest in _rows(inner)
        ]
    data = type("D", (), {"x": X, "edge_index": EDGES, "__contains__": lambda s, k: False})()
    outer, inner = energy_of(wrapped, data), energy_of(model, data)
    keys = ("energy_pj", "acs", "macs", "spikes", "static_input")
    assert [outer[k] for k in keys] == [inner[k] for k in keys]
    assert outer["static_input"] == "per-step"


def test_per_step_refuses_a_spiking_model_whose_time_steps_it_cannot_tell():
    """Neurons outside spikegraph's layers read a 2-D input's rows as time steps: whether a
    2-D binary input is static cannot be told, so per step is refused, never counted once."""
    model = nn.Sequential(nn.Linear(2, 3), LIF()).eval()
    with pytest.raises(ValueError, match=r"static_input='per-step'.*Sequential.*cannot tell"):
        count(model, X, static_input="per-step")
    data = type("D", (), {"x": X, "edge_index": EDGES, "__contains__": lambda s, k: False})()
    with pytest.raises(ValueError, match="cannot tell"):
        energy_of(_NeuronsOnly(), data)
    assert count(model, X, static_input="once").static_input is None  # what ran, once


class _NeuronsOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.neuron = nn.Linear(2, 3), LIF()

    def forward(self, x, edge_index):
        return self.neuron(self.lin(x)).mean(0)


def test_a_per_step_counter_counts_every_pass_as_count_does():
    from spikegraph.cost import Counter

    model = _model()
    with Counter(model, static_input="per-step") as counter:
        model(X, EDGES)
        model(X, EDGES)
    report = counter.report()
    single = count(model, X, EDGES, static_input="per-step")
    assert report.static_input == "per-step" and report.total.num_forwards == 2
    assert report == single + single
    with pytest.raises(ValueError, match="Unknown static_input 'twice'"):
        Counter(model, static_input="twice")


def test_a_per_step_counter_refuses_a_layer_called_outside_its_model():
    """forward_blocks does not pass through the model's call, so the counter cannot run the
    model on the spike train: it says so (count(..., forward="forward_blocks") can)."""
    from spikegraph.cost import Counter

    model = _model()
    block = type("B", (), {"edge_index": EDGES, "edge_weight": None, "size": (3, 3)})()
    with (
        pytest.raises(ValueError, match=r"convs\.0 got a static spike input outside a call of"),
        Counter(model, static_input="per-step"),
    ):
        model.forward_blocks(X, [block, block])
    per_step = count(model, X, [block, block], forward="forward_blocks", static_input="per-step")
    assert per_step.static_input == "per-step"
    assert _row(per_step, "transform", "convs.0.lin") == (T * 3 * HID, 0)
