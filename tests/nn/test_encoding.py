import math
import pickle

import pytest
import torch

from spikegraph.nn import BernoulliEncoder, CurrentEncoder, DirectEncoder, make_encoder


def test_direct_encoder_passes_binary_features_unchanged():
    x = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    out = DirectEncoder()(x)
    assert out is x  # static [N, F]: the same spike vector at every step


def test_direct_encoder_rejects_non_binary_features():
    x = torch.tensor([[0.0, 1.0], [0.5, 1.0]])
    with pytest.raises(ValueError, match=r"DirectEncoder needs binary .* found the value 0.5"):
        DirectEncoder()(x)


def test_current_encoder_passes_real_features_unchanged():
    x = torch.randn(4, 3)
    assert CurrentEncoder()(x) is x


@pytest.mark.parametrize("enc", [DirectEncoder(), CurrentEncoder(), BernoulliEncoder(3)])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_encoders_reject_nan_and_inf(enc, bad):
    x = torch.zeros(3, 2)
    x[1, 0] = bad
    with pytest.raises(ValueError, match=r"'x' contains NaN or infinite values \(first at index"):
        enc(x)


@pytest.mark.parametrize("enc", [DirectEncoder(), CurrentEncoder(), BernoulliEncoder(3)])
def test_encoders_reject_integer_features(enc):
    with pytest.raises(
        TypeError, match=r"'x' must be a floating-point tensor, got dtype torch\.int64"
    ):
        enc(torch.ones(3, 2, dtype=torch.long))


def test_bernoulli_shape_values_and_extremes():
    x = torch.tensor([[0.0, 1.0, 0.5]]).repeat(10, 1)
    out = BernoulliEncoder(T=6, seed=1)(x)
    assert out.shape == (6, 10, 3)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    assert (out[..., 0] == 0).all() and (out[..., 1] == 1).all()


def test_bernoulli_rate_matches_probability():
    # n Bernoulli(p) draws: the mean has standard deviation sqrt(p(1-p)/n); allow 5 of them.
    T, N = 20, 500
    p = torch.tensor([0.1, 0.3, 0.8])
    out = BernoulliEncoder(T, seed=0)(p.repeat(N, 1))
    rate = out.mean(dim=(0, 1))
    tol = 5 * torch.sqrt(p * (1 - p) / (T * N))
    assert ((rate - p).abs() < tol).all(), (rate, p, tol)


def test_bernoulli_is_seeded_and_leaves_global_rng_alone():
    x = torch.full((30, 4), 0.5)
    state = torch.get_rng_state()
    a = BernoulliEncoder(5, seed=7)
    out1 = a(x)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(BernoulliEncoder(5, seed=7)(x), out1)
    assert not torch.equal(BernoulliEncoder(5, seed=8)(x), out1)
    out2 = a(x)  # the generator moves on
    assert not torch.equal(out2, out1)
    a.reset_generator()
    assert torch.equal(a(x), out1)


def test_bernoulli_pickles_and_restarts_from_seed():
    enc = BernoulliEncoder(4, seed=3)
    x = torch.full((10, 2), 0.5)
    first = enc(x)
    back = pickle.loads(pickle.dumps(enc))
    assert torch.equal(back(x), first)


@pytest.mark.parametrize("lo_hi", [(-0.25, 0.5), (0.25, 1.5)])
def test_bernoulli_rejects_values_outside_unit_interval(lo_hi):
    x = torch.tensor([[lo_hi[0], lo_hi[1]]])
    msg = rf"BernoulliEncoder needs features in \[0, 1\] .*got values in \[{lo_hi[0]}, {lo_hi[1]}\]"
    with pytest.raises(ValueError, match=msg):
        BernoulliEncoder(2)(x)


def test_bernoulli_bad_time_steps():
    with pytest.raises(ValueError, match="'T' must be >= 1, got 0"):
        BernoulliEncoder(0)
    with pytest.raises(TypeError, match=r"'T' must be an int, got float \(2.5\)"):
        BernoulliEncoder(2.5)


def test_make_encoder():
    assert isinstance(make_encoder("direct", 4), DirectEncoder)
    assert isinstance(make_encoder("current", 4), CurrentEncoder)
    assert isinstance(make_encoder("auto", 4), CurrentEncoder)
    enc = make_encoder("bernoulli", 4, seed=2)
    assert isinstance(enc, BernoulliEncoder) and enc.T == 4 and enc.seed == 2
    with pytest.raises(ValueError, match=r"Unknown encoder 'poisson'; expected one of \['direct'"):
        make_encoder("poisson", 4)


def test_repr():
    assert repr(BernoulliEncoder(4, seed=2)) == "BernoulliEncoder(T=4, seed=2)"
    assert repr(DirectEncoder()) == "DirectEncoder()"
    assert repr(CurrentEncoder()) == "CurrentEncoder()"


def test_binary_output_flags():
    assert DirectEncoder.binary_output and BernoulliEncoder.binary_output
    assert not CurrentEncoder.binary_output
    assert math.isfinite(float(BernoulliEncoder(2)(torch.rand(3, 3)).sum()))


# -- rank-order coding ---------------------------------------------------------------------


def test_rank_order_hand_example():
    from spikegraph.nn.encoding import ENCODERS, RankOrderEncoder, rank_order_times

    assert ENCODERS["rank-order"] is RankOrderEncoder
    x = torch.tensor([[0.5, 0.0, 0.9, 0.1, 0.2], [1.0, 1.0, 0.0, 0.0, 0.0]])
    # node 0: ranks 0.9 > 0.5 > 0.2 > 0.1 spike at floor(r * 4 / 4) = 0, 1, 2, 3
    # node 1: two tied features, index order, spike at floor(r * 4 / 2) = 0, 2
    assert rank_order_times(x, 4).tolist() == [[1, -1, 0, 3, 2], [0, 2, -1, -1, -1]]
    out = RankOrderEncoder(4)(x)
    assert out.shape == (4, 2, 5) and out.dtype == x.dtype
    assert torch.equal(out.sum(0), (x > 0).float())  # one spike per active feature
    assert out[0, 0].tolist() == [0, 0, 1, 0, 0] and out[2, 1].tolist() == [0, 1, 0, 0, 0]
    # more active features than steps: several per step, still one each
    wide = torch.arange(1, 7, dtype=torch.float).unsqueeze(0)
    assert rank_order_times(wide, 2).tolist() == [[1, 1, 1, 0, 0, 0]]


def test_rank_order_refuses_negative_features_and_builds_from_the_registry():
    from spikegraph.nn.encoding import make_encoder

    enc = make_encoder("rank-order", T=3, seed=5)
    assert enc.T == 3 and repr(enc) == "RankOrderEncoder(T=3)"
    assert not enc.static_output and enc.binary_output
    with pytest.raises(ValueError, match=r"non-negative features .* found the value -0\.5"):
        enc(torch.tensor([[0.5, -0.5]]))
    assert enc(torch.zeros(2, 3)).sum() == 0  # a node without features never spikes


def test_rank_order_input_is_refused_as_sparse_and_counted_as_a_spike_train():
    from spikegraph.models import check_model_options, estimate_memory

    with pytest.raises(ValueError, match="sparse_input=True cannot hold with encoder='rank-order'"):
        check_model_options("sgcn", {"encoder": "rank-order", "sparse_input": True})
    sizes = dict(num_nodes=10, num_edges=20, num_features=30, num_classes=3)
    static = estimate_memory("sgcn", {}, **sizes)
    train = estimate_memory("sgcn", {"encoder": "rank-order"}, **sizes)
    assert train.bytes > static.bytes and "input spike train" in train.formula


def test_max_scaled_encoder_divides_each_row_by_its_largest_magnitude():
    x = torch.tensor([[0.0, 2.0, 4.0], [-3.0, 1.5, 0.0], [0.0, 0.0, 0.0]])
    out = make_encoder("max-scaled", T=4)(x)
    expected = torch.tensor([[0.0, 0.5, 1.0], [-1.0, 0.5, 0.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(out, expected)


def test_max_scaled_encoder_is_direct_coding_of_binary_features_and_scale_free():
    x = (torch.rand(20, 7, generator=torch.Generator().manual_seed(0)) > 0.6).float()
    enc = make_encoder("max-scaled", T=4)
    assert torch.equal(enc(x), x)
    # PyG's NormalizeFeatures divides each row by its sum: the encoding does not change
    rowsum = x.sum(-1, keepdim=True).clamp(min=1)
    torch.testing.assert_close(enc(x / rowsum), x)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_max_scaled_encoder_rejects_nan_and_inf(bad):
    x = torch.zeros(3, 2)
    x[2, 1] = bad
    with pytest.raises(ValueError, match=r"'x' contains NaN or infinite values"):
        make_encoder("max-scaled", T=2)(x)
