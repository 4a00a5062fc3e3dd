import pickle

import pytest
import torch

from spikegraph.nn import LIF, ArcTan, Rectangular, Sigmoid, Surrogate, Triangle
from spikegraph.nn.surrogate import SURROGATES, resolve_surrogate

# Points where a primitive is not differentiable, as a function of alpha.
KINKS = {
    Rectangular: lambda a: [-0.5 / a, 0.5 / a],
    Sigmoid: lambda a: [],
    ArcTan: lambda a: [],
    Triangle: lambda a: [-1.0 / a, 0.0, 1.0 / a],
}


def smooth_points(cls: type[Surrogate], alpha: float, n: int = 2000) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, generator=gen, dtype=torch.float64) * (1.5 / alpha)
    for k in KINKS[cls](alpha):
        x = x[(x - k).abs() > 1e-6]
    return x


def test_registry_names_every_surrogate():
    registry = dict(SURROGATES)
    assert registry == {
        "rectangular": Rectangular,
        "sigmoid": Sigmoid,
        "arctan": ArcTan,
        "triangle": Triangle,
    }


@pytest.mark.parametrize("cls", [Rectangular, Sigmoid, ArcTan, Triangle])
@pytest.mark.parametrize("alpha", [None, 0.7, 3.0])
def test_derivative_equals_autograd_of_primitive(cls, alpha):
    sg = cls() if alpha is None else cls(alpha)
    x = smooth_points(cls, sg.alpha).requires_grad_()
    (auto,) = torch.autograd.grad(sg.primitive(x).sum(), x)
    torch.testing.assert_close(sg.derivative(x.detach()), auto, rtol=1e-12, atol=1e-12)
    # The points exercise the interesting part: some inside the support, some outside.
    assert (auto > 0).any()
    if cls in (Rectangular, Triangle):
        assert (auto == 0).any()


@pytest.mark.parametrize("cls", [Rectangular, Sigmoid, ArcTan, Triangle])
def test_primitive_goes_from_zero_to_one(cls):
    sg = cls()
    ends = sg.primitive(torch.tensor([-1e6, 1e6], dtype=torch.float64))
    expected = torch.tensor([0.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(ends, expected, atol=1e-5, rtol=0)
    # Monotone non-decreasing.
    grid = torch.linspace(-5, 5, 1001, dtype=torch.float64)
    assert (sg.primitive(grid).diff() >= 0).all()


@pytest.mark.parametrize("cls", [Rectangular, Sigmoid, ArcTan, Triangle])
def test_forward_is_exact_heaviside_and_backward_uses_derivative(cls):
    sg = cls(1.3)
    x = torch.tensor([-2.0, -0.3, -1e-7, 0.0, 1e-7, 0.3, 2.0], dtype=torch.float64)
    expected = torch.tensor([0, 0, 0, 1, 1, 1, 1], dtype=torch.float64)
    xg = x.clone().requires_grad_()
    out = sg(xg)
    assert torch.equal(out.detach(), expected)
    w = torch.arange(1.0, 8.0, dtype=torch.float64)
    (grad,) = torch.autograd.grad((out * w).sum(), xg)
    torch.testing.assert_close(grad, w * sg.derivative(x))
    with torch.no_grad():
        assert torch.equal(sg(xg), expected)
    assert torch.equal(sg(x), expected)


@pytest.mark.parametrize(
    "sg, text",
    [
        (Rectangular(), "Rectangular(alpha=1.0)"),
        (Sigmoid(), "Sigmoid(alpha=4.0)"),
        (ArcTan(), "ArcTan(alpha=2.0)"),
        (Triangle(0.5), "Triangle(alpha=0.5)"),
    ],
)
def test_repr(sg, text):
    assert repr(sg) == text


@pytest.mark.parametrize("name", list(SURROGATES))
def test_picklable(name):
    sg = resolve_surrogate(name, 2.5)
    back = pickle.loads(pickle.dumps(sg))
    assert type(back) is type(sg) and back.alpha == 2.5
    x = torch.linspace(-1, 1, 11)
    assert torch.equal(back.derivative(x), sg.derivative(x))


def test_resolve_builds_fresh_instances_and_keeps_given_ones():
    a, b = resolve_surrogate("sigmoid"), resolve_surrogate("sigmoid")
    assert a is not b and a.alpha == 4.0
    given = ArcTan(5.0)
    assert resolve_surrogate(given) is given
    assert LIF().surrogate is not LIF().surrogate


def test_unknown_surrogate():
    msg = r"Unknown surrogate 'gauss'; expected one of \['rectangular', 'sigmoid'"
    with pytest.raises(ValueError, match=msg):
        resolve_surrogate("gauss")
    with pytest.raises(ValueError, match="Unknown surrogate 'gauss'"):
        LIF(surrogate="gauss")


def test_surrogate_of_wrong_type():
    with pytest.raises(TypeError, match="'surrogate' must be a name or a Surrogate, got int"):
        resolve_surrogate(3)


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan"), float("inf")])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match=r"'alpha' must be finite and > 0, got"):
        Sigmoid(alpha)


def test_alpha_of_wrong_type():
    with pytest.raises(TypeError, match=r"'alpha' must be a number, got str \('2'\)"):
        Rectangular("2")
