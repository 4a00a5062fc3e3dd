r"""Surrogate gradients for the Heaviside spike function.

The forward pass of every surrogate is the exact Heaviside step :math:`H(x) = [x \ge 0]`
applied to :math:`x = V - V_{th}`; the backward pass replaces the Dirac delta by the
derivative of a smooth (or piecewise-linear) primitive :math:`g` with :math:`g(-\infty)=0`,
:math:`g(\infty)=1`. This is spatio-temporal backpropagation (STBP, Wu et al., "Spatio-Temporal
Backpropagation for Training High-Performance Spiking Neural Networks", Frontiers in
Neuroscience 2018), the training method of GC-SNN / GA-SNN (Xu et al., IJCAI 2021), which
use the rectangular window.

Each surrogate is a small picklable :class:`torch.nn.Module` with ``primitive(x)`` (the smooth
:math:`g`, differentiable by autograd) and one definition of its derivative, the static
``formula(u, alpha)``: :math:`g'` for one value, written with arithmetic and the pointwise
helpers :func:`exp`, :func:`step` and :func:`relu` only, so that the same function runs on
tensors (``derivative(x)``, the autograd backward pass) and compiled by numba inside the CPU
kernels (:mod:`spikegraph.nn._lif_kernels` gives the helpers their numba versions). Tests
check ``derivative`` against autograd of ``primitive``.

A subclass registers itself by name (``class Gauss(Surrogate, name="gauss")``) in
:data:`SURROGATES`, which layers, models and the CLI read; a class statement with a name is
refused when the class defines no ``formula`` (:attr:`Surrogate.required_methods`), the one
method that training runs (``primitive`` is what tests check ``formula`` against).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from spikegraph._validation import check_choice, check_positive
from spikegraph.nn.registry import Registered, Registry

#: Name -> surrogate class; filled by :meth:`Surrogate.__init_subclass__`.
SURROGATES: Registry = Registry("surrogate")


def exp(x):
    """Elementwise :math:`e^x` (numba: ``math.exp``)."""
    return torch.exp(x)


def step(x):
    """Heaviside step :math:`[x > 0]` in the dtype of ``x`` (numba: a branch)."""
    return (x > 0).to(x.dtype)


def relu(x):
    """:math:`\\max(x, 0)` (numba: ``max``)."""
    return torch.clamp(x, min=0.0)


class _SpikeFunction(torch.autograd.Function):
    """Heaviside forward, ``surrogate.derivative`` backward."""

    @staticmethod
    def forward(ctx, x: Tensor, surrogate: Surrogate) -> Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None


class Surrogate(Registered, nn.Module):
    """Base class: Heaviside in the forward pass, :meth:`derivative` in the backward pass.

    Args:
        alpha: Sharpness (sigmoid, arctan) or inverse width (rectangular, triangle) of the
            surrogate. Larger values approach the true step function.
    """

    registry = SURROGATES
    #: What a registered surrogate implements (checked when it registers): the backward
    #: pass and the compiled kernels run its :meth:`formula`.
    required_methods = ("formula",)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = check_positive(alpha, "alpha")

    def forward(self, x: Tensor) -> Tensor:
        """Return exact spikes ``(x >= 0)``; gradients flow through :meth:`derivative`."""
        if x.requires_grad and torch.is_grad_enabled():
            return _SpikeFunction.apply(x, self)
        return (x >= 0).to(x.dtype)

    def primitive(self, x: Tensor) -> Tensor:
        """The smooth function whose derivative is the surrogate gradient."""
        raise NotImplementedError(_lacks(type(self), "primitive"))

    @staticmethod
    def formula(u, alpha):
        """The derivative :math:`g'(u)` of :meth:`primitive` at sharpness ``alpha``, for a
        tensor or (compiled by numba) one float; arithmetic and :func:`exp`, :func:`step`,
        :func:`relu` only."""
        raise NotImplementedError(_lacks(Surrogate, "formula"))

    def derivative(self, x: Tensor) -> Tensor:
        """Hand-written derivative of :meth:`primitive`: :meth:`formula` on a tensor."""
        if type(self).formula is Surrogate.formula:
            raise NotImplementedError(_lacks(type(self), "formula"))
        return self.formula(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Rectangular(Surrogate, name="rectangular"):
    r"""Rectangular window of width :math:`a = 1/\alpha` and unit area (STBP, Wu et al. 2018).

    .. math::
        g'(x) = \alpha \, [\,|x| < \tfrac{1}{2\alpha}\,], \qquad
        g(x) = \mathrm{clamp}(\alpha x + \tfrac12, 0, 1)

    With the default ``alpha=1`` the gradient is 1 inside ``|V - V_th| < 0.5``, the window of
    the STBP reference code used by GC-SNN.
    """

    def primitive(self, x: Tensor) -> Tensor:
        return torch.clamp(self.alpha * x + 0.5, 0.0, 1.0)

    @staticmethod
    def formula(u, alpha):
        return alpha * step(0.5 / alpha - abs(u))


class Sigmoid(Surrogate, name="sigmoid"):
    r"""Sigmoid surrogate (Zenke & Ganguli, "SuperSpike", 2018; spikingjelly's default).

    .. math::
        g(x) = \sigma(\alpha x), \qquad g'(x) = \alpha\, \sigma(\alpha x)(1 - \sigma(\alpha x))
    """

    def __init__(self, alpha: float = 4.0) -> None:
        super().__init__(alpha)

    def primitive(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.alpha * x)

    @staticmethod
    def formula(u, alpha):
        s = 1.0 / (1.0 + exp(-alpha * u))
        return alpha * s * (1.0 - s)


class ArcTan(Surrogate, name="arctan"):
    r"""Arctangent surrogate (Fang et al., "Incorporating Learnable Membrane Time Constant", 2021).

    .. math::
        g(x) = \tfrac{1}{\pi}\arctan(\tfrac{\pi}{2}\alpha x) + \tfrac12, \qquad
        g'(x) = \frac{\alpha / 2}{1 + (\tfrac{\pi}{2}\alpha x)^2}
    """

    def __init__(self, alpha: float = 2.0) -> None:
        super().__init__(alpha)

    def primitive(self, x: Tensor) -> Tensor:
        return torch.atan(0.5 * math.pi * self.alpha * x) / math.pi + 0.5

    @staticmethod
    def formula(u, alpha):
        w = 0.5 * math.pi * alpha * u
        return (0.5 * alpha) / (1.0 + w * w)


class Triangle(Surrogate, name="triangle"):
    r"""Triangular surrogate (Esser et al., "Convolutional networks for fast, energy-efficient
    neuromorphic computing", PNAS 2016), half-width :math:`1/\alpha`.

    .. math::
        g'(x) = \alpha \max(0, 1 - \alpha |x|)

    and :math:`g` is its piecewise-quadratic integral.
    """

    def primitive(self, x: Tensor) -> Tensor:
        a = self.alpha
        y = torch.clamp(a * x, -1.0, 1.0)
        return torch.where(y < 0, 0.5 * (1.0 + y) ** 2, 1.0 - 0.5 * (1.0 - y) ** 2)

    @staticmethod
    def formula(u, alpha):
        return alpha * relu(1.0 - alpha * abs(u))


def _lacks(cls: type, method: str) -> str:
    """The message of a base-class stub reached for a surrogate class that lacks ``method``."""
    return (
        f"{cls.__qualname__} does not implement {method}, which every Surrogate must (a "
        "surrogate class registered with a name is checked for its formula)"
    )


def resolve_surrogate(surrogate: str | Surrogate, alpha: float | None = None) -> Surrogate:
    """Build a fresh surrogate from its name, or return the given instance.

    Args:
        surrogate: A name of :data:`SURROGATES` (``"rectangular"``, ``"sigmoid"``,
            ``"arctan"``, ``"triangle"``, ...) or a :class:`Surrogate` instance.
        alpha: Optional sharpness; the class default when ``None``.
    """
    if isinstance(surrogate, Surrogate):
        return surrogate
    if not isinstance(surrogate, str):
        raise TypeError(
            f"'surrogate' must be a name or a Surrogate, got {type(surrogate).__name__}"
        )
    cls = SURROGATES[check_choice(surrogate, tuple(SURROGATES), "surrogate")]
    return cls() if alpha is None else cls(alpha)
