"""Layer-wise inference gives the full-graph forward's logits, for every model kind."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn.models import GCN

from spikegraph.datasets import load_dataset
from spikegraph.models import build_model
from spikegraph.nn.monitor import SpikeMonitor
from spikegraph.train import TrainConfig, fit, inference
from spikegraph.train.inference import layerwise_predict
from spikegraph.train.trainer import predict

MODELS = ("sgcn", "sgat", "gcn", "gat")


def _graph(weighted: bool = False) -> Data:
    """37 nodes: directed random edges, repeated edges, self-loops and two isolated nodes."""
    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 35, (2, 160), generator=gen)
    ei = torch.cat([ei, ei[:, :10], torch.tensor([[3, 7], [3, 7]])], 1)  # repeats, loops
    x = torch.rand(37, 5, generator=gen, dtype=torch.float64)
    data = Data(x=x, edge_index=ei, num_nodes=37)
    if weighted:
        data.edge_weight = torch.rand(ei.size(1), generator=gen, dtype=torch.float64) + 0.1
    return data


def _model(name: str, in_channels: int, out_channels: int, **opts) -> torch.nn.Module:
    """A 3-layer model in float64 (see the inference module on rounding and spikes)."""
    torch.manual_seed(0)
    kw = {"hidden_channels": 8, "num_layers": 3, "dropout": 0.5}
    if name in ("sgat", "gat"):
        kw["heads"] = 2
    if name in ("sgcn", "sgat"):
        kw.update(T=4, v_threshold=0.25)
    return build_model(name, in_channels, out_channels, **{**kw, **opts}).double()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("batch_size", [1, 6, 64])
def test_equals_full_graph_forward(name, batch_size):
    data = _graph()
    model = _model(name, 5, 3)
    want = predict(model, data)
    got = layerwise_predict(model, data, batch_size=batch_size)
    assert got.shape == want.shape == (37, 3)
    assert torch.allclose(got, want, rtol=1e-9, atol=1e-9)
    assert float(want.std()) > 0  # a real comparison, not two constant outputs


@pytest.mark.parametrize("name", ["sgcn", "gcn"])
def test_gcn_uses_full_graph_degrees_with_weights(name, monkeypatch):
    data = _graph(weighted=True)
    model = _model(name, 5, 3, improved=True)
    want = predict(model, data)
    assert torch.allclose(layerwise_predict(model, data, batch_size=5), want, atol=1e-9)
    # The test can fail: letting each layer normalise every batch with the degrees it sees
    # there (what a plain per-batch forward does) gives other logits.
    monkeypatch.setattr(inference._LayerGraphs, "key", lambda self, conv: "raw")
    monkeypatch.setattr(inference, "_normalisation_off", lambda conv: contextlib.nullcontext())
    assert not torch.allclose(layerwise_predict(model, data, batch_size=5), want, atol=1e-3)


def test_layer_settings_and_caches_are_restored():
    data = _graph()
    model = _model("sgcn", 5, 3, cached=True)
    want = predict(model, data)  # fills every layer's cached normalised graph
    cached = [conv._cached_edge_index for conv in model.convs]
    got = layerwise_predict(model, data, batch_size=7)
    assert torch.allclose(got, want, atol=1e-9)
    for conv, cache in zip(model.convs, cached):
        assert (conv.normalize, conv.add_self_loops, conv.cached) == (True, True, True)
        assert conv._cached_edge_index is cache
    assert torch.allclose(predict(model, data), want, atol=1e-12)


@pytest.mark.parametrize("name", ["sgcn", "gcn"])
def test_layers_are_never_reconfigured_during_inference(name):
    """The pre-normalised graph reaches each layer through a per-call switch: no layer's
    settings or cache change while it runs (a hook watches every call)."""
    data = _graph(weighted=True)
    model = _model(name, 5, 3, cached=True)
    want = predict(model, data)
    seen = []
    caches = [conv._cached_edge_index for conv in model.convs]

    def watcher(conv):
        def watch(module, args):
            seen.append((conv.normalize, conv.add_self_loops, conv.cached, conv._cached_edge_index))

        return watch

    for conv in model.convs:  # every layer's linear map runs once per batch
        conv.lin.register_forward_pre_hook(watcher(conv))
    assert torch.allclose(layerwise_predict(model, data, batch_size=9), want, atol=1e-9)
    assert len(seen) == 3 * 5  # 3 layers, 5 batches of 9 of the 37 nodes
    for normalize, loops, cached, cache in seen:
        assert (normalize, loops, cached) == (True, True, True)
        assert any(cache is c for c in caches)


@pytest.mark.parametrize(
    "opts",
    [
        {"norm": "tdbn"},
        {"readout": "rate"},
        {"encoder": "bernoulli"},
        {"sparse_input": True},
        {"jk": "cat"},
        {"jk": "max"},
        {"jk": "last"},
        {"jk": "cat", "encoder": "bernoulli"},
        {"head_channels": 6},
    ],
    ids=[
        "tdbn",
        "rate",
        "bernoulli",
        "sparse-input",
        "jk-cat",
        "jk-max",
        "jk-last",
        "jk-bernoulli",
        "head",
    ],
)
def test_spiking_options(opts):
    data = _graph()
    model = _model("sgcn", 5, 3, **opts)
    if opts.get("norm") == "tdbn":  # running statistics away from their initial values
        model.train()
        with torch.no_grad():
            for _ in range(3):
                model(data.x, data.edge_index)
    if opts.get("encoder") == "bernoulli":
        model.encoder.reset_generator()
    want = predict(model, data)
    if opts.get("encoder") == "bernoulli":
        model.encoder.reset_generator()  # the same spike train for both
    got = layerwise_predict(model, data, batch_size=8)
    assert got.shape == want.shape == (37, 3)
    assert torch.allclose(got, want, atol=1e-9)
    assert float(want.std()) > 0


def test_firing_rates_match():
    data = _graph()
    model = _model("sgat", 5, 3)
    with SpikeMonitor(model) as full:
        predict(model, data)
    with SpikeMonitor(model) as batched:
        layerwise_predict(model, data, batch_size=5)
    assert full.firing_rates().keys() == batched.firing_rates().keys()
    for k, v in full.firing_rates().items():
        assert batched.firing_rates()[k] == pytest.approx(v, abs=1e-12)
        assert 0 < v < 1


@pytest.mark.parametrize("name", MODELS)
def test_equals_full_graph_forward_on_cora(name, data_root, session_cache):
    data, num_classes = load_dataset("Cora", root=data_root, cache_dir=session_cache)
    data.x = data.x.double()
    model = _model(name, data.num_features, num_classes, num_layers=2, hidden_channels=16)
    want = predict(model, data)
    got = layerwise_predict(model, data, batch_size=700)
    assert torch.allclose(got, want, rtol=1e-9, atol=1e-9)


def test_fit_with_layerwise_evaluation(node_data):
    torch.manual_seed(0)
    model = build_model("sgcn", node_data.num_features, 2, hidden_channels=8, T=2)
    result = fit(
        model,
        node_data,
        TrainConfig(epochs=3, progress=False),
        evaluate=lambda m, d: layerwise_predict(m, d, batch_size=9),
    )
    logits = layerwise_predict(model, node_data, batch_size=9)
    assert torch.allclose(logits, predict(model, node_data), atol=1e-5)
    assert 0.0 <= result.test_acc <= 1.0 and result.firing_rates


def test_bad_input():
    data = _graph()
    model = _model("gcn", 5, 3)
    with pytest.raises(ValueError, match="'batch_size' must be >= 1, got 0"):
        layerwise_predict(model, data, batch_size=0)
    with pytest.raises(TypeError, match="'batch_size' must be an int, got float"):
        layerwise_predict(model, data, batch_size=2.0)
    with pytest.raises(TypeError, match="got Linear"):
        layerwise_predict(torch.nn.Linear(5, 3), data)
    with pytest.raises(ValueError, match="without jumping knowledge"):
        layerwise_predict(GCN(5, 8, 2, out_channels=3, jk="cat"), data)
    with pytest.raises(ValueError, match="per-node normalisation"):
        layerwise_predict(GCN(5, 8, 2, out_channels=3, norm="graph_norm"), data)


def test_spike_train_input():
    data = _graph()
    gen = torch.Generator().manual_seed(1)
    data.x = (torch.rand(4, 37, 5, generator=gen) < 0.3).double()  # [T, N, F]
    model = _model("sgat", 5, 3)
    want = predict(model, data)
    assert torch.allclose(layerwise_predict(model, data, batch_size=10), want, atol=1e-9)


def test_hidden_spike_trains_are_stored_compactly_and_exactly(monkeypatch):
    """Layer outputs are written in place; a spiking layer's spikes are kept as uint8 (a
    quarter of float32's memory on a 2.4M-node graph), and the logits are unchanged."""
    stores = []
    real_write = inference.LayerOutput.write

    def write(self, rows, out):
        real_write(self, rows, out)
        if self not in stores:
            stores.append(self)

    monkeypatch.setattr(inference.LayerOutput, "write", write)
    data = _graph()
    model = _model("sgcn", 5, 3)
    got = layerwise_predict(model, data, batch_size=6)
    assert torch.allclose(got, predict(model, data), rtol=1e-9, atol=1e-9)
    hidden, last = stores[:-1], stores[-1]
    assert [s.store.dtype for s in hidden] == [torch.uint8, torch.uint8]
    assert [tuple(s.store.shape) for s in hidden] == [(4, 37, 8), (4, 37, 8)]
    assert last.store.dtype == torch.float64 and got.dtype == torch.float64


def test_layer_output_switches_to_float_at_the_first_non_spike():
    out = inference.LayerOutput(5)
    out.write(torch.arange(0, 2), torch.tensor([[0.0, 1.0], [1.0, 1.0]]))
    assert out.store.dtype == torch.uint8
    out.write(torch.arange(2, 5), torch.tensor([[0.5, 1.0], [2.0, 0.0], [-1.0, 3.0]]))
    want = torch.tensor([[0.0, 1.0], [1.0, 1.0], [0.5, 1.0], [2.0, 0.0], [-1.0, 3.0]])
    assert torch.equal(out.result(), want)
    assert torch.equal(out.gather(torch.tensor([4, 0])), want[[4, 0]])


def test_layerwise_evaluator_shows_its_bar_when_asked(monkeypatch):
    seen = []
    monkeypatch.setattr(
        inference, "layerwise_predict", lambda m, d, batch_size, progress: seen.append(progress)
    )
    inference.make_evaluator("layerwise", 8, progress=True)(None, None)
    inference.make_evaluator("layerwise", 8)(None, None)
    assert seen == [True, False]
