"""VR-GCN: exact with exact histories, unbiased always, lower variance with warm histories,
history writes, and the models that run its blocks."""

from __future__ import annotations

import math

import pytest
import torch
from sampler_checks import gcn_operator, vrgcn_estimate
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models import GCN

from spikegraph.models import SpikingGAT, SpikingGCN
from spikegraph.samplers import BatchContractError, Loader, VRGCNSampler
from spikegraph.samplers.history import History, aggregate, control_variate_input
from spikegraph.train.blocks import pyg_forward_blocks

N = 60


def test_exact_histories_give_the_exact_aggregation(dense_graph, small_graph):
    for data in (dense_graph, small_graph):
        data = data.clone()
        data.x = torch.randn(data.num_nodes, 3)
        a = gcn_operator(data)
        h = torch.randn(data.num_nodes, 5)
        sampler = VRGCNSampler(data, [2, 2], seed=0)
        sampler.history.fill(1, h, static=True)
        for _ in range(5):
            batch = sampler.sample(torch.randperm(data.num_nodes)[:9]).validate()
            for layer, feats in ((0, data.x), (1, h)):
                dst = batch.layer_n_id[layer][: batch.blocks[layer].size[1]]
                got = vrgcn_estimate(batch, layer, feats)
                torch.testing.assert_close(got, (a @ feats)[dst], atol=1e-5, rtol=1e-5)


def test_warm_histories_lower_the_variance_and_the_estimate_stays_unbiased(dense_graph):
    """Histories = exact activations of slightly older weights, against no histories (plain
    2-neighbour sampling with the same n_v / s weights): both unbiased, VR-GCN's variance
    lower beyond the sampling error of the variance estimates."""
    gen = torch.Generator().manual_seed(1)
    x = dense_graph.x
    w = torch.randn(4, 6, generator=gen)
    w_old = w + 0.05 * torch.randn(4, 6, generator=gen)
    h, h_old = torch.relu(x @ w), torch.relu(x @ w_old)
    exact = gcn_operator(dense_graph) @ h
    seeds = torch.arange(N)
    runs = 400
    results = {}
    # Static histories, so that the estimates do not write them; zeros: no control variate.
    for name, hist in (("vr", h_old), ("plain", torch.zeros_like(h))):
        sampler = VRGCNSampler(dense_graph, [2], input_history=False, seed=3)
        sampler.history.fill(0, hist, static=True)
        est = torch.stack([vrgcn_estimate(sampler.sample(seeds), 0, h) for _ in range(runs)])
        mean, var = est.mean(0), est.var(0)
        # Unbiased: every entry within 5 standard errors of the exact value.
        z = (mean - exact).abs() / (var / runs).sqrt().clamp_min(1e-6)
        assert float(z.max()) < 5.0, name
        results[name] = float(var.sum())
    rel = 5 * math.sqrt(2 / (runs - 1))  # 5 standard errors of a variance estimate
    assert results["vr"] * (1 + rel) < results["plain"] * (1 - rel), results
    assert results["vr"] < 0.05 * results["plain"], results


def test_history_writes_the_sources_rows_after_reading(small_graph):
    sampler = VRGCNSampler(small_graph, [3, 2], seed=0)
    hist = sampler.history
    old = torch.randn(small_graph.num_nodes, 4)
    hist.fill(1, old, static=False)
    batch = sampler.sample(torch.tensor([1, 2, 3]))
    block = batch.blocks[1]
    ids = batch.layer_n_id[1]
    spikes = (torch.rand(5, ids.numel(), 4) < 0.3).float()
    h_aug, ei, w, size = control_variate_input(
        spikes, block.edge_index, block.edge_weight, block.size, block.history
    )
    # The correction used the histories from before the write:
    # A_vv r_v + sum_sampled w_vu (r_u - old_u) + sum_all-neighbours A_vu old_u.
    a = gcn_operator(small_graph)
    dst = ids[: block.size[1]]
    rates = spikes.mean(0)
    loops = block.edge_index[0] == block.edge_index[1]
    ew = block.edge_weight
    expected = (
        aggregate(rates, block.edge_index[:, loops], ew[loops], size[1])
        + aggregate(rates - old[ids], block.edge_index[:, ~loops], ew[~loops], size[1])
        + ((a - torch.diag(a.diagonal())) @ old)[dst]
    )
    got = aggregate(h_aug, ei, w, size[1]).mean(0)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # The sources' rows now hold the firing rates; every other row is untouched.
    written = torch.zeros(small_graph.num_nodes, dtype=torch.bool)
    written[ids] = True
    torch.testing.assert_close(hist.layers[1][ids], rates)
    assert torch.equal(hist.layers[1][~written], old[~written])
    # The static input layer is never written.
    before = hist.layers[0].clone()
    block0 = batch.blocks[0]
    control_variate_input(
        torch.zeros(block0.size[0], 1),
        block0.edge_index,
        block0.edge_weight,
        block0.size,
        block0.history,
    )
    assert torch.equal(hist.layers[0], before)
    assert hist.layers[0].data_ptr() == small_graph.x.data_ptr()  # shared, not copied


def test_memory_is_reported():
    hist = History(10, 3)
    assert hist.memory_bytes == 0
    hist.fill(0, torch.zeros(10, 7), static=True)
    hist.write(1, torch.tensor([0, 4]), torch.ones(2, 5))
    assert hist.memory_bytes == 10 * 5 * 4 and hist.shared_bytes == 10 * 7 * 4
    assert "widths=[7, 5, None]" in repr(hist)
    with pytest.raises(ValueError, match="holds width 5"):
        hist.write(1, torch.tensor([1]), torch.ones(1, 6))
    with pytest.raises(ValueError, match="history layer 3 is out of range"):
        hist.read(3, torch.tensor([0]), 5, torch.float)


def test_unbound_control_variate_and_bad_options_fail_clearly(small_graph):
    sampler = VRGCNSampler(small_graph, [2, 2], seed=0)
    batch = sampler.sample(torch.tensor([0, 1]))
    block = batch.blocks[1]
    block.history.store = None
    with pytest.raises(BatchContractError, match="no history store bound"):
        control_variate_input(
            torch.zeros(block.size[0], 1),
            block.edge_index,
            block.edge_weight,
            block.size,
            block.history,
        )
    with pytest.raises(ValueError, match=r"'num_neighbors\[1\]' must be >= 1"):
        VRGCNSampler(small_graph, [2, 0])
    with pytest.raises(BatchContractError, match="do not nest"):
        batch.subgraph()


def test_worker_batches_are_bound_to_the_training_process_history(small_graph):
    sampler = VRGCNSampler(small_graph, [2, 2], seed=0)
    loader = Loader(sampler, seeds=torch.arange(20), batch_size=8, num_workers=2, seed=1)
    batches = list(loader)
    assert batches and all(
        b.history.store is sampler.history for batch in batches for b in batch.blocks
    )


@pytest.mark.parametrize("kind", ["spiking", "pyg"])
def test_models_on_vrgcn_blocks_with_exact_histories_match_the_full_graph(kind, small_graph):
    """With exact histories a 2-layer GCN on VR-GCN blocks gives the full-graph logits (the
    spiking one too: its membrane read-out is linear in the rates the history holds)."""
    torch.manual_seed(0)
    data = small_graph.clone()
    data.x = torch.rand(data.num_nodes, 5)
    ei, w = gcn_norm(data.edge_index, None, data.num_nodes, add_self_loops=True)
    if kind == "spiking":
        # the reference takes the features as they are: the encoder must not rescale them
        model = SpikingGCN(5, 8, 2, out_channels=3, T=4, normalize=False, encoder="auto").eval()
        hidden = model.convs[0](data.x, ei, w).mean(0)  # firing rates of layer 0

        def run(x, blocks):
            return model.forward_blocks(x, blocks)
    else:
        model = GCN(5, 8, 2, out_channels=3, normalize=False).eval()
        hidden = torch.relu(model.convs[0](data.x, ei, w))

        def run(x, blocks):
            return pyg_forward_blocks(model, x, blocks)

    full = model(data.x, ei, w)
    sampler = VRGCNSampler(data, [2, 2], seed=0)
    sampler.history.fill(1, hidden.detach().clone(), static=False)
    for _ in range(3):
        batch = sampler.sample(torch.randperm(data.num_nodes)[:6])
        with torch.no_grad():
            out = run(data.x[batch.n_id], batch.blocks)
        torch.testing.assert_close(out, full[batch.target], atol=1e-4, rtol=1e-4)


def test_attention_models_refuse_vrgcn_blocks(small_graph):
    sampler = VRGCNSampler(small_graph, [2, 2], seed=0)
    batch = sampler.sample(torch.tensor([0, 1]))
    model = SpikingGAT(1, 4, 2, out_channels=2, heads=2, T=2)
    with pytest.raises(ValueError, match="cannot run on block 0: its weights are final"):
        model.forward_blocks(small_graph.x[batch.n_id], batch.blocks)


@pytest.mark.parametrize("cvd", [False, True])
def test_training_runs_end_to_end_and_fills_the_histories(cvd):
    """build_loader('vrgcn') and a few epochs of PyG's GCN: the loss falls, every hidden
    history row of a visited node is written, and the memory is what was allocated; with
    the control variate for dropout too (dropout_variate, a GCN with dropout)."""
    from spikegraph.train.minibatch import batch_loss, build_loader

    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (80,), generator=gen)
    pairs = torch.randint(0, 80, (2, 600), generator=gen)
    keep = (y[pairs[0]] == y[pairs[1]]) & (pairs[0] != pairs[1])
    ei = pairs[:, keep]
    ei = torch.cat([ei, ei.flip(0)], 1)
    x = torch.randn(80, 6, generator=gen) + 1.5 * torch.nn.functional.one_hot(y, 6).float()
    train = torch.zeros(80, dtype=torch.bool)
    train[:40] = True
    data = Data(x=x, edge_index=ei, y=y, train_mask=train)
    options = {"dropout_variate": True} if cvd else None
    setup = build_loader("vrgcn", data, num_layers=2, batch_size=10, seed=0, options=options)
    assert setup.options == {"num_neighbors": [2, 2], **(options or {})}
    assert setup.sampler.dropout_variate is cvd
    torch.manual_seed(0)
    model = GCN(6, 16, 2, out_channels=3, normalize=False, dropout=0.5 if cvd else 0.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(15):
        total = 0.0
        for batch in setup.loader:
            opt.zero_grad()
            out = pyg_forward_blocks(model, data.x[batch.n_id], batch.blocks)
            loss = batch_loss(out[: batch.num_targets], data.y[batch.target], None)
            loss.backward()
            opt.step()
            total += float(loss.detach())
        losses.append(total)
    assert losses[-1] < 0.5 * losses[0]
    hist = setup.sampler.history
    assert setup.sampler.memory_bytes == 80 * 16 * 4
    assert bool((hist.layers[1][:40].abs().sum(1) > 0).all())  # every target was a source
