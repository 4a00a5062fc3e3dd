"""The committed sweep records still describe what the code computes.

Every Cora cell of the results table's records (``benchmarks/results/sweeps``) has one seed
of one finished trial trained again, and its validation score must equal the recorded one:
a change to the models, the training loop or the data pipeline that moves a committed
number fails here instead of leaving records that the code no longer reproduces. The seed
is the record's cheapest (fewest epochs times time steps times units), so all cells take
about a minute of CPU. On another CPU kind than the trial's (``ran_on``), sums may round
differently in their last bits, which can move a score by one validation node
(:func:`spikegraph.experiments.tune.reproduce_trial`); one node is allowed there. On the kind
the trial ran on, and for records that do not name it (version 1's), the scores must be equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spikegraph.datasets import load_dataset
from spikegraph.experiments import tune

SWEEPS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "sweeps"
RECORDS = sorted(SWEEPS.glob("Cora-*.json"))


def cheapest_seed(records: dict[str, Any]) -> tuple[int, int, float, str | None]:
    """``(trial number, seed, recorded validation score, ran_on)`` of the finished seed
    whose run is the shortest: best epoch plus patience, times ``T`` and the hidden width."""
    patience = records["config"]["budget"]["patience"]
    runs = []
    for trial in records["trials"]:
        if trial["state"] != "COMPLETE":
            continue
        p = trial["params"]
        size = p.get("T", 1) * p.get("hidden_channels", 1) * p.get("heads", 1)
        epochs = trial.get("best_epochs") or [0] * len(trial["seeds"])
        for seed, best, score in zip(trial["seeds"], epochs, trial["val_scores"]):
            runs.append(((best + patience) * size, trial["number"], seed, score))
    assert runs, "a committed record without a finished trial"
    _, number, seed, score = min(runs)
    ran_on = next(t for t in records["trials"] if t["number"] == number).get("ran_on")
    return number, seed, score, ran_on


def test_the_table_has_cora_records_to_check():
    assert len(RECORDS) >= 2, f"no Cora sweep records under {SWEEPS}"
    names = {p.stem for p in RECORDS}
    assert {"Cora-gcn", "Cora-gat", "Cora-sgcn", "Cora-gcsnn"} <= names


def test_the_cheapest_seed_is_taken_from_finished_trials():
    config = {"budget": {"patience": 10}}
    trials = [
        {"number": 0, "state": "COMPLETE", "params": {"T": 8, "hidden_channels": 16},
         "seeds": [0, 1], "best_epochs": [5, 1], "val_scores": [0.5, 0.4], "ran_on": "a"},
        {"number": 1, "state": "FAIL", "params": {}, "seeds": [0], "best_epochs": [0],
         "val_scores": [0.0]},
        {"number": 2, "state": "COMPLETE", "params": {"T": 4, "hidden_channels": 16},
         "seeds": [0, 1], "best_epochs": [30, 2], "val_scores": [0.6, 0.7], "ran_on": "b"},
    ]  # fmt: skip
    # trial 0, seed 1: 11 epochs x 128; trial 2, seed 1: 12 x 64 (cheaper)
    assert cheapest_seed({"config": config, "trials": trials}) == (2, 1, 0.7, "b")


@pytest.mark.slow
@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_a_committed_trial_reproduces_its_validation_score(path, data_root):
    records = tune.read_records(path)
    number, seed, recorded, ran_on = cheapest_seed(records)
    (score,) = tune.probe_trial(records, number, seeds=[seed], root=str(data_root))
    where = f"{path.name}, trial {number}, seed {seed}"
    if ran_on is None or ran_on == tune.ran_on("cpu"):
        assert score == recorded, (
            f"{where}: recorded {recorded} (on {ran_on or 'a machine not recorded'}), now {score}"
        )
    else:
        data, _ = load_dataset("Cora", root=str(data_root), split=records["config"]["split"])
        node = 1 / int(data.val_mask.sum())
        assert abs(score - recorded) <= node + 1e-12, (
            f"{where}: recorded {recorded} on {ran_on}, now {score} on {tune.ran_on('cpu')}"
        )
