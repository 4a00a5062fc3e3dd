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
