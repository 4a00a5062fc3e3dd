"""Where ``benchmarks/energy.py`` takes its models from: the validation-selected
configuration of each sweep record (the models of the tuned table), or a TOML file."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.benchmarks.conftest import load


def _refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        load("energy").main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_a_missing_sweep_record_is_named_before_anything_trains(tmp_path, capsys):
    err = _refused(["--dataset", "PubMed", "--model", "gasnn", "--sweeps", str(tmp_path)], capsys)
    assert f"no sweep record {tmp_path / 'PubMed-gasnn.json'}" in err
    assert "--models gasnn --datasets PubMed" in err


def test_config_and_sweeps_are_exclusive_and_a_missing_config_is_named(tmp_path, capsys):
    assert "not both" in _refused(["--config", "a.toml", "--sweeps", str(tmp_path)], capsys)
    assert f"no file {tmp_path / 'a.toml'}" in _refused(
        ["--config", str(tmp_path / "a.toml")], capsys
    )


def test_an_unfinished_record_or_other_final_seeds_are_refused(tmp_path, capsys, results_copy):
    sweeps = results_copy / "sweeps"
    for name in ("sgcn", "gcn"):
        shutil.copy(sweeps / f"Cora-{name}.json", tmp_path / f"Cora-{name}.json")
    gcn = json.loads((tmp_path / "Cora-gcn.json").read_text())
    gcn["final"]["seeds"] = [s + 1 for s in gcn["final"]["seeds"]]
    (tmp_path / "Cora-gcn.json").write_text(json.dumps(gcn))
    assert "the final evaluations ran on other seeds" in _refused(
        ["--sweeps", str(tmp_path)], capsys
    )
    del gcn["final"]
    (tmp_path / "Cora-gcn.json").write_text(json.dumps(gcn))
    err = _refused(["--sweeps", str(tmp_path)], capsys)
    assert "Cora-gcn.json" in err and "has no final evaluation" in err


def test_a_run_is_compared_with_the_final_evaluation_seed_for_seed(results_copy):
    energy = load("energy")
    from spikegraph.experiments.tune import read_records, selected_config

    sel = selected_config(read_records(results_copy / "sweeps" / "Cora-gcn.json"))
    seed, acc = sel.seeds[3], sel.test_acc[3]
    assert energy.reproduces_final(sel, seed, acc) is True
    assert energy.reproduces_final(sel, seed, acc + 0.001) is False
    assert energy.reproduces_final(sel, 0, acc) is None  # not a seed of the final evaluation
    assert energy.reproduces_final(None, seed, acc) is None  # options from a TOML file
    runs = [
        {"spiking_reproduces_final": True, "ordinary_reproduces_final": False},
        {"spiking_reproduces_final": True, "ordinary_reproduces_final": None},
    ]
    line = energy.reproduction_line({"models": ["sgcn", "gcn"], "runs": runs})
    assert line.endswith("sgcn 2 of 2 seeds, gcn 0 of 1 seeds")
