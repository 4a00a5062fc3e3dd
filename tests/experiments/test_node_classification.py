"""spikegraph.experiments.node_classification: what a caller of run_node_classification
receives after each seed's run (on_run)."""

from __future__ import annotations

import pytest
import torch

from spikegraph.experiments import TrainedRun, node_classification, run_node_classification
from spikegraph.train.minibatch import MinibatchStep
from tests.conftest import synthetic_node_data


@pytest.fixture
def toy(monkeypatch):
    data = synthetic_node_data(num_nodes=40, num_features=8, num_classes=2, seed=1)
    monkeypatch.setattr(
        node_classification, "load_dataset", lambda name, root=None, split="public": (data, 2)
    )
    return data


@pytest.mark.parametrize("sampler", [None, "graphsage"])
def test_on_run_gets_each_seeds_trained_model_and_initial_weights(toy, sampler):
    runs: list[TrainedRun] = []
    summary = run_node_classification(
        "Cora",
        "gcn",
        seeds=[0, 1],
        model_options={"hidden_channels": 8},
        train_options={"epochs": 3, "progress": False},
        sampler=sampler,
        batch_size=8 if sampler else None,
        on_run=runs.append,
    )
    assert [r.record for r in runs] == summary.runs
    for run in runs:
        torch.manual_seed(run.record.seed)  # the weights run_node_classification starts from
        fresh = node_classification.build_model("gcn", 8, 2, hidden_channels=8).state_dict()
        assert all(torch.equal(fresh[k], v) for k, v in run.initial_state.items())
        trained = run.model.state_dict()
        assert not all(torch.equal(trained[k], v) for k, v in run.initial_state.items())
        assert run.data is toy
        if sampler is None:
            assert run.setup is None and not isinstance(run.step, MinibatchStep)
        else:
            assert run.setup.name == sampler and isinstance(run.step, MinibatchStep)
            assert run.step.loader is run.setup.loader and run.step.sample_time > 0
