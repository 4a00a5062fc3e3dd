import pytest
import torch

from spikegraph._validation import (
    check_choice,
    check_edge_index,
    check_features,
    check_positive,
    check_time_steps,
    check_width,
)


def test_check_time_steps():
    assert check_time_steps(1) == 1 and check_time_steps(16) == 16
    with pytest.raises(ValueError, match=r"'T' must be >= 1, got 0"):
        check_time_steps(0)
    with pytest.raises(ValueError, match=r"'steps' must be >= 1, got -2"):
        check_time_steps(-2, "steps")
    with pytest.raises(TypeError, match=r"'T' must be an int, got float \(4.0\)"):
        check_time_steps(4.0)
    with pytest.raises(TypeError, match=r"'T' must be an int, got bool \(True\)"):
        check_time_steps(True)
    with pytest.raises(TypeError, match=r"'T' must be an int, got NoneType \(None\)"):
        check_time_steps(None)


def test_check_choice():
    assert check_choice("a", ("a", "b"), "mode") == "a"
    with pytest.raises(ValueError, match=r"Unknown mode 'c'; expected one of \['a', 'b'\]"):
        check_choice("c", ("a", "b"), "mode")


def test_check_positive():
    assert check_positive(0.5, "lr") == 0.5
    assert check_positive(0, "wd", strict=False) == 0
    for bad in (0, -1.0, float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match=r"'lr' must be finite and > 0, got"):
            check_positive(bad, "lr")
    with pytest.raises(ValueError, match=r"'wd' must be finite and >= 0, got -0.1"):
        check_positive(-0.1, "wd", strict=False)
    with pytest.raises(TypeError, match=r"'lr' must be a number, got bool \(False\)"):
        check_positive(False, "lr")


def test_check_features():
    x = torch.randn(3, 2)
    assert check_features(x) is x
    assert check_features(torch.empty(0, 4)).shape == (0, 4)
    x[2, 1] = float("inf")
    with pytest.raises(
        ValueError,
        match=r"'h' contains NaN or infinite values \(first at index \(2, 1\), value inf\)",
    ):
        check_features(x, "h")
    with pytest.raises(
        TypeError, match=r"'x' must be a floating-point tensor, got dtype torch.int64"
    ):
        check_features(torch.ones(2, 2, dtype=torch.long))
    with pytest.raises(TypeError, match=r"'x' must be a torch.Tensor, got list"):
        check_features([1.0])


def test_check_width():
    check_width(torch.zeros(2, 3, 5), 5)
    check_width(torch.zeros(2, 3), -1)  # lazy layers accept any width
    msg = r"'x' has 4 features in its last dimension \(shape \(2, 4\)\), but the layer expects "
    with pytest.raises(ValueError, match=msg + r"in_channels=5"):
        check_width(torch.zeros(2, 4), 5)


def test_check_edge_index_accepts_valid_and_empty_edge_sets():
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
    assert check_edge_index(ei, 3) is ei
    assert check_edge_index(ei.int(), 3) is not None
    assert check_edge_index(torch.empty(2, 0, dtype=torch.long), 4).numel() == 0
    assert check_edge_index(torch.tensor([[4], [1]]), 5, 2) is not None


@pytest.mark.parametrize(
    "ei, num_src, num_dst, err, msg",
    [
        (
            [[0, -1], [1, 0]],
            3,
            None,
            ValueError,
            r"holds source node id -1 \(column 1\), out of "
            r"range for 3 source nodes \(valid ids are 0..2\)",
        ),
        (
            [[0, 1], [3, 0]],
            3,
            None,
            ValueError,
            r"holds target node id 3 \(column 0\), out of "
            r"range for 3 target nodes",
        ),
        ([[4, 0], [0, 2]], 5, 2, ValueError, r"target node id 2 \(column 1\), out of range for 2"),
        ([[0, 1]], 3, None, ValueError, r"must have shape \[2, num_edges\], got \(1, 2\)"),
        (
            [[0.0, 1.0], [1.0, 0.0]],
            3,
            None,
            TypeError,
            r"must have dtype torch.long, got torch.float32",
        ),
        ([[0, 1], [1, 0]], 0, None, ValueError, r"The graph is empty \(num_src=0, num_dst=0\)"),
        ([[0, 1], [1, 0]], 3, 0, ValueError, r"The graph is empty \(num_src=3, num_dst=0\)"),
    ],
)
def test_check_edge_index_errors(ei, num_src, num_dst, err, msg):
    with pytest.raises(err, match=msg):
        check_edge_index(torch.tensor(ei), num_src, num_dst)


def test_check_edge_index_names_the_argument():
    with pytest.raises(TypeError, match=r"'data.edge_index' must be a torch.Tensor, got list"):
        check_edge_index([[0], [1]], 2, name="data.edge_index")


def test_check_channels():
    from spikegraph._validation import check_channels

    assert check_channels(4, "w") == 4
    assert check_channels(-1, "w", lazy=True) == -1
    with pytest.raises(ValueError, match=r"'w' must be >= 1, got -1"):
        check_channels(-1, "w")
    with pytest.raises(ValueError, match=r"'w' must be >= 1 \(or -1: lazy\), got 0"):
        check_channels(0, "w", lazy=True)
    with pytest.raises(TypeError, match=r"'w' must be an int, got bool"):
        check_channels(True, "w")


def test_check_dtype():
    from spikegraph._validation import check_dtype

    x = torch.zeros(2, dtype=torch.float16)
    assert check_dtype(x, torch.float16) is x
    assert check_dtype(x, None) is x
    with pytest.raises(TypeError, match=r"'x' has dtype torch.float16.*torch.float32"):
        check_dtype(x, torch.float32)


def test_check_nonnegative_weights():
    from spikegraph._validation import check_nonnegative_weights

    w = torch.tensor([1.0, 0.0, -2.0, -1.0])
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    with pytest.raises(ValueError, match=r"'edge_weight' holds -2.0 on edge 2 \(2 -> 3\)"):
        check_nonnegative_weights(w, ei)
    with pytest.raises(ValueError, match=r"holds -2.0 at index 2"):
        check_nonnegative_weights(w)
    check_nonnegative_weights(w.abs(), ei)
