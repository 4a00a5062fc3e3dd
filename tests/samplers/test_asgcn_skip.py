"""AS-GCN's skip connection (Huang et al., NeurIPS 2018, Sec. 3.4): the skip blocks the
sampler builds, their validation, and the models' skip term against dense references."""

from __future__ import annotations

import dataclasses

import networkx as nx
import pytest
import torch
from sampler_checks import graph_from_networkx
from torch_geometric.data import Data
from torch_geometric.nn.models import GCN

from spikegraph.models import SpikingGAT, SpikingGCN
from spikegraph.samplers import ASGCNSampler, BatchContractError, Block
from spikegraph.samplers.skip import skip_block
from spikegraph.train import TrainConfig, fit
from spikegraph.train.blocks import pyg_forward_blocks
from spikegraph.train.minibatch import build_loader, minibatch_step

N = 70


@pytest.fixture(scope="module")
def graph() -> Data:
    data = graph_from_networkx(nx.gnm_random_graph(N, 300, seed=3), N)
    gen = torch.Generator().manual_seed(1)
    data.x = torch.rand(N, 5, generator=gen)
    data.y = torch.randint(0, 3, (N,), generator=gen)
    data.train_mask = torch.arange(N) < 40
    data.val_mask = (torch.arange(N) >= 40) & (torch.arange(N) < 55)
    data.test_mask = torch.arange(N) >= 55
    return data


def dense(block: Block) -> torch.Tensor:
    """The block's ``[num_dst, num_src]`` coefficient matrix (float64)."""
    a = torch.zeros(block.size[1], block.size[0], dtype=torch.float64)
    w = block.edge_weight.double()
    a.index_put_((block.edge_index[1], block.edge_index[0]), w, accumulate=True)
    return a


def sample(graph, skip=True, layers=2, seed=0):
    sampler = ASGCNSampler(graph, [15] * layers, learn=False, skip_connection=skip, seed=seed)
    return sampler.sample(torch.arange(0, 40, 3))


@pytest.mark.parametrize("layers", [2, 3])
def test_skip_block_is_the_product_of_the_two_blocks(graph, layers):
    batch = sample(graph, layers=layers).validate()
    assert batch.blocks[0].skip is None
    for i in range(1, layers):
        skip = batch.blocks[i].skip
        assert skip is not None and skip.weights_final and skip.skip is None
        assert skip.size == (batch.blocks[i - 1].size[0], batch.blocks[i].size[1])
        expected = dense(batch.blocks[i]) @ dense(batch.blocks[i - 1])
        torch.testing.assert_close(dense(skip), expected, rtol=1e-5, atol=1e-7)
        assert skip.num_edges == int((expected != 0).sum())  # no duplicate or zero edges
    assert "skip" in repr(batch)


def test_skip_block_dst_index_composes(graph):
    batch = sample(graph)
    low, up = batch.blocks
    skip = up.skip
    # block 1's targets, as rows of block 0's sources, through block 0's targets
    ids = batch.layer_n_id
    want = torch.full((up.size[1],), -1)
    for j, t in enumerate(batch.target):
        hit = (ids[0] == t).nonzero().view(-1)
        if hit.numel():
            want[j] = hit[0]
    # a target appears among block 0's sources only if it was drawn at both levels
    got = skip.dst_index
    assert got is not None
    assert bool(((got == want) | (got == -1)).all())
    mid = up.dst_index
    for j in range(up.size[1]):
        if mid[j] >= 0 and low.dst_index[mid[j]] >= 0:
            assert got[j] == low.dst_index[mid[j]]
        else:
            assert got[j] == -1


def test_skip_block_refuses_blocks_that_are_not_final(graph):
    low, up = sample(graph).blocks
    with pytest.raises(ValueError, match="final"):
        skip_block(dataclasses.replace(low, weights_final=False), up)
    with pytest.raises(ValueError, match="chain"):
        skip_block(up, low)


def test_skip_off_leaves_batches_and_outputs_unchanged(graph):
    on, off = sample(graph, skip=True), sample(graph, skip=False)
    assert all(b.skip is None for b in off.blocks)
    assert "skip" not in repr(off)
    for a, b in zip(on.blocks, off.blocks):
        assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_weight, b.edge_weight)
    stripped = [dataclasses.replace(b, skip=None) for b in on.blocks]
    torch.manual_seed(0)
    model = GCN(5, 8, 2, 3).eval()
    x = graph.x[off.n_id]
    torch.testing.assert_close(
        pyg_forward_blocks(model, x, off.blocks), pyg_forward_blocks(model, x, stripped)
    )
    smodel = SpikingGCN(5, 8, 2, 3, T=3, dropout=0.0, input_dropout=0.0).eval()
    torch.testing.assert_close(
        smodel.forward_blocks(x, off.blocks), smodel.forward_blocks(x, stripped)
    )
    out_off = pyg_forward_blocks(model, x, off.blocks)
    assert out_off.shape == (off.blocks[-1].size[1], 3)
    assert not torch.allclose(pyg_forward_blocks(model, x, on.blocks), out_off)  # skip counts


def lin(conv) -> torch.Tensor:
    return conv.lin.weight.detach().double().t()


def test_pyg_gcn_with_skip_equals_dense_reference(graph):
    batch = sample(graph)
    torch.manual_seed(0)
    model = GCN(5, 8, 2, 3).eval()
    for conv in model.convs:  # nonzero biases, so a misplaced bias would show
        torch.nn.init.normal_(conv.bias)
    x = graph.x[batch.n_id].double()
    a0, a1 = (dense(b) for b in batch.blocks)
    w0, w1 = lin(model.convs[0]), lin(model.convs[1])
    b0, b1 = (c.bias.detach().double() for c in model.convs)
    ref = a1 @ torch.relu(a0 @ x @ w0 + b0) @ w1 + b1 + (a1 @ a0) @ x @ w0 @ w1
    out = pyg_forward_blocks(model, graph.x[batch.n_id], batch.blocks)
    torch.testing.assert_close(out.double(), ref, rtol=1e-4, atol=1e-5)


def test_pyg_gcn_three_layers_skip_uses_each_layer_input(graph):
    batch = sample(graph, layers=3)
    torch.manual_seed(0)
    model = GCN(5, 8, 3, 3).eval()
    x = graph.x[batch.n_id].double()
    a = [dense(b) for b in batch.blocks]
    w = [lin(c) for c in model.convs]
    b = [c.bias.detach().double() for c in model.convs]
    h1 = torch.relu(a[0] @ x @ w[0] + b[0])
    h2 = torch.relu(a[1] @ h1 @ w[1] + b[1] + (a[1] @ a[0]) @ x @ w[0] @ w[1])
    ref = a[2] @ h2 @ w[2] + b[2] + (a[2] @ a[1]) @ h1 @ w[1] @ w[2]
    out = pyg_forward_blocks(model, graph.x[batch.n_id], batch.blocks)
    torch.testing.assert_close(out.double(), ref, rtol=1e-4, atol=1e-5)


def test_spiking_gcn_without_neurons_equals_dense_reference(graph):
    batch = sample(graph)
    torch.manual_seed(0)
    # the reference takes the features as they are: the encoder must not rescale them
    model = SpikingGCN(
        5, 8, 2, 3, T=3, dropout=0.0, input_dropout=0.0, spiking=False, encoder="auto"
    ).eval()
    for conv in model.convs:
        torch.nn.init.normal_(conv.bias)
    x = graph.x[batch.n_id].double()
    a0, a1 = (dense(b) for b in batch.blocks)
    w0, w1 = lin(model.convs[0]), lin(model.convs[1])
    b0, b1 = (c.bias.detach().double() for c in model.convs)
    ref = a1 @ (a0 @ x @ w0 + b0) @ w1 + b1 + (a1 @ a0) @ x @ w0 @ w1
    out = model.forward_blocks(graph.x[batch.n_id], batch.blocks)
    torch.testing.assert_close(out.double(), ref, rtol=1e-4, atol=1e-5)


def test_spiking_gcn_skip_enters_the_synaptic_current(graph):
    """With spiking neurons: the output layer's current is ``A1 S W1 + b1 + A_skip X W0 W1``
    with ``S`` the hidden spikes; in training the rate shortcut must give the same."""
    batch = sample(graph)
    torch.manual_seed(0)
    # the reference takes the features as they are: the encoder must not rescale them
    model = SpikingGCN(
        5, 8, 2, 3, T=4, dropout=0.0, input_dropout=0.0, v_threshold=0.2, encoder="auto"
    ).eval()
    spikes = {}
    model.convs[0].register_forward_hook(lambda m, i, o: spikes.setdefault("s", o.detach()))
    out = model.forward_blocks(graph.x[batch.n_id], batch.blocks)
    s = spikes["s"]
    assert s.dim() == 3 and 0 < float(s.mean()) < 1  # real spikes, not all or nothing
    rate = s.double().mean(0)
    x = graph.x[batch.n_id].double()
    a0, a1 = (dense(b) for b in batch.blocks)
    w0, w1 = lin(model.convs[0]), lin(model.convs[1])
    b1 = model.convs[1].bias.detach().double()
    ref = a1 @ rate @ w1 + b1 + (a1 @ a0) @ x @ w0 @ w1
    torch.testing.assert_close(out.double(), ref, rtol=1e-4, atol=1e-5)
    model.train()  # the rate shortcut (output layer on the hidden rates) is exact here too
    torch.testing.assert_close(
        model.forward_blocks(graph.x[batch.n_id], batch.blocks), out, rtol=1e-5, atol=1e-6
    )


def test_attention_model_refuses_a_skip_batch(graph):
    batch = sample(graph)
    model = SpikingGAT(5, 8, 2, 3, T=2).eval()
    with pytest.raises(BatchContractError):
        model.forward_blocks(graph.x[batch.n_id], batch.blocks)


def test_model_refuses_a_skip_on_block_zero(graph):
    low, up = sample(graph).blocks
    bad = [dataclasses.replace(low, skip=up.skip), up]
    model = SpikingGCN(5, 8, 2, 3, T=2).eval()
    with pytest.raises(BatchContractError, match="skip"):
        model.forward_blocks(graph.x[torch.arange(low.size[0])], bad)
    with pytest.raises(BatchContractError, match="skip"):
        pyg_forward_blocks(GCN(5, 8, 2, 3), graph.x[torch.arange(low.size[0])], bad)


def test_validate_catches_a_malformed_skip_block(graph):
    batch = sample(graph)
    low, up = batch.blocks
    skip = up.skip

    def with_skip(new, index=1):
        blocks = list(batch.blocks)
        blocks[index] = dataclasses.replace(blocks[index], skip=new)
        return dataclasses.replace(batch, blocks=blocks)

    cases = {
        "sources": dataclasses.replace(skip, size=(skip.size[0] + 1, skip.size[1])),
        "targets": dataclasses.replace(skip, size=(skip.size[0], skip.size[1] + 1)),
        "final": dataclasses.replace(skip, weights_final=False),
        "out of range": dataclasses.replace(skip, edge_index=skip.edge_index + low.size[0]),
        "non-finite": dataclasses.replace(
            skip, edge_weight=torch.full_like(skip.edge_weight, float("nan"))
        ),
        "its own skip": dataclasses.replace(skip, skip=skip),
    }
    for what, bad in cases.items():
        with pytest.raises(BatchContractError, match="skip") as err:
            with_skip(bad).validate()
        assert "block 1" in str(err.value), what
    with pytest.raises(BatchContractError, match="block 0"):
        with_skip(skip, index=0).validate()
    with pytest.raises(TypeError, match="skip"):
        with_skip("not a block").validate()


def test_skip_block_moves_with_the_batch(graph):
    moved = sample(graph).to("cpu")
    assert isinstance(moved.blocks[1].skip, Block)


def test_bad_skip_option(graph):
    with pytest.raises(TypeError, match="skip_connection"):
        ASGCNSampler(graph, [5, 5], skip_connection="yes")


@pytest.mark.parametrize("model_name", ["gcn", "sgcn"])
def test_training_with_skip_runs_end_to_end(graph, model_name):
    from spikegraph.models import build_model

    torch.manual_seed(0)
    kw = {"T": 2} if model_name == "sgcn" else {}
    net = build_model(model_name, 5, 3, hidden_channels=8, **kw)
    setup = build_loader(
        "asgcn",
        graph,
        2,
        batch_size=16,
        options={"skip_connection": True, "layer_sizes": [12, 12]},
    )
    assert setup.sampler.skip_connection
    batch = next(iter(setup.loader))
    assert batch.blocks[1].skip is not None
    result = fit(
        net, graph, TrainConfig(epochs=3, progress=False), train_step=minibatch_step(setup.loader)
    )
    assert result.epochs_run == 3
    losses = [h["loss"] for h in result.history]
    assert all(torch.isfinite(torch.tensor(v)) and v > 0 for v in losses)
