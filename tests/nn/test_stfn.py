import pytest
import torch

from spikegraph.nn import STFN, stfn


def spike_currents(T=5, N=7, F=6, seed=0):
    """Currents with a different scale and offset per node, in float64."""
    gen = torch.Generator().manual_seed(seed)
    scale = torch.rand(1, N, 1, generator=gen, dtype=torch.float64) * 5 + 0.01
    shift = torch.randn(1, N, 1, generator=gen, dtype=torch.float64) * 3
    return torch.randn(T, N, F, generator=gen, dtype=torch.float64) * scale + shift


def per_node_stats(y):
    """Mean and (biased) variance per node over time and features, by reshaping."""
    flat = y if y.dim() == 2 else y.permute(1, 0, 2).reshape(y.size(1), -1)
    return flat.mean(dim=1), flat.var(dim=1, unbiased=False)


@pytest.mark.parametrize("rho, v_th", [(1.0, 1.0), (0.5, 2.0), (3.0, 0.25)])
@pytest.mark.parametrize("static", [False, True])
def test_per_node_mean_zero_and_variance_rho_vth_squared(rho, v_th, static):
    eps = 1e-5
    x = spike_currents()
    if static:
        x = x[0]
    _, var_in = per_node_stats(x)
    for out in (stfn(x, rho, v_th, eps), STFN(x.size(-1), rho, v_th, eps)(x)):
        assert out.shape == x.shape
        mean, var = per_node_stats(out)
        torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-12, rtol=0)
        # Exactly (rho v_th)^2 shrunk by eps: var / (var + eps).
        expected = (rho * v_th) ** 2 * var_in / (var_in + eps)
        torch.testing.assert_close(var, expected, rtol=1e-10, atol=0)
        torch.testing.assert_close(var, torch.full_like(var, (rho * v_th) ** 2), rtol=1e-3, atol=0)


def test_statistics_pool_time_and_features_not_each_step():
    # A node whose mean moves over time: per-step normalisation would zero each step's mean.
    x = torch.zeros(4, 1, 3, dtype=torch.float64)
    x[:, 0] = torch.arange(4, dtype=torch.float64).view(4, 1) + torch.tensor([0.0, 0.1, 0.2])
    out = stfn(x)
    assert out[:, 0].mean(dim=1).abs().min() > 0.1
    assert out.mean().abs() < 1e-12


def test_static_input_equals_input_repeated_over_time():
    x = spike_currents()[0]
    mod = STFN(x.size(-1), rho=0.7, v_threshold=1.5)
    with torch.no_grad():
        mod.weight.uniform_(0.5, 2)
        mod.bias.uniform_(-1, 1)
    rep = x.unsqueeze(0).expand(5, *x.shape)
    for f in (lambda z: stfn(z, 0.7, 1.5), mod):
        static, repeated = f(x), f(rep)
        for t in range(5):
            torch.testing.assert_close(repeated[t], static, rtol=1e-12, atol=1e-12)


def test_affine_is_per_feature():
    x = spike_currents()
    mod = STFN(x.size(-1), rho=2.0)
    with torch.no_grad():
        mod.weight.copy_(torch.arange(1.0, 7.0))
        mod.bias.copy_(torch.linspace(-1, 1, 6))
    torch.testing.assert_close(mod(x), stfn(x, 2.0) * mod.weight + mod.bias)


def test_no_affine_has_no_parameters():
    mod = STFN(6, affine=False)
    assert list(mod.parameters()) == []
    x = spike_currents()
    torch.testing.assert_close(mod(x), stfn(x))


def test_nodes_are_independent_and_train_equals_eval():
    x = spike_currents()
    mod = STFN(6)
    y = mod(x)
    x2 = x.clone()
    x2[:, 3] = x2[:, 3] * 100 + 7
    y2 = mod(x2)
    keep = [i for i in range(7) if i != 3]
    torch.testing.assert_close(y[:, keep], y2[:, keep], rtol=0, atol=0)
    mod.eval()
    torch.testing.assert_close(mod(x), y, rtol=0, atol=0)


def test_gradients_reach_affine_parameters():
    x = spike_currents().float().requires_grad_()
    mod = STFN(6)
    (mod(x) * torch.randn(5, 7, 6)).sum().backward()
    for p in (mod.weight, mod.bias, x):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_repr():
    assert repr(STFN(16)) == "STFN(16, rho=1.0, v_threshold=1.0)"
    assert repr(STFN(3, rho=2, v_threshold=0.5)) == "STFN(3, rho=2.0, v_threshold=0.5)"


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"rho": 0.0}, r"'rho' must be finite and > 0, got 0.0"),
        ({"v_threshold": -1.0}, r"'v_threshold' must be finite and > 0, got -1.0"),
        ({"eps": 0.0}, r"'eps' must be finite and > 0, got 0.0"),
    ],
)
def test_bad_parameters(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        STFN(4, **kwargs)
