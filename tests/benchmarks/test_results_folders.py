"""Every benchmark script: where it writes, which rows it refuses to drop, which names it
refuses, and that a failure ends it with an error. The measurements are replaced by fakes
(their numbers come from the committed results), so these tests time nothing."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from tests.benchmarks.conftest import SCRIPTS, deadline, load, snapshot


def _committed(folder, stem):
    return json.loads((folder / f"{stem}.json").read_text())


def _fake_measurements(monkeypatch, name, folder):
    """Replace the costly part of script ``name`` by the committed numbers; return the
    arguments of a run of one row."""
    mod = load(name)
    if name == "speed":
        rows = {r["dataset"]: r for r in _committed(folder, "speed")["rows"]}
        monkeypatch.setattr(mod, "bench_dataset", lambda dataset, *a: dict(rows[dataset]))
        return ["--datasets", "Cora", "--no-minibatch"]
    if name == "cost_overhead":
        r = _committed(folder, "cost_overhead")["results"][0]
        monkeypatch.setattr(
            mod, "load_dataset", lambda *a, **k: (type("D", (), {"num_features": 3})(), 2)
        )
        monkeypatch.setattr(mod, "build_model", lambda *a, **k: torch.nn.Identity())
        monkeypatch.setattr(mod, "measure", lambda *a: dict(r))
        return ["--datasets", r["dataset"], "--models", r["model"]]
    if name == "samplers_accuracy":

        def one_run(args, model, sampler, seed):
            return {
                "key": mod.run_key(args, model, sampler, seed),
                "dataset": args.dataset,
                "model": model,
                "sampler": sampler or "full-batch",
                "seed": seed,
                "test_acc": 0.8,
                "val_acc": 0.8,
                "best_epoch": 1,
                "epochs_run": 1,
                "time_per_epoch": 0.1,
                "preprocess_time": 0.0,
                "batches_per_epoch": 1,
                "sampler_options": {},
                "wall_time": 0.1,
            }

        monkeypatch.setattr(mod, "one_run", one_run)
        return ["--dataset", "Cora", "--seeds", "0", "--models", "gcn", "--samplers", "graphsage"]
    if name == "samplers_speed":
        monkeypatch.setattr(mod, "load_graph", lambda spec: (torch.zeros(2, 0, dtype=int), 10))
        measured = {
            "edges_per_second": 1e6,
            "edges_per_batch": 10.0,
            "preprocess_time": 0.1,
            "preprocess_runs": 1,
            "runs": 1,
        }
        monkeypatch.setattr(mod, "run_worker", lambda *a: dict(measured))
        return ["--graphs", "PubMed", "--methods", "graphsage"]
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["speed", "cost_overhead", "samplers_accuracy", "samplers_speed"])
def test_a_run_writes_into_the_scratch_folder_not_the_committed_results(
    name, results_copy, monkeypatch
):
    argv = _fake_measurements(monkeypatch, name, results_copy)
    before = snapshot(results_copy)
    with deadline(60):
        load(name).main(argv)
    assert snapshot(results_copy) == before
    assert (results_copy / "local" / f"{name}.json").is_file()


def test_energy_writes_into_the_scratch_folder_not_the_committed_results(results_copy, data_root):
    before = snapshot(results_copy)
    load("energy").main(["--seeds", "0", "--epochs", "1", "--root", str(data_root)])
    assert snapshot(results_copy) == before
    assert (results_copy / "local" / "energy.json").is_file()


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("speed", ["--datasets", "Cora"]),
        ("cost_overhead", ["--datasets", "Cora"]),
        ("samplers_speed", ["--graphs", "PubMed"]),
        ("energy", ["--dataset", "CiteSeer"]),
        ("neuron_speed", ["--datasets", "Cora"]),
        ("sampler_sizes_sweep", ["--samplers", "fastgcn"]),
        ("samplers_variance", ["--graphs", "PubMed"]),
    ],
)
def test_a_run_that_would_drop_rows_of_the_results_file_is_refused_up_front(
    name, argv, results_copy, monkeypatch, capsys
):
    shutil.copytree(results_copy, results_copy / "local", ignore=lambda d, f: ["local"])
    mod = load(name)

    def no_measurement(*a, **k):
        raise AssertionError("measured although the results file would lose rows")

    for attr in ("bench_dataset", "measure", "load_graph", "load_dataset", "run_graph"):
        monkeypatch.setattr(mod, attr, no_measurement, raising=False)
    with pytest.raises(SystemExit) as exc:
        mod.main(argv)
    assert exc.value.code == 2
    assert "would drop them" in capsys.readouterr().err


def test_samplers_accuracy_adds_a_subset_to_the_runs_of_its_folder(results_copy, monkeypatch):
    mod, common = load("samplers_accuracy"), load("_common")
    monkeypatch.setattr(mod, "one_run", lambda *a: pytest.fail("the run is in the log"))
    committed = _committed(results_copy, "samplers_accuracy")
    mod.main(["--seeds", "1", "--models", "gcn", "--samplers", "graphsage", "--update-results"])
    written = _committed(results_copy, "samplers_accuracy")
    assert [
        (r["model"], r["sampler"], r["seeds"], r["test_acc_mean"]) for r in written["rows"]
    ] == [(r["model"], r["sampler"], r["seeds"], r["test_acc_mean"]) for r in committed["rows"]]
    # every run shown comes from the committed sessions, listed as the committed file lists them
    assert written["sources"] == committed["sources"]
    shown = sum(len(s) for source in written["sources"] for s in source["rows"].values())
    assert shown == len(committed["runs"])
    assert any(s.get("from") == common.FROM_HEADER for s in written["sources"])
    assert "--seeds 1" in written["command"]


def test_samplers_accuracy_refuses_a_folder_of_other_settings(results_copy, capsys):
    with pytest.raises(SystemExit) as exc:
        load("samplers_accuracy").main(["--epochs-full", "10", "--update-results"])
    assert exc.value.code == 2 and "other settings" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("node_classification", ["--datasets", "nope"]),
        ("speed", ["--datasets", "nope"]),
        ("cost_overhead", ["--models", "nope"]),
        ("energy", ["--dataset", "nope"]),
        ("energy", ["--profile", "nope"]),
        ("samplers_accuracy", ["--dataset", "nope"]),
        ("samplers_speed", ["--methods", "nope"]),
        ("samplers_speed", ["--graphs", "nope"]),
    ],
)
def test_unknown_names_are_refused_before_anything_runs(name, argv, tmp_path, capsys):
    with deadline(30), pytest.raises(SystemExit) as exc:
        load(name).main([*argv, "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "'nope'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_smoke_run_cannot_replace_the_committed_results(name, results_copy):
    before = snapshot(results_copy)
    with pytest.raises(SystemExit) as exc:
        load(name).main(["--quick", "--update-results"])
    assert exc.value.code == 2
    assert snapshot(results_copy) == before


def test_a_failing_worker_of_ours_ends_samplers_speed_with_its_error():
    mod, common = load("samplers_speed"), load("_common")
    args = mod.main.__globals__["argparse"].Namespace(
        batches=1,
        threads=1,
        repeats=1,
        repeat_limit=1.0,
        timeout=60,
        pyg_timeout=60,
        pyg_python=None,
    )
    spec = {
        "name": "synthetic-20k",
        "kind": "synthetic",
        "num_nodes": 100,
        "num_pairs": 100,
        "seed": 0,
    }
    with (
        deadline(90),
        pytest.raises(common.BenchmarkChildError, match=r"KeyError: 'no-such-method'"),
    ):
        mod.run_worker("ours", spec, "no-such-method", args)


@pytest.mark.parametrize("method", ["graphsaint-node", "graphsaint-edge", "graphsaint-rw"])
def test_samplers_speed_times_graphsaint_preprocessing_as_pygs_pre_sampling(method):
    # PyG's GraphSAINT samplers estimate their norms by pre-sampling at the coverage given;
    # ours, compared with them, must do the same work (the node and edge samplers' default,
    # closed-form norms, pre-samples nothing), and the row says which norms were timed.
    mod = load("samplers_speed")
    args = mod.main.__globals__["argparse"].Namespace(batches=1, repeats=1, repeat_limit=1.0)
    spec = {
        "name": "synthetic-20k",
        "kind": "synthetic",
        "num_nodes": 300,
        "num_pairs": 900,
        "seed": 0,
    }
    with deadline(120):
        out = mod.ours_worker(spec, method, args)
    assert out["norms"] == "estimate"
    assert {"draws", "norms"} <= set(out["preprocess_steps"])  # pre-sampling was timed


def test_samplers_accuracy_refuses_to_resume_runs_of_another_patience(
    tmp_path, monkeypatch, capsys
):
    """A killed run leaves runs and no summary: a resume with another ``--patience-full``
    must not reuse them (audit F3)."""
    mod = load("samplers_accuracy")
    argv = _fake_measurements(monkeypatch, "samplers_accuracy", tmp_path)
    out = ["--epochs-full", "40", "--epochs-nodewise", "1", "--out", str(tmp_path)]
    mod.main([*argv, *out, "--patience-full", "2"])
    (tmp_path / "samplers_accuracy.json").unlink()  # as if killed before the summary
    (tmp_path / "samplers_accuracy.md").unlink()
    monkeypatch.setattr(mod, "one_run", lambda *a: pytest.fail("refused before any run"))
    with pytest.raises(SystemExit) as exc:
        mod.main([*argv, *out, "--patience-full", "100"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "patience_full" in err and "2" in err and "100" in err
    assert not (tmp_path / "samplers_accuracy.json").exists()
