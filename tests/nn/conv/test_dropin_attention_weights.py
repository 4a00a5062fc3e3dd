"""``return_attention_weights`` follows PyG's rule in both attention layers: PyG's
``GATConv``/``GATv2Conv`` test the flag's truth (``if return_attention_weights:``), so
``None`` and ``False`` return the output alone and ``True`` adds ``(edge_index, alpha)``."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GATConv, GATv2Conv

from spikegraph.nn import SpikingGATConv, SpikingGATv2Conv

N, F_IN, C, T = 6, 5, 4, 3

PAIRS = [(SpikingGATConv, GATConv), (SpikingGATv2Conv, GATv2Conv)]


def plain_pair(spiking_cls, pyg_cls):
    """A spiking-off layer and PyG's with the same parameters."""
    torch.manual_seed(0)
    conv = spiking_cls(F_IN, C, heads=2, T=T, spiking=False, norm="none").eval()
    ref = pyg_cls(F_IN, C, heads=2).eval()
    ref.load_state_dict(conv.state_dict())
    return conv, ref


@pytest.mark.parametrize("static", [True, False], ids=["static", "train"])
@pytest.mark.parametrize("flag", [None, False, True, 0, 1])
@pytest.mark.parametrize("classes", PAIRS, ids=["gat", "gatv2"])
def test_flag_returns_what_pyg_returns(directed_edge_index, classes, flag, static):
    conv, ref = plain_pair(*classes)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(T, N, F_IN, generator=gen)
    x_in = x[0] if static else x
    ref_out = ref(x[0], directed_edge_index, return_attention_weights=flag)
    out = conv(x_in, directed_edge_index, return_attention_weights=flag)
    if flag is None or not flag:
        # PyG returns the tensor alone; so does the spiking layer.
        assert isinstance(ref_out, torch.Tensor)
        assert isinstance(out, torch.Tensor), f"return_attention_weights={flag!r} gave {type(out)}"
        torch.testing.assert_close(out[0], ref_out)
        return
    ref_y, (ref_ei, ref_alpha) = ref_out
    y, (ei, alpha) = out
    torch.testing.assert_close(y[0], ref_y)
    assert torch.equal(ei, ref_ei)
    torch.testing.assert_close(alpha if static else alpha[0], ref_alpha)
    # Positional, as PyG's signature: (x, edge_index, edge_attr, size, return_attention_weights)
    assert isinstance(conv(x_in, directed_edge_index, None, None, False), torch.Tensor)
    assert isinstance(conv(x_in, directed_edge_index, None, None, True), tuple)
