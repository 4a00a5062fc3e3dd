"""A cached ``SpikingGCNConv`` follows the module through ``.double()``/``.to()`` as PyG's
cached ``GCNConv`` runs there, and still refuses a graph other than the one it cached."""

from __future__ import annotations

import copy

import pytest
import torch
from torch_geometric.nn import GCNConv

from spikegraph.nn import SpikingGCNConv

N, F_IN, F_OUT, T, E = 10, 5, 4, 3, 30


def graph(seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(N, F_IN, generator=gen)
    ei = torch.randint(0, N, (2, E), generator=gen)
    ew = torch.rand(E, generator=gen) + 0.1
    return x, ei, ew


def layer(cached, **kwargs):
    torch.manual_seed(0)
    conv = SpikingGCNConv(F_IN, F_OUT, T=T, cached=cached, spiking=False, **kwargs)
    with torch.no_grad():
        conv.bias.normal_()
    return conv


@pytest.mark.parametrize("weighted", [True, False])
def test_cached_layer_after_double_equals_an_uncached_double_layer(weighted):
    x, ei, ew = graph()
    ew = ew if weighted else None
    conv = layer(cached=True)
    first = conv(x, ei, ew)
    plain = copy.deepcopy(conv)
    plain.cached = False
    plain.reset_cache()
    conv.double()
    ew64 = None if ew is None else ew.double()
    out = conv(x.double(), ei, ew64)
    assert out.dtype == torch.float64
    expected = plain.double()(x.double(), ei, ew64)
    assert torch.equal(out, expected)
    torch.testing.assert_close(out.float(), first)
    # The normalised graph is cached again, in float64, and serves the next call.
    _, cached_ew = conv._cached_edge_index
    assert cached_ew.dtype == torch.float64
    assert torch.equal(conv(x.double(), ei.clone(), ew64), out)
    assert conv._cached_edge_index[1] is cached_ew
    # Back to float32: the float32 output again.
    assert torch.equal(conv.float()(x, ei, ew), first)


def test_pyg_cached_gcnconv_runs_after_double_too():
    """What the spiking layer matches: PyG's cached layer runs the same sequence."""
    x, ei, ew = graph()
    ref = GCNConv(F_IN, F_OUT, cached=True)
    ref(x, ei, ew)
    out = ref.double()(x.double(), ei, ew.double())
    assert out.dtype == torch.float64


def test_cached_layer_after_double_still_refuses_another_graph():
    x, ei, ew = graph()
    conv = layer(cached=True)
    conv(x, ei, ew)
    conv.double()
    # Right after the conversion, before the cache is rebuilt: another graph is refused.
    other = ew.double() * 2
    with pytest.raises(ValueError, match="another graph") as error:
        conv(x.double(), ei, other)
    assert "edge weights" in str(error.value)
    _, other_ei, _ = graph(seed=1)
    with pytest.raises(ValueError, match="another graph") as error:
        conv(x.double(), other_ei, ew.double())
    assert "edge index" in str(error.value)
    # The same graph caches anew; a different one is refused after that as well.
    conv(x.double(), ei, ew.double())
    with pytest.raises(ValueError, match="another graph"):
        conv(x.double(), ei, other)


def test_another_graph_message_shows_what_differs_dtype_included():
    x, ei, ew = graph()
    conv = layer(cached=True)
    conv(x, ei, ew)
    conv.double()
    # Other weights after the conversion: the message describes both graphs, the dtypes of
    # their weights included, and names where they differ.
    with pytest.raises(ValueError, match="another graph") as error:
        conv(x.double(), ei, ew.double() + 1e-12)  # values float32 cannot hold
    message = str(error.value)
    assert "float32 edge weights" in message and "float64 edge weights" in message, message
    assert "edge weights differ first at edge 0" in message, message
    # Unweighted against weighted.
    with pytest.raises(ValueError, match="another graph") as error:
        conv(x.double(), ei)
    assert "unweighted" in str(error.value), str(error.value)
    # Other edges: the first edge that differs is named.
    other = ei.clone()
    other[1, 3] = (other[1, 3] + 1) % N
    with pytest.raises(ValueError, match=r"edge index differs first at edge 3"):
        conv(x.double(), other, ew.double())
