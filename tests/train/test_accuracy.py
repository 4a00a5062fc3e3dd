"""The accuracy the trainer reports, against scikit-learn's (a test-only reference)."""

import pytest
import torch
from sklearn.metrics import accuracy_score

from spikegraph.train.trainer import accuracies


def test_accuracies_equal_scikit_learns(node_data):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(node_data.num_nodes, 2, generator=gen)
    out = accuracies(logits, node_data)
    pred = logits.argmax(-1)
    for split in ("train", "val", "test"):
        mask = node_data[f"{split}_mask"]
        assert out[split] == pytest.approx(accuracy_score(node_data.y[mask], pred[mask]))
        assert isinstance(out[split], float)


def test_empty_mask_is_an_error_naming_it(node_data):
    node_data.val_mask[:] = False
    with pytest.raises(ValueError, match="val_mask selects no node"):
        accuracies(torch.zeros(node_data.num_nodes, 2), node_data)
