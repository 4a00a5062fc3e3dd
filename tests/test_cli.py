import json

import pytest

from spikegraph.cli import build_parser, main

RECORD_KEYS = {
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
}
RUN_KEYS = {
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
    "batches_per_epoch",
    "evaluation",
    "eval_batch_size",
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
    assert "test accuracy" in stdout and "firing rates" in stdout
    assert f"wrote {out}" in stdout


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
    assert "'batch_size' must be an int >= 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--model", "gcn", "--T", "4"], "--T only apply to spiking models, not gcn"),
        (["--model", "sgcn", "--heads", "2"], "--heads only applies to GAT models, not sgcn"),
        (["--option", "tau"], "--option expects key=value, got 'tau'"),
    ],
)
def test_inconsistent_options_exit(argv, msg):
    with pytest.raises(SystemExit, match=msg):
        main(["train", "--no-progress", *argv])


def test_argparse_rejects_unknown_model(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "mlp"])
    assert info.value.code == 2
    assert "invalid choice: 'mlp'" in capsys.readouterr().err


def test_parser_defaults():
    args = build_parser().parse_args(["train"])
    assert (args.dataset, args.model, args.split, args.seeds) == ("Cora", "sgcn", "public", [0])
    assert (args.epochs, args.lr, args.weight_decay, args.patience) == (200, None, 5e-4, 100)
    assert (args.eval, args.eval_batch_size) == ("full", 4096)


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
    from spikegraph.train import run_node_classification

    summary = run_node_classification(
        "Cora",
        "gat",
        root=data_root,
        model_options={"hidden_channels": 8, "heads": 1},
        train_options={"epochs": 1, "patience": None, "progress": False},
    )
    config = summary.runs[0].result.config
    assert config["patience"] is None and config["lr"] == 0.005
