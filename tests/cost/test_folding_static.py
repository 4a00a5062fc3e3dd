"""What folding STFN into thresholds costs on a static current (direct coding, ``T' = 1``),
as docs/counting-conventions.md states it: with the affine it saves no MACs and adds the
offsets' ``M`` ACs; without it, it trades ``M - 2N`` MACs for ``M`` ACs (audit D7: the page
said folding there "saves nothing: the thresholds cost as much as the normalisation pass")."""

import pytest
import torch

from spikegraph.cost import count
from spikegraph.cost.rules import stfn_ops
from spikegraph.models import build_model

N, C = 7, 5
M = N * C


@pytest.mark.parametrize("static", [True, False])
def test_stfn_ops_folded_and_unfolded(static):
    x = torch.zeros((N, C) if static else (4, N, C))
    m = x.numel()
    unfolded, folded = stfn_ops(x, affine=True, fold=False), stfn_ops(x, affine=True, fold=True)
    assert (unfolded.acs, unfolded.macs) == (2 * m, 3 * m + N)
    assert (folded.acs, folded.macs) == (3 * m, m + N + 2 * N * C)
    if static:  # the thresholds and offsets cost as many MACs as scaling and affine, plus M ACs
        assert folded.macs == unfolded.macs and folded.acs == unfolded.acs + M
    else:  # over T steps, the per-node-and-feature thresholds are cheaper than the pass
        assert folded.macs < unfolded.macs
    bare, bare_folded = stfn_ops(x, affine=False, fold=False), stfn_ops(x, affine=False, fold=True)
    assert bare_folded.acs - bare.acs == m and bare.macs - bare_folded.macs == m - 2 * N


def test_a_static_input_model_pays_the_offsets_when_folded():
    torch.manual_seed(0)
    edges = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 4, 4, 5], [1, 0, 2, 1, 3, 2, 4, 3, 5, 4]])
    x = (torch.rand(6, 5) < 0.5).float()
    model = build_model("stfn-sgcn", 5, 2, hidden_channels=4, T=4).eval()
    a = count(model, x, edges, static_input="once")
    b = count(model, x, edges, static_input="once", fold_norm=True)
    (na,), (nb,) = a.select(kind="norm"), b.select(kind="norm")
    entries = 6 * 4  # the first layer's static current: nodes x hidden
    assert nb.macs == na.macs and nb.acs == na.acs + entries
    assert nb.energy_pj > na.energy_pj
