"""The trainer honours the batch contract: mode from the sampler, final weights, blocks."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models import GAT, GCN
from torch_geometric.utils import to_undirected

from spikegraph.models import SpikingGAT, SpikingGCN
from spikegraph.samplers import Batch, BatchContractError, Block, Loader, NodeSampler
from spikegraph.train import TrainConfig, fit
from spikegraph.train.minibatch import MinibatchStep, batch_logits, minibatch_step


class FullGraphLayerwise(NodeSampler):
    """A toy "layer-wise" sampler whose batches do not nest: block 0 is the whole normalised
    graph (all nodes -> all nodes), block 1 the seeds' rows of it (all nodes -> seeds, the
    seeds' own rows at their ids, so ``dst_index`` is not a prefix). Weights are final, so
    the logits equal a full-graph GCN's for the seeds."""

    name = "toy-layerwise"
    nested = False

    def __init__(self, graph, **kwargs):
        super().__init__(graph, **kwargs)
        ei, w = gcn_norm(self.edge_index, None, self.num_nodes, add_self_loops=True)
        self.norm_edge_index, self.norm_weight = ei, w
        self.num_layers = 2

    def sample(self, seeds, *, generator=None):
        n = self.num_nodes
        all_nodes = torch.arange(n)
        ei, w = self.norm_edge_index, self.norm_weight
        block0 = Block(ei, w, (n, n), weights_final=True, dst_index=all_nodes)
        pos = torch.full((n,), -1, dtype=torch.long)
        pos[seeds] = torch.arange(seeds.numel())
        keep = pos[ei[1]] >= 0
        block1 = Block(
            torch.stack([ei[0, keep], pos[ei[1, keep]]]),
            w[keep],
            (n, seeds.numel()),
            weights_final=True,
            dst_index=seeds.clone(),
        )
        return Batch(
            n_id=all_nodes,
            blocks=[block0, block1],
            target=seeds,
            nested=False,
            layer_n_id=[all_nodes, all_nodes],
        )


@pytest.fixture
def graph() -> Data:
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (30,), generator=gen)
    ei = to_undirected(torch.randint(0, 30, (2, 70), generator=gen), num_nodes=30)
    ei = ei[:, ei[0] != ei[1]]
    x = torch.randn(30, 4, generator=gen) + torch.nn.functional.one_hot(y, 4).float()
    train = torch.zeros(30, dtype=torch.bool)
    train[:20] = True
    return Data(x=x, edge_index=ei, y=y, train_mask=train, val_mask=~train, test_mask=~train)


def test_mode_follows_the_sampler_and_subgraph_is_refused_for_non_nested(graph):
    loader = Loader(FullGraphLayerwise(graph), seeds=graph.train_mask, batch_size=8)
    assert MinibatchStep(loader).mode == "blocks"
    assert minibatch_step(loader, mode="blocks").mode == "blocks"
    with pytest.raises(ValueError, match="mode='subgraph' cannot run the sampler 'toy-layerwise'"):
        minibatch_step(loader, mode="subgraph")
    with pytest.raises(ValueError, match="Unknown mode 'layers'"):
        minibatch_step(loader, mode="layers")
    batch = next(iter(loader))
    with pytest.raises(BatchContractError, match="do not nest"):
        batch_logits(SpikingGCN(4, 8, 2, 3, T=2), graph.x, batch, "subgraph")


@pytest.mark.parametrize("kind", ["pyg", "spiking"])
def test_non_nested_batch_logits_equal_full_graph(kind, graph):
    torch.manual_seed(0)
    if kind == "pyg":
        model = GCN(4, 8, num_layers=2, out_channels=3).double().eval()
    else:
        model = SpikingGCN(4, 8, 2, 3, T=3, v_threshold=0.3).double().eval()
    x = graph.x.double()
    seeds = torch.tensor([7, 2, 11])
    batch = FullGraphLayerwise(graph).sample(seeds).validate()
    for block in batch.blocks:
        block.edge_weight = block.edge_weight.double()
    got = batch_logits(model, x, batch, mode=None)
    assert torch.allclose(got, model(x, graph.edge_index)[seeds])


@pytest.mark.parametrize("kind", ["pyg", "spiking"])
def test_layerwise_sampler_trains_with_the_default_mode(kind, graph):
    torch.manual_seed(0)
    model = GCN(4, 8, 2, 3) if kind == "pyg" else SpikingGCN(4, 8, 2, 3, T=2)
    loader = Loader(FullGraphLayerwise(graph), seeds=graph.train_mask, batch_size=8, seed=0)
    result = fit(model, graph, TrainConfig(epochs=3, progress=False), minibatch_step(loader))
    assert result.epochs_run == 3 and all(h["loss"] > 0 for h in result.history)


def _final_subgraph_batch(graph: Data) -> tuple[Batch, torch.Tensor, torch.Tensor]:
    """A nested batch on nodes 0..14 whose block weights are final (any positive values)."""
    keep = (graph.edge_index < 15).all(0)
    ei = graph.edge_index[:, keep]
    ei = torch.cat([ei, torch.arange(15).repeat(2, 1)], 1)  # the estimator's self-loops
    w = torch.linspace(0.1, 0.9, ei.size(1), dtype=torch.float64)
    block = Block(ei, w, (15, 15), weights_final=True)
    return Batch(n_id=torch.arange(15), blocks=[block, block], target=torch.arange(6)), ei, w


@pytest.mark.parametrize("kind", ["pyg", "spiking"])
def test_subgraph_mode_with_final_weights_turns_normalisation_off_per_call(kind, graph):
    batch, ei, w = _final_subgraph_batch(graph)
    x = graph.x.double()
    torch.manual_seed(0)
    if kind == "pyg":
        model = GCN(4, 8, 2, 3).double().eval()
        torch.manual_seed(0)
        plain = GCN(4, 8, 2, 3, normalize=False).double().eval()
    else:
        model = SpikingGCN(4, 8, 2, 3, T=3, v_threshold=0.3).double().eval()
        torch.manual_seed(0)
        plain = SpikingGCN(4, 8, 2, 3, T=3, v_threshold=0.3, normalize=False).double().eval()
    got = batch_logits(model, x, batch, "subgraph")
    want = plain(x[:15], ei, w)[:6]
    assert torch.allclose(got, want)
    # Without the flag the model renormalises the weights, which gives other logits.
    batch.blocks = [Block(ei, w, (15, 15))] * 2
    assert not torch.allclose(batch_logits(model, x, batch, "subgraph"), want)
    # The layers' own settings are untouched.
    assert all(conv.normalize for conv in model.convs)


def test_attention_models_refuse_final_weights(graph):
    batch, _, _ = _final_subgraph_batch(graph)
    with pytest.raises(TypeError, match="layer 0 is GATConv"):
        batch_logits(GAT(4, 8, 2, 3).double(), graph.x.double(), batch, "subgraph")
    with pytest.raises(BatchContractError, match="SpikingGAT cannot run on block 0"):
        batch_logits(SpikingGAT(4, 8, 2, 3, heads=2, T=2).double(), graph.x.double(), batch)
