"""The counters count the readout with a forward hook on the model's readout module; they set
no attribute of the model."""

import torch

from spikegraph.cost import Counter, count
from spikegraph.models import SpikingGAT, SpikingGCN
from spikegraph.nn.readout import READOUTS, Readout

from .conftest import N, spike_train

F_IN, C, T = 5, 3, 4


def test_counting_hooks_the_readout_module_and_patches_nothing(edge_index):
    model = SpikingGCN(F_IN, 8, 2, C, T=T).eval()
    before = dict(vars(model))
    x = spike_train((T, N, F_IN), 30)
    with Counter(model):
        assert "decode" not in vars(model)  # no monkey-patched method
        assert len(model.decoder._forward_hooks) == 1
        model(x, edge_index)
    assert vars(model).keys() == before.keys() and not model.decoder._forward_hooks


def test_readout_row_is_the_hooked_module_s_count(edge_index):
    model = SpikingGAT(F_IN, 8, 2, C, heads=2, T=T, readout="rate").eval()
    x = spike_train((T, N, F_IN), 30)
    seen = []
    handle = model.decoder.register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    report = count(model, x, edge_index)
    handle.remove()
    (row,) = report.select(kind="readout")
    assert row.name == "SpikingGAT" and seen == [(T, N, C)]
    assert (row.acs, row.macs) == ((T - 1) * N * C, N * C)


def test_readouts_are_modules_without_state(edge_index):
    for name, cls in READOUTS.items():
        model = SpikingGCN(F_IN, 8, 2, C, T=T, readout=name)
        assert isinstance(model.decoder, Readout) and type(model.decoder) is cls
        assert not any(k.startswith("decoder") for k in model.state_dict())
        out = torch.randn(T, N, C)
        torch.testing.assert_close(model.decode(out), out.mean(0))
