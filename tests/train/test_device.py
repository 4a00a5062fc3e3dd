"""``device``: what is accepted and refused, where training runs, checkpoints across devices.

The CPU is tested everywhere; the CUDA tests run only where CUDA is available.
"""

from __future__ import annotations

import pytest
import torch

import spikegraph.train.device as device_module
from spikegraph.models import SpikingGCN
from spikegraph.samplers import GraphSAGESampler, Loader
from spikegraph.train import TrainConfig, fit, make_evaluator
from spikegraph.train.device import DeviceError, module_device, resolve_device
from spikegraph.train.minibatch import minibatch_step
from tests.conftest import synthetic_node_data

CUDA = torch.cuda.is_available()


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(device_module, "cuda_available", lambda: False)


def test_cpu_and_auto_without_cuda(no_cuda):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_with_cuda_is_cuda(monkeypatch):
    monkeypatch.setattr(device_module, "cuda_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "CUDA"])
def test_cuda_without_cuda_is_a_clear_error(no_cuda, name):
    with pytest.raises(DeviceError, match=rf"Device '{name}' asked for, but CUDA is not avail"):
        resolve_device(name)


@pytest.mark.parametrize(
    "value, msg",
    [
        ("meta", r"Device 'meta' is not supported \(meta tensors hold no data"),
        ("gpu", r"Unknown device 'gpu'; expected one of \['cpu', 'cuda', 'auto'\]"),
        ("", r"Unknown device ''"),
        (0, r"'device' must be one of .* got int \(0\)"),
        (None, r"got NoneType"),
    ],
)
def test_bad_devices_are_refused(value, msg):
    with pytest.raises(DeviceError, match=msg):
        resolve_device(value)


def test_cuda_index_beyond_the_machine(monkeypatch):
    monkeypatch.setattr(device_module, "cuda_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(DeviceError, match=r"'cuda:2' asked for, but this machine has 2 CUDA"):
        resolve_device("cuda:2")


def test_train_config_checks_the_device_up_front(no_cuda):
    assert TrainConfig(device="cpu").device == "cpu"
    assert TrainConfig().device is None  # the model's own device
    with pytest.raises(DeviceError, match="CUDA is not available"):
        TrainConfig(device="cuda")
    with pytest.raises(DeviceError, match="meta"):
        TrainConfig(device="meta")


def model(seed: int = 0, **kwargs) -> SpikingGCN:
    torch.manual_seed(seed)
    return SpikingGCN(8, 16, 2, 2, T=4, **kwargs)


def test_fit_on_cpu_records_the_device_and_leaves_the_data_alone(node_data):
    x, edge_index = node_data.x, node_data.edge_index
    result = fit(model(), node_data, TrainConfig(epochs=2, progress=False, device="auto"))
    assert result.device == ("cuda:0" if CUDA else "cpu")
    assert node_data.x is x and node_data.edge_index is edge_index
    assert node_data.x.device.type == "cpu"


def test_fit_without_a_device_trains_where_the_model_is(node_data):
    net = model()
    result = fit(net, node_data, TrainConfig(epochs=1, progress=False))
    assert result.device == "cpu" and module_device(net).type == "cpu"


def test_a_meta_model_is_refused(node_data):
    with torch.device("meta"):
        net = SpikingGCN(8, 16, 2, 2, T=4)
    with pytest.raises(DeviceError, match="meta"):
        fit(net, node_data, TrainConfig(epochs=1, progress=False))


def test_minibatch_step_moves_each_batch_to_the_data(node_data, monkeypatch):
    """Samplers build batches on the CPU; the step moves each one to the data's device."""
    from spikegraph.samplers.batch import Batch

    moved = []
    real = Batch.to

    def to(self, device):
        moved.append(torch.device(device))
        return real(self, device)

    monkeypatch.setattr(Batch, "to", to)
    loader = Loader(
        GraphSAGESampler(node_data, num_neighbors=[3, 3], seed=0),
        seeds=node_data.train_mask.nonzero().view(-1),
        batch_size=8,
        seed=0,
    )
    fit(model(), node_data, TrainConfig(epochs=1, progress=False), minibatch_step(loader))
    assert moved and moved == [torch.device("cpu")] * len(moved) and len(moved) == len(loader)


def test_checkpoint_of_another_device_resumes_with_a_warning(node_data, tmp_path, caplog):
    """The device is not part of a run's identity: a checkpoint written on a GPU resumes on
    the CPU (weights are loaded to the CPU), with a warning that the random streams differ."""
    ck = tmp_path / "ck.pt"
    config = TrainConfig(epochs=4, patience=None, progress=False, checkpoint=str(ck))
    fit(model(), node_data, config)
    saved = torch.load(ck, weights_only=True)
    assert saved["device"] == "cpu"
    saved.update(device="cuda:0", finished=False)
    torch.save(saved, ck)
    with caplog.at_level("WARNING"):
        result = fit(model(seed=3), node_data, config)
    assert result.epochs_run == 4
    assert "written on cuda:0, resumed on cpu" in caplog.text


def small_data():
    data = synthetic_node_data(num_nodes=60)
    return data


@pytest.mark.skipif(not CUDA, reason="CUDA is not available")
@pytest.mark.parametrize("name", ["gcn", "sgcn"])
def test_cuda_training_matches_cpu(name):
    from spikegraph.models import build_model

    data = small_data()
    results = {}
    for dev in ("cpu", "cuda"):
        torch.manual_seed(0)
        # No dropout: CPU and CUDA draw from different random generators.
        opts = {"hidden_channels": 16, "dropout": 0.0}
        if name == "sgcn":
            opts.update(input_dropout=0.0, T=4, encoder="direct")
        net = build_model(name, 8, 2, **opts)
        config = TrainConfig(epochs=2, patience=None, progress=False, device=dev)
        results[dev] = fit(net, data, config)
        assert module_device(net).type == dev
    assert results["cuda"].device.startswith("cuda")
    cpu, gpu = (results[d].history for d in ("cpu", "cuda"))
    tol = 1e-4 if name == "gcn" else 2e-2  # a spike may flip on float rounding
    for a, b in zip(cpu, gpu):
        assert a["loss"] == pytest.approx(b["loss"], rel=tol, abs=tol)
    assert abs(results["cpu"].test_acc - results["cuda"].test_acc) <= 0.1


@pytest.mark.skipif(not CUDA, reason="CUDA is not available")
def test_cuda_minibatch_layerwise_and_checkpoint_to_cpu(tmp_path):
    data = small_data()
    loader = Loader(
        GraphSAGESampler(data, num_neighbors=[3, 3], seed=0),
        seeds=data.train_mask.nonzero().view(-1),
        batch_size=8,
        seed=0,
    )
    ck = tmp_path / "ck.pt"
    config = TrainConfig(epochs=2, progress=False, device="cuda", checkpoint=str(ck))
    result = fit(
        model(), data, config, minibatch_step(loader), evaluate=make_evaluator("layerwise", 16)
    )
    assert result.device.startswith("cuda") and 0 <= result.test_acc <= 1
    # The finished checkpoint is returned as it was on the CPU.
    again = fit(
        model(seed=5),
        data,
        TrainConfig(**{**config.__dict__, "device": "cpu"}),
        minibatch_step(loader),
        evaluate=make_evaluator("layerwise", 16),
    )
    assert again.history == result.history
