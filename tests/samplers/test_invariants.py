"""The batch contract and each family's promises, for every registered sampler, over several
iterations and odd graphs (parametrised over :data:`spikegraph.samplers.SAMPLERS`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
import torch
from sampler_checks import check_batch, edge_set, same_batch
from torch_geometric.data import Data

from spikegraph.samplers import (
    SAMPLERS,
    ASGCNSampler,
    ClusterGCNSampler,
    FastGCNSampler,
    GraphSAGESampler,
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    LADIESSampler,
    Loader,
    PinSAGESampler,
    RippleWalkSampler,
    Sampler,
    ShaDowSampler,
    VRGCNSampler,
)


class Method(NamedTuple):
    """One configuration of a registered sampler in the invariant suite."""

    sampler: str  # its name in SAMPLERS
    make: Callable[[Data, int], Sampler]  # factory(data, seed)
    num_layers: int  # blocks per batch
    checks: dict[str, Any]  # check_batch options: what the family promises


#: Every registered sampler needs at least one entry (test_every_registered_sampler_is_covered);
#: register a new sampler and add its configurations here.
METHODS = {
    "graphsage": Method("graphsage", lambda d, s: GraphSAGESampler(d, [4, 3], seed=s), 2, {}),
    "graphsage-replace": Method(
        "graphsage", lambda d, s: GraphSAGESampler(d, [4, 3], replace=True, seed=s), 2, {}
    ),
    "graphsage-all": Method("graphsage", lambda d, s: GraphSAGESampler(d, [-1, 2], seed=s), 2, {}),
    "pinsage": Method(
        "pinsage",
        lambda d, s: PinSAGESampler(d, [3, 2], num_walks=8, walk_length=2, seed=s),
        2,
        {"graph_edges": False},
    ),
    "pinsage-restart": Method(
        "pinsage",
        lambda d, s: PinSAGESampler(d, [3, 2], walk_length=3, restart_prob=0.3, seed=s),
        2,
        {"graph_edges": False},
    ),
    "cluster-gcn": Method(
        "cluster-gcn",
        lambda d, s: ClusterGCNSampler(d, 6, clusters_per_batch=2, seed=s),
        2,
        {"induced": True},
    ),
    "cluster-gcn-diag": Method(
        "cluster-gcn",
        lambda d, s: ClusterGCNSampler(d, 6, clusters_per_batch=2, diag_lambda=0.5, seed=s),
        2,
        {},
    ),
    "graphsaint-node": Method(
        "graphsaint-node",
        lambda d, s: GraphSAINTNodeSampler(d, 15, sample_coverage=20, seed=s),
        2,
        {"induced": True},
    ),
    "graphsaint-edge": Method(
        "graphsaint-edge",
        lambda d, s: GraphSAINTEdgeSampler(d, 10, sample_coverage=20, seed=s),
        2,
        {"induced": True},
    ),
    "graphsaint-rw": Method(
        "graphsaint-rw",
        lambda d, s: GraphSAINTRandomWalkSampler(d, 5, walk_length=2, sample_coverage=20, seed=s),
        2,
        {"induced": True},
    ),
    "shadow": Method(
        "shadow",
        lambda d, s: ShaDowSampler(d, 2, [3, 2], seed=s),
        2,
        {"disjoint": True, "induced": True},
    ),
    "shadow-ppr": Method(
        "shadow",
        lambda d, s: ShaDowSampler(d, 2, [4, 3], ppr_topk=5, num_layers=3, seed=s),
        3,
        {"disjoint": True, "induced": True},
    ),
    "ripple": Method(
        "ripple",
        lambda d, s: RippleWalkSampler(d, 12, expansion_ratio=0.5, seed=s),
        2,
        {"induced": True},
    ),
    "vrgcn": Method("vrgcn", lambda d, s: VRGCNSampler(d, [2, 2], seed=s), 2, {}),
    "asgcn": Method("asgcn", lambda d, s: ASGCNSampler(d, [6, 5], seed=s), 2, {}),
    "fastgcn": Method("fastgcn", lambda d, s: FastGCNSampler(d, [8, 6], seed=s), 2, {}),
    "ladies": Method("ladies", lambda d, s: LADIESSampler(d, [8, 6], seed=s), 2, {}),
    "ladies-unbiased": Method(
        "ladies", lambda d, s: LADIESSampler(d, [8, 6], unbiased=True, seed=s), 2, {}
    ),
}

#: Seed-driven configurations (every seed a target once per epoch).
SEEDED = [m for m in METHODS if SAMPLERS[METHODS[m].sampler].takes_seeds]


def test_every_registered_sampler_is_covered(small_graph):
    """A sampler registered in SAMPLERS without an entry in METHODS fails here."""
    covered = {m.sampler for m in METHODS.values()}
    missing = sorted(set(SAMPLERS) - covered)
    assert not missing, f"registered samplers without invariant tests: {missing}; add to METHODS"
    assert covered <= set(SAMPLERS), (
        f"METHODS names unregistered samplers: {covered - set(SAMPLERS)}"
    )
    for name, method in METHODS.items():
        sampler = method.make(small_graph, 0)
        assert type(sampler) is SAMPLERS[method.sampler], name


def _batches(sampler, data, n=5, batch_size=7):
    if sampler.takes_seeds:
        return list(Loader(sampler, seeds=torch.arange(data.num_nodes), batch_size=batch_size))[:n]
    return [sampler.sample() for _ in range(n)]


@pytest.mark.parametrize("method", list(METHODS))
def test_invariants_on_every_batch(method, small_graph, directed_graph):
    m = METHODS[method]
    for data in (small_graph, directed_graph):
        sampler = m.make(data, 0)
        for batch in _batches(sampler, data):
            assert batch.nested == type(sampler).nested, "the batch nests as its class says"
            check_batch(batch, data, m.num_layers, **m.checks)


@pytest.mark.parametrize("method", list(METHODS))
def test_same_seed_same_batches_different_seed_different(method, small_graph):
    make = METHODS[method].make
    a = _batches(make(small_graph, 3), small_graph)
    b = _batches(make(small_graph, 3), small_graph)
    c = _batches(make(small_graph, 4), small_graph)
    assert all(same_batch(x, y) for x, y in zip(a, b))
    assert not all(same_batch(x, z) for x, z in zip(a, c))


@pytest.mark.parametrize("method", SEEDED)
def test_every_seed_is_a_target_once_per_epoch(method, small_graph, directed_graph):
    m = METHODS[method]
    for data in (small_graph, directed_graph):
        seeds = torch.arange(0, data.num_nodes, 2)
        loader = Loader(m.make(data, 0), seeds=seeds, batch_size=6, shuffle=True, seed=1)
        for _ in range(2):
            targets = torch.cat([b.target for b in loader])
            assert sorted(targets.tolist()) == seeds.tolist()


@pytest.mark.parametrize("method", list(METHODS))
def test_workers_give_the_same_batches(method, small_graph):
    make = METHODS[method].make
    kwargs = {}
    sampler = make(small_graph, 1)
    if sampler.takes_seeds:
        kwargs = {"seeds": torch.arange(small_graph.num_nodes), "batch_size": 16}
    serial = list(Loader(sampler, shuffle=True, seed=5, **kwargs))
    parallel = list(Loader(make(small_graph, 1), shuffle=True, seed=5, num_workers=2, **kwargs))
    assert len(serial) == len(parallel) > 0
    assert all(same_batch(x, y) for x, y in zip(serial, parallel))


@pytest.mark.parametrize("method", list(METHODS))
def test_single_node_graphs(method):
    m = METHODS[method]
    make = m.make
    if method.startswith("graphsaint-edge"):
        pytest.skip("the edge sampler needs an edge (tested in test_errors)")
    if method.startswith("ripple"):
        make = lambda d, s: RippleWalkSampler(d, 1, seed=s)  # noqa: E731
    if method.startswith("cluster"):
        make = lambda d, s: ClusterGCNSampler(d, 1, seed=s)  # noqa: E731
    if method.startswith("graphsaint-node"):
        make = lambda d, s: GraphSAINTNodeSampler(d, 1, sample_coverage=5, seed=s)  # noqa: E731
    if method.startswith("graphsaint-rw"):
        make = lambda d, s: GraphSAINTRandomWalkSampler(d, 1, sample_coverage=5, seed=s)  # noqa: E731
    x = torch.zeros(1, 1)
    for ei in (torch.empty(2, 0, dtype=torch.long), torch.zeros(2, 1, dtype=torch.long)):
        data = Data(x=x, edge_index=ei, num_nodes=1)
        sampler = make(data, 0)
        batch = sampler.sample(torch.tensor([0])) if sampler.takes_seeds else sampler.sample()
        check_batch(batch, data, m.num_layers, **m.checks)
        assert batch.target.tolist() == [0]


def test_graphsage_fanouts_respected(small_graph):
    deg = torch.bincount(small_graph.edge_index[1], minlength=small_graph.num_nodes)
    for fanouts, replace in (([4, 3], False), ([4, 3], True), ([-1, 2], False)):
        sampler = GraphSAGESampler(small_graph, fanouts, replace=replace, seed=0)
        for batch in Loader(sampler, seeds=torch.arange(60), batch_size=9, shuffle=True):
            hops = torch.tensor(batch.num_sampled_nodes).cumsum(0).tolist()
            src, dst = batch.blocks[0].edge_index
            indeg = torch.bincount(dst, minlength=batch.n_id.numel())
            for h, k in enumerate(fanouts):
                lo = 0 if h == 0 else hops[h - 1]
                nodes = torch.arange(lo, hops[h])
                d = deg[batch.n_id[nodes]]
                got = indeg[nodes]
                if k < 0:
                    want = d
                elif replace:
                    want = torch.where(d > 0, k, 0)
                else:
                    want = d.clamp(max=k)
                assert torch.equal(got, want), (fanouts, replace, h)
            # Nodes of the last hop are only sources.
            assert int(indeg[hops[-2] :].sum()) == 0
            if not replace:  # no repeated edge
                assert batch.blocks[0].edge_index.t().unique(dim=0).size(0) == src.numel()


def test_pinsage_fanouts_and_weights(small_graph):
    sampler = PinSAGESampler(small_graph, [3, 2], num_walks=10, walk_length=2, seed=0)
    batch = sampler.sample(torch.arange(10))
    src, dst = batch.blocks[0].edge_index
    w = batch.blocks[0].edge_weight
    indeg = torch.bincount(dst, minlength=batch.n_id.numel())
    hops = torch.tensor(batch.num_sampled_nodes).cumsum(0).tolist()
    assert int(indeg[:10].max()) <= 3 and int(indeg[10 : hops[1]].max()) <= 2
    # Importance weights have mean 1 over each target's neighbours.
    sums = torch.zeros(batch.n_id.numel()).index_add_(0, dst, w)
    has = indeg > 0
    assert torch.allclose(sums[has], indeg[has].float())
    # Neighbours are within walk_length hops (along in-edges) and never the node itself.
    adj = {}
    for u, v in edge_set(small_graph):
        adj.setdefault(v, set()).add(u)
    for u, v in zip(batch.n_id[src].tolist(), batch.n_id[dst].tolist()):
        near = set(adj.get(v, ())) | {x for y in adj.get(v, ()) for x in adj.get(y, ())}
        assert u in near and u != v


def test_pinsage_picks_most_visited():
    # Walks follow in-edges: 0 <- {1, 2, 3} <- 4. Every walk of length 2 from 0 steps to one
    # of 1, 2, 3 and then to 4, so 4 (two hops away, the largest id) is visited 30 times and
    # each of 1, 2, 3 about 10 times (30 only if all 30 walks took the same first step): 4 is
    # the one most visited node, not a tie, and a selection by adjacency or small id misses it.
    ei = torch.tensor([[1, 2, 3, 4, 4, 4], [0, 0, 0, 1, 2, 3]])
    sampler = PinSAGESampler(ei, [1], num_nodes=5, num_walks=30, walk_length=2, seed=0)
    batch = sampler.sample(torch.tensor([0]))
    assert batch.n_id[batch.blocks[0].edge_index[0]].tolist() == [4]


def test_cluster_gcn_epoch_visits_every_cluster_once(small_graph):
    sampler = ClusterGCNSampler(small_graph, 6, clusters_per_batch=4, seed=0)
    for shuffle in (False, True):
        loader = Loader(sampler, shuffle=shuffle)
        assert len(loader) == 2
        seen = torch.cat([b.n_id for b in loader])
        assert sorted(seen.tolist()) == list(range(60))
    assert sampler.preprocess_times["metis"] >= 0 and sampler.preprocess_time > 0


def test_cluster_gcn_diag_enhancement(small_graph):
    sampler = ClusterGCNSampler(small_graph, 3, clusters_per_batch=3, diag_lambda=0.5, seed=0)
    block = sampler.sample().blocks[0]
    src, dst = block.edge_index
    loops = src == dst
    assert int(loops.sum()) == 60  # one per node, old self-loops replaced
    # the paper's operator, final: row v of (D+I)^-1 (A+I) + 0.5 diag(.), so each target's
    # loop weighs 1.5 x its other in-edges and its row sums to 1 + 0.5 / (d_v + 1)
    assert block.weights_final
    w = block.edge_weight
    deg = torch.bincount(dst[~loops], minlength=60).to(w.dtype)
    loop_w = torch.zeros(60, dtype=w.dtype).index_put_((dst[loops],), w[loops])
    assert torch.allclose(loop_w, 1.5 / (deg + 1))
    assert torch.allclose(w[~loops], 1.0 / (deg[dst[~loops]] + 1))
    row_sum = torch.zeros(60, dtype=w.dtype).index_add_(0, dst, w)
    assert torch.allclose(row_sum, 1 + 0.5 / (deg + 1))


def test_subgraph_targets_first_and_restricted(small_graph):
    targets = torch.arange(0, 60, 3)
    for sampler in (
        ClusterGCNSampler(small_graph, 4, clusters_per_batch=2, targets=targets),
        GraphSAINTRandomWalkSampler(small_graph, 6, targets=targets, sample_coverage=10),
        RippleWalkSampler(small_graph, 20, targets=targets),
    ):
        batch = sampler.sample()
        assert bool(torch.isin(batch.target, targets).all())
        rest = batch.n_id[batch.num_targets :]
        assert not bool(torch.isin(rest, targets).any())


def test_ripple_subgraph_sizes(small_graph):
    """Sizes only; connectivity: tests/samplers/test_ripple.py."""
    sampler = RippleWalkSampler(small_graph, 30, expansion_ratio=0.3, seed=0)
    for _ in range(5):
        batch = sampler.sample()
        assert batch.n_id.numel() == 30
    # The whole graph (isolated nodes need restarts).
    assert sorted(RippleWalkSampler(small_graph, 60).sample().n_id.tolist()) == list(range(60))


def test_shadow_subgraphs_are_hop_limited(small_graph):
    sampler = ShaDowSampler(small_graph, 1, None, seed=0)
    batch = sampler.sample(torch.tensor([1, 2]))
    adj = {}
    for u, v in edge_set(small_graph):
        adj.setdefault(v, set()).add(u)
    for i, root in enumerate([1, 2]):
        members = set(batch.n_id[batch.node_batch == i].tolist())
        assert members == adj.get(root, set()) | {root}
    assert batch.node_batch[:2].tolist() == [0, 1]


def test_shadow_ppr_keeps_topk(small_graph):
    sampler = ShaDowSampler(small_graph, 3, None, ppr_topk=4, seed=0)
    batch = sampler.sample(torch.arange(10))
    counts = torch.bincount(batch.node_batch, minlength=10)
    assert int(counts.max()) <= 4 and int(counts.min()) >= 1


def test_preprocessing_is_cached_on_disk(small_graph, tmp_path):
    a = GraphSAINTRandomWalkSampler(small_graph, 5, sample_coverage=10, cache_dir=tmp_path)
    assert not a.preprocess_cached and "norms" in a.preprocess_times
    b = GraphSAINTRandomWalkSampler(small_graph, 5, sample_coverage=10, cache_dir=tmp_path)
    assert b.preprocess_cached
    assert torch.equal(a.norms.edge_norm, b.norms.edge_norm)
    c = ClusterGCNSampler(small_graph, 5, cache_dir=tmp_path)
    d = ClusterGCNSampler(small_graph, 5, cache_dir=tmp_path)
    assert d.preprocess_cached and torch.equal(c.part, d.part)
    e = ClusterGCNSampler(small_graph, 4, cache_dir=tmp_path)  # other options: recomputed
    assert not e.preprocess_cached


def test_graph_edge_weights_travel_with_the_edges(small_graph):
    data = small_graph.clone()
    data.edge_weight = torch.arange(1, data.num_edges + 1, dtype=torch.float)
    batch = GraphSAGESampler(data, [3, 3]).sample(torch.arange(5))
    block = batch.blocks[0]
    assert torch.equal(block.edge_weight, data.edge_weight[block.e_id])
    # the raw multiplier (final_weights=False) is the graph's weight times 1 / alpha
    saint = GraphSAINTNodeSampler(data, 20, final_weights=False)
    block = saint.sample().blocks[0]
    want = data.edge_weight[block.e_id] * saint.norms.edge_norm[block.e_id]
    assert torch.allclose(block.edge_weight, want)
