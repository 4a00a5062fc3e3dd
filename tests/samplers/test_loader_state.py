"""Loader: the same batches for any ``num_workers``, no draw from the global RNG, and a
state (generator and epoch) that can be saved and restored to continue the same epochs."""

from __future__ import annotations

import pytest
import torch
from sampler_checks import graph_from_networkx

from spikegraph.samplers import SAMPLERS, Loader

# Small options so every sampler builds and samples in well under a second.
SMALL = {
    "graphsage": {"num_neighbors": [3, 3]},
    "pinsage": {"num_neighbors": [3, 3], "num_walks": 4},
    "shadow": {"depth": 2, "num_neighbors": [3, 2]},
    "cluster-gcn": {"num_parts": 4, "clusters_per_batch": 2},
    "graphsaint-node": {"budget": 20, "sample_coverage": 5},
    "graphsaint-edge": {"budget": 15, "sample_coverage": 5},
    "graphsaint-rw": {"num_roots": 8, "walk_length": 2, "sample_coverage": 5},
    "ripple": {"subgraph_size": 20},
    "vrgcn": {"num_neighbors": [2, 2]},
    "asgcn": {"layer_sizes": [12, 12]},
    "fastgcn": {"layer_sizes": [8, 8]},
    "ladies": {"layer_sizes": [8, 8]},
}


@pytest.fixture(scope="module")
def graph():
    import networkx as nx

    return graph_from_networkx(nx.gnm_random_graph(60, 200, seed=3), 60)


def make_loader(name: str, graph, num_workers: int = 0, seed: int = 7) -> Loader:
    cls = SAMPLERS[name]
    train = torch.arange(0, 60, 2)
    if cls.takes_seeds:
        sampler = cls(graph, seed=0, **SMALL[name])
        return Loader(
            sampler, seeds=train, batch_size=8, shuffle=True, num_workers=num_workers, seed=seed
        )
    sampler = cls(graph, targets=train, num_layers=2, seed=0, **SMALL[name])
    return Loader(sampler, shuffle=True, num_workers=num_workers, seed=seed, num_batches=3)


def epoch_ids(loader: Loader) -> list[tuple[list[int], list[int]]]:
    return [(b.n_id.tolist(), b.blocks[0].edge_index.flatten().tolist()) for b in loader]


def test_registry_is_covered():
    assert set(SMALL) == set(SAMPLERS)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_same_batches_and_global_rng_untouched_for_any_num_workers(name, graph):
    runs = {}
    for workers in (0, 2):
        torch.manual_seed(123)
        loader = make_loader(name, graph, num_workers=workers)
        epochs = [epoch_ids(loader) for _ in range(2)]
        # What the model's dropout would draw next: iterating the loader must not move it.
        after = torch.rand(4)
        runs[workers] = (epochs, after)
    assert runs[0][0] == runs[2][0]
    assert runs[0][0][0] != runs[0][0][1]  # epochs differ (shuffling), so the check can fail
    torch.manual_seed(123)
    assert torch.equal(runs[0][1], torch.rand(4))
    assert torch.equal(runs[2][1], runs[0][1])


@pytest.mark.parametrize("name", ["graphsage", "graphsaint-rw", "cluster-gcn"])
def test_state_dict_continues_the_same_epochs(name, graph):
    ref = make_loader(name, graph)
    ref_epochs = [epoch_ids(ref) for _ in range(3)]

    first = make_loader(name, graph)
    epoch_ids(first)
    state = first.state_dict()
    assert state["epoch"] == 1 and state["generator"].dtype == torch.uint8
    # A fresh loader (as after a restart) continues with epochs 2 and 3.
    resumed = make_loader(name, graph)
    resumed.load_state_dict(state)
    assert resumed.epoch == 1
    assert [epoch_ids(resumed) for _ in range(2)] == ref_epochs[1:]
    # Without the state a fresh loader repeats epoch 1 instead: the test can fail.
    assert epoch_ids(make_loader(name, graph)) == ref_epochs[0] != ref_epochs[1]


def test_state_dict_is_plain_and_loads_with_weights_only(graph, tmp_path):
    loader = make_loader("graphsage", graph)
    epoch_ids(loader)
    torch.save(loader.state_dict(), tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    other = make_loader("graphsage", graph)
    other.load_state_dict(state)
    assert epoch_ids(other) == epoch_ids(loader)


@pytest.mark.parametrize(
    "state, msg",
    [
        ({"epoch": 1}, r"Loader state misses 'generator'"),
        ({"epoch": -1, "generator": None, "seed": 7}, r"'epoch' must be an int >= 0, got -1"),
        (
            {"epoch": 1, "generator": torch.zeros(3, dtype=torch.uint8), "seed": 7},
            r"Loader state: 'generator' is not a valid generator state",
        ),
        (
            {"epoch": 1, "generator": torch.get_rng_state(), "seed": 8},
            r"Loader state was saved by a loader with seed 8, this loader has seed 7",
        ),
    ],
)
def test_bad_state_is_refused(graph, state, msg):
    loader = make_loader("graphsage", graph)
    with pytest.raises(ValueError, match=msg):
        loader.load_state_dict(state)


def test_generator_as_seed_works_with_workers_and_state(graph):
    sampler = SAMPLERS["graphsage"](graph, seed=0, **SMALL["graphsage"])
    train = torch.arange(0, 60, 2)
    epochs = {}
    for workers in (0, 2):
        loader = Loader(
            sampler,
            seeds=train,
            batch_size=8,
            shuffle=True,
            num_workers=workers,
            seed=torch.Generator().manual_seed(5),
        )
        epochs[workers] = epoch_ids(loader)
        assert loader.state_dict()["seed"] == 5
    assert epochs[0] == epochs[2]
