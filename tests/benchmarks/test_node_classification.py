"""node_classification.py: where it writes, what provenance it states, how it fails."""

from __future__ import annotations

import json
import multiprocessing.context

import pytest

from tests.benchmarks.conftest import deadline, load, snapshot

STEM = "node_classification"


def test_a_subset_run_leaves_the_committed_results_alone(results_copy, fake_training, capsys):
    before = snapshot(results_copy)
    with deadline(60):
        fake_training.main(["--datasets", "Cora", "--models", "sgcn", "--seeds", "0", "1"])
    assert snapshot(results_copy) == before
    scratch = results_copy / "local"
    record = json.loads((scratch / f"{STEM}.json").read_text())
    assert [row["key"] for row in record["rows"]] == ["Cora/sgcn"]
    assert str(scratch) in capsys.readouterr().out  # the script says where the results went


def test_a_subset_summary_keeps_the_other_rows_with_their_own_provenance(
    results_copy, fake_training
):
    common = load("_common")
    committed = json.loads((results_copy / f"{STEM}.json").read_text())
    old = committed["provenance"]
    with deadline(60):  # the README's example, into the folder of the committed results
        fake_training.main(["--datasets", "Cora", "--models", "sgcn", "--update-results"])
    written = json.loads((results_copy / f"{STEM}.json").read_text())
    for part in ("rows", "ablation"):
        assert [r["key"] for r in written[part]] == [r["key"] for r in committed[part]]
    # A row this command did not run is kept as it was, with the old header's provenance.
    kept = {r["key"]: r for r in written["rows"]}["PubMed/gat"]
    assert {k: v for k, v in kept.items() if k != "provenance"} == committed["rows"][10]
    [source] = kept["provenance"]
    assert source["command"] == old["command"] and source["machine"] == old["machine"]
    assert source["first_date"] == source["last_date"] == old["date"]
    assert source["from"] == common.FROM_HEADER and source["note"] == committed["note"]
    # The runs of the summarised row: from the committed log, dated by the old header, or new.
    redone = {r["key"]: r for r in written["rows"]}["Cora/sgcn"]
    seeds = []
    for group in redone["provenance"]:
        seeds += group["rows"]["Cora/sgcn"]
        if group.get("from") == common.FROM_HEADER:
            assert (group["command"], group["first_date"]) == (old["command"], old["date"])
        else:
            assert "--datasets Cora --models sgcn" in group["command"]
    assert sorted(seeds) == list(range(10))
    # The writer of the summary is this command; the sources list every distinct provenance.
    assert "--datasets Cora --models sgcn" in written["provenance"]["command"]
    assert any(g["command"] == old["command"] for g in written["sources"])
    md = (results_copy / f"{STEM}.md").read_text()
    assert old["command"] in md and "PubMed" in md


def test_each_session_keeps_its_own_provenance(fake_training, tmp_path):
    out = tmp_path / "out"
    common = ["--datasets", "Cora", "--models", "gcn", "--no-ablation", "--out", str(out)]
    with deadline(60):
        fake_training.main([*common, "--seeds", "0", "--note", "first"])
        fake_training.main([*common, "--seeds", "0", "1", "--note", "second"])
    runs = [json.loads(line) for line in (out / f"{STEM}.runs.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in runs] == [0, 1]  # seed 0 was not trained twice
    for run in runs:
        assert {"command", "machine", "date", "git_commit"} <= run["provenance"].keys()
    record = json.loads((out / f"{STEM}.json").read_text())
    assert [(g["note"], g["rows"]) for g in record["sources"]] == [
        ("first", {"Cora/gcn": [0]}),
        ("second", {"Cora/gcn": [1]}),
    ]
    md = (out / f"{STEM}.md").read_text()
    assert md.count("command: `python benchmarks/node_classification.py") == 2


def test_an_unknown_dataset_is_refused_before_any_child_starts(tmp_path, monkeypatch, capsys):
    nc = load("node_classification")

    def no_child(self):
        pytest.fail("a child process was started")

    for cls in (multiprocessing.context.SpawnProcess, multiprocessing.context.ForkProcess):
        monkeypatch.setattr(cls, "start", no_child)
    with deadline(30), pytest.raises(SystemExit) as exc:
        nc.main(["--datasets", "../../etc", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'../../etc'" in err and "Cora" in err and "PubMed" in err
    assert not any(tmp_path.iterdir())


def test_a_failing_child_ends_the_row_with_its_error(data_root):
    nc = load("node_classification")
    job = {
        "key": "etc/sgcn",
        "dataset": "../../etc",  # past the validation of main(): the child's load fails
        "model": "sgcn",
        "model_options": {},
        "train_options": {},
        "seeds": [0],
        "root": str(data_root),
        "threads": 1,
    }
    with deadline(60), pytest.raises(RuntimeError) as exc:
        nc.run_row(job, {}, None)
    assert "Unknown dataset '../../etc'" in str(exc.value)
    assert "ValueError" in str(exc.value)  # the child's traceback comes along


@pytest.mark.parametrize("first_quick", [True, False])
def test_rows_of_another_mode_are_not_merged(fake_training, tmp_path, capsys, first_quick):
    """A 3-epoch ``--quick`` row never lands in a table of the toml configs, nor the
    reverse (audit F5): the second command is refused before it trains, naming the row."""
    out = tmp_path / "out"
    quick = ["--quick", "--out", str(out)]
    real = ["--datasets", "Cora", "--models", "gcn", "--seeds", "1", "--no-ablation"]
    real += ["--out", str(out)]
    first, second = (quick, real) if first_quick else (real, quick)
    with deadline(60):
        fake_training.main(first)
        before = snapshot(out)
        with pytest.raises(SystemExit) as exc:
            fake_training.main(second)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Cora/gcn" in err and "--quick" in err and "--config node_classification" in err
    assert snapshot(out) == before


def _row(key: str, seeds: list[int]) -> dict:
    dataset, model = key.split("/")
    return {
        "key": key, "dataset": dataset, "model": model, "seeds": seeds,
        "test_acc_mean": 0.8, "test_acc_std": 0.01, "time_per_epoch_mean": 0.01,
        "peak_above_data_mb": 10.0, "firing_rates": {}, "energy_per_node_pj": 1e3,
        "energy_event_per_node_pj": 1e3,
    }  # fmt: skip


def test_the_tables_say_their_std_is_the_population_std_over_how_many_seeds():
    mod = load(STEM)
    record = {
        "sources": [], "provenance": {"command": "c", "date": "d"},
        "rows": [_row("Cora/sgcn", [0, 1, 2]), _row("Cora/gcn", [0, 1, 2])],
        "ablation": [_row("Cora/sgcn-T4", [0, 1])],
    }  # fmt: skip
    md = mod.to_markdown(record)
    assert (
        "Test accuracy: mean +- population standard deviation (`statistics.pstdev`) over the 3 "
        "seeds [0, 1, 2];" in md
    )
    assert md.count("mean +- population standard deviation (`statistics.pstdev`) over") == 2
    record["rows"][1]["seeds"] = [0]  # rows of other seeds: each row says how many
    md = mod.to_markdown(record)
    assert "over the seeds of each row (column *seeds*: how many)" in md
