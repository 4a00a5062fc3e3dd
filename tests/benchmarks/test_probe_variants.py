"""benchmarks/probe_variants.py: rows of changed trials on validation only, resumed row by
row, and a results file of another configuration refused."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("optuna")

from spikegraph.experiments import tune
from tests.benchmarks.conftest import load
from tests.experiments.test_tune import toy_graph


@pytest.fixture
def probe(monkeypatch):
    data = toy_graph()
    monkeypatch.setattr(tune, "load_dataset", lambda *a, **k: (data, 3))
    return load("probe_variants")


@pytest.fixture
def record(tmp_path, probe):
    """A finished-trials record of the spiking GCN on the toy graph (two trials)."""
    budget = tune.Budget(trials=2, seeds=(0,), epochs=2, patience=None)
    config = tune.StudyConfig("Cora", "sgcn", budget, commit="test")
    records = tune.run_study(config, f"sqlite:///{tmp_path / 'study.db'}", "s")
    path = tmp_path / "Cora-sgcn.json"
    tune.write_records(path, records)
    return path


def argv(out, record, *extra):
    return ["--record", str(record), "--variant", "T=2", "--seeds", "5", "6",
            "--out", str(out), *extra]  # fmt: skip


def test_rows_probe_the_selected_trial_and_its_variants_and_a_rerun_trains_nothing(
    tmp_path, probe, record, monkeypatch, capsys
):
    out = tmp_path / "out"
    assert probe.main(argv(out, record, "--trial", "1")) == 0
    path = out / "probes" / "Cora-sgcn-variants.json"
    result = json.loads(path.read_text())
    rows = result["rows"]
    assert [(r["trial"], r["changes"]) for r in rows] == [(1, {}), (1, {"T": 2})]
    records = tune.read_records(record)
    assert rows[0]["val_acc"] == tune.probe_trial(records, 1, [5, 6])
    assert all(len(r["val_acc"]) == 2 and r["val_mean"] == sum(r["val_acc"]) / 2 for r in rows)
    assert result["config"]["seeds"] == [5, 6]
    text = (out / "probes" / "Cora-sgcn-variants.md").read_text()
    assert "| T=2 |" in text and "| base |" in text and "no test label read" in text
    assert (
        "Validation mean: mean +- population standard deviation (`statistics.pstdev`) over the 2 "
        "seeds." in text
    )
    capsys.readouterr()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished row was trained again")

    monkeypatch.setattr(tune, "probe_trial", no_training)
    assert probe.main(argv(out, record, "--trial", "1")) == 0
    assert json.loads(path.read_text())["rows"] == rows


def test_a_rerun_keeps_a_finished_row_of_several_changes_given_in_any_order(
    tmp_path, probe, record, monkeypatch
):
    """The file stores a row's changes with sorted keys: a variant written ``tau=inf,T=2``
    (not sorted) must still find its finished row, however its keys were ordered."""
    out = tmp_path / "out"
    several = ["--variant", "tau=inf,T=2"]
    assert probe.main(argv(out, record, *several)) == 0
    path = out / "probes" / "Cora-sgcn-variants.json"
    rows = json.loads(path.read_text())["rows"]
    assert rows[-1]["changes"] == {"T": 2, "tau": math.inf}

    def no_training(*args, **kwargs):
        raise AssertionError("a finished row was trained again")

    monkeypatch.setattr(tune, "probe_trial", no_training)
    assert probe.main(argv(out, record, *several)) == 0
    assert probe.main(argv(out, record, "--variant", "T=2,tau=inf")) == 0
    assert json.loads(path.read_text())["rows"] == rows


def test_an_interrupted_probe_resumes_at_the_first_unfinished_row(
    tmp_path, probe, record, monkeypatch
):
    out = tmp_path / "out"
    real = tune.probe_trial
    calls = []

    def stop_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(tune, "probe_trial", stop_second)
    with pytest.raises(KeyboardInterrupt):
        probe.main(argv(out, record))
    path = out / "probes" / "Cora-sgcn-variants.json"
    assert [r["changes"] for r in json.loads(path.read_text())["rows"]] == [{}]
    calls.clear()
    monkeypatch.setattr(tune, "probe_trial", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert probe.main(argv(out, record)) == 0
    assert [a[3] for a in calls] == [{"T": 2}]  # only the unfinished row ran
    assert len(json.loads(path.read_text())["rows"]) == 2


def test_a_probe_file_of_other_seeds_is_refused_naming_them(tmp_path, probe, record, capsys):
    out = tmp_path / "out"
    assert probe.main(argv(out, record)) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        probe.main([*argv(out, record), "--seeds", "7"])
    assert stop.value.code == 2
    assert "another configuration (differs in seeds)" in capsys.readouterr().err


def test_a_bad_variant_or_option_is_named_before_or_when_its_row_runs(
    tmp_path, probe, record, capsys
):
    with pytest.raises(SystemExit):
        probe.main(["--record", str(record), "--variant", "T", "--out", str(tmp_path)])
    assert "'T' is not key=value" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.main(["--record", str(record), "--variant", "nope=1", "--seeds", "5",
                    "--out", str(tmp_path)])  # fmt: skip
    assert "nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.main(["--record", str(tmp_path / "absent.json"), "--out", str(tmp_path)])
    assert "No tuning record" in capsys.readouterr().err


def test_variant_values_parse_as_json_with_infinity_and_strings():
    probe = load("probe_variants")
    assert probe.parse_variant("T=2, tau=inf,surrogate=triangle,rho=0.5") == {
        "T": 2,
        "tau": math.inf,
        "surrogate": "triangle",
        "rho": 0.5,
    }
    with pytest.raises(ValueError, match="'T' is given twice"):
        probe.parse_variant("T=2,T=4")
    assert probe.variant_label({}) == "base"


def test_top_k_rows_are_each_records_best_trials_in_the_selections_order(
    tmp_path, probe, record, capsys
):
    out = tmp_path / "out"
    args = ["--record", str(record), "--reference", str(record), "--top", "2",
            "--seeds", "5", "--out", str(out), "--name", "top"]  # fmt: skip
    assert probe.main(args) == 0
    rows = json.loads((out / "probes" / "top.json").read_text())["rows"]
    records = tune.read_records(record)
    ranked = [t["number"] for t in tune.ranked_trials(records)]
    assert sorted(ranked) == [0, 1] and ranked[0] == tune.best_trial(records)["number"]
    assert [(r["trial"], r["changes"]) for r in rows] == [(n, {}) for n in ranked * 2]
    assert rows[1]["val_acc"] == tune.probe_trial(records, ranked[1], [5])
    capsys.readouterr()
    for bad, msg in ((["--top", "3"], "has 2 finished trials, not 3"),
                     (["--top", "0"], "--top 0: needs K >= 1"),
                     (["--top", "1", "--variant", "T=2"], "no --variant or --trial")):  # fmt: skip
        with pytest.raises(SystemExit):
            probe.main(["--record", str(record), "--out", str(tmp_path), *bad])
        assert msg in capsys.readouterr().err


def test_ranked_trials_put_the_best_first_and_the_earlier_first_among_equals():
    budget = tune.Budget(trials=4, seeds=(0,))
    trials = [
        {"number": 0, "state": "COMPLETE", "value": 0.5},
        {"number": 1, "state": "FAIL", "value": None},
        {"number": 2, "state": "COMPLETE", "value": 0.7},
        {"number": 3, "state": "COMPLETE", "value": 0.5},
    ]
    records = {"config": {"budget": budget.to_dict()}, "trials": trials}
    assert [t["number"] for t in tune.ranked_trials(records)] == [2, 0, 3]
    assert tune.best_trial(records)["number"] == 2


def test_seeds_the_selection_read_are_refused_naming_them(tmp_path, probe, record, capsys):
    """Tuning, re-scoring and final seeds chose the cell: a probe on them would re-read the
    scores the selection favoured; the default seeds are none of the protocol's."""
    records = tune.read_records(record)
    records["rescore"] = {"rule": {"top": 2, "seeds": [10, 11]}, "trial": 0}
    records["final"] = {"seeds": [100, 101], "trial": 0}
    tune.write_records(record, records)
    for seeds, used in ((["0", "5"], "[0]"), (["11"], "[11]"), (["101", "100"], "[100, 101]")):
        with pytest.raises(SystemExit):
            probe.main(["--record", str(record), "--seeds", *seeds, "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert f"--seeds {used} chose {record}'s configuration" in err
    # a reference's selection seeds are refused too
    with pytest.raises(SystemExit):
        probe.main(["--record", str(record), "--reference", str(record), "--seeds", "10",
                    "--out", str(tmp_path)])  # fmt: skip
    assert "--seeds [10] chose" in capsys.readouterr().err
    protocol = {*tune.Budget(trials=1).seeds, *tune.RESCORE_SEEDS, *tune.FINAL_SEEDS}
    assert not protocol & set(probe.DEFAULT_SEEDS)
