"""Sparse (CSR) first-layer input only where torch can multiply it: float32 and float64.

torch has no sparse CSR matrix product for float16 or bfloat16 on the CPU
(``addmm_out_sparse_csr_impl_mkl`` is not implemented for them), so a half-precision model
fed bag-of-words features takes the dense path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from spikegraph.models import SpikingGAT, SpikingGCN

N, F_IN, C = 60, 120, 3


def _data(seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(N, F_IN, generator=gen) < 0.05).float()  # 5% nonzero: CSR by default
    ei = torch.randint(0, N, (2, 240), generator=gen)
    y = torch.randint(0, C, (N,), generator=gen)
    return x, ei, y


def _pair(cls, dtype, sparse_input=None):
    torch.manual_seed(0)
    kw = dict(T=4, dropout=0.0, input_dropout=0.0)
    model = cls(F_IN, 16, 2, C, sparse_input=sparse_input, **kw).to(dtype)
    dense = cls(F_IN, 16, 2, C, sparse_input=False, **kw).to(dtype)
    dense.load_state_dict(model.state_dict())
    return model, dense


@pytest.mark.parametrize("cls", [SpikingGCN, SpikingGAT])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_model_on_bag_of_words_equals_the_dense_path(cls, dtype):
    x, ei, y = _data()
    model, dense = _pair(cls, dtype)
    grads = []
    outs = []
    for m in (model, dense):
        m.train()
        out = m(x.to(dtype), ei)
        F.cross_entropy(out.float(), y).backward()
        assert out.dtype == dtype
        outs.append(out.detach())
        grads.append([p.grad for p in m.parameters()])
        m.eval()
        with torch.no_grad():
            outs.append(m(x.to(dtype), ei))
    torch.testing.assert_close(outs[0], outs[2])  # training, default tolerance of the dtype
    torch.testing.assert_close(outs[1], outs[3])  # evaluation
    for g, h in zip(*grads):
        torch.testing.assert_close(g, h)
    # The dense input was taken (nothing sparse kept for the features).
    assert model._static_cache is not None and model._static_cache[1] is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float32_and_float64_keep_the_sparse_path(dtype):
    x, ei, _ = _data()
    model, dense = _pair(SpikingGCN, dtype)
    model.eval(), dense.eval()
    out = model(x.to(dtype), ei)
    assert model._static_cache[1] is not None
    assert model._static_cache[1].layout == torch.sparse_csr
    torch.testing.assert_close(out, dense(x.to(dtype), ei))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_sparse_input_true_in_half_precision_is_a_clear_error(dtype):
    x, ei, _ = _data()
    model, _ = _pair(SpikingGCN, dtype, sparse_input=True)
    with pytest.raises(ValueError, match=rf"sparse_input=True.*{dtype}.*float32 or float64"):
        model(x.to(dtype), ei)
