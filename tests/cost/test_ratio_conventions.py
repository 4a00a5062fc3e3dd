"""The energy ratios of ``spikegraph cost`` say how each model was counted, and never mix
static-input conventions: a row's convention applies to every spiking model of the pair, and
each model's execution (event-driven or dense) is named (audit of the cost command, D1, D2)."""

import json
from pathlib import Path

import pytest

from spikegraph.cli import main
from spikegraph.cost import count
from spikegraph.experiments.cost import energy_ratios, model_cost

from .conftest import node_data


def _energy(run, data, static_input, execution="auto"):
    report = count(
        run.model,
        data.x,
        data.edge_index,
        static_input=static_input,
        execution=execution,
        profile=run.report.profile,
    )
    return report.total.energy_pj


def _rows(ratios):
    return {(r.static_input, r.second_execution): r for r in ratios}


@pytest.fixture(scope="module")
def toy():
    data = node_data()
    sgcn = model_cost("sgcn", data, 2, epochs=0, model_options={"T": 4})
    sgat = model_cost("sgat", data, 2, epochs=0, model_options={"T": 4, "heads": 2})
    gcn = model_cost("gcn", data, 2, epochs=0)
    return data, sgcn, sgat, gcn


def test_both_spiking_models_are_counted_under_the_same_convention(toy):
    data, sgcn, sgat, _ = toy
    rows = _rows(energy_ratios(sgcn, sgat, data, default=("per-step", "event")))
    assert set(rows) == {(c, e) for c in ("per-step", "once") for e in ("dense", "event")}
    for (convention, execution), r in rows.items():
        assert (r.first_static_input, r.second_static_input) == (convention, convention)
        assert (r.first_execution, r.second_execution) == ("event", execution)
        expected = _energy(sgcn, data, convention) / _energy(sgat, data, convention, execution)
        assert r.ratio == pytest.approx(expected, rel=1e-12)
    # the [once] row is once / once, not once / per-step (the defect)
    mixed = _energy(sgcn, data, "once") / _energy(sgat, data, "per-step", "dense")
    assert rows[("once", "dense")].ratio != pytest.approx(mixed, rel=1e-3)
    assert rows[("per-step", "event")].default and sum(r.default for r in rows.values()) == 1
    label = rows[("once", "dense")].describe("sgcn", "sgat")
    assert "sgcn event-driven [once]" in label and "sgat dense [once]" in label


def test_a_spiking_second_model_gets_the_convention(toy):
    data, sgcn, _, gcn = toy
    rows = _rows(energy_ratios(gcn, sgcn, data, default=("once", "event")))
    assert set(rows) == {(c, e) for c in ("per-step", "once") for e in ("dense", "event")}
    for (convention, execution), r in rows.items():
        assert (r.first_static_input, r.second_static_input) == (None, convention)
        assert (r.first_execution, r.second_execution) == ("dense", execution)
        expected = _energy(gcn, data, convention) / _energy(sgcn, data, convention, execution)
        assert r.ratio == pytest.approx(expected, rel=1e-12)
    assert rows[("once", "event")].ratio != pytest.approx(rows[("per-step", "event")].ratio)
    label = rows[("once", "event")].describe("gcn", "sgcn")
    assert "gcn dense (no static spiking input)" in label and "sgcn event-driven [once]" in label
    assert "no static spiking input (both conventions" not in label
    d = json.loads(json.dumps(rows[("once", "event")].to_dict()))
    assert d["first_static_input"] is None and d["second_static_input"] == "once"
    assert d["first_execution"] == "dense" and d["second_execution"] == "event"


def test_no_static_input_anywhere_gives_one_convention(toy):
    data, _, _, gcn = toy
    rows = _rows(energy_ratios(gcn, gcn, data, default=(None, "dense")))
    assert set(rows) == {(None, "dense"), (None, "event")}
    assert rows[(None, "dense")].ratio == pytest.approx(1.0)


def test_the_first_models_execution_is_named(toy):
    data, _, sgat, _ = toy
    dense = model_cost("sgcn", data, 2, epochs=0, model_options={"T": 4}, execution="dense")
    rows = _rows(energy_ratios(dense, sgat, data, default=("per-step", "event")))
    r = rows[("per-step", "event")]
    assert r.first_execution == "dense"
    expected = _energy(dense, data, "per-step", "dense") / _energy(sgat, data, "per-step")
    assert r.ratio == pytest.approx(expected, rel=1e-12)
    assert "sgcn dense [per-step]" in r.describe("sgcn", "sgat")
    assert dense.to_dict()["execution"] == "dense"


def _cost(data_root, tmp_path, monkeypatch, capsys, *options):
    monkeypatch.setenv("SPIKEGRAPH_DATA", str(data_root))
    path = tmp_path / "cost.json"
    args = ["cost", "--dataset", "Cora", "--epochs", "0", "--no-progress", *options]
    assert main([*args, "--json", str(path)]) == 0
    return capsys.readouterr().out, json.loads(Path(path).read_text())


def test_cli_labels_a_spiking_vs_model(data_root, tmp_path, monkeypatch, capsys):
    printed, record = _cost(
        data_root, tmp_path, monkeypatch, capsys, "--model", "gcn", "--vs", "sgcn",
        "--static-input", "once",
    )  # fmt: skip
    headline = [line for line in printed.splitlines() if "(headline)" in line]
    assert len(headline) == 1
    assert "gcn dense" in headline[0] and "sgcn event-driven [once]" in headline[0]
    (row,) = [r for r in record["ratios"] if r["default"]]
    assert row["second_static_input"] == "once" and row["first_static_input"] is None
    assert row["ratio"] == pytest.approx(record["comparison"]["ratios"]["energy"])
    assert record["second"]["execution"] == "event" and record["first"]["execution"] == "dense"
    (counted,) = [line for line in printed.splitlines() if line.startswith("counted as: ")]
    assert counted.startswith("counted as: gcn dense, no static spiking input")
    assert "; sgcn event-driven, static input counted once" in counted


def test_cli_names_the_execution_of_the_first_model(data_root, tmp_path, monkeypatch, capsys):
    printed, record = _cost(
        data_root, tmp_path, monkeypatch, capsys, "--model", "sgcn", "--vs", "gcn",
        "--execution", "dense",
    )  # fmt: skip
    headline = [line for line in printed.splitlines() if "(headline)" in line]
    assert len(headline) == 1 and "sgcn dense [per-step]" in headline[0]
    assert record["first"]["execution"] == "dense"
    assert record["comparison"]["first_execution"] == "dense"
    header = [line.split() for line in printed.splitlines() if line.startswith("execution ")]
    assert header == [["execution", "dense", "dense"]]
