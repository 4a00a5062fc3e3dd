"""forward_blocks honours the batch contract: final weights, dst_index, non-nested chains."""

from __future__ import annotations

import pytest
import torch

from spikegraph.models import SpikingGAT, SpikingGCN
from spikegraph.samplers import BatchContractError, Block


def _chain(final: bool = True, missing: bool = True) -> list[Block]:
    """Block 0: 6 sources -> 4 targets, block 1: 4 -> 2; layer-wise (not nested)."""
    gen = torch.Generator().manual_seed(3)
    e0 = torch.tensor([[0, 1, 2, 3, 4, 5, 5, 0], [0, 0, 1, 1, 2, 2, 3, 3]])
    e1 = torch.tensor([[0, 1, 2, 3, 1], [0, 0, 1, 1, 1]])
    return [
        Block(
            e0,
            torch.rand(8, generator=gen, dtype=torch.float64) + 0.2,
            (6, 4),
            weights_final=final,
            dst_index=torch.tensor([-1 if missing else 4, 5, 2, -1 if missing else 1]),
        ),
        Block(
            e1,
            torch.rand(5, generator=gen, dtype=torch.float64) + 0.2,
            (4, 2),
            weights_final=final,
            dst_index=torch.tensor([3, 0]),
        ),
    ]


def _dense(block: Block) -> torch.Tensor:
    a = torch.zeros(block.size[1], block.size[0], dtype=torch.float64)
    src, dst = block.edge_index
    a.index_put_((dst, src), block.edge_weight, accumulate=True)
    return a


def _model(**kwargs):
    torch.manual_seed(0)
    return SpikingGCN(3, 8, 2, 2, T=3, v_threshold=0.3, **kwargs).double().eval()


def test_final_non_nested_chain_equals_dense_reference():
    blocks = _chain()
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = _model()
    got = model.forward_blocks(x, blocks)
    h = model.encode(x, sparse=False)
    for conv, block in zip(model.convs, blocks):
        h = conv.fire(_dense(block) @ conv.lin(h) + conv.bias)
    want = h.mean(0)
    assert got.shape == (2, 2)
    assert torch.allclose(got, want)
    # The hidden layer spikes (not all zeros), so the chain is really exercised.
    assert bool(model.convs[0].fire(_dense(blocks[0]) @ model.convs[0].lin(x)).any())
    # Training mode takes the rate shortcut for the output layer: same values without dropout.
    model.train()
    model.dropout = model.input_dropout = 0.0
    assert torch.allclose(model.forward_blocks(x, blocks), want)


def test_final_chain_with_jumping_knowledge():
    blocks = _chain()
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    model = _model(jk="cat")
    got = model.forward_blocks(x, blocks)
    h = model.encode(x, sparse=False)
    xs = []
    for conv, block in zip(model.convs, blocks):
        h = conv.fire(_dense(block) @ conv.lin(h) + conv.bias)
        xs.append(h)
    xs[0] = xs[0][..., blocks[1].dst_index, :]  # layer 0's rows of the last targets
    want = model.lin(torch.cat(xs, dim=-1)).mean(0)
    assert torch.allclose(got, want)
    # jk needs each layer's row of the last targets: a -1 in a later block is refused.
    blocks[1].dst_index = torch.tensor([3, -1])
    with pytest.raises(BatchContractError, match="block 1's targets are not all among"):
        model.forward_blocks(x, blocks)


def _to_prefix(blocks: list[Block], x: torch.Tensor) -> tuple[list[Block], torch.Tensor]:
    """The same chain with every block's targets moved to the front of its sources."""
    out = []
    dst_order = torch.arange(blocks[-1].size[1])  # new target t is old target dst_order[t]
    for block in reversed(blocks):
        n_src = block.size[0]
        own = block.dst_index[dst_order]
        rest = torch.tensor([r for r in range(n_src) if r not in own.tolist()], dtype=torch.long)
        src_order = torch.cat([own, rest])
        new_src = torch.empty(n_src, dtype=torch.long)
        new_src[src_order] = torch.arange(n_src)
        new_dst = torch.empty_like(dst_order)
        new_dst[dst_order] = torch.arange(dst_order.numel())
        src, dst = block.edge_index
        ei = torch.stack([new_src[src], new_dst[dst]])
        out.append(Block(ei, block.edge_weight, block.size))
        dst_order = src_order
    return out[::-1], x[dst_order]


def test_weights_not_final_with_dst_index_equal_the_prefix_layout():
    """Not final: the layer normalises, with each target's self-loop at its own row."""
    blocks = _chain(final=False, missing=False)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    model = _model()
    got = model.forward_blocks(x, blocks)
    prefix, x_prefix = _to_prefix(blocks, x)
    assert torch.allclose(got, model.forward_blocks(x_prefix, prefix))
    # The targets' loops matter: without dst_index (loops at rows 0..3) the logits differ.
    plain = [Block(b.edge_index, b.edge_weight, b.size) for b in blocks]
    assert not torch.allclose(model.forward_blocks(x, plain), got)


def test_attention_refuses_final_weights_and_missing_targets():
    torch.manual_seed(0)
    model = SpikingGAT(3, 4, 2, 2, heads=2, T=2).double().eval()
    x = torch.randn(6, 3, dtype=torch.float64)
    with pytest.raises(BatchContractError, match="SpikingGAT cannot run on block 0: its weights"):
        model.forward_blocks(x, _chain(final=True, missing=False))
    with pytest.raises(
        BatchContractError, match="SpikingGAT cannot run on block 0: 2 of the block's 4 targets"
    ):
        model.forward_blocks(x, _chain(final=False, missing=True))
    # Targets all present, weights not final: attention runs on the chain.
    assert model.forward_blocks(x, _chain(final=False, missing=False)).shape == (2, 2)
