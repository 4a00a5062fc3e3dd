"""Flags that were silently ignored or overridden are refused, naming them (audit of the
command line, D8, D9): ``cost --profile-source`` without a custom profile, ``cost --seed -1``
with ``--epochs 0``, and an option given twice (a flag and ``--option``, or one key twice)."""

from __future__ import annotations

import pytest

from spikegraph.cli import UsageError, build_parser, main, model_options, sampler_options

from .test_cli_errors import no_training, one_error_line  # noqa: F401  (a fixture)

COST = ["cost", "--epochs", "0", "--vs", "gcn", "--no-progress"]


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            [*COST, "--profile-source", "datasheet X"],
            "--profile-source 'datasheet X' describes a custom profile: give --mac-pj and "
            "--ac-pj too",
        ),
        ([*COST, "--seed", "-1"], "'seed' must be an int >= 0, got -1"),
        (
            ["train", "--T", "8", "--option", "T=4", "--no-progress"],
            "--T 8 and --option T=4 both set the model option T: give it once",
        ),
        (
            ["train", "--dropout", "0.4", "--option", "dropout=0.5", "--no-progress"],
            "--dropout 0.4 and --option dropout=0.5 both set the model option dropout",
        ),
        (
            ["train", "--option", "tau=2", "--option", "tau=4", "--no-progress"],
            "--option tau=2 and --option tau=4 both set tau: give it once",
        ),
        (
            ["train", "--sampler", "cluster-gcn", "--num-parts", "10", "--sampler-option",
             "num_parts=20", "--no-progress"],
            "--num-parts 10 and --sampler-option num_parts=20 both set the sampler option "
            "num_parts",
        ),
    ],
)  # fmt: skip
def test_refused_before_anything_runs(capsys, argv, expected):
    assert main(argv) == 2
    assert expected in one_error_line(capsys)


def test_one_setting_each_is_accepted():
    args = build_parser().parse_args(
        ["train", "--model", "sgcn", "--T", "8", "--option", "tau=4", "--option", "dropout=0.5"]
    )
    assert model_options(args) == {"T": 8, "tau": 4, "dropout": 0.5}
    args = build_parser().parse_args(
        ["train", "--sampler", "cluster-gcn", "--num-parts", "10", "--sampler-option", "x=1"]
    )
    assert sampler_options(args) == {"num_parts": 10, "x": 1}
    args = build_parser().parse_args(["train", "--option", "T=4", "--option", "T=4"])
    with pytest.raises(UsageError, match="--option T=4 and --option T=4 both set T"):
        model_options(args)
