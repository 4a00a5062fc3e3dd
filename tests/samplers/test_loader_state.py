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


def draws_with_g_stepping(loader: Loader, shard_at: int | None = None) -> list[list[float]]:
    """One epoch of an AS-GCN loader whose sampling function learns after every batch (a
    step on each batch's variance loss, as in training); optionally asks the loader for its
    plan (``shard``) after batch ``shard_at``."""
    out = []
    for i, batch in enumerate(loader):
        out.append(batch.blocks[0].edge_weight.tolist())
        if i == shard_at:
            loader.shard()
            loader.shard(0)
    return out


def test_asking_for_the_plan_mid_epoch_does_not_change_asgcn_batches(graph):
    # AS-GCN draws an epoch from the sampling function as it was at the epoch's start;
    # shard() is documented not to move the loader, so it must not change that either.
    ref = make_loader("asgcn", graph)
    sampler_ref = [draws_with_g_stepping(ref) for _ in range(2)]
    probed = make_loader("asgcn", graph)
    with_shard = [draws_with_g_stepping(probed, shard_at=0) for _ in range(2)]
    assert with_shard == sampler_ref
    # The sampling function did learn, so the check could fail: the epochs' weights differ.
    assert ref.sampler.state_dict()["g"]["weight"].abs().sum() > 0


@pytest.mark.parametrize("name", ["asgcn", "vrgcn"])
def test_sampler_state_travels_with_the_loader_state(name, graph, tmp_path):
    loader = make_loader(name, graph)
    sampler = loader.sampler
    if name == "asgcn":  # learn a little, so the state is not the initial one
        assert len(list(loader)) == len(loader)  # an epoch, each batch a step of g
        changed = sampler.g.weight.detach().clone()
        assert changed.abs().sum() > 0
    else:
        sampler.history.write(1, torch.tensor([3, 5]), torch.ones(2, 4))
    torch.save(loader.state_dict(), tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    fresh = make_loader(name, graph)
    fresh.load_state_dict(state)
    if name == "asgcn":
        assert torch.equal(fresh.sampler.g.weight, changed)
        assert fresh.sampler.optimizer.state_dict()["state"]  # Adam's moments came along
    else:
        assert torch.equal(fresh.sampler.history.layers[1], sampler.history.layers[1])
        assert fresh.sampler.history.layers[0] is fresh.sampler.history.layers[0]
    # A state without the sampler's (as saved before samplers had one) is refused for a
    # sampler that keeps one, rather than resuming with a fresh sampler.
    del state["sampler"]
    with pytest.raises(ValueError, match=r"Loader state holds no sampler state, but"):
        make_loader(name, graph).load_state_dict(state)


def test_stateless_sampler_refuses_a_state(graph):
    loader = make_loader("graphsage", graph)
    state = loader.state_dict()
    assert state["sampler"] == {}
    state["sampler"] = {"history": {}}
    with pytest.raises(ValueError, match=r"GraphSAGESampler keeps no state, got"):
        make_loader("graphsage", graph).load_state_dict(state)


def test_history_state_of_another_history_is_refused():
    from spikegraph.samplers.history import History

    history = History(10, 2)
    history.write(1, torch.tensor([0]), torch.ones(1, 3))
    state = history.state_dict()
    with pytest.raises(ValueError, match=r"holds 2 layers, this history has 3"):
        History(10, 3).load_state_dict(state)
    with pytest.raises(ValueError, match=r"layer 1 has shape \(10, 3\), expected \[12, F\]"):
        History(12, 2).load_state_dict(state)
    static = History(10, 2)
    static.fill(0, torch.zeros(10, 3))
    with pytest.raises(ValueError, match=r"static layers \[False, False\], this history"):
        static.load_state_dict(state)
    bad = {"layers": [None, torch.ones(10, 3, dtype=torch.long)], "static": [False, False]}
    with pytest.raises(ValueError, match=r"layer 1 is not a float tensor"):
        History(10, 2).load_state_dict(bad)
