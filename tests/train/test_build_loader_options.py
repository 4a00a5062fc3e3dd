"""build_loader's sampler options: defaults that follow the user's other options or the graph
(ShaDow's fan-outs follow a given depth, Ripple's subgraph size the graph's nodes), and
option names a sampler does not take refused by name."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from spikegraph.samplers import RippleWalkSampler, ShaDowSampler
from spikegraph.train.minibatch import build_loader


@pytest.fixture
def graph() -> Data:
    """50 nodes on a ring with chords, 4 features, the first 30 nodes for training."""
    n = 50
    src = torch.cat([torch.arange(n), torch.arange(0, n, 5)])
    dst = torch.cat([(torch.arange(n) + 1) % n, (torch.arange(0, n, 5) + 17) % n])
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
    mask = torch.zeros(n, dtype=torch.bool)
    mask[:30] = True
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    return Data(x=x, edge_index=ei, num_nodes=n, train_mask=mask)


# --- ShaDow: a given depth without fan-outs ------------------------------------------------


@pytest.mark.parametrize(
    "depth, fanouts", [(1, [10]), (2, [10, 5]), (3, [10, 5, 5]), (4, [10, 5, 5, 5])]
)
def test_shadow_depth_alone_gets_fanouts_for_that_depth(graph, depth, fanouts):
    setup = build_loader("shadow", graph, num_layers=2, options={"depth": depth})
    assert setup.sampler.depth == depth
    assert setup.sampler.num_neighbors == fanouts
    assert setup.options["num_neighbors"] == fanouts  # what the run records
    assert setup.sampler.num_layers == 2  # the model's depth, independent of the hops
    batch = next(iter(setup.loader))
    assert len(batch.blocks) == 2


def test_shadow_default_fanouts_are_the_class_defaults():
    defaults = ShaDowSampler.options_for(2)
    assert defaults["num_neighbors"] == ShaDowSampler.default_fanouts(defaults["depth"])
    assert defaults == {"depth": 2, "num_neighbors": [10, 5], "num_layers": 2}


def test_shadow_explicit_fanouts_that_do_not_fit_the_depth_stay_an_error(graph):
    with pytest.raises(ValueError, match=r"'num_neighbors' has 2 fan-outs for depth=3"):
        build_loader("shadow", graph, 2, options={"depth": 3, "num_neighbors": [10, 5]})


def test_shadow_explicit_fanouts_with_the_default_depth(graph):
    setup = build_loader("shadow", graph, 2, options={"num_neighbors": [4, 3]})
    assert (setup.sampler.depth, setup.sampler.num_neighbors) == (2, [4, 3])
    with pytest.raises(ValueError, match=r"'num_neighbors' has 3 fan-outs for depth=2"):
        build_loader("shadow", graph, 2, options={"num_neighbors": [4, 3, 2]})


def test_shadow_bad_depth_is_named(graph):
    with pytest.raises(ValueError, match=r"'depth' must be >= 1, got 0"):
        build_loader("shadow", graph, 2, options={"depth": 0})


# --- Ripple: the default subgraph size fits the graph ----------------------------------------


def ring(n: int) -> Data:
    src = torch.arange(n)
    ei = torch.stack([torch.cat([src, (src + 1) % n]), torch.cat([(src + 1) % n, src])])
    return Data(edge_index=ei, num_nodes=n, train_mask=torch.ones(n, dtype=torch.bool))


def test_ripple_default_size_is_at_most_the_graph(graph):
    setup = build_loader("ripple", graph, num_layers=2)
    assert setup.sampler.subgraph_size == 50
    assert setup.options["subgraph_size"] == 50  # the run records the size it used
    batch = next(iter(setup.loader))
    assert batch.n_id.numel() == 50 and len(setup.loader) == 1


def test_ripple_default_size_on_a_graph_larger_than_it():
    setup = build_loader("ripple", ring(4100), num_layers=2)
    assert setup.sampler.subgraph_size == setup.options["subgraph_size"] == 4000
    assert len(setup.loader) == 2  # ceil(4100 / 4000)


def test_ripple_class_defaults_stay_numbers():
    """Callers that size batches from the class defaults (the study's budget scaling) see
    the size, not a placeholder."""
    assert RippleWalkSampler.options_for(2) == {"subgraph_size": 4000, "expansion_ratio": 0.5}
    assert RippleWalkSampler.options_for(2, num_nodes=120)["subgraph_size"] == 120


def test_ripple_constructor_default_follows_the_graph(graph):
    assert RippleWalkSampler(graph).subgraph_size == 50
    assert RippleWalkSampler(ring(4100)).subgraph_size == 4000
    assert RippleWalkSampler(graph, 20).subgraph_size == 20


@pytest.mark.parametrize("size", [51, 4000])
def test_ripple_given_size_larger_than_the_graph_stays_an_error(graph, size):
    with pytest.raises(ValueError, match=rf"'subgraph_size'={size} exceeds the 50 nodes"):
        build_loader("ripple", graph, 2, options={"subgraph_size": size})
    with pytest.raises(ValueError, match=rf"'subgraph_size'={size} exceeds the 50 nodes"):
        RippleWalkSampler(graph, size)


# --- option names a sampler does not take ----------------------------------------------------


@pytest.mark.parametrize(
    "name, option, accepted",
    [
        ("fastgcn", "num_neighbors", "layer_sizes"),
        ("graphsaint-node", "walk_length", "sample_coverage"),  # through GraphSAINT's **kwargs
        ("graphsage", "depth", "num_neighbors"),
        ("ripple", "budget", "subgraph_size"),
    ],
)
def test_an_option_the_sampler_does_not_take_is_named(graph, name, option, accepted):
    with pytest.raises(ValueError) as info:
        build_loader(name, graph, 2, options={option: 3})
    message = str(info.value)
    assert f"sampler {name!r} takes no option {option!r}" in message
    assert repr(accepted) in message  # the options it does take
    assert "__init__" not in message and "Sampler" not in message


def test_every_option_a_sampler_takes_is_listed(graph):
    """The listed options are the constructor's (GraphSAINT's through **kwargs), without
    the graph and what the run sets."""
    with pytest.raises(ValueError) as info:
        build_loader("graphsaint-rw", graph, 2, options={"nope": 1, "depth": 2})
    message = str(info.value)
    assert "takes no options ['depth', 'nope']" in message
    listed = message.split("its options: ")[1]
    for key in ("num_roots", "walk_length", "sample_coverage", "norms", "cache_dir"):
        assert repr(key) in listed
    for key in ("graph", "kwargs", "self", "seed", "targets", "num_layers"):
        assert repr(key) not in listed


@pytest.mark.parametrize(
    "name, options",
    [
        ("graphsaint-node", {"budget": 10, "sample_coverage": 2, "norms": "exact"}),
        ("graphsaint-rw", {"num_roots": 5, "walk_length": 2, "sample_coverage": 2}),
        ("fastgcn", {"layer_sizes": [8, 8], "add_self_loops": True}),
        ("shadow", {"ppr_topk": 4, "alpha": 0.2}),
    ],
)
def test_options_the_sampler_takes_still_pass(graph, name, options):
    setup = build_loader(name, graph, 2, options=options)
    assert all(setup.options[k] == v for k, v in options.items())
