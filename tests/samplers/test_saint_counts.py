"""GraphSAINT's pre-sampling counts: both counting kernels agree with a brute-force count."""

from __future__ import annotations

import pytest
import torch

from spikegraph.samplers._kernels import WORD, _popcount, saint_count, saint_count_words
from spikegraph.samplers.graph import to_csr


def test_popcount():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2**62, (1000,), generator=gen) | (1 << 62)
    want = [bin(v).count("1") for v in x.tolist()]
    assert [_popcount(v) for v in x.tolist()] == want
    assert [_popcount(v) for v in (0, 1, 2**63 - 1)] == [0, 1, 63]


@pytest.mark.parametrize("kernel", [saint_count, saint_count_words])
@pytest.mark.parametrize("num_sub", [1, WORD, WORD + 5])
def test_counting_kernels_agree_with_brute_force(kernel, num_sub):
    gen = torch.Generator().manual_seed(num_sub)
    n, e = 30, 200
    edge_index = torch.randint(0, n, (2, e), generator=gen)  # repeats and self-loops too
    csr = to_csr(edge_index, n)
    sizes = torch.randint(0, 25, (num_sub,), generator=gen)  # empty subgraphs too
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)])
    node = torch.randint(0, n, (int(ptr[-1]),), generator=gen)  # repeated draws
    target_mask = torch.rand(n, generator=gen) < 0.5
    members = [set(node[ptr[s] : ptr[s + 1]].tolist()) for s in range(num_sub)]
    want_nodes = torch.tensor([sum(v in m for m in members) for v in range(n)])
    want_edges = torch.tensor(
        [sum(u in m and v in m for m in members) for u, v in edge_index.t().tolist()]
    )
    scratch = torch.zeros(n, dtype=torch.long if kernel is saint_count_words else torch.bool)
    node_count = torch.zeros(n, dtype=torch.long)
    csr_count = torch.zeros(e, dtype=torch.long)
    distinct, targets = kernel(
        csr.rowptr.numpy(),
        csr.col.numpy(),
        ptr.numpy(),
        node.numpy(),
        target_mask.numpy(),
        scratch.numpy(),
        node_count.numpy(),
        csr_count.numpy(),
    )
    edge_count = torch.zeros(e, dtype=torch.long).index_put_((csr.eid,), csr_count)
    assert torch.equal(node_count, want_nodes)
    assert torch.equal(edge_count, want_edges)
    assert distinct == sum(len(m) for m in members)
    assert targets == sum(int(target_mask[list(m)].sum()) for m in members if m)
    assert not bool(scratch.any())  # the scratch map is left clean
