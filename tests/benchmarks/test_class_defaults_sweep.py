"""benchmarks/class_defaults_sweep.py: the ``tuned`` study's candidates come from a sweep
record's validation-selected trial, model options only, and nothing else is read."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks.conftest import load


def record(tmp_path, **final):
    final = {
        "model": "sgcn",
        "dataset": "Cora",
        "trial": 7,
        "fixed": {},
        "params": {
            "T": 16, "dropout": 0.6000000000000001, "hidden_channels": 16, "input_dropout": 0.8,
            "lr": 0.016, "weight_decay": 0.006, "features": "raw", "tau": 4.0,
            "reset": "hard", "norm": "stfn", "rho": 1.5, "encoder": "max-scaled",
        },
        **final,
    }  # fmt: skip
    path = tmp_path / "Cora-sgcn.json"
    path.write_text(json.dumps({"final": final}))
    return path


def test_tuned_candidates_are_the_selected_trials_model_options_without_width(tmp_path):
    sweep = load("class_defaults_sweep")
    cands = sweep.tuned_candidates(record(tmp_path))
    assert list(cands) == ["defaults", "Cora-sgcn sweep, trial 7", "Cora-sgcn sweep, trial 7, T=8"]
    assert cands["defaults"] == {}
    tuned = cands["Cora-sgcn sweep, trial 7"]
    # training options, preprocessing and the width stay PyG's example's
    assert tuned == {
        "T": 16, "dropout": 0.6, "encoder": "max-scaled", "input_dropout": 0.8,
        "norm": "stfn", "reset": "hard", "rho": 1.5, "tau": 4.0,
    }  # fmt: skip
    assert cands["Cora-sgcn sweep, trial 7, T=8"] == {**tuned, "T": 8}


def test_the_candidates_source_names_the_records_space_version_and_commit(tmp_path):
    """A later sweep replaces the record at the same path (its trial 7 another
    configuration), so the results name which record they read."""
    sweep = load("class_defaults_sweep")
    path = record(tmp_path)
    data = json.loads(path.read_text())
    assert sweep.candidates_source(path) == (
        f"{path} (search-space version 1, trials at commit not recorded)"
    )
    data["config"] = {"space_version": 2, "commit": "01f03fb"}
    path.write_text(json.dumps(data))
    assert sweep.candidates_source(path).endswith(
        "(search-space version 2, trials at commit 01f03fb)"
    )


def test_tuned_candidates_keep_the_fixed_options_of_an_ablation(tmp_path):
    sweep = load("class_defaults_sweep")
    path = record(tmp_path, fixed={"norm": "none"})
    data = json.loads(path.read_text())
    del data["final"]["params"]["norm"], data["final"]["params"]["rho"]
    path.write_text(json.dumps(data))
    assert sweep.tuned_candidates(path)["Cora-sgcn sweep, trial 7"]["norm"] == "none"


@pytest.mark.parametrize("final", [{"model": "gcn"}, {"params": None}])
def test_tuned_candidates_refuse_a_record_of_another_model_or_unfinished(tmp_path, final):
    sweep = load("class_defaults_sweep")
    path = record(tmp_path, **final)
    if final.get("params", 0) is None:
        data = json.loads(path.read_text())
        del data["final"]["params"]
        path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="not a finished sweep record of model 'sgcn'"):
        sweep.tuned_candidates(path)


def test_the_committed_record_gives_the_tuned_candidates():
    sweep = load("class_defaults_sweep")
    committed = json.loads(sweep.TUNED_RECORD.read_text())["final"]
    cands = sweep.tuned_candidates()
    tuned = cands[f"Cora-sgcn sweep, trial {committed['trial']}"]
    assert "hidden_channels" not in tuned and "lr" not in tuned
    assert tuned["T"] == committed["params"]["T"]
