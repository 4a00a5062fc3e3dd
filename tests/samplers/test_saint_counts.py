"""GraphSAINT's pre-sampling counts: both counting paths agree with a brute-force count."""

from __future__ import annotations

import torch

from samplers.graph import to_csr
from samplers.saint import _edge_hits_bitwise, _edge_hits_by_segments, popcount64


def test_popcount64():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2**62, (1000,), generator=gen) | (1 << 62)
    want = torch.tensor([bin(v).count("1") for v in x.tolist()])
    assert torch.equal(popcount64(x), want)
    assert popcount64(torch.tensor([0, 1, 2**63 - 1])).tolist() == [0, 1, 63]


def test_edge_hits_paths_agree_with_brute_force():
    gen = torch.Generator().manual_seed(0)
    n, count = 30, 63
    edge_index = torch.randint(0, n, (2, 200), generator=gen)
    csr = to_csr(edge_index, n)
    sid = torch.randint(0, count, (900,), generator=gen)
    node = torch.randint(0, n, (900,), generator=gen)
    flat = torch.unique(sid * n + node)
    sid, node = flat // n, flat % n
    members = [set(node[sid == s].tolist()) for s in range(count)]
    brute = torch.tensor(
        [sum(u in m and v in m for m in members) for u, v in edge_index.t().tolist()]
    )
    bitwise = _edge_hits_bitwise(sid, node, n, edge_index)
    mark = torch.zeros(count * n, dtype=torch.bool)
    by_csr = torch.bincount(
        _edge_hits_by_segments(csr, flat, node, csr.deg[node], mark), minlength=200
    )
    segments = torch.zeros(200, dtype=torch.long).index_add_(0, csr.eid, by_csr)
    assert torch.equal(bitwise, brute)
    assert torch.equal(segments, brute)
    assert not bool(mark.any())  # the scratch map is left clean
