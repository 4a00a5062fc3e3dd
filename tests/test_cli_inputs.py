"""The CLI refuses impossible model sizes and options up front: exit code 2, a clear message,
no training started."""

from __future__ import annotations

import pytest

from spikegraph.cli import main
from spikegraph.models.checks import MEMORY_LIMIT_ENV


def train(data_root, *extra):
    argv = ["train", "--dataset", "Cora", "--epochs", "1", "--root", str(data_root)]
    return main([*argv, "--no-progress", *extra])


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a model is fitted: the refusals come before training."""
    from spikegraph.experiments import node_classification as experiment

    def fit(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(experiment, "fit", fit)


@pytest.mark.parametrize("model", ["sgcn", "gcn"])
def test_hidden_zero_is_refused(data_root, capsys, no_training, model):
    assert train(data_root, "--model", model, "--hidden", "0") == 2
    assert "'hidden_channels' must be >= 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["sgat", "gat"])
def test_heads_zero_is_refused(data_root, capsys, no_training, model):
    assert train(data_root, "--model", model, "--heads", "0") == 2
    assert "'heads' must be >= 1, got 0" in capsys.readouterr().err


def test_huge_t_is_refused_with_an_estimate(data_root, capsys, no_training, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "8G")
    assert train(data_root, "--model", "sgcn", "--T", "100000") == 2
    err = capsys.readouterr().err
    assert "needs at least about" in err and "GiB" in err and "T=100000" in err
    assert f"8.0 GiB available ({MEMORY_LIMIT_ENV}=8G)" in err


def test_absurd_t_is_refused_on_any_machine(data_root, capsys, no_training, monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    assert train(data_root, "--model", "sgcn", "--T", "100000000") == 2
    assert "needs at least about" in capsys.readouterr().err


def test_cached_with_a_sampler_is_refused(data_root, capsys, no_training):
    argv = ["--model", "gcn", "--option", "cached=true", "--sampler", "graphsage"]
    assert train(data_root, *argv, "--batch-size", "64", "--num-neighbors", "5", "5") == 2
    assert "cached=True cannot hold with the sampler 'graphsage'" in capsys.readouterr().err


def test_blocks_mode_without_a_sampler_is_refused(data_root, capsys, no_training):
    assert train(data_root, "--model", "sgcn", "--mode", "blocks") == 2
    assert "needs a sampler" in capsys.readouterr().err
