"""Mini-batch training: every sampler with spiking and PyG models in the one training loop."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn.models import GAT, GCN

from spikegraph.cli import build_parser, sampler_options
from spikegraph.models import SpikingGCN, build_model
from spikegraph.samplers import SAMPLERS, GraphSAGESampler, Loader
from spikegraph.train import TrainConfig, fit
from spikegraph.train.minibatch import batch_logits, batch_loss, build_loader, minibatch_step

# Small options so every sampler runs in well under a second here.
SMALL = {
    "graphsage": {"num_neighbors": [3, 3]},
    "pinsage": {"num_neighbors": [3, 3], "num_walks": 4},
    "shadow": {"depth": 2, "num_neighbors": [3, 2]},
    "cluster-gcn": {"num_parts": 6, "clusters_per_batch": 2},
    "graphsaint-node": {"budget": 30, "sample_coverage": 10},
    "graphsaint-edge": {"budget": 20, "sample_coverage": 10},
    "graphsaint-rw": {"num_roots": 10, "walk_length": 2, "sample_coverage": 10},
    "ripple": {"subgraph_size": 30},
    "vrgcn": {"num_neighbors": [2, 2]},
    "asgcn": {"layer_sizes": [12, 12]},
    "fastgcn": {"layer_sizes": [8, 8]},
    "ladies": {"layer_sizes": [8, 8]},
}


@pytest.fixture
def graph() -> Data:
    """80 nodes in 3 classes, edges mostly within a class, features = noisy class."""
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (80,), generator=gen)
    pairs = torch.randint(0, 80, (2, 600), generator=gen)
    same = y[pairs[0]] == y[pairs[1]]
    keep = same | (torch.rand(600, generator=gen) < 0.1)
    ei = pairs[:, keep & (pairs[0] != pairs[1])]
    ei = torch.cat([ei, ei.flip(0)], 1)
    x = torch.randn(80, 6, generator=gen) + 1.5 * torch.nn.functional.one_hot(y, 6).float()
    masks = torch.zeros(3, 80, dtype=torch.bool)
    masks[0, :40], masks[1, 40:60], masks[2, 60:] = True, True, True
    return Data(x=x, edge_index=ei, y=y, train_mask=masks[0], val_mask=masks[1], test_mask=masks[2])


@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("model", ["gcn", "sgcn"])
def test_every_sampler_trains_every_model(sampler, model, graph):
    torch.manual_seed(0)
    net = (
        build_model(model, 6, 3, hidden_channels=8, T=2)
        if model == "sgcn"
        else build_model(model, 6, 3, hidden_channels=8)
    )
    setup = build_loader(
        sampler,
        graph,
        num_layers=2,
        options=SMALL[sampler],
        seed=0,
        batch_size=16 if SAMPLERS[sampler].takes_seeds else None,
    )
    config = TrainConfig(epochs=2, progress=False)
    result = fit(net, graph, config, train_step=minibatch_step(setup.loader))
    assert result.epochs_run == 2
    assert all(math.isfinite(h["loss"]) and h["loss"] > 0 for h in result.history)
    assert 0.0 <= result.test_acc <= 1.0


def test_minibatch_training_learns(graph):
    """Loss goes down and the model beats chance on a separable toy task."""
    torch.manual_seed(0)
    net = GCN(6, 16, num_layers=2, out_channels=3)
    setup = build_loader("graphsaint-rw", graph, 2, options=SMALL["graphsaint-rw"], seed=0)
    result = fit(
        net,
        graph,
        TrainConfig(epochs=30, progress=False, patience=None),
        train_step=minibatch_step(setup.loader),
    )
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert result.test_acc > 0.6


def test_the_step_times_its_sampling(graph):
    """MinibatchStep.sample_time: the seconds spent drawing batches, a part of the epochs'."""
    torch.manual_seed(0)
    setup = build_loader("graphsage", graph, 2, 8, SMALL["graphsage"], seed=0)
    step = minibatch_step(setup.loader)
    assert step.sample_time == 0.0
    result = fit(GCN(6, 8, 2, 3), graph, TrainConfig(epochs=2, progress=False), train_step=step)
    assert 0 < step.sample_time < sum(result.epoch_times)
    assert "sample_time" not in step.describe()  # a measurement, not what the batches are


def test_blocks_feed_spiking_gcn_forward_blocks(graph):
    """Blocks go through SpikingGCN.forward_blocks; with every neighbour (fan-out -1) and
    no normalisation the targets' logits equal the full-graph forward."""
    torch.manual_seed(0)
    model = SpikingGCN(6, 8, num_layers=2, out_channels=3, T=3, normalize=False).eval()
    batch = GraphSAGESampler(graph, [-1, -1]).sample(torch.arange(10))
    out = model.forward_blocks(graph.x[batch.n_id], batch.blocks)
    assert out.shape == (10, 3)
    ref = model(graph.x, graph.edge_index)[:10]
    assert torch.allclose(out, ref, atol=1e-5)
    # Sampled blocks and batch_logits in both modes run too.
    batch = GraphSAGESampler(graph, [3, 2]).sample(torch.arange(10))
    for mode in ("blocks", "subgraph"):
        assert batch_logits(model, graph.x, batch, mode).shape == (10, 3)


def test_blocks_mode_trains(graph):
    torch.manual_seed(0)
    net = SpikingGCN(6, 8, num_layers=2, out_channels=3, T=2)
    loader = Loader(GraphSAGESampler(graph, [3, 3]), seeds=graph.train_mask, batch_size=16)
    result = fit(
        net,
        graph,
        TrainConfig(epochs=2, progress=False),
        train_step=minibatch_step(loader, mode="blocks"),
    )
    assert result.epochs_run == 2


def test_loss_weighting():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 0])
    per = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    assert torch.allclose(batch_loss(logits, y, None), per.mean())
    w = torch.tensor([0.25, 2.0])
    assert torch.allclose(batch_loss(logits, y, w), (w * per).sum())


def test_errors(graph):
    with pytest.raises(
        ValueError, match=r"'num_neighbors' has 1 entries \(one per layer\) for a model with "
    ):
        build_loader("graphsage", graph, 2, options={"num_neighbors": [3]})
    with pytest.raises(ValueError, match="Unknown sampler 'nope'"):
        build_loader("nope", graph, 2)
    with pytest.raises(ValueError, match="--batch-size does not apply to cluster-gcn"):
        build_loader("cluster-gcn", graph, 2, batch_size=5, options={"num_parts": 4})
    with pytest.raises(ValueError, match="'batch_size' must be >= 1, got 0"):
        build_loader("graphsage", graph, 2, batch_size=0)
    loader = Loader(GraphSAGESampler(graph, [2, 2, 2]), seeds=graph.train_mask, batch_size=8)
    step = minibatch_step(loader)
    net = GCN(6, 8, num_layers=2, out_channels=3)
    opt = torch.optim.Adam(net.parameters())
    with pytest.raises(ValueError, match=r"makes 3 blocks .* num_layers=2"):
        step(net, graph, opt)
    with pytest.raises(ValueError, match="Unknown mode 'layers'"):
        minibatch_step(loader, mode="layers")
    # PyG's GCN runs on blocks (spikegraph.train.blocks); other PyG models cannot.
    gat = GAT(6, 8, num_layers=3, out_channels=3)
    with pytest.raises(TypeError, match="runs on blocks only with GCNConv layers"):
        batch_logits(gat, graph.x, loader.sampler.sample(torch.arange(3)), "blocks")
    with pytest.raises(TypeError, match="has no forward_blocks and is not PyG's GCN"):
        batch_logits(
            torch.nn.Linear(6, 3), graph.x, loader.sampler.sample(torch.arange(3)), "blocks"
        )


def test_a_cache_dir_among_the_options_is_the_one_used(graph, tmp_path):
    """``--sampler-option cache_dir=DIR`` (docs/trust.md) used to fail with "got multiple
    values for keyword argument 'cache_dir'": the trainer passes its default cache too. The
    user's folder wins; where the cache lives is not a setting of the run (not recorded)."""
    mine, default = tmp_path / "mine", tmp_path / "default"
    options = {**SMALL["cluster-gcn"], "cache_dir": str(mine)}
    setup = build_loader("cluster-gcn", graph, 2, options=options, cache_dir=str(default))
    assert "cache_dir" not in setup.options and setup.options["num_parts"] == 6
    assert any(mine.iterdir()) and not default.exists()
    setup = build_loader("graphsage", graph, 2, options={"cache_dir": str(mine)})
    assert setup.options == SAMPLERS["graphsage"].options_for(2)


@pytest.mark.parametrize("name", ["graphsage", "cluster-gcn"])
@pytest.mark.parametrize("key", ["seed", "targets", "num_layers", "data"])
def test_options_the_run_sets_are_refused_by_name(graph, name, key):
    """The seed, training nodes, depth and graph are the run's (``--seeds``, the training
    mask, the model): given as sampler options they used to fail with a TypeError from the
    constructor, or, for a seed sampler, ``targets`` reached it as an unknown option."""
    with pytest.raises(ValueError, match=rf"sampler option '{key}' is set by the run"):
        build_loader(name, graph, 2, options={key: 1})


def test_cli_sampler_options():
    args = build_parser().parse_args(
        [
            "train",
            "--sampler",
            "graphsaint-rw",
            "--num-roots",
            "100",
            "--walk-length",
            "3",
            "--sampler-option",
            "sample_coverage=5",
        ]
    )
    assert sampler_options(args) == {"num_roots": 100, "walk_length": 3, "sample_coverage": 5}
    args = build_parser().parse_args(["train", "--batch-size", "64"])
    with pytest.raises(ValueError, match="need --sampler"):
        sampler_options(args)


def test_cli_trains_with_a_sampler(tmp_path, monkeypatch, graph):
    """The CLI's mini-batch path end to end, on the toy graph (no dataset download)."""
    import json

    import spikegraph.experiments.node_classification as experiment
    from spikegraph.cli import main

    monkeypatch.setattr(experiment, "load_dataset", lambda *a, **k: (graph, 3))
    out = tmp_path / "r.json"
    rc = main(
        [
            "train",
            "--dataset",
            "Cora",
            "--model",
            "gcn",
            "--sampler",
            "graphsage",
            "--batch-size",
            "16",
            "--num-neighbors",
            "3",
            "3",
            "--epochs",
            "2",
            "--no-progress",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    record = json.loads(out.read_text())
    assert record["sampler"] == "graphsage"
    assert record["runs"][0]["sampler_options"]["num_neighbors"] == [3, 3]
    assert record["preprocess_time_mean"] >= 0
