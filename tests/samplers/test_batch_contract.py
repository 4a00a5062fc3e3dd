"""The batch contract's checks: subgraph() refusal, the loader's validation, and the
invariant suite's branch for batches that do not nest (no registered sampler needed)."""

from __future__ import annotations

import pytest
import torch
from sampler_checks import check_batch

from spikegraph.samplers import Batch, BatchContractError, Block, Loader, NodeSampler


def layerwise_batch(data, targets: list[int]) -> Batch:
    """A hand-built layer-wise batch: each layer's sources are the in-neighbours of the
    layer above, with every edge between them; the last layer's sources also hold the
    targets (as LADIES adds them), block 0's need not hold its targets."""
    ei = data.edge_index
    layers = [torch.tensor(targets)]
    for i in range(2):
        above = layers[0]
        src = ei[0, torch.isin(ei[1], above)]
        if i == 0:
            src = torch.cat([src, above])
        layers.insert(0, src.unique())
    blocks = []
    for i in range(2):
        src_ids, dst_ids = layers[i], layers[i + 1]
        keep = torch.isin(ei[0], src_ids) & torch.isin(ei[1], dst_ids)
        e_id = keep.nonzero().view(-1)
        pos_src = {int(v): j for j, v in enumerate(src_ids)}
        pos_dst = {int(v): j for j, v in enumerate(dst_ids)}
        local = torch.tensor(
            [[pos_src[int(u)] for u in ei[0, e_id]], [pos_dst[int(v)] for v in ei[1, e_id]]],
            dtype=torch.long,
        ).view(2, -1)
        dst_index = torch.tensor([pos_src.get(int(v), -1) for v in dst_ids])
        w = torch.full((e_id.numel(),), 0.5)
        blocks.append(Block(local, w, (src_ids.numel(), dst_ids.numel()), e_id, True, dst_index))
    return Batch(
        n_id=layers[0], blocks=blocks, target=layers[2], nested=False, layer_n_id=layers[:2]
    )


def test_subgraph_refuses_a_batch_that_does_not_nest(small_graph):
    batch = layerwise_batch(small_graph, [1, 2])
    with pytest.raises(BatchContractError, match=r"do not nest .*mode='blocks'"):
        batch.subgraph()


def test_subgraph_hands_out_final_weights_only_when_asked(small_graph):
    """GraphSAINT's weights are the estimator's final coefficients (self-loops included):
    ``subgraph()`` handed them to any model, and PyG's GCN, which renormalises them, gave
    logits 1.3 away from the estimator's, without an error. It now refuses unless the
    caller says it aggregates them as they are."""
    from torch_geometric.nn import GCN

    from spikegraph.samplers import GraphSAGESampler, GraphSAINTNodeSampler
    from spikegraph.train.minibatch import batch_logits

    batch = GraphSAINTNodeSampler(small_graph, budget=20, seed=0).sample()
    assert batch.nested and batch.weights_final
    with pytest.raises(BatchContractError, match=r"final .*normalize=False.*final_weights=True"):
        batch.subgraph()
    edge_index, edge_weight = batch.subgraph(final_weights=True)
    assert torch.equal(edge_weight, batch.blocks[0].edge_weight)
    x = torch.randn(small_graph.num_nodes, 8)
    model = GCN(8, 16, 2, 3).eval()
    as_they_are = GCN(8, 16, 2, 3, normalize=False).eval()
    as_they_are.load_state_dict(model.state_dict())
    expected = batch_logits(model, x, batch, "subgraph")
    out = as_they_are(x[batch.n_id], edge_index, edge_weight)[: batch.num_targets]
    assert torch.allclose(out, expected, atol=1e-5)  # the documented way is the estimator
    plain = GraphSAGESampler(small_graph, [3, 3]).sample(torch.arange(4))
    assert not plain.weights_final and plain.subgraph()[0] is plain.blocks[0].edge_index


def test_check_batch_accepts_a_layerwise_batch_and_catches_its_faults(small_graph):
    batch = layerwise_batch(small_graph, [1, 2, 9])
    assert batch.blocks[1].dst_index.tolist() != list(range(3))  # really not a prefix
    assert bool((batch.blocks[1].dst_index >= 0).all())
    check_batch(batch, small_graph, 2)
    # Each fault is caught (the checks can fail).
    bad = layerwise_batch(small_graph, [1, 2, 9])
    d = bad.blocks[1].dst_index
    bad.blocks[1].dst_index = torch.where(d >= 0, (d + 1) % bad.blocks[1].size[0], d)
    # Batch.validate, which check_batch runs first, catches it (its own test:
    # test_batch_validate.py); check_batch's own assertion is the second line.
    with pytest.raises(BatchContractError, match=r"block 1's target 0 is node \d+ \(target\) but"):
        check_batch(bad, small_graph, 2)
    bad = layerwise_batch(small_graph, [1, 2, 9])
    bad.blocks[0].edge_weight[0] = 0.0
    with pytest.raises(AssertionError, match="block 0: weights"):
        check_batch(bad, small_graph, 2)
    bad = layerwise_batch(small_graph, [1, 2, 9])
    bad.blocks[0].e_id = bad.blocks[0].e_id.roll(1)
    with pytest.raises(AssertionError):
        check_batch(bad, small_graph, 2)
    bad = layerwise_batch(small_graph, [1, 2, 9])
    bad.layer_n_id = None
    with pytest.raises(AssertionError, match="names its layers' nodes"):
        check_batch(bad, small_graph, 2)


class _Broken(NodeSampler):
    """Returns batches whose n_id does not match block 0."""

    name = "broken"

    def sample(self, seeds, *, generator=None):
        block = Block(torch.empty(2, 0, dtype=torch.long), None, (seeds.numel(), seeds.numel()))
        return Batch(n_id=seeds[:-1], blocks=[block], target=seeds)


def test_loader_validates_every_batch(small_graph):
    loader = Loader(_Broken(small_graph), seeds=torch.arange(6), batch_size=3)
    with pytest.raises(BatchContractError, match="n_id holds 2 ids but block 0 has 3 sources"):
        next(iter(loader))
