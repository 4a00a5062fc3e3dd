"""The shard plan of data-parallel training: every process takes a disjoint part of the same
per-epoch plan, the parts cover it, every process gets the same number of batches, and the
plan is a function of the seed and the epoch (deterministic, different across epochs)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from sampler_checks import graph_from_networkx
from test_loader_state import SMALL

from spikegraph.samplers import SAMPLERS, Loader
from spikegraph.samplers.shard import shard_positions, sharded_length

TRAIN = torch.arange(0, 60, 2)  # 30 seeds: 30 % 4 == 2, so K=4 pads (or drops) two


@pytest.fixture(scope="module")
def graph():
    import networkx as nx

    return graph_from_networkx(nx.gnm_random_graph(60, 200, seed=3), 60)


def make(name, graph, k=1, rank=0, seed=7, drop_last=False, num_batches=5):
    cls = SAMPLERS[name]
    common = dict(shuffle=True, seed=seed, num_replicas=k, rank=rank, drop_last=drop_last)
    if cls.takes_seeds:
        sampler = cls(graph, seed=0, **SMALL[name])
        return Loader(sampler, seeds=TRAIN, batch_size=4, **common)
    sampler = cls(graph, targets=TRAIN, num_layers=2, seed=0, **SMALL[name])
    return Loader(sampler, num_batches=num_batches, **common)


@pytest.mark.parametrize("n, k", [(10, 1), (10, 2), (10, 3), (10, 4), (3, 5), (12, 4)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_positions_are_disjoint_equal_and_cover(n, k, drop_last):
    parts = [shard_positions(n, k, r, drop_last) for r in range(k)]
    total = sharded_length(n, k, drop_last)
    assert total % k == 0 and abs(total - n) < k
    assert {p.numel() for p in parts} == {total // k}
    joined = torch.cat(parts)
    assert sorted(joined.tolist()) == list(range(total))  # disjoint, and cover the plan
    items = Counter((joined % n).tolist()) if n else Counter()
    if drop_last:
        assert max(items.values(), default=1) == 1 and len(items) == total
    else:
        assert set(items) == set(range(n))  # nothing left out
        assert sum(c - 1 for c in items.values()) == total - n  # at most k - 1 repeated


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("k", [2, 4])
def test_every_sampler_shards_one_plan(name, graph, k):
    loaders = [make(name, graph, k, r) for r in range(k)]
    single = make(name, graph)
    assert len({len(lo) for lo in loaders}) == 1  # same number of steps on every process
    for epoch in (0, 1):
        shards = [lo.shard(epoch) for lo in loaders]
        assert [len(s) for s in shards] == [len(lo) for lo in loaders]
        if not SAMPLERS[name].takes_seeds:
            continue
        # Node-wise: process r takes positions r, r + k, ... of the single-process
        # permutation, padded by its first seeds.
        order = torch.cat(single.shard(epoch))
        padded = order[torch.arange(sharded_length(order.numel(), k)) % order.numel()]
        for r, shard in enumerate(shards):
            assert torch.equal(torch.cat(shard), padded[r::k])
        seen = torch.cat([torch.cat(s) for s in shards])
        assert set(seen.tolist()) == set(TRAIN.tolist())  # cover the seeds
        assert seen.numel() - TRAIN.numel() == sharded_length(TRAIN.numel(), k) - TRAIN.numel()
    # The batches themselves: one list per process, the same length everywhere.
    counts = {len([b for b in lo]) for lo in loaders}
    assert counts == {len(loaders[0])}


@pytest.mark.parametrize("k", [2, 3])
def test_node_shards_are_disjoint_without_padding_and_with_drop_last(graph, k):
    for drop_last in (False, True):
        if not drop_last and TRAIN.numel() % k:
            continue
        shards = [
            torch.cat(make("graphsage", graph, k, r, drop_last=drop_last).shard(0))
            for r in range(k)
        ]
        seen = torch.cat(shards).tolist()
        assert len(seen) == len(set(seen))  # disjoint
        assert len(seen) >= TRAIN.numel() - (k - 1) - k * 3  # at most the cut and short chunks


def test_cluster_shards_cover_every_cluster(graph):
    k = 2
    loaders = [make("cluster-gcn", graph, k, r, num_batches=None) for r in range(k)]
    plan = make("cluster-gcn", graph, num_batches=None).shard(0)
    for epoch in (0, 3):
        chunks = [c for lo in loaders for c in lo.shard(epoch)]
        clusters = torch.cat(chunks).tolist()
        assert set(clusters) == set(range(loaders[0].sampler.num_parts))
        assert len(chunks) == sharded_length(len(plan), k)


@pytest.mark.parametrize("name", ["graphsage", "cluster-gcn", "shadow"])
def test_plan_is_deterministic_per_epoch_and_differs_across_epochs(name, graph):
    a, b = make(name, graph, 2, 1), make(name, graph, 2, 1)

    def ids(shard):
        return [t.tolist() for t in shard]

    assert ids(a.shard(0)) == ids(b.shard(0))
    assert ids(a.shard(2)) == ids(b.shard(2))
    assert ids(a.shard(0)) != ids(a.shard(1))  # a new permutation each epoch
    # Iterating draws epochs 0, 1, 2 in turn; set_epoch jumps (forward and back).
    epochs = [[bt.n_id.tolist() for bt in a] for _ in range(3)]
    b.set_epoch(2)
    assert [bt.n_id.tolist() for bt in b] == epochs[2]
    b.set_epoch(1)
    assert [bt.n_id.tolist() for bt in b] == epochs[1]
    assert epochs[0] != epochs[1]


def test_random_subgraph_batches_differ_across_processes(graph):
    batches = [[b.n_id.tolist() for b in make("graphsaint-rw", graph, 2, r)] for r in range(2)]
    assert batches[0] != batches[1]
    assert len(batches[0]) == len(batches[1]) == 3  # 5 batches padded to 6


def test_single_process_loader_is_unchanged_by_sharding_support(graph):
    # num_replicas=1 takes the old path: the same batches as a loader built without it.
    cls = SAMPLERS["graphsage"]
    old = Loader(
        cls(graph, seed=0, **SMALL["graphsage"]), seeds=TRAIN, batch_size=4, shuffle=True, seed=7
    )
    new = make("graphsage", graph)
    assert [b.n_id.tolist() for b in old] == [b.n_id.tolist() for b in new]


@pytest.mark.parametrize(
    "kwargs, err, msg",
    [
        ({"k": 2, "rank": 2}, ValueError, r"'rank' must be < num_replicas=2, got 2"),
        ({"k": 0}, ValueError, r"'num_replicas' must be >= 1, got 0"),
        ({"k": 2, "rank": -1}, ValueError, r"'rank' must be >= 0, got -1"),
        ({"k": 2.0}, TypeError, r"'num_replicas' must be an int"),
    ],
)
def test_bad_shard_arguments_are_refused(graph, kwargs, err, msg):
    with pytest.raises(err, match=msg):
        make("graphsage", graph, **kwargs)


def test_too_few_items_for_the_processes_is_refused(graph):
    sampler = SAMPLERS["graphsage"](graph, seed=0, **SMALL["graphsage"])
    with pytest.raises(ValueError, match=r"3 seeds split over num_replicas=4 .* process 1 no"):
        Loader(sampler, seeds=torch.arange(3), batch_size=2, drop_last=True, num_replicas=4, rank=1)


def test_state_of_another_world_size_is_refused(graph):
    state = make("graphsage", graph, 2, 0).state_dict()
    assert state["num_replicas"] == 2
    with pytest.raises(ValueError, match=r"sharded over 2 processes, .* num_replicas=4"):
        make("graphsage", graph, 4, 0).load_state_dict(state)
    other = make("graphsage", graph, 2, 1)
    other.load_state_dict(state)  # another rank of the same world size: fine


def test_set_epoch_refuses_a_bad_epoch(graph):
    with pytest.raises(ValueError, match=r"'epoch' must be >= 0, got -1"):
        make("graphsage", graph).set_epoch(-1)
