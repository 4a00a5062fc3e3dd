"""How a run's accuracies are computed: the plain fraction of correct arg-max predictions
(:func:`~spikegraph.train.trainer.accuracies`), or for OGB's datasets OGB's own
:class:`ogb.nodeproppred.Evaluator` (Hu et al., "Open Graph Benchmark: Datasets for Machine
Learning on Graphs", NeurIPS 2020), so a record's ``ogbn-*`` accuracy is the official metric.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from spikegraph.datasets.ogb import OGB_NODE, canonical_ogb_name, ogb_accuracy
from spikegraph.train.trainer import accuracies

Scorer = Callable[[Tensor, Data], dict[str, float]]


def ogb_scores(name: str) -> Scorer:
    """A scorer for :func:`~spikegraph.train.trainer.fit` on OGB dataset ``name``: train,
    validation and test accuracy from ``ogb.nodeproppred.Evaluator(name).eval`` (through
    :func:`~spikegraph.datasets.ogb.ogb_accuracy`), and the validation loss.

    Raises:
        ValueError: for a dataset that is not one of OGB's node datasets.
    """
    name = canonical_ogb_name(name)

    def score(logits: Tensor, data: Data) -> dict[str, float]:
        y_pred = logits.argmax(dim=-1)
        out = {}
        for split in ("train", "val", "test"):
            mask = getattr(data, f"{split}_mask")
            if not bool(mask.any()):
                raise ValueError(f"{split}_mask selects no node: its accuracy is undefined")
            out[split] = ogb_accuracy(name, data.y[mask], y_pred[mask])
        out["val_loss"] = float(F.cross_entropy(logits[data.val_mask], data.y[data.val_mask]))
        return out

    score.__qualname__ = f"ogb_scores({name!r})"
    return score


def make_scorer(dataset: str) -> Scorer:
    """The scorer of ``dataset``: :func:`ogb_scores` for ``ogbn-*`` (any case),
    :func:`~spikegraph.train.trainer.accuracies` for every other dataset."""
    if str(dataset).lower() in OGB_NODE:
        return ogb_scores(dataset)
    return accuracies


__all__ = ["Scorer", "make_scorer", "ogb_scores"]
