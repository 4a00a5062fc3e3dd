"""SpikingGATv2Conv: with spiking off it is PyG's GATv2Conv at every step."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GATv2Conv

from spikegraph.cost import Counter
from spikegraph.nn.conv import SpikingGATv2Conv

N, F_IN, C, T, D = 6, 5, 4, 3, 3


def features(T=T, n=N, f=F_IN, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = (n, f) if T is None else (T, n, f)
    return torch.randn(*shape, generator=gen)


def edge_features(num_edges, seed=1):
    return torch.randn(num_edges, D, generator=torch.Generator().manual_seed(seed))


def plain_pair(in_channels=F_IN, heads=2, concat=True, **kwargs):
    torch.manual_seed(0)
    conv = SpikingGATv2Conv(
        in_channels, C, heads=heads, concat=concat, T=T, spiking=False, norm="none", **kwargs
    )
    with torch.no_grad():
        conv.bias.normal_()
    ref = GATv2Conv(in_channels, C, heads=heads, concat=concat, **kwargs)
    ref.load_state_dict(conv.state_dict())
    return conv.eval(), ref.eval()


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"edge_dim": D}, {"edge_dim": D, "fill_value": 0.0}, {"share_weights": True}],
)
def test_spiking_off_equals_pyg_gatv2_per_step(directed_edge_index, concat, kwargs):
    conv, ref = plain_pair(heads=3, concat=concat, **kwargs)
    x = features()
    e = edge_features(directed_edge_index.size(1)) if "edge_dim" in kwargs else None
    out, (ei, alpha) = conv(x, directed_edge_index, e, return_attention_weights=True)
    assert out.shape == (T, N, 3 * C if concat else C)
    assert alpha.shape == (T, ei.size(1), 3)
    for t in range(T):
        ref_out, (ref_ei, ref_alpha) = ref(
            x[t], directed_edge_index, e, return_attention_weights=True
        )
        torch.testing.assert_close(out[t], ref_out)
        assert torch.equal(ei, ref_ei)
        torch.testing.assert_close(alpha[t], ref_alpha)
    static, (_, alpha0) = conv(x[0], directed_edge_index, e, return_attention_weights=True)
    torch.testing.assert_close(alpha0, alpha[0])
    torch.testing.assert_close(static[0], out[0])


def test_bipartite_equals_pyg():
    ei = torch.tensor([[0, 4, 5, 6, 1, 2, 6, 3, 0, 5], [0, 0, 1, 1, 1, 2, 2, 3, 3, 2]])
    conv, ref = plain_pair(in_channels=(F_IN, 3))
    x_src, x_dst = features(n=7), features(n=4, f=3, seed=2)
    out = conv((x_src, x_dst), ei)
    for t in range(T):
        torch.testing.assert_close(out[t], ref((x_src[t], x_dst[t]), ei))
    with pytest.raises(ValueError, match="needs x_dst"):
        conv((x_src, None), ei, size=(7, 4))


def test_spiking_layer_fires_and_trains(edge_index):
    torch.manual_seed(0)
    conv = SpikingGATv2Conv(F_IN, C, heads=2, T=T, edge_dim=D)
    out = conv((features() > 0).float(), edge_index, edge_features(edge_index.size(1)))
    assert out.shape == (T, N, 2 * C)
    assert set(out.unique().tolist()) <= {0.0, 1.0} and 0 < out.mean() < 1
    out.sum().backward()
    assert conv.att.grad is not None and conv.lin_edge.weight.grad is not None
    assert "heads=2, edge_dim=3, T=3" in repr(conv)


def test_cost_counter_flags_the_unvalidated_attention(edge_index, caplog):
    conv = SpikingGATv2Conv(F_IN, C, heads=2, T=T)
    with Counter(conv) as counter:
        conv(features(), edge_index)
    report = counter.report()
    assert report.total.energy_pj > 0
    assert any("SpikingGATv2Conv" in w for w in report.warnings)


def test_residual_is_refused_naming_the_option():
    """PyG's ``GATv2Conv(..., residual=True)`` is not implemented: a clear error."""
    with pytest.raises(ValueError, match=r"SpikingGATv2Conv got residual=True.*residual=False"):
        SpikingGATv2Conv(F_IN, C, heads=2, residual=True)
    assert SpikingGATv2Conv(F_IN, C, heads=2, residual=False).heads == 2
