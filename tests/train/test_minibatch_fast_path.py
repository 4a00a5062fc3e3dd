"""The fast mini-batch ``blocks`` path (first layer as (Â X) W on the targets' rows only)
against references: the full-graph forward restricted to the targets, and the
transform-first path it replaces."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models import GCN
from torch_geometric.utils import to_undirected

import spikegraph.nn.conv.gcn as gcn_module
import spikegraph.train.blocks as blocks_module
from spikegraph.models import PAPER_NEURON, SpikingGCN
from spikegraph.samplers import Block, GraphSAGESampler
from spikegraph.train.minibatch import batch_logits

N, F_IN, HIDDEN, C = 200, 120, 8, 3
#: Neuron settings of benchmarks/neuron_speed.py (tdBN in eval mode only: its training
#: statistics are over the rows a layer computes, which a block cuts down on purpose).
SETTINGS = {
    "tuned": {},
    "paper": dict(PAPER_NEURON),
    "plif": {"neuron": "plif"},
    "alif": {"neuron": "alif"},
}


def _graph(num_edges: int = 300):
    gen = torch.Generator().manual_seed(0)
    ei = to_undirected(torch.randint(0, N, (2, num_edges), generator=gen), num_nodes=N)
    ei = ei[:, ei[0] != ei[1]]
    x = (torch.rand(N, F_IN, generator=gen, dtype=torch.float64) < 0.2).double()
    return x, ei


def _whole_neighbourhood_blocks(ei: torch.Tensor, targets: torch.Tensor):
    """Nested blocks holding every edge (with self-loops) into each layer's targets, with the
    full graph's GCN coefficients as final weights; ``n_id`` orders the nodes hop by hop."""
    ei_n, w = gcn_norm(ei, None, N, add_self_loops=True, dtype=torch.float64)
    hop1 = torch.unique(ei_n[0, torch.isin(ei_n[1], targets)])
    hop1 = hop1[~torch.isin(hop1, targets)]
    rest = torch.arange(N)[~torch.isin(torch.arange(N), torch.cat([targets, hop1]))]
    n_id = torch.cat([targets, hop1, rest])
    local = torch.empty(N, dtype=torch.long)
    local[n_id] = torch.arange(N)
    src, dst = local[ei_n[0]], local[ei_n[1]]
    blocks = []
    for num_dst in (targets.numel() + hop1.numel(), targets.numel()):
        keep = dst < num_dst
        num_src = N if not blocks else blocks[-1].size[1]
        blocks.append(
            Block(torch.stack([src[keep], dst[keep]]), w[keep], (num_src, num_dst), None, True)
        )
    return n_id, blocks


@pytest.fixture
def spy(monkeypatch):
    """Records each decision of ``aggregate_first`` (both modules that call it)."""
    seen: list[bool] = []
    original = gcn_module.aggregate_first

    def recording(*args):
        seen.append(original(*args))
        return seen[-1]

    monkeypatch.setattr(gcn_module, "aggregate_first", recording)
    monkeypatch.setattr(blocks_module, "aggregate_first", recording)
    return seen


def _outputs_and_grads(model, fn):
    model.zero_grad(set_to_none=True)
    out = fn()
    (out * torch.arange(out.numel(), dtype=out.dtype).view_as(out).cos()).sum().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def _spiking(opts, train: bool):
    torch.manual_seed(0)
    model = SpikingGCN(F_IN, HIDDEN, 2, C, T=8, dropout=0.0, input_dropout=0.0, **opts)
    return model.double().train(train)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("setting", [*SETTINGS, "tdbn"])
def test_spiking_blocks_equal_the_full_graph_forward_at_the_targets(setting, train, spy):
    if setting == "tdbn" and train:
        pytest.skip("tdBN's training statistics are over the rows a layer computes")
    x, ei = _graph()
    targets = torch.tensor([3, 17, 42, 99])
    n_id, blocks = _whole_neighbourhood_blocks(ei, targets)
    model = _spiking(SETTINGS.get(setting, {"norm": "tdbn"}), train)
    got, got_grads = _outputs_and_grads(model, lambda: model.forward_blocks(x[n_id], blocks))
    assert spy[0] is True  # the first layer took the fast path
    want, want_grads = _outputs_and_grads(model, lambda: model(x, ei)[targets])
    torch.testing.assert_close(got, want)
    assert len(got_grads) == len(want_grads)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w)


def test_pyg_gcn_blocks_equal_the_full_graph_forward_at_the_targets(spy):
    x, ei = _graph()
    targets = torch.tensor([5, 8, 150])
    n_id, blocks = _whole_neighbourhood_blocks(ei, targets)
    torch.manual_seed(0)
    model = GCN(F_IN, HIDDEN, num_layers=2, out_channels=C).double().train()
    from spikegraph.train.blocks import pyg_forward_blocks

    got, got_grads = _outputs_and_grads(model, lambda: pyg_forward_blocks(model, x[n_id], blocks))
    assert spy[0] is True
    want, want_grads = _outputs_and_grads(model, lambda: model(x, ei)[targets])
    torch.testing.assert_close(got, want)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w)


def _sampled_batch():
    x, ei = _graph(1000)  # denser: a two-hop sample has several times its targets' rows
    sampler = GraphSAGESampler(ei, [3, 8], num_nodes=N, seed=0)
    return x, sampler.sample(torch.tensor([0, 1, 2, 3, 4, 5]))


@pytest.mark.parametrize("model_name", ["gcn", *SETTINGS])
def test_fast_blocks_path_equals_the_transform_first_path(model_name, spy, monkeypatch):
    """On a GraphSAGE batch (weights normalised inside the block): outputs and gradients of
    the fast path equal those of the path it replaces (every layer transform-first)."""
    x, batch = _sampled_batch()
    if model_name == "gcn":
        torch.manual_seed(0)
        model = GCN(F_IN, HIDDEN, num_layers=2, out_channels=C).double().train()
    else:
        model = _spiking(SETTINGS[model_name], True)

    def run():
        return batch_logits(model, x, batch, "blocks")

    got, got_grads = _outputs_and_grads(model, run)
    assert spy[0] is True
    for module in (gcn_module, blocks_module):
        monkeypatch.setattr(module, "aggregate_first", lambda *a: False)
    want, want_grads = _outputs_and_grads(model, run)
    torch.testing.assert_close(got, want)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w)


def test_aggregate_first_is_chosen_by_cost():
    # A sampled first layer: few targets, wide input.
    assert gcn_module.aggregate_first(7112, 1877, 13500, 500, 64)
    # A square graph (full batch, subgraph mode) never: every row is a target.
    assert not gcn_module.aggregate_first(19717, 19717, 108000, 500, 64)
    # The output layer (64 -> 3 classes): no saving worth building the operator for.
    assert not gcn_module.aggregate_first(1877, 512, 2212, 64, 3)


def test_block_operator_sums_repeated_edges_and_keeps_gradients_of_the_input():
    ei = torch.tensor([[0, 2, 2, 1], [1, 0, 0, 1]])
    w = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    op = gcn_module.block_operator(ei, w, (3, 2))
    dense = torch.zeros(2, 3, dtype=torch.float64)
    dense.index_put_((ei[1], ei[0]), w, accumulate=True)
    torch.testing.assert_close(op.to_dense(), dense)
    (op @ x).sum().backward()
    torch.testing.assert_close(x.grad, dense.sum(0).view(-1, 1).expand(3, 4))
