"""``cost_comparison`` checks every model's options, its seed and its epochs before any data
is loaded, and names the file, table and key of a bad config value (audit of the cost
command, D4, D5)."""

import pytest

import spikegraph.datasets
from spikegraph.experiments.cost import cost_comparison, model_cost

from .conftest import node_data


@pytest.fixture
def no_data(monkeypatch):
    """Loading data fails the test: every check must come before it."""

    def load_dataset(*args, **kwargs):
        raise AssertionError("the data was loaded before the options were checked")

    monkeypatch.setattr(spikegraph.datasets, "load_dataset", load_dataset)


def _config(tmp_path, text):
    path = tmp_path / "tuned.toml"
    path.write_text("[sgcn.train]\nepochs = 30\n" + text)
    return path


@pytest.mark.parametrize(
    ("text", "table", "match"),
    [
        ('[gcn.train]\nepochs = "3"\n', "[gcn.train]", r"epochs = '3'.*must be an int"),
        ("[gcn.train]\nepochs = -5\n", "[gcn.train]", r"epochs = -5.*must be an int >= 0"),
        ("[gcn.train]\nlr = -1.0\n", "[gcn.train]", r"lr = -1.0.*'lr' must be > 0"),
        ("[gcn.model]\ndropout = 1.5\n", "[gcn.model]", r"dropout = 1.5.*'dropout' must be in"),
        ('[gcn.Cora.train]\nepochs = "3"\n', "[gcn.Cora.train]", r"epochs = '3'"),
        ("[gcn.Cora]\nmodel = { dropout = 2.0 }\n", "[gcn.Cora.model]", r"dropout = 2.0"),
    ],
)
def test_a_bad_config_value_of_either_model_fails_first(tmp_path, no_data, text, table, match):
    path = _config(tmp_path, text)
    with pytest.raises(ValueError, match=match) as err:
        cost_comparison("Cora", "sgcn", "gcn", config=path)
    assert str(path) in str(err.value) and table in str(err.value)


def test_negative_epochs_in_a_config_are_refused_with_epochs_given(tmp_path, no_data):
    """A bad value is refused even where the command line's epochs replace it."""
    path = _config(tmp_path, "[gcn.train]\nepochs = -5\n")
    with pytest.raises(ValueError, match=r"\[gcn.train\] epochs = -5"):
        cost_comparison("Cora", "sgcn", "gcn", config=path, epochs=0)


@pytest.mark.parametrize("epochs", [-5, 1.5, True])
def test_bad_epochs_fail_first(no_data, epochs):
    with pytest.raises(ValueError, match=rf"'epochs' must be an int >= 0.*got {epochs!r}"):
        cost_comparison("Cora", "sgcn", "gcn", epochs=epochs)


@pytest.mark.parametrize("seed", [-1, 1.5, "3"])
def test_a_bad_seed_fails_first_even_untrained(no_data, seed):
    with pytest.raises(ValueError, match=rf"'seed' must be an int >= 0, got {seed!r}"):
        cost_comparison("Cora", "sgcn", "gcn", epochs=0, seed=seed)


def test_a_bad_model_option_given_to_the_function_fails_first(no_data):
    with pytest.raises(ValueError, match=r"model_options.*dropout = 1.5"):
        cost_comparison("Cora", "sgcn", "gcn", model_options={"dropout": 1.5})


def test_model_cost_refuses_negative_epochs_in_train_options():
    """``train_options={"epochs": -5}`` counted the untrained model without a word."""
    data = node_data()
    with pytest.raises(ValueError, match=r"'epochs' must be an int >= 0.*got -5"):
        model_cost("gcn", data, 2, train_options={"epochs": -5})
    with pytest.raises(ValueError, match=r"'seed' must be an int >= 0, got -1"):
        model_cost("gcn", data, 2, epochs=0, seed=-1)
    untrained = model_cost("gcn", data, 2, train_options={"epochs": 0})
    assert not untrained.trained and untrained.epochs_run == 0
