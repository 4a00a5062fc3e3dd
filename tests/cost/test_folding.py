"""STFN folded into thresholds gives the same spikes as STFN followed by LIF neurons."""

import pytest
import torch

from spikegraph.cost import fold_stfn, folded_lif
from spikegraph.nn import LIF, STFN

T, N, C = 6, 40, 5


def _stfn(v_threshold: float, affine: bool = True) -> STFN:
    norm = STFN(C, rho=1.5, v_threshold=v_threshold, affine=affine).double()
    if affine:
        with torch.no_grad():
            norm.weight.copy_(torch.tensor([1.0, -0.7, 2.0, 0.3, -1.4], dtype=torch.float64))
            norm.bias.copy_(torch.tensor([0.2, 0.5, -0.3, 0.8, 0.0], dtype=torch.float64))
    return norm


@pytest.mark.parametrize("reset", ["hard", "soft", "none"])
@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("affine", [True, False])
def test_folded_neurons_spike_like_stfn_then_lif(reset, static, affine):
    gen = torch.Generator().manual_seed(0)
    shape = (N, C) if static else (T, N, C)
    current = torch.randn(shape, generator=gen, dtype=torch.float64) * 3 + 1
    v_th, v_reset = 0.8, -0.1
    norm = _stfn(v_th, affine)
    lif = LIF(tau=2.0, v_threshold=v_th, v_reset=v_reset, reset=reset)
    with torch.no_grad():
        y = norm(current)
        if static:
            y = y.expand(T, N, C)
        reference = lif(y)
        folded = fold_stfn(current, norm)
        spikes = folded_lif(current, folded, lif.decay, v_reset, reset, steps=T if static else None)
    assert 0 < int(reference.sum()) < reference.numel()  # the check is not vacuous
    assert torch.equal(spikes, reference)
    assert folded.threshold.shape == (N, C)


def test_fold_rejects_zero_scale():
    norm = _stfn(1.0)
    with torch.no_grad():
        norm.weight[3] = 0.0
    with pytest.raises(ValueError, match="lambda is 0 at feature 3"):
        fold_stfn(torch.randn(T, N, C, dtype=torch.float64), norm)


def test_folded_lif_rejects_unknown_reset():
    current = torch.randn(T, N, C, dtype=torch.float64)
    folded = fold_stfn(current, _stfn(1.0))
    with pytest.raises(ValueError, match="Unknown reset 'zero'"):
        folded_lif(current, folded, 0.5, reset="zero")
