"""Layer-wise full-graph inference, as GraphSAGE evaluates large graphs (Hamilton, Ying &
Leskovec, NeurIPS 2017; PyG's ``BasicGNN.inference``).

A full-graph forward holds every layer's activations and every edge's messages at once.
Layer-wise inference computes layer ``l`` for all nodes before layer ``l + 1``, in batches of
target nodes, each with its whole 1-hop in-neighbourhood (every in-edge, no sampling), so
evaluation holds one layer's input and output plus one batch's messages. Because every target
sees all its in-edges, the result is the full-graph forward's, up to float rounding.

What has to be done right for that to hold:

- **GCN normalisation** uses degrees, which a batch does not see (a source's degree counts
  edges into nodes of other batches). The graph is normalised once on the full graph, with
  the layer's own rule (``gcn_norm`` with its ``improved`` / ``add_self_loops``, self-loops
  included as edges), and each batch propagates those fixed weights as final coefficients:
  spikegraph's GCN layers with their per-call switch (``normalize=False``: no self-loops, no
  renormalisation, cache untouched), PyG's ``GCNConv`` through
  :func:`~spikegraph.train.blocks.gcn_conv_block` (its own ``lin`` and ``bias``). No layer's
  attributes are changed, so nothing needs restoring.
- **GAT** attention is a softmax over each target's in-edges, all present in its batch;
  the layer adds the targets' self-loops itself (targets come first among a batch's sources).
- **Spiking models**: layer 0 gets the encoded features of the batch's nodes (static ``[N, F]``
  for the direct and current encoders; a Bernoulli encoder's spike train is drawn once for
  the whole graph, as the full-graph forward draws it); hidden layers pass spike trains
  ``[T, N, F]``. STFN normalises each node over its own time steps and features, and tdBN in
  eval mode uses its running statistics, so both are per node and batch-independent; the
  LIF neurons are per node.
- **Devices**: the batches are cut on the CPU (the sampler's kernels); each batch's node
  ids, edges and weights move to the device of the activations (the model's and data's).
- **Rounding**: messages are summed in another order than in the full-graph forward. For an
  ordinary GNN that changes the logits at the level of float rounding. A spiking neuron
  whose potential lies within rounding of the threshold can fire in one and not in the
  other; in float64 this is practically never seen, in float32 it is rare but possible.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import BatchNorm, GCNConv, LayerNorm
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models.basic_gnn import BasicGNN
from tqdm.auto import tqdm

from spikegraph._progress import progress_bar
from spikegraph._validation import (
    check_choice,
    check_edge_index,
    check_features,
    check_nonnegative_weights,
)
from spikegraph.models.basic import SpikingBasicGNN
from spikegraph.nn.conv.gcn import SpikingGCNConv, square_gcn_norm
from spikegraph.nn.encoding import BernoulliEncoder
from spikegraph.samplers import Block, GraphSAGESampler
from spikegraph.train.blocks import gcn_conv_block
from spikegraph.train.trainer import predict


def layerwise_predict(
    model: nn.Module,
    data: Data,
    batch_size: int = 4096,
    progress: bool = False,
) -> Tensor:
    """Full-graph logits of ``model`` computed layer by layer in batches of target nodes
    (GraphSAGE's layer-wise inference, Hamilton et al., NeurIPS 2017).

    Equal to :func:`~spikegraph.train.trainer.predict` up to float rounding (see the module
    docstring), while holding only one layer's activations and one batch's messages (every
    layer's, for a spiking model with jumping knowledge, whose read-out combines them).

    Args:
        model: A spikegraph model (:class:`~spikegraph.models.SpikingGCN`,
            :class:`~spikegraph.models.SpikingGAT`) or one of PyG's ``BasicGNN`` models
            (``GCN``, ``GAT``, ...) without jumping knowledge and with per-node
            normalisation layers (none, ``BatchNorm`` or ``LayerNorm(mode="node")``).
        data: Graph with ``x``, ``edge_index`` and optionally ``edge_weight``.
        batch_size: Target nodes per batch.
        progress: Show a progress bar over layers and batches.

    Returns:
        Logits ``[N, C]``, computed in eval mode without gradients.

    Raises:
        TypeError: for an unsupported model.
        ValueError: for a bad ``batch_size`` or graph, or an unsupported model option.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"'batch_size' must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"'batch_size' must be >= 1, got {batch_size}")
    if isinstance(model, SpikingBasicGNN):
        run = _spiking_layers
    elif isinstance(model, BasicGNN):
        _check_pyg_model(model)
        run = _pyg_layers
    else:
        raise TypeError(
            f"layer-wise inference supports spikegraph's spiking models and PyG's BasicGNN "
            f"models, got {type(model).__name__}"
        )
    num_nodes = data.num_nodes
    check_features(data.x, "data.x")
    check_edge_index(data.edge_index, num_nodes, name="data.edge_index")
    edge_weight = data.edge_weight if "edge_weight" in data else None
    graphs = _LayerGraphs(data.edge_index, edge_weight, num_nodes, data.x.dtype)
    model.eval()
    num_batches = -(-num_nodes // batch_size)
    with (
        torch.no_grad(),
        progress_bar(
            total=len(model.convs) * num_batches, enabled=progress, desc="layer-wise eval"
        ) as bar,
    ):
        return run(model, data.x, graphs, batch_size, bar)


#: How :func:`~spikegraph.train.trainer.fit` scores validation and test: ``"full"`` (one
#: full-graph forward, :func:`~spikegraph.train.trainer.predict`) or ``"layerwise"``.
EVALUATIONS = ("full", "layerwise")


def make_evaluator(
    evaluation: str = "full",
    batch_size: int = 4096,
    progress: bool = False,
    *,
    name: str = "batch_size",
) -> Callable[[nn.Module, Data], Tensor]:
    """The ``evaluate`` function of :func:`~spikegraph.train.trainer.fit` for
    ``evaluation`` (one of :data:`EVALUATIONS`); ``batch_size`` is the number of target nodes
    per batch of layer-wise inference, ``progress`` shows its progress bar.

    Raises:
        ValueError: for an unknown ``evaluation`` or a ``batch_size`` below one, named
            ``name`` (the caller's name of the setting).
    """
    check_choice(evaluation, EVALUATIONS, "evaluation")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"'{name}' must be an int >= 1, got {batch_size!r}")
    if evaluation == "full":
        return predict

    def evaluate(model: nn.Module, data: Data) -> Tensor:
        return layerwise_predict(model, data, batch_size=batch_size, progress=progress)

    return evaluate


class _LayerGraphs:
    """The graph each layer propagates over, and its batches of 1-hop in-neighbourhoods.

    A GCN layer that normalises gets the full graph normalised once with its own rule (and
    runs with normalisation off); any other layer gets the graph as it is, with its weights.
    """

    def __init__(self, edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int, dtype):
        self.edge_index, self.edge_weight = edge_index, edge_weight
        self.num_nodes, self.dtype = num_nodes, dtype
        self._built: dict[Any, tuple[GraphSAGESampler, Tensor | None]] = {}

    def key(self, conv: nn.Module) -> Any:
        if isinstance(conv, (SpikingGCNConv, GCNConv)) and conv.normalize:
            return ("gcn", type(conv), bool(conv.improved), bool(conv.add_self_loops))
        return "raw"

    def _graph(self, conv: nn.Module) -> tuple[Tensor, Tensor | None]:
        key = self.key(conv)
        if key == "raw":
            return self.edge_index, self.edge_weight
        ei, w = self.edge_index, self.edge_weight
        if isinstance(conv, SpikingGCNConv):  # its own rule (improved without weights: A + 2I)
            if w is not None:
                check_nonnegative_weights(w, ei)
            return square_gcn_norm(
                ei, w, self.num_nodes, conv.improved, conv.add_self_loops, conv.flow, self.dtype
            )
        # PyG's GCNConv.forward normalises an edge index exactly so.
        return gcn_norm(
            ei, w, self.num_nodes, conv.improved, conv.add_self_loops, conv.flow, self.dtype
        )

    def batches(
        self, conv: nn.Module, batch_size: int
    ) -> Iterator[tuple[Tensor, Tensor, Tensor, Tensor | None]]:
        """``(targets, n_id, edge_index, edge_weight)`` per batch: ``n_id`` lists the targets
        first, then their in-neighbours; ``edge_index`` (local ids) holds every in-edge of
        the targets (targets are ``0 .. len(targets) - 1``).

        The layer's graph is chosen and built here, before the caller switches the layer's
        normalisation off; the batches are made as they are consumed.
        """
        key = self.key(conv)
        if key not in self._built:
            ei, w = self._graph(conv)
            sampler = GraphSAGESampler(ei.cpu(), [-1], num_nodes=self.num_nodes)
            self._built[key] = (sampler, None if w is None else w.cpu())  # batches: on CPU
        sampler, w = self._built[key]

        def generate() -> Iterator[tuple[Tensor, Tensor, Tensor, Tensor | None]]:
            for targets in torch.arange(self.num_nodes).split(batch_size):
                batch = sampler.sample(targets)
                block = batch.blocks[0]
                weight = None if w is None else w.index_select(0, block.e_id)
                yield targets, batch.n_id, block.edge_index, weight

        return generate()


@contextlib.contextmanager
def _normalisation_off(conv: nn.Module) -> Iterator[bool | None]:
    """The per-call ``normalize`` a layer runs this pass's batches with: ``False`` for a
    normalising GCN layer (its graph was normalised once on the full graph, see
    :class:`_LayerGraphs`), ``None`` (its own setting) for any other layer. Nothing about the
    layer is changed."""
    yield False if isinstance(conv, (SpikingGCNConv, GCNConv)) and conv.normalize else None


def _gather(h: Tensor, index: Tensor) -> Tensor:
    """Rows (nodes) ``index`` of ``[N, F]`` or ``[T, N, F]``."""
    return h.index_select(-2, index.to(h.device))


def is_binary(t: Tensor) -> bool:
    """Whether every entry of ``t`` is exactly 0 or 1 (a spike train)."""
    return bool(((t == 0) | (t == 1)).all())


class LayerOutput:
    """One layer's output for all ``num_nodes`` nodes (``[N, F]`` or ``[T, N, F]``, nodes on
    dim -2), filled batch by batch in place, so the layer's output is held once (not as a
    list of batches plus their concatenation).

    Spike trains (every value exactly 0 or 1) are stored as ``uint8``, a quarter of float32's
    memory and exact; the first batch holding any other value turns the store into the
    batches' float dtype (also exact). :meth:`gather` returns rows in that float dtype.
    """

    def __init__(self, num_nodes: int) -> None:
        self.num_nodes = num_nodes
        self.store: Tensor | None = None
        self.dtype: torch.dtype | None = None

    def write(self, rows: Tensor, out: Tensor) -> None:
        """Store ``out`` (nodes on dim -2) as the rows ``rows`` (consecutive node ids)."""
        if self.store is None:
            shape = (*out.shape[:-2], self.num_nodes, out.shape[-1])
            compact = out.is_floating_point() and is_binary(out)
            self.dtype = out.dtype
            dtype = torch.uint8 if compact else out.dtype
            self.store = torch.empty(shape, dtype=dtype, device=out.device)
        elif self.store.dtype == torch.uint8 and not is_binary(out):
            self.store = self.store.to(self.dtype)
        start = int(rows[0]) if rows.numel() else 0
        self.store.narrow(-2, start, out.shape[-2]).copy_(out)

    def gather(self, index: Tensor) -> Tensor:
        """Rows ``index`` in the layer's float dtype."""
        return _gather(self.store, index).to(self.dtype)

    def result(self) -> Tensor:
        """The whole output in the layer's float dtype."""
        return self.store.to(self.dtype)


def _rows(h: Tensor | LayerOutput, index: Tensor) -> Tensor:
    """Rows ``index`` of a tensor or of a :class:`LayerOutput`."""
    return h.gather(index) if isinstance(h, LayerOutput) else _gather(h, index)


def _spiking_layers(
    model: SpikingBasicGNN, x: Tensor, graphs: _LayerGraphs, batch_size: int, bar: tqdm
) -> Tensor:
    # A Bernoulli encoder draws the spike train of the whole graph at once, as the full
    # forward does; the deterministic encoders encode each batch's rows.
    h = model.encode(x) if isinstance(model.encoder, BernoulliEncoder) else None
    last = model.num_layers - 1
    jump = model.jk_mode is not None
    layers: list[LayerOutput] = []  # with jumping knowledge: every layer's output
    for i, conv in enumerate(model.convs):
        outs = LayerOutput(graphs.num_nodes)
        batches = graphs.batches(conv, batch_size)
        with _normalisation_off(conv) as normalize:
            for targets, n_id, edge_index, edge_weight in batches:
                if h is None:
                    x_src, x_dst = model.encode(_gather(x, n_id)), model.encode(_gather(x, targets))
                else:
                    x_src, x_dst = _rows(h, n_id), _rows(h, targets)
                dev = x_src.device
                size = (n_id.numel(), targets.numel())
                out = model._conv(
                    i,
                    (x_src, x_dst),
                    edge_index.to(dev),
                    None if edge_weight is None else edge_weight.to(dev),
                    size=size,
                    normalize=normalize,
                )
                end = i == last and not jump
                outs.write(targets, model.decode(out) if end else model._between(out))
                bar.update(1)
        layers.append(outs)
        h = outs if i < last or jump else outs.result()
    if not jump:
        return h
    # As the full forward: the layers' outputs combined node by node, then read out.
    logits = []
    for rows in torch.arange(graphs.num_nodes).split(batch_size):
        logits.append(model.decode(model._jump([layer.gather(rows) for layer in layers])))
    return torch.cat(logits, dim=0)


def _check_pyg_model(model: BasicGNN) -> None:
    if model.jk_mode is not None or hasattr(model, "lin"):
        raise ValueError(
            f"layer-wise inference needs a {type(model).__name__} without jumping knowledge "
            f"(jk={model.jk_mode!r})"
        )
    for norm in model.norms:
        per_node = isinstance(norm, (nn.Identity, BatchNorm, nn.BatchNorm1d)) or (
            isinstance(norm, LayerNorm) and norm.mode == "node"
        )
        if not per_node:
            raise ValueError(
                f"layer-wise inference needs per-node normalisation layers (none, BatchNorm, "
                f"LayerNorm(mode='node')), got {norm!r}"
            )


def _pyg_layers(
    model: BasicGNN, x: Tensor, graphs: _LayerGraphs, batch_size: int, bar: tqdm
) -> Tensor:
    """``BasicGNN.forward`` one layer at a time. PyG's ``GCNConv`` takes no bipartite input,
    so each batch runs on its local graph (targets first, only the targets' in-edges) and
    keeps the targets' rows."""
    h = x
    last = model.num_layers - 1
    for i, (conv, norm) in enumerate(zip(model.convs, model.norms)):
        outs = LayerOutput(graphs.num_nodes)
        batches = graphs.batches(conv, batch_size)
        with _normalisation_off(conv) as normalize:
            for targets, n_id, edge_index, edge_weight in batches:
                x_local = _rows(h, n_id)
                edge_index = edge_index.to(x_local.device)
                if normalize is False:  # pre-normalised weights, used as they are
                    if edge_weight is not None:
                        edge_weight = edge_weight.to(x_local.device)
                    block = Block(
                        edge_index, edge_weight, (n_id.numel(), targets.numel()), weights_final=True
                    )
                    out = gcn_conv_block(conv, x_local, block)
                elif model.supports_edge_weight:
                    if edge_weight is not None:
                        edge_weight = edge_weight.to(x_local.device)
                    out = conv(x_local, edge_index, edge_weight=edge_weight)
                else:
                    out = conv(x_local, edge_index)
                out = out[: targets.numel()]
                if i < last:
                    if model.act is not None and model.act_first:
                        out = model.act(out)
                    out = norm(out)
                    if model.act is not None and not model.act_first:
                        out = model.act(out)
                    out = model.dropout(out)
                outs.write(targets, out)
                bar.update(1)
        h = outs if i < last else outs.result()
    return h


__all__ = ["EVALUATIONS", "layerwise_predict", "make_evaluator"]
