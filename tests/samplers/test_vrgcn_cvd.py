"""VR-GCN's control variate for dropout (CVD, Chen, Zhu & Song 2018, Sec. 5.1): unbiased, with
the exact aggregation's variance under dropout where the plain control variate has n_v/s
times the noise, checked against closed forms; the models that run it and those that
refuse it."""

from __future__ import annotations

import pytest
import torch
from sampler_checks import gcn_operator, vrgcn_estimate
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models import GCN

from spikegraph.models import SpikingGAT, SpikingGCN
from spikegraph.samplers import BatchContractError, VRGCNSampler
from spikegraph.samplers.history import noise_aggregate
from spikegraph.train.blocks import pyg_forward_blocks

N = 60
P = 0.5  # dropout probability


def test_cvd_is_unbiased_with_the_exact_aggregations_variance(dense_graph):
    """Exact histories of the mean activations mu and inverted dropout h = mu * m / (1 - p):
    both estimators are unbiased for A mu; the variance over sampling and masks is
    sum_u A_vu^2 Var h_u for CVD (the exact aggregation's) and
    A_vv^2 Var h_v + R_v sum_{u != v} A_vu^2 Var h_u for the plain control variate
    (R_v = deg_v / 2, the sampling scale), per entry in closed form."""
    gen = torch.Generator().manual_seed(1)
    mu = torch.relu(dense_graph.x @ torch.randn(4, 6, generator=gen))
    a = gcn_operator(dense_graph)
    seeds = torch.arange(N)
    sampler = VRGCNSampler(dense_graph, [2], input_history=False, dropout_variate=True, seed=3)
    sampler.history.fill(0, mu, static=True)  # exact, and never written by the estimates
    runs = 2000
    cvd, cv = [], []
    for _ in range(runs):
        batch = sampler.sample(seeds)
        ids = batch.layer_n_id[0]
        h = mu * (torch.rand(mu.shape, generator=gen) >= P) / (1 - P)
        noise = noise_aggregate(
            h[ids], mu[ids], batch.blocks[0].edge_index, batch.blocks[0].history
        )
        cvd.append(vrgcn_estimate(batch, 0, mu) + noise)
        cv.append(vrgcn_estimate(batch, 0, h))
    var_h = mu**2 * P / (1 - P)
    diag = a.diagonal().unsqueeze(1)
    off = (a - torch.diag(a.diagonal())) ** 2
    deg = (a > 0).sum(1) - 1
    scale = torch.where(deg > 2, deg / 2, torch.ones_like(deg, dtype=torch.float)).unsqueeze(1)
    closed = {"cvd": (a**2) @ var_h, "cv": diag**2 * var_h + scale * (off @ var_h)}
    exact = a @ mu
    for name, est in (("cvd", torch.stack(cvd)), ("cv", torch.stack(cv))):
        mean, var = est.mean(0), est.var(0)
        z = (mean - exact).abs() / (var / runs).sqrt().clamp_min(1e-6)
        assert float(z.max()) < 5.0, name  # unbiased: every entry within 5 standard errors
        rel = float((var.sum() - closed[name].sum()).abs() / closed[name].sum())
        assert rel < 0.05, (name, rel)
    assert float(closed["cv"].sum()) > 5 * float(closed["cvd"].sum())  # what CVD is for


KINDS = ["pyg", "spiking"]


def model_and_data(kind: str, small_graph: Data, dropout: float):
    """``(model, run, data, hidden)``: a 2-layer GCN (PyG's, or the spiking one with the
    membrane read-out and no input scaling), ``run(x, blocks)`` its block forward, and
    layer 0's output without dropout on the full graph (the spiking one's firing rates)."""
    torch.manual_seed(0)
    data = small_graph.clone()
    data.x = torch.rand(data.num_nodes, 5)
    ei, w = gcn_norm(data.edge_index, None, data.num_nodes, add_self_loops=True)
    if kind == "spiking":
        model = SpikingGCN(
            5, 8, 2, out_channels=3, T=4, normalize=False, encoder="auto",
            dropout=dropout, input_dropout=dropout,
        )  # fmt: skip
        hidden = model.convs[0](data.x, ei, w).mean(0).detach()

        def run(x, blocks):
            return model.forward_blocks(x, blocks)
    else:
        model = GCN(5, 8, 2, out_channels=3, normalize=False, dropout=dropout)
        hidden = torch.relu(model.convs[0](data.x, ei, w)).detach()

        def run(x, blocks):
            return pyg_forward_blocks(model, x, blocks)

    return model, run, data, hidden


@pytest.mark.parametrize("kind", KINDS)
def test_in_evaluation_cvd_blocks_give_the_full_graph_with_exact_histories(kind, small_graph):
    model, run, data, hidden = model_and_data(kind, small_graph, dropout=0.5)
    model.eval()
    ei, w = gcn_norm(data.edge_index, None, data.num_nodes, add_self_loops=True)
    full = model(data.x, ei, w)
    sampler = VRGCNSampler(data, [2, 2], dropout_variate=True, seed=0)
    sampler.history.fill(1, hidden.clone(), static=False)
    for _ in range(3):
        batch = sampler.sample(torch.randperm(data.num_nodes)[:6]).validate()
        with torch.no_grad():
            out = run(data.x[batch.n_id], batch.blocks)
        torch.testing.assert_close(out, full[batch.target], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_without_dropout_cvd_is_the_plain_control_variate(kind, small_graph):
    model, run, data, hidden = model_and_data(kind, small_graph, dropout=0.0)
    model.train()
    outs = []
    for cvd in (False, True):
        sampler = VRGCNSampler(data, [2, 2], dropout_variate=cvd, seed=0)
        sampler.history.fill(1, 0.5 * hidden, static=False)  # stale: corrections matter
        batch = sampler.sample(torch.arange(10))
        outs.append(run(data.x[batch.n_id], batch.blocks))
        written = sampler.history.layers[1][batch.layer_n_id[1]]
        torch.testing.assert_close(written, hidden[batch.layer_n_id[1]])
    torch.testing.assert_close(outs[0], outs[1], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_with_every_neighbour_taken_cvd_aggregates_the_dropped_out_input(kind, small_graph):
    """num_neighbors=-1: sqrt(n_v/s) = 1 and no correction, so CVD's current
    CV(mu) + A (h - mu) is A h, the plain estimate's: under the same dropout draws both give
    the same output with dropout on, whatever the histories hold (without the noise term
    it would be A mu)."""
    model, run, data, hidden = model_and_data(kind, small_graph, dropout=0.5)
    model.train()
    outs = []
    for cvd in (False, True):
        sampler = VRGCNSampler(data, [-1, -1], dropout_variate=cvd, seed=0)
        sampler.history.fill(1, 0.5 * hidden, static=False)
        batch = sampler.sample(torch.arange(10))
        torch.manual_seed(7)
        outs.append(run(data.x[batch.n_id], batch.blocks))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_with_dropout_the_histories_record_the_copy_without_dropout(kind, small_graph):
    """Training with dropout: CVD writes layer 1's histories from the copy without dropout
    (here the exact activations: layer 0 reads the features, an exact static history); the
    plain control variate writes the dropped-out activations (for PyG's GCN, which has no
    input dropout, layer 0's output with dropout's zeros and 1/(1-p) scaling; the spiking
    model also drops its input, which changes layer 0's spikes)."""
    model, run, data, hidden = model_and_data(kind, small_graph, dropout=0.5)
    model.train()
    written = {}
    for cvd in (False, True):
        sampler = VRGCNSampler(data, [2, 2], dropout_variate=cvd, seed=0)
        batch = sampler.sample(torch.arange(20))
        torch.manual_seed(5)
        out = run(data.x[batch.n_id], batch.blocks)
        out.sum().backward()  # gradients flow through both passes
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
        model.zero_grad()
        ids = batch.layer_n_id[1]
        written[cvd] = (sampler.history.layers[1][ids], hidden[ids])
    got, want = written[True]
    torch.testing.assert_close(got, want)
    got, want = written[False]
    assert not torch.allclose(got, want)
    if kind == "pyg":
        assert bool(((got == 0) | torch.isclose(got, 2 * want, atol=1e-6)).all())


def test_the_paper_faithful_spiking_gcn_trains_on_cvd_blocks(small_graph):
    """GC-SNN (every layer spiking, STFN, rate read-out) on CVD blocks in training: the
    loss is finite and every trained parameter gets a finite gradient."""
    from spikegraph.models import build_model

    data = small_graph.clone()
    data.x = torch.rand(data.num_nodes, 5)
    torch.manual_seed(0)
    model = build_model("gcsnn", 5, 3, hidden_channels=8, T=4).train()
    sampler = VRGCNSampler(data, [2, 2], dropout_variate=True, seed=0)
    batch = sampler.sample(torch.arange(12))
    out = model.forward_blocks(data.x[batch.n_id], batch.blocks)
    loss = torch.nn.functional.cross_entropy(out, torch.arange(12) % 3)
    loss.backward()
    assert bool(torch.isfinite(loss))
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and bool(torch.isfinite(g).all()) for g in grads)


def test_cvd_blocks_are_refused_where_they_cannot_run(small_graph):
    sampler = VRGCNSampler(small_graph, [2, 2], dropout_variate=True, seed=0)
    batch = sampler.sample(torch.tensor([0, 1, 2]))
    gat = SpikingGAT(1, 4, 2, out_channels=2, heads=2, T=2)
    with pytest.raises(ValueError, match="cannot run on block 0: its weights are final"):
        gat.forward_blocks(small_graph.x[batch.n_id], batch.blocks)
    # a batch mixing CVD and plain blocks
    plain = VRGCNSampler(small_graph, [2, 2], seed=0).sample(torch.tensor([0, 1, 2]))
    mixed = [batch.blocks[0], plain.blocks[1]]
    gcn = GCN(1, 4, 2, out_channels=2, normalize=False).train()
    with pytest.raises(BatchContractError, match=r"blocks 1 do not ask for .* \(CVD\)"):
        pyg_forward_blocks(gcn, small_graph.x[batch.n_id], mixed)
    spiking = SpikingGCN(1, 4, 2, out_channels=2, T=2)
    for model in (gcn.eval(), spiking.train(), spiking.eval()):  # in either mode
        with pytest.raises(BatchContractError, match=r"blocks 1 do not ask for .* \(CVD\)"):
            if model is gcn:
                pyg_forward_blocks(gcn, small_graph.x[batch.n_id], mixed)
            else:
                model.forward_blocks(small_graph.x[batch.n_id], mixed)
    # the noise term of a plain block, and inputs of two shapes
    block = plain.blocks[0]
    h = torch.zeros(block.size[0], 1)
    with pytest.raises(BatchContractError, match="no noise_weight"):
        noise_aggregate(h, h, block.edge_index, block.history)
    with pytest.raises(ValueError, match=r"same shape, got \(\d+, 1\) and \(\d+, 2\)"):
        cvd_block = batch.blocks[0]
        noise_aggregate(
            torch.zeros(cvd_block.size[0], 1),
            torch.zeros(cvd_block.size[0], 2),
            cvd_block.edge_index,
            cvd_block.history,
        )
    # a noise weight that is not one per edge
    cvd_block = batch.blocks[0]
    cvd_block.history.noise_weight = cvd_block.history.noise_weight[:-1]
    with pytest.raises(BatchContractError, match="noise_weight has shape"):
        batch.validate()
    with pytest.raises(TypeError, match="'dropout_variate' must be a bool"):
        VRGCNSampler(small_graph, [2, 2], dropout_variate="yes")
    assert "dropout_variate=True" in repr(sampler)
