"""Normalisations of the synaptic current before the neurons, and their registry :data:`NORMS`.

A spiking layer (Xu et al., IJCAI 2021) may normalise its current before the neurons, where
PyG's ``BasicGNN`` applies its ``norm``: STFN (:mod:`spikegraph.nn.stfn`, the paper's) or tdBN
(:mod:`spikegraph.nn.tdbn`, the spiking counterpart of ``batch_norm``). Each is a subclass of
:class:`SpikingNorm` registered by name; ``"none"`` (:data:`NO_NORM`) means no normalisation.
"""

from __future__ import annotations

from torch import Tensor, nn

from spikegraph._validation import check_node_input, check_width
from spikegraph.nn.registry import Registered, Registry

#: Name -> normalisation class; filled by subclassing :class:`SpikingNorm` with a ``name``.
NORMS: Registry = Registry("norm")
#: The name that asks for no normalisation.
NO_NORM = "none"


class SpikingNorm(Registered, nn.Module):
    """Base class of the normalisations a spiking layer applies before its neurons."""

    registry = NORMS
    num_features: int

    def check_input(self, x: Tensor) -> Tensor:
        """Refuse an input that is not ``[N, C]`` or ``[T, N, C]`` with ``C`` the
        normalisation's ``num_features`` (tdBN's reshape would otherwise mix features of
        different rows without an error), naming its shape."""
        check_node_input(x)
        check_width(x, self.num_features, expects=f"{type(self).__name__} expects num_features")
        return x

    @classmethod
    def for_layer(cls, num_features: int, rho: float, v_threshold: float) -> SpikingNorm:
        """The normalisation of a layer of width ``num_features`` whose neurons fire at
        ``v_threshold``, scaled by the layer's ``rho`` (other options: the class's defaults)."""
        raise NotImplementedError  # pragma: no cover - abstract


def norm_names() -> tuple[str, ...]:
    """Every value a layer's ``norm`` takes: the registered names and ``"none"``."""
    return (*NORMS, NO_NORM)


def make_norm(
    norm: str | None, num_features: int, rho: float, v_threshold: float
) -> SpikingNorm | None:
    """Build the normalisation registered as ``norm``; ``None`` for ``"none"`` or ``None``.

    Raises:
        ValueError: for anything else, listing :func:`norm_names`.
    """
    norm = NO_NORM if norm is None else norm
    if not isinstance(norm, str) or norm not in norm_names():
        raise ValueError(
            f"Unknown norm {norm!r}; expected one of {list(norm_names())}. In spiking layers "
            "'norm' names the normalisation of the synaptic current before the neurons (where "
            "PyG's BasicGNN applies its norm); 'tdbn' is the spiking counterpart of "
            "'batch_norm', and other PyG norms or modules are not supported"
        )
    if norm == NO_NORM:
        return None
    return NORMS[norm].for_layer(num_features, rho, v_threshold)


# The normalisations register themselves when imported (after the base class exists).
from spikegraph.nn import stfn, tdbn  # noqa: E402, F401
