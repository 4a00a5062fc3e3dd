"""run_node_classification: seeds and settings checked before any data is loaded, and the
effective options recorded."""

from __future__ import annotations

import pytest

from spikegraph.experiments import effective_model_options, run_node_classification
from spikegraph.models import build_model


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"seeds": [0, 0, 1]}, r"'seeds' holds 0 more than once \(\[0, 0, 1\]\)"),
        ({"seeds": [2, 1, 2, 1]}, r"'seeds' holds 1, 2 more than once"),
        ({"seeds": []}, r"'seeds' is empty"),
        ({"seeds": [0, True]}, r"'seeds' must hold ints >= 0, got True"),
        ({"train_options": {"lr": float("inf")}}, r"'lr' must be finite, got inf"),
        ({"model_options": {"dropout": float("nan")}}, r"Model option 'dropout' is NaN"),
        (
            {"sampler": "graphsage", "sampler_options": {"num_neighbors": [3, float("nan")]}},
            r"Sampler option 'num_neighbors' is NaN",
        ),
    ],
)
def test_bad_runs_are_refused_before_loading_data(tmp_path, kwargs, msg):
    # The root holds no data: reaching the loader would raise FileNotFoundError instead.
    with pytest.raises(ValueError, match=msg):
        run_node_classification("Cora", "gcn", root=str(tmp_path / "nothing"), **kwargs)


def test_seeds_must_be_a_list():
    with pytest.raises(TypeError, match=r"'seeds' must be a list of ints, got 3"):
        run_node_classification("Cora", "gcn", seeds=3)


def test_effective_model_options_fill_every_default():
    given = {"hidden_channels": 8, "tau": 3.0}
    eff = effective_model_options("sgcn", given, build_model("sgcn", 5, 3, **given))
    assert eff["hidden_channels"] == 8 and eff["tau"] == 3.0  # given
    assert eff["T"] == 16 and eff["norm"] == "none" and eff["reset"] == "hard"  # registry
    assert eff["encoder"] == "max-scaled"  # registry (the class default)
    assert eff["readout"] == "membrane"  # class
    assert eff["v_threshold"] == 1.0 and eff["surrogate"] == "rectangular"  # layer class
    assert eff["dropout"] == 0.6  # SpikingGCN's own default, over SpikingBasicGNN's
    # A subclass's constructor that passes **kwargs on: its base class's defaults are filled.
    sgat = effective_model_options("sgat")
    assert sgat["readout"] == "membrane" and sgat["encoder_seed"] == 0  # SpikingBasicGNN
    assert sgat["dropout"] == 0.6 and sgat["out_heads"] is None  # SpikingGAT's own
    gat = effective_model_options("gat", {"heads": 2})
    assert gat["heads"] == 2 and gat["dropout"] == 0.6 and gat["num_layers"] == 2
    # the baselines' input dropout: named when set, absent at 0 (the model is PyG's, as
    # every record made before the option existed describes it)
    assert "input_dropout" not in gat and "input_dropout" not in effective_model_options("gcn")
    assert effective_model_options("gcn", {"input_dropout": 0.5})["input_dropout"] == 0.5
    with pytest.raises(ValueError, match="Unknown model 'mlp'"):
        effective_model_options("mlp")
