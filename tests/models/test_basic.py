"""The shared model skeleton: its static-encoding cache never serves a stale encoding."""

from __future__ import annotations

import pytest
import torch

from spikegraph.models import SpikingGCN


def sparse_features(n=40, f=50, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, f, generator=gen) < 0.05).float()


def dense_features(n=40, f=50, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, f, generator=gen) < 0.5).float()


def model_and_reference(f=50):
    torch.manual_seed(0)
    model = SpikingGCN(f, 16, 2, out_channels=3, T=4).eval()
    ref = SpikingGCN(f, 16, 2, out_channels=3, T=4, sparse_input=False).eval()
    ref.load_state_dict(model.state_dict())
    return model, ref


def change_in_place(x, path):
    """Flip a block of features without bumping ``x._version`` (``.numpy()``/``.data``)."""
    target = x.numpy() if path == "numpy" else x.data
    target[:20, :25] = 1.0 - target[:20, :25]


@pytest.mark.parametrize("features", [sparse_features, dense_features])
@pytest.mark.parametrize("path", ["numpy", "data"])
def test_input_changed_in_place_is_encoded_afresh(node_data, features, path):
    model, ref = model_and_reference()
    x, ei = features(), node_data.edge_index
    version = x._version
    first = model(x, ei)
    change_in_place(x, path)
    assert x._version == version  # the change is invisible to the version counter
    second = model(x, ei)
    torch.testing.assert_close(second, ref(x.clone(), ei))
    assert not torch.allclose(first, second)


@pytest.mark.parametrize("features", [sparse_features, dense_features])
def test_new_tensor_with_old_content_after_in_place_change(node_data, features):
    """The cache never hands back the caller's own (since modified) tensor."""
    model, ref = model_and_reference()
    x, ei = features(), node_data.edge_index
    original = x.clone()
    model(x, ei)
    change_in_place(x, "numpy")
    torch.testing.assert_close(model(original, ei), ref(original, ei))


def test_same_content_is_encoded_once(node_data, monkeypatch):
    """Full-batch training feeds the same features every epoch: encoded once, also when the
    tensor is a new one with the same content."""
    model, _ = model_and_reference()
    calls = []
    encode = model.encoder.forward
    monkeypatch.setattr(model.encoder, "forward", lambda x: calls.append(1) or encode(x))
    x, ei = sparse_features(), node_data.edge_index
    a = model(x, ei)
    b = model(x, ei)
    c = model(x.clone(), ei)
    assert len(calls) == 1
    assert torch.equal(a, b) and torch.equal(a, c)
    model(sparse_features(seed=1), ei)
    assert len(calls) == 2


def test_cache_does_not_keep_other_dtypes_or_shapes(node_data):
    model, _ = model_and_reference()
    x, ei = sparse_features(), node_data.edge_index
    model(x, ei)
    with pytest.raises(TypeError, match=r"dtype torch\.float64"):
        model(x.double(), ei)
    with pytest.raises(ValueError, match="49 features"):
        model(x[:, :49], ei)


@pytest.mark.parametrize("sparse_input", [True, None])
def test_a_model_that_read_a_static_input_deep_copies_and_the_copy_agrees(sparse_input):
    """The static-input cache (a sparse CSR tensor for sparse features) is not copied: a
    copy re-encodes, and gives the same output."""
    import copy

    torch.manual_seed(0)
    x = (torch.rand(6, 5) > 0.7).float()
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    model = SpikingGCN(5, 4, 2, 3, T=2, sparse_input=sparse_input).eval()
    out = model(x, edge_index)
    assert model._static_cache is not None
    clone = copy.deepcopy(model)
    assert clone._static_cache is None and model._static_cache is not None
    torch.testing.assert_close(clone(x, edge_index), out)


@pytest.mark.parametrize("first_without_grad", [False, True])
def test_gradient_wrt_features_reaches_each_calls_own_input(node_data, first_without_grad):
    """The cache never hands a call an encoding built by another call: with ``x`` requiring
    grad (saliency on input features), every call's gradient reaches its own ``x`` and
    equals that of the dense path, on successive calls with tensors of equal content."""
    model, ref = model_and_reference()
    x, ei = sparse_features(), node_data.edge_index
    x_ref = x.clone().requires_grad_()
    ref(x_ref, ei).sum().backward()
    assert float(x_ref.grad.abs().sum()) > 0
    if first_without_grad:  # fills the cache with the same content
        model(x.clone(), ei)
    grads = []
    for _ in range(2):
        xi = x.clone().requires_grad_()
        model(xi, ei).sum().backward()
        assert xi.grad is not None
        grads.append(xi.grad.clone())
    assert (
        model._static_cache is None
        or model._static_cache[1] is None
        or (model._static_cache[1].grad_fn is None)
    )
    for g in grads:
        torch.testing.assert_close(g, x_ref.grad)
