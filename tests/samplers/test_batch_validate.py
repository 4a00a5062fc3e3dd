"""``Batch.validate(full=True)`` catches every cheaply checkable contract promise (audit
finding 6): one hand-made bad batch per check, beside a good batch of each kind that passes.

Real batches of every registered sampler pass ``validate(full=True)`` in
``test_invariants.py``."""

from __future__ import annotations

import pytest
import torch

from spikegraph.samplers import Batch, BatchContractError, Block


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long)


def _block(edges, size, **kw) -> Block:
    return Block(edge_index=_t(edges).view(2, -1), edge_weight=None, size=size, **kw)


def nested(**kw) -> Batch:
    """A good nested batch: 3 nodes, block 0 (3 -> 2) holds block 1's edge (1 -> 0)."""
    args = {
        "n_id": _t([5, 6, 7]),
        "blocks": [
            _block([[1, 2, 0], [0, 0, 1]], (3, 2), e_id=_t([4, 9, -1])),
            _block([[1], [0]], (2, 1), e_id=_t([4])),
        ],
        "target": _t([5]),
    }
    args.update(kw)
    return Batch(**args)


def layerwise(**kw) -> Batch:
    """A good batch that does not nest: block 0's targets sit at rows 2 and 0 of its
    sources, block 1's target (node 8) is not among its sources."""
    args = {
        "n_id": _t([5, 6, 7]),
        "blocks": [
            _block([[1, 2], [0, 1]], (3, 2), weights_final=True, dst_index=_t([2, 0])),
            _block([[0, 1], [0, 0]], (2, 1), weights_final=True, dst_index=_t([-1])),
        ],
        "target": _t([8]),
        "nested": False,
        "layer_n_id": [_t([5, 6, 7]), _t([7, 5])],
    }
    args.update(kw)
    return Batch(**args)


def shadow(**kw) -> Batch:
    """A good batch of two disjoint subgraphs that share node 6 (ids repeat across them)."""
    block = _block([[2, 3], [0, 1]], (4, 4))
    args = {
        "n_id": _t([5, 6, 6, 9]),
        "blocks": [block, block],
        "target": _t([5, 6]),
        "node_batch": _t([0, 1, 0, 1]),
    }
    args.update(kw)
    return Batch(**args)


@pytest.mark.parametrize("make", [nested, layerwise, shadow])
def test_good_batches_pass(make):
    batch = make()
    assert batch.validate(full=True) is batch
    assert batch.validate(full=False) is batch


# (batch, the message it must raise, whether the cheap structural part catches it too)
BAD = {
    "nested-target-not-prefix": (
        lambda: nested(target=_t([7])),
        r"target \[7\] is not n_id\[:1\] = \[5\]",
        False,
    ),
    "nested-block0-lacks-edge": (
        lambda: nested(blocks=[_block([[2, 0], [0, 1]], (3, 2)), _block([[1], [0]], (2, 1))]),
        r"block 1's edge 1 -> 0 \(local ids\) is not in block 0",
        False,
    ),
    "loss-weight-length": (
        lambda: nested(loss_weight=torch.ones(7)),
        r"loss_weight has shape \(7,\), expected \(1,\): one per target",
        True,
    ),
    "loss-weight-broadcasts": (
        lambda: layerwise(target=_t([8]), loss_weight=torch.ones(1, 1)),
        r"loss_weight has shape \(1, 1\), expected \(1,\)",
        True,
    ),
    "loss-weight-not-finite": (
        lambda: nested(loss_weight=torch.tensor([float("nan")])),
        r"loss_weight holds a non-finite value \(nan\)",
        False,
    ),
    "e-id-length": (
        lambda: nested(
            blocks=[_block([[1, 2], [0, 0]], (3, 2), e_id=_t([0])), _block([[1], [0]], (2, 1))]
        ),
        r"block 0: e_id has shape \(1,\), expected \(2,\)",
        True,
    ),
    "e-id-below-minus-one": (
        lambda: nested(
            blocks=[_block([[1, 2], [0, 0]], (3, 2), e_id=_t([0, -2])), _block([[1], [0]], (2, 1))]
        ),
        r"block 0: e_id holds -2; an edge's id is >= 0, or -1",
        False,
    ),
    "node-batch-length": (
        lambda: nested(node_batch=_t([0])),
        r"node_batch holds 1 entries for 3 nodes in n_id",
        True,
    ),
    "layer-n-id-0-not-n-id": (
        lambda: layerwise(layer_n_id=[_t([1, 2, 3]), _t([7, 5])]),
        r"layer_n_id\[0\] \[1, 2, 3\] is not n_id \[5, 6, 7\]",
        False,
    ),
    "layer-n-id-dst-index-elsewhere": (
        lambda: layerwise(layer_n_id=[_t([5, 6, 7]), _t([6, 5])]),
        r"block 0's target 0 is node 6 \(layer_n_id\[1\]\) but its dst_index row 2 is "
        r"node 7",
        False,
    ),
    "layer-n-id-prefix": (
        lambda: layerwise(
            blocks=[
                _block([[1, 2], [0, 1]], (3, 2), weights_final=True),
                _block([[0, 1], [0, 0]], (2, 1), weights_final=True, dst_index=_t([-1])),
            ]
        ),
        r"block 0's target 0 is node 7 \(layer_n_id\[1\]\) but its source row 0 is node 5",
        False,
    ),
    "target-absent-from-last-layer": (
        lambda: layerwise(
            blocks=[
                _block([[1, 2], [0, 1]], (3, 2), weights_final=True, dst_index=_t([2, 0])),
                _block([[0, 1], [0, 0]], (2, 1), weights_final=True),
            ],
            target=_t([9]),
        ),
        r"block 1's target 0 is node 9 \(target\) but its source row 0 is node 7",
        False,
    ),
    "nested-layer-n-id-not-prefix": (
        lambda: nested(layer_n_id=[_t([5, 6, 7]), _t([6, 5])]),
        r"layer_n_id\[1\] \[6, 5\] is not n_id\[:2\] = \[5, 6\]",
        False,
    ),
    "n-id-repeats": (
        lambda: nested(n_id=_t([5, 5, 7])),
        r"n_id holds node 5 more than once",
        False,
    ),
    "n-id-repeats-in-one-subgraph": (
        lambda: shadow(n_id=_t([5, 6, 5, 9])),
        r"n_id holds node 5 more than once in subgraph 0 \(node_batch\)",
        False,
    ),
    "n-id-negative": (
        lambda: nested(n_id=_t([-4, 6, 7]), target=_t([-4])),
        r"n_id holds -4, a negative node id",
        False,
    ),
    "layer-n-id-negative": (
        lambda: layerwise(layer_n_id=[_t([5, 6, 7]), _t([-1, 5])]),
        r"layer_n_id\[1\] holds -1, a negative node id",
        False,
    ),
    "target-repeats": (
        lambda: layerwise(
            blocks=[
                _block([[1, 2], [0, 1]], (3, 2), weights_final=True, dst_index=_t([2, 0])),
                _block([[0, 1], [0, 0]], (2, 2), weights_final=True, dst_index=_t([-1, -1])),
            ],
            target=_t([8, 8]),
        ),
        r"target holds node 8 more than once",
        False,
    ),
    "target-2d": (
        lambda: nested(target=_t([[5]])),
        r"target must be a 1-D long tensor, got torch.int64 \(1, 1\)",
        True,
    ),
    "n-id-float": (
        lambda: nested(n_id=torch.tensor([5.0, 6.0, 7.0])),
        r"n_id must be a 1-D long tensor, got torch.float32 \(3,\)",
        True,
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_validate_catches(case):
    make, match, cheap = BAD[case]
    batch = make()
    with pytest.raises(BatchContractError, match=match):
        batch.validate(full=True)
    if cheap:  # O(1) shape checks run in the loader's cheap pass too
        with pytest.raises(BatchContractError, match=match):
            batch.validate(full=False)
    else:  # the O(N + E) scans are left to full=True
        assert batch.validate(full=False) is batch
