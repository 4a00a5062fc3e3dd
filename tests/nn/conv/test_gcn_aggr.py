"""SpikingGCNConv's ``aggr`` holds on every path, the static bipartite one included."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GCNConv

from spikegraph.nn import SpikingGCNConv
from spikegraph.nn.conv.gcn import aggregate_first

# A sampled block's shape: many sources, few targets, so that the sum of a static input
# may be computed as (A X) W (aggregate first).
NS, ND, F_IN, F_OUT, E, T = 300, 8, 40, 16, 120, 2
AGGRS = ["add", "sum", "mean", "max", "min", "mul"]


def _block(seed=0):
    gen = torch.Generator().manual_seed(seed)
    xs = torch.rand(NS, F_IN, generator=gen, dtype=torch.float64)
    src = torch.randint(0, NS, (E,), generator=gen)
    dst = torch.randint(0, ND, (E,), generator=gen)
    w = torch.rand(E, generator=gen, dtype=torch.float64) + 0.5
    return xs, torch.stack([src, dst]), w


def _layer(aggr):
    torch.manual_seed(0)
    conv = SpikingGCNConv(F_IN, F_OUT, aggr=aggr, spiking=False, T=T, normalize=False).double()
    with torch.no_grad():
        conv.bias.normal_()
    return conv


def test_the_block_takes_the_aggregate_first_path_for_a_sum():
    # Guard for the tests below: with "add" the static input goes through (A X) W.
    assert aggregate_first(NS, ND, E, F_IN, F_OUT)


@pytest.mark.parametrize("aggr", AGGRS)
@pytest.mark.parametrize("weighted", [False, True])
def test_static_bipartite_input_aggregates_as_the_spike_train_does(aggr, weighted):
    conv = _layer(aggr)
    xs, ei, w = _block()
    ew = w if weighted else None
    static = conv((xs, None), ei, ew, size=(NS, ND))
    train = conv((xs.expand(T, NS, F_IN), None), ei, ew, size=(NS, ND))
    assert static.shape == train.shape == (T, ND, F_OUT)
    torch.testing.assert_close(static, train)


@pytest.mark.parametrize("aggr", AGGRS)
@pytest.mark.parametrize("weighted", [False, True])
def test_static_bipartite_input_equals_pyg_gcnconv_with_that_aggr(aggr, weighted):
    # PyG's GCNConv takes no bipartite pair: the block is the square graph on the sources
    # (the targets are the first ND of them), read at the targets.
    conv = _layer(aggr)
    ref = GCNConv(F_IN, F_OUT, aggr=aggr, normalize=False).double()
    ref.load_state_dict(conv.state_dict())
    xs, ei, w = _block(seed=1)
    ew = w if weighted else None
    expected = ref(xs, ei, ew)[:ND]
    out = conv((xs, None), ei, ew, size=(NS, ND))
    for t in range(T):
        torch.testing.assert_close(out[t], expected)
    # The aggregations differ from one another on this block (the test can fail).
    if aggr not in ("add", "sum"):
        assert not torch.allclose(_layer("add")((xs, None), ei, ew, size=(NS, ND))[0], expected)
