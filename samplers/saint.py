"""GraphSAINT (Zeng et al., ICLR 2020): node, edge and random-walk subgraph samplers."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import torch
from torch import Tensor

from samplers.base import GraphInput, SubgraphSampler, check_int
from samplers.batch import Batch
from samplers.graph import CSRGraph, random_walk

log = logging.getLogger(__name__)

#: Cells (subgraphs x nodes) of the scratch maps used to pre-sample many subgraphs at once.
_PRESAMPLE_CELLS = 2**22


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


#: Subgraphs per machine word in the bitwise edge count (63: the sign bit stays clear).
_WORD = 63
_M1, _M2, _M4, _H01 = 0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x0101010101010101


def popcount64(x: Tensor) -> Tensor:
    """Number of set bits of every non-negative int64 (SWAR; no per-element loop)."""
    x = x - ((x >> 1) & _M1)
    x = (x & _M2) + ((x >> 2) & _M2)
    x = (x + (x >> 4)) & _M4
    return (x * _H01) >> 56


def _edge_hits_bitwise(sid: Tensor, node: Tensor, num_nodes: int, edge_index: Tensor) -> Tensor:
    """Per edge, in how many of (up to 63) subgraphs both ends lie: bit ``s`` of a node's word
    says it is in subgraph ``s``; an edge counts the set bits of the AND of its ends' words.
    Costs ``O(E)`` however large the subgraphs are. Pairs must be distinct."""
    bits = torch.zeros(num_nodes, dtype=torch.long).index_add_(0, node, torch.ones_like(sid) << sid)
    both = bits.index_select(0, edge_index[0]) & bits.index_select(0, edge_index[1])
    return popcount64(both)


def _edge_hits_by_segments(
    csr: CSRGraph, flat: Tensor, node: Tensor, counts: Tensor, mark: Tensor
) -> Tensor:
    """CSR positions of the edges induced in their subgraph, one entry per (subgraph, edge):
    walk the in-edge segments of every distinct (subgraph, node) pair (``flat = sid * N +
    node``) and look the source up in ``mark`` (cells of the pairs). Costs ``O(sum of
    degrees)``; the caller counts the positions once at the end (a count per chunk would cost
    ``O(E)`` each time)."""
    mark[flat] = True
    starts = csr.rowptr.index_select(0, node)
    shift = torch.repeat_interleave(starts - (torch.cumsum(counts, 0) - counts), counts)
    pos = torch.arange(shift.numel()) + shift
    base = torch.repeat_interleave(flat - node, counts)
    hit = mark.index_select(0, base + csr.col.index_select(0, pos))
    mark[flat] = False
    return pos.masked_select(hit)


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
        self.norms: SaintNorms = self._preprocess(
            "norms", {"coverage": sample_coverage, **self._options()}, self._presample
        )

    def _check_options(self) -> None:
        """Validate method options (before pre-sampling)."""

    def _options(self) -> dict:
        return {}

    def _draw(self, count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Nodes of ``count`` subgraphs as ``(sid, node)`` pairs (repeats allowed)."""
        raise NotImplementedError

    def _expected_draws(self) -> float:
        """Roughly how many distinct nodes one subgraph has (sizes pre-sampling chunks)."""
        raise NotImplementedError

    def _presample(self) -> SaintNorms:
        gen = self.generator
        n, csr = self.num_nodes, self.csr
        node_count = torch.zeros(n, dtype=torch.long)
        hits: list[Tensor] = []
        edge_count = torch.zeros(self.num_edges, dtype=torch.long)
        goal = self.sample_coverage * n
        drawn, num_samples, targets = 0, 0, 0
        max_chunk = max(1, _PRESAMPLE_CELLS // n)
        if max_chunk >= _WORD:
            max_chunk = max_chunk // _WORD * _WORD
        stamp = mark = None
        while drawn < goal:
            want = math.ceil((goal - drawn) / max(self._expected_draws(), 1.0))
            count = min(max(want, 1), max_chunk)
            if self._expected_draws() * self._mean_degree() > 2 * self.num_edges / _WORD:
                count = min(count, _WORD)  # dense subgraphs: the bitwise path pays off
            if stamp is None or stamp.numel() < count * n:
                stamp = torch.empty(count * n, dtype=torch.long)
                mark = torch.zeros(count * n, dtype=torch.bool)
            sid, node = self._draw(count, gen)
            flat = sid * n + node
            # Distinct (subgraph, node) pairs without sorting: one winner per cell.
            stamp[flat] = torch.arange(flat.numel())
            flat = flat[stamp.index_select(0, flat) == torch.arange(flat.numel())]
            node = flat % n
            node_count += torch.bincount(node, minlength=n)
            counts = csr.deg.index_select(0, node)
            if count <= _WORD and 2 * self.num_edges < int(counts.sum()):
                # Few edges for many candidates: one bit per subgraph, AND over all edges.
                edge_count += _edge_hits_bitwise(flat // n, node, n, self.edge_index)
            else:
                hits.append(_edge_hits_by_segments(csr, flat, node, counts, mark))
            drawn += node.numel()
            targets += int(self.target_mask.index_select(0, node).sum())
            num_samples += count
        if hits:
            csr_count = torch.bincount(torch.cat(hits), minlength=self.num_edges)
            edge_count.index_add_(0, csr.eid, csr_count)
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
        edge_norm, node_norm = saint_norms(
            node_count, edge_count, self.edge_index[1], num_samples, self.target_mask
        )
        return SaintNorms(
            edge_norm=edge_norm,
            node_norm=node_norm,
            node_count=node_count,
            edge_count=edge_count,
            num_samples=num_samples,
            mean_targets=targets / num_samples,
        )

    def _mean_degree(self) -> float:
        return self.num_edges / self.num_nodes

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

    def __init__(self, graph: GraphInput, budget: int, **kwargs) -> None:
        self.budget = check_int(budget, "budget", 1)
        super().__init__(graph, **kwargs)

    def _options(self) -> dict:
        return {"budget": self.budget}

    def _expected_draws(self) -> float:
        return float(self.budget)

    def _node_cdf(self) -> Tensor:
        if not hasattr(self, "_cdf"):
            deg_in = self.csr.deg.to(torch.float64) + 1
            deg_out = torch.bincount(self.edge_index[0], minlength=self.num_nodes).double() + 1
            src, dst = self.edge_index
            sq = 1.0 / (deg_out.index_select(0, src) * deg_in.index_select(0, dst))
            p = torch.zeros(self.num_nodes, dtype=torch.float64).index_add_(0, src, sq)
            p += 1.0 / (deg_out * deg_in)
            self._cdf = torch.cumsum(p / p.sum(), 0)
        return self._cdf

    def _draw(self, count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        r = torch.rand(count * self.budget, generator=gen, dtype=torch.float64)
        node = torch.searchsorted(self._node_cdf(), r).clamp(max=self.num_nodes - 1)
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

    def _edge_cdf(self) -> Tensor:
        if not hasattr(self, "_cdf"):
            src, dst = self.edge_index
            deg_out = torch.bincount(src, minlength=self.num_nodes).double()
            deg_in = self.csr.deg.double()
            p = 1.0 / deg_out.index_select(0, src) + 1.0 / deg_in.index_select(0, dst)
            self._cdf = torch.cumsum(p / p.sum(), 0)
        return self._cdf

    def _draw(self, count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        cdf = self._edge_cdf()
        r = torch.rand(count * self.budget, generator=gen, dtype=torch.float64)
        e = torch.searchsorted(cdf, r).clamp(max=self.num_edges - 1)
        sid = torch.arange(count).repeat_interleave(self.budget).repeat(2)
        node = torch.cat(
            [self.edge_index[0].index_select(0, e), self.edge_index[1].index_select(0, e)]
        )
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
    "saint_norms",
]
