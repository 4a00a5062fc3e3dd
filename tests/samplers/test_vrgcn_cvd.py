"""VR-GCN's control variate for dropout (CVD, Chen, Zhu & Song 2018, Sec. 5.1): unbiased, with
the exact aggregation's variance under dropout where the plain control variate has n_v/s
times the noise, checked against closed forms; the models that run it and those that
refuse it."""

from __future__ import annotations

import pytest
import torch
from sampler_checks import gcn_operator
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models import GCN

from spikegraph.models import SpikingGCN
from spikegraph.samplers import BatchContractError, VRGCNSampler
from spikegraph.samplers.history import aggregate, control_variate_input, noise_aggregate
from spikegraph.train.blocks import pyg_forward_blocks

N = 60
P = 0.5  # dropout probability


def cv_estimate(batch, h: torch.Tensor) -> torch.Tensor:
    """The plain control variate's estimate of (A h) for block 0's targets (h global)."""
    block = batch.blocks[0]
    args = control_variate_input(
        h[batch.layer_n_id[0]], block.edge_index, block.edge_weight, block.size, block.history
    )
    return aggregate(args[0], args[1], args[2], block.size[1])


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
        cvd.append(cv_estimate(batch, mu) + noise)
        cv.append(cv_estimate(batch, h))
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


def gcn_and_data(small_graph: Data, dropout: float) -> tuple[GCN, Data, torch.Tensor]:
    torch.manual_seed(0)
    data = small_graph.clone()
    data.x = torch.rand(data.num_nodes, 5)
    model = GCN(5, 8, 2, out_channels=3, normalize=False, dropout=dropout)
    ei, w = gcn_norm(data.edge_index, None, data.num_nodes, add_self_loops=True)
    return model, data, torch.relu(model.convs[0](data.x, ei, w)).detach()


def test_in_evaluation_cvd_blocks_give_the_full_graph_with_exact_histories(small_graph):
    model, data, hidden = gcn_and_data(small_graph, dropout=0.5)
    model.eval()
    ei, w = gcn_norm(data.edge_index, None, data.num_nodes, add_self_loops=True)
    full = model(data.x, ei, w)
    sampler = VRGCNSampler(data, [2, 2], dropout_variate=True, seed=0)
    sampler.history.fill(1, hidden.clone(), static=False)
    for _ in range(3):
        batch = sampler.sample(torch.randperm(data.num_nodes)[:6]).validate()
        with torch.no_grad():
            out = pyg_forward_blocks(model, data.x[batch.n_id], batch.blocks)
        torch.testing.assert_close(out, full[batch.target], atol=1e-4, rtol=1e-4)


def test_without_dropout_cvd_is_the_plain_control_variate(small_graph):
    model, data, hidden = gcn_and_data(small_graph, dropout=0.0)
    model.train()
    outs = []
    for cvd in (False, True):
        sampler = VRGCNSampler(data, [2, 2], dropout_variate=cvd, seed=0)
        sampler.history.fill(1, 0.5 * hidden, static=False)  # stale: corrections matter
        batch = sampler.sample(torch.arange(10))
        outs.append(pyg_forward_blocks(model, data.x[batch.n_id], batch.blocks))
        written = sampler.history.layers[1][batch.layer_n_id[1]]
        torch.testing.assert_close(written, hidden[batch.layer_n_id[1]])
    torch.testing.assert_close(outs[0], outs[1], atol=1e-6, rtol=1e-6)


def test_with_dropout_the_histories_record_the_copy_without_dropout(small_graph):
    """Training with dropout: CVD writes layer 1's histories from the copy without dropout
    (here the exact activations: layer 0 reads the features, an exact static history); the
    plain control variate writes the dropped-out activations."""
    model, data, hidden = gcn_and_data(small_graph, dropout=0.5)
    model.train()
    written = {}
    for cvd in (False, True):
        sampler = VRGCNSampler(data, [2, 2], dropout_variate=cvd, seed=0)
        batch = sampler.sample(torch.arange(20))
        torch.manual_seed(5)
        out = pyg_forward_blocks(model, data.x[batch.n_id], batch.blocks)
        out.sum().backward()  # gradients flow through both passes
        assert all(p.grad is not None for p in model.parameters())
        model.zero_grad()
        ids = batch.layer_n_id[1]
        written[cvd] = (sampler.history.layers[1][ids], hidden[ids])
    got, want = written[True]
    torch.testing.assert_close(got, want)
    got, want = written[False]
    assert not torch.allclose(got, want)  # dropout's zeros and 2x scaling in the history
    assert bool(((got == 0) | torch.isclose(got, 2 * want, atol=1e-6)).all())


def test_cvd_blocks_are_refused_where_they_cannot_run(small_graph):
    sampler = VRGCNSampler(small_graph, [2, 2], dropout_variate=True, seed=0)
    batch = sampler.sample(torch.tensor([0, 1, 2]))
    model = SpikingGCN(1, 4, 2, out_channels=2, T=2)
    with pytest.raises(
        BatchContractError, match=r"control variate for dropout.*dropout_variate=False"
    ):
        model.forward_blocks(small_graph.x[batch.n_id], batch.blocks)
    # a batch mixing CVD and plain blocks
    plain = VRGCNSampler(small_graph, [2, 2], seed=0).sample(torch.tensor([0, 1, 2]))
    mixed = [batch.blocks[0], plain.blocks[1]]
    gcn = GCN(1, 4, 2, out_channels=2, normalize=False).train()
    with pytest.raises(BatchContractError, match=r"blocks 1 do not ask for .* \(CVD\)"):
        pyg_forward_blocks(gcn, small_graph.x[batch.n_id], mixed)
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
