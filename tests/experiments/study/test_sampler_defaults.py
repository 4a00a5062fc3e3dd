"""A study sizes its samplers' defaults as ``spikegraph train`` does: defaults that follow
the graph (Ripple's subgraph size) or another given option (ShaDow's fan-outs follow its
depth), and option names checked as ``build_loader`` checks them."""

from __future__ import annotations

import pytest

from spikegraph.experiments.study.runner import plan_study
from tests.experiments.study.test_runner import small


def _options(plan: dict, sampler: str) -> dict:
    return plan["sampler_options"]["gcn"][sampler]["options"]


def test_defaults_follow_the_graph_and_the_given_depth(tmp_path, tiny_arxiv_root):
    args = small(tiny_arxiv_root, tmp_path / "out", samplers=["ripple", "shadow"])
    args.pop("plots", None)
    args["sampler_options"] = {"shadow": {"depth": 3}}
    plan, jobs = plan_study(**args)
    # The 508-node graph is smaller than Ripple's default of 4000 nodes: the default is the
    # graph's size (a study with the defaults used to fail in every Ripple cell).
    assert _options(plan, "ripple")["subgraph_size"] == 508
    # A depth given alone gets fan-outs for that depth (it failed on the default [10, 5]).
    assert _options(plan, "shadow")["num_neighbors"] == [10, 5, 5]
    assert _options(plan, "shadow")["depth"] == 3
    assert jobs


def test_an_option_a_graphsaint_sampler_does_not_take_is_refused(tmp_path, tiny_arxiv_root):
    # GraphSAINT's constructor takes **kwargs; the study's own check let any name through,
    # to fail in every cell.
    args = small(tiny_arxiv_root, tmp_path / "out", samplers=["graphsaint-node"])
    args.pop("plots", None)
    args["sampler_options"] = {"graphsaint-node": {"walk_length": 3}}
    with pytest.raises(ValueError, match=r"'graphsaint-node' takes no option 'walk_length'"):
        plan_study(**args)
