"""spikegraph.experiments.study.measure: the nodes and edges a cell reports are those of the
batches it trained on; the gradient's error is nil for identical batches and not for a
sampler; energy follows the cost counters; curves carry no test accuracy."""

from __future__ import annotations

import itertools
import statistics

import pytest
import torch

from spikegraph.cost import count
from spikegraph.datasets import load_dataset
from spikegraph.experiments.gradient_error import layer_sizes_of
from spikegraph.experiments.study import FULL_BATCH, StudyBudget
from spikegraph.experiments.study.measure import (
    batches_and_energy,
    convergence_curve,
    count_full,
    gradient_error,
)
from spikegraph.models import build_model
from spikegraph.train.minibatch import build_loader
from tests.experiments.study.conftest import BUDGET


@pytest.mark.parametrize("sampler", ["graphsage", "cluster-gcn"])
def test_nodes_and_edges_are_those_of_the_first_epochs_batches(
    shared_study, tiny_arxiv_root, sampler
):
    result, _ = shared_study
    data, _ = load_dataset("ogbn-arxiv", root=tiny_arxiv_root)
    for cell in (c for c in result.cells if c["sampler"] == sampler):
        key = cell["key"]["sampler"]
        loader = build_loader(
            sampler, data, 2, key["batch_size"], key["options"], seed=cell["seed"]
        ).loader  # built as the cell's training built it: the same batches
        drawn = list(itertools.islice(iter(loader), BUDGET.measure_batches))
        got = cell["metrics"]["batches"]
        assert got["measured_batches"] == len(drawn) and got["batches_per_epoch"] == len(loader)
        assert got["input_nodes"] == statistics.fmean(b.n_id.numel() for b in drawn)
        assert got["targets"] == statistics.fmean(b.num_targets for b in drawn)
        sizes = [layer_sizes_of(b) for b in drawn]
        assert got["nodes_per_layer"] == [statistics.fmean(s[i] for s in sizes) for i in range(3)]
        assert got["edges"] == statistics.fmean(b.num_edges for b in drawn)


def model_and_data(root):
    data, classes = load_dataset("ogbn-arxiv", root=root)
    torch.manual_seed(0)
    return build_model("gcn", data.num_features, classes, hidden_channels=8).eval(), data


def test_full_batch_has_no_gradient_error_and_a_sampler_has(tiny_arxiv_root):
    model, data = model_and_data(tiny_arxiv_root)
    budget = StudyBudget(gradient_batches=3, budget_multiples=(0.5, 1.0))
    full = gradient_error(model, data, FULL_BATCH, {}, None, 2, budget, 0, None)
    (entry,) = full["budgets"]
    assert entry["variance"] == 0.0 and entry["bias"] == 0.0 and entry["mse"] == 0.0
    sampled = gradient_error(
        model, data, "graphsage", {"num_neighbors": [3, 3]}, 32, 2, budget, 0, None
    )
    assert sampled["exact_norm"] == full["exact_norm"]
    small, large = sampled["budgets"]
    assert (small["option"], small["value"], large["value"]) == ("batch_size", 16, 32)
    assert small["batches"] == large["batches"] == 3
    assert small["input_nodes"] < large["input_nodes"]
    assert small["variance"] > 0 and large["variance"] > 0


def test_energy_is_what_the_counters_count_on_those_batches(tiny_arxiv_root):
    """A training step's energy is a count of the forward pass training runs in its mode, on
    the batch's own subgraph ("subgraph" mode: the model called on the batch's input rows
    and every block's edges at once, not layer by layer on the blocks); the expectation
    counts that call directly, not through the helpers the code under test uses."""
    model, data = model_and_data(tiny_arxiv_root)
    setup = build_loader("graphsage", data, 2, 32, {"num_neighbors": [3, 3]}, seed=0)
    batches, energy = batches_and_energy(model, data, setup.loader, "subgraph", 2)
    assert not model.training  # counted in eval mode, as the measurement does
    setup.loader.set_epoch(0)
    drawn = list(itertools.islice(iter(setup.loader), 2))
    steps = []
    for b in drawn:
        edge_index, edge_weight = b.subgraph()
        assert edge_weight is None and not b.blocks[0].weights_final  # the graph's own edges
        # the subgraph differs from the blocks (which a "blocks" pass would run on)
        assert edge_index.size(1) > b.blocks[-1].edge_index.size(1)
        with torch.no_grad():
            report = count(model, data.x[b.n_id], edge_index, profile="45nm")
        steps.append(report.total.energy_pj)
    assert energy["train_step_pj"] == pytest.approx(statistics.fmean(steps))
    assert energy["train_epoch_pj"] == pytest.approx(
        energy["train_step_pj"] * batches["batches_per_epoch"]
    )
    with torch.no_grad():
        full = count(model, data.x, data.edge_index, profile="45nm")
    assert energy["inference_pj"] == pytest.approx(full.total.energy_pj)
    assert energy["convention"]["execution"] == "dense"
    assert energy["convention"]["static_input_text"] is None  # an ordinary model
    full_batches, full_energy = batches_and_energy(model, data, None, None, 2)
    assert full_energy["train_step_pj"] == full_energy["inference_pj"]
    assert full_batches["input_nodes"] == data.num_nodes


def test_the_curve_accumulates_time_and_drops_the_test_accuracy():
    history = [
        {"epoch": 1, "loss": 2.0, "train": 0.3, "val": 0.2, "test": 0.25, "val_loss": 1.0},
        {"epoch": 2, "loss": 1.5, "train": 0.5, "val": 0.4, "test": 0.35, "val_loss": 0.9},
        {"epoch": 3, "loss": 1.2, "train": 0.6, "val": 0.5, "test": 0.45, "val_loss": 0.8},
    ]
    curve = convergence_curve(history, [0.5, 0.25, 0.25])
    assert [c["time"] for c in curve] == [0.5, 0.75, 1.0]
    assert all(set(c) == {"epoch", "time", "loss", "train", "val"} for c in curve)
    # times unknown for epochs of an old checkpoint: unknown from there on
    assert [c["time"] for c in convergence_curve(history, [None, 0.2, 0.2])] == [None] * 3


def test_the_gradient_weights_are_set_for_the_block_and_restored():
    """Initial weights inside, the trained ones after; the model itself, not a copy (a
    spiking model that read binary features caches them as a sparse tensor, which
    copy.deepcopy cannot copy)."""
    from spikegraph.experiments.study.measure import gradient_weights
    from tests.conftest import synthetic_node_data

    data = synthetic_node_data()  # binary features
    torch.manual_seed(0)
    model = build_model("sgcn", data.num_features, 2, hidden_channels=8, T=2)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    model(data.x, data.edge_index)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # "trained"
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    with gradient_weights(model, initial, "initial") as inside:
        assert inside is model
        assert all(torch.equal(model.state_dict()[k], v) for k, v in initial.items())
    assert all(torch.equal(model.state_dict()[k], v) for k, v in trained.items())
    with gradient_weights(model, initial, "trained"):
        assert all(torch.equal(model.state_dict()[k], v) for k, v in trained.items())


@pytest.mark.parametrize(("features", "applied"), [("binary", "per-step"), ("real", None)])
def test_a_spiking_cell_records_the_static_input_convention_the_counter_applied(features, applied):
    """Binary features are a static spike input, counted at every step; real-valued ones (as
    PubMed's TF-IDF rows) are counted once whatever the convention asked for, and the cell
    must say that no convention applied rather than name the one requested."""
    from spikegraph.cost import describe_static_input
    from tests.conftest import synthetic_node_data

    data = synthetic_node_data()
    if features == "real":
        data.x = data.x * torch.linspace(0.2, 1.0, data.num_features)
    torch.manual_seed(0)
    model = build_model("sgcn", data.num_features, 2, hidden_channels=8, T=2).eval()
    setup = build_loader("graphsage", data, 2, 8, {"num_neighbors": [3, 3]}, seed=0)
    _, energy = batches_and_energy(model, data, setup.loader, "subgraph", 2)
    convention = energy["convention"]
    assert convention["execution"] == "event"
    assert convention["static_input_requested"] == "per-step"
    assert convention["static_input"] == {"inference": applied, "training_step": applied}
    assert convention["static_input_text"] == describe_static_input(applied)
    assert count_full(model, data).static_input == applied
