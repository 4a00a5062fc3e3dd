"""A model's reset_parameters() gives a fresh model: PyG's way of reusing one model for
several runs (``for run in range(R): model.reset_parameters(); train(...)``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from spikegraph.models import SpikingGAT, SpikingGCN


def _train(model, data, steps=3):
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(data.x, data.edge_index), data.y).backward()
        opt.step()


@pytest.mark.parametrize("cls", [SpikingGCN, SpikingGAT])
def test_every_run_of_a_reused_model_starts_from_the_same_state(node_data, cls):
    kwargs = dict(T=4, neuron="plif", tau=3.0, learn_threshold=True, per_feature=True)
    model = cls(node_data.num_features, 8, 3, 3, **kwargs)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    starts, ends = [], []
    for _run in range(2):
        torch.manual_seed(0)
        model.reset_parameters()
        starts.append({k: v.clone() for k, v in model.state_dict().items()})
        _train(model, node_data)
        ends.append({k: v.clone() for k, v in model.state_dict().items()})
    # Training moved the hidden layers' neuron parameters (the checks below can fail).
    neuron_keys = sorted(k for k in fresh if ".neuron." in k)
    assert neuron_keys == [
        "convs.0.neuron.threshold",
        "convs.0.neuron.w",
        "convs.1.neuron.threshold",
        "convs.1.neuron.w",
    ]
    for k in neuron_keys:
        assert not torch.equal(ends[0][k], starts[0][k]), k
        # The neurons restart from the constructor's values.
        torch.testing.assert_close(starts[1][k], fresh[k], rtol=0, atol=0, msg=f"{k} not reset")
    assert starts[1].keys() == starts[0].keys()
    for k, v in starts[0].items():
        torch.testing.assert_close(starts[1][k], v, rtol=0, atol=0, msg=f"{k} not reset")
    for k, v in ends[0].items():
        torch.testing.assert_close(ends[1][k], v, msg=f"run 2 ended elsewhere at {k}")
