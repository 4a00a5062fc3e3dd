"""Input checks shared by layers, models and training code.

Every check raises :class:`ValueError` or :class:`TypeError` with a message that names the
argument and the offending value; nothing is clipped or dropped silently.

Under :func:`torch.compile`: checks of types, dtypes and shapes hold as in eager mode (they
are decided when the graph is traced); checks of the values themselves (NaN, node ids out of
range, negative edge weights) are skipped while tracing, because a compiled graph cannot
branch on its data (:func:`data_checks_apply`). They run in eager mode, so a model checked
eagerly on its data (e.g. for one step before compiling) is checked on that data.
"""

from __future__ import annotations

import torch
from torch import Tensor


def data_checks_apply() -> bool:
    """Whether checks that read tensor values run: always, except while
    :func:`torch.compile` traces (a data-dependent branch would break the graph)."""
    return not torch.compiler.is_compiling()


def check_time_steps(T: int, name: str = "T") -> int:
    """Return ``T`` if it is a positive integer, else raise."""
    if isinstance(T, bool) or not isinstance(T, int):
        raise TypeError(f"'{name}' must be an int, got {type(T).__name__} ({T!r})")
    if T < 1:
        raise ValueError(f"'{name}' must be >= 1, got {T}")
    return T


def check_choice(value: str, choices: tuple[str, ...], name: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming both."""
    if value not in choices:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {list(choices)}")
    return value


def check_positive(value: float, name: str, strict: bool = True) -> float:
    """Return ``value`` if it is a positive (or non-negative) finite number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"'{name}' must be a number, got {type(value).__name__} ({value!r})")
    ok = value > 0 if strict else value >= 0
    if not ok or value != value or value in (float("inf"), float("-inf")):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"'{name}' must be finite and {bound}, got {value}")
    return value


def check_probability(value: float, name: str) -> float:
    """Return ``value`` as a float if it is a number in ``[0, 1)`` (a dropout rate)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"'{name}' must be a number, got {type(value).__name__} ({value!r})")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"'{name}' must be in [0, 1), got {value}")
    return float(value)


def check_features(x: Tensor, name: str = "x") -> Tensor:
    """Reject non-tensors, non-floating dtypes and NaN or infinite entries."""
    if not isinstance(x, Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"'{name}' must be a floating-point tensor, got dtype {x.dtype}")
    if x.layout != torch.strided:  # sparse features: check the stored values
        check_features(x.values(), f"{name} (stored values of a sparse tensor)")
        return x
    # One reduction: NaN and +-inf propagate into the sum; only if it is not finite (or a huge
    # finite sum overflowed) are the entries themselves inspected.
    if not data_checks_apply():
        return x
    if x.numel() > 0 and not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        raise ValueError(
            f"'{name}' contains NaN or infinite values (first at index {tuple(bad)}, "
            f"value {x[tuple(bad)].item()})"
        )
    return x


def check_node_input(x: Tensor, name: str = "x") -> Tensor:
    """Reject anything but a tensor of node features ``[N, F]`` or a spike train
    ``[T, N, F]``, naming its shape."""
    if not isinstance(x, Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (2, 3):
        raise ValueError(
            f"'{name}' must be [N, F] (static) or [T, N, F] (spike train), got shape "
            f"{tuple(x.shape)}"
        )
    return x


def check_width(
    x: Tensor, expected: int, name: str = "x", expects: str = "the layer expects in_channels"
) -> None:
    """Raise if the last dimension of ``x`` is not ``expected`` (``expects``: who expects
    it, and the option that says so)."""
    if expected > 0 and x.size(-1) != expected:
        raise ValueError(
            f"'{name}' has {x.size(-1)} features in its last dimension (shape "
            f"{tuple(x.shape)}), but {expects}={expected}"
        )


def check_edge_index(
    edge_index: Tensor, num_src: int, num_dst: int | None = None, name: str = "edge_index"
) -> Tensor:
    """Check an edge index of shape ``[2, E]`` against the node counts it refers to.

    Args:
        edge_index: Integer tensor of shape ``[2, E]``, sources in row 0, targets in row 1.
        num_src: Number of source nodes (all nodes for a homogeneous graph).
        num_dst: Number of target nodes; defaults to ``num_src``.
        name: Argument name used in messages.
    """
    num_dst = num_src if num_dst is None else num_dst
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor, got {type(edge_index).__name__}")
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"'{name}' must have dtype torch.long, got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'{name}' must have shape [2, num_edges], got {tuple(edge_index.shape)}")
    if num_src == 0 or num_dst == 0:
        raise ValueError(
            f"The graph is empty (num_src={num_src}, num_dst={num_dst}): "
            "at least one node is required"
        )
    if edge_index.numel() == 0 or not data_checks_apply():
        return edge_index
    for row, bound, role in ((0, num_src, "source"), (1, num_dst, "target")):
        ids = edge_index[row]
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= bound:
            bad = lo if lo < 0 else hi
            col = int(((ids == bad).nonzero())[0])
            raise ValueError(
                f"'{name}' holds {role} node id {bad} (column {col}), out of range for "
                f"{bound} {role} nodes (valid ids are 0..{bound - 1})"
            )
    return edge_index


def check_channels(value: int, name: str, lazy: bool = False) -> int:
    """Return a layer or model width if it is an int ``>= 1`` (or ``-1`` when ``lazy``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{name}' must be an int, got {type(value).__name__} ({value!r})")
    if value < 1 and not (lazy and value == -1):
        hint = " (or -1: lazy)" if lazy else ""
        raise ValueError(f"'{name}' must be >= 1{hint}, got {value}")
    return value


def check_dtype(x: Tensor, dtype: torch.dtype | None, name: str = "x") -> Tensor:
    """Raise a :class:`TypeError` saying how to fix it if ``x`` is not of the layer's ``dtype``.

    Args:
        x: A floating-point input tensor.
        dtype: The dtype of the layer's parameters (``None``: not known yet, no check).
        name: Argument name used in the message.
    """
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"'{name}' has dtype {x.dtype}, but the layer's parameters are {dtype}: convert "
            f"the model with model.to({x.dtype}) to run in {x.dtype}, or the input with "
            f"{name}.to({dtype}) (x.float() for float32)"
        )
    return x


def check_nonnegative_weights(
    edge_weight: Tensor, edge_index: Tensor | None = None, name: str = "edge_weight"
) -> Tensor:
    """Refuse negative edge weights, naming the first one (and its edge, when given).

    GCN's symmetric normalisation takes ``deg^-1/2`` of weighted degrees, which is NaN for a
    negative degree; a negative weight is refused wherever a layer normalises.
    """
    if not data_checks_apply():
        return edge_weight
    neg = edge_weight < 0
    if edge_weight.numel() and bool(neg.any()):
        i = int(neg.nonzero()[0])
        where = f"at index {i}"
        if edge_index is not None:
            where = f"on edge {i} ({int(edge_index[0, i])} -> {int(edge_index[1, i])})"
        raise ValueError(
            f"'{name}' holds {edge_weight[i].item()} {where}: GCN normalisation "
            "(normalize=True) takes deg^-1/2 of the weighted degrees, which negative weights "
            "make NaN; use non-negative weights or normalize=False"
        )
    return edge_weight
