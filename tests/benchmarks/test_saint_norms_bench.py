"""benchmarks/saint_norms.py: the stated errors are the sampler's own, the actual errors are
measured against the closed forms (or, for the random-walk sampler, an estimate from far more
draws), and they agree."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from spikegraph.samplers import GraphSAINTEdgeSampler
from tests.benchmarks.conftest import load
from tests.samplers.sampler_checks import graph_from_networkx

bench = load("saint_norms")


@pytest.fixture(scope="module")
def graph():
    return graph_from_networkx(nx.barabasi_albert_graph(150, 2, seed=3), 150)


def test_actual_errors_are_measured_against_the_closed_form_and_match_the_stated_ones(
    graph, monkeypatch
):
    monkeypatch.setitem(GraphSAINTEdgeSampler.default_options, "budget", 30)
    ref, made = bench.reference(graph, "graphsaint-edge", seed=1, coverage=10_000)
    assert made == "exact" and ref.norms.exact
    row = bench.measure(graph, "graphsaint-edge", 300, 1, ref, made)
    est = GraphSAINTEdgeSampler(graph, 30, norms="estimate", sample_coverage=300, seed=1)
    exact = GraphSAINTEdgeSampler(graph, 30, seed=1)
    edge_err, _ = est.norm_errors()
    assert row["stated_edge"]["max"] == pytest.approx(float(edge_err.max()))
    want = (est.norms.edge_norm.double() / exact.norms.edge_norm.double() - 1).abs()
    assert row["actual_edge"]["max"] == pytest.approx(float(want.max()))
    assert row["subgraphs"] == est.norms.num_samples > 0
    assert 0.8 < row["z_rms_edge"] < 1.25 and 0.8 < row["z_rms_node"] < 1.25


def test_the_random_walk_sampler_is_compared_with_an_estimate_from_other_draws(graph, monkeypatch):
    """It has no closed form: its reference is an estimate at a far higher coverage, from
    another seed, and the actual errors over both standard errors have unit spread."""
    monkeypatch.setitem(bench.SAMPLERS["graphsaint-rw"].default_options, "num_roots", 5)
    ref, made = bench.reference(graph, "graphsaint-rw", seed=0, coverage=3000)
    assert made == f"estimated at coverage 3000 (seed {bench.REFERENCE_SEED_OFFSET})"
    assert ref.sample_coverage == 3000 and not ref.norms.exact
    row = bench.measure(graph, "graphsaint-rw", 200, 0, ref, made)
    assert row["options"] == {"num_roots": 5, "walk_length": 2}  # the coverage is the row's
    assert 0.8 < row["z_rms_edge"] < 1.25 and 0.8 < row["z_rms_node"] < 1.25


def test_infinite_stated_errors_are_counted_not_dropped():
    stats = bench.spread(torch.tensor([0.1, float("inf"), 0.3, float("inf")]))
    assert stats == {"median": pytest.approx(0.1), "max": pytest.approx(0.3), "infinite": 2}
    assert bench.spread(torch.tensor([float("inf")])) == {"median": None, "max": None,
                                                          "infinite": 1}  # fmt: skip


def test_nodes_the_reference_never_draws_are_counted_and_kept_out_of_z(monkeypatch):
    """The edge sampler never draws a node no edge reaches: its closed-form norm is 0, so
    its actual error is not finite; it is counted, and z_rms stays a number."""
    from torch_geometric.data import Data

    graph = Data(edge_index=torch.tensor([[0, 0, 1, 2], [1, 2, 2, 3]]), num_nodes=10)
    monkeypatch.setitem(GraphSAINTEdgeSampler.default_options, "budget", 2)
    ref, made = bench.reference(graph, "graphsaint-edge", seed=0, coverage=1000)
    row = bench.measure(graph, "graphsaint-edge", 50, 0, ref, made)
    assert row["actual_node"]["infinite"] == 6  # nodes 4..9
    assert row["z_rms_node"] == row["z_rms_node"] and row["z_rms_edge"] == row["z_rms_edge"]


def test_a_reference_that_missed_a_node_the_estimate_drew_is_kept_out_of_z(graph, monkeypatch):
    """A reference estimate (random walk) can miss a node the measured run drew: a zero
    norm with an infinite stated error; that node's actual error is not finite and must not
    turn z_rms into NaN."""
    from types import SimpleNamespace

    monkeypatch.setitem(GraphSAINTEdgeSampler.default_options, "budget", 30)
    exact, _ = bench.reference(graph, "graphsaint-edge", seed=1, coverage=1000)
    node_norm = exact.norms.node_norm.clone()
    node_norm[0] = 0.0
    node_err = torch.zeros_like(node_norm, dtype=torch.float64)
    node_err[0] = float("inf")
    edge_err = torch.zeros(exact.norms.edge_norm.numel(), dtype=torch.float64)
    missed = SimpleNamespace(
        norms=SimpleNamespace(edge_norm=exact.norms.edge_norm, node_norm=node_norm),
        norm_errors=lambda: (edge_err, node_err),
    )
    row = bench.measure(graph, "graphsaint-edge", 300, 1, missed, "a reference that missed 0")
    assert row["actual_node"]["infinite"] == 1
    assert 0.8 < row["z_rms_node"] < 1.25
