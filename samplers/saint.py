"""GraphSAINT (Zeng et al., ICLR 2020): node, edge and random-walk subgraph samplers."""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from ._kernels import WORD, saint_count, saint_count_words
from .alias import AliasTable, alias_table
from .base import (
    GraphInput,
    SubgraphSampler,
    check_cached_number,
    check_cached_tensor,
    check_int,
)
from .batch import Batch
from .graph import random_walk

log = logging.getLogger(__name__)

#: Node draws per pre-sampling chunk (bounds the memory of the drawn ids; at least 63
#: subgraphs per chunk).
_PRESAMPLE_DRAWS = 2**21


@dataclass
class SaintNorms:
    """GraphSAINT's normalisations, estimated from pre-sampled subgraphs.

    Attributes:
        edge_norm: ``[E]`` aggregator normalisation ``1 / alpha_{u,v} = C_v / C_{u,v}`` of
            every edge ``u -> v``.
        node_norm: ``[N]`` loss normalisation ``1 / (lambda_v |targets|)`` with
            ``lambda_v = C_v / num_samples``.
        node_count: ``[N]`` ``C_v``, subgraphs containing ``v``.
        edge_count: ``[E]`` ``C_{u,v}``, subgraphs containing edge ``u -> v``.
        num_samples: Number of pre-sampled subgraphs.
        mean_targets: Mean number of targets per subgraph.
    """

    edge_norm: Tensor
    node_norm: Tensor
    node_count: Tensor
    edge_count: Tensor
    num_samples: int
    mean_targets: float


def saint_norms(
    node_count: Tensor,
    edge_count: Tensor,
    edge_dst: Tensor,
    num_samples: int,
    target_mask: Tensor,
) -> tuple[Tensor, Tensor]:
    """GraphSAINT's aggregator and loss normalisations from occurrence counts.

    Following Zeng et al. (Algorithm 2): ``alpha_{u,v} = C_{u,v} / C_v`` and
    ``lambda_v = C_v / N`` for ``N`` pre-sampled subgraphs. Then, with subgraph ``G_s``,
    ``E[sum_{u in N_s(v)} x_u / alpha_{u,v} | v in G_s] = sum_{u in N(v)} x_u`` and
    ``E[sum_{v in G_s} L_v / (lambda_v T)] = (1/T) sum_v L_v`` over the ``T`` targets.

    Counts of zero (a node or edge never drawn in pre-sampling, so its probability is below
    about ``1 / N``) are raised to one, which bounds the normalisation instead of making it
    infinite; the caller logs how many there were.

    Returns:
        ``(edge_norm [E], node_norm [N])``.
    """
    cv = node_count.clamp(min=1).to(torch.float64)
    cuv = edge_count.clamp(min=1).to(torch.float64)
    edge_norm = cv.index_select(0, edge_dst) / cuv
    num_targets = max(int(target_mask.sum()), 1)
    node_norm = num_samples / (cv * num_targets)
    return edge_norm.to(torch.float32), node_norm.to(torch.float32)


def saint_node_weights(edge_index: Tensor, num_nodes: int) -> Tensor:
    """GraphSAINT's node-sampler weights (Zeng et al., Sec. 3.3): ``||A_hat[:, u]||^2``.

    The squared norm of column ``u`` of ``A_hat = D_out^-1/2 (A + I) D_in^-1/2`` (degrees
    with the self-loop), i.e. ``sum over edges u -> v of 1 / (d_out(u) d_in(v))`` plus the
    self-loop's ``1 / (d_out(u) d_in(u))``, which keeps isolated nodes drawable.

    Returns:
        ``[num_nodes]`` float64, unnormalised.
    """
    src, dst = edge_index
    deg_in = torch.bincount(dst, minlength=num_nodes).double() + 1
    deg_out = torch.bincount(src, minlength=num_nodes).double() + 1
    sq = 1.0 / (deg_out.index_select(0, src) * deg_in.index_select(0, dst))
    p = torch.zeros(num_nodes, dtype=torch.float64).index_add_(0, src, sq)
    return p + 1.0 / (deg_out * deg_in)


def saint_edge_weights(edge_index: Tensor, num_nodes: int) -> Tensor:
    """GraphSAINT's edge-sampler weights (Zeng et al., Sec. 3.3): ``1 / d(u) + 1 / d(v)``
    for edge ``u -> v`` (out-degree of ``u``, in-degree of ``v``).

    Returns:
        ``[E]`` float64, unnormalised.
    """
    src, dst = edge_index
    deg_out = torch.bincount(src, minlength=num_nodes).double()
    deg_in = torch.bincount(dst, minlength=num_nodes).double()
    return 1.0 / deg_out.index_select(0, src) + 1.0 / deg_in.index_select(0, dst)


class GraphSAINTSampler(SubgraphSampler):
    """Base of the GraphSAINT samplers (Zeng, Zhou, Srivastava, Kannan & Prasanna,
    "GraphSAINT: Graph Sampling Based Inductive Learning Method", ICLR 2020).

    Every batch is the subgraph induced by the nodes a sampler draws. Bias is removed with the
    normalisations of :func:`saint_norms`, estimated once from pre-sampled subgraphs (enough
    that every node is drawn ``sample_coverage`` times on average) and carried by the batch:
    ``edge_weight = w_{u,v} / alpha_{u,v}`` (``w``: the graph's own weight, or one) and
    ``loss_weight = 1 / (lambda_v |targets|)``, so that the summed weighted loss is unbiased
    for the mean loss over the targets.

    Args:
        graph: ``Data`` or ``edge_index``.
        sample_coverage: Pre-sample until each node was drawn this often on average.
        num_steps: Batches per epoch (default: enough to cover the targets once in
            expectation).
        targets: Nodes whose loss counts (default: all).
        num_layers: Blocks per batch.
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: Keep the normalisations here.
    """

    def __init__(
        self,
        graph: GraphInput,
        *,
        sample_coverage: int = 50,
        num_steps: int | None = None,
        targets: Tensor | None = None,
        num_layers: int = 2,
        num_nodes: int | None = None,
        seed: int | torch.Generator = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(
            graph,
            targets=targets,
            num_layers=num_layers,
            num_nodes=num_nodes,
            seed=seed,
            cache_dir=cache_dir,
        )
        self.sample_coverage = check_int(sample_coverage, "sample_coverage", 1)
        self.num_steps = None if num_steps is None else check_int(num_steps, "num_steps", 1)
        self._check_options()
        start = time.perf_counter()
        self._prepare_draws()
        self.preprocess_times["draws"] = time.perf_counter() - start
        counts = self._preprocess(
            "norms",
            {"coverage": sample_coverage, "targets": self.target_mask, **self._options()},
            self._presample,
            self._check_counts,
            uses_generator=True,
        )
        self.norms: SaintNorms = self._norms_from_counts(counts)

    def _check_options(self) -> None:
        """Validate method options (before pre-sampling)."""

    def _prepare_draws(self) -> None:
        """Build what ``_draw`` needs (timed as the ``"draws"`` preprocessing step)."""

    def _options(self) -> dict:
        return {}

    def _draw(self, count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Nodes of ``count`` subgraphs as ``(sid, node)`` pairs (repeats allowed), grouped
        by subgraph: ``sid`` is non-decreasing."""
        raise NotImplementedError

    def _expected_draws(self) -> float:
        """Roughly how many distinct nodes one subgraph has (sizes pre-sampling chunks)."""
        raise NotImplementedError

    def _norms_from_counts(self, counts: dict) -> SaintNorms:
        """The normalisations of :func:`saint_norms` from pre-sampling counts."""
        edge_norm, node_norm = saint_norms(
            counts["node_count"],
            counts["edge_count"],
            self.edge_index[1],
            counts["num_samples"],
            self.target_mask,
        )
        return SaintNorms(
            edge_norm=edge_norm,
            node_norm=node_norm,
            node_count=counts["node_count"],
            edge_count=counts["edge_count"],
            num_samples=counts["num_samples"],
            mean_targets=counts["mean_targets"],
        )

    def _check_counts(self, counts: dict) -> None:
        """Cached pre-sampling counts: what :meth:`_presample` could have returned."""
        num_samples = check_cached_number(counts, "num_samples", int, 1)
        check_cached_number(counts, "mean_targets", float, 0.0, float(self.num_targets))
        node_count = check_cached_tensor(
            counts, "node_count", torch.int64, self.num_nodes, low=0, high=num_samples
        )
        edge_count = check_cached_tensor(
            counts, "edge_count", torch.int64, self.num_edges, low=0, high=num_samples
        )
        # A subgraph holding edge u -> v holds v.
        over = (edge_count > node_count.index_select(0, self.edge_index[1])).nonzero().view(-1)
        if over.numel():
            e = int(over[0])
            raise ValueError(
                f"'edge_count' counts edge {e} in {int(edge_count[e])} subgraphs, more often than "
                f"its target node {int(self.edge_index[1, e])} "
                f"({int(node_count[self.edge_index[1, e]])})"
            )

    def _presample(self) -> dict:
        """Pre-sample subgraphs; the counts :meth:`_norms_from_counts` turns into norms."""
        gen = self.generator
        n, csr = self.num_nodes, self.csr
        node_count = torch.zeros(n, dtype=torch.long)
        csr_count = torch.zeros(self.num_edges, dtype=torch.long)
        goal = self.sample_coverage * n
        drawn, num_samples, targets = 0, 0, 0
        expected = max(self._expected_draws(), 1.0)
        # One pass over the graph per 63 subgraphs, or one pass over each subgraph's in-edges:
        # the first when 63 subgraphs touch about as many in-edges as the graph has nodes.
        words = WORD * expected * (self.num_edges / n + 1) >= n
        kernel, scratch = (
            (saint_count_words, torch.zeros(n, dtype=torch.long))
            if words
            else (saint_count, torch.zeros(n, dtype=torch.bool))
        )
        max_chunk = max(1, int(_PRESAMPLE_DRAWS // expected) // WORD) * WORD
        while drawn < goal:
            count = min(max(math.ceil((goal - drawn) / expected), 1), max_chunk)
            sid, node = self._draw(count, gen)
            ptr = torch.zeros(count + 1, dtype=torch.long)
            torch.cumsum(torch.bincount(sid, minlength=count), 0, out=ptr[1:])
            distinct, hit_targets = kernel(
                csr.rowptr.numpy(),
                csr.col.numpy(),
                ptr.numpy(),
                node.numpy(),
                self.target_mask.numpy(),
                scratch.numpy(),
                node_count.numpy(),
                csr_count.numpy(),
            )
            drawn += distinct
            targets += hit_targets
            num_samples += count
        edge_count = torch.zeros(self.num_edges, dtype=torch.long)
        edge_count.index_put_((csr.eid,), csr_count)
        unseen_nodes = int((node_count == 0).sum())
        unseen_edges = int((edge_count == 0).sum())
        if unseen_nodes or unseen_edges:
            log.warning(
                "%d of %d nodes and %d of %d edges never drawn in %d pre-sampled subgraphs; "
                "their counts are taken as 1",
                unseen_nodes,
                n,
                unseen_edges,
                self.num_edges,
                num_samples,
            )
        return {
            "node_count": node_count,
            "edge_count": edge_count,
            "num_samples": int(num_samples),
            "mean_targets": float(targets / num_samples),
        }

    @property
    def batches_per_epoch(self) -> int:
        if self.num_steps is not None:
            return self.num_steps
        return max(1, math.ceil(self.num_targets / max(self.norms.mean_targets, 1e-12)))

    def sample(self, *, generator: torch.Generator | None = None) -> Batch:
        """One subgraph with GraphSAINT's normalisations."""
        _, nodes = self._draw(1, self._generator(generator))
        nodes = torch.unique(nodes)
        norms = self.norms
        return self._subgraph_batch(
            nodes,
            extra=lambda src, dst, e_id: norms.edge_norm.index_select(0, e_id),
            loss_weight=lambda target: norms.node_norm.index_select(0, target),
        )

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self._options().items())
        return f"{type(self).__name__}(num_nodes={self.num_nodes}, {opts})"


class GraphSAINTNodeSampler(GraphSAINTSampler):
    """GraphSAINT's node sampler: ``budget`` draws with replacement, node ``u`` drawn with
    probability proportional to ``||A_hat[:, u]||^2``, the squared column norm of the
    normalised adjacency ``A_hat = D_hat^-1/2 (A + I) D_hat^-1/2`` (Zeng et al., Sec. 3.3;
    the self-loop keeps isolated nodes drawable).

    Args:
        budget: Node draws per subgraph.
        **kwargs: See :class:`GraphSAINTSampler`.
    """

    name = "graphsaint-node"
    default_options: ClassVar[dict[str, Any]] = {"budget": 6000, "sample_coverage": 50}

    def __init__(self, graph: GraphInput, budget: int, **kwargs) -> None:
        self.budget = check_int(budget, "budget", 1)
        super().__init__(graph, **kwargs)

    def _options(self) -> dict:
        return {"budget": self.budget}

    def _expected_draws(self) -> float:
        return float(self.budget)

    def _prepare_draws(self) -> None:
        # Walker's alias table of the node distribution: O(1) per draw.
        self._table: AliasTable = alias_table(saint_node_weights(self.edge_index, self.num_nodes))

    def _draw(self, count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        node = self._table.draw(count * self.budget, gen)
        sid = torch.arange(count).repeat_interleave(self.budget)
        return sid, node


class GraphSAINTEdgeSampler(GraphSAINTSampler):
    """GraphSAINT's edge sampler: ``budget`` edge draws with replacement, edge ``u -> v``
    drawn with probability proportional to ``1 / deg(u) + 1 / deg(v)`` (Zeng et al., Sec.
    3.3); the subgraph is induced by the drawn edges' end points.

    Args:
        budget: Edge draws per subgraph.
        **kwargs: See :class:`GraphSAINTSampler`.
    """

    name = "graphsaint-edge"
    default_options: ClassVar[dict[str, Any]] = {"budget": 4000, "sample_coverage": 50}

    def __init__(self, graph: GraphInput, budget: int, **kwargs) -> None:
        self.budget = check_int(budget, "budget", 1)
        super().__init__(graph, **kwargs)

    def _check_options(self) -> None:
        if self.num_edges == 0:
            raise ValueError("GraphSAINT's edge sampler needs a graph with at least one edge")

    def _options(self) -> dict:
        return {"budget": self.budget}

    def _expected_draws(self) -> float:
        return 2.0 * self.budget

    def _prepare_draws(self) -> None:
        # Walker's alias table of the edge distribution: O(1) per draw.
        self._table: AliasTable = alias_table(saint_edge_weights(self.edge_index, self.num_nodes))

    def _draw(self, count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        e = self._table.draw(count * self.budget, gen)
        sid = torch.arange(count).repeat_interleave(2 * self.budget)
        # Both end points of each drawn edge, next to each other: grouped by subgraph.
        node = self.edge_index.index_select(1, e).t().reshape(-1)
        return sid, node


class GraphSAINTRandomWalkSampler(GraphSAINTSampler):
    """GraphSAINT's random-walk sampler: ``num_roots`` roots drawn uniformly, one walk of
    ``walk_length`` steps from each; the subgraph is induced by the visited nodes (Zeng et
    al., Sec. 3.3). Walks follow in-edges and end at nodes without in-neighbours.

    Args:
        num_roots: Walk roots per subgraph.
        walk_length: Steps per walk (``>= 1``).
        **kwargs: See :class:`GraphSAINTSampler`.
    """

    name = "graphsaint-rw"
    default_options: ClassVar[dict[str, Any]] = {
        "num_roots": 2000,
        "walk_length": 2,
        "sample_coverage": 50,
    }

    def __init__(self, graph: GraphInput, num_roots: int, walk_length: int = 2, **kwargs) -> None:
        self.num_roots = check_int(num_roots, "num_roots", 1)
        self.walk_length = check_int(walk_length, "walk_length", 1)
        super().__init__(graph, **kwargs)

    def _options(self) -> dict:
        return {"num_roots": self.num_roots, "walk_length": self.walk_length}

    def _expected_draws(self) -> float:
        return float(self.num_roots * (self.walk_length + 1))

    def _draw(self, count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        roots = torch.randint(0, self.num_nodes, (count * self.num_roots,), generator=gen)
        walks = random_walk(self.csr, roots, self.walk_length, gen)
        sid = torch.arange(count).repeat_interleave(self.num_roots)
        sid = sid.unsqueeze(1).expand_as(walks).reshape(-1)
        node = walks.reshape(-1)
        ok = (node >= 0).nonzero().view(-1)
        return sid.index_select(0, ok), node.index_select(0, ok)


__all__ = [
    "GraphSAINTEdgeSampler",
    "GraphSAINTNodeSampler",
    "GraphSAINTRandomWalkSampler",
    "GraphSAINTSampler",
    "SaintNorms",
    "saint_edge_weights",
    "saint_node_weights",
    "saint_norms",
]
