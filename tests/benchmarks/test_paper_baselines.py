"""benchmarks/paper_baselines.py: the papers' settings trained by the tuned table's code, a
stopped run resumed from its log, and a logged run of another job never read back."""

from __future__ import annotations

import json

import pytest
import torch

from spikegraph.experiments import tune
from spikegraph.models import check_model_options
from spikegraph.models.search_space import search_space
from tests.benchmarks.conftest import load
from tests.experiments.test_tune import toy_graph


@pytest.fixture
def bench(monkeypatch):
    data = toy_graph()
    module = load("paper_baselines")
    monkeypatch.setattr(module, "load_dataset", lambda *a, **k: (data, 3))
    return module


def argv(tmp_path, *extra):
    return ["--datasets", "Cora", "--seeds", "100", "101", "--epochs", "2", "--out", str(tmp_path),
            *extra]  # fmt: skip


def test_every_setting_is_a_point_of_the_baselines_search_space(bench):
    """They run through the table's code, which places each parameter by the search space."""
    for (model, _), params in bench.SETTINGS.items():
        model_options, train_options = tune.trial_options(
            model, params, space_version=bench.SPACE_VERSION
        )
        assert set(model_options) | set(train_options) | {"features"} == set(params)
    assert bench.SETTINGS["gat", "PubMed"]["lr"] == 0.01 != bench.SETTINGS["gat", "Cora"]["lr"]
    # the fixed options are model options outside the space (the GAT paper's output head)
    for (model, _), fixed in bench.FIXED.items():
        assert not set(fixed) & {p.name for p in search_space(model, bench.SPACE_VERSION)}
        options = check_model_options(model, fixed)
        assert {k: options[k] for k in fixed} == fixed
    assert bench.FIXED["gat", "Cora"] == {"out_heads": 1} and ("gat", "PubMed") not in bench.FIXED


def test_runs_match_the_tuned_tables_final_evaluation_and_resume_from_the_log(
    bench, tmp_path, monkeypatch
):
    summary = bench.main(argv(tmp_path))
    rows = {row["model"]: row for row in summary["rows"]}
    assert sorted(rows) == ["gat", "gcn"] and rows["gcn"]["seeds"] == [100, 101]
    # the same numbers as the final evaluation's code with the same settings and seeds
    data = tune.preprocess_features(toy_graph(), "row-normalised")
    direct = tune.train_runs(
        data, 3, "gat", bench.SETTINGS["gat", "Cora"], [100, 101], 2, 100, fixed={"out_heads": 1}
    )
    assert rows["gat"]["test_acc"] == [100 * r.test_acc for r in direct]
    md = (tmp_path / "paper_baselines.md").read_text()
    assert "| Cora | gcn | dropout=0.5, hidden_channels=16, input_dropout=0.5" in md
    assert "lr=0.005, out_heads=1, weight_decay=0.0005 (Velickovic" in md
    assert rows["gat"]["library_commit"] == bench.library_commit()
    assert json.loads((tmp_path / "paper_baselines.json").read_text())["rows"] == summary["rows"]
    # a second run trains nothing: every run is read back from the log
    trained = []
    real = tune.train_runs
    monkeypatch.setattr(tune, "train_runs", lambda *a, **k: trained.append(a[4]) or real(*a, **k))
    assert bench.main(argv(tmp_path))["rows"] == summary["rows"]
    assert trained == []
    # another budget is another job: nothing of the log is read back for it, and the
    # results show both budgets' rows, each command with the runs it made
    both = bench.main(argv(tmp_path, "--epochs", "3"))
    assert len(trained) == 4
    assert [(r["model"], r["epochs"]) for r in both["rows"]] == [
        ("gcn", 2),
        ("gcn", 3),
        ("gat", 2),
        ("gat", 3),
    ]
    assert [r for r in both["rows"] if r["epochs"] == 2] == summary["rows"]
    md = (tmp_path / "paper_baselines.md").read_text()
    assert md.count("1. command: `python benchmarks/paper_baselines.py --datasets Cora") == 1
    assert "2. command: `python benchmarks/paper_baselines.py" in md and "--epochs 3" in md
    # a stopped run (its log cut after one line) trains only what is missing
    log = tmp_path / "paper_baselines_runs.jsonl"
    first = log.read_text().splitlines()[0]
    log.write_text(first + "\n")
    trained.clear()
    assert bench.main(argv(tmp_path))["rows"] == summary["rows"]
    assert trained == [[101], [100], [101]]


def test_a_logged_run_of_another_commit_is_not_read_back(bench, tmp_path, monkeypatch):
    bench.main(argv(tmp_path, "--models", "gcn"))
    log = tmp_path / "paper_baselines_runs.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    for rec in lines:
        rec["job"]["commit"] = "another-commit"
        rec["test_acc"] = 0.0
    log.write_text("".join(json.dumps(rec) + "\n" for rec in lines))
    summary = bench.main(argv(tmp_path, "--models", "gcn"))
    assert all(acc > 0 for acc in summary["rows"][0]["test_acc"])
    assert summary["rows"][0]["seeds"] == [100, 101]  # the older library's runs are not mixed in


def test_each_row_shows_the_runs_of_the_newest_library_that_ran_it(bench, tmp_path, monkeypatch):
    """A change to the library voids no committed row: a row not run again keeps its runs,
    under the name of the library that made them, and a row run again shows the new runs."""
    monkeypatch.setattr(bench, "library_commit", lambda: "0" * 40)
    bench.main(argv(tmp_path))
    monkeypatch.setattr(bench, "library_commit", lambda: "1" * 40)
    trained = []
    real = tune.train_runs
    monkeypatch.setattr(tune, "train_runs", lambda *a, **k: trained.append(a[4]) or real(*a, **k))
    summary = bench.main(argv(tmp_path, "--models", "gat", "--seeds", "100"))
    assert trained == [[100]]  # another library: its run is not read back
    rows = {row["model"]: row for row in summary["rows"]}
    assert (rows["gcn"]["library_commit"], rows["gcn"]["seeds"]) == ("0" * 40, [100, 101])
    assert (rows["gat"]["library_commit"], rows["gat"]["seeds"]) == ("1" * 40, [100])
    md = (tmp_path / "paper_baselines.md").read_text()
    assert "| 0000000, torch" in md and "| 1111111, torch" in md
    assert "The library now: 1111111, torch" in md
    # the runs shown are the sources listed: the older library's gat runs are not
    assert "Cora gat 2 epochs (seed 100)" in md and "seeds 100-101); Cora gat" not in md
    # a logged run of an earlier version of the settings (the GAT's 8 output heads, before
    # out_heads) is never shown
    log = tmp_path / "paper_baselines_runs.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    old = [dict(r, job={k: v for k, v in r["job"].items() if k != "fixed"}) for r in lines
           if r["job"]["model"] == "gat"]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in [*lines, *old]))
    assert bench.main(argv(tmp_path, "--models", "gat", "--seeds", "100"))["rows"] == [
        rows["gcn"],
        rows["gat"],
    ]


@pytest.mark.parametrize(
    "extra", [["--epochs", "0"], ["--epochs", "2", "2"], ["--seeds", "1", "1"], ["--models", "x"]]
)
def test_bad_settings_are_refused_before_anything_runs(bench, tmp_path, extra, capsys):
    with pytest.raises(SystemExit):
        bench.main(argv(tmp_path, *extra))
    assert not (tmp_path / "paper_baselines_runs.jsonl").exists()
    assert capsys.readouterr().err


def test_a_logged_run_of_other_package_versions_is_not_read_back(bench, tmp_path, monkeypatch):
    """The commit alone does not name what trained a run: the same checkout with another
    torch gives other numbers, so the log keys each run by the package versions too."""
    first = bench.main(argv(tmp_path, "--models", "gcn"))
    assert first["rows"][0]["library_versions"]["torch"] == torch.__version__
    other = {**bench.versions(), "torch": "0.0.1"}
    monkeypatch.setattr(bench, "versions", lambda: other)
    trained = []
    real = tune.train_runs
    monkeypatch.setattr(tune, "train_runs", lambda *a, **k: trained.append(a[4]) or real(*a, **k))
    summary = bench.main(argv(tmp_path, "--models", "gcn"))
    assert trained == [[100], [101]]  # nothing read back across versions
    (row,) = summary["rows"]
    assert row["library_versions"] == other and row["seeds"] == [100, 101]  # not mixed
    assert "torch 0.0.1, PyG" in (tmp_path / "paper_baselines.md").read_text()
    # a logged job made before the versions were kept is shown under its commit alone
    log = tmp_path / "paper_baselines_runs.jsonl"
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    for rec in runs:
        if rec["job"]["versions"]["torch"] == torch.__version__:  # the first command's
            del rec["job"]["versions"]
            rec["provenance"]["date"] = "2999-01-01T00:00:00+00:00"  # now the newest
    shown = bench.summarise(runs, "another-commit", {"torch": "0.0.2"})
    assert [r["library_versions"] for r in shown["rows"]] == [None]
    assert shown["rows"][0]["test_acc"] == first["rows"][0]["test_acc"]  # those runs alone
    md = bench.to_markdown(shown)
    assert f"| {row['library_commit'][:7]} |" in md


def test_the_table_says_its_std_is_the_population_std_over_the_rows_seeds(bench):
    row = {
        "dataset": "Cora", "model": "gcn", "epochs": 200, "patience": 100,
        "params": bench.SETTINGS["gcn", "Cora"], "fixed": {}, "paper": 81.5,
        "library_commit": None, "library_versions": None, "seeds": [100, 101, 102],
        "test_acc": [80.0, 81.0, 82.0], "test_acc_mean": 81.0, "test_acc_std": 0.82,
        "best_epochs": [10, 20, 30],
    }  # fmt: skip
    summary = {"library_commit": None, "library_versions": None, "sources": [], "rows": [row]}
    md = bench.to_markdown(summary)
    assert (
        "Test acc.: mean ± population standard deviation (`statistics.pstdev`) over the row's "
        "seeds (column *seeds*: how many, and which)." in md
    )
    assert "| 81.00 ± 0.82 | 81.5 | -0.50 | 3 (seeds 100-102) |" in md
