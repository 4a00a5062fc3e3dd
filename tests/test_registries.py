"""Every item of every registry is built and run here, parametrised over the registries
themselves, so a new neuron, surrogate, encoder, normalisation, readout, model or sampler is
covered without an edit (the samplers' behaviour: ``tests/samplers/test_invariants.py``, which
also fails for a sampler it does not cover)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import torch

import spikegraph
from spikegraph.cost import count
from spikegraph.models import MODELS, SpikingGCN, build_model
from spikegraph.nn.encoding import ENCODERS, make_encoder
from spikegraph.nn.neurons import NEURONS, build_neuron
from spikegraph.nn.norm import NORMS, norm_names
from spikegraph.nn.readout import READOUTS
from spikegraph.nn.registry import Registry
from spikegraph.nn.surrogate import SURROGATES
from spikegraph.samplers import SAMPLERS

REGISTRIES = {
    "neuron": NEURONS,
    "surrogate": SURROGATES,
    "encoder": ENCODERS,
    "norm": {name: None for name in norm_names()},
    "readout": READOUTS,
    "model": MODELS,
    "sampler": SAMPLERS,
}
ITEMS = [(kind, name) for kind, registry in REGISTRIES.items() for name in registry]
N, F, C, T = 7, 5, 3, 4


def graph() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(N, F, generator=gen) > 0.5).float()
    ring = torch.arange(N)
    edge_index = torch.stack([torch.cat([ring, (ring + 1) % N]), torch.cat([(ring + 1) % N, ring])])
    return x, edge_index


def test_every_registry_of_the_package_is_covered_here():
    for info in pkgutil.walk_packages(spikegraph.__path__, "spikegraph."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if isinstance(value, Registry):
                assert value.kind in REGISTRIES, f"{info.name}.{attr} is not tested here"
                if value.kind != "norm":
                    assert REGISTRIES[value.kind] is value, f"{info.name}.{attr}"
    assert set(NORMS) <= set(REGISTRIES["norm"])  # the names a layer takes: NORMS and "none"


@pytest.mark.parametrize("kind, name", ITEMS, ids=[f"{k}-{n}" for k, n in ITEMS])
def test_registered_item_builds_and_runs(kind, name):
    torch.manual_seed(0)
    x, edge_index = graph()
    if kind == "neuron":
        neuron = build_neuron(name, num_features=F)
        assert type(neuron).name == name and neuron.options()["neuron"] == name
        current = torch.randn(T, N, F, requires_grad=True) * 2
        spikes = neuron(current)
        assert spikes.shape == (T, N, F) and set(spikes.unique().tolist()) <= {0.0, 1.0}
        torch.testing.assert_close(neuron.rate(current), spikes.mean(0))
        spikes.sum().backward()
    elif kind == "surrogate":
        surrogate = SURROGATES[name]()
        u = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
        assert torch.equal(surrogate(u), (u >= 0).to(u.dtype))
        (grad,) = torch.autograd.grad(surrogate.primitive(u).sum(), u)
        torch.testing.assert_close(surrogate.derivative(u.detach()), grad)
    elif kind == "encoder":
        encoder = make_encoder(name, T, seed=1)
        assert encoder.name == name
        out = encoder(x)
        assert out.shape == ((N, F) if encoder.static_output else (T, N, F))
        model = SpikingGCN(F, 8, 2, C, T=T, encoder=name).eval()
        assert model(x, edge_index).shape == (N, C)
    elif kind == "norm":
        model = SpikingGCN(F, 8, 2, C, T=T, norm=name)
        model(x, edge_index).sum().backward()
        assert (model.convs[0].norm is None) == (name == "none")
        if name != "none":
            assert model.convs[0].norm.name == name
    elif kind == "readout":
        model = SpikingGCN(F, 8, 2, C, T=T, readout=name).eval()
        assert isinstance(model.decoder, READOUTS[name])
        report = count(model, x.expand(T, N, F).clone(), edge_index)
        assert [r.kind for r in report.layers][-1] == "readout"
        assert model.convs[-1].neuron is None or READOUTS[name].spiking_output
    elif kind == "model":
        model = build_model(name, F, C).eval()
        assert model(x, edge_index).shape == (N, C)
    elif kind == "sampler":
        cls = SAMPLERS[name]
        assert cls.name == name
        params = inspect.signature(cls.__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            assert set(cls.options_for(2)) <= set(params), "options_for names its options"
        assert isinstance(cls.options_for(2), dict)
    else:  # pragma: no cover - a registry added to REGISTRIES without a case
        pytest.fail(f"no smoke test for the {kind} registry")
