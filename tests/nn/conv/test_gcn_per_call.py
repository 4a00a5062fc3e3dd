"""SpikingGCNConv's per-call normalisation switch (``forward(..., normalize=...)``)."""

from __future__ import annotations

import pytest
import torch

from spikegraph.nn import SpikingGCNConv
from spikegraph.nn.conv.gcn import bipartite_gcn_norm


def _layer(**kwargs):
    torch.manual_seed(0)
    return SpikingGCNConv(4, 3, spiking=False, T=2, **kwargs).double()


def _manual(conv, x_src, edge_index, w, num_dst):
    """sum_u w_uv x_u W + b, written out edge by edge."""
    h = x_src @ conv.lin.weight.t()
    out = torch.zeros(*x_src.shape[:-2], num_dst, h.size(-1), dtype=h.dtype)
    for e, (u, v) in enumerate(edge_index.t().tolist()):
        out[..., v, :] += w[e] * h[..., u, :]
    return out + conv.bias


def test_normalize_false_per_call_is_the_weighted_sum():
    conv = _layer()  # built normalize=True, cached=False
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 4, generator=gen, dtype=torch.float64)
    edge_index = torch.tensor([[0, 1, 2, 4, 3, 1], [1, 0, 1, 2, 0, 1]])
    w = torch.rand(6, generator=gen, dtype=torch.float64) + 0.1
    got = conv(x, edge_index, w, normalize=False)
    assert torch.allclose(got, _manual(conv, x, edge_index, w, 5))
    # The layer's own setting still normalises (the check can fail).
    assert not torch.allclose(conv(x, edge_index, w), got)
    # Bipartite: 5 sources, 3 targets, no self-loops added for the targets.
    bip = torch.tensor([[4, 3, 0, 2], [0, 1, 2, 2]])
    wb = w[:4]
    got = conv((x, None), bip, wb, size=(5, 3), normalize=False)
    assert torch.allclose(got, _manual(conv, x, bip, wb, 3))
    # Static input and the synaptic current take the switch too.
    cur = conv.current(x[0], edge_index, w, normalize=False)
    assert torch.allclose(cur, _manual(conv, x[0], edge_index, w, 5))


def test_normalize_per_call_leaves_the_cache_alone():
    conv = _layer(cached=True)
    x = torch.randn(5, 4, dtype=torch.float64)
    ring = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]])
    first = conv(x, ring)  # caches the normalised ring
    cache = conv._cached_edge_index
    other = torch.tensor([[0, 1], [1, 0]])
    w = torch.tensor([0.5, 2.0], dtype=torch.float64)
    # Another graph with final weights: not refused as "another graph", not cached.
    got = conv(x, other, w, normalize=False)
    assert torch.allclose(got, _manual(conv, x.expand(2, 5, 4), other, w, 5))
    assert conv._cached_edge_index is cache
    assert torch.equal(conv(x, ring), first)
    # normalize=True per call normalises the other graph without touching the cache.
    ei, wn = bipartite_gcn_norm(other, None, (5, 5), dtype=torch.float64)
    assert torch.allclose(conv(x, other, normalize=True), conv(x, ei, wn, normalize=False))
    assert conv._cached_edge_index is cache


def test_normalize_must_be_a_bool_or_none():
    conv = _layer()
    x = torch.randn(3, 4, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"'normalize' must be True, False or None.*got 0"):
        conv(x, torch.tensor([[0], [1]]), normalize=0)


def test_bipartite_norm_self_loops_follow_dst_index():
    """Targets that are not the first sources get their self-loop at their own row."""
    edge_index = torch.tensor([[0, 1, 3], [0, 1, 1]])
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    dst_index = torch.tensor([2, 3, -1])  # target 2 is not among the sources
    ei, wn = bipartite_gcn_norm(edge_index, w, (4, 3), dst_index=dst_index)
    got = {(u, v): float(x) for (u, v), x in zip(ei.t().tolist(), wn)}
    # Loops (2, 0) and (3, 1) of weight 1, except that (3, 1) exists (weight 3, kept).
    # Source degrees: 1, 2, 1, 3; target degrees: 2, 5, 0.
    want = {
        (0, 0): 1 / (1 * 2) ** 0.5,
        (1, 1): 2 / (2 * 5) ** 0.5,
        (3, 1): 3 / (3 * 5) ** 0.5,
        (2, 0): 1 / (1 * 2) ** 0.5,
    }
    assert got.keys() == want.keys()
    assert all(abs(got[k] - want[k]) < 1e-12 for k in want)
    # improved=True: the added loop weighs 2, the kept one keeps its weight.
    ei, wn = bipartite_gcn_norm(edge_index, w, (4, 3), improved=True, dst_index=dst_index)
    got = {(u, v): float(x) for (u, v), x in zip(ei.t().tolist(), wn)}
    assert abs(got[(2, 0)] - 2 / (2 * 3) ** 0.5) < 1e-12
    assert abs(got[(3, 1)] - 3 / (3 * 5) ** 0.5) < 1e-12
