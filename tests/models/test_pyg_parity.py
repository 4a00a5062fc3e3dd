"""PyG parity of the spiking models: trains of any length, ``BasicGNN.forward``'s arguments,
``act`` / ``norm`` / ``jk``."""

from __future__ import annotations

import pytest
import torch

from spikegraph.models import SpikingGAT, SpikingGCN

MODELS = {
    "gcn": lambda T, **kw: SpikingGCN(8, 16, 2, 3, T=T, **kw),
    "gat": lambda T, **kw: SpikingGAT(8, 16, 2, 3, heads=2, T=T, **kw),
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("readout", ["membrane", "rate"])
def test_spike_train_of_any_length_runs_over_its_own_steps(node_data, name, readout):
    torch.manual_seed(0)
    model = MODELS[name](8, readout=readout, v_threshold=0.5).eval()
    short = MODELS[name](3, readout=readout, v_threshold=0.5).eval()
    short.load_state_dict(model.state_dict())
    x = node_data.x.expand(3, *node_data.x.shape)
    out = model(x, node_data.edge_index)
    assert out.shape == (40, 3)
    assert torch.equal(out, short(x, node_data.edge_index))
    # A constant train of any length equals the static input over that many steps.
    torch.testing.assert_close(out, short(node_data.x, node_data.edge_index))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_short_train_in_training_mode_equals_eval_mode(node_data, name):
    # Training takes the exact rate shortcut (GCN) on the short train's own steps.
    torch.manual_seed(0)
    model = MODELS[name](8, v_threshold=0.5).double()
    x = node_data.x.double().expand(3, *node_data.x.shape)
    out = model.train()(x, node_data.edge_index)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    torch.testing.assert_close(out, model.eval()(x, node_data.edge_index))
