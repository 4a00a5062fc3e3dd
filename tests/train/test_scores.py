"""OGB datasets are scored by OGB's own Evaluator: the record's accuracies are its numbers."""

from __future__ import annotations

import json

import pytest
import torch

from spikegraph.cli import main
from spikegraph.datasets.synthetic import make_dataset
from spikegraph.train import accuracies
from spikegraph.train.scores import make_scorer, ogb_scores


@pytest.fixture(scope="module")
def arxiv_like(tmp_path_factory):
    root = tmp_path_factory.mktemp("arxiv-like")
    make_dataset("ogbn-arxiv", root, seed=0, scale=0.005, progress=False)
    return root


def test_scorer_of_each_dataset():
    assert make_scorer("Cora") is accuracies
    assert make_scorer("OGBN-Products").__qualname__ == "ogb_scores('ogbn-products')"
    with pytest.raises(ValueError, match="ogbn-foo"):
        ogb_scores("ogbn-foo")


def test_record_accuracy_is_the_evaluators_number(arxiv_like, tmp_path, monkeypatch):
    import ogb.nodeproppred

    calls = []
    real = ogb.nodeproppred.Evaluator.eval

    def spy(self, input_dict):
        out = real(self, input_dict)
        n = input_dict["y_true"].shape[0]
        calls.append((self.name, n, out["acc"]))
        return {"acc": out["acc"] / 2 + 1e-3 * (n % 7)}  # a number only the Evaluator gives

    monkeypatch.setattr(ogb.nodeproppred.Evaluator, "eval", spy)
    out = tmp_path / "r.json"
    argv = ["train", "--dataset", "ogbn-arxiv", "--root", str(arxiv_like), "--epochs", "1"]
    argv += ["--hidden", "8", "--model", "gcn"]
    assert main([*argv, "--json", str(out), "--no-progress"]) == 0
    run = json.loads(out.read_text())["runs"][0]
    data_test = [c for c in calls if c[0] == "ogbn-arxiv"]
    assert data_test, "the Evaluator was never asked"
    _, n, acc = data_test[-1]  # the final scoring: train, val, test (test last)
    assert run["result"]["test_acc"] == pytest.approx(acc / 2 + 1e-3 * (n % 7), abs=0)
    for entry in run["result"]["history"]:  # every epoch's scores are the Evaluator's too
        assert entry["test"] != pytest.approx(0.0)
    assert run["metric"] == "ogb_scores('ogbn-arxiv')"
    assert run["peak_rss_mb"] > 10


def test_ogb_scores_equal_plain_accuracy_without_the_spy():
    torch.manual_seed(0)
    n = 40
    from torch_geometric.data import Data

    data = Data(y=torch.randint(0, 3, (n,)), num_nodes=n)
    for i, key in enumerate(("train_mask", "val_mask", "test_mask")):
        data[key] = torch.arange(n) % 3 == i
    logits = torch.randn(n, 3)
    assert ogb_scores("ogbn-arxiv")(logits, data) == pytest.approx(accuracies(logits, data))
