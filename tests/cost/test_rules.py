"""The counting rules on hand-made tensors."""

import pytest
import torch

from spikegraph.cost import rules


def test_spike_count():
    assert rules.spike_count(torch.tensor([0.0, 1.0, 1.0, 0.0])) == 2
    assert rules.spike_count(torch.zeros(3, 4)) == 0
    assert rules.spike_count(torch.tensor([0.0, 2.0])) is None
    assert rules.spike_count(torch.tensor([1.0, 0.5])) is None
    assert rules.spike_count(torch.tensor([-1.0, 1.0])) is None
    # values a rounding-prone check would miss: just below 1, the smallest positive float
    assert rules.spike_count(torch.tensor([0.0, 1.0, 1.0 - 2.0**-24])) is None
    assert rules.spike_count(torch.tensor([0.0, 1.0, 1.4e-45])) is None
    assert rules.spike_count(torch.tensor([0.0, 1.0, float("nan")])) is None
    big = torch.zeros(3 * 2**20 + 5)
    big[::7] = 1.0
    assert rules.spike_count(big) == int((big == 1).sum())
    big[-1] = 0.5  # in the last chunk
    assert rules.spike_count(big) is None
    strided = torch.tensor([[1.0, 0.0], [1.0, 1.0]]).t()  # not contiguous
    assert rules.spike_count(strided) == 3
    with pytest.raises(TypeError, match=r"needs a floating-point tensor, got dtype torch\.int64"):
        rules.spike_count(torch.tensor([0, 1]))


def test_transform_ops():
    spikes = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    assert rules.transform_ops(spikes, 4, event=True) == rules.Ops(acs=12, spikes_in=3, inputs=6)
    assert rules.transform_ops(spikes, 4, event=False) == rules.Ops(macs=24)
    # real-valued input on event-driven hardware: only its non-zero entries are sent, each
    # multiplied into every output (the rule of real-valued messages); dense: every entry
    assert rules.transform_ops(spikes * 0.5, 4, event=True) == rules.Ops(macs=12)
    assert rules.transform_ops(spikes * 0.5, 4, event=False) == rules.Ops(macs=24)
    # a row-normalised sparse bag of words (CSR), with one stored explicit zero
    csr = torch.sparse_csr_tensor(
        torch.tensor([0, 2, 4]), torch.tensor([0, 2, 1, 2]), torch.tensor([0.5, 0.5, 0.0, 1.0])
    )
    assert rules.transform_ops(csr, 4, event=True) == rules.Ops(macs=3 * 4)
    assert rules.transform_ops(csr, 4, event=False) == rules.Ops(macs=6 * 4)


def test_aggregation_ops():
    msgs = torch.tensor([[0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    assert rules.aggregation_ops(msgs, False, "sum", event=True) == rules.Ops(
        acs=3, spikes_in=3, inputs=6
    )
    # weighted messages are MACs, only the non-zero (sent) ones on event-driven hardware
    assert rules.aggregation_ops(msgs * 0.3, True, "sum", event=True) == rules.Ops(macs=3)
    assert rules.aggregation_ops(msgs, False, "sum", event=False) == rules.Ops(macs=6)
    assert rules.aggregation_ops(msgs * 0.3, False, "max", event=False) == rules.Ops(acs=6)
    assert rules.aggregation_ops(msgs * 0.3, False, "max", event=True) == rules.Ops(acs=3)
    assert rules.aggregation_ops(msgs, False, "mul", event=True) == rules.Ops(macs=6)
    with pytest.raises(ValueError, match="Unknown reduce 'median'"):
        rules.aggregation_ops(msgs, False, "median", event=True)


def test_neuron_ops():
    spikes = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]], [[1.0, 1.0]]])  # T=3, 2 neurons
    lif = rules.neuron_ops(spikes, decay=0.5, reset="hard")
    assert lif == rules.Ops(acs=3 * 2 + 3, macs=2 * 2, spikes_out=3, neuron_steps=6)
    integrate_and_fire = rules.neuron_ops(spikes, decay=1.0, reset="soft")
    assert integrate_and_fire == rules.Ops(acs=6 + 4 + 3, spikes_out=3, neuron_steps=6)
    memoryless = rules.neuron_ops(spikes, decay=0.0, reset="none")
    assert memoryless == rules.Ops(acs=6, spikes_out=3, neuron_steps=6)


def test_rate_neuron_ops_match_the_spike_trains_behind_the_rates():
    """Firing rates over T steps count as the trains they average: the same updates and
    spikes as neuron_ops on the trains, for every rule."""
    gen = torch.Generator().manual_seed(0)
    for steps in (1, 3, 7, 16):
        spikes = (torch.rand(steps, 5, 4, generator=gen) < 0.3).float()
        rates = spikes.mean(dim=0)
        fired, deviation = rules.rate_spike_count(rates, steps)
        assert fired == int(spikes.sum()) and deviation < 1e-5
        for decay, reset, macs in ((0.5, "hard", 0), (1.0, "soft", 0), (0.0, "none", 2)):
            assert rules.rate_neuron_ops(rates, steps, decay, reset, macs) == rules.neuron_ops(
                spikes, decay, reset, macs
            )
    # half precision: k / 10 rounds, rates * steps is still within its precision of k
    spikes = (torch.rand(10, 64, generator=gen) < 0.5).float()
    assert rules.rate_spike_count(spikes.mean(0).bfloat16(), 10)[0] == int(spikes.sum())
    assert rules.rate_spike_count(torch.zeros(0), 4) == (0, 0.0)


def test_rate_spike_count_refuses_rates_that_are_not_spike_means():
    assert rules.rate_spike_count(torch.tensor([0.25, 0.3]), 4) == (None, pytest.approx(0.2))
    assert rules.rate_spike_count(torch.tensor([0.5, 1.25]), 4)[0] is None  # above 1
    assert rules.rate_spike_count(torch.tensor([0.5, -0.25]), 4)[0] is None  # below 0
    assert rules.rate_spike_count(torch.tensor([0.5, float("nan")]), 4)[0] is None
    assert rules.rate_spike_count(torch.tensor([0.5, float("inf")]), 4)[0] is None
    assert rules.rate_neuron_ops(torch.tensor([0.3]), 4, 0.5, "hard") is None
    with pytest.raises(ValueError, match="'steps' must be a positive int"):
        rules.rate_spike_count(torch.tensor([0.5]), 0)
    with pytest.raises(TypeError, match="floating-point"):
        rules.rate_spike_count(torch.tensor([1]), 1)


def test_stfn_and_batchnorm_ops():
    x = torch.randn(4, 5, 3)  # T=4, N=5, C=3: M=60
    assert rules.stfn_ops(x, affine=True, fold=False) == rules.Ops(acs=120, macs=180 + 5)
    assert rules.stfn_ops(x, affine=False, fold=False) == rules.Ops(acs=120, macs=120 + 5)
    assert rules.stfn_ops(x, affine=True, fold=True) == rules.Ops(acs=180, macs=60 + 5 + 30)
    assert rules.stfn_ops(x, affine=False, fold=True) == rules.Ops(acs=180, macs=60 + 5 + 10)
    assert rules.batchnorm_ops(x, batch_statistics=False, fold=False) == rules.Ops(macs=60)
    assert rules.batchnorm_ops(x, batch_statistics=False, fold=True) == rules.Ops()
    assert rules.batchnorm_ops(x, batch_statistics=True, fold=True) == rules.Ops(
        acs=120, macs=180 + 3
    )


def test_readout_and_head_mean_ops():
    out = torch.randn(4, 5, 3)
    assert rules.readout_ops(out) == rules.Ops(acs=3 * 15, macs=15)
    static = torch.randn(5, 3).expand(4, 5, 3)  # the same tensor at every step
    assert rules.readout_ops(static) == rules.Ops()
    assert rules.head_mean_ops(positions=10, heads=4, channels=2) == rules.Ops(acs=60, macs=20)


def test_attention_ops():
    h = torch.randn(5, 2, 3)
    assert rules.attention_node_ops(h, h) == rules.Ops(macs=60)
    assert rules.attention_node_ops(h, None) == rules.Ops(macs=30)
    alpha = torch.randn(7, 2)
    assert rules.attention_edge_ops(alpha, has_dst=True) == rules.Ops(acs=56, macs=42)
    assert rules.attention_edge_ops(alpha, has_dst=False) == rules.Ops(acs=42, macs=42)
