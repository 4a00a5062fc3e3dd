"""GraphSAINT's batches carry the paper's estimator of ``ÂX`` (Zeng et al., ICLR 2020, Sec. 3.2).

The full graph's GCN operator ``Â = D^-1/2 (A + I) D^-1/2`` is estimated on a subgraph ``G_s``
by ``zeta_v = sum_{u in G_s} Â_vu x_u / alpha_uv`` (``alpha_uv = P_uv / P_v``), unbiased given
``v in G_s``; with the loss normalisation ``lambda_v = P_v`` the vector
``Y_s[v] = zeta_v 1[v in G_s] / lambda_v`` is an unbiased estimate of ``ÂX`` for every node, and
the ``Y_s`` of independent subgraphs are i.i.d. So the squared error of their mean over ``S``
subgraphs is ``tr(Sigma) / S`` times a chi-square-like variable with
``k = tr(Sigma)^2 / tr(Sigma^2)`` degrees of freedom (Satterthwaite): it falls like ``1 / S``,
and the bounds below come from that law with the covariance ``Sigma`` of the ``Y_s``
estimated from the draws. A biased estimator adds ``|bias|^2``, which does not fall with
``S``, and leaves the band.

Each batch is read the way a model reads it: final weights are aggregated as they are;
non-final weights are normalised by the model (``gcn_norm`` on the block, self-loops added),
which is what a GCN with ``normalize=True`` does.
"""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from sampler_checks import graph_from_networkx
from scipy.stats import chi2
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from spikegraph.samplers import (
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
)

#: Tail probability of each two-sided check.
TAIL = 1e-5
Z = 4.5


def _graph():
    """200 nodes with heterogeneous degrees (Barabasi-Albert), a self-loop on node 0,
    random positive edge weights and a random scalar feature."""
    g = nx.barabasi_albert_graph(200, 2, seed=0)
    g.add_edge(0, 0)
    data = graph_from_networkx(g, 200)
    gen = torch.Generator().manual_seed(0)
    data.edge_weight = 0.5 + torch.rand(data.num_edges, generator=gen, dtype=torch.float64)
    data.feat = torch.randn(200, generator=gen, dtype=torch.float64)
    return data


def _exact(data) -> torch.Tensor:
    ei, w = gcn_norm(data.edge_index, data.edge_weight, data.num_nodes, add_self_loops=True)
    return torch.zeros(data.num_nodes, dtype=torch.float64).index_add_(
        0, ei[1], w * data.feat[ei[0]]
    )


def aggregate(block, x_src: torch.Tensor) -> torch.Tensor:
    """What a GCN layer computes on ``block``: final weights as they are, otherwise the
    block normalised the way ``normalize=True`` does it."""
    ei, w = block.edge_index, block.edge_weight
    if not block.weights_final:
        ei, w = gcn_norm(ei, w, block.size[0], add_self_loops=True)
    w = torch.ones(ei.size(1), dtype=x_src.dtype) if w is None else w.to(x_src.dtype)
    return torch.zeros(block.size[1], dtype=x_src.dtype).index_add_(0, ei[1], w * x_src[ei[0]])


def draw_estimates(sampler, data, reps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``Y [reps, N]`` (Horvitz-Thompson with the batch's ``lambda``) and the membership
    ``hit [reps, N]`` with ``zeta`` in ``Z [reps, N]`` (0 where absent)."""
    n = data.num_nodes
    ys = torch.zeros(reps, n, dtype=torch.float64)
    zs = torch.zeros(reps, n, dtype=torch.float64)
    hit = torch.zeros(reps, n, dtype=torch.bool)
    for r in range(reps):
        batch = sampler.sample()
        zeta = aggregate(batch.blocks[0], data.feat[batch.n_id])
        # loss_weight = 1 / (lambda_v T) with every node a target (T = N).
        inv_lambda = batch.loss_weight.double() * n
        ys[r, batch.n_id] = zeta * inv_lambda
        zs[r, batch.n_id] = zeta
        hit[r, batch.n_id] = True
    return ys, zs, hit


def error_band(ys: torch.Tensor, exact: torch.Tensor, sizes: list[int]) -> list[dict]:
    """For each ``S`` of ``sizes``: the relative error of the mean of the first ``S`` rows,
    and ``S |err|^2 / tr(Sigma)`` with its chi-square bounds under unbiasedness."""
    cov = torch.cov(ys.t())
    tr, tr2 = float(cov.trace()), float((cov * cov).sum())
    k = tr * tr / tr2
    lo, hi = chi2.ppf(TAIL, k) / k, chi2.ppf(1 - TAIL, k) / k
    out = []
    for s in sizes:
        err = ys[:s].mean(0) - exact
        out.append(
            {
                "S": s,
                "rel_err": float(err.norm() / exact.norm()),
                "ratio": s * float(err.pow(2).sum()) / tr,
                "lo": lo,
                "hi": hi,
                "dof": k,
            }
        )
    return out


SAMPLERS = {
    "node": lambda d: GraphSAINTNodeSampler(d, 40, seed=0),
    "edge": lambda d: GraphSAINTEdgeSampler(d, 20, seed=0),
    "rw": lambda d: GraphSAINTRandomWalkSampler(
        d, 12, walk_length=2, sample_coverage=40000, seed=0
    ),
}
SIZES = [200, 800, 3200]


@pytest.mark.parametrize("method", list(SAMPLERS))
def test_estimate_of_gcn_aggregation_falls_like_one_over_sqrt_s(method):
    data = _graph()
    sampler = SAMPLERS[method](data)
    exact = _exact(data)
    ys, _, _ = draw_estimates(sampler, data, SIZES[-1])
    rows = error_band(ys, exact, SIZES)
    report = ", ".join(
        f"S={r['S']}: rel err {r['rel_err']:.4f}, ratio {r['ratio']:.2f}" for r in rows
    )
    report = f"{method}: {report} (band {rows[0]['lo']:.2f}-{rows[0]['hi']:.2f})"
    for r in rows:
        assert r["lo"] < r["ratio"] < r["hi"], report
    # So the error at 16 S is about a quarter of the error at S.
    assert rows[-1]["rel_err"] < 0.5 * rows[0]["rel_err"], report


@pytest.mark.parametrize("method", list(SAMPLERS))
def test_conditional_estimate_is_unbiased_per_node(method):
    """Zeng et al., Proposition 3.1: E[zeta_v | v in G_s] = (ÂX)_v, node by node."""
    data = _graph()
    sampler = SAMPLERS[method](data)
    exact = _exact(data)
    _, zs, hit = draw_estimates(sampler, data, 3000)
    hits = hit.sum(0).double()
    ok = hits >= 30
    mean = zs.sum(0)[ok] / hits[ok]
    var = (zs.pow(2).sum(0)[ok] / hits[ok] - mean.pow(2)).clamp(min=1e-30)
    z = (mean - exact[ok]) / (var / hits[ok]).sqrt()
    assert int(ok.sum()) > 100
    assert float(z.abs().max()) < Z, (method, float(z.abs().max()))


def test_the_band_catches_a_biased_estimator():
    """The checks can fail: the old batch (1/alpha as a multiplier that the GCN then
    renormalises inside the subgraph) is caught."""
    data = _graph()
    sampler = GraphSAINTNodeSampler(data, 40, final_weights=False, seed=0)
    assert not sampler.sample().blocks[0].weights_final
    ys, _, _ = draw_estimates(sampler, data, 1000)
    rows = error_band(ys, _exact(data), [250, 1000])
    assert rows[-1]["ratio"] > rows[-1]["hi"], rows
