"""spikegraph.experiments.tune: validation-only tuning with Optuna, resumable studies, records
that reproduce their trials, and the final evaluation on fresh seeds."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import warnings
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

optuna = pytest.importorskip("optuna")

from spikegraph import _provenance as provenance  # noqa: E402
from spikegraph.cli import main  # noqa: E402
from spikegraph.experiments import tune  # noqa: E402
from spikegraph.models import MODELS, model_option_names  # noqa: E402
from spikegraph.models.search_space import (  # noqa: E402
    SEARCH_SPACES,
    SPACE_VERSION,
    SPACE_VERSIONS,
    Param,
    equivalent_versions,
    search_space,
    split_params,
)
from spikegraph.train.trainer import TrainConfig  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def toy_graph(seed: int = 0, num_nodes: int = 60, classes: int = 3) -> Data:
    """A small graph whose labels follow its features (learnable in a few epochs)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % classes
    x = torch.rand(num_nodes, 6, generator=g)
    x[torch.arange(num_nodes), y] += 1.0
    src = torch.randint(0, num_nodes, (200,), generator=g)
    dst = torch.randint(0, num_nodes, (200,), generator=g)
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    part = torch.randperm(num_nodes, generator=g) % 3  # every class in every split
    masks = {name: part == k for k, name in enumerate(("train", "val", "test"))}
    return Data(
        x=x,
        edge_index=edge_index,
        y=y,
        train_mask=masks["train"],
        val_mask=masks["val"],
        test_mask=masks["test"],
    )


def config(model="gcn", trials=2, seeds=(0,), epochs=2, **kw) -> tune.StudyConfig:
    budget = tune.Budget(trials=trials, seeds=seeds, epochs=epochs, patience=None)
    return tune.StudyConfig("Cora", model, budget, commit="test", **kw)


def url(tmp_path, name="study.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def scores(records):
    return [
        (t["number"], t["state"], t["params"], t["val_scores"], t["value"])
        for t in records["trials"]
    ]


def interrupt_call(monkeypatch, n: int) -> list[int]:
    """Make ``tune.train_runs`` raise KeyboardInterrupt (Ctrl-C) at its ``n``-th call and
    train at the others; returns the list that counts the calls."""
    real, calls = tune.train_runs, []

    def train_runs(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(tune, "train_runs", train_runs)
    return calls


# ----------------------------------------------------------------------------- search spaces
@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_registered_model_declares_a_search_space_of_options_it_takes(model):
    space = search_space(model)
    valid = set(model_option_names(model))
    train = {f.name for f in dataclasses.fields(TrainConfig)}
    for p in space:
        where = {"model": valid, "train": train, "data": {"features"}}[p.target]
        assert p.name in where, (model, p)
    names = [p.name for p in space]
    assert len(names) == len(set(names)), names


def test_every_model_searches_the_same_shared_options_over_the_same_ranges():
    # The same optimisation options and preprocessing choice for every family: none is
    # searched more finely than another.
    shared = ("lr", "weight_decay", "dropout", "hidden_channels", "features")
    reference = {p.name: p for p in SEARCH_SPACES["gcn"]}
    for model, space in SEARCH_SPACES.items():
        by_name = {p.name: p for p in space}
        for name in shared:
            assert by_name[name] == reference[name], (model, name)
    assert set(reference["features"].choices) == {"raw", "row-normalised"}


def test_spiking_spaces_tune_time_steps_and_rho_only_under_a_normalisation():
    for model in ("sgcn", "sgat", "stfn-sgcn", "stfn-sgat"):
        by_name = {p.name: p for p in search_space(model)}
        assert "T" in by_name and by_name["rho"].when == ("norm", ("stfn", "tdbn"))
    assert "tau" in {p.name for p in search_space("sgcn")}
    assert "tau" not in {p.name for p in search_space("stfn-sgcn")}  # the paper's neuron, fixed


def test_lif_sgat_searches_sgats_space_less_the_neuron_normalisation_and_encoder():
    # The spiking GCN's neuron held, no normalisation: no neuron option, no scale drawn; the
    # encoder held at the class default (the other choice is dead or void without a scale).
    held = {"tau", "reset", "norm", "rho", "encoder"}
    sgat = [p for p in search_space("sgat") if p.name not in held]
    assert list(search_space("lif-sgat")) == sgat
    config = tune.StudyConfig("CiteSeer", "lif-sgat", tune.Budget(trials=1))
    assert {p.name for p in config.space}.isdisjoint(held | {"v_threshold"})
    assert MODELS["lif-sgat"][1]["encoder"] == "max-scaled"
    # The spaces that keep the encoder choice have a normalisation or a threshold to scale.
    for model in ("sgcn", "sgat", "stfn-sgcn", "stfn-sgat", "gcsnn", "gasnn"):
        names = {p.name for p in search_space(model)}
        assert "encoder" in names and names & {"rho", "v_threshold"}


def test_lif_sgats_held_encoder_fires_where_the_dropped_choice_is_silent(data_root):
    # The defect of lif-sgat's first space: "auto" on row-normalised features gives currents
    # far below the threshold, so the hidden layer never fires (every such trial of its
    # first sweep predicted one class); "max-scaled" gives raw and row-normalised features
    # the same input, which fires at initialisation.
    from spikegraph.datasets import load_dataset
    from spikegraph.models import build_model
    from spikegraph.nn.encoding import max_scale
    from spikegraph.nn.monitor import SpikeMonitor

    data, classes = load_dataset("CiteSeer", root=data_root)
    rownorm = tune.preprocess_features(data, "row-normalised")
    torch.testing.assert_close(max_scale(rownorm.x), max_scale(data.x))
    rates = {}
    for encoder in ("auto", "max-scaled"):
        torch.manual_seed(0)
        model = build_model("lif-sgat", data.num_features, classes, encoder=encoder).eval()
        with SpikeMonitor(model) as mon, torch.no_grad():
            model(rownorm.x, rownorm.edge_index)
        rates[encoder] = mon.firing_rates()["convs.0"]
    assert rates["auto"] == 0.0
    assert rates["max-scaled"] > 0.0  # sparse at initialisation (~3e-4), but not silent


def test_conditional_rho_is_drawn_only_when_its_normalisation_is_used():
    fixed = {"lr": 0.01, "weight_decay": 1e-4, "dropout": 0.5, "hidden_channels": 16}
    fixed |= {"features": "raw", "input_dropout": 0.5, "T": 4, "tau": 2.0, "reset": "soft"}
    fixed |= {"encoder": "max-scaled"}
    for norm, has_rho in (("none", False), ("stfn", True)):
        trial = optuna.trial.FixedTrial({**fixed, "norm": norm, "rho": 1.0})
        params = tune.sample_params(trial, "sgcn")
        assert ("rho" in params) is has_rho, params
    # stfn-sgcn does not tune norm: its preset's "stfn" makes rho active.
    stfn = {k: v for k, v in fixed.items() if k not in ("tau", "reset")}
    params = tune.sample_params(optuna.trial.FixedTrial({**stfn, "rho": 2.0}), "stfn-sgcn")
    assert params["rho"] == 2.0


def test_search_space_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"Unknown model 'nope'"):
        search_space("nope")
    with pytest.raises(ValueError, match=r"Param 'x': a log range needs low > 0"):
        Param("x", "train", 0.0, 1.0, log=True)
    with pytest.raises(ValueError, match=r"Parameter 'bogus' is not in the search space"):
        split_params({"bogus": 1}, search_space("gcn"))


def test_a_new_space_version_only_widens_numeric_ranges_for_every_model_alike():
    """Version 2 keeps version 1's parameters, targets, conditions and choices, and widens
    the same ranges the same way in every model's space (one protocol for all)."""
    assert SEARCH_SPACES is SPACE_VERSIONS[SPACE_VERSION] and SPACE_VERSION == 3
    old, new = SPACE_VERSIONS[1], SPACE_VERSIONS[2]
    assert old.keys() == new.keys()
    bounds: dict[str, set] = {}
    for model in old:
        assert [p.name for p in old[model]] == [p.name for p in new[model]], model
        for a, b in zip(old[model], new[model]):
            assert dataclasses.replace(b, low=a.low, high=a.high) == a, (model, a.name)
            if a.choices:
                continue
            assert b.low <= a.low and b.high >= a.high, (model, a.name)
            bounds.setdefault(a.name, set()).add((b.low, b.high))
    assert all(len(v) == 1 for v in bounds.values()), bounds  # the same range in every model
    assert bounds["weight_decay"] == {(1e-7, 0.1)} and bounds["lr"] == {(1e-3, 0.1)}
    assert bounds["dropout"] == bounds["input_dropout"] == {(0.0, 0.9)}
    assert bounds["rho"] == {(0.1, 10.0)} and bounds["v_threshold"] == {(0.01, 1.0)}
    with pytest.raises(ValueError, match=r"Unknown search-space version 4; expected one of"):
        search_space("gcn", 4)


def test_version_3_gives_the_ordinary_models_the_spiking_models_input_dropout_only():
    """Version 3 adds to gcn's and gat's spaces the input dropout the spiking models tune
    (the same range), and leaves every other space as version 2 declared it; the spiking
    models' version-2 studies belong to version 3 too, the baselines' do not."""
    v2, v3 = SPACE_VERSIONS[2], SPACE_VERSIONS[3]
    assert v2.keys() == v3.keys()
    spiking = search_space("sgcn", 3)
    (dropout_in,) = [p for p in spiking if p.name == "input_dropout"]
    for model in v3:
        if model in ("gcn", "gat"):
            assert v3[model] == (*v2[model], dropout_in), model
            assert equivalent_versions(model, 2) == (2,)
            assert equivalent_versions(model, 3) == (3,)
        else:
            assert v3[model] == v2[model], model
            assert equivalent_versions(model, 2) == equivalent_versions(model, 3) == (2, 3)
        assert equivalent_versions(model, 1) == (1,), model
    assert all(p.name == "input_dropout" for m in v3 for p in v3[m] if p.name.startswith("inp"))
    assert (dropout_in.low, dropout_in.high, dropout_in.step) == (0.0, 0.9, 0.1)


def test_records_name_their_space_version_and_old_records_still_load():
    """A study of the current space names its version; one of version 1 (every record
    made before versions existed) does not, and loads as version 1: its settings are
    outside the current ranges (weight decay 0.0099 was the old bound), not refused."""
    now, before = config("sgcn").to_dict(), config("sgcn", space_version=1).to_dict()
    assert now["space_version"] == 3 and "space_version" not in before
    assert tune.StudyConfig.from_dict(before).space_version == 1
    assert tune.StudyConfig.from_dict(now).space_version == 3
    by_name = {p["name"]: p for p in now["space"]}
    assert by_name["weight_decay"]["high"] == 0.1
    assert {p["name"]: p for p in before["space"]}["weight_decay"]["high"] == 0.01
    # a record claiming the current version with the old ranges is refused, and so is the
    # reverse: the version and the ranges are checked together
    with pytest.raises(tune.StudyMismatchError, match=r"record's configuration differs"):
        tune.StudyConfig.from_dict({**before, "space_version": 2})
    with pytest.raises(tune.StudyMismatchError, match=r"record's configuration differs"):
        tune.StudyConfig.from_dict({k: v for k, v in now.items() if k != "space_version"})
    # a committed record of version 1 loads, and its selection is read under its own space
    committed = Path(__file__).parents[2] / "benchmarks/results/sweeps/CiteSeer-sgcn.json"
    records = tune.read_records(committed)
    assert "space_version" not in records["config"]
    chosen = tune.selected_config(records)
    assert chosen.train_options["weight_decay"] == records["final"]["params"]["weight_decay"]


def test_records_of_two_space_versions_never_share_a_table():
    def rec(study, version, model="gcn"):
        cfg = config(model, space_version=version).to_dict()
        return {"study": study, "config": cfg, "trials": []}

    tune.check_comparable([rec("a", 1), rec("b", 1)])
    with pytest.raises(
        tune.StudyMismatchError,
        match=r"searched no one search-space version .*'a': 1; 'b': 2\)",
    ):
        tune.check_comparable([rec("a", 1), rec("b", 2)], allow_mixed_commits=True)
    with pytest.raises(tune.StudyMismatchError, match=r"'a': 2; 'b': 3\)"):
        tune.check_comparable([rec("a", 2), rec("b", 3)])


def test_a_record_of_a_version_that_left_its_space_unchanged_shares_the_later_table():
    """A version-2 study of a spiking model searched exactly its version-3 space: it stands
    beside version-3 baselines, and the table is of version 3; a version-2 baseline (whose
    space version 3 changed) does not."""

    def rec(study, version, model):
        cfg = config(model, space_version=version).to_dict()
        return {"study": study, "config": cfg, "trials": []}

    spiking, ordinary = rec("s", 2, "sgcn"), rec("g", 3, "gcn")
    tune.check_comparable([spiking, ordinary])
    assert tune.record_space_versions(spiking) == (2, 3)
    assert tune.common_space_version([spiking, ordinary]) == 3
    assert tune.common_space_version([spiking, rec("g2", 2, "gcn")]) == 2
    assert tune.common_space_version([]) is None
    with pytest.raises(tune.StudyMismatchError, match=r"'s': 2, 3; 'g': 3; 'g2': 2\)"):
        tune.check_comparable([spiking, ordinary, rec("g2", 2, "gcn")])


def test_a_study_of_the_old_space_draws_from_the_old_ranges(tmp_path, toy):
    """A version-1 study (resuming an old record, say) draws and restores trials under the
    version-1 distributions, so Optuna never sees two ranges for one parameter."""
    old = config("gcn", trials=2, space_version=1)
    records = tune.run_study(old, url(tmp_path), "s")
    assert "space_version" not in records["config"]
    for t in records["trials"]:
        assert 1e-6 <= t["params"]["weight_decay"] <= 1e-2 and t["params"]["dropout"] <= 0.8
    part = json.loads(json.dumps({**records, "trials": records["trials"][:1]}))
    part.pop("best", None)
    resumed = tune.run_study(old, url(tmp_path, "fresh.db"), "s", resume_from=part)
    assert scores(resumed)[0] == scores(records)[0]
    stored = optuna.load_study(study_name="s", storage=url(tmp_path, "fresh.db")).trials
    for t in stored:  # the restored trial and the one drawn after it: one range
        assert t.distributions["weight_decay"].high == 1e-2, t.number
        assert t.distributions["dropout"].high == 0.8, t.number


# ----------------------------------------------------------------------------- data
def test_row_normalised_features_sum_to_one_and_raw_is_untouched():
    data = toy_graph()
    assert tune.preprocess_features(data, "raw") is data
    out = tune.preprocess_features(data, "row-normalised")
    torch.testing.assert_close(out.x.sum(-1), torch.ones(data.num_nodes))
    assert not torch.equal(data.x, out.x)  # the caller's graph is left as it was
    with pytest.raises(ValueError, match=r"'features' must be one of .* got 'l2'"):
        tune.preprocess_features(data, "l2")


def test_hidden_graph_holds_no_test_label():
    data = toy_graph()
    hidden = tune.hide_test_labels(data)
    test_only = data.test_mask & ~(data.train_mask | data.val_mask)
    assert (hidden.y[test_only] == -1).all()
    assert torch.equal(hidden.y[~test_only], data.y[~test_only])
    assert torch.equal(hidden.test_mask, data.val_mask)
    assert (data.y >= 0).all()  # the original is unchanged


# ----------------------------------------------------------------------------- the objective
def test_tuning_reads_no_test_label(tmp_path, monkeypatch):
    """Poisoned test labels leave every trial's parameters and scores unchanged, and every
    graph trained on during tuning has its test labels hidden."""
    seen = []
    real_fit = tune.fit

    def spy_fit(net, data, cfg):
        seen.append(data)
        return real_fit(net, data, cfg)

    monkeypatch.setattr(tune, "fit", spy_fit)
    results = []
    for poison in (False, True):
        data = toy_graph()
        if poison:
            data.y = torch.where(data.test_mask, (data.y + 1) % 3, data.y)
        monkeypatch.setattr(tune, "load_dataset", lambda *a, data=data, **k: (data, 3))
        records = tune.run_study(config(trials=3), url(tmp_path, f"{poison}.db"), "s")
        results.append(scores(records))
    assert results[0] == results[1]
    assert len(seen) == 6
    for data in seen:
        assert (data.y[data.test_mask] == data.y[data.val_mask]).all()
        assert torch.equal(data.test_mask, data.val_mask)
        assert int((data.y == -1).sum()) == int(toy_graph().test_mask.sum())


def test_a_trial_scores_the_mean_best_validation_accuracy_of_its_seeds(tmp_path, toy):
    records = tune.run_study(config(trials=1, seeds=(3, 5)), url(tmp_path), "s")
    (trial,) = records["trials"]
    assert trial["seeds"] == [3, 5] and len(trial["val_scores"]) == 2
    assert trial["value"] == pytest.approx(sum(trial["val_scores"]) / 2)
    runs = tune.train_runs(tune.hide_test_labels(toy), 3, "gcn", trial["params"], [3, 5], 2, None)
    assert [r.val_acc for r in runs] == trial["val_scores"]
    assert [max(h["val"] for h in r.history) for r in runs] == trial["val_scores"]


def test_same_sampler_seed_draws_the_same_trials(tmp_path, toy):
    a = tune.run_study(config(trials=3), url(tmp_path, "a.db"), "s")
    b = tune.run_study(config(trials=3), url(tmp_path, "b.db"), "s")
    c = tune.run_study(config(trials=3, sampler_seed=1), url(tmp_path, "c.db"), "s")
    assert scores(a) == scores(b)
    assert [t["params"] for t in a["trials"]] != [t["params"] for t in c["trials"]]


def test_a_diverging_trial_counts_as_pruned_without_a_score(tmp_path, toy, monkeypatch):
    calls = []

    def diverge(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise tune.NonFiniteLossError("The training loss is nan at epoch 1")
        return real(*args, **kwargs)

    real = tune.train_runs
    monkeypatch.setattr(tune, "train_runs", diverge)
    records = tune.run_study(config(trials=2), url(tmp_path), "s")
    assert [t["state"] for t in records["trials"]] == ["PRUNED", "COMPLETE"]
    assert "nan" in records["trials"][0]["diverged"]
    assert records["counted"] == [0, 1] and records["best"]["number"] == 1


# ----------------------------------------------------------------------------- resume
def test_an_interrupted_sweep_resumes_keeping_finished_trials(tmp_path, toy, monkeypatch):
    calls = interrupt_call(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        tune.run_study(config(trials=3), url(tmp_path), "s")
    first = optuna.load_study(study_name="s", storage=url(tmp_path)).trials
    # the interrupted trial failed, and its retry (same parameters) waits for the next run
    assert [t.state.name for t in first] == ["COMPLETE", "FAIL", "WAITING"]
    assert first[2].params == first[1].params
    records = tune.run_study(config(trials=3), url(tmp_path), "s")
    states = [t["state"] for t in records["trials"]]
    assert states == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert records["counted"] == [0, 2, 3]  # the failed trial is not counted
    assert records["trials"][2]["failed_trial"] == 1
    assert records["trials"][2]["params"] == first[1].params
    # Each new trial's sampler is seeded by the new trials before it: a resumed worker
    # draws new settings, not the first trial's again.
    drawn = [json.dumps(records["trials"][n]["params"], sort_keys=True) for n in (0, 2, 3)]
    assert len(set(drawn)) == 3, drawn
    kept = records["trials"][0]
    assert (kept["params"], kept["value"]) == (first[0].params, first[0].value)
    assert len(calls) == 4  # the finished trial was not trained again
    again = tune.run_study(config(trials=3), url(tmp_path), "s")  # a finished study: no work
    assert scores(again) == scores(records) and len(calls) == 4


@pytest.fixture
def clean_checkout(monkeypatch):
    """The code is named by a clean commit (the test suite may run from a checkout with
    uncommitted changes, whose kept seed runs are never used)."""
    monkeypatch.setattr(provenance, "source_commit", lambda: "0123abc")
    monkeypatch.setattr(tune, "source_commit", lambda: "0123abc")


def test_an_interrupted_trial_is_retried_training_only_its_unfinished_seeds(
    tmp_path, toy, monkeypatch, clean_checkout
):
    cfg = config(trials=2, seeds=(0, 1, 2))
    whole = tune.run_study(cfg, url(tmp_path, "whole.db"), "s")
    calls = interrupt_call(monkeypatch, 3)  # Ctrl-C during the first trial's third seed
    with pytest.raises(KeyboardInterrupt):
        tune.run_study(cfg, url(tmp_path), "s")
    (failed,) = [t for t in optuna.load_study(study_name="s", storage=url(tmp_path)).trials
                 if t.state.name == "FAIL"]  # fmt: skip
    assert [r["seed"] for r in failed.user_attrs["seed_runs"]["runs"]] == [0, 1]
    records = tune.run_study(cfg, url(tmp_path), "s")
    assert len(calls) == 3 + 1 + 3  # the retry trained seed 2 alone, then a new trial ran
    retried = records["trials"][1]
    assert (retried["failed_trial"], retried["state"]) == (0, "COMPLETE")
    # the kept seeds and the one trained now give the uninterrupted trial's numbers
    assert retried["params"] == whole["trials"][0]["params"]
    assert retried["val_scores"] == whole["trials"][0]["val_scores"]
    assert retried["best_epochs"] == whole["trials"][0]["best_epochs"]
    assert retried["value"] == whole["trials"][0]["value"]
    # a finished trial's record lists its scores, not the stopped attempt's seeds
    assert "seed_runs" not in retried and records["trials"][0]["seed_runs"]["runs"]


def test_a_record_written_mid_trial_resumes_it_on_another_machine(
    tmp_path, toy, monkeypatch, clean_checkout
):
    cfg = config(trials=1, seeds=(0, 1, 2))
    whole = tune.run_study(cfg, url(tmp_path, "whole.db"), "s")
    seen = []

    def killed_after_the_first_seed(records):
        seen.append(json.loads(json.dumps(records)))  # as committed: through JSON
        raise _SweepStoppedError

    with pytest.raises(_SweepStoppedError):
        tune.run_study(cfg, url(tmp_path, "first.db"), "s", on_seed=killed_after_the_first_seed)
    (part,) = seen
    (running,) = part["trials"]
    assert running["state"] == "RUNNING"
    assert [r["seed"] for r in running["seed_runs"]["runs"]] == [0]
    assert running["seed_runs"]["ran_on"] == tune.ran_on("cpu")
    real, trained = tune.train_runs, []
    monkeypatch.setattr(tune, "train_runs", lambda *a, **k: trained.extend(a[4]) or real(*a, **k))
    resumed = tune.run_study(cfg, url(tmp_path, "second.db"), "s", resume_from=part)
    assert trained == [1, 2]  # seed 0 came back from the record
    assert resumed["counted"] == [1] and resumed["trials"][1]["failed_trial"] == 0
    assert resumed["trials"][1]["val_scores"] == whole["trials"][0]["val_scores"]
    assert resumed["best"]["value"] == whole["best"]["value"]


def test_kept_seed_runs_are_used_only_when_training_again_would_give_them(recwarn):
    here, code = "cpu: znver5, AVX512", {"commit": "0123abc", "versions": {"torch": "2.13.0"}}
    runs = [
        {"seed": 0, "val_acc": 0.5, "best_epoch": 3},
        {"seed": 7, "val_acc": 0.6, "best_epoch": 1},
    ]
    kept = {"code": code, "ran_on": here, "runs": runs}
    assert tune.kept_seed_runs(kept, [0, 1, 2], here, code) == {0: runs[0]}  # seed 7: not ours
    assert tune.kept_seed_runs(None, [0], here, code) == {}
    assert not recwarn.list
    other_commit = {**code, "commit": "4567def"}
    other_versions = {**code, "versions": {"torch": "2.12.0"}}
    dirty = {**code, "commit": "0123abc + uncommitted changes"}
    cases = [
        ({**kept, "ran_on": "cpu: skylake, AVX2"}, code, "'cpu: skylake, AVX2'"),
        (kept, other_commit, "other code"),
        (kept, other_versions, "other code"),
        ({**kept, "code": dirty}, dirty, "uncommitted changes"),
    ]
    for stored, now, why in cases:
        with pytest.warns(UserWarning, match="2 finished seed run") as caught:
            assert tune.kept_seed_runs(stored, [0, 1, 2], here, now) == {}
        assert why in str(caught[0].message)


class _SweepStoppedError(Exception):
    """Raised by a test's ``on_trial`` to stop a sweep between trials."""


def _stopped_after(n, cfg, storage, resume_from=None):
    """The records written by ``on_trial`` when the sweep is stopped after its n-th trial."""
    seen = []

    def keep(records):
        seen.append(records)
        if len(seen) == n:
            raise _SweepStoppedError

    with pytest.raises(_SweepStoppedError):
        tune.run_study(cfg, storage, "s", resume_from=resume_from, on_trial=keep)
    return json.loads(json.dumps(seen[-1]))  # as committed: through JSON


def test_a_sweep_resumes_from_its_record_where_its_database_is_gone(tmp_path, toy, monkeypatch):
    """A record is what a machine keeps of a sweep; its database is scratch. Resumed from
    the record alone (a fresh database), the sweep draws the trials it would have drawn
    without the stop: TPE's first ten trials are random, the last two model the first."""
    cfg = config(trials=12)
    whole = tune.run_study(cfg, url(tmp_path, "whole.db"), "s")
    part = _stopped_after(7, cfg, url(tmp_path, "first-machine.db"))
    assert [t["state"] for t in part["trials"]] == ["COMPLETE"] * 7 and "final" not in part
    # each trial names the hardware it ran on; restored trials keep the record's
    assert {t["ran_on"] for t in part["trials"]} == {tune.ran_on("cpu")}
    part["trials"][0]["ran_on"] = "cpu: another-machine, AVX2"
    real, calls = tune.train_runs, []
    monkeypatch.setattr(tune, "train_runs", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = tune.run_study(cfg, url(tmp_path, "second-machine.db"), "s", resume_from=part)
    assert len(calls) == 5  # the seven recorded trials were not trained again
    assert scores(resumed) == scores(whole)
    # the same best trial (its hardware label aside: trial 0's was rewritten above)
    unlabelled = [{k: v for k, v in r["best"].items() if k != "ran_on"} for r in (resumed, whole)]
    assert unlabelled[0] == unlabelled[1]
    assert resumed["trials"][0]["ran_on"] == "cpu: another-machine, AVX2"
    assert resumed["trials"][11]["ran_on"] == tune.ran_on("cpu")
    # the database that still holds them resumes with the record too (a no-op check)
    again = tune.run_study(cfg, url(tmp_path, "second-machine.db"), "s", resume_from=part)
    assert scores(again) == scores(whole) and len(calls) == 5


def test_ran_on_names_the_resolved_device_and_refuses_bad_ones():
    assert tune.ran_on("auto") == tune.ran_on("cuda" if torch.cuda.is_available() else "cpu")
    assert tune.ran_on("cpu").startswith("cpu: ")
    with pytest.raises(ValueError, match="nonsense"):
        tune.ran_on("nonsense")


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_a_recorded_running_trial_is_failed_and_retried_with_its_parameters(tmp_path, toy):
    cfg = config(trials=2)
    study = tune.open_study(url(tmp_path, "first.db"), "s", cfg)
    trial = study.ask()  # its worker, on the first machine, never finishes it
    params = tune.sample_params(trial, "gcn")
    part = json.loads(json.dumps(tune.study_records(study, cfg)))
    assert [t["state"] for t in part["trials"]] == ["RUNNING"]
    # restored without running: the retry waits, and a record of that moment keeps it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # quietly: Optuna's experimental retry is expected
        second = tune.open_study(url(tmp_path, "second.db"), "s", cfg, resume_from=part)
    waiting = json.loads(json.dumps(tune.study_records(second, cfg)))
    assert [t["state"] for t in waiting["trials"]] == ["FAIL", "WAITING"]
    records = tune.run_study(cfg, url(tmp_path, "third.db"), "s", resume_from=waiting)
    assert records["trials"][0]["state"] == "FAIL"
    retried = records["trials"][1]
    assert retried["failed_trial"] == 0 and retried["params"] == params
    assert retried["state"] == "COMPLETE" and 0 not in records["counted"]


def test_a_record_of_another_configuration_or_history_is_refused(tmp_path, toy):
    cfg = config(trials=3)
    part = _stopped_after(1, cfg, url(tmp_path, "a.db"))
    moved = dataclasses.replace(cfg, commit="other")
    with pytest.raises(tune.StudyMismatchError, match=r"commit: stored 'test', now 'other'"):
        tune.run_study(moved, url(tmp_path, "b.db"), "s", resume_from=part)
    # nothing was created in the storage by the refused resume
    assert optuna.get_all_study_names(url(tmp_path, "b.db")) == []
    other = _stopped_after(1, config(trials=3, sampler_seed=5), url(tmp_path, "c.db"))
    other["config"] = part["config"]  # same configuration, another history
    with pytest.raises(tune.StudyMismatchError, match=r"its trial 0 differs from the record"):
        tune.run_study(cfg, url(tmp_path, "a.db"), "s", resume_from=other)
    gappy = {**part, "trials": [{**part["trials"][0], "number": 3}]}
    with pytest.raises(ValueError, match=r"trial numbers are not 0\.\.0: \[3\]"):
        tune.run_study(cfg, url(tmp_path, "d.db"), "s", resume_from=gappy)


def test_a_joining_worker_waits_for_the_creator_to_restore_the_record(tmp_path, toy):
    """Two workers started at once on a fresh machine: only the one that creates the study
    restores the record; the other waits for it and never sees a half-restored study."""
    import threading

    cfg = config(trials=4)
    part = _stopped_after(2, cfg, url(tmp_path, "first.db"))
    slow, real = threading.Event(), tune.restore_trials

    def restore_slowly(study, records, config):
        slow.set()
        time.sleep(1.0)
        return real(study, records, config)

    out = {}
    try:
        tune.restore_trials = restore_slowly
        creator = threading.Thread(
            target=lambda: out.setdefault("a", tune.open_study(url(tmp_path), "s", cfg, 5, part))
        )
        creator.start()
        slow.wait(10)
        joined = tune.open_study(url(tmp_path), "s", cfg, 5, part)
        creator.join()
    finally:
        tune.restore_trials = real
    assert len(joined.get_trials()) == 2 == len(out["a"].get_trials())


def test_a_study_whose_creator_stopped_before_setting_it_up_is_named(tmp_path):
    optuna.create_study(storage=url(tmp_path), study_name="s")  # no configuration stored
    with pytest.raises(tune.TuneStorageError, match=r"Study 's' .* created but never set up"):
        tune.open_study(url(tmp_path), "s", config(), heartbeat_interval=1)


def test_records_wait_for_a_lower_numbered_trial_another_worker_is_running(tmp_path, toy):
    """Found on the CiteSeer gcsnn sweep run by two workers: the first to reach the budget
    wrote the record while the other still ran a lower-numbered trial, so the counted trials
    (the first ``budget.trials`` by number) held a later trial in its place and the selection
    depended on which worker finished first. The record now waits for that trial."""
    import threading

    study = tune.open_study(url(tmp_path), "s", config(trials=2))
    other = study.ask()  # trial 0, running in "another worker"
    timer = threading.Timer(1.5, lambda: study.tell(other, 0.25))
    timer.start()
    try:
        records = tune.run_study(config(trials=2), url(tmp_path), "s")
    finally:
        timer.join()
    # trial 0 counts; and no trial beyond the budget was started while it ran (this worker
    # waited for it instead of running a trial 2 that could not count)
    assert [t["number"] for t in records["trials"]] == [0, 1]
    assert records["trials"][0]["state"] == "COMPLETE"
    assert records["counted"] == [0, 1]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_a_killed_workers_trial_is_failed_and_retried_with_its_parameters(tmp_path, toy):
    # A worker killed mid-trial leaves it RUNNING with a last heartbeat; past the grace
    # period (2 heartbeat intervals) the next worker fails it and retries its parameters.
    cfg = config(trials=2)
    study = tune.open_study(url(tmp_path), "s", cfg, heartbeat_interval=1)
    trial = study.ask()
    params = tune.sample_params(trial, "gcn")
    study._storage.record_heartbeat(trial._trial_id)  # then the worker "dies"
    time.sleep(3.1)  # > the grace period, in the database clock's whole seconds (SQLite)
    records = tune.run_study(cfg, url(tmp_path), "s", heartbeat_interval=1)
    by_number = {t["number"]: t for t in records["trials"]}
    assert by_number[0]["state"] == "FAIL"
    retried = [t for t in records["trials"] if t.get("failed_trial") == 0]
    assert len(retried) == 1 and retried[0]["params"] == params
    assert retried[0]["state"] == "COMPLETE"
    assert 0 not in records["counted"] and len(records["counted"]) == 2


def test_a_study_of_another_configuration_is_refused(tmp_path, toy):
    tune.run_study(config(trials=1), url(tmp_path), "s")
    for other in (config(trials=2), config(trials=1, epochs=3), config(trials=1, seeds=(1,))):
        with pytest.raises(tune.StudyMismatchError, match=r"Study 's' .* another configuration"):
            tune.run_study(other, url(tmp_path), "s")
    moved = dataclasses.replace(config(trials=1), commit="other")
    with pytest.raises(tune.StudyMismatchError, match=r"commit: stored 'test', now 'other'"):
        tune.open_study(url(tmp_path), "s", moved)


@pytest.mark.parametrize(
    "bad, msg",
    [
        ("not a url", r"Storage 'not a url' is not a database URL"),
        ("", r"must be a database URL string"),
        ("sqlite://", r"in-memory SQLite database"),
        ("sqlite:///:memory:", r"in-memory SQLite database"),
        ("postgresql+nodriver://u@h/db", r"Storage 'postgresql\+nodriver://u@h/db'"),
    ],
)
def test_storage_url_errors_are_clear(bad, msg):
    with pytest.raises(tune.TuneStorageError, match=msg):
        tune.open_study(bad, "s", config())


def test_storage_in_a_missing_folder_names_the_folder(tmp_path):
    bad = f"sqlite:///{tmp_path}/missing/db.sqlite"
    with pytest.raises(tune.TuneStorageError, match=r"the folder .*missing of its database"):
        tune.check_storage_url(bad)


def test_budget_and_config_errors():
    with pytest.raises(ValueError, match=r"'trials' must be an int >= 1, got 0"):
        tune.Budget(trials=0)
    with pytest.raises(ValueError, match=r"'seeds' holds 1 more than once"):
        tune.Budget(trials=1, seeds=(1, 1))
    with pytest.raises(ValueError, match=r"'epochs' must be >= 1"):
        tune.Budget(trials=1, epochs=0)
    with pytest.raises(ValueError, match=r"Unknown dataset 'Coraa'"):
        tune.StudyConfig("Coraa", "gcn", tune.Budget(trials=1))
    assert tune.StudyConfig("cora", "gcn", tune.Budget(trials=1)).dataset == "Cora"


# ----------------------------------------------------------------------------- records
def test_records_select_the_best_counted_trial_earliest_first():
    records = {
        "config": config(trials=3).to_dict(),
        "trials": [
            {"number": 0, "state": "COMPLETE", "value": 0.5},
            {"number": 1, "state": "FAIL", "value": None},
            {"number": 2, "state": "COMPLETE", "value": 0.7},
            {"number": 3, "state": "COMPLETE", "value": 0.7},
            {"number": 4, "state": "COMPLETE", "value": 0.9},  # beyond the budget
        ],
    }
    assert [t["number"] for t in tune.counted_trials(records["trials"], tune.Budget(3))] == [
        0,
        2,
        3,
    ]
    assert tune.best_trial(records)["number"] == 2


def test_reproduce_a_trial_from_its_record_exactly_on_cora(tmp_path, data_root):
    root = str(data_root)
    records = tune.run_study(
        config(trials=2, seeds=(0, 1), epochs=2), url(tmp_path), "cora", root=root
    )
    path = tmp_path / "records.json"
    tune.write_records(path, records)
    back = tune.read_records(path)
    assert back == records
    for trial in back["trials"]:
        assert tune.reproduce_trial(back, trial["number"], root=root) == trial["val_scores"]
    assert back["config"]["budget"] == {"trials": 2, "seeds": [0, 1], "epochs": 2, "patience": None}
    assert back["config"]["dataset"] == "Cora" and back["config"]["commit"] == "test"


def test_reproduce_a_spiking_trial_exactly(tmp_path, toy):
    records = tune.run_study(config("sgcn", trials=1, epochs=2), url(tmp_path), "s")
    (trial,) = records["trials"]
    assert {"T", "tau", "reset", "norm"} <= set(trial["params"])
    assert tune.reproduce_trial(records, 0) == trial["val_scores"]


def test_a_probe_changes_the_trial_as_asked_on_other_seeds_and_reads_no_test_label(
    tmp_path, toy, monkeypatch
):
    """probe_trial: no change on the trial's seeds is the reproduction; a search-space
    parameter replaces the trial's value, any other option is held fixed over the study's;
    every graph trained on has its test labels hidden."""
    records = tune.run_study(config("sgcn", trials=1, epochs=2), url(tmp_path), "s")
    (trial,) = records["trials"]
    assert tune.probe_trial(records, 0) == trial["val_scores"]
    built, graphs = [], []
    real_build, real_fit = tune.build_model, tune.fit

    def spy_build(name, *args, **options):
        built.append(options)
        return real_build(name, *args, **options)

    def spy_fit(net, data, cfg):
        graphs.append((data, cfg))
        return real_fit(net, data, cfg)

    monkeypatch.setattr(tune, "build_model", spy_build)
    monkeypatch.setattr(tune, "fit", spy_fit)
    scores = tune.probe_trial(records, 0, [7, 8], {"T": 2, "surrogate": "triangle"}, epochs=1)
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
    assert [o["T"] for o in built] == [2, 2] and all(o["surrogate"] == "triangle" for o in built)
    model_options, train_options, _ = split_params(trial["params"], search_space("sgcn"))
    assert all(o[k] == v for o in built for k, v in model_options.items() if k != "T")
    assert all(getattr(c, k) == v for _, c in graphs for k, v in train_options.items())
    assert [c.seed for _, c in graphs] == [7, 8] and all(c.epochs == 1 for _, c in graphs)
    hidden = int(toy.test_mask.sum())
    assert all(int((d.y == -1).sum()) == hidden for d, _ in graphs)
    assert all(torch.equal(d.test_mask, d.val_mask) for d, _ in graphs)


def test_a_probe_names_a_change_or_seeds_it_cannot_use(tmp_path, toy):
    records = tune.run_study(config(trials=1, epochs=2), url(tmp_path), "s")
    with pytest.raises(ValueError, match="not_an_option"):
        tune.probe_trial(records, 0, [1], {"not_an_option": 3})
    with pytest.raises(ValueError, match=r"'seeds' holds 1 more than once"):
        tune.probe_trial(records, 0, [1, 1])
    with pytest.raises(ValueError, match=r"'features' must be one of .* got 'scaled'"):
        tune.changed_trial(records, 0, {"features": "scaled"})
    with pytest.raises(ValueError, match=r"'seeds' is empty"):
        tune.probe_trial(records, 0, [])


def test_read_records_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No tuning record at .*absent.json"):
        tune.read_records(tmp_path / "absent.json")
    (tmp_path / "x.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match=r"x.json is not a tuning record"):
        tune.read_records(tmp_path / "x.json")
    records = {"config": config().to_dict(), "trials": [{"number": 0, "state": "FAIL"}]}
    with pytest.raises(ValueError, match=r"Trial 0 did not finish \(state FAIL\)"):
        tune.reproduce_trial(records, 0)
    with pytest.raises(ValueError, match=r"no trial 7 \(it has \[0\]\)"):
        tune.reproduce_trial(records, 7)


def test_a_record_of_another_search_space_is_refused(toy):
    stale = config().to_dict()
    stale["space"] = stale["space"][:-1]
    with pytest.raises(tune.StudyMismatchError, match=r"record's configuration differs"):
        tune.reproduce_trial({"config": stale, "trials": []}, 0)


# ----------------------------------------------------------------------------- final
def test_final_evaluation_trains_the_selected_configuration_on_fresh_seeds(tmp_path, toy):
    records = tune.run_study(config(trials=2, seeds=(0, 1)), url(tmp_path), "s")
    row = tune.final_evaluation(records, seeds=[100, 101, 102])
    best = records["best"]
    assert (row["trial"], row["params"]) == (best["number"], best["params"])
    assert row["features"] == best["params"]["features"] and row["seeds"] == [100, 101, 102]
    assert row["test_acc_mean"] == pytest.approx(sum(row["test_acc"]) / 3)
    runs = tune.train_runs(
        tune.preprocess_features(toy, row["features"]), 3, "gcn", best["params"],
        [100, 101, 102], 2, None,
    )  # fmt: skip
    assert [r.test_acc for r in runs] == row["test_acc"]  # the real test labels, this time
    with pytest.raises(ValueError, match=r"Final seeds \[1\] were used in tuning"):
        tune.final_evaluation(records, seeds=[1, 100])
    text = tune.summary_markdown([row], tune.Budget.from_dict(records["config"]["budget"]), [1])
    assert "validation accuracy only" in text and "| Cora | gcn |" in text
    assert f"| {row['features']} |" in text
    # the selected trial's tuning score beside the fresh seeds' validation mean
    assert row["tuning_score"] == best["value"]
    cells = f"| {100 * row['val_acc_mean']:.1f} | {100 * best['value']:.1f} | {best['number']} |"
    assert cells in text and "| tuning score (%) | trial |" in text


def test_the_selected_configuration_trains_again_as_the_final_evaluation_did(tmp_path, toy):
    """selected_config gives what it takes to repeat the final evaluation (e.g. to count the
    cost of the tabled model): training it through the trainer's own entry point, on the
    same seeds, gives the recorded test accuracies exactly."""
    from spikegraph.train import fit

    records = tune.run_study(config(trials=2, seeds=(0, 1)), url(tmp_path), "s")
    with pytest.raises(ValueError, match="has no final evaluation"):
        tune.selected_config(records)
    records["final"] = tune.final_evaluation(records, seeds=[100, 101])
    sel = tune.selected_config(records)
    assert (sel.dataset, sel.model, sel.trial, sel.commit) == (
        "Cora", "gcn", records["best"]["number"], "test"
    )  # fmt: skip
    assert sel.seeds == (100, 101) and list(sel.test_acc) == records["final"]["test_acc"]
    assert sel.train_options["epochs"] == 2 and sel.train_options["patience"] is None
    assert "features" not in sel.model_options and "features" not in sel.train_options
    data = tune.preprocess_features(toy, sel.features)
    again = []
    for seed in sel.seeds:
        torch.manual_seed(seed)
        net = tune.build_model(sel.model, data.num_features, 3, **sel.model_options)
        cfg = TrainConfig(**sel.train_options, seed=seed, progress=False)
        again.append(fit(net, data, cfg).test_acc)
    assert again == list(sel.test_acc)


def test_the_selected_configuration_of_an_ablation_keeps_its_fixed_options():
    record = tune.read_records(
        Path(__file__).parents[2] / "benchmarks/results/sweeps/Cora-gcsnn-no-stfn.json"
    )
    sel = tune.selected_config(record)
    assert sel.model == "gcsnn" and sel.model_options["norm"] == "none"
    assert sel.model_options["v_threshold"] == record["final"]["params"]["v_threshold"]
    assert sel.seeds == tune.FINAL_SEEDS and sel.trial == record["final"]["trial"]


def test_a_shared_final_evaluation_gives_the_same_row_and_resumes_a_killed_one(
    tmp_path, toy, monkeypatch
):
    """With the study's storage, each final seed is a trial of "<study>:final": a killed
    evaluation keeps its finished seeds, and the row equals the one trained in one go."""
    records = tune.run_study(config(trials=2, seeds=(0,)), url(tmp_path), "s")
    seeds = [100, 101, 102]
    alone = tune.final_evaluation(records, seeds=seeds)
    trained, real = [], tune.train_runs

    def dies_on_the_second_seed(data, classes, model, params, some, *args):
        if some == [101] and not trained.count(101):
            trained.append(101)
            raise KeyboardInterrupt  # the worker is killed during seed 101
        trained.extend(some)
        return real(data, classes, model, params, some, *args)

    monkeypatch.setattr(tune, "train_runs", dies_on_the_second_seed)
    with pytest.raises(KeyboardInterrupt):
        tune.final_evaluation(records, seeds=seeds, storage=url(tmp_path))
    assert trained == [100, 101]
    shared = tune.final_evaluation(records, seeds=seeds, storage=url(tmp_path))
    assert trained == [100, 101, 101, 102]  # seed 100 was kept, not trained again
    assert shared == alone
    import optuna

    final = optuna.load_study(study_name="s:final", storage=url(tmp_path))
    assert sorted(t.user_attrs["seed"] for t in final.trials if t.state.name == "COMPLETE") == seeds
    # A finished final study is read back without training.
    monkeypatch.setattr(tune, "train_runs", lambda *a: pytest.fail("trained again"))
    assert tune.final_evaluation(records, seeds=seeds, storage=url(tmp_path)) == alone
    # The stored final study is tied to its selection and seeds.
    with pytest.raises(tune.StudyMismatchError, match="'s:final'"):
        tune.final_evaluation(records, seeds=[100, 101], storage=url(tmp_path))


def test_two_workers_that_pick_one_final_seed_at_once_run_it_once():
    """Seen on the CiteSeer stfn-sgat sweep: both workers waited for the last tuning trial,
    then started final trials 0 and 1 at the same instant, both on seed 100 (the same
    numbers, twice the work). The higher-numbered trial now yields."""
    from types import SimpleNamespace as T

    def trial(number, state, seed):
        return T(number=number, state=T(name=state), user_attrs={"seed": seed})

    both = [trial(0, "RUNNING", 100), trial(1, "RUNNING", 100)]
    assert tune._seed_taken_before(both, 1, 100)  # trial 1 yields
    assert not tune._seed_taken_before(both, 0, 100)  # trial 0 runs it
    done_or_failed = [trial(0, "COMPLETE", 100), trial(2, "FAIL", 101)]
    assert tune._seed_taken_before(done_or_failed, 3, 100)
    assert not tune._seed_taken_before(done_or_failed, 3, 101)  # a failed run is redone


def test_a_final_seed_another_worker_runs_is_waited_for_not_trained_twice(tmp_path, toy):
    import threading

    records = tune.run_study(config(trials=1, seeds=(0,)), url(tmp_path), "s")
    alone = tune.final_evaluation(records, seeds=[100, 101])
    key = {"final_of": "s", "config": records["config"], "trial": records["best"]["number"],
           "params": records["best"]["params"], "seeds": [100, 101]}  # fmt: skip
    study = tune._open(url(tmp_path), "s:final", key, tune.HEARTBEAT_INTERVAL)
    other = study.ask()  # seed 100, running in "another worker"
    other.set_user_attr("seed", 100)
    other.set_user_attr("val_acc", alone["val_acc"][0])
    other.set_user_attr("test_acc", alone["test_acc"][0])
    other.set_user_attr("ran_on", tune.ran_on())  # as a worker of this code records
    timer = threading.Timer(1.5, lambda: study.tell(other, alone["val_acc"][0]))
    timer.start()
    try:
        row = tune.final_evaluation(records, seeds=[100, 101], storage=url(tmp_path))
    finally:
        timer.join()
    assert row == alone
    seeds = [t.user_attrs["seed"] for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert sorted(seeds) == [100, 101]  # seed 100 ran once, in the other worker


def test_an_ablation_study_holds_its_fixed_options_in_every_trial(tmp_path, toy, monkeypatch):
    """gcsnn without STFN: norm=none in every model built (tuning, reproduction, final
    evaluation); STFN's rho, conditional on a normalisation, is never drawn."""
    built = []
    real = tune.build_model

    def spy(name, *args, **options):
        model = real(name, *args, **options)
        built.append((name, options, [conv.norm for conv in model.convs]))
        return model

    monkeypatch.setattr(tune, "build_model", spy)
    cfg = config("gcsnn", trials=2, epochs=2, fixed={"norm": "none"})
    assert cfg.label == "gcsnn (norm=none)" and cfg.to_dict()["fixed"] == {"norm": "none"}
    records = tune.run_study(cfg, url(tmp_path), "ablation")
    assert all("rho" not in t["params"] for t in records["trials"])
    assert records["config"]["fixed"] == {"norm": "none"}
    assert tune.reproduce_trial(records, 1) == records["trials"][1]["val_scores"]
    row = tune.final_evaluation(records, seeds=[100])
    assert row["fixed"] == {"norm": "none"}
    assert built and all(n == "gcsnn" and o["norm"] == "none" for n, o, _ in built)
    assert all(norm is None for *_, norms in built for norm in norms)  # no STFN anywhere
    # The preset itself normalises with STFN (the other half of the pair) and draws rho.
    plain_records = tune.run_study(config("gcsnn", trials=1, epochs=2), url(tmp_path), "stfn")
    assert "rho" in plain_records["trials"][0]["params"] and "fixed" not in plain_records["config"]
    assert built[-1][1].get("norm") is None and all(n is not None for n in built[-1][2])
    text = tune.summary_markdown([row], cfg.budget, [100])
    assert "| Cora | gcsnn (norm=none) |" in text
    # A stored study of the preset is not resumed as its ablation, nor the reverse.
    with pytest.raises(tune.StudyMismatchError):
        tune.run_study(
            config("gcsnn", trials=2, epochs=2, fixed={"norm": "none"}), url(tmp_path), "stfn"
        )


def test_without_stfn_the_papers_neuron_needs_a_tuned_threshold_to_learn(data_root):
    """The defect behind the first Cora ``gcsnn-no-stfn`` cell (no trial learned): on
    Cora's binary features the synaptic current at initialisation is far below the
    threshold of 1 that STFN scales to, so no neuron fires and the rectangular surrogate's
    window (|V - 1| < 0.5) passes no gradient at all. Without STFN the ablation therefore
    tunes the threshold in rho's place; inside its range the same model gets gradients."""
    from spikegraph.datasets import load_dataset
    from spikegraph.models import build_model

    data, classes = load_dataset("Cora", root=data_root)

    def gradient_norm(**options) -> float:
        torch.manual_seed(0)
        model = build_model("gcsnn", data.num_features, classes, **options)
        out = model(data.x, data.edge_index)
        torch.nn.functional.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        return sum(float(p.grad.norm()) for p in model.parameters() if p.grad is not None)

    assert gradient_norm(norm="none") == 0.0  # threshold 1: dead, whatever the learning rate
    assert gradient_norm() > 0  # STFN scales the current to the threshold
    ablation = config("gcsnn", fixed={"norm": "none"})
    searched = {p.name: p for p in ablation.space}
    assert "rho" not in searched and searched["v_threshold"].high == 1.0
    low = searched["v_threshold"].low
    assert gradient_norm(norm="none", v_threshold=(low * searched["v_threshold"].high) ** 0.5) > 0
    # Drawn, and passed to the model, only without a normalisation.
    trial = optuna.trial.FixedTrial(
        {p.name: (p.choices[0] if p.choices else p.low) for p in search_space("gcsnn")}
    )
    assert tune.sample_params(trial, "gcsnn", {"norm": "none"})["v_threshold"] == low
    assert "v_threshold" not in tune.sample_params(trial, "gcsnn")
    assert "v_threshold" not in {p.name for p in config("gcsnn").space}


def test_a_study_records_the_space_it_searches_under_its_fixed_options():
    """A parameter whose condition the study's fixed options (or the preset's defaults) can
    never meet is not part of the study's space: the STFN half of the ablation pair records
    the same space as before the threshold was declared, and the committed record of it
    still loads; the ablation records the threshold and not rho."""
    with_stfn = [p["name"] for p in config("gcsnn").to_dict()["space"]]
    without = [p["name"] for p in config("gcsnn", fixed={"norm": "none"}).to_dict()["space"]]
    assert "rho" in with_stfn and "v_threshold" not in with_stfn
    assert "v_threshold" in without and "rho" not in without
    assert set(with_stfn) - {"rho"} == set(without) - {"v_threshold"}
    # sgcn tunes norm itself: rho stays in its space (drawn per trial).
    assert "rho" in {p.name for p in config("sgcn").space}
    record = Path(__file__).parents[2] / "benchmarks/results/sweeps/Cora-gcsnn.json"
    config_dict = tune.read_records(record)["config"]
    assert tune.StudyConfig.from_dict(config_dict).model == "gcsnn"


def test_fixed_options_must_be_valid_and_not_tuned():
    with pytest.raises(ValueError, match=r"Options \['dropout'\] are parameters of 'gcsnn'"):
        config("gcsnn", fixed={"dropout": 0.2})
    with pytest.raises(ValueError, match="nrom"):
        config("gcsnn", fixed={"nrom": "none"})
    with pytest.raises(ValueError, match="Fixed option 'norm' is None, which leaves"):
        config("gcsnn", fixed={"norm": None})
    with pytest.raises(TypeError, match="'fixed' must be a mapping"):
        config("gcsnn", fixed=[("norm", "none")])
    assert config("gcn").to_dict() == tune.StudyConfig.from_dict(config("gcn").to_dict()).to_dict()
    assert "fixed" not in config("gcn").to_dict()  # records without fixed options unchanged
    ablation = config("gcsnn", fixed={"norm": "none"})
    assert tune.StudyConfig.from_dict(ablation.to_dict()) == ablation


def test_final_evaluation_needs_a_finished_trial():
    records = {"study": "s", "config": config().to_dict(), "trials": []}
    with pytest.raises(ValueError, match=r"Study 's' has no finished counted trial"):
        tune.final_evaluation(records)


# ----------------------------------------------------------------------------- CLI
def test_cli_tunes_writes_records_and_reproduces_a_trial(tmp_path, toy, capsys):
    out = tmp_path / "r.json"
    argv = ["tune", "--model", "gcn", "--trials", "2", "--epochs", "2", "--seeds", "0"]
    argv += ["--storage", url(tmp_path), "--records", str(out), "--final", "--final-seeds", "9"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "gcn on Cora: study 'Cora-gcn', 2 counted trial(s) of 2" in text
    assert "over 1 fresh seeds (mean +- population std; features " in text
    records = tune.read_records(out)
    assert records["final"]["seeds"] == [9]
    assert main(["tune", "--reproduce", "1", "--records", str(out)]) == 0
    assert "reproduced exactly" in capsys.readouterr().out
    # a score that differs, recorded on another CPU kind: exit 1, naming both kinds
    trial = records["trials"][1]
    trial["val_scores"] = [trial["val_scores"][0] + 0.002]
    trial["ran_on"] = "cpu: another-machine, AVX2"
    tune.write_records(out, records)
    assert main(["tune", "--reproduce", "1", "--records", str(out)]) == 1
    text = capsys.readouterr().out
    assert "NOT reproduced" in text
    assert f"the trial ran on cpu: another-machine, AVX2, this run on {tune.ran_on()}" in text


def test_cli_re_scores_the_best_trials_before_the_final_evaluation(tmp_path, toy, capsys):
    out = tmp_path / "r.json"
    argv = ["tune", "--model", "gcn", "--trials", "3", "--epochs", "2", "--seeds", "0"]
    argv += ["--storage", url(tmp_path), "--records", str(out), "--final", "--final-seeds", "9"]
    assert main([*argv, "--rescore-top", "2", "--rescore-seeds", "5", "6"]) == 0
    text = capsys.readouterr().out
    records = tune.read_records(out)
    chosen = records["rescore"]
    assert chosen["rule"] == {"top": 2, "seeds": [5, 6]} and len(chosen["candidates"]) == 2
    assert records["final"]["trial"] == chosen["trial"] == tune.selected_trial(records)["number"]
    assert f"selected trial {chosen['trial']}" in text and "re-scored trial" in text
    for bad, msg in (
        (["--rescore-top", "2", "--rescore-seeds", "0"], "are also tuning or final seeds"),
        (["--rescore-top", "2", "--rescore-seeds", "9"], "are also tuning or final seeds"),
    ):
        assert main([*argv, *bad]) == 2
        assert msg in capsys.readouterr().err
    no_final = [a for a in argv if a not in ("--final", "--final-seeds", "9")]
    assert main([*no_final, "--rescore-top", "2"]) == 2
    assert "give --final too" in capsys.readouterr().err


def test_cli_keeps_its_records_after_every_trial_and_resumes_from_them(
    tmp_path, toy, capsys, monkeypatch
):
    kept, resumed = tmp_path / "kept.json", tmp_path / "resumed.json"
    argv = ["tune", "--model", "gcn", "--trials", "3", "--epochs", "2", "--seeds", "0"]
    calls = interrupt_call(monkeypatch, 2)
    gone = url(tmp_path, "gone.db")
    assert main([*argv, "--storage", gone, "--records", str(kept)]) == 130
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == (
        f"spikegraph: interrupted; the finished trials are kept in {gone} and {kept}; "
        "run the same command again to resume"
    )
    part = tune.read_records(kept)
    assert [t["state"] for t in part["trials"]] == ["COMPLETE"]
    argv += ["--storage", url(tmp_path, "new.db"), "--records", str(resumed)]
    assert main([*argv, "--resume-from", str(kept)]) == 0
    records = tune.read_records(resumed)
    assert records["trials"][0] == part["trials"][0] and len(calls) == 4
    assert "3 counted trial(s) of 3" in capsys.readouterr().out


def test_cli_tunes_an_ablation_with_fixed_options(tmp_path, toy, capsys):
    out = tmp_path / "r.json"
    argv = ["tune", "--model", "gcsnn", "--fix", "norm=none", "--trials", "1", "--epochs", "2"]
    argv += ["--seeds", "0", "--storage", url(tmp_path), "--records", str(out)]
    assert main(argv) == 0
    assert "gcsnn (norm=none) on Cora: study 'Cora-gcsnn-norm=none'" in capsys.readouterr().out
    assert tune.read_records(out)["config"]["fixed"] == {"norm": "none"}


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--storage", "nonsense"], "Storage 'nonsense' is not a database URL"),
        ([], r"--trials N is required"),
        (["--trials", "0"], "'trials' must be an int >= 1, got 0"),
        (["--final", "--final-seeds", "0", "5"], r"--final-seeds \[0\] are also tuning --seeds"),
        (["--reproduce", "1"], "--reproduce TRIAL needs --records PATH"),
        (["--fix", "norm"], "--fix expects key=value, got 'norm'"),
        (["--fix", "lr=0.1"], r"Options \['lr'\] are parameters of 'gcn'"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, msg):
    full = ["tune", "--model", "gcn", *(["--trials", "1"] if argv else [])]
    full += ["--storage", url(tmp_path)] if "--storage" not in argv else []
    code = main([*full, *argv])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("spikegraph: error: ")
    assert re.search(msg, err), err


@pytest.mark.parametrize(
    "seeds, msg",
    [
        (["100", "100"], "--final-seeds holds 100 more than once ([100, 100])"),
        (["100", "-1"], "--final-seeds must hold ints >= 0, got -1"),
        (["0", "100"], "--final-seeds [0] are also tuning --seeds"),
    ],
)
def test_cli_final_seeds_are_checked_before_any_trial(tmp_path, capsys, monkeypatch, seeds, msg):
    monkeypatch.setattr(tune, "run_study", lambda *a, **k: pytest.fail("a trial ran"))
    argv = ["tune", "--model", "gcn", "--trials", "1", "--seeds", "0", "--storage", url(tmp_path)]
    assert main([*argv, "--final", "--final-seeds", *seeds]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikegraph: error: ") and len(err.strip().splitlines()) == 1, err
    assert msg in err, err
    assert not (tmp_path / "study.db").exists()


@pytest.mark.parametrize(
    "extra, msg",
    [
        (["--final-seeds", "100"], "--final-seeds is the final evaluation's: give --final too"),
        (
            ["--final", "--rescore-seeds", "10"],
            "--rescore-seeds is the re-scoring's: give --rescore-top K too",
        ),
    ],
)
def test_cli_seed_options_of_a_stage_not_asked_for_are_refused(
    tmp_path, capsys, monkeypatch, extra, msg
):
    # They would be ignored: the user meant a stage that would not run.
    monkeypatch.setattr(tune, "run_study", lambda *a, **k: pytest.fail("a trial ran"))
    argv = ["tune", "--model", "gcn", "--trials", "1", "--seeds", "0", "--storage", url(tmp_path)]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikegraph: error: ") and len(err.strip().splitlines()) == 1, err
    assert msg in err, err


def test_protocol_sentence_states_the_budget():
    text = tune.protocol_sentence(tune.Budget(trials=50, seeds=(0, 1, 2)))
    assert "validation accuracy only" in text and "50 trials" in text and "3 seeds" in text
    assert "10 fresh seeds" in text and "(mean ± population standard deviation)" in text


def test_records_of_different_budgets_never_share_a_table():
    def rec(study, budget, commit="c"):
        cfg = dataclasses.replace(config(), budget=budget, commit=commit).to_dict()
        return {"study": study, "config": cfg, "trials": []}

    same = tune.Budget(2, (0,), 2, None)
    tune.check_comparable([rec("a", same), rec("b", same)])
    with pytest.raises(
        tune.StudyMismatchError, match=r"'a' and 'b' .*budget.trials: 'a' has 2, 'b' has 3"
    ):
        tune.check_comparable([rec("a", same), rec("b", tune.Budget(3, (0,), 2, None))])
    with pytest.raises(tune.StudyMismatchError, match=r"commit: 'a' has 'c', 'b' has 'd'"):
        tune.check_comparable([rec("a", same), rec("b", same, commit="d")])
    tune.check_comparable([rec("a", same), rec("b", same, "d")], allow_mixed_commits=True)


def test_a_re_scored_selection_is_the_trial_best_on_the_re_scoring_seeds(tmp_path, toy):
    records = tune.run_study(config(trials=3, seeds=(0,)), url(tmp_path), "s")
    ranked = tune.ranked_trials(records)
    rule = tune.Rescore(top=2, seeds=(10, 11))
    chosen = tune.rescore(records, rule)
    assert [c["trial"] for c in chosen["candidates"]] == [t["number"] for t in ranked[:2]]
    for c in chosen["candidates"]:  # test labels hidden, as in a trial
        assert c["val_acc"] == tune.probe_trial(records, c["trial"], [10, 11])
    best = max(chosen["candidates"], key=lambda c: c["val_acc_mean"])
    assert chosen["trial"] == best["trial"] and chosen["rule"] == rule.to_dict()
    # shared through a storage, the same numbers
    assert tune.rescore(records, rule, storage=url(tmp_path)) == chosen
    # the final evaluation trains the re-scored choice, even where it is not the sweep's best
    runner_up = ranked[1]["number"]
    forced = {**records, "rescore": {**chosen, "trial": runner_up}}
    assert tune.selected_trial(forced)["number"] == runner_up
    row = tune.final_evaluation(forced, seeds=[100], storage=url(tmp_path))
    assert (row["trial"], row["params"]) == (runner_up, ranked[1]["params"])
    assert row["tuning_score"] == ranked[1]["value"]
    assert row["rescore"]["top"] == 2 and row["rescore"]["seeds"] == [10, 11]
    assert tune.kept_final({**forced, "final": row}, [100]) == row
    assert tune.kept_final({**forced, "final": row}, [101]) is None  # other seeds
    other = {**chosen, "trial": ranked[0]["number"]}  # a re-scoring that chose another
    assert tune.kept_final({**records, "rescore": other, "final": row}, [100]) is None
    with pytest.raises(ValueError, match=r"Final seeds \[10\] were used in re-scoring"):
        tune.final_evaluation(forced, seeds=[10, 100])
    with pytest.raises(ValueError, match=r"Re-scoring seeds \[0\] were used in tuning"):
        tune.rescore(records, tune.Rescore(top=2, seeds=(0, 10)))
    with pytest.raises(ValueError, match=r"'top' must be an int >= 1, got 0"):
        tune.Rescore(top=0)
    # a table is one protocol: re-scored and plain selections never share one
    budget = tune.Budget.from_dict(records["config"]["budget"])
    plain_row = tune.final_evaluation(records, seeds=[100])
    with pytest.raises(ValueError, match="different re-scorings"):
        tune.summary_markdown([row, plain_row], budget, [100])
    text = tune.summary_markdown([row], budget, [100])
    assert tune.protocol_sentence(budget, [100], rule) in text
    assert f"| {100 * row['rescore']['val_acc_mean']:.1f} | {runner_up} |" in text
    with pytest.raises(tune.StudyMismatchError, match="re-scoring"):
        tune.check_comparable([{**forced, "final": row}, {**records, "final": plain_row}])
