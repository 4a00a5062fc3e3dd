"""spikegraph.experiments.gradient_error: exact and mini-batch gradients of any model, and the
statistics of their errors (the known-answer statistical tests of ErrorStats are in
tests/benchmarks/test_samplers_variance.py, which imports it from here)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from spikegraph.experiments.gradient_error import (
    ErrorStats,
    batch_gradient,
    full_batch_gradient,
    layer_edges_of,
    layer_sizes_of,
)
from spikegraph.models import build_model
from spikegraph.samplers import Loader
from spikegraph.train.minibatch import build_loader
from tests.conftest import synthetic_node_data


def model_and_data(name: str):
    data = synthetic_node_data(num_nodes=40, num_features=8, num_classes=2, seed=3)
    torch.manual_seed(0)
    options = {"hidden_channels": 8} | ({"T": 4} if name == "sgcn" else {})
    model = build_model(name, data.num_features, 2, **options).eval()
    return model, data


@pytest.mark.parametrize("name", ["gcn", "sgcn"])
def test_a_batch_of_the_whole_graph_gives_the_full_batch_gradient(name):
    model, data = model_and_data(name)
    # every node a seed: the sampled subgraph is the whole graph, with the same degrees
    data.train_mask = torch.ones(data.num_nodes, dtype=torch.bool)
    exact = full_batch_gradient(model, data)
    assert exact.abs().sum() > 0 and all(p.grad is None for p in model.parameters())
    train = int(data.train_mask.sum())
    setup = build_loader("graphsage", data, 2, train, {"num_neighbors": [-1, -1]})
    (batch,) = list(setup.loader)
    assert batch.num_targets == train
    grad = batch_gradient(model, data, batch, "subgraph")
    assert torch.allclose(grad, exact, atol=1e-5)
    stats = ErrorStats(exact.unsqueeze(0))
    for _ in range(3):  # the same batch three times: no variance, no bias
        stats.add(torch.zeros(1, dtype=torch.long), grad.unsqueeze(0))
    got = stats.summary()
    assert got["variance"] < 1e-12 and got["bias"] < 1e-5 and got["rows_seen_twice"] == 1


def test_a_sampled_batch_has_gradient_variance():
    model, data = model_and_data("gcn")
    exact = full_batch_gradient(model, data)
    sampler = build_loader("graphsage", data, 2, 4, {"num_neighbors": [2, 2]}).sampler
    stats = ErrorStats(exact.unsqueeze(0))
    train = data.train_mask.nonzero().view(-1)
    for batch in Loader(sampler, seeds=train, batch_size=4, shuffle=True, seed=1):
        stats.add(torch.zeros(1, dtype=torch.long), batch_gradient(model, data, batch, None)[None])
    assert stats.summary()["variance"] > 1e-3


def test_a_batch_without_targets_has_no_gradient_and_layer_sizes_follow_the_blocks():
    model, data = model_and_data("gcn")
    sampler = build_loader("graphsage", data, 2, 4, {"num_neighbors": [2, 2]}).sampler
    batch = sampler.sample(torch.tensor([0, 1]))
    sizes, edges = layer_sizes_of(batch), layer_edges_of(batch)
    assert sizes == [b.size[0] for b in batch.blocks] + [2]
    assert edges == [b.edge_index.size(1) for b in batch.blocks] and len(edges) == 2
    empty = dataclasses.replace(batch, target=batch.target[:0])  # same blocks, no targets
    assert batch_gradient(model, data, empty, "subgraph") is None
