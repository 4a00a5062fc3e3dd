"""The one batch type every sampler returns, and the contract between samplers and models.

A batch is a list of bipartite *blocks*, one per GNN layer, input layer first (after DGL's
message-flow graphs, Wang et al. 2019). What every batch of every family promises:

1. **A chain.** Block ``i`` maps its ``size[0]`` source rows to its ``size[1]`` target rows,
   and the targets of block ``i`` are the sources of block ``i + 1``, in the same order: the
   output of layer ``i`` is the input of layer ``i + 1``. ``batch.n_id`` are the global ids of
   block 0's sources (``x_in = x[batch.n_id]``).
2. **Targets.** ``batch.target`` are the nodes whose loss counts: the first
   ``len(batch.target)`` targets of the last block, so the logits of the targets are
   ``out[:len(batch.target)]``.
3. **Weights say whether they are final** (``Block.weights_final``):

   - ``False``: ``edge_weight`` multiplies the adjacency (or is ``None``), and the model
     normalises the block as it normalises the full graph (a GCN adds self-loops and divides
     by degrees). Node-wise methods and Cluster-GCN without diagonal enhancement.
   - ``True``: ``edge_weight`` are the aggregation coefficients themselves, already
     normalised and importance-weighted (layer-wise methods' ``Â_vu / (s q(u))``,
     GraphSAINT's ``Â_vu / alpha_uv``, Cluster-GCN's diagonal-enhanced operator). A layer
     must aggregate ``sum_u w_uv h_u`` exactly: no self-loops added, no renormalisation.
     Self-loops the estimator needs are edges of the block. Models that cannot use given
     coefficients (attention) refuse such a block.

4. **Where the targets' own rows are** (``Block.dst_index``): ``None`` means the targets are
   the first ``num_dst`` sources (``h_dst = h[:num_dst]``). Otherwise ``dst_index[j]`` is the
   source row of target ``j``, or ``-1`` when target ``j`` is not among the sources
   (FastGCN draws each layer independently): a layer that needs the targets' own features
   (attention, a root weight) cannot run on such a block and says so
   (:meth:`Block.dst_rows`).
5. **Nesting** (``Batch.nested``): ``True`` when every block's targets are a prefix of its
   sources and block 0 holds every edge of the later blocks, so block 0 alone is the sampled
   subgraph a model without block support runs on (:meth:`Batch.subgraph`, as PyG's
   ``NeighborLoader`` does). Node-wise samplers but VR-GCN, and the subgraph samplers, nest;
   VR-GCN and the layer-wise ones do not, and :meth:`Batch.subgraph` refuses them (and a
   nested batch's final weights unless asked for them: ``subgraph(final_weights=True)``).
6. **Skip blocks** (``Block.skip``, AS-GCN's skip connection, Huang et al. NeurIPS 2018,
   Sec. 3.4): ``None``, or on a block ``i >= 1`` a block from block ``i - 1``'s sources to
   block ``i``'s targets whose final weights estimate the two-hop operator
   ``Â²`` (the product of the two blocks' coefficient matrices,
   :func:`~spikegraph.samplers.skip.skip_block`). A model adds
   ``Â_skip h_(i-1) W_(i-1) W_i`` (``h_(i-1)``: layer ``i - 1``'s input) to
   layer ``i``'s pre-activation (:func:`~spikegraph.samplers.skip.skip_term`); a model that
   cannot refuses the batch.
7. **Control variates** (``Block.history``, VR-GCN, Chen et al. ICML 2018): ``None``, or the
   block's :class:`~spikegraph.samplers.history.ControlVariate`. Its weights are final and
   only part of the estimate: the model adds the per-target corrections read from the
   histories and writes the fresh activations of the block's sources
   (:func:`~spikegraph.samplers.history.control_variate_input`). With ``noise_weight`` set
   (the control variate for dropout, CVD; on every block of a batch or none,
   :func:`~spikegraph.samplers.history.uses_dropout_variate`) the model, in training, also
   runs a copy of itself without dropout: the histories record the copy's activations and
   the dropout-noise term (:func:`~spikegraph.samplers.history.noise_aggregate`) is added
   to the model's own. A model that cannot refuses the batch.

:meth:`Batch.validate` checks all of this that a batch shows without the graph (shapes, the
chain, ids and weights, targets first and nesting, ``layer_n_id`` against ``dst_index``);
the :class:`~spikegraph.samplers.Loader` runs its cheap structural part on every batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

#: How a batch reaches a model: ``"subgraph"`` (the model's ``forward`` on block 0, for
#: nested batches only) or ``"blocks"`` (layer ``i`` on block ``i``).
MODES = ("subgraph", "blocks")


def default_mode(sampler: Any) -> str:
    """``"subgraph"`` for a sampler (class or object) whose batches nest, else ``"blocks"``."""
    return "subgraph" if getattr(sampler, "nested", True) else "blocks"


def resolve_mode(sampler: Any, mode: str | None) -> str:
    """The mode a sampler's batches reach a model in: ``mode``, or the sampler's default.

    Raises:
        ValueError: for an unknown mode, or ``"subgraph"`` with a sampler whose batches do
            not nest.
    """
    if mode is None:
        return default_mode(sampler)
    if mode not in MODES:
        raise ValueError(f"Unknown mode {mode!r}; expected one of {list(MODES)}")
    if mode == "subgraph" and not getattr(sampler, "nested", True):
        name = getattr(sampler, "name", None) or type(sampler).__name__
        raise ValueError(
            f"mode='subgraph' cannot run the sampler {name!r}: its blocks do not nest (each "
            "layer samples its own nodes), so a batch has no single subgraph; use "
            "mode='blocks' (the default for this sampler)"
        )
    return mode


if TYPE_CHECKING:  # VR-GCN (added by the vrgcn branch)
    from .history import ControlVariate


class BatchContractError(ValueError):
    """A batch breaks the sampler-model contract (see :mod:`spikegraph.samplers.batch`)."""


@dataclass
class Block:
    """One layer of a sampled computation graph: messages from sources to targets.

    Attributes:
        edge_index: ``[2, E]`` local ids; row 0 sources (``< size[0]``), row 1 targets
            (``< size[1]``).
        edge_weight: ``[E]`` the method's edge weights, or ``None`` for unweighted edges.
            Their meaning is set by ``weights_final``.
        size: ``(num_src, num_dst)``.
        e_id: ``[E]`` position of each edge in the original ``edge_index``; ``-1`` for an edge
            that is not in the graph (an added self-loop); ``None`` when the method's edges
            are not graph edges (PinSAGE's random-walk neighbours).
        weights_final: ``True`` when ``edge_weight`` are the final aggregation coefficients
            (a layer must not normalise them or add self-loops); ``False`` when they multiply
            the adjacency before the model's own normalisation.
        dst_index: ``[num_dst]`` source row of each target (``-1``: not a source), or
            ``None`` when the targets are the first ``num_dst`` sources.
        history: VR-GCN's control variate for this layer
            (:class:`~spikegraph.samplers.history.ControlVariate`): which history layer the
            block reads and writes, the sources' global ids (where fresh activations go) and
            the per-target correction from the histories; ``None`` for other methods. A
            block with one must be run through
            :func:`~spikegraph.samplers.history.control_variate_input` (item 7 of the
            module docstring; with its ``noise_weight``, CVD, also
            :func:`~spikegraph.samplers.history.noise_aggregate`).
        skip: AS-GCN's skip block into this block's targets (see the module docstring,
            item 6): sources are block ``i - 1``'s sources, weights final; ``None`` for
            no skip connection (every method but AS-GCN with ``skip_connection=True``).
    """

    edge_index: Tensor
    edge_weight: Tensor | None
    size: tuple[int, int]
    e_id: Tensor | None = None
    weights_final: bool = False
    dst_index: Tensor | None = None
    history: ControlVariate | None = None
    skip: Block | None = None

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.size(1))

    @property
    def targets_are_prefix(self) -> bool:
        """Whether the targets are the first ``num_dst`` sources."""
        return self.dst_index is None

    def dst_rows(self, h: Tensor) -> Tensor:
        """The targets' own rows of the source features ``h`` (``[..., num_src, F]``).

        Raises:
            BatchContractError: Some target is not among the sources.
        """
        num_dst = self.size[1]
        if self.dst_index is None:
            return h[..., :num_dst, :]
        if num_dst and bool((self.dst_index < 0).any()):
            missing = int((self.dst_index < 0).sum())
            raise BatchContractError(
                f"{missing} of the block's {num_dst} targets are not among its sources "
                "(a layer-wise block): a layer that needs the targets' own features "
                "(attention, a root weight) cannot run on it"
            )
        return h.index_select(-2, self.dst_index)

    def to(self, device: torch.device | str) -> Block:
        return replace(
            self,
            edge_index=self.edge_index.to(device),
            edge_weight=None if self.edge_weight is None else self.edge_weight.to(device),
            e_id=None if self.e_id is None else self.e_id.to(device),
            dst_index=None if self.dst_index is None else self.dst_index.to(device),
            history=None if self.history is None else self.history.to(device),
            skip=None if self.skip is None else self.skip.to(device),
        )

    def validate(self, index: int = 0, full: bool = True) -> None:
        """Check the block's own promises; ``full`` also scans ids and weights (O(E)).

        Raises:
            BatchContractError: Naming the block and what is wrong.
        """
        where = f"block {index}"
        num_src, num_dst = self.size
        if num_src < 0 or num_dst < 0:
            raise BatchContractError(f"{where}: negative size {self.size}")
        ei = self.edge_index
        if ei.dim() != 2 or ei.size(0) != 2 or ei.dtype != torch.long:
            raise BatchContractError(
                f"{where}: edge_index must be a [2, E] long tensor, got {ei.dtype} "
                f"{tuple(ei.shape)}"
            )
        if self.edge_weight is not None and self.edge_weight.shape != (ei.size(1),):
            raise BatchContractError(
                f"{where}: edge_weight has shape {tuple(self.edge_weight.shape)}, "
                f"expected ({ei.size(1)},)"
            )
        if self.e_id is not None:
            if self.e_id.shape != (ei.size(1),):
                raise BatchContractError(
                    f"{where}: e_id has shape {tuple(self.e_id.shape)}, expected "
                    f"({ei.size(1)},): one per edge"
                )
            if self.e_id.dtype != torch.long:
                raise BatchContractError(
                    f"{where}: e_id must be a long tensor, got {self.e_id.dtype}"
                )
        if self.dst_index is None:
            if num_dst > num_src:
                raise BatchContractError(
                    f"{where}: {num_dst} targets cannot be a prefix of {num_src} sources; "
                    "give dst_index"
                )
        elif self.dst_index.shape != (num_dst,) or self.dst_index.dtype != torch.long:
            raise BatchContractError(
                f"{where}: dst_index must be a [{num_dst}] long tensor, got "
                f"{self.dst_index.dtype} {tuple(self.dst_index.shape)}"
            )
        if self.history is not None:
            self.history.validate(where, self.size, full, num_edges=ei.size(1))
        if self.skip is not None:
            self._validate_skip(index, full)
        if not full:
            return
        if ei.numel():
            for row, bound, name in ((0, num_src, "source"), (1, num_dst, "target")):
                lo, hi = int(ei[row].min()), int(ei[row].max())
                if lo < 0 or hi >= bound:
                    raise BatchContractError(
                        f"{where}: {name} id {lo if lo < 0 else hi} is out of range [0, {bound})"
                    )
        if self.e_id is not None and self.e_id.numel() and int(self.e_id.min()) < -1:
            raise BatchContractError(
                f"{where}: e_id holds {int(self.e_id.min())}; an edge's id is >= 0, or -1 for "
                "an edge that is not in the graph"
            )
        if self.edge_weight is not None and not bool(torch.isfinite(self.edge_weight).all()):
            raise BatchContractError(f"{where}: edge_weight holds a non-finite value")
        if self.dst_index is not None and num_dst:
            lo, hi = int(self.dst_index.min()), int(self.dst_index.max())
            if lo < -1 or hi >= num_src:
                raise BatchContractError(
                    f"{where}: dst_index holds {lo if lo < -1 else hi}, outside [-1, {num_src})"
                )

    def _validate_skip(self, index: int, full: bool) -> None:
        """The skip block's own promises (its sources are checked by :meth:`Batch.validate`,
        which knows the block below)."""
        where = f"block {index}'s skip"
        skip = self.skip
        if not isinstance(skip, Block):
            raise TypeError(f"{where} must be a Block or None, got {type(skip).__name__}")
        if skip.skip is not None:
            raise BatchContractError(f"{where} has a skip block of its own")
        if not skip.weights_final:
            raise BatchContractError(
                f"{where}: its weights must be final (two-hop coefficients, not renormalised)"
            )
        if skip.size[1] != self.size[1]:
            raise BatchContractError(
                f"{where} has {skip.size[1]} targets but the block has {self.size[1]}"
            )
        try:
            skip.validate(index, full=full)
        except BatchContractError as err:
            raise BatchContractError(f"{where}: {err}") from err


@dataclass
class Batch:
    """What one call of a sampler returns.

    Attributes:
        n_id: ``[N_in]`` global ids of block 0's sources; ``x_in = x[batch.n_id]``. Ids may
            repeat when a method builds disjoint subgraphs (ShaDow).
        blocks: One :class:`Block` per layer, input layer first.
        target: ``[B]`` global ids of the nodes whose loss counts; the first ``B`` targets of
            the last block.
        loss_weight: ``[B]`` per-target loss weights, or ``None``. With weights the batch
            loss is ``(loss_weight * per_target_loss).sum()``; without, the mean.
        node_batch: ``[N_in]`` which disjoint subgraph each input node belongs to (ShaDow),
            else ``None``.
        num_sampled_nodes: Nodes added per hop (node-wise methods), seeds first, else
            ``None``: ``n_id`` numbers nodes hop by hop, so these are its segments.
        num_sampled_edges: Edges sampled per hop (GraphSAGE, PinSAGE), hop 1 (the edges
            into the seeds) first, else ``None``: the edges are listed hop by hop, and block
            ``i`` of ``L`` holds those of hops ``1 .. L - i``. Both counts follow PyG's
            ``NeighborLoader`` (``len(num_sampled_edges) == len(num_sampled_nodes) - 1``), for
            its ``trim_to_layer``.
        nested: Whether the blocks nest (targets a prefix of the sources, block 0 holds every
            edge), so that :meth:`subgraph` is the whole computation graph.
        layer_n_id: For batches that do not nest, ``[size[0]]`` global ids of each block's
            sources (``layer_n_id[0] == n_id``), else ``None``.
    """

    n_id: Tensor
    blocks: list[Block]
    target: Tensor
    loss_weight: Tensor | None = None
    node_batch: Tensor | None = None
    num_sampled_nodes: list[int] | None = field(default=None)
    nested: bool = True
    layer_n_id: list[Tensor] | None = None
    num_sampled_edges: list[int] | None = field(default=None)

    @property
    def num_targets(self) -> int:
        return int(self.target.numel())

    @property
    def num_edges(self) -> int:
        """Edges the batch computes on: block 0's when nested, else all blocks' together
        (skip blocks included)."""
        if self.nested:
            return self.blocks[0].num_edges
        return sum(b.num_edges + (0 if b.skip is None else b.skip.num_edges) for b in self.blocks)

    @property
    def weights_final(self) -> bool:
        """Whether every block's weights are final (see the module docstring)."""
        return all(b.weights_final for b in self.blocks)

    def subgraph(self, *, final_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """The union of the blocks as a graph on ``n_id``: ``(edge_index, edge_weight)``.

        Block 0 holds every edge of the later blocks, so this is block 0's edges.

        Args:
            final_weights: Whether the caller aggregates final weights as they are (see
                :attr:`weights_final`): PyG's ``GCN(..., normalize=False)``, or
                :func:`~spikegraph.train.minibatch.batch_logits`, which does so for you.
                Final weights (GraphSAINT's coefficients, Cluster-GCN's diagonal
                enhancement) are handed out only then: a model that normalises them, as
                PyG's ``GCN`` does by default, computes another aggregation than the
                estimator's, without an error.

        Raises:
            BatchContractError: The blocks do not nest (a layer-wise batch), so no single
                graph on ``n_id`` is the batch's computation graph: run the model on the
                blocks (``forward_blocks``, ``mode="blocks"``); or the weights are final
                and ``final_weights`` is not set.
        """
        if not self.nested:
            raise BatchContractError(
                "this batch's blocks do not nest (each layer samples its own nodes), so it "
                "has no single subgraph: run the model on its blocks (mode='blocks')"
            )
        block = self.blocks[0]
        if block.weights_final and not final_weights:
            raise BatchContractError(
                "this batch's edge weights are final (the estimator's coefficients, "
                "self-loops included): a model that normalises them, as PyG's GCN does by "
                "default, computes another aggregation than the estimator's. Aggregate them "
                "as they are (GCN(..., normalize=False), or "
                "spikegraph.train.minibatch.batch_logits) and take them with "
                "subgraph(final_weights=True)"
            )
        return block.edge_index, block.edge_weight

    def validate(self, full: bool = True) -> Batch:
        """Check the contract of the module docstring. Returns the batch.

        Always (O(number of blocks), as the :class:`~spikegraph.samplers.Loader` runs it on
        every batch): the shapes and dtypes of ``n_id``, ``target``, ``loss_weight``,
        ``node_batch``, ``layer_n_id`` and of every block (``edge_index``, ``edge_weight``,
        ``e_id``, ``dst_index``), the chain of blocks, and that a nested batch's targets are
        prefixes. With ``full`` (O(N + E)) also every id and weight:

        - edge ids within their blocks, ``dst_index`` in ``[-1, num_src)``, ``e_id >= -1``,
          weights and ``loss_weight`` finite;
        - ``n_id``, ``target`` and ``layer_n_id`` non-negative; ``n_id`` distinct (within
          each subgraph of ``node_batch`` when it is set), ``target`` distinct;
        - nested batches: ``target == n_id[:len(target)]``, every later block's edges are
          edges of block 0, ``layer_n_id[i]`` (if given) is a prefix of ``n_id``;
        - batches that do not nest: ``layer_n_id[0] == n_id``, and each block's targets
          (``layer_n_id[i + 1]``, the last block's: ``target``) sit at the source rows
          ``dst_index`` names (the first rows when it is ``None``).

        Raises:
            BatchContractError: Naming the field or block, and the bad value.
        """
        if not self.blocks:
            raise BatchContractError("a batch needs at least one block")
        for name, ids in (("n_id", self.n_id), ("target", self.target)):
            if ids.dim() != 1 or ids.dtype != torch.long:
                raise BatchContractError(
                    f"{name} must be a 1-D long tensor, got {ids.dtype} {tuple(ids.shape)}"
                )
        if self.n_id.numel() != self.blocks[0].size[0]:
            raise BatchContractError(
                f"n_id holds {self.n_id.numel()} ids but block 0 has "
                f"{self.blocks[0].size[0]} sources"
            )
        for i, block in enumerate(self.blocks):
            block.validate(i, full=full)
            if block.skip is not None:
                if i == 0:
                    raise BatchContractError(
                        "block 0 has a skip block: a skip connection joins block i - 1's "
                        "sources to block i's targets, so only blocks i >= 1 can have one"
                    )
                if block.skip.size[0] != self.blocks[i - 1].size[0]:
                    raise BatchContractError(
                        f"block {i}'s skip has {block.skip.size[0]} sources but block {i - 1} "
                        f"has {self.blocks[i - 1].size[0]}: a skip block starts at the sources "
                        "of the block below"
                    )
            if i + 1 < len(self.blocks) and block.size[1] != self.blocks[i + 1].size[0]:
                raise BatchContractError(
                    f"block {i} has {block.size[1]} targets but block {i + 1} has "
                    f"{self.blocks[i + 1].size[0]} sources: the blocks do not chain"
                )
        if self.num_targets > self.blocks[-1].size[1]:
            raise BatchContractError(
                f"{self.num_targets} targets but the last block has only {self.blocks[-1].size[1]}"
            )
        if self.nested and any(not b.targets_are_prefix for b in self.blocks):
            raise BatchContractError(
                "a nested batch must have each block's targets as a prefix of its sources "
                "(dst_index=None)"
            )
        if self.loss_weight is not None and self.loss_weight.shape != (self.num_targets,):
            raise BatchContractError(
                f"loss_weight has shape {tuple(self.loss_weight.shape)}, expected "
                f"({self.num_targets},): one per target"
            )
        if self.node_batch is not None and self.node_batch.shape != self.n_id.shape:
            raise BatchContractError(
                f"node_batch holds {self.node_batch.numel()} entries for "
                f"{self.n_id.numel()} nodes in n_id"
            )
        if self.layer_n_id is not None:
            if len(self.layer_n_id) != len(self.blocks):
                raise BatchContractError(
                    f"layer_n_id has {len(self.layer_n_id)} entries for {len(self.blocks)} blocks"
                )
            for i, (ids, block) in enumerate(zip(self.layer_n_id, self.blocks)):
                if ids.numel() != block.size[0]:
                    raise BatchContractError(
                        f"layer_n_id[{i}] holds {ids.numel()} ids for {block.size[0]} sources"
                    )
        if self.num_sampled_edges is not None:
            self._validate_hops()
        if full:
            self._validate_ids()
        return self

    def _validate_hops(self) -> None:
        """``num_sampled_edges`` against ``num_sampled_nodes`` and the blocks: one count per
        hop, and block ``i`` of ``L`` holds the edges of hops ``1 .. L - i``."""
        edges, nodes = self.num_sampled_edges, self.num_sampled_nodes
        if nodes is None or len(edges) != len(nodes) - 1:
            hops = None if nodes is None else len(nodes) - 1
            raise BatchContractError(
                f"num_sampled_edges has {len(edges)} entries for {hops} hops "
                f"(num_sampled_nodes={nodes}): one per hop, as in PyG"
            )
        if not self.nested:
            return
        hops = len(self.blocks)
        for i, block in enumerate(self.blocks):
            want = sum(edges[: hops - i]) if len(edges) == hops else None
            if want is None or block.num_edges != want:
                raise BatchContractError(
                    f"block {i} holds {block.num_edges} edges but num_sampled_edges={edges} "
                    f"gives {want} to it (the edges of hops 1..{hops - i})"
                )

    def _validate_ids(self) -> None:
        """The O(N + E) part of :meth:`validate` on ids (the structure is checked)."""
        named = [("n_id", self.n_id), ("target", self.target)]
        named += [(f"layer_n_id[{i}]", ids) for i, ids in enumerate(self.layer_n_id or [])]
        for name, ids in named:
            if ids.numel() and int(ids.min()) < 0:
                raise BatchContractError(f"{name} holds {int(ids.min())}, a negative node id")
        if self.loss_weight is not None and not bool(torch.isfinite(self.loss_weight).all()):
            bad = self.loss_weight[~torch.isfinite(self.loss_weight)][0].item()
            raise BatchContractError(f"loss_weight holds a non-finite value ({bad})")
        if self.node_batch is None:
            _check_distinct(self.n_id, "n_id")
        else:
            pairs = torch.stack([self.node_batch.long(), self.n_id])
            uniq, counts = torch.unique(pairs, dim=1, return_counts=True)
            if uniq.size(1) != self.n_id.numel():
                sub, node = uniq[:, counts > 1][:, 0].tolist()
                raise BatchContractError(
                    f"n_id holds node {node} more than once in subgraph {sub} (node_batch)"
                )
        _check_distinct(self.target, "target")
        num_targets = self.num_targets
        if self.nested:
            if not torch.equal(self.target, self.n_id[:num_targets]):
                raise BatchContractError(
                    f"target {_show(self.target)} is not n_id[:{num_targets}] = "
                    f"{_show(self.n_id[:num_targets])}: a nested batch lists its targets first"
                )
            for i, ids in enumerate(self.layer_n_id or []):
                if not torch.equal(ids, self.n_id[: ids.numel()]):
                    raise BatchContractError(
                        f"layer_n_id[{i}] {_show(ids)} is not n_id[:{ids.numel()}] = "
                        f"{_show(self.n_id[: ids.numel()])}: a nested batch's layers are "
                        "prefixes of n_id"
                    )
            self._validate_nesting()
        elif self.layer_n_id is not None:
            if not torch.equal(self.layer_n_id[0], self.n_id):
                raise BatchContractError(
                    f"layer_n_id[0] {_show(self.layer_n_id[0])} is not n_id {_show(self.n_id)}"
                )
            for i, block in enumerate(self.blocks):
                last = i + 1 == len(self.blocks)
                dst = self.target if last else self.layer_n_id[i + 1]
                _check_target_rows(block, i, self.layer_n_id[i], dst, last)

    def _validate_nesting(self) -> None:
        """Every later block's edges are edges of block 0 (local ids, already in range)."""
        first = self.blocks[0]
        num_src = first.size[0]
        key0 = first.edge_index[0] * num_src + first.edge_index[1]
        for i, block in enumerate(self.blocks[1:], start=1):
            if block is first or not block.num_edges:
                continue
            key = block.edge_index[0] * num_src + block.edge_index[1]
            missing = (~torch.isin(key, key0)).nonzero().view(-1)
            if missing.numel():
                u, v = block.edge_index[:, int(missing[0])].tolist()
                raise BatchContractError(
                    f"block {i}'s edge {u} -> {v} (local ids) is not in block 0: a nested "
                    "batch's block 0 holds every edge of the later blocks"
                )

    def to(self, device: torch.device | str) -> Batch:
        return replace(
            self,
            n_id=self.n_id.to(device),
            blocks=[b.to(device) for b in self.blocks],
            target=self.target.to(device),
            loss_weight=None if self.loss_weight is None else self.loss_weight.to(device),
            node_batch=None if self.node_batch is None else self.node_batch.to(device),
            layer_n_id=(
                None if self.layer_n_id is None else [t.to(device) for t in self.layer_n_id]
            ),
        )

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{b.size[0]}->{b.size[1]} ({b.num_edges} edges"
            + (", final" if b.weights_final else "")
            + ("" if b.skip is None else f", skip {b.skip.num_edges} edges")
            + ")"
            for b in self.blocks
        )
        return (
            f"Batch(n_id={self.n_id.numel()}, target={self.num_targets}, blocks=[{sizes}], "
            f"nested={self.nested}, "
            f"loss_weight={'yes' if self.loss_weight is not None else 'None'})"
        )


def _show(ids: Tensor, limit: int = 8) -> str:
    """A short listing of ids for an error message."""
    values = ids[:limit].tolist()
    more = ", ..." if ids.numel() > limit else ""
    return f"[{', '.join(map(str, values))}{more}]"


def _check_distinct(ids: Tensor, name: str) -> None:
    """Raise naming the first id that ``ids`` holds more than once."""
    uniq, counts = torch.unique(ids, return_counts=True)
    if uniq.numel() != ids.numel():
        raise BatchContractError(f"{name} holds node {int(uniq[counts > 1][0])} more than once")


def _check_target_rows(block: Block, index: int, src: Tensor, dst: Tensor, last: bool) -> None:
    """In a batch that does not nest, each of block ``index``'s targets whose global id is
    known (``dst``: the next layer's sources, or the batch's targets for the last block) is
    the node at the source row ``dst_index`` names (the same row when ``None``)."""
    name = "target" if last else f"layer_n_id[{index + 1}]"
    n = dst.numel()
    if not n or not src.numel():  # no target, or none among the (no) sources
        return
    if block.dst_index is None:
        rows, has = torch.arange(n), torch.ones(n, dtype=torch.bool)
        where = "source row"
    else:
        rows = block.dst_index[:n]
        has = rows >= 0
        where = "dst_index row"
    bad = (has & (src[rows.clamp(min=0)] != dst)).nonzero().view(-1)
    if bad.numel():
        j = int(bad[0])
        row = int(rows[j])
        raise BatchContractError(
            f"block {index}'s target {j} is node {int(dst[j])} ({name}) but its {where} {row} "
            f"is node {int(src[row])}"
        )


def check_block_count(blocks: Any, num_layers: int) -> None:
    """Refuse a list of blocks that is not one per layer of a ``num_layers``-layer model,
    saying how a sampler is built for that many layers."""
    if len(blocks) != num_layers:
        raise ValueError(
            f"Got {len(blocks)} blocks for a model with num_layers={num_layers}: a sampler "
            f"draws one block per layer, so build it for {num_layers} (num_neighbors or "
            f"layer_sizes with {num_layers} entries, or num_layers={num_layers})"
        )


__all__ = [
    "MODES",
    "Batch",
    "BatchContractError",
    "Block",
    "check_block_count",
    "default_mode",
    "resolve_mode",
]
