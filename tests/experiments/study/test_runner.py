"""spikegraph.experiments.study.runner: a whole study end to end, resuming (after a deleted
cell, after an interrupt), refusing another configuration's cells, parallel processes and
cells shared with another invocation, and the checks made before anything runs."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import pytest

from spikegraph.experiments.study import (
    FULL_BATCH,
    StudyBudget,
    StudyCellError,
    StudyInterrupted,
    StudyMismatchError,
    run_sampler_study,
    runner,
)
from spikegraph.experiments.study.cells import Cell, cell_lock
from tests.experiments.study.conftest import (
    BUDGET,
    deterministic,
    deterministic_rows,
    study_args,
)


def test_every_reported_field_is_present_and_sane(shared_study):
    result, out = shared_study
    rows = {(r["model"], r["sampler"]): r for r in result.rows}
    assert list(rows) == [
        (m, s) for m in ("gcn", "sgcn") for s in (FULL_BATCH, "graphsage", "cluster-gcn")
    ]
    assert len(result.cells) == 12 and len(result.computed) == 12 and not result.reused
    for cell in result.cells:
        m = cell["metrics"]
        run = cell["run"]["result"]
        # the cell's accuracies are its run's, of the validation-selected epoch
        assert 0.0 <= m["test_acc"] <= 1.0 and m["test_acc"] == run["test_acc"]
        assert m["val_acc"] == max(e["val"] for e in cell["curve"]) == run["val_acc"]
        assert all("test" not in e for e in run["history"] + cell["curve"])  # read once
        assert m["epochs_run"] == BUDGET.epochs == len(cell["curve"])
        assert m["time_per_epoch"] > 0 and m["preprocess_time"] >= 0
        assert 0.0 <= m["sampling_share"] < 1.0 and m["peak_rss_mb"] > 0
        times = [e["time"] for e in cell["curve"]]
        assert times == sorted(times) and times[0] > 0
        b, e, g = m["batches"], m["energy"], m["gradient"]
        assert b["input_nodes"] >= b["targets"] > 0 and len(b["nodes_per_layer"]) == 3
        assert len(b["edges_per_layer"]) == 2 and b["edges"] > 0
        assert e["train_step_pj"] > 0 and e["inference_pj"] > 0
        assert e["train_epoch_pj"] == pytest.approx(e["train_step_pj"] * b["batches_per_epoch"])
        assert e["profile"]["name"] == "45nm" and "Horowitz" in e["profile"]["source"]
        assert e["convention"]["execution"] == ("event" if cell["model"] == "sgcn" else "dense")
        assert g["weights"] == "initial" and g["exact_norm"] > 0
        if cell["sampler"] == FULL_BATCH:
            assert m["sampling_share"] == 0.0 and b["batches_per_epoch"] == 1
            assert e["train_step_pj"] == e["inference_pj"]  # a step is the full graph
            (entry,) = g["budgets"]
            assert entry["variance"] == 0.0 and entry["bias"] == 0.0  # the same batch twice
        else:
            assert [x["multiple"] for x in g["budgets"]] == [1.0, 2.0]
            assert all(x["variance"] > 0 and x["batches"] == 4 for x in g["budgets"])
            assert m["sampling_share"] > 0
    for (model, sampler), row in rows.items():
        mine = [c for c in result.cells if (c["model"], c["sampler"]) == (model, sampler)]
        accs = [c["metrics"]["test_acc"] for c in mine]
        assert row["seeds"] == [0, 1] and row["test_acc_mean"] == pytest.approx(sum(accs) / 2)
        assert len(row["curve"]["val_mean"]) == BUDGET.epochs
    # the initial weights are the same for every sampler of a model and seed: one exact gradient
    for model in ("gcn", "sgcn"):
        for seed in (0, 1):
            norms = {
                c["metrics"]["gradient"]["exact_norm"]
                for c in result.cells
                if (c["model"], c["seed"]) == (model, seed)
            }
            assert len(norms) == 1
    # the files
    summary = json.loads((out / "study.json").read_text())
    assert summary["rows"] == json.loads(json.dumps(result.rows))
    assert summary["cells"] == [c["id"] for c in result.cells]
    for cell in result.cells:
        assert json.loads(Cell(cell["model"], cell["sampler"], cell["seed"]).path(out).read_text())
    md = (out / "study.md").read_text()
    assert "| gcn | graphsage | node-wise |" in md and "| sgcn | cluster-gcn |" in md
    assert "source SHA-256" in md and "plots/variance_vs_budget.png" in md


def test_a_deleted_cell_alone_is_computed_again(shared_study, tmp_path, tiny_arxiv_root):
    result, out = shared_study
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    gone = Cell("gcn", "graphsage", 1).path(copy)
    gone.unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (copy / "cells").iterdir()}
    again = run_sampler_study(**study_args(tiny_arxiv_root, copy, plots=False))
    assert again.computed == ["gcn--graphsage--seed1"] and len(again.reused) == 11
    after = {p.name: p.stat().st_mtime_ns for p in (copy / "cells").iterdir()}
    assert {k for k in after if before.get(k) != after[k]} == {gone.name}
    assert [deterministic(c) for c in again.cells] == [deterministic(c) for c in result.cells]
    assert deterministic_rows(again.rows) == deterministic_rows(result.rows)


def small(root, out, **changes):
    """A study of ordinary models only (fast): gcn through full-batch and GraphSAGE."""
    args = study_args(root, out, models=["gcn"], samplers=["graphsage"], plots=False)
    args["model_options"] = {"gcn": args["model_options"]["gcn"]}
    args["sampler_options"] = {}
    return {**args, **changes}


def test_an_interrupted_study_resumes_to_the_same_summary(tmp_path, tiny_arxiv_root, monkeypatch):
    reference = run_sampler_study(**small(tiny_arxiv_root, tmp_path / "ref"))
    real, calls = runner.compute_cell, []

    def stops_at_the_third_cell(job):
        calls.append(job.cell.id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(runner, "compute_cell", stops_at_the_third_cell)
    out = tmp_path / "killed"
    with pytest.raises(StudyInterrupted, match="2 of 4 cells are finished") as info:
        run_sampler_study(**small(tiny_arxiv_root, out))
    assert (info.value.finished, info.value.planned) == (2, 4)
    assert not (out / "study.json").exists()
    monkeypatch.setattr(runner, "compute_cell", real)
    resumed = run_sampler_study(**small(tiny_arxiv_root, out))
    assert resumed.reused == calls[:2] and len(resumed.computed) == 2
    saved = json.loads((out / "study.json").read_text())
    want = json.loads((tmp_path / "ref" / "study.json").read_text())
    assert deterministic_rows(saved["rows"]) == deterministic_rows(want["rows"])
    assert saved["study"] == want["study"] and saved["cells"] == want["cells"]
    assert [deterministic(c) for c in resumed.cells] == [deterministic(c) for c in reference.cells]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"budget": StudyBudget(**{**BUDGET.to_dict(), "epochs": 3})}, "budget.epochs"),
        ({"sampler_options": {}}, "sampler.options.clusters_per_batch"),
        ({"model_options": {"gcn": {"hidden_channels": 32}}}, "model.options.hidden_channels"),
    ],
)
def test_a_cell_of_another_configuration_is_refused(
    shared_study, tmp_path, tiny_arxiv_root, changes, field
):
    _, out = shared_study
    copy = tmp_path / "copy"
    shutil.copytree(out / "cells", copy / "cells")
    kept = sorted(p.name for p in (copy / "cells").iterdir())
    args = study_args(tiny_arxiv_root, copy, plots=False)
    args.update(changes)
    if "model_options" in changes:
        args["models"] = ["gcn"]
    elif "sampler_options" in changes:
        args["samplers"] = ["cluster-gcn"]
    with pytest.raises(StudyMismatchError, match=rf"another configuration \({field}: file"):
        run_sampler_study(**args)
    assert sorted(p.name for p in (copy / "cells").iterdir()) == kept  # nothing ran
    assert not (copy / "study.json").exists()


def test_a_cell_of_other_code_is_refused(shared_study, tmp_path, tiny_arxiv_root):
    _, out = shared_study
    copy = tmp_path / "copy"
    shutil.copytree(out / "cells", copy / "cells")
    path = Cell("sgcn", "cluster-gcn", 0).path(copy)
    record = json.loads(path.read_text())
    record["key"]["code"]["source_sha256"] = "0" * 64
    path.write_text(json.dumps(record))
    with pytest.raises(StudyMismatchError, match=rf"{path} was made with .*code.source_sha256"):
        run_sampler_study(**study_args(tiny_arxiv_root, copy, plots=False))


def test_two_processes_give_the_results_of_one(
    shared_study, tmp_path, tiny_arxiv_root, monkeypatch
):
    """--jobs 2 (a pool of two spawned processes) computes the same cells as the shared
    study's one process (ordinary models only: a spiking model's kernels compile in every
    process). Which of the two processes takes which cell is the scheduler's choice (under
    load one may take them all), so the test checks the pool it asked for and that no cell
    ran in this process, not how the cells were shared."""
    pools = []

    class RecordedPool(runner.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(runner, "ProcessPoolExecutor", RecordedPool)
    result, _ = shared_study
    args = study_args(tiny_arxiv_root, tmp_path / "two", models=["gcn"], plots=False, jobs=2)
    args["model_options"] = {"gcn": args["model_options"]["gcn"]}
    parallel = run_sampler_study(**args)
    assert len(parallel.computed) == 6
    assert [(p["max_workers"], p["mp_context"].get_start_method()) for p in pools] == [(2, "spawn")]
    processes = {c["measured"]["process"] for c in parallel.cells}
    assert 1 <= len(processes) <= 2 and os.getpid() not in processes
    assert all(c["measured"]["jobs"] == 2 for c in parallel.cells)
    want = [deterministic(c) for c in result.cells if c["model"] == "gcn"]
    assert [deterministic(c) for c in parallel.cells] == want


def test_a_cell_another_invocation_holds_is_waited_for(shared_study, tmp_path, tiny_arxiv_root):
    """Two invocations over one folder: a cell whose lock is held elsewhere is left to that
    process, and its file read once the lock is free."""
    _, out = shared_study
    folder = tmp_path / "shared"
    held = Cell("gcn", FULL_BATCH, 0)
    args = small(tiny_arxiv_root, folder)
    with cell_lock(folder, held, wait=False) as mine:
        assert mine
        plan = {k: v for k, v in args.items() if k != "plots"}
        job = next(j for j in runner.plan_study(**plan)[1] if j.cell == held)
        assert runner.run_cell_job(job) == ("busy", None)

    taken = threading.Event()

    def other_invocation_finishes():
        with cell_lock(folder, held, wait=True):
            taken.set()
            time.sleep(1.0)  # the study meanwhile computes the other cells, then waits
            shutil.copy(held.path(out), held.path(folder))

    thread = threading.Thread(target=other_invocation_finishes)
    thread.start()
    assert taken.wait(30)
    try:
        result = run_sampler_study(**args)
    finally:
        thread.join()
    assert held.id in result.reused and held.id not in result.computed
    assert len(result.computed) == 3


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"models": ["gcn", "nope"]}, ValueError, r"Unknown model 'nope'; expected one of \["),
        ({"samplers": ["nope"]}, ValueError, r"Unknown sampler 'nope'; expected one of .*'all'"),
        ({"models": []}, ValueError, "'models' is empty"),
        ({"samplers": []}, ValueError, "'samplers' is empty"),
        ({"samplers": ["graphsage", "graphsage"]}, ValueError, "more than once"),
        ({"seeds": [0, -1]}, ValueError, "'seeds' must hold ints >= 0, got -1"),
        ({"seeds": []}, ValueError, "'seeds' is empty"),
        ({"dataset": "Nope"}, ValueError, "Unknown dataset 'Nope'"),
        ({"split": "half"}, ValueError, "Unknown split 'half'"),
        ({"jobs": 0}, ValueError, "'jobs' must be an int >= 1, got 0"),
        ({"budget": {"epochs": 2}}, TypeError, "'budget' must be a StudyBudget"),
        ({"model_options": {"gat": {}}}, ValueError, "for 'gat', which the study does not run"),
        ({"model_options": {"gcn": {"widht": 3}}}, ValueError, "widht"),
        (
            {"sampler_options": {"graphsage": {"fanout": [2, 2]}}},
            ValueError,
            r"sampler 'graphsage' takes no option 'fanout'; its options: \[.*'num_neighbors'",
        ),
        (
            {"sampler_options": {"graphsage": {"num_neighbors": [2]}}},
            ValueError,
            "'num_neighbors' of 'graphsage' must be a list of one entry per layer",
        ),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    tmp_path, tiny_arxiv_root, changes, error, match
):
    out = tmp_path / "out"
    with pytest.raises(error, match=match):
        run_sampler_study(**{**small(tiny_arxiv_root, out), **changes})
    assert not (out / "cells").exists()


def test_an_unwritable_folder_is_refused(tmp_path, tiny_arxiv_root):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match=r"Study folder .*cannot be written"):
        run_sampler_study(**small(tiny_arxiv_root, blocker / "out"))


def test_failing_cells_do_not_stop_the_others(tmp_path, tiny_arxiv_root):
    out = tmp_path / "out"
    args = small(tiny_arxiv_root, out, seeds=[0], samplers=["ripple", "graphsage"])
    args["sampler_options"] = {"ripple": {"subgraph_size": 10_000}}  # more than the nodes
    with pytest.raises(StudyCellError, match="1 of 3 cells failed") as info:
        run_sampler_study(**args)
    ((cid, err),) = info.value.failures
    assert cid == "gcn--ripple--seed0" and "exceeds the 508 nodes" in str(err)
    assert sorted(p.name for p in (out / "cells").iterdir()) == [
        "gcn--full-batch--seed0.json",
        "gcn--graphsage--seed0.json",
    ]
    assert not (out / "study.json").exists()  # a summary needs every cell


def test_the_report_describes_the_cells_it_shows_not_the_last_command(
    shared_study, tmp_path, tiny_arxiv_root
):
    """Every cell reused: study.md states the jobs, machines and dates the cells record,
    not those of the command that rewrote it (audit F4)."""
    _, out = shared_study
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    files = sorted((copy / "cells").iterdir())
    for i, path in enumerate(files):
        cell = json.loads(path.read_text())
        cell["measured"]["jobs"] = 2
        cell["measured"]["date"] = f"2020-01-01T00:00:{i:02d}+00:00"
        if i == 0:
            cell["measured"]["machine"] = {
                **cell["measured"]["machine"],
                "platform": "Elsewhere-OS",
            }
        path.write_text(json.dumps(cell))
    again = run_sampler_study(**study_args(tiny_arxiv_root, copy, plots=False), jobs=1)
    assert again.computed == [] and len(again.reused) == len(files)
    md = (copy / "study.md").read_text()
    assert "2 process(es) computing cells" in md and "1 process(es)" not in md
    assert "Elsewhere-OS" in md and "(1 cell)" in md and f"({len(files) - 1} cells)" in md
    last = f"2020-01-01T00:00:{len(files) - 1:02d}+00:00"
    assert "2020-01-01T00:00:00+00:00" in md and last in md
    assert again.provenance["jobs"] == 2
