"""build_loader's sampler options: defaults that follow the user's other options or the graph
(ShaDow's fan-outs follow a given depth, Ripple's subgraph size the graph's nodes), and
option names a sampler does not take refused by name."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from spikegraph.samplers import ShaDowSampler
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
