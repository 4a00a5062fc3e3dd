"""Report arithmetic, comparison and serialisation."""

import json

import pytest
import torch
from torch_geometric.nn.models import GCN

from spikegraph.cost import LayerRow, Report, count, get_profile
from spikegraph.cost.static_input import describe_static_input
from spikegraph.models import SpikingGCN

from .conftest import N, spike_train, undirected_edges


def _reports():
    torch.manual_seed(0)
    x = spike_train((N, 5), 12)
    spiking = count(SpikingGCN(5, 8, 2, 3, T=4).eval(), x, undirected_edges())
    ordinary = count(GCN(5, 8, 2, 3).eval(), x, undirected_edges())
    return spiking, ordinary


def test_compare():
    spiking, ordinary = _reports()
    cmp = spiking.compare(ordinary)
    assert (cmp.first, cmp.second) == ("SpikingGCN", "GCN")
    assert cmp.ratios["energy"] == pytest.approx(spiking.total.energy_pj / ordinary.total.energy_pj)
    assert cmp.ratios["macs"] == pytest.approx(spiking.total.macs / ordinary.total.macs)
    assert cmp.ratios["energy_per_node"] == pytest.approx(cmp.ratios["energy"])
    # the ordinary model performs no ACs outside bias and ReLU, so its ACs are not 0
    assert cmp.ratios["acs"] == pytest.approx(spiking.total.acs / ordinary.total.acs)
    table = cmp.table()
    assert "SpikingGCN" in table and "GCN" in table and "45nm" in table
    # the ratios depend on how the static input was counted: the table says how
    assert table.splitlines()[-1] == f"SpikingGCN: {describe_static_input('once')}"
    per_step = count(SpikingGCN(5, 8, 2, 3, T=4).eval(), spike_train((N, 5), 12),
                     undirected_edges(), static_input="per-step")  # fmt: skip
    assert per_step.compare(ordinary).table().endswith("[per-step]")
    d = json.loads(json.dumps(cmp.to_dict()))
    assert d["ratios"]["energy"] == pytest.approx(cmp.ratios["energy"])
    assert (d["first_static_input"], d["second_static_input"]) == ("once", None)
    with pytest.raises(TypeError, match="compare\\(\\) needs a Report, got dict"):
        spiking.compare({})


def test_report_serialises_and_prints():
    spiking, _ = _reports()
    d = json.loads(json.dumps(spiking.to_dict()))
    assert d["total"]["energy_pj"] == pytest.approx(spiking.total.energy_pj)
    assert d["profile"]["name"] == "45nm" and "Horowitz" in d["profile"]["source"]
    assert d["options"] == {"execution": "auto", "fold_norm": False}
    assert [r["name"] for r in d["layers"]] == [r.name for r in spiking.layers]
    neuron = next(r for r in d["layers"] if r["kind"] == "neuron")
    assert 0 <= neuron["firing_rate"] <= 1
    text = spiking.table()
    assert "convs.0.neuron" in text and "energy per inference" in text


def test_adding_reports_checks_compatibility():
    spiking, ordinary = _reports()
    with pytest.raises(ValueError, match="different profiles \\('45nm' and 'int8'\\)"):
        spiking + spiking.with_profile("int8")
    dense = count(GCN(5, 8, 2, 3), torch.randn(N, 5), undirected_edges(), execution="event")
    with pytest.raises(ValueError, match="different options"):
        ordinary + dense
    with pytest.raises(ValueError, match="needs at least one report"):
        Report.sum([])
    mixed = spiking + ordinary  # different models, same options: rows are kept apart
    assert mixed.model == "SpikingGCN+GCN"
    assert mixed.total.ops == spiking.total.ops + ordinary.total.ops


def test_rows_and_reports_reject_bad_values():
    with pytest.raises(ValueError, match="'acs' must be a non-negative int, got -1"):
        LayerRow("lin", "transform", acs=-1, macs=0)
    with pytest.raises(ValueError, match="Unknown row kind 'matmul'"):
        LayerRow("lin", "matmul", acs=1, macs=0)
    row = LayerRow("lin", "transform", acs=1, macs=2)
    with pytest.raises(ValueError, match="'num_nodes' must be a positive int, got 0"):
        Report((row,), get_profile("45nm"), num_nodes=0)
    with pytest.raises(TypeError, match="Report rows must be LayerRow, got dict"):
        Report(({"acs": 1},), "45nm", num_nodes=1)
    report = Report((row,), "int8", num_nodes=2)
    assert report.layers[0].energy_pj == pytest.approx(0.03 + 2 * 0.23)
    with pytest.raises(ValueError, match="Unknown row kind 'matmul'"):
        report.select(kind="matmul")


def test_a_count_in_training_mode_says_so():
    """A forgotten ``model.eval()`` counts a forward with dropout drawn: the report records
    the mode and every table names it (no warning: counting a training epoch is intended)."""
    torch.manual_seed(0)
    x, edges = spike_train((N, 5), 12), undirected_edges()
    model = SpikingGCN(5, 8, 2, 3, T=4)
    trained = count(model.train(), x, edges)
    inferred = count(model.eval(), x, edges)
    assert (trained.training, inferred.training) == (True, False)
    assert "counted in training mode" in trained.table()
    assert "training mode" not in inferred.table()
    cmp = trained.compare(count(GCN(5, 8, 2, 3).eval(), x, edges))
    assert cmp.table().splitlines()[-1].startswith("SpikingGCN: counted in training mode")
    assert (cmp.to_dict()["first_training"], cmp.to_dict()["second_training"]) == (True, False)
    assert json.loads(json.dumps(trained.to_dict()))["training"] is True
    # the sum of an epoch's counts is in training mode if any of them was
    assert (trained + inferred).training is True and (inferred + inferred).training is False
    # the mode of the counted calls; a forward through another method than the model's call
    # (forward_blocks) does not pass through its call: the mode it was counted in
    from spikegraph.cost import Counter

    with Counter(model.train()) as counter:
        model.eval()
        model(x, edges)
    assert counter.report().training is False
    with Counter(model.train()) as counter:
        model.forward(x, edges)
    assert counter.report(num_nodes=N).training is True
    with Counter(model.eval()) as counter:
        model.train()(x, edges)
        counter.reset()
        model.eval()(x, edges)
    assert counter.report().training is False


def test_a_training_count_names_the_layers_whose_rates_were_computed_directly():
    """In training, a spiking GCN with the membrane read-out computes its last hidden layer's
    firing rates directly (no spike trains) and runs the output layer once on them: the
    counter counts those neurons through their rate hooks (the inference count's neuron row)
    and names the layer in the report's table and dict; the layers after it are counted as
    they ran, once. An eval count has nothing to say. (audit F3)"""
    torch.manual_seed(0)
    x, edges = spike_train((N, 5), 12), undirected_edges()
    model = SpikingGCN(5, 8, 2, 3, T=4, dropout=0.0, input_dropout=0.0)
    trained = count(model.train(), x, edges)
    inferred = count(model.eval(), x, edges)
    assert trained.neurons_not_counted == inferred.neurons_not_counted == ()
    assert (trained.rate_layers, inferred.rate_layers) == (("convs.0",), ())
    assert trained.select(kind="neuron") == inferred.select(kind="neuron") != ()
    note = "convs.0: firing rates computed directly"
    assert note in trained.table() and note not in inferred.table()
    assert "neurons not counted" not in trained.table()
    record = json.loads(json.dumps(trained.to_dict()))
    assert (record["rate_layers"], record["neurons_not_counted"]) == (["convs.0"], [])
    assert json.loads(json.dumps(inferred.to_dict()))["rate_layers"] == []
    assert (trained + inferred).rate_layers == ("convs.0",)
    assert not any("convs.0" in w for w in trained.warnings)


class _RatesWithoutHooks(torch.nn.Module):
    """A layer's firing rates computed without a module call of its neurons, and either not
    handed to their rate hooks (``notify=None``) or handed as rates no spike train has."""

    def __init__(self, notify: float | None = None) -> None:
        super().__init__()
        from spikegraph.nn import SpikingGCNConv

        self.conv = SpikingGCNConv(5, 8, T=4)
        self.notify = notify

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        rates = self.conv.neuron.rate(self.conv.current(x, edge_index), steps=4)
        if self.notify is not None:
            self.conv.neuron.notify_rate(torch.full_like(rates, self.notify), 4)
        return rates


def test_a_count_names_the_neurons_it_cannot_see():
    """Neurons whose rates reach no rate hook, or reach them as rates that are not means of
    binary spikes (0.3 over 4 steps), are not counted: the report names their layer, in its
    table, dict and warnings."""
    torch.manual_seed(0)
    x, edges = spike_train((N, 5), 12), undirected_edges()
    for notify, why in ((None, "rate hooks"), (0.3, "not means of binary spikes")):
        report = count(_RatesWithoutHooks(notify), x, edges)
        assert (report.neurons_not_counted, report.rate_layers) == (("conv",), ())
        assert not report.select(kind="neuron") and report.select(kind="aggregation")
        assert "conv: neurons not counted" in report.table()
        assert json.loads(json.dumps(report.to_dict()))["neurons_not_counted"] == ["conv"]
        assert any(w.startswith("conv") and why in w for w in report.warnings)
    # rates that are spike means are counted (the hook's check lets them through)
    report = count(_RatesWithoutHooks(0.25), x, edges)
    assert (report.neurons_not_counted, report.rate_layers) == ((), ("conv",))
    assert report.select(kind="neuron")[0].spikes_out == N * 8


def test_a_comparison_says_how_each_report_was_counted_not_only_the_option():
    # execution="auto" (the default) counts a spiking model event-driven and an ordinary
    # one dense: the comparison names what was done, not "auto" for both.
    spiking, ordinary = _reports()
    assert spiking.options["execution"] == ordinary.options["execution"] == "auto"
    cmp = spiking.compare(ordinary)
    assert (cmp.first_execution, cmp.second_execution) == ("event", "dense")
    assert "event-driven" in cmp.table() and " auto " not in cmp.table()
    dense = count(SpikingGCN(5, 8, 2, 3, T=4).eval(), spike_train((N, 5), 12),
                  undirected_edges(), execution="dense")  # fmt: skip
    assert dense.compare(ordinary).first_execution == "dense"
    assert (spiking.counted_as, dense.counted_as, ordinary.counted_as) == (
        "event",
        "dense",
        "dense",
    )
    assert (spiking + spiking).counted_as == "event"
    assert json.loads(json.dumps(spiking.to_dict()))["counted_as"] == "event"
