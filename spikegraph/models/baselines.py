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

from spikegraph._validation import check_probability


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
    ``input_dropout``, the paper's dropout on the input features (see the module docstring).

    Example:
        >>> model = GAT(1433, 64, num_layers=2, out_channels=7, heads=8, input_dropout=0.6)
    """


__all__ = ["GAT", "GCN", "InputDropout"]
