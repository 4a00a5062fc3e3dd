import json
from pathlib import Path

import pytest

from spikegraph.cli import build_parser, format_summary, main

RECORD_KEYS = {
    "peak_rss_mb",  # the largest of the runs' peak resident memory (issue: large graphs)
    "dataset",
    "model",
    "test_acc_mean",
    "test_acc_std",
    "time_per_epoch_mean",
    "firing_rates",
    "machine",
    "date",
    "runs",
    "sampler",
    "preprocess_time_mean",
    "versions",
    "command",
}
RUN_KEYS = {
    "peak_rss_mb",  # the process's peak resident memory when the run ended
    "metric",  # what the accuracies are: PyG-style accuracy, or ogb's Evaluator
    "dataset",
    "model",
    "seed",
    "split",
    "model_options",
    "num_parameters",
    "result",
    "sampler",
    "sampler_options",
    "preprocess_time",
    "preprocess_cached",
    "batches_per_epoch",
    "evaluation",
    "eval_batch_size",
    "effective_model_options",
    "batch_size",
    "mode",
    "num_workers",
    "data_fingerprint",
}
RESULT_KEYS = {
    "test_acc",
    "val_acc",
    "train_acc",
    "best_epoch",
    "epochs_run",
    "time_per_epoch",
    "inference_time",
    "firing_rates",
    "config",
    "history",
    "epoch_times",  # each epoch's training time: convergence against wall time
    "checkpoint",
    "device",
}


def test_train_on_cora_writes_a_json_record(data_root, tmp_path, capsys):
    out = tmp_path / "out" / "record.json"
    argv = ["train", "--dataset", "Cora", "--model", "sgcn", "--epochs", "2", "--root"]
    argv += [str(data_root), "--hidden", "16", "--T", "4", "--option", "tau=3.0"]
    argv += ["--json", str(out), "--no-progress"]
    assert main(argv) == 0
    record = json.loads(out.read_text())
    assert set(record) == RECORD_KEYS
    assert (record["dataset"], record["model"]) == ("Cora", "sgcn")
    assert len(record["runs"]) == 1
    run = record["runs"][0]
    assert set(run) == RUN_KEYS
    assert run["split"] == "public" and run["seed"] == 0
    assert run["model_options"] == {"hidden_channels": 16, "T": 4, "tau": 3.0}
    assert set(run["result"]) == RESULT_KEYS
    assert run["result"]["epochs_run"] == 2
    assert run["result"]["config"]["epochs"] == 2
    assert 0 <= record["test_acc_mean"] <= 1
    assert record["test_acc_mean"] == run["result"]["test_acc"]
    assert list(record["firing_rates"]) == ["convs.0"]
    stdout = capsys.readouterr().out
    assert "sgcn on Cora (public split), 1 seed(s)" in stdout
    assert "% (mean +- population std, 1 seed(s))" in stdout
    assert "test accuracy" in stdout and "firing rates" in stdout
    assert f"wrote {out}" in stdout


def test_the_summary_says_its_std_is_the_population_std_over_how_many_seeds():
    result = {"test_acc": 0.8, "val_acc": 0.8, "best_epoch": 1, "epochs_run": 2}
    runs = [{"split": "public", "seed": s, "result": result} for s in (0, 1, 2)]
    record = {"model": "gcn", "dataset": "Cora", "runs": runs, "test_acc_mean": 0.8,
              "test_acc_std": 0.0123, "time_per_epoch_mean": 0.01, "firing_rates": {}}  # fmt: skip
    lines = format_summary(record).splitlines()
    assert "  test accuracy   80.00 +- 1.23 % (mean +- population std, 3 seed(s))" in lines


def test_train_with_layerwise_evaluation(data_root, tmp_path, capsys):
    out = tmp_path / "record.json"
    argv = ["train", "--dataset", "Cora", "--model", "gcn", "--epochs", "2", "--root"]
    argv += [str(data_root), "--hidden", "16", "--sampler", "graphsage", "--batch-size", "64"]
    argv += ["--num-neighbors", "5", "5", "--eval", "layerwise", "--eval-batch-size", "500"]
    argv += ["--json", str(out), "--no-progress"]
    assert main(argv) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert (run["evaluation"], run["eval_batch_size"]) == ("layerwise", 500)
    assert 0 <= run["result"]["test_acc"] <= 1
    assert "evaluation      layer-wise, 500 target nodes per batch" in capsys.readouterr().out


def test_bad_dataset_name_exits_2_with_the_message(capsys, tmp_path):
    code = main(["train", "--dataset", "Flickr", "--root", str(tmp_path), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "spikegraph: error: Unknown dataset 'Flickr'; expected one of ['Cora'" in err


def test_missing_files_exit_2_naming_them(capsys, tmp_path):
    assert main(["train", "--dataset", "Cora", "--root", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "spikegraph: error: Cora: missing raw files ['ind.cora.x'" in err


def test_bad_option_value_exits_2(capsys, data_root):
    argv = ["train", "--root", str(data_root), "--epochs", "1", "--no-progress"]
    assert main([*argv, "--option", "reset=zero"]) == 2
    assert "Unknown reset 'zero'" in capsys.readouterr().err
    assert main([*argv, "--epochs", "0"]) == 2
    assert "'epochs' must be >= 1, got 0" in capsys.readouterr().err
    assert main([*argv, "--eval", "layerwise", "--eval-batch-size", "0"]) == 2
    assert "'eval_batch_size' must be an int >= 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--model", "gcn", "--T", "4"], "--T only apply to spiking models, not gcn"),
        (["--model", "sgcn", "--heads", "2"], "--heads only applies to GAT models, not sgcn"),
        (["--option", "tau"], "--option expects key=value, got 'tau'"),
    ],
)
def test_inconsistent_options_exit(argv, msg, capsys):
    assert main(["train", "--no-progress", *argv]) == 2
    assert capsys.readouterr().err == f"spikegraph: error: {msg}\n"


def test_option_none_is_the_value_none_not_the_default():
    """--option norm=none must switch the normalisation off: read as None (the default), it
    gave gcsnn its preset's STFN without a word."""
    from spikegraph.cli import build_parser, model_options
    from spikegraph.experiments import effective_model_options

    argv = ["train", "--model", "gcsnn", "--option", "norm=none", "--option", "reset=none"]
    opts = model_options(build_parser().parse_args(argv))
    assert (opts["norm"], opts["reset"]) == ("none", "none")
    eff = effective_model_options("gcsnn", opts)
    assert (eff["norm"], eff["reset"]) == ("none", "none")
    null = build_parser().parse_args(["train", "--option", "head_channels=null"])
    with pytest.raises(ValueError, match="--option head_channels=null: null means the option"):
        model_options(null)


def test_argparse_rejects_unknown_model(capsys):
    assert main(["train", "--model", "mlp"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikegraph: error: argument --model: invalid choice: 'mlp'")
    assert len(err.splitlines()) == 1


def test_parser_defaults():
    args = build_parser().parse_args(["train"])
    assert (args.dataset, args.model, args.split, args.seeds) == ("Cora", "sgcn", "public", [0])
    # Training options default to None: TrainConfig and train_defaults supply the values
    # (tests/test_cli_defaults.py checks the values a run gets).
    assert (args.epochs, args.lr, args.weight_decay, args.patience) == (None, None, None, None)
    # Run options that act only with another option default to None too, so that one given
    # alone is refused (run_node_classification's defaults apply when left out).
    assert (args.eval, args.eval_batch_size, args.num_workers, args.mode) == (
        "full",
        None,
        None,
        None,
    )


@pytest.mark.parametrize("model, lr", [("sgat", 0.005), ("gcn", 0.01)])
def test_learning_rate_defaults_per_model_and_flag_overrides(data_root, tmp_path, model, lr):
    out = tmp_path / "r.json"
    base = ["train", "--model", model, "--epochs", "1", "--hidden", "8", "--no-progress"]
    base += ["--root", str(data_root), "--json", str(out)]
    assert main(base) == 0
    assert json.loads(out.read_text())["runs"][0]["result"]["config"]["lr"] == lr
    assert main([*base, "--lr", "0.02"]) == 0
    assert json.loads(out.read_text())["runs"][0]["result"]["config"]["lr"] == 0.02


def test_patience_none_survives_the_model_training_defaults(data_root):
    from spikegraph.experiments import run_node_classification

    summary = run_node_classification(
        "Cora",
        "gat",
        root=data_root,
        model_options={"hidden_channels": 8, "heads": 1},
        train_options={"epochs": 1, "patience": None, "progress": False},
    )
    config = summary.runs[0].result.config
    assert config["patience"] is None and config["lr"] == 0.005


# --- outputs, seeds, settings and records (issue 9) ---------------------------------------

TINY = ["train", "--dataset", "Cora", "--model", "gcn", "--hidden", "8", "--no-progress"]


def tiny(data_root, *extra) -> list[str]:
    return [*TINY, "--root", str(data_root), *extra]


@pytest.fixture
def no_training(monkeypatch):
    """Make any training attempt fail loudly: the errors below must come before it."""
    import spikegraph.experiments.node_classification as experiment

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(experiment, "fit", refuse)
    monkeypatch.setattr(experiment, "load_dataset", refuse)


@pytest.mark.parametrize("flag", ["--json", "--checkpoint"])
@pytest.mark.parametrize("kind", ["folder", "under-a-file"])
def test_unwritable_outputs_fail_up_front(data_root, tmp_path, capsys, no_training, flag, kind):
    if kind == "folder":
        target = tmp_path / "out"
        target.mkdir()
        msg = "is a folder; give a file path"
    else:
        (tmp_path / "file").write_text("")
        target = tmp_path / "file" / "sub" / "out.json"
        msg = "cannot be written"
    assert main(tiny(data_root, "--epochs", "1", flag, str(target))) == 2
    err = capsys.readouterr().err
    assert "spikegraph: error:" in err and msg in err
    if flag == "--json":
        assert f"--json {target}" in err
    else:
        assert f"Checkpoint {target.parent}" in err


def test_record_is_never_lost(data_root, tmp_path, capsys, monkeypatch):
    import spikegraph.train.checkpoint as ck

    out = tmp_path / "r.json"
    real = ck.atomic_write

    def failing(path, write):
        if Path(path) == out:
            raise OSError(28, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(ck, "atomic_write", failing)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert main(tiny(data_root, "--epochs", "1", "--json", str(out))) == 1
    err = capsys.readouterr().err
    assert f"could not write the record to {out}" in err and "No space left" in err
    fallback = next((tmp_path / "tmp").glob("spikegraph-record-*.json"))
    assert f"written to {fallback} instead" in err
    record = json.loads(fallback.read_text())
    assert record["runs"][0]["result"]["epochs_run"] == 1 and not out.exists()


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--seeds", "0", "0", "1"], r"'seeds' holds 0 more than once"),
        (["--lr", "inf"], r"'lr' must be finite, got inf"),
        (["--lr", "nan"], r"'lr' must be > 0, got nan"),
        (["--weight-decay", "inf"], r"'weight_decay' must be finite, got inf"),
        (["--dropout", "nan"], r"Model option 'dropout' is NaN"),
        (["--seeds", "-1"], r"'seeds' must hold ints >= 0, got -1"),
    ],
)
def test_bad_seeds_and_non_finite_settings_exit_2(data_root, capsys, no_training, argv, msg):
    import re

    assert main(tiny(data_root, "--epochs", "1", *argv)) == 2
    assert re.search(msg, capsys.readouterr().err)


def test_diverging_run_exits_1_naming_the_epoch(data_root, capsys):
    assert main(tiny(data_root, "--epochs", "20", "--lr", "1e30", "--dropout", "0")) == 1
    err = capsys.readouterr().err
    assert "spikegraph: error: The" in err and "loss is" in err and "at epoch" in err


def test_record_is_self_describing(data_root, tmp_path):
    import numpy
    import torch
    import torch_geometric

    import spikegraph

    out = tmp_path / "r.json"
    argv = tiny(data_root, "--epochs", "2", "--model", "sgcn", "--T", "4", "--json", str(out))
    argv += ["--option", "tau=3.0"]
    assert main(argv) == 0
    record = json.loads(out.read_text())
    assert record["command"] == ["spikegraph", *argv]
    versions = record["versions"]
    assert versions["spikegraph"] == spikegraph.__version__
    assert versions["torch"] == torch.__version__
    assert versions["torch_geometric"] == torch_geometric.__version__
    assert versions["numpy"] == numpy.__version__
    run = record["runs"][0]
    eff = run["effective_model_options"]
    # Given options win; the registry's defaults and the class's own defaults fill the rest.
    assert (eff["hidden_channels"], eff["T"], eff["tau"]) == (8, 4, 3.0)
    assert (eff["norm"], eff["reset"], eff["num_layers"]) == ("none", "hard", 2)
    assert "surrogate" in eff and "encoder" in eff
    assert len(run["data_fingerprint"]) == 64
    history = run["result"]["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert set(history[0]) == {"epoch", "loss", "train", "val", "test", "val_loss"}
    assert run["result"]["config"]["lr"] == 0.01 and run["result"]["config"]["epochs"] == 2
    assert record["machine"]["cpu_count"] and record["date"]


def test_record_of_a_minibatch_run_names_the_loader(data_root, tmp_path):
    out = tmp_path / "r.json"
    argv = tiny(data_root, "--epochs", "1", "--sampler", "graphsage", "--num-neighbors", "3", "3")
    assert main([*argv, "--json", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert (run["batch_size"], run["mode"], run["num_workers"]) == (512, "subgraph", 0)
    assert run["sampler_options"] == {"num_neighbors": [3, 3]}


def test_seeds_with_a_checkpoint_are_separate_runs(data_root, tmp_path):
    plain, ck = tmp_path / "plain.json", tmp_path / "ck.json"
    base = tiny(data_root, "--epochs", "3", "--seeds", "0", "1", "2")
    assert main([*base, "--json", str(plain)]) == 0
    ckpt = tmp_path / "ck.pt"
    assert main([*base, "--checkpoint", str(ckpt), "--json", str(ck)]) == 0
    want = [r["result"]["history"] for r in json.loads(plain.read_text())["runs"]]
    got = [r["result"]["history"] for r in json.loads(ck.read_text())["runs"]]
    assert got == want and got[0] != got[1]
    assert sorted(p.name for p in tmp_path.glob("ck.seed*.pt")) == [
        "ck.seed0.pt",
        "ck.seed1.pt",
        "ck.seed2.pt",
    ]
    # Run again: every seed is returned from its own finished checkpoint, unchanged.
    again = tmp_path / "again.json"
    assert main([*base, "--checkpoint", str(ckpt), "--json", str(again)]) == 0
    assert [r["result"]["history"] for r in json.loads(again.read_text())["runs"]] == want


@pytest.mark.parametrize(
    "change, msg",
    [
        (["--model", "sgcn"], "run.model: checkpoint 'gcn', now 'sgcn'"),
        (["--lr", "0.5"], "train.lr: checkpoint 0.01, now 0.5"),
        (["--split", "full"], "run.split: checkpoint 'public', now 'full'"),
        (["--epochs", "5"], "train.epochs: checkpoint 2, now 5"),
        (["--dataset", "CiteSeer"], "run.dataset: checkpoint 'Cora', now 'CiteSeer'"),
    ],
)
def test_resume_with_another_configuration_is_refused(data_root, tmp_path, capsys, change, msg):
    ckpt = tmp_path / "ck.pt"
    base = tiny(data_root, "--epochs", "2", "--checkpoint", str(ckpt))
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, *change]) == 2
    err = capsys.readouterr().err
    assert f"Checkpoint {tmp_path / 'ck.seed0.pt'} belongs to another run" in err and msg in err


def test_checkpoint_mismatch_new_starts_a_new_run_and_says_where(data_root, tmp_path, capsys):
    ckpt = tmp_path / "ck.pt"
    base = tiny(data_root, "--epochs", "2", "--checkpoint", str(ckpt))
    assert main(base) == 0
    out = tmp_path / "r.json"
    assert main([*base, "--lr", "0.05", "--checkpoint-mismatch", "new", "--json", str(out)]) == 0
    new = json.loads(out.read_text())["runs"][0]["result"]["checkpoint"]
    assert Path(new).parent == tmp_path and Path(new).name.startswith("ck.seed0.cfg-")
    assert f"this run's checkpoint is {new}" in capsys.readouterr().out
    assert json.loads(out.read_text())["runs"][0]["result"]["config"]["lr"] == 0.05


def test_cost_config_naming_a_crafted_checkpoint_runs_no_code(data_root, tmp_path, capsys):
    import pickle

    marker = tmp_path / "pwned"

    class WritesMarker:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"model": WritesMarker()}))
    config = tmp_path / "tuned.toml"
    config.write_text(f'[gcn.train]\ncheckpoint = "{evil}"\n')
    argv = ["cost", "--model", "gcn", "--vs", "none", "--epochs", "1", "--root", str(data_root)]
    assert main([*argv, "--config", str(config), "--no-progress"]) == 2
    assert f"Checkpoint {evil} holds more than plain tensors" in capsys.readouterr().err
    assert not marker.exists()


def test_cost_json_to_a_folder_fails_before_training(data_root, tmp_path, capsys, monkeypatch):
    import spikegraph.experiments.cost as experiment

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(experiment, "model_cost", refuse)
    argv = ["cost", "--model", "gcn", "--vs", "none", "--epochs", "1", "--root", str(data_root)]
    assert main([*argv, "--json", str(tmp_path), "--no-progress"]) == 2
    assert f"--json {tmp_path} is a folder" in capsys.readouterr().err


def test_train_draws_no_progress_bar_when_stderr_is_not_a_terminal(data_root, capsys):
    """Progress is on by default, but a pipe or a log file gets no bar (capsys is no TTY)."""
    argv = ["train", "--dataset", "Cora", "--model", "gcn", "--epochs", "2", "--root"]
    assert main([*argv, str(data_root)]) == 0
    assert "train:" not in capsys.readouterr().err
