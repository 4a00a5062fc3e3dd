"""``PyGSampler`` takes only samplers whose batches are one PyG subgraph of graph edges
(audit finding 1), and its batches follow the sampler's seed only (audit finding 5)."""

from __future__ import annotations

import pytest
import torch
from sampler_checks import edge_set
from test_invariants import METHODS
from torch_geometric.loader import NodeLoader

from spikegraph.samplers import (
    SAMPLERS,
    Batch,
    BatchContractError,
    Block,
    GraphSAGESampler,
    LADIESSampler,
    NodeSampler,
    PyGSampler,
)

NODE_WISE = [m for m in METHODS if SAMPLERS[METHODS[m].sampler].takes_seeds]


@pytest.mark.parametrize("method", NODE_WISE)
def test_every_node_sampler_is_refused_or_gives_graph_subgraphs(method, small_graph):
    """Registered samplers whose batches do not nest are refused by their declaration;
    the others give PyG batches of graph edges, seeds first (or refuse a batch clearly)."""
    data = small_graph
    sampler = METHODS[method].make(data, 0)
    if not type(sampler).nested:
        with pytest.raises(TypeError, match=rf"'{sampler.name}' .*do not nest"):
            PyGSampler(sampler)
        return
    loader = NodeLoader(data, PyGSampler(sampler), input_nodes=torch.arange(0, 60, 3), batch_size=7)
    if method.startswith("pinsage"):  # walk neighbours, not graph edges
        with pytest.raises(TypeError, match="PinSAGESampler does not sample graph edges"):
            next(iter(loader))
        return
    edges = edge_set(data)
    for batch in loader:
        ids = batch.x[:, 0].long()
        assert torch.equal(ids[: batch.batch_size], batch.input_id * 3)  # seeds first
        assert bool((batch.e_id >= 0).all())
        assert torch.equal(data.edge_index[:, batch.e_id], ids[batch.edge_index])
        for u, v in zip(ids[batch.edge_index[0]].tolist(), ids[batch.edge_index[1]].tolist()):
            assert (u, v) in edges


def test_layerwise_sampler_with_edge_weights_is_refused_up_front(small_graph):
    """Was an IndexError deep inside PyG (LADIES's ``e_id = -1`` self-loops)."""
    small_graph.edge_weight = torch.rand(small_graph.num_edges) + 0.5
    with pytest.raises(TypeError, match=r"'ladies' \(LADIESSampler\): its batches do not nest"):
        PyGSampler(LADIESSampler(small_graph, [20, 20]))


def _batch(seeds, **kw) -> Batch:
    """A nested one-block batch on the seeds and one more node (id 59), two graph edges."""
    n = seeds.numel()
    block = Block(
        edge_index=torch.tensor([[n, 0], [0, 0]]),
        edge_weight=None,
        size=(n + 1, n + 1),
        e_id=kw.pop("e_id", torch.tensor([3, 4])),
        weights_final=kw.pop("weights_final", False),
    )
    n_id = torch.cat([seeds, torch.tensor([59])])
    return Batch(**{"n_id": n_id, "blocks": [block], "target": seeds, **kw})


class _Fake(NodeSampler):
    """Declares nested batches; returns what ``make(seeds)`` builds."""

    name = "fake"

    def __init__(self, graph, make):
        super().__init__(graph)
        self.make = make

    def sample(self, seeds, *, generator=None):
        return self.make(seeds)


BAD_BATCHES = {
    "final-weights": (
        lambda s: _batch(s, weights_final=True),
        r"'fake' \(_Fake\) gave a batch whose block 0 has final weights",
    ),
    "added-edges": (
        lambda s: _batch(s, e_id=torch.tensor([3, -1])),
        r"'fake' \(_Fake\) gave a batch with 1 edges that are not graph edges \(e_id=-1\)",
    ),
    "not-nested": (
        lambda s: _batch(s, nested=False, layer_n_id=[torch.cat([s, torch.tensor([59])])]),
        r"'fake' \(_Fake\) gave a batch whose blocks do not nest",
    ),
    "loss-weight": (
        lambda s: _batch(s, loss_weight=torch.ones(s.numel())),
        r"'fake' \(_Fake\) gave a batch with loss_weight",
    ),
    "seeds-not-first": (
        lambda s: _batch(s.flip(0), target=s.flip(0)),
        r"'fake' \(_Fake\) gave a batch whose first 3 nodes \[2, 1, 0\] are not the seeds "
        r"\[0, 1, 2\]",
    ),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_batches_that_are_not_one_pyg_subgraph_are_refused(case, small_graph):
    """A sampler that declares nested batches but gives one PyG cannot carry is refused at
    the batch, naming the sampler and what would be lost."""
    make, match = BAD_BATCHES[case]
    loader = NodeLoader(
        small_graph,
        PyGSampler(_Fake(small_graph, make)),
        input_nodes=torch.arange(3),
        batch_size=3,
    )
    with pytest.raises(BatchContractError, match=match):
        next(iter(loader))


def test_a_good_batch_of_a_fake_sampler_passes(small_graph):
    """The fake sampler's unmodified batch goes through (the refusals above are real)."""
    loader = NodeLoader(
        small_graph,
        PyGSampler(_Fake(small_graph, _batch)),
        input_nodes=torch.arange(3),
        batch_size=3,
    )
    batch = next(iter(loader))
    assert batch.n_id.tolist() == [0, 1, 2, 59] and batch.e_id.tolist() == [3, 4]


def _epochs(data, seed: int, global_seed: int, workers: int, epochs=(0,), shuffle=False):
    torch.manual_seed(global_seed)
    adapter = PyGSampler(GraphSAGESampler(data, [3, 2], seed=seed))
    loader = NodeLoader(
        data,
        adapter,
        input_nodes=torch.arange(60),
        batch_size=15,
        num_workers=workers,
        shuffle=shuffle,
    )
    out = []
    for epoch in epochs:
        if len(epochs) > 1:
            adapter.set_epoch(epoch)
        out.append([(b.n_id.tolist(), b.edge_index.tolist()) for b in loader])
    return out


def test_batches_follow_the_sampler_seed_only(small_graph):
    """The same sampler seed gives the same batches for any global torch seed and any
    number of workers; another sampler seed gives other batches."""
    reference = _epochs(small_graph, 7, 1, 0)
    for global_seed, workers in [(2, 0), (1, 2), (2, 2)]:
        assert _epochs(small_graph, 7, global_seed, workers) == reference, (global_seed, workers)
    assert _epochs(small_graph, 8, 1, 0) != reference


def test_set_epoch_draws_anew_and_the_same_for_any_workers(small_graph):
    reference = _epochs(small_graph, 7, 1, 0, epochs=(0, 1))
    assert reference[0] != reference[1]
    assert reference[0] == _epochs(small_graph, 7, 1, 0)[0]  # epoch 0 is the default
    assert _epochs(small_graph, 7, 2, 2, epochs=(0, 1)) == reference


def test_shuffled_batches_depend_on_the_seeds_not_the_worker(small_graph):
    """With shuffle=True the loader picks the seeds of a batch (torch's global generator);
    for the same global seed the batches are those of num_workers=0."""
    assert _epochs(small_graph, 7, 3, 2, shuffle=True) == _epochs(
        small_graph, 7, 3, 0, shuffle=True
    )


def test_set_epoch_refuses_a_bad_epoch(small_graph):
    adapter = PyGSampler(GraphSAGESampler(small_graph, [3]))
    with pytest.raises(ValueError, match="'epoch' must be >= 0, got -1"):
        adapter.set_epoch(-1)
