"""One error style for the command line: a bad value is one ``spikegraph: error: ...`` line on
stderr, exit code 2, no traceback; ``-v`` anywhere; ``--help`` with defaults and plain text;
``--device``; Ctrl-C saves what finished and exits 130."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import spikegraph.train.device as device_module
from spikegraph.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def one_error_line(capsys) -> str:
    """The single stderr line of a refused command (asserting there is exactly one)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith("spikegraph: error: "), err
    return lines[0]


@pytest.fixture
def no_training(monkeypatch):
    """The refusals below come before any data is loaded or model trained."""
    import spikegraph.experiments.cost as cost
    import spikegraph.experiments.node_classification as experiment

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(experiment, "fit", refuse)
    monkeypatch.setattr(experiment, "load_dataset", refuse)
    monkeypatch.setattr(cost, "model_cost", refuse)
    monkeypatch.setattr("spikegraph.datasets.load_dataset", refuse)


TRAIN = ["train", "--epochs", "1", "--no-progress"]
COST = ["cost", "--epochs", "1", "--vs", "none", "--no-progress"]


@pytest.mark.parametrize(
    "argv, expected",
    [
        # argparse's own refusals: one line, not usage + error
        ([*TRAIN, "--model", "mlp"], "argument --model: invalid choice: 'mlp'"),
        ([*TRAIN, "--hidden", "abc"], "argument --hidden: invalid int value: 'abc'"),
        (["train", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        ([], "the following arguments are required: command"),
        # the CLI's own
        ([*TRAIN, "--option", "tau"], "--option expects key=value, got 'tau'"),
        ([*TRAIN, "--model", "gcn", "--T", "4"], "--T only apply to spiking models, not gcn"),
        ([*TRAIN, "--heads", "2"], "--heads only applies to GAT models, not sgcn"),
        ([*TRAIN, "--batch-size", "8"], "sampler options (--batch-size, --num-neighbors, ...) "),
        (
            [*COST, "--mac-pj", "1"],
            "a custom profile needs --mac-pj, --ac-pj and --profile-source",
        ),
        # the library's checks
        ([*TRAIN, "--hidden", "-5"], "'hidden_channels' must be >= 1, got -5"),
        (
            [*TRAIN, "--checkpoint", "ck.pt", "--checkpoint-every", "0"],
            "'checkpoint_every' must be >= 1, got 0",
        ),
        ([*TRAIN, "--option", "tua=2"], "Unknown option 'tua' for model 'sgcn' (SpikingGCN)"),
        ([*TRAIN, "--device", "meta"], "Device 'meta' is not supported"),
        ([*TRAIN, "--device", "tpu"], "Unknown device 'tpu'"),
        ([*COST, "--device", "meta"], "Device 'meta' is not supported"),
        ([*COST, "--config", "/no/such/tuned.toml"], "Config file /no/such/tuned.toml does not"),
        ([*COST, "--profile", "tpu"], "tpu"),
    ],
)
def test_bad_values_give_one_line_and_exit_2(capsys, no_training, argv, expected):
    assert main(argv) == 2
    assert expected in one_error_line(capsys)


@pytest.mark.parametrize(
    "given, expected",
    [
        (["--num-workers", "4"], "--num-workers 4 needs --sampler"),
        (["--num-workers", "0"], "--num-workers 0 needs --sampler"),
        (["--mode", "subgraph"], "--mode subgraph needs a sampler (--sampler)"),
        (["--mode", "blocks"], "--mode blocks needs a sampler (--sampler)"),
        (["--eval-batch-size", "7"], "--eval-batch-size 7 needs --eval layerwise"),
        (
            ["--eval", "full", "--eval-batch-size", "7"],
            "--eval-batch-size 7 needs --eval layerwise",
        ),
        (["--checkpoint-every", "3"], "--checkpoint-every 3 needs --checkpoint PATH"),
        (["--checkpoint-mismatch", "new"], "--checkpoint-mismatch new needs --checkpoint PATH"),
    ],
)
def test_train_options_that_would_be_ignored_are_refused(capsys, no_training, given, expected):
    """An option that acts only with another one is refused without it, as ``--batch-size``
    without ``--sampler`` is, instead of being silently ignored."""
    assert main([*TRAIN, "--model", "gcn", *given]) == 2
    assert expected in one_error_line(capsys)


def test_train_options_left_out_take_the_library_defaults(monkeypatch):
    """Leaving out the options above passes the library's own defaults on."""
    import spikegraph.experiments as experiments
    from spikegraph.experiments import node_classification

    seen = {}

    def run(*args, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments, "run_node_classification", run)
    assert main([*TRAIN, "--model", "gcn"]) == 130
    params = inspect.signature(node_classification.run_node_classification).parameters
    for key in ("num_workers", "mode", "eval_batch_size"):
        assert seen.get(key, params[key].default) == params[key].default, key
    assert seen["train_options"]["checkpoint"] is None
    assert "checkpoint_every" not in seen["train_options"]
    assert "checkpoint_mismatch" not in seen["train_options"]


def test_unknown_option_lists_the_valid_keys(capsys, no_training):
    assert main([*TRAIN, "--model", "gcn", "--option", "improvd=true"]) == 2
    line = one_error_line(capsys)
    assert "did you mean 'improved'?" in line and "valid options: " in line
    assert "MessagePassing.__init__" not in line
    for key in ("hidden_channels", "improved", "cached", "bias"):
        assert key in line.split("valid options: ")[1]


@pytest.mark.parametrize("command", [TRAIN, COST])
def test_cuda_when_unavailable_exits_2(capsys, no_training, monkeypatch, command):
    monkeypatch.setattr(device_module, "cuda_available", lambda: False)
    assert main([*command, "--device", "cuda"]) == 2
    assert "CUDA is not available on this machine" in one_error_line(capsys)


def test_unknown_option_in_a_cost_config_fails_before_the_data(capsys, no_training, tmp_path):
    config = tmp_path / "tuned.toml"
    config.write_text("[gcn.model]\nhiden_channels = 8\n")
    assert main([*COST, "--model", "gcn", "--config", str(config)]) == 2
    line = one_error_line(capsys)
    assert "Unknown option 'hiden_channels' for model 'gcn'" in line
    assert "did you mean 'hidden_channels'?" in line


@pytest.mark.parametrize("table", ["gcn.train", "gcn.PubMed.train"])
@pytest.mark.parametrize(
    ("line", "flag"),
    [("seed = 3", "--seed"), ('device = "cpu"', "--device"), ("progress = false", "--no-progress")],
)
def test_a_run_setting_in_a_cost_config_is_refused_not_ignored(
    capsys, no_training, tmp_path, table, line, flag
):
    """The seed, device and progress bars are the command's (``--seed``, ``--device``,
    ``--no-progress``): a file's would silently lose to the command's default, or win
    over what the command line said."""
    config = tmp_path / "tuned.toml"
    config.write_text(f"[{table}]\n{line}\nlr = 0.02\n")
    assert main([*COST, "--model", "gcn", "--config", str(config)]) == 2
    error = one_error_line(capsys)
    key = line.split(" = ")[0]
    assert f"{config}: [{table}] {line}: a run's {key} is not a file setting" in error, error
    assert f"spikegraph cost {flag}" in error, error


def test_missing_config_file_of_a_config_folder(capsys, no_training, tmp_path):
    assert main([*COST, "--config", str(tmp_path)]) == 2
    assert f"Config file {tmp_path} is a folder" in one_error_line(capsys)


def test_unwritable_cache_is_one_line_naming_it(capsys, data_root, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(blocker / "cache"))
    assert main([*TRAIN, "--model", "gcn", "--root", str(data_root)]) == 2
    line = one_error_line(capsys)
    assert str(blocker) in line and "SPIKEGRAPH_CACHE" in line


def test_corrupt_raw_file_is_one_line(capsys, cora_raw, tmp_path):
    raw = tmp_path / "Cora" / "raw"
    raw.mkdir(parents=True)
    for f in cora_raw.iterdir():
        (raw / f.name).write_bytes(f.read_bytes())
    (raw / "ind.cora.x").write_bytes(b"\x80\x04garbage")
    assert main([*TRAIN, "--model", "gcn", "--root", str(tmp_path)]) == 2
    assert "ind.cora.x" in one_error_line(capsys)


def test_an_internal_bug_is_one_line_without_v_and_a_traceback_with_it(capsys, monkeypatch):
    import spikegraph.cli as cli

    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "cmd_train", boom)
    assert main(TRAIN) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "spikegraph: error: ZeroDivisionError: division by zero "
        "(an unexpected error; run with -v for the traceback)"
    ]
    assert main(["train", "-v", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_works_before_and_after_the_subcommand(where):
    argv = ["-v", "train"] if where == "before" else ["train", "-v"]
    assert build_parser().parse_args(argv).verbose is True
    assert build_parser().parse_args(["train"]).verbose is False
    assert build_parser().parse_args(["cost", "--verbose"]).verbose is True


@pytest.mark.parametrize("command", [[], ["train"], ["cost"], ["bench"]])
def test_help_shows_defaults_and_no_rest_markup(capsys, command):
    assert main([*command, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # help text wraps anywhere
    for markup in (":mod:", ":class:", ":func:", "``"):
        assert markup not in out
    if command == ["train"]:
        assert "(default: 200)" in out  # --epochs
        assert "(default: cpu)" in out  # --device
        assert "(default: Cora)" in out
        assert "(default: None)" not in out
    if command == ["cost"]:
        assert "(default: 45nm)" in out and "(default: cpu)" in out


def test_device_cpu_is_recorded(data_root, tmp_path):
    out = tmp_path / "r.json"
    argv = [*TRAIN, "--model", "gcn", "--hidden", "8", "--root", str(data_root)]
    assert main([*argv, "--device", "cpu", "--json", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert run["result"]["device"] == "cpu" and run["result"]["config"]["device"] == "cpu"


def test_device_auto_without_cuda_is_the_cpu(data_root, tmp_path, monkeypatch):
    monkeypatch.setattr(device_module, "cuda_available", lambda: False)
    out = tmp_path / "r.json"
    argv = [*TRAIN, "--model", "gcn", "--hidden", "8", "--root", str(data_root)]
    assert main([*argv, "--device", "auto", "--json", str(out)]) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert run["result"]["device"] == "cpu" and run["result"]["config"]["device"] == "auto"


# --- Ctrl-C -----------------------------------------------------------------------------


def test_ctrl_c_in_a_later_seed_writes_the_finished_ones(data_root, tmp_path, capsys, monkeypatch):
    import spikegraph.experiments.node_classification as experiment
    from spikegraph.train import TrainingInterrupted

    real, calls = experiment.fit, []

    def fit(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise TrainingInterrupted("Training interrupted in epoch 3: ...", 2, Path("X"))
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "fit", fit)
    out = tmp_path / "r.json"
    argv = [*TRAIN, "--model", "gcn", "--hidden", "8", "--root", str(data_root)]
    assert main([*argv, "--seeds", "0", "1", "--json", str(out)]) == 130
    captured = capsys.readouterr()
    record = json.loads(out.read_text())
    assert [r["seed"] for r in record["runs"]] == [0]
    assert record["interrupted"] == {"seeds": [0, 1], "finished": [0], "interrupted_seed": 1}
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith("spikegraph: interrupted during seed 1: 1 of 2 seed(s) finished")
    assert f"written to {out}" in lines[0]
    assert "interrupted     seed 1 (1 of 2 seeds finished)" in captured.out


def test_ctrl_c_before_any_result_exits_130(capsys, monkeypatch):
    import spikegraph.cli as cli

    def interrupt(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_cost", interrupt)
    assert main(COST) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["spikegraph: interrupted; nothing was saved"]


def test_sigint_saves_the_checkpoint_and_says_how_to_resume(data_root, tmp_path):
    """A real Ctrl-C (SIGINT) to a running ``spikegraph train``: the finished epochs are in
    the checkpoint, the message says so and how to resume, the exit code is 130, and running
    the command again finishes the run from there."""
    ck = tmp_path / "ck.pt"
    out = tmp_path / "r.json"
    argv = [sys.executable, "-m", "spikegraph.cli", "train", "--model", "gcn", "--hidden", "8"]
    argv += ["--root", str(data_root), "--epochs", "100000", "--patience", "100000"]
    argv += ["--checkpoint", str(ck), "--checkpoint-every", "3", "--json", str(out)]
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [*argv, "--no-progress"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "ck.seed0.pt").exists():  # training is under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    time.sleep(0.2)  # land somewhere in a later epoch
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spikegraph: interrupted during seed 0"), err
    assert f"to {tmp_path / 'ck.seed0.pt'}" in lines[0]
    assert "run the same command again to resume" in lines[0]
    assert not out.exists()  # no seed finished
    import torch

    saved = torch.load(tmp_path / "ck.seed0.pt", weights_only=True)
    assert saved["state"]["epoch"] >= 1 and not saved["finished"]
    assert f"saved epoch {saved['state']['epoch']} " in lines[0]
