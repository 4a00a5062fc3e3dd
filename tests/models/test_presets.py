"""The paper-faithful presets ``gcsnn`` / ``gasnn`` (Xu et al., IJCAI 2021 and arXiv
2407.20508): every layer spiking with STFN, rate readout, the papers' training setup."""

import json

import pytest
import torch

from spikegraph.cli import main
from spikegraph.models import (
    MODELS,
    SPIKING,
    SpikingGAT,
    SpikingGCN,
    build_model,
    check_model_options,
    is_attention,
    is_spiking,
    model_defaults,
    train_defaults,
)
from spikegraph.models.head import MLPHead
from spikegraph.models.options import check_model_option_names
from spikegraph.nn.neurons import LIF
from spikegraph.nn.stfn import STFN

PRESETS = ("gcsnn", "gasnn")


def _graph(n=30, f=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, f, generator=g) < 0.3).float()
    edge_index = torch.randint(0, n, (2, 120), generator=g)
    return x, edge_index


def _norm_inputs(model, x, edge_index):
    """The inputs every layer's STFN receives in one eval-mode forward pass."""
    seen = {}
    handles = [
        conv.norm.register_forward_hook(lambda m, i, o, k=k: seen.setdefault(k, i[0]))
        for k, conv in enumerate(model.convs)
    ]
    model.eval()
    with torch.no_grad():
        model(x, edge_index)
    for h in handles:
        h.remove()
    return seen


@pytest.mark.parametrize("name", PRESETS)
def test_every_layer_spikes_through_stfn_and_the_paper_s_neuron(name):
    model = build_model(name, 20, 3)
    assert isinstance(model, SpikingGAT if name == "gasnn" else SpikingGCN)
    assert model.readout == "rate" and model.decoder.spiking_output
    assert model.spiking_layers() == [f"convs.{i}" for i in range(model.num_layers)]
    for conv in model.convs:
        assert isinstance(conv.norm, STFN) and isinstance(conv.neuron, LIF)
        assert conv.neuron.tau == 2.0 and conv.neuron.reset == "hard"
    # the output layer is a spiking layer too: logits are firing rates (multiples of 1/T)
    x, edge_index = _graph()
    out = model.eval()(x, edge_index)
    assert out.shape == (30, 3)
    assert torch.equal(out * model.T, (out * model.T).round())


@pytest.mark.parametrize("name", PRESETS)
def test_stfn_of_layer_two_pools_over_steps_that_differ(name):
    torch.manual_seed(0)
    model = build_model(name, 20, 3)
    seen = _norm_inputs(model, *_graph())
    current = seen[1]
    assert current.dim() == 3 and current.shape[:2] == (model.T, 30)
    assert not torch.equal(current, current[:1].expand_as(current))  # not constant in time
    assert seen[0].dim() == 2  # direct coding: layer 1's current is static


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("encoder", ["bernoulli", "rank-order"])
def test_time_varying_encoders_reach_the_first_layer_s_stfn(name, encoder):
    torch.manual_seed(0)
    x, edge_index = _graph()
    x = x * torch.rand(x.shape, generator=torch.Generator().manual_seed(1))  # in [0, 1)
    model = build_model(name, 20, 3, encoder=encoder)
    current = _norm_inputs(model, x, edge_index)[0]
    assert current.dim() == 3 and current.size(0) == model.T
    assert not torch.equal(current, current[:1].expand_as(current))


@pytest.mark.parametrize("name", PRESETS)
def test_norm_none_is_the_stfn_ablation(name):
    with_stfn = build_model(name, 20, 3)
    without = build_model(name, 20, 3, norm="none")
    assert all(conv.norm is None for conv in without.convs)
    assert all(conv.neuron is not None for conv in without.convs)
    keys = {k for k in with_stfn.state_dict() if ".norm." not in k}
    assert keys == set(without.state_dict())
    assert repr(with_stfn) == repr(without)


def test_training_setup_of_the_papers():
    assert train_defaults("gcsnn") == {"lr": 0.01, "weight_decay": 5e-4, "epochs": 200}
    assert train_defaults("gasnn") == {"lr": 0.005, "weight_decay": 5e-4, "epochs": 200}
    gc, ga = model_defaults("gcsnn"), model_defaults("gasnn")
    assert (gc["dropout"], gc["input_dropout"]) == (0.1, 0.1)
    assert (ga["dropout"], ga["input_dropout"], ga["heads"]) == (0.6, 0.6, 8)
    for opts in (gc, ga):
        assert (opts["T"], opts["hidden_channels"], opts["num_layers"]) == (8, 64, 2)
        assert (opts["norm"], opts["tau"], opts["reset"], opts["readout"]) == (
            "stfn",
            2.0,
            "hard",
            "rate",
        )


@pytest.mark.parametrize("name", PRESETS)
def test_registry_round_trip(name):
    assert name in MODELS and name in SPIKING and is_spiking(name)
    assert is_attention(name) == (name == "gasnn")
    defaults = model_defaults(name)
    check_model_option_names(name, defaults)
    torch.manual_seed(0)
    a = build_model(name, 20, 3)
    torch.manual_seed(0)
    b = build_model(name, 20, 3, **defaults)
    assert repr(a) == repr(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.dropout == defaults["dropout"] and defaults["T"] == a.T


def test_attention_options_follow_the_class_not_the_name():
    """``gasnn`` takes ``heads`` although its name does not end in 'gat'."""
    assert check_model_options("gasnn", {"heads": 4})["heads"] == 4
    with pytest.raises(ValueError, match="must be divisible by heads=3"):
        check_model_options("gasnn", {"heads": 3})
    with pytest.raises(ValueError, match=r"only apply to GAT models, not 'gcsnn'"):
        check_model_options("gcsnn", {"heads": 4})


@pytest.mark.parametrize("name", PRESETS)
def test_mlp_head_of_the_journal_version(name):
    x, edge_index = _graph()
    model = build_model(name, 20, 3, head_channels=16)
    assert isinstance(model.head, MLPHead) and repr(model.head) == "MLPHead(64, 16, 3)"
    assert "head_channels=16" in repr(model)
    last = model.convs[-1]
    assert last.neuron is not None and isinstance(last.norm, STFN)
    assert model.eval()(x, edge_index).shape == (30, 3)
    assert any(k.startswith("head.lin1") for k in model.state_dict())
    with pytest.raises(ValueError, match="head_channels=16 with jk='cat'"):
        SpikingGCN(20, 8, 2, 3, jk="cat", head_channels=16)
    with pytest.raises(ValueError, match="'head_channels' must be >= 1, got 0"):
        build_model(name, 20, 3, head_channels=0)
    with pytest.raises(ValueError, match=r"\['head_channels'\] only apply to spiking models"):
        check_model_options("gcn", {"head_channels": 4})


@pytest.mark.parametrize("name", PRESETS)
def test_the_mlp_head_is_linear_relu_linear_on_the_firing_rates(name):
    """The logits are W2 ReLU(W1 r + b1) + b2 of the read-out firing rates r (the mean over
    time of the last layer's spikes), written out here with the head's own weights."""
    x, edge_index = _graph()
    torch.manual_seed(0)
    model = build_model(name, 20, 3, hidden_channels=8, head_channels=16, T=4).eval()
    if name == "gasnn":
        assert model.heads > 1
    seen = {}
    handle = model.convs[-1].register_forward_hook(lambda m, i, out: seen.update(spikes=out))
    with torch.no_grad():
        logits = model(x, edge_index)
    handle.remove()
    spikes = seen["spikes"]
    assert spikes.shape == (4, 30, 8) and 0 < float(spikes.mean()) < 1
    rates = spikes.mean(dim=0)
    head = model.head
    hidden = rates @ head.lin1.weight.t() + head.lin1.bias
    assert (hidden < 0).any() and (hidden > 0).any()  # the ReLU has something to cut
    expected = hidden.clamp(min=0) @ head.lin2.weight.t() + head.lin2.bias
    torch.testing.assert_close(logits, expected)
    # without the ReLU the logits would differ: the check above can tell
    affine = hidden @ head.lin2.weight.t() + head.lin2.bias
    assert not torch.allclose(affine, expected)


@pytest.mark.parametrize("name", PRESETS)
def test_cli_trains_the_preset_on_cora(name, data_root, tmp_path, capsys):
    out = tmp_path / "record.json"
    argv = ["train", "--dataset", "Cora", "--model", name, "--epochs", "2", "--root"]
    argv += [str(data_root), "--hidden", "8", "--T", "2"]
    argv += ["--heads", "2"] if name == "gasnn" else []
    argv += ["--encoder", "rank-order", "--json", str(out), "--no-progress"]
    assert main(argv) == 0
    run = json.loads(out.read_text())["runs"][0]
    assert run["result"]["epochs_run"] == 2
    config = run["result"]["config"]
    assert (config["lr"], config["weight_decay"]) == (train_defaults(name)["lr"], 5e-4)
    assert 0.0 <= run["result"]["test_acc"] <= 1.0
    assert f"{name} on Cora" in capsys.readouterr().out
