import pytest
import torch

from spikegraph.nn.dropout import temporal_dropout


def test_one_mask_for_all_time_steps():
    torch.manual_seed(0)
    x = torch.ones(6, 40, 30)
    out = temporal_dropout(x, 0.5)
    assert torch.equal(out, out[0].expand_as(out))  # every step dropped alike
    assert set(out.unique().tolist()) == {0.0, 2.0}  # survivors scaled by 1 / (1 - p)


def test_static_input_is_plain_dropout_with_the_same_draws():
    x = torch.randn(50, 30)
    for p in (0.2, 0.5, 0.6):
        for dtype in (torch.float32, torch.float64, torch.float16):
            xd = x.to(dtype)
            torch.manual_seed(3)
            out = temporal_dropout(xd, p)
            torch.manual_seed(3)
            keep = torch.rand(50, 30) >= p
            assert out.dtype == dtype
            assert torch.equal(out, xd * (keep.to(dtype) * (1.0 / (1.0 - p))))


def test_keep_rate_matches_p():
    torch.manual_seed(1)
    n, p = 200_000, 0.3
    kept = (temporal_dropout(torch.ones(n, 1), p) != 0).double().mean().item()
    assert abs(kept - (1 - p)) < 5 * (p * (1 - p) / n) ** 0.5


def test_identity_when_not_training_or_p_zero():
    x = torch.randn(3, 5, 4)
    assert temporal_dropout(x, 0.5, training=False) is x
    assert temporal_dropout(x, 0.0) is x


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_bad_p(p):
    with pytest.raises(ValueError, match=rf"'p' must be in \[0, 1\), got {p}"):
        temporal_dropout(torch.ones(2, 2), p)


def test_sparse_csr_input_drops_stored_entries_only():
    torch.manual_seed(2)
    dense = (torch.rand(100, 80) < 0.1).float()
    out = temporal_dropout(dense.to_sparse_csr(), 0.5)
    assert out.layout == torch.sparse_csr
    assert torch.equal(out.col_indices(), dense.to_sparse_csr().col_indices())
    values = out.values()
    assert set(values.unique().tolist()) <= {0.0, 2.0} and (values == 0).any()


def test_gradient_flows_through_survivors():
    torch.manual_seed(4)
    x = torch.randn(4, 20, 10, requires_grad=True)
    temporal_dropout(x, 0.5).sum().backward()
    mask = x.grad[0] != 0
    assert torch.equal(x.grad, (mask.float() * 2.0).expand_as(x))
