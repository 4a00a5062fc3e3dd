"""Every registered neuron works everywhere a neuron goes: each spiking layer and model, the
cost counters, the spike monitor and the CLI. Parametrised over the registry, so a neuron
added in its own file is covered without editing this one."""

import json
import warnings

import pytest
import torch

from spikegraph.cli import build_parser, main, model_options
from spikegraph.cost import count
from spikegraph.models import build_model
from spikegraph.nn import SpikingGATConv, SpikingGATv2Conv, SpikingGCNConv
from spikegraph.nn.monitor import SpikeMonitor
from spikegraph.nn.neurons import LIF, NEURONS, SpikingNeuron, build_neuron

NAMES = sorted(NEURONS)
LAYERS = [SpikingGCNConv, SpikingGATConv, SpikingGATv2Conv]


def test_the_registry_holds_lif_and_every_class_knows_its_name():
    assert NEURONS["lif"] is LIF
    for name, cls in NEURONS.items():
        assert issubclass(cls, SpikingNeuron) and cls.name == name


@pytest.mark.parametrize("name", NAMES)
def test_multistep_static_current_and_rate_agree(name):
    torch.manual_seed(0)
    neuron = build_neuron(name, num_features=4)
    x = torch.randn(6, 4, dtype=torch.float64) * 1.5 + 0.5
    neuron = neuron.double()
    spikes = neuron(x, steps=5)
    assert spikes.shape == (5, 6, 4) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert spikes.any()
    train = neuron(x.unsqueeze(0).expand(5, 6, 4))
    torch.testing.assert_close(spikes, train, rtol=0, atol=0)
    torch.testing.assert_close(neuron.rate(x, steps=5), spikes.mean(0), rtol=0, atol=1e-12)
    neuron.reset_state()
    torch.testing.assert_close(neuron(x, steps=5), spikes, rtol=0, atol=0)  # stateless
    opts = neuron.options()
    assert opts["neuron"] == name and set(opts) == {"neuron", *type(neuron).defaults()}
    rule = neuron.counting_rule()
    assert rule.reset in ("hard", "soft", "none") and rule.macs_per_step >= 0


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("name", NAMES)
def test_every_layer_takes_the_neuron_by_name_and_trains_it(layer, name, edge_index):
    torch.manual_seed(0)
    conv = layer(8, 4, T=3, neuron=name)
    assert type(conv.neuron) is NEURONS[name]
    x = torch.rand(10, 8, requires_grad=True)
    out = conv(x, edge_index)
    assert out.shape == (3, 10, 4)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    for p in conv.neuron.parameters():  # learnable neuron constants get gradients
        assert p.grad is not None
    if name != "lif":
        assert f"neuron={NEURONS[name].__name__}(" in repr(conv)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("model", ["sgcn", "sgat", "stfn-sgcn"])
def test_every_model_counter_and_monitor(name, model, node_data):
    torch.manual_seed(0)
    net = build_model(model, node_data.num_features, 3, hidden_channels=16, T=3, neuron=name)
    assert type(net.convs[0].neuron) is NEURONS[name]
    out = net(node_data.x, node_data.edge_index)
    torch.nn.functional.cross_entropy(out, node_data.y).backward()
    assert all(p.grad is not None for p in net.convs[0].neuron.parameters())
    net.eval()
    with SpikeMonitor(net) as monitor, torch.no_grad():
        net(node_data.x, node_data.edge_index)
    rates = monitor.firing_rates()
    assert set(rates) == set(net.spiking_layers())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left uncounted
        with torch.no_grad():
            report = count(net, node_data.x, node_data.edge_index)
    assert report.select(kind="neuron")
    assert not [w for w in report.warnings if "neuron" in w or "not counted" in w]
    assert report.firing_rates() == pytest.approx(
        {f"{k}.neuron": v for k, v in rates.items()}, rel=1e-12
    )


@pytest.mark.parametrize("name", NAMES)
def test_cli_offers_every_neuron(name):
    args = build_parser().parse_args(["train", "--model", "sgcn", "--neuron", name])
    assert model_options(args)["neuron"] == name


@pytest.mark.parametrize("name", NAMES)
def test_train_command_with_every_neuron(name, data_root, tmp_path):
    out = tmp_path / "r.json"
    argv = ["train", "--dataset", "Cora", "--model", "sgcn", "--neuron", name, "--hidden", "8"]
    argv += ["--T", "2", "--epochs", "1", "--no-progress", "--root", str(data_root)]
    assert main([*argv, "--json", str(out)]) == 0
    eff = json.loads(out.read_text())["runs"][0]["effective_model_options"]
    assert eff["neuron"] == name
    defaults = NEURONS[name].defaults()
    assert {k: eff[k] for k in ("reset", "v_threshold")} == {
        k: defaults[k] for k in ("reset", "v_threshold")
    } or name == "lif"


def test_neuron_given_as_instance_class_name_or_factory():
    a = SpikingGCNConv(8, 4, neuron=LIF(tau=2.0, reset="soft"))
    b = SpikingGCNConv(8, 4, neuron=LIF, tau=2.0, reset="soft")
    c = SpikingGCNConv(8, 4, neuron="lif", neuron_kwargs={"tau": 2.0, "reset": "soft"})
    d = SpikingGCNConv(8, 4, neuron=lambda **kw: LIF(tau=2.0, reset="soft", **kw))
    e = SpikingGCNConv(8, 4, tau=2.0)  # the default neuron with one option changed
    assert repr(a) == repr(b) == repr(c) == repr(d) == repr(e)
    assert (e.neuron.tau, e.neuron.reset) == (2.0, "soft")
    # A model copies an instance for each layer.
    net = build_model("sgcn", 8, 3, num_layers=3, neuron=LIF(tau=3.0))
    assert net.convs[0].neuron is not net.convs[1].neuron
    assert net.convs[1].neuron.tau == 3.0 and net.convs[1].neuron.reset == "hard"


def test_bad_neurons_are_refused_by_name():
    with pytest.raises(ValueError, match=r"Unknown neuron 'lfi'; expected one of \["):
        SpikingGCNConv(8, 4, neuron="lfi")
    with pytest.raises(TypeError, match=r"Neuron options \['tau'\] were given with a neuron"):
        SpikingGCNConv(8, 4, neuron=LIF(), neuron_kwargs={"tau": 3.0})
    with pytest.raises(TypeError, match="returned Linear, not a SpikingNeuron"):
        SpikingGCNConv(8, 4, neuron=lambda: torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"Neuron LIF takes no option\(s\) \['beta'\]"):
        SpikingGCNConv(8, 4, neuron="lif", neuron_kwargs={"beta": 1.0})
    with pytest.raises(ValueError, match="'lif' is registered already"):

        class Again(SpikingNeuron, name="lif"):
            pass
