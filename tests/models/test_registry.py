import pytest
from torch_geometric.nn import models as pyg_models

from spikegraph.models import (
    GAT,
    GCN,
    MODELS,
    SPIKING,
    SpikingGAT,
    SpikingGCN,
    build_model,
    model_defaults,
    train_defaults,
)


@pytest.mark.parametrize(
    "name, cls", [("sgcn", SpikingGCN), ("sgat", SpikingGAT), ("gcn", GCN), ("gat", GAT)]
)
def test_build_model_with_defaults(name, cls, node_data):
    model = build_model(name, 8, 2)
    assert type(model) is cls
    if name in ("gcn", "gat"):  # PyG's models, with the papers' input dropout (off)
        assert isinstance(model, getattr(pyg_models, cls.__name__))
        assert model.input_dropout == 0.0
    defaults = MODELS[name][1]
    assert model.hidden_channels == defaults["hidden_channels"]
    assert model.num_layers == defaults["num_layers"]
    assert model.out_channels == 2
    assert model(node_data.x, node_data.edge_index).shape == (40, 2)


def test_options_override_defaults_and_none_is_ignored():
    model = build_model("sgcn", 8, 3, hidden_channels=12, T=2, dropout=None, tau=4.0)
    assert model.hidden_channels == 12 and model.T == 2
    assert model.dropout == MODELS["sgcn"][1]["dropout"]
    assert model.convs[0].neuron.tau == 4.0
    gat = build_model("sgat", 8, 3, heads=2, hidden_channels=8)
    assert gat.heads == 2 and gat.convs[0].out_channels == 4


def test_spiking_names():
    assert SPIKING == ("sgcn", "sgat", "stfn-sgcn", "stfn-sgat", "lif-sgat", "gcsnn", "gasnn")
    assert set(MODELS) == {"gcn", "gat", *SPIKING}


def test_model_defaults_is_a_copy():
    d = model_defaults("sgcn")
    d["T"] = 99
    assert MODELS["sgcn"][1]["T"] == 16


def test_unknown_model():
    msg = (
        r"Unknown model 'mlp'; expected one of "
        r"\['sgcn', 'sgat', 'gcn', 'gat', 'stfn-sgcn', 'stfn-sgat', 'lif-sgat', 'gcsnn', "
        r"'gasnn'\]"
    )
    with pytest.raises(ValueError, match=msg):
        build_model("mlp", 8, 2)
    with pytest.raises(ValueError, match=msg):
        model_defaults("mlp")
    with pytest.raises(ValueError, match=msg):
        train_defaults("mlp")


def test_paper_presets_build_stfn_and_leaky_hard_reset_neurons():
    for name in ("stfn-sgcn", "stfn-sgat"):
        model = build_model(name, 8, 2)
        neuron = model.convs[0].neuron
        assert neuron.tau == 2.0 and neuron.decay == 0.5 and neuron.reset == "hard"
        assert type(model.convs[0].norm).__name__ == "STFN"
    assert train_defaults("stfn-sgat") == train_defaults("sgat")


@pytest.mark.parametrize(
    "name, tau, reset",
    [("sgcn", 4.0, "hard"), ("sgat", float("inf"), "soft"), ("lif-sgat", 4.0, "hard")],
)
def test_tuned_spiking_defaults_build_the_validated_neurons(name, tau, reset):
    # sgcn: class_defaults_tuned.md; sgat: integrate-and-fire (node_classification.toml)
    model = build_model(name, 8, 2)
    neuron = model.convs[0].neuron
    assert (neuron.tau, neuron.reset) == (tau, reset)
    assert model.convs[0].norm is None


def test_train_defaults():
    assert train_defaults("sgat") == train_defaults("gat") == {"lr": 0.005}
    assert train_defaults("sgcn") == train_defaults("gcn") == {}
    d = train_defaults("gat")
    d["lr"] = 1.0
    assert train_defaults("gat") == {"lr": 0.005}


def test_bad_option_reaches_the_model():
    with pytest.raises(ValueError, match=r"Unknown readout 'max'"):
        build_model("sgcn", 8, 2, readout="max")


def test_lif_sgat_is_the_spiking_gat_with_the_spiking_gcns_neuron(node_data):
    gat, gcn = build_model("lif-sgat", 8, 2), build_model("sgcn", 8, 2)
    assert type(gat) is SpikingGAT
    a, b = gat.convs[0].neuron, gcn.convs[0].neuron  # the hidden layer's (the output has none)
    assert (a.tau, a.reset, a.v_threshold) == (b.tau, b.reset, b.v_threshold)
    assert gat.convs[0].norm is None
    others = {"norm", "tau", "reset"}
    assert {k: v for k, v in MODELS["lif-sgat"][1].items() if k not in others} == {
        k: v for k, v in MODELS["sgat"][1].items() if k not in others
    }
    assert train_defaults("lif-sgat") == train_defaults("sgat")
    assert gat(node_data.x, node_data.edge_index).shape == (40, 2)
