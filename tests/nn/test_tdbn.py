import pytest
import torch

from spikegraph.nn import TemporalBatchNorm


def currents(T=4, N=20, F=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    scale = torch.rand(F, generator=gen, dtype=torch.float64) * 3 + 0.1
    return torch.randn(T, N, F, generator=gen, dtype=torch.float64) * scale + 2


@pytest.mark.parametrize("alpha, v_th", [(1.0, 1.0), (0.5, 2.0)])
def test_training_statistics_per_feature_over_time_and_nodes(alpha, v_th):
    x = currents()
    bn = TemporalBatchNorm(5, alpha=alpha, v_threshold=v_th).double()
    out = bn(x)
    assert out.shape == x.shape
    flat_in, flat = x.reshape(-1, 5), out.reshape(-1, 5)
    torch.testing.assert_close(
        flat.mean(0), torch.zeros(5, dtype=torch.float64), atol=1e-10, rtol=0
    )
    var_in = flat_in.var(0, unbiased=False)
    expected = (alpha * v_th) ** 2 * var_in / (var_in + bn.eps)
    torch.testing.assert_close(flat.var(0, unbiased=False), expected, rtol=1e-8, atol=0)


def test_equals_torch_batchnorm_on_flattened_input():
    x = currents()
    bn = TemporalBatchNorm(5, alpha=2.0, v_threshold=0.5).double()
    ref = torch.nn.BatchNorm1d(5).double()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
        ref.weight.copy_(bn.weight * 1.0)  # alpha * v_th = 1
        ref.bias.copy_(bn.bias)
    for _ in range(3):  # running statistics follow the same updates
        torch.testing.assert_close(bn(x), ref(x.reshape(-1, 5)).view_as(x))
    torch.testing.assert_close(bn.running_mean, ref.running_mean)
    torch.testing.assert_close(bn.running_var, ref.running_var)
    bn.eval()
    ref.eval()
    x2 = currents(seed=1)
    torch.testing.assert_close(bn(x2), ref(x2.reshape(-1, 5)).view_as(x2))


def test_static_input():
    x = currents()[0]
    bn = TemporalBatchNorm(5).double()
    out = bn(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out.mean(0), torch.zeros(5, dtype=torch.float64), atol=1e-10, rtol=0)


def test_reset_parameters():
    bn = TemporalBatchNorm(5)
    bn(currents().float())
    assert not torch.equal(bn.running_mean, torch.zeros(5))
    bn.reset_parameters()
    assert torch.equal(bn.running_mean, torch.zeros(5))
    assert torch.equal(bn.running_var, torch.ones(5))


def test_repr():
    assert repr(TemporalBatchNorm(5)) == "TemporalBatchNorm(5, alpha=1.0, v_threshold=1.0)"


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"alpha": 0.0}, r"'alpha' must be finite and > 0, got 0.0"),
        ({"v_threshold": -2.0}, r"'v_threshold' must be finite and > 0, got -2.0"),
        ({"eps": -1e-5}, r"'eps' must be finite and > 0, got -1e-05"),
    ],
)
def test_bad_parameters(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        TemporalBatchNorm(4, **kwargs)


def test_a_static_input_counts_its_rows_in_the_running_variance():
    """The documented convention (docs/spiking.md): a static ``[N, C]`` updates the running
    variance with the unbiased estimate of its ``N`` rows, not of the ``T * N`` samples of
    the same input repeated over ``T`` steps; the training outputs of the two are equal."""
    x = currents(N=5)[0]
    static, repeated = TemporalBatchNorm(5).double(), TemporalBatchNorm(5).double()
    out, ref = static(x), repeated(x.expand(8, *x.shape))
    torch.testing.assert_close(out.expand(8, *x.shape), ref, rtol=1e-12, atol=1e-12)
    m = static.momentum
    for bn, n in ((static, 5), (repeated, 40)):
        want = (1 - m) + m * x.var(dim=0, unbiased=False) * n / (n - 1)
        torch.testing.assert_close(bn.running_var, want, rtol=1e-12, atol=0)
