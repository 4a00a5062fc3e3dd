"""A sweep stopped by Ctrl-C and resumed draws the parameters an uninterrupted sweep draws:
the sampler of a new trial is seeded by the number of new (not retried) trials drawn before
it, so the retry of the stopped trial does not shift the draws after it."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")

from spikegraph.experiments import tune  # noqa: E402
from tests.experiments.test_tune import config, interrupt_call, url  # noqa: E402


def counted_params(records):
    by_number = {t["number"]: t for t in records["trials"]}
    return [by_number[n]["params"] for n in records["counted"]]


@pytest.mark.parametrize("stop_at", [1, 2, 3])
def test_an_interrupted_and_resumed_sweep_draws_the_uninterrupted_sequence(
    tmp_path, toy, monkeypatch, stop_at
):
    whole = tune.run_study(config(trials=3), url(tmp_path, "whole.db"), "s")
    interrupt_call(monkeypatch, stop_at)  # Ctrl-C during trial stop_at - 1
    with pytest.raises(KeyboardInterrupt):
        tune.run_study(config(trials=3), url(tmp_path), "s")
    resumed = tune.run_study(config(trials=3), url(tmp_path), "s")
    states = [t["state"] for t in resumed["trials"]]
    assert states.count("FAIL") == 1 and len(states) == 4, states
    assert counted_params(resumed) == counted_params(whole)
    # the same parameters, hence (same code, same machine) the same scores and selection
    assert [t["value"] for t in resumed["trials"] if t["state"] == "COMPLETE"] == [
        t["value"] for t in whole["trials"]
    ]
    assert resumed["best"]["params"] == whole["best"]["params"]


def test_a_sweep_resumed_from_its_record_elsewhere_draws_the_uninterrupted_sequence(
    tmp_path, toy, monkeypatch
):
    whole = tune.run_study(config(trials=3), url(tmp_path, "whole.db"), "s")
    kept = []
    interrupt_call(monkeypatch, 1)  # Ctrl-C in the first trial
    with pytest.raises(KeyboardInterrupt):
        tune.run_study(config(trials=3), url(tmp_path, "a.db"), "s")
    study = optuna.load_study(study_name="s", storage=url(tmp_path, "a.db"))
    kept.append(tune.study_records(study, config(trials=3)))
    # another machine, a fresh database: the record's trials come back, retry included
    resumed = tune.run_study(config(trials=3), url(tmp_path, "b.db"), "s", resume_from=kept[0])
    assert counted_params(resumed) == counted_params(whole)


def test_the_sampler_seed_index_counts_new_trials_only():
    fresh = {"number": 0, "state": "FAIL"}
    retry = {"number": 1, "state": "COMPLETE", "failed_trial": 0}
    assert tune.fresh_trial_count([]) == 0
    assert tune.fresh_trial_count([fresh, retry]) == 1
    assert tune.fresh_trial_count([fresh, retry, {"number": 2, "state": "COMPLETE"}]) == 2
