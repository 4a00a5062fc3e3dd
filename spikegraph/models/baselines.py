"""The ordinary baselines: PyG's ``GCN`` and ``GAT``, with their papers' input dropout.

Kipf & Welling (ICLR 2017) and Velickovic et al. (ICLR 2018) drop out the input of every
layer, the first one included (PyG's ``examples/gcn.py`` and ``examples/gat.py`` do the
same with ``F.dropout`` on ``x`` before the first convolution). PyG's ``BasicGNN`` models
drop out only between layers. The classes here are PyG's models with one option more,
``input_dropout``: dropout on the input features before the first layer, as the spiking
models have it (:class:`~spikegraph.models.basic.SpikingBasicGNN`), so that a search of the
baselines can tune the same regulariser as a search of the spiking models.

With ``input_dropout=0`` (the default) a model is PyG's, unchanged: the same parameters,
the same ``forward`` and the same random draws. They are subclasses of PyG's, so code that
checks ``isinstance(model, torch_geometric.nn.models.GCN)`` keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import models as pyg_models

from spikegraph._validation import check_channels, check_probability


class InputDropout:
    """Mixin for a PyG ``BasicGNN``: ``input_dropout`` on ``x`` before the first layer.

    Args:
        input_dropout: Drop probability of the input features, in ``[0, 1)``; applied in
            training only, with survivors scaled by ``1 / (1 - p)``
            (:func:`torch.nn.functional.dropout`).
    """

    #: Options that a run's record names only when they differ from these values (see
    #: :func:`~spikegraph.experiments.node_classification.effective_model_options`): a model
    #: without input dropout is PyG's, and records made before the option existed describe
    #: it as they are.
    recorded_when_set: ClassVar[Mapping[str, Any]] = MappingProxyType({"input_dropout": 0.0})

    def __init__(self, *args: Any, input_dropout: float = 0.0, **kwargs: Any) -> None:
        input_dropout = check_probability(input_dropout, "input_dropout")
        super().__init__(*args, **kwargs)
        self.input_dropout = input_dropout

    def drop_input(self, x: Tensor) -> Tensor:
        """``x`` with the input dropout applied (unchanged in evaluation, or when it is 0)."""
        if self.input_dropout == 0.0 or not self.training:
            return x  # no random draw: the model is PyG's
        return F.dropout(x, self.input_dropout, training=True)

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        """PyG's ``BasicGNN.forward`` on ``x`` after the input dropout."""
        return super().forward(self.drop_input(x), *args, **kwargs)

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.input_dropout:
            text = f"{text[:-1]}, input_dropout={self.input_dropout})"
        return text


class GCN(InputDropout, pyg_models.GCN):
    """PyG's :class:`torch_geometric.nn.models.GCN` (Kipf & Welling, ICLR 2017) with
    ``input_dropout``, the paper's dropout on the input features (see the module docstring).

    Example:
        >>> model = GCN(1433, 16, num_layers=2, out_channels=7, dropout=0.5, input_dropout=0.5)
    """


class GAT(InputDropout, pyg_models.GAT):
    """PyG's :class:`torch_geometric.nn.models.GAT` (Velickovic et al., ICLR 2018) with
    ``input_dropout``, the paper's dropout on the input features (see the module docstring),
    and ``out_heads``, the number of attention heads of the output layer.

    PyG's model gives its output layer ``heads`` heads and averages them. The paper's output
    layer has one head on Cora and CiteSeer and averages 8 on PubMed; PyG's
    ``examples/gat.py`` builds the single-head one. ``out_heads`` builds either.

    Args:
        out_heads: Heads of the output layer, averaged (it maps to ``out_channels``; with
            ``jk`` set there is no output convolution and it must stay ``None``). ``None``
            (the default): ``heads``, PyG's model unchanged.
        *args: :class:`torch_geometric.nn.models.GAT`'s positional arguments.
        **kwargs: Its keyword arguments, and ``input_dropout``.

    Example:
        >>> model = GAT(1433, 64, num_layers=2, out_channels=7, heads=8, input_dropout=0.6,
        ...             out_heads=1)
        >>> model.convs[-1].heads
        1
    """

    recorded_when_set: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {**InputDropout.recorded_when_set, "out_heads": None}
    )

    def __init__(self, *args: Any, out_heads: int | None = None, **kwargs: Any) -> None:
        if out_heads is not None:
            out_heads = check_channels(out_heads, "out_heads")
        # read by init_conv, which PyG's constructor calls (so set before it runs)
        object.__setattr__(self, "_out_heads", out_heads)
        super().__init__(*args, **kwargs)
        if out_heads is not None and not getattr(self, "_is_conv_to_out", False):
            raise ValueError(
                f"'out_heads'={out_heads} sets the heads of the output convolution, which "
                "GAT builds only with 'out_channels' given and 'jk' None"
            )
        self.out_heads = out_heads

    def init_conv(self, in_channels: Any, out_channels: int, **kwargs: Any) -> Any:
        """PyG's layer, with ``out_heads`` heads in the output layer when it is set."""
        if self._out_heads is not None and getattr(self, "_is_conv_to_out", False):
            kwargs["heads"] = self._out_heads
        return super().init_conv(in_channels, out_channels, **kwargs)

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.out_heads is not None:
            text = f"{text[:-1]}, out_heads={self.out_heads})"
        return text


__all__ = ["GAT", "GCN", "InputDropout"]
