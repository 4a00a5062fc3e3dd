"""The command line reads its choices from the registries and leaves the training defaults to
TrainConfig and the model registry's train_defaults; ``--neuron NAME`` builds that class with
its own defaults."""

from __future__ import annotations

import dataclasses

import pytest

from spikegraph.cli import build_parser, cli_train_options, model_options
from spikegraph.experiments.node_classification import effective_model_options
from spikegraph.models import MODELS, build_model, train_defaults
from spikegraph.nn.encoding import ENCODERS, CurrentEncoder
from spikegraph.nn.neurons import NEURONS
from spikegraph.nn.norm import norm_names
from spikegraph.nn.readout import READOUTS
from spikegraph.train import TrainConfig


def option(parser, command: str, flag: str):
    sub = next(a for a in parser._actions if getattr(a, "choices", None) and command in a.choices)
    return next(a for a in sub.choices[command]._actions if flag in a.option_strings)


def test_choices_are_the_registries():
    parser = build_parser()
    assert option(parser, "train", "--encoder").choices == list(ENCODERS)
    assert option(parser, "train", "--readout").choices == list(READOUTS)
    assert option(parser, "train", "--norm").choices == list(norm_names())
    assert option(parser, "train", "--neuron").choices == sorted(NEURONS)
    assert option(parser, "train", "--model").choices == list(MODELS)


@pytest.mark.parametrize("name", ["sgcn", "sgat", "stfn-sgcn", "lif-sgat", "gcsnn", "gasnn"])
def test_the_neuron_help_names_the_neuron_each_model_builds(name):
    """``--neuron``'s help said "sgcn/sgat: LIF with tau=inf, reset=soft" after ``sgcn``'s
    default became ``tau=4``, hard reset; it now reads each preset's neuron from the
    registry, and the model built agrees."""
    help_text = option(build_parser(), "train", "--neuron").help
    neuron = build_model(name, 4, 3).convs[0].neuron
    assert f"{name}: LIF tau={neuron.tau}, reset={neuron.reset}" in help_text, help_text


def test_a_newly_registered_encoder_is_a_cli_choice():
    class Quiet(CurrentEncoder, name="test-quiet"):
        pass

    try:
        assert "test-quiet" in option(build_parser(), "train", "--encoder").choices
    finally:
        del ENCODERS["test-quiet"]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_parsed_defaults_leave_trainconfig_in_charge(model):
    args = build_parser().parse_args(["train", "--model", model])
    opts = cli_train_options(args)
    config = TrainConfig(**{**train_defaults(model), **opts})
    want = TrainConfig(**train_defaults(model))
    assert dataclasses.asdict(config) == dataclasses.asdict(want)
    for key in ("epochs", "lr", "weight_decay", "patience", "checkpoint_every"):
        assert getattr(args, key) is None, key
    given = cli_train_options(build_parser().parse_args(["train", "--epochs", "7", "--lr", "0.1"]))
    assert (given["epochs"], given["lr"]) == (7, 0.1)


def test_help_reads_the_defaults_from_trainconfig(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"maximum training epochs (default: {TrainConfig.epochs})" in text
    assert f"Adam's L2 penalty (default: {TrainConfig.weight_decay})" in text
    assert f"(default: {TrainConfig.lr}; gat 0.005" in text
    assert f"epochs between checkpoints (default: {TrainConfig.checkpoint_every})" in text
    assert "builds that class with its own defaults, not the preset's neuron options" in text
    assert "lif: tau=2.0, reset=hard" in text and "alif: tau=2.0, reset=soft" in text


def test_cost_epochs_default_is_the_trainers():
    args = build_parser().parse_args(["cost"])
    assert args.epochs is None


def neuron_of(argv: list[str]):
    args = build_parser().parse_args(["train", *argv])
    opts = model_options(args)
    model = build_model(args.model, 5, 3, **opts)
    return model.convs[0].neuron, effective_model_options(args.model, opts, model)


def test_without_neuron_the_preset_neuron_applies():
    neuron, record = neuron_of(["--model", "sgcn"])
    assert (neuron.tau, neuron.reset) == (4.0, "hard")  # SpikingGCN.default_neuron
    assert (record["tau"], record["reset"]) == (4.0, "hard")


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_naming_a_neuron_gives_its_class_defaults_and_the_record_shows_them(name):
    neuron, record = neuron_of(["--model", "sgcn", "--neuron", name])
    assert type(neuron) is NEURONS[name]
    assert {k: record[k] for k in neuron.options() if k != "neuron"} == {
        k: v for k, v in neuron.options().items() if k != "neuron"
    }
    defaults = NEURONS[name].defaults()
    assert record["reset"] == defaults["reset"] and neuron.reset == defaults["reset"]


def test_neuron_options_given_with_neuron_apply():
    neuron, record = neuron_of(["--neuron", "lif", "--option", "tau=4", "--option", "reset=soft"])
    assert (neuron.tau, neuron.reset) == (4.0, "soft") and record["tau"] == 4.0
    neuron, _ = neuron_of(["--model", "stfn-sgcn", "--neuron", "lif"])
    assert (neuron.tau, neuron.reset) == (2.0, "hard")  # LIF's own defaults
