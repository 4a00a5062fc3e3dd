"""Every sampler of the zoo and every model train end to end on OGB-format data (a small
products-like graph written by :func:`~spikegraph.datasets.synthetic.make_dataset`, read by
ogb's own loader) with layer-wise evaluation, and are scored by OGB's ``Evaluator``: what
``spikegraph train --dataset ogbn-products --sampler S --eval layerwise`` runs at full size
(``benchmarks/scale.py``)."""

from __future__ import annotations

import math

import pytest

from spikegraph.datasets.synthetic import make_dataset
from spikegraph.experiments import run_node_classification
from spikegraph.models import MODELS
from spikegraph.samplers import SAMPLERS

#: Sizes that fit a graph of a few thousand nodes (the class defaults are sized for PubMed).
SMALL = {
    "cluster-gcn": {"num_parts": 20, "clusters_per_batch": 4},
    "graphsaint-node": {"budget": 600},
    "graphsaint-edge": {"budget": 400},
    "graphsaint-rw": {"num_roots": 150},
    "ripple": {"subgraph_size": 500},
    "fastgcn": {"layer_sizes": [400, 400]},
    "ladies": {"layer_sizes": [128, 128]},
    "asgcn": {"layer_sizes": [400, 400]},
    "shadow": {"depth": 2, "num_neighbors": [3, 2]},
}
TINY = {"hidden_channels": 8, "T": 2}


@pytest.fixture(scope="module")
def products_like(tmp_path_factory):
    root = tmp_path_factory.mktemp("products-like")
    made = make_dataset("ogbn-products", root, seed=0, scale=0.0015, progress=False)
    return root, made


def train(root, model: str, sampler: str, monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "cache"))
    # PyG's GCN and GAT have no time steps
    options = {"hidden_channels": 8} if model in ("gcn", "gat") else dict(TINY)
    return run_node_classification(
        "ogbn-products",
        model,
        seeds=[0],
        root=str(root),
        model_options=options,
        train_options={"epochs": 1, "patience": None, "progress": False},
        sampler=sampler,
        sampler_options=SMALL.get(sampler),
        # seeds per batch where the sampler takes seeds (subgraph samplers size their own)
        batch_size=None if SAMPLERS[sampler].default_batch_size is None else 128,
        evaluation="layerwise",
        eval_batch_size=1000,
    )


def check(summary, made) -> None:
    (run,) = summary.runs
    assert run.metric == "ogb_scores('ogbn-products')"  # scored by OGB's Evaluator
    assert run.data_provenance is not None and run.data_provenance["label"] == made.label
    assert run.evaluation == "layerwise"
    for value in (run.result.test_acc, run.result.val_acc, run.result.train_acc):
        assert math.isfinite(value) and 0.0 <= value <= 1.0
    assert run.result.epochs_run == 1 and run.batches_per_epoch >= 1


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("model", ["sgcn", "gcn"])
def test_every_sampler_trains_and_scores_on_ogb_format_data(
    products_like, sampler, model, monkeypatch, tmp_path
):
    root, made = products_like
    summary = train(root, model, sampler, monkeypatch, tmp_path)
    check(summary, made)
    assert summary.runs[0].sampler == sampler


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_trains_and_scores_on_ogb_format_data(
    products_like, model, monkeypatch, tmp_path
):
    root, made = products_like
    check(train(root, model, "graphsage", monkeypatch, tmp_path), made)
