"""PinSAGE's top-k cut breaks ties among equally visited nodes at random (from the sampler's
generator), not by node id, which would favour small ids."""

from __future__ import annotations

import torch
from torch_geometric.data import Data

from spikegraph.samplers import PinSAGESampler
from spikegraph.samplers.pinsage import top_visited

Z = 4.5


def _freq_ok(counts: torch.Tensor, trials: int, p: float) -> bool:
    """Every count within ``Z`` binomial standard deviations of ``trials * p``."""
    sd = (trials * p * (1 - p)) ** 0.5
    return bool(((counts.double() - trials * p).abs() < Z * sd).all())


def test_top_visited_breaks_ties_uniformly():
    # Owner 0 visits node 7 three times, nodes 2, 5, 9 twice each, node 4 once; k = 2:
    # node 7 always, then one of the three tied nodes with probability 1/3 each.
    visits = [7, 7, 7, 2, 2, 5, 5, 9, 9, 4]
    node = torch.tensor(visits)
    owner = torch.zeros_like(node)
    trials = 3000
    chosen = torch.zeros(10, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    for _ in range(trials):
        own, nod, cnt = top_visited(owner, node, 1, 10, 2, gen)
        assert own.tolist() == [0, 0]
        assert nod[0] == 7 and cnt.tolist() == [3, 2]
        chosen[nod[1]] += 1
    assert int(chosen[[2, 5, 9]].sum()) == trials
    assert _freq_ok(chosen[[2, 5, 9]], trials, 1 / 3), chosen
    # The check can fail: the old order (smallest id first) always picks node 2.
    assert not _freq_ok(torch.tensor([trials, 0, 0]), trials, 1 / 3)


def _star() -> Data:
    """Node 0 with in-neighbours 1-4 (a star, both directions)."""
    leaves = torch.arange(1, 5)
    ei = torch.cat(
        [
            torch.stack([leaves, torch.zeros(4, dtype=torch.long)]),
            torch.stack([torch.zeros(4, dtype=torch.long), leaves]),
        ],
        1,
    )
    return Data(edge_index=ei, num_nodes=5)


def test_sampler_picks_tied_neighbours_with_equal_frequency():
    """Two one-step walks from the centre, top-1: when the walks hit two different leaves
    they tie, and each leaf must be chosen with probability 1/4 overall (by id it would be
    7/16 for leaf 1 and 1/16 for leaf 4)."""
    sampler = PinSAGESampler(_star(), [1], num_walks=2, walk_length=1, seed=0)
    trials = 3000
    chosen = torch.zeros(5, dtype=torch.long)
    for _ in range(trials):
        batch = sampler.sample(torch.tensor([0]))
        assert batch.n_id.numel() == 2
        chosen[batch.n_id[1]] += 1
    assert _freq_ok(chosen[1:], trials, 0.25), chosen


def test_ties_vary_with_the_seed_and_repeat_with_it():
    data = _star()
    seeds = torch.tensor([0])

    def first(seed):
        return PinSAGESampler(data, [1], num_walks=2, walk_length=1, seed=seed).sample(seeds)

    picks = {int(first(s).n_id[1]) for s in range(40)}
    assert len(picks) == 4
    for s in range(5):
        a, b = first(s), first(s)
        assert torch.equal(a.n_id, b.n_id) and torch.equal(
            a.blocks[0].edge_weight, b.blocks[0].edge_weight
        )
