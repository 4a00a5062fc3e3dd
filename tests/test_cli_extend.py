"""The command line takes models, neurons and samplers registered after import as it takes
the built-ins, and ``cost`` takes ``--neuron`` as ``train`` does."""

from __future__ import annotations

import json

import pytest

from spikegraph.cli import build_parser, main
from spikegraph.models import MODELS, SpikingGCN, build_model
from spikegraph.nn.neurons import NEURONS
from spikegraph.samplers import SAMPLERS, GraphSAGESampler


@pytest.fixture(autouse=True)
def _restore_registries():
    models, samplers = list(MODELS), list(SAMPLERS)
    yield
    for registry, before in ((MODELS, models), (SAMPLERS, samplers)):
        for name in [n for n in registry if n not in before]:
            registry.pop(name)


@pytest.fixture
def mygcn():
    MODELS["mygcn"] = (SpikingGCN, {"hidden_channels": 8, "num_layers": 2})
    return "mygcn"


def option(parser, command: str, flag: str):
    sub = next(a for a in parser._actions if getattr(a, "choices", None) and command in a.choices)
    return next(a for a in sub.choices[command]._actions if flag in a.option_strings)


def test_train_takes_spiking_flags_for_a_model_registered_later(mygcn, data_root, tmp_path):
    out = tmp_path / "r.json"
    argv = ["train", "--model", mygcn, "--T", "2", "--neuron", "plif", "--epochs", "1"]
    argv += ["--root", str(data_root), "--no-progress", "--json", str(out)]
    assert main(argv) == 0
    record = json.loads(out.read_text())
    options = record["runs"][0]["model_options"]
    assert options["T"] == 2 and options["neuron"] == "plif"


def test_help_describes_a_model_registered_later(mygcn):
    parser = build_parser()
    assert f"{mygcn} none" in option(parser, "train", "--norm").help
    neuron = build_model(mygcn, 4, 3).convs[0].neuron
    help_text = option(parser, "train", "--neuron").help
    assert f"{mygcn}: LIF tau={neuron.tau}, reset={neuron.reset}" in help_text, help_text
    assert mygcn in option(parser, "train", "--model").choices


def test_a_users_sampler_is_a_sampler_choice_and_trains(data_root, tmp_path):
    class FewNeighbours(GraphSAGESampler, name="test-cli-few"):
        default_options = {"num_neighbors": [2, 2]}  # noqa: RUF012

    assert "test-cli-few" in option(build_parser(), "train", "--sampler").choices
    out = tmp_path / "r.json"
    argv = ["train", "--model", "gcn", "--hidden", "8", "--sampler", "test-cli-few"]
    argv += ["--epochs", "1", "--root", str(data_root), "--no-progress", "--json", str(out)]
    assert main(argv) == 0
    assert json.loads(out.read_text())["sampler"] == "test-cli-few"


def test_cost_takes_neuron_as_train_does():
    parser = build_parser()
    assert option(parser, "cost", "--neuron").choices == sorted(NEURONS)
    cost, train = option(parser, "cost", "--neuron").help, option(parser, "train", "--neuron").help
    presets = train[: train.index(")")]  # the neuron each model builds without --neuron
    assert "sgcn: LIF tau=4.0, reset=hard" in presets and cost.startswith(presets)
    assert "--option" in train and "--option" not in cost and "--config" in cost  # cost's way


def test_cost_neuron_builds_that_neuron(data_root, tmp_path):
    out = tmp_path / "c.json"
    argv = ["cost", "--model", "sgcn", "--vs", "none", "--neuron", "plif", "--epochs", "0"]
    argv += ["--root", str(data_root), "--no-progress", "--json", str(out)]
    assert main(argv) == 0
    first = json.loads(out.read_text())["first"]
    assert first["model_options"]["neuron"] == "plif"
    assert first["effective_model_options"]["neuron"] == "plif"


def test_cost_neuron_of_an_ordinary_model_is_refused(capsys):
    assert main(["cost", "--model", "gcn", "--neuron", "plif"]) == 2
    err = capsys.readouterr().err
    assert "--neuron only applies to spiking models, not gcn" in err
