"""samplers_variance.py: its statistics, its exact values and its estimates on toy graphs
where the answer is known."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Data

from tests.benchmarks.conftest import load

sv = load("samplers_variance")


def toy_graph(n: int = 60, pairs: int = 200, features: int = 5, classes: int = 3) -> Data:
    gen = torch.Generator().manual_seed(1)
    p = torch.randint(0, n, (2, pairs), generator=gen)
    p = p[:, p[0] != p[1]]
    edge_index = torch.unique(torch.cat([p, p.flip(0)], dim=1), dim=1)
    x = torch.randn(n, features, generator=gen)
    y = torch.randint(0, classes, (n,), generator=gen)
    return Data(x=x, y=y, edge_index=edge_index, train_mask=torch.ones(n, dtype=torch.bool))


def test_error_stats_recovers_a_known_bias_and_variance():
    gen = torch.Generator().manual_seed(0)
    n, f, s, sigma = 200, 4, 50, 0.5
    exact = torch.randn(n, f, generator=gen)
    shift = 0.3 * torch.randn(n, f, generator=gen)
    biased, unbiased = sv.ErrorStats(exact), sv.ErrorStats(exact)
    ids = torch.arange(n)
    for _ in range(s):
        noise = sigma * torch.randn(n, f, generator=gen)
        biased.add(ids, exact + shift + noise)
        unbiased.add(ids, exact + noise)
    norm2 = float(exact.square().sum())
    want_var = n * f * sigma**2 / norm2
    want_se = math.sqrt(want_var / s)
    for stats in (biased, unbiased):
        got = stats.summary()
        assert got["rows_seen_twice"] == n and got["mean_times_seen"] == s
        # the variance estimate has relative sd sqrt(2 / (n f (s - 1))) ~ 0.01
        assert got["variance"] == pytest.approx(want_var, rel=0.05)
        assert got["bias_se"] == pytest.approx(want_se, rel=0.05)
    want_bias = math.sqrt(float(shift.square().sum()) / norm2)
    got_bias = biased.summary()["bias"]
    # E[bias^2] = true bias^2 + se^2; the bias estimate's sd is about se
    assert abs(got_bias**2 - want_bias**2 - want_se**2) < 4 * want_se * want_bias
    got = unbiased.summary()
    assert got["bias"] == pytest.approx(want_se, rel=0.1)  # unbiased: bias reads its se
    assert got["mse"] == pytest.approx(got["variance"] * (s - 1) / s + got["bias"] ** 2, rel=1e-6)


def test_error_stats_reports_nothing_for_rows_seen_once():
    stats = sv.ErrorStats(torch.ones(4, 2))
    stats.add(torch.tensor([0, 1]), torch.zeros(2, 2))
    got = stats.summary()
    assert got["bias"] is None and got["variance"] is None
    assert got["mse"] == pytest.approx(1.0) and got["rows_seen"] == 2
    with pytest.raises(ValueError, match="estimate of shape"):
        stats.add(torch.tensor([0]), torch.zeros(2, 2))


def test_full_forward_and_gradient_equal_pyg_gcn():
    data = toy_graph()
    model = sv.make_model(data.num_features, 3, 0)
    train = torch.arange(0, data.num_nodes, 2)
    exact = sv.exact_values(model, data, train)
    logits = model(data.x, data.edge_index)
    torch.nn.functional.cross_entropy(logits[train], data.y[train]).backward()
    assert torch.allclose(sv.flat_grad(model), exact["grad"], atol=1e-6)
    conv = model.convs[0]
    agg = conv(data.x, data.edge_index) - conv.bias
    assert torch.allclose(agg, exact["agg"], atol=1e-6)
    assert torch.allclose(exact["hidden"], torch.relu(agg + conv.bias), atol=1e-6)


def measure(data: Data, name: str, options: dict, batch_size: int, batches: int = 6) -> dict:
    model = sv.make_model(data.num_features, 3, 0)
    train = data.train_mask.nonzero().view(-1)
    exact = sv.exact_values(model, data, train)
    sampler = sv.build(name, data, options, batch_size, 0)
    setup = sv.Setup(name, sampler, "batch_size", batch_size, batch_size)
    history = "warm" if getattr(sampler, "history", None) is not None else None
    return sv.measure_sampler(setup, model, data, train, exact, batches, 0, history)


def test_a_sampler_taking_the_whole_graph_has_no_bias_and_no_variance():
    data = toy_graph()
    row = measure(data, "graphsage", {"num_neighbors": [-1, -1]}, data.num_nodes)
    assert row["nodes_per_layer"] == [data.num_nodes] * 3
    for key in ("agg", "grad"):
        assert row[key]["bias"] < 1e-5, row[key]
        assert row[key]["variance"] < 1e-10, row[key]
    # the same measurement sees the error of a sampler that does not take the whole graph
    row = measure(data, "graphsage", {"num_neighbors": [1, 1]}, 8)
    assert row["agg"]["variance"] > 1e-3 and row["grad"]["variance"] > 1e-3


def test_vrgcn_first_layer_is_exact_and_warm_histories_make_its_forward_exact():
    data = toy_graph()
    row = measure(data, "vrgcn", {"num_neighbors": [1, 1]}, data.num_nodes)
    assert row["agg"]["bias"] < 1e-5 and row["agg"]["variance"] < 1e-10
    # all training nodes as targets and exact histories: the loss, hence the W2 part of the
    # gradient, is exact; the rest comes from the sampled edges
    assert row["grad"]["variance"] > 0


def test_calibrate_hits_the_target_for_growing_and_shrinking_options():
    knob, value, probes = sv.calibrate(lambda k: 3.0 * k + 40, 500, 512)
    assert abs(value / 512 - 1) <= 0.1 and len(probes) <= 4
    knob, value, _ = sv.calibrate(lambda k: 20000 / k, 10, 512, direction=-1)
    assert abs(value / 512 - 1) <= 0.1 and knob == pytest.approx(20000 / 512, rel=0.1)


def test_every_registered_sampler_has_a_size_option():
    from spikegraph.samplers import SAMPLERS

    for name, cls in SAMPLERS.items():
        assert sv.size_knob(cls) in ("batch_size", "layer_sizes", *sv.SUBGRAPH_KNOBS), name
