"""benchmarks/tune_sweeps.py: one budget for every cell, finished cells skipped, records of
another protocol refused, the table under the protocol sentence."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re

import pytest

pytest.importorskip("optuna")

from spikegraph import _provenance as provenance
from spikegraph.experiments import tune
from tests.benchmarks.conftest import load
from tests.experiments.test_tune import interrupt_call, toy_graph


@pytest.fixture
def sweeps(monkeypatch):
    data = toy_graph()
    monkeypatch.setattr(tune, "load_dataset", lambda *a, **k: (data, 3))
    return load("tune_sweeps")


def argv(tmp_path, *extra):
    return [
        "--datasets", "Cora", "--models", "gcn", "gat", "--trials", "2",
        "--seeds", "0", "--epochs", "2", "--final-seeds", "100", "101", "--rescore-top", "0",
        "--out", str(tmp_path), *extra,
    ]  # fmt: skip


def interrupt_once_at(monkeypatch, *seeds):
    """Make ``tune.train_runs`` raise ``KeyboardInterrupt`` (a session's end) the first time
    it is asked to train one of ``seeds``. Returns the seeds it was asked to train, in order,
    the interrupted ones included."""
    real, trained, pending = tune.train_runs, [], set(seeds)

    def train_runs(data, classes, model, params, run_seeds, *args, **kw):
        trained.extend(run_seeds)
        if pending & set(run_seeds):
            pending.difference_update(run_seeds)
            raise KeyboardInterrupt
        return real(data, classes, model, params, run_seeds, *args, **kw)

    monkeypatch.setattr(tune, "train_runs", train_runs)
    return trained


def test_every_cell_gets_the_same_budget_and_finished_cells_are_skipped(
    tmp_path, sweeps, monkeypatch, capsys
):
    assert sweeps.main(argv(tmp_path)) == 0
    paths = sorted((tmp_path / "sweeps").glob("*.json"))
    assert [p.name for p in paths] == ["Cora-gat.json", "Cora-gcn.json"]
    records = [tune.read_records(p) for p in paths]
    budgets = {json.dumps(r["config"]["budget"], sort_keys=True) for r in records}
    want = {"trials": 2, "seeds": [0], "epochs": 2, "patience": 100}
    assert budgets == {json.dumps(want, sort_keys=True)}
    assert all(len(r["counted"]) == 2 and r["final"]["seeds"] == [100, 101] for r in records)
    # each cell's progress line says what its +- is
    out = capsys.readouterr().out
    for name in ("Cora-gcn", "Cora-gat"):
        assert re.search(
            rf"{name}: selected trial \d+ \(tuning score [0-9.]+\), test [0-9.]+ \+- [0-9.]+ "
            r"\(mean \+- population std over 2 seeds\), features ",
            out,
        ), out
    text = (tmp_path / "tuned.md").read_text()
    assert tune.protocol_sentence(tune.Budget(2, (0,), 2, 100), [100, 101]) in text
    # the summary the documentation quotes names the cells it read and those it did not
    summary = json.loads((tmp_path / "tuned.json").read_text())
    assert summary["format"] == "spikegraph-tuned/1" and summary["space_version"] == 3
    assert summary["cells"] == {
        f"sweeps/Cora-{m}.json": tune.source_commit() for m in ("gcn", "gat")
    }
    assert "Cora-sgcn" in summary["not_finished"] and "Cora-gcn" not in summary["not_finished"]
    assert summary["families"] == summary["ablations"] == []  # no spiking cell, no variant
    assert text.count("| Cora |") == 2
    assert "Search spaces: version 3 (`spikegraph.models.search_space.SPACE_VERSIONS[3]`" in text
    for r in records:
        assert f"| {r['final']['model']} | {r['final']['features']} |" in text
    before = {p: p.read_bytes() for p in paths}
    capsys.readouterr()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished cell was trained again")

    monkeypatch.setattr(tune, "train_runs", no_training)
    assert sweeps.main(argv(tmp_path)) == 0
    assert capsys.readouterr().out.count("finished earlier, skipped") == 2
    assert {p: p.read_bytes() for p in paths} == before


def test_a_record_of_another_budget_is_refused_before_anything_runs(tmp_path, sweeps, capsys):
    assert sweeps.main(argv(tmp_path)) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        sweeps.main([*argv(tmp_path), "--epochs", "3"])
    assert exit_.value.code == 2
    assert "Cora-gcn.json was tuned with another configuration (differs in budget)" in (
        capsys.readouterr().err
    )


def test_a_record_of_another_space_version_is_refused_and_never_shares_a_table(
    tmp_path, sweeps, capsys
):
    """A sweep of the current spaces does not resume or overwrite a version-1 record in its
    folder, and the table refuses to put the two versions side by side."""
    assert sweeps.main(argv(tmp_path)) == 0
    path = tmp_path / "sweeps" / "Cora-gcn.json"
    records = tune.read_records(path)
    old = tune.StudyConfig.from_dict(records["config"])
    records["config"] = dataclasses.replace(old, space_version=1).to_dict()
    tune.write_records(path, records)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        sweeps.main(argv(tmp_path))
    err = capsys.readouterr().err
    assert "Cora-gcn.json was tuned with another configuration (differs in space, " in err
    with pytest.raises(
        tune.StudyMismatchError, match=r"no one search-space version .*'Cora-gat': 3; 'Cora-gcn': 1"
    ):
        sweeps.table(tmp_path, argparse.Namespace(allow_mixed_commits=True))


def test_a_record_of_an_earlier_version_with_the_same_space_is_kept(
    tmp_path, sweeps, monkeypatch, capsys
):
    """Version 3 changed only the baselines' spaces: a version-2 record of a spiking model
    is this cell's record (skipped when finished, resumed under its own version when not),
    it shares the table with version-3 baselines, and the table says so."""
    args = argv(tmp_path, "--models", "sgcn", "gcn")
    assert sweeps.main(args) == 0
    path = tmp_path / "sweeps" / "Cora-sgcn.json"
    records = tune.read_records(path)
    assert records["config"]["space_version"] == 3
    records["config"]["space_version"] = 2  # the same space: version 2 declared it too
    tune.write_records(path, records)
    before = path.read_bytes()
    monkeypatch.setattr(tune, "train_runs", lambda *a, **k: pytest.fail("trained again"))
    capsys.readouterr()
    assert sweeps.main(args) == 0
    assert capsys.readouterr().out.count("finished earlier, skipped") == 2
    assert path.read_bytes() == before
    text = (tmp_path / "tuned.md").read_text()
    assert "Search spaces: version 3 (" in text
    assert "; 1 of the 2 records name version 2, which declares the same space for" in text
    # each dataset's ordinary models come first
    assert text.index("| Cora | gcn |") < text.index("| Cora | sgcn |")
    # the cell goes on under the record's version (an unfinished one resumes under it)
    namespace = argparse.Namespace(allow_mixed_commits=False)
    stored = tune.StudyConfig.from_dict(records["config"])
    planned = dataclasses.replace(stored, space_version=3)
    config, record = sweeps.existing_record(path, planned, namespace)
    assert config.space_version == 2 and config.to_dict() == record["config"]
    # a version-2 baseline record is not the version-3 cell's: gcn's space changed
    gcn = tmp_path / "sweeps" / "Cora-gcn.json"
    old = tune.read_records(gcn)
    planned = tune.StudyConfig.from_dict(old["config"])
    old["config"] = dataclasses.replace(planned, space_version=2).to_dict()
    tune.write_records(gcn, old)
    with pytest.raises(
        tune.StudyMismatchError, match=r"differs in space, space_version.*beside the table, in "
    ) as refused:
        sweeps.existing_record(gcn, planned, namespace)
    assert str(tmp_path / "sweeps" / "v2") in str(refused.value)


def _as_version(path, version):
    """The record at ``path`` rewritten as one of search-space ``version``."""
    records = tune.read_records(path)
    config = tune.StudyConfig.from_dict(records["config"])
    records["config"] = dataclasses.replace(config, space_version=version).to_dict()
    return records


def test_cells_of_an_earlier_space_stand_beside_the_table_in_a_section_of_their_own(
    tmp_path, sweeps
):
    """A baseline tuned before its space changed (``sweeps/v2/``) keeps its row, apart
    from the table's and outside the family comparison; a record that is unfinished, of
    another version, or of the table's own space is refused there, naming it."""
    assert sweeps.main(argv(tmp_path, "--models", "gcn", "sgcn")) == 0
    main_text = (tmp_path / "tuned.md").read_text()
    v2 = tmp_path / "sweeps" / "v2"
    v2.mkdir()
    old = _as_version(tmp_path / "sweeps" / "Cora-gcn.json", 2)
    old["final"]["test_acc_mean"] = 0.4321  # tells its row from the table's
    tune.write_records(v2 / "Cora-gcn.json", old)
    namespace = argparse.Namespace(allow_mixed_commits=False)
    text = sweeps.table(tmp_path, namespace, None)
    head, section = text.split("\n## Cells tuned under search-space version 2\n")
    assert head.startswith(main_text.split("\nReproduce one trial")[0])
    assert "43.2 ± " in section and "43.2 ± " not in head
    assert "| Cora | gcn |" in section and "| Cora | sgcn |" not in section
    assert "Search spaces: version 2 (" in section
    assert "Trial records: `sweeps/v2/Cora-gcn.json`." in section
    assert "## Spiking against ordinary" not in section
    # what does not belong there is refused, naming the file
    bad = v2 / "Cora-sgcn.json"
    tune.write_records(bad, _as_version(tmp_path / "sweeps" / "Cora-sgcn.json", 2))
    with pytest.raises(ValueError, match=r"Cora-sgcn.json searched the same space as version 3"):
        sweeps.table(tmp_path, namespace, None)
    tune.write_records(bad, _as_version(tmp_path / "sweeps" / "Cora-gcn.json", 3))
    with pytest.raises(
        ValueError, match=r"Cora-sgcn.json was tuned under search-space version 3, not 2"
    ):
        sweeps.table(tmp_path, namespace, None)
    unfinished = _as_version(tmp_path / "sweeps" / "Cora-gcn.json", 2)
    del unfinished["final"]
    tune.write_records(bad, unfinished)
    with pytest.raises(ValueError, match=r"Cora-sgcn.json has no final evaluation"):
        sweeps.table(tmp_path, namespace, None)
    bad.unlink()
    assert sweeps.table(tmp_path, namespace, None) == text


def test_a_worker_killed_mid_trial_leaves_a_record_that_resumes_its_finished_seeds(
    tmp_path, sweeps, monkeypatch
):
    """A PubMed trial of a spiking model runs for an hour: a session that ends during it
    used to lose the whole trial (the record was written between trials only)."""
    monkeypatch.setattr(provenance, "source_commit", lambda: "0123abc")  # a clean checkout
    monkeypatch.setattr(tune, "source_commit", lambda: "0123abc")
    trained = interrupt_once_at(monkeypatch, 2)  # the process and its database go
    cell = argv(tmp_path, "--models", "gat", "--trials", "1", "--seeds", "0", "1", "2")
    with pytest.raises(KeyboardInterrupt):
        sweeps.main([*cell, "--storage", f"sqlite:///{tmp_path / 'first.db'}"])
    path = tmp_path / "sweeps" / "Cora-gat.json"
    kept = tune.read_records(path)  # written after seed 1: what a session commits
    (trial,) = kept["trials"]
    assert trial["state"] == "RUNNING" and len(trial["seed_runs"]["runs"]) == 2
    assert load("_tuned_table").stage_progress(kept) == "; trial 0 at 2 of 3 seeds"
    assert sweeps.main([*cell, "--storage", f"sqlite:///{tmp_path / 'second.db'}"]) == 0
    assert trained == [0, 1, 2, 2, 100, 101]  # seeds 0 and 1 were not trained again
    records = tune.read_records(path)
    assert [t["state"] for t in records["trials"]] == ["FAIL", "COMPLETE"]
    assert records["final"]["trial"] == 1 and len(records["trials"][1]["val_scores"]) == 3


def test_the_table_refuses_records_of_mixed_commits_unless_asked(tmp_path, sweeps, capsys):
    assert sweeps.main(argv(tmp_path)) == 0
    path = tmp_path / "sweeps" / "Cora-gcn.json"
    records = tune.read_records(path)
    records["config"]["commit"] = "an-older-commit"
    records["final"]["commit"] = "an-older-commit"
    tune.write_records(path, records)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        sweeps.main(argv(tmp_path))
    assert "commit" in capsys.readouterr().err
    assert sweeps.main([*argv(tmp_path), "--allow-mixed-commits"]) == 0
    text = (tmp_path / "tuned.md").read_text()
    assert "| commit |" in text and "an-older-commit |" in text


def test_an_unfinished_cell_resumes_its_study(tmp_path, sweeps, monkeypatch):
    real = tune.train_runs
    # Cora-gcn's 2 trials and its final evaluation (one call per seed, 2 seeds), then
    # Cora-gat's first trial
    interrupt_call(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        sweeps.main(argv(tmp_path))
    assert [p.name for p in (tmp_path / "sweeps").glob("*.json")] == ["Cora-gcn.json"]
    monkeypatch.setattr(tune, "train_runs", real)
    assert sweeps.main(argv(tmp_path)) == 0
    records = tune.read_records(tmp_path / "sweeps" / "Cora-gat.json")
    assert [t["state"] for t in records["trials"]] == ["FAIL", "COMPLETE", "COMPLETE"]
    assert records["counted"] == [1, 2]


def test_a_sweep_resumes_from_its_record_on_a_machine_without_its_database(
    tmp_path, sweeps, monkeypatch
):
    real = tune.train_runs
    calls = interrupt_call(monkeypatch, 2)
    cell = argv(tmp_path, "--models", "gat", "--trials", "3")  # a gat record; gcn runs later
    first = f"sqlite:///{tmp_path / 'first-machine.db'}"
    with pytest.raises(KeyboardInterrupt) as stop:
        sweeps.main([*cell, "--storage", first])
    path = tmp_path / "sweeps" / "Cora-gat.json"
    # Ctrl-C says where the finished trials are (it used to end on the trainer's "nothing
    # was saved", which is wrong for a sweep)
    assert str(path) in str(stop.value) and first in str(stop.value)
    assert "run the same command again to resume" in str(stop.value)
    kept = tune.read_records(path)  # written after the first trial: what a session commits
    assert [t["state"] for t in kept["trials"]] == ["COMPLETE"] and "final" not in kept
    assert kept["provenance"]["command"].startswith("python benchmarks/tune_sweeps.py")
    # an unfinished cell is listed as in progress, not as a row
    monkeypatch.setattr(tune, "train_runs", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert sweeps.main(argv(tmp_path, "--models", "gcn", "--trials", "3", "--storage", first)) == 0
    text = (tmp_path / "tuned.md").read_text()
    assert "In progress: Cora-gat (1 of 3 trials counted)." in text
    assert "| Cora | gat |" not in text
    # ... and only there: "not tuned yet" names the cells without any record
    not_tuned = re.search(r"Not tuned yet \([^)]*\): ([^.]*)\.", text).group(1).split(", ")
    assert "CiteSeer-gat" in not_tuned
    assert "Cora-gat" not in not_tuned and "Cora-gcn" not in not_tuned
    calls.clear()
    second = f"sqlite:///{tmp_path / 'second-machine.db'}"
    assert sweeps.main([*cell, "--storage", second]) == 0
    records = tune.read_records(path)
    assert records["trials"][0] == kept["trials"][0]
    assert [t["state"] for t in records["trials"]] == ["COMPLETE"] * 3
    assert len(calls) == 2 + 2  # two more trials, two final seeds: trial 0 was not retrained
    assert "final" in records


def test_an_unfinished_record_of_another_commit_does_not_resume(
    tmp_path, sweeps, monkeypatch, capsys
):
    interrupt_call(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        sweeps.main(argv(tmp_path, "--models", "gcn", "--trials", "3"))
    path = tmp_path / "sweeps" / "Cora-gcn.json"
    records = tune.read_records(path)
    records["config"]["commit"] = "an-older-commit"
    tune.write_records(path, records)
    capsys.readouterr()
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(SystemExit):
        sweeps.main(argv(tmp_path, "--models", "gcn", "--trials", "3", "--storage", fresh,
                         "--allow-mixed-commits"))  # fmt: skip
    err = capsys.readouterr().err
    assert "commit: stored 'an-older-commit'" in err and "checkout of the record's commit" in err


def test_a_killed_final_evaluation_resumes_with_the_seeds_that_finished(
    tmp_path, sweeps, monkeypatch
):
    seeds_trained = interrupt_once_at(monkeypatch, 101)  # the second final seed
    with pytest.raises(KeyboardInterrupt, match="the final evaluation's finished seeds in"):
        sweeps.main(argv(tmp_path, "--models", "gcn"))
    assert seeds_trained == [0, 0, 100, 101]  # two trials, then the final seeds
    assert sweeps.main(argv(tmp_path, "--models", "gcn")) == 0
    assert seeds_trained == [0, 0, 100, 101, 101]  # seed 100 was kept
    final = tune.read_records(tmp_path / "sweeps" / "Cora-gcn.json")["final"]
    assert final["seeds"] == [100, 101] and len(final["test_acc"]) == 2


def test_the_storage_url_and_names_are_checked(tmp_path, sweeps, capsys):
    with pytest.raises(SystemExit):
        sweeps.main([*argv(tmp_path), "--storage", "nonsense"])
    assert "Storage 'nonsense' is not a database URL" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sweeps.main([*argv(tmp_path), "--models", "nope"])
    assert "--models: unknown name 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "sweeps").exists()


def test_re_scoring_selects_among_the_best_trials_keeping_a_final_row_it_confirms(
    tmp_path, sweeps, monkeypatch, capsys
):
    """A finished table re-scored: each cell's two best trials train again on seed 10, the
    better there is selected, and the cell's final row is trained again only where the
    selection changed; a rerun trains nothing."""
    assert sweeps.main(argv(tmp_path)) == 0
    paths = sorted((tmp_path / "sweeps").glob("*.json"))
    before = {p.stem: tune.read_records(p) for p in paths}
    finals = []
    real = tune.final_evaluation
    monkeypatch.setattr(tune, "final_evaluation", lambda r, *a, **k: finals.append(r["study"])
                        or real(r, *a, **k))  # fmt: skip
    rescore = ["--rescore-top", "2", "--rescore-seeds", "10"]
    capsys.readouterr()
    assert sweeps.main(argv(tmp_path, *rescore)) == 0
    out = capsys.readouterr().out
    for p in paths:
        records, old = tune.read_records(p), before[p.stem]
        chosen = records["rescore"]
        # the progress line tells the sweep's score from the fresh seeds' validation mean
        trial = tune.selected_trial(records)
        assert (
            f"{p.stem}: selected trial {chosen['trial']} (tuning score "
            f"{100 * trial['value']:.2f}, re-scoring validation "
            f"{100 * records['final']['rescore']['val_acc_mean']:.2f}), test "
        ) in out
        ranked = [t["number"] for t in tune.ranked_trials(records)]
        assert [c["trial"] for c in chosen["candidates"]] == ranked[:2]
        for c in chosen["candidates"]:
            assert c["val_acc"] == tune.probe_trial(records, c["trial"], [10])
        best = max(chosen["candidates"], key=lambda c: c["val_acc_mean"])
        assert chosen["trial"] == best["trial"] == records["final"]["trial"]
        assert records["final"]["rescore"] == {"top": 2, "seeds": [10],
                                               "val_acc_mean": best["val_acc_mean"]}  # fmt: skip
        assert records["trials"] == old["trials"]
        if chosen["trial"] == old["final"]["trial"]:
            assert records["final"]["test_acc"] == old["final"]["test_acc"]
            assert p.stem not in finals
        else:
            assert p.stem in finals
    text = (tmp_path / "tuned.md").read_text()
    assert "the 2 best trials of each sweep were trained again on 1 other seed" in text
    assert "| re-scored val. (%) |" in text

    def no_training(*args, **kwargs):
        raise AssertionError("a re-scored cell was trained again")

    monkeypatch.setattr(tune, "train_runs", no_training)
    assert sweeps.main(argv(tmp_path, *rescore)) == 0
    assert capsys.readouterr().out.count("finished earlier, skipped") == 2
    # a table of one rule names the cells selected under another, without their rows
    text = sweeps.table(tmp_path, argparse.Namespace(allow_mixed_commits=False), None)
    main, apart = text.split("## Cells selected under another rule")
    assert "| Cora |" not in main and "No cell has finished under this rule." in main
    assert apart.count("| Cora |") == 2 and "re-scored val." in apart
    assert "`sweeps/Cora-gcn.json`, `sweeps/Cora-gat.json`" in apart


def test_re_scoring_seeds_must_be_fresh(tmp_path, sweeps, capsys):
    for seeds, bad in ((["0"], "[0]"), (["100"], "[100]")):
        with pytest.raises(SystemExit):
            sweeps.main(argv(tmp_path, "--rescore-top", "2", "--rescore-seeds", *seeds))
        assert f"--rescore-seeds {bad} are also tuning or final seeds" in capsys.readouterr().err


def test_a_stopped_re_scoring_and_final_evaluation_resume_from_the_record_without_a_database(
    tmp_path, sweeps, monkeypatch
):
    """The database is scratch: a re-scoring or final evaluation stopped with it lost (a new
    session, another machine) resumes from the runs its record kept, training only the rest,
    and ends with the record that one uninterrupted run writes."""
    cell = ["--models", "gcn", "--rescore-top", "2", "--rescore-seeds", "10", "11"]
    trained = interrupt_once_at(monkeypatch, 11, 101)
    path = tmp_path / "stopped" / "sweeps" / "Cora-gcn.json"
    for n, storage in enumerate(("first", "second")):
        db = f"sqlite:///{tmp_path / storage}.db"
        with pytest.raises(KeyboardInterrupt) as stop:
            sweeps.main(argv(tmp_path / "stopped", *cell, "--storage", db))
        assert f"finished {('runs', 'seeds')[n]} in {db} and {path};" in str(stop.value)
        kept = tune.read_records(path)
        assert "final" not in kept and kept["provenance"]["command"].startswith("python")
        stages = kept["stages"]
        if n == 0:  # stopped at the re-scoring's second run: its first is kept
            ((name, rescoring),) = stages.items()
            assert name == "Cora-gcn:rescore" and rescoring["runs"][0]["run"] == 0
            assert [sorted(r) for r in rescoring["runs"]] == [["ran_on", "run", "val_acc"]]
            assert rescoring["key"]["rule"] == {"top": 2, "seeds": [10, 11]}
    final_name = next(n for n in stages if ":final" in n)
    assert [r["run"] for r in stages[final_name]["runs"]] == [100]  # stopped at seed 101
    assert sorted(stages[final_name]["runs"][0]) == ["ran_on", "run", "test_acc", "val_acc"]
    # the interim table says how far the stopped stages got
    interim = sweeps.table(tmp_path / "stopped", argparse.Namespace(allow_mixed_commits=False))
    assert re.search(
        r"In progress: Cora-gcn \(2 of 2 trials counted; re-scoring 4 of 4 runs; final "
        r"evaluation of trial \d+, 1 of 2 seeds\)\.",
        interim,
    )
    # the third session, with a third empty database, trains only final seed 101
    trained.clear()
    third = f"sqlite:///{tmp_path / 'third'}.db"
    assert sweeps.main(argv(tmp_path / "stopped", *cell, "--storage", third)) == 0
    assert trained == [101]
    resumed = tune.read_records(path)
    assert "stages" not in resumed
    assert sweeps.main(argv(tmp_path / "once", *cell)) == 0
    once = tune.read_records(tmp_path / "once" / "sweeps" / "Cora-gcn.json")
    assert resumed["rescore"]["candidates"] == once["rescore"]["candidates"]
    for k in ("trial", "seeds", "val_acc", "test_acc"):
        assert resumed["final"][k] == once["final"][k]


def test_a_cell_resumed_on_another_hardware_kind_says_so(tmp_path, sweeps, monkeypatch):
    """A final evaluation stopped on one kind of CPU and finished on another: each final
    seed records the kind it trained on, the re-scoring (finished before, only read back)
    keeps the provenance of the process that ran it, and the table names both kinds. The
    records of PubMed-gasnn-no-stfn said the re-scoring ran on the second machine, where
    it trained nothing, and nothing said which final seeds ran where."""
    cell = argv(tmp_path, "--models", "gcn", "--rescore-top", "2", "--rescore-seeds", "10")
    trained = interrupt_once_at(monkeypatch, 101)
    path = tmp_path / "sweeps" / "Cora-gcn.json"
    with pytest.raises(KeyboardInterrupt):
        sweeps.main([*cell, "--storage", f"sqlite:///{tmp_path / 'first.db'}"])
    stopped = tune.read_records(path)
    here = tune.ran_on()
    real_provenance = sweeps.provenance

    def elsewhere(command):
        prov = real_provenance(command)
        machine = {**prov["machine"], "cpu": "other-kind, AVX2"}
        return {**prov, "date": "2099-01-01T00:00:00+00:00", "machine": machine}

    monkeypatch.setattr(sweeps, "provenance", elsewhere)
    monkeypatch.setattr(tune, "ran_on", lambda device="cpu": "cpu: other-kind, AVX2")
    trained.clear()
    assert sweeps.main([*cell, "--storage", f"sqlite:///{tmp_path / 'second.db'}"]) == 0
    assert trained == [101]
    done = tune.read_records(path)
    assert done["rescore"]["provenance"] == stopped["rescore"]["provenance"]
    assert done["provenance"]["date"] == "2099-01-01T00:00:00+00:00"
    assert done["final"]["ran_on"] == [here, "cpu: other-kind, AVX2"]
    assert done["rescore"]["ran_on"] == [here]
    text = (tmp_path / "tuned.md").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("  - Cora-gcn: "))
    assert line.endswith(f"; hardware kinds: {here}, cpu: other-kind, AVX2"), line
    assert "Hardware kinds: a cell whose runs trained on more than one kind" in text
    # the record of one kind (the first session's, had it not stopped) names none
    one = {**done, "final": {**done["final"], "ran_on": [here, here]}}
    one["provenance"] = stopped["provenance"]
    assert load("_tuned_table").cell_hardware_kinds(one) == [here]


def test_runs_kept_for_another_stage_configuration_are_never_read_back(tmp_path, sweeps):
    records = {"stages": {"s:final": {"key": {"seeds": [100, 101]}, "runs": [{"run": 100}]}}}
    assert tune.stage_record(records, "s:final", {"seeds": [100, 101]}) is not None
    assert tune.stage_record(records, "s:final", {"seeds": [100, 102]}) is None
    assert tune.stage_record(records, "s:rescore", {"seeds": [100, 101]}) is None
    assert tune.stage_record({}, "s:final", {"seeds": [100, 101]}) is None


def test_a_record_whose_trials_all_ran_finishes_at_a_later_commit_only_when_allowed(
    tmp_path, sweeps, monkeypatch, capsys
):
    """Its trials are not resumed (every one ran), so with --allow-mixed-commits its
    re-scoring and final evaluation run at the current commit, training no tuning trial,
    and the cell's provenance bullet in the table names that commit; without it, the run
    stops."""
    cell = argv(tmp_path, "--models", "gcn", "--rescore-top", "2", "--rescore-seeds", "10")
    real, trained = tune.train_runs, interrupt_once_at(monkeypatch, 10)  # at the re-scoring
    with pytest.raises(KeyboardInterrupt):
        sweeps.main(cell)
    path = tmp_path / "sweeps" / "Cora-gcn.json"
    records = tune.read_records(path)
    assert sweeps.tuning_done(records) and "final" not in records
    records["config"]["commit"] = "an-older-commit"
    tune.write_records(path, records)
    capsys.readouterr()
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(SystemExit):
        sweeps.main([*cell, "--storage", fresh])
    assert "differs in commit" in capsys.readouterr().err
    monkeypatch.setattr(tune, "train_runs", lambda *a, **k: trained.extend(a[4]) or real(*a, **k))
    trained.clear()
    assert sweeps.main([*cell, "--storage", fresh, "--allow-mixed-commits"]) == 0
    assert trained == [10, 10, 100, 101]  # two re-scored trials, two final seeds
    done = tune.read_records(path)
    assert done["final"]["commit"] == "an-older-commit"
    now = done["provenance"]["git_commit"]
    lines = (tmp_path / "tuned.md").read_text().splitlines()
    cell = next(i for i, ln in enumerate(lines) if ln.startswith("  - Cora-gcn: "))
    group = next(ln for ln in reversed(lines[:cell]) if ln.startswith("- `"))  # its bullet
    if now is not None:  # a git checkout: the stages' commit is named
        assert group.count(f", at commit {now}") == 2


def test_tuning_done_needs_the_budget_and_no_earlier_trial_running():
    config = {"budget": {"trials": 2, "seeds": [0], "epochs": 2, "patience": 100}}
    trials = [{"number": 0, "state": "COMPLETE"}, {"number": 1, "state": "RUNNING"},
              {"number": 2, "state": "COMPLETE"}]  # fmt: skip
    assert not sweeps_tuning_done(config, trials, counted=[0, 2])
    trials[1]["state"] = "FAIL"
    assert sweeps_tuning_done(config, trials, counted=[0, 2])
    assert not sweeps_tuning_done(config, trials[:1], counted=[0])


def sweeps_tuning_done(config, trials, counted):
    return load("tune_sweeps").tuning_done({"config": config, "trials": trials, "counted": counted})


def test_other_final_seeds_for_a_finished_cell_are_refused_before_anything_runs(
    tmp_path, sweeps, monkeypatch, capsys
):
    """A finished cell's final row is on its seeds: other --final-seeds would replace it (or,
    with its database, clash with the stored final study after the re-scoring ran again). The
    sweep stops before any training, naming the cell, both seed lists and what to do."""
    cell = argv(tmp_path, "--models", "gcn")
    assert sweeps.main(cell) == 0
    path = tmp_path / "sweeps" / "Cora-gcn.json"
    before = path.read_bytes()
    monkeypatch.setattr(tune, "train_runs", lambda *a, **k: pytest.fail("trained again"))
    capsys.readouterr()
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    for extra in ([], ["--rescore-top", "2", "--rescore-seeds", "10"], ["--storage", fresh]):
        with pytest.raises(SystemExit) as exit_:
            sweeps.main([*cell, *extra, "--final-seeds", "100", "102"])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        (line,) = [x for x in err.splitlines() if "error:" in x]
        assert (
            "Cora-gcn: its final evaluation in " in line
            and "ran on seeds [100, 101], not on --final-seeds [100, 102]" in line
        ), line
        assert "--final-seeds 100 101" in line and "--out DIR" in line, line
        assert path.read_bytes() == before
    assert not (tmp_path / "fresh.db").exists()


def test_a_final_study_of_other_seeds_in_the_database_is_one_error_line(
    tmp_path, sweeps, monkeypatch, capsys
):
    """A final evaluation stopped with its record unfinished, then asked on other seeds: the
    stored final study refuses them (nothing mixed), as one line naming the cell and this
    script's options, exit code 2."""
    trained = interrupt_once_at(monkeypatch, 101)  # the second final seed
    cell = argv(tmp_path, "--models", "gcn")
    with pytest.raises(KeyboardInterrupt):
        sweeps.main(cell)
    path = tmp_path / "sweeps" / "Cora-gcn.json"
    before = path.read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        sweeps.main([*cell, "--final-seeds", "100", "102"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "error:" in x]
    assert "Cora-gcn: " in line and "seeds: stored [100, 101], now [100, 102]" in line, line
    assert "--final-seeds" in line and "--storage" in line, line
    assert path.read_bytes() == before and trained == [0, 0, 100, 101]


def test_final_seeds_are_checked_before_anything_runs(tmp_path, sweeps, monkeypatch, capsys):
    monkeypatch.setattr(tune, "run_study", lambda *a, **k: pytest.fail("a study ran"))
    for seeds, msg in (
        (["100", "100"], "--final-seeds holds 100 more than once ([100, 100])"),
        (["-1"], "--final-seeds must hold ints >= 0, got -1"),
        (["0", "100"], "--final-seeds [0] are also tuning seeds"),
    ):
        with pytest.raises(SystemExit) as exit_:
            sweeps.main(argv(tmp_path, "--final-seeds", *seeds))
        assert exit_.value.code == 2
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "sweeps").exists()
