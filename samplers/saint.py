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

#: Default ``sample_coverage`` of estimated norms: relative standard errors of about 3.5%
#: (median) and at most 8.1% on PubMed with the random-walk sampler's defaults (50 gives 10.9%
#: and 37.9%; ``benchmarks/saint_norms.py``).
DEFAULT_COVERAGE = 500

#: Node draws per pre-sampling chunk (bounds the memory of the drawn ids; at least 63
#: subgraphs per chunk).
_PRESAMPLE_DRAWS = 2**21


@dataclass
class SaintNorms:
    """GraphSAINT's normalisations (Zeng et al., Sec. 3.2 and Algorithm 2).

    Attributes:
        edge_norm: ``[E]`` aggregator normalisation ``1 / alpha_{u,v} = P_v / P_{u,v}`` of
            every edge ``u -> v`` (``0`` for an edge no subgraph can hold).
        node_norm: ``[N]`` loss normalisation ``1 / (lambda_v |targets|)`` with
            ``lambda_v = P_v`` (``0`` for a node no subgraph can hold).
        node_prob: ``[N]`` ``P_v``, the probability that a subgraph holds ``v``: exact for the
            closed forms, ``C_v / num_samples`` when estimated.
        edge_prob: ``[E]`` ``P_{u,v}``, the probability that a subgraph holds edge ``u -> v``.
        num_samples: Pre-sampled subgraphs (``0`` for the closed forms).
        mean_targets: Expected number of targets per subgraph.
        node_count: ``[N]`` ``C_v``, pre-sampled subgraphs containing ``v`` (``None`` for the
            closed forms).
        edge_count: ``[E]`` ``C_{u,v}``, pre-sampled subgraphs containing edge ``u -> v``
            (``None`` for the closed forms).
    """

    edge_norm: Tensor
    node_norm: Tensor
    node_prob: Tensor
    edge_prob: Tensor
    num_samples: int
    mean_targets: float
    node_count: Tensor | None = None
    edge_count: Tensor | None = None

    @property
    def exact(self) -> bool:
        """Whether the norms come from closed-form probabilities (no estimation error)."""
        return self.node_count is None


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


def inclusion_probability(p: Tensor, budget: int) -> Tensor:
    """``1 - (1 - p)^budget``: the probability that ``budget`` independent draws hit an event
    of probability ``p`` at least once (float64, accurate for tiny ``p``)."""
    p = p.to(torch.float64).clamp(0.0, 1.0)  # rounding of sums of probabilities only
    return -torch.expm1(budget * torch.log1p(-p))


def saint_node_probabilities(p: Tensor, budget: int, edge_index: Tensor) -> tuple[Tensor, Tensor]:
    """Exact inclusion probabilities of GraphSAINT's node sampler.

    ``budget`` independent draws of node ``u`` with probability ``p_u``; the subgraph is
    induced by the drawn nodes. Then ``P_v = 1 - (1 - p_v)^B`` and, by inclusion-exclusion,
    for ``u != v``: ``P_{u,v} = 1 - (1 - p_u)^B - (1 - p_v)^B + (1 - p_u - p_v)^B``; a
    self-loop ``v -> v`` is in the subgraph exactly when ``v`` is.

    Args:
        p: ``[N]`` draw probabilities (summing to one).
        budget: Draws per subgraph ``B``.
        edge_index: ``[2, E]``.

    Returns:
        ``(P_v [N], P_{u,v} [E])``, float64.
    """
    src, dst = edge_index
    p = p.to(torch.float64)
    node_prob = inclusion_probability(p, budget)
    pu, pv = p.index_select(0, src), p.index_select(0, dst)
    edge_prob = (
        node_prob.index_select(0, src)
        + node_prob.index_select(0, dst)
        - inclusion_probability(pu + pv, budget)
    )
    loop = src == dst
    edge_prob[loop] = node_prob.index_select(0, dst[loop])
    return node_prob, edge_prob


def saint_edge_probabilities(
    p: Tensor, budget: int, edge_index: Tensor, num_nodes: int
) -> tuple[Tensor, Tensor]:
    """Exact inclusion probabilities of GraphSAINT's edge sampler.

    ``budget`` independent draws of edge ``e`` with probability ``p_e``; the subgraph is
    induced by the drawn edges' end points. One draw touches node ``v`` with probability
    ``q_v`` (the sum of ``p_e`` over the edges at ``v``) and both ``u`` and ``v`` with
    probability ``q_{uv}`` (the sum over the edges between them, either direction), so
    ``P_v = 1 - (1 - q_v)^B`` and, for ``u != v``,
    ``P_{u,v} = 1 - (1 - q_u)^B - (1 - q_v)^B + (1 - q_u - q_v + q_{uv})^B``; a self-loop
    ``v -> v`` is in the subgraph exactly when ``v`` is.

    Args:
        p: ``[E]`` draw probabilities (summing to one).
        budget: Draws per subgraph ``B``.
        edge_index: ``[2, E]``.
        num_nodes: ``N``.

    Returns:
        ``(P_v [N], P_{u,v} [E])``, float64.
    """
    src, dst = edge_index
    p = p.to(torch.float64)
    loop = src == dst
    q = torch.zeros(num_nodes, dtype=torch.float64)
    q.index_add_(0, src, p).index_add_(0, dst[~loop], p[~loop])
    # q_{uv}: all edges between the same two end points, in either direction.
    pair = torch.minimum(src, dst) * num_nodes + torch.maximum(src, dst)
    _, inverse = torch.unique(pair, return_inverse=True)
    q_pair = torch.zeros(int(inverse.max()) + 1 if inverse.numel() else 0, dtype=torch.float64)
    q_pair.index_add_(0, inverse, p)
    q_uv = q_pair.index_select(0, inverse)
    node_prob = inclusion_probability(q, budget)
    qu, qv = q.index_select(0, src), q.index_select(0, dst)
    edge_prob = (
        node_prob.index_select(0, src)
        + node_prob.index_select(0, dst)
        - inclusion_probability(qu + qv - q_uv, budget)
    )
    edge_prob[loop] = node_prob.index_select(0, dst[loop])
    return node_prob, edge_prob


def saint_norms_from_probabilities(
    node_prob: Tensor, edge_prob: Tensor, edge_dst: Tensor, target_mask: Tensor
) -> tuple[Tensor, Tensor]:
    """GraphSAINT's normalisations from inclusion probabilities (Zeng et al., Sec. 3.2):
    ``1 / alpha_{u,v} = P_v / P_{u,v}`` and ``1 / (lambda_v T)`` with ``lambda_v = P_v``
    over the ``T`` targets.

    A node or edge of probability zero is never in a subgraph, so its normalisation is never
    used; it is set to ``0`` (the caller warns).

    Returns:
        ``(edge_norm [E], node_norm [N])``, float32.
    """
    pv = node_prob.index_select(0, edge_dst)
    edge_norm = torch.where(edge_prob > 0, pv / edge_prob.clamp(min=1e-300), 0.0)
    num_targets = max(int(target_mask.sum()), 1)
    node_norm = torch.where(node_prob > 0, 1.0 / (node_prob.clamp(min=1e-300) * num_targets), 0.0)
    return edge_norm.to(torch.float32), node_norm.to(torch.float32)


def gcn_coefficients(
    edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """The full graph's GCN operator ``Â = D^-1/2 (A + I) D^-1/2`` (Kipf & Welling, 2017),
    computed once with PyG's ``gcn_norm`` (self-loops added where missing, in-degrees of the
    targets), as GraphSAINT's estimator needs it (Zeng et al., Sec. 3.2).

    Returns:
        ``(coef [E], diag [N], has_loop [N])``, float64: ``Â``'s entry of every graph edge,
        its diagonal ``Â_vv``, and which nodes have a self-loop edge in the graph. A node's
        self-loop edges share ``Â_vv`` equally; the others need an added self-loop.
    """
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    w = None if edge_weight is None else edge_weight.to(torch.float64)
    _, norm = gcn_norm(edge_index, w, num_nodes, add_self_loops=True, dtype=torch.float64)
    src, dst = edge_index
    loop = src == dst
    num_plain = int((~loop).sum())
    diag = norm[num_plain:]
    coef = torch.empty(edge_index.size(1), dtype=torch.float64)
    coef[~loop] = norm[:num_plain]
    loops_at = torch.bincount(src[loop], minlength=num_nodes)
    coef[loop] = diag.index_select(0, src[loop]) / loops_at.index_select(0, src[loop])
    return coef, diag, loops_at > 0


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
    normalisations of Sec. 3.2: the aggregator normalisation ``alpha_{u,v} = P_{u,v} / P_v``
    and the loss normalisation ``lambda_v = P_v``, where ``P_v`` and ``P_{u,v}`` are the
    probabilities that a subgraph holds node ``v`` and edge ``u -> v``. The node and edge
    samplers compute them in closed form (:func:`saint_node_probabilities`,
    :func:`saint_edge_probabilities`; ``norms="exact"``, the default); the random-walk sampler
    estimates them from pre-sampled subgraphs (:func:`saint_norms`, enough that every node is
    drawn ``sample_coverage`` times on average) and warns when the counts are too small for
    ``norm_tolerance``.

    With ``final_weights=True`` (the default) every block carries the paper's estimator as
    final weights (``Block.weights_final``): ``edge_weight = Â_{v,u} / alpha_{u,v}``, where
    ``Â = D^-1/2 (A + I) D^-1/2`` is the *full graph's* GCN operator (graph edge weights
    included, :func:`gcn_coefficients`), and the block holds the self-loops ``v -> v`` of
    weight ``Â_{v,v}`` (``alpha_{v,v} = 1``; ``e_id = -1`` unless the graph has that loop).
    A layer aggregating ``sum_u w_{u,v} h_u`` then estimates ``(Â H)_v`` without bias for
    every node ``v`` of the subgraph (Proposition 3.1). With ``final_weights=False`` the
    blocks carry the raw multiplier ``w_{u,v} / alpha_{u,v}`` (``w``: the graph's weight, or
    one) for a model that normalises the subgraph itself, as before; that renormalisation
    inside the subgraph is biased.

    ``loss_weight = 1 / (lambda_v |targets|)``, so that the summed weighted loss is unbiased
    for the mean loss over the targets.

    Args:
        graph: ``Data`` or ``edge_index``.
        norms: ``"exact"`` (closed-form probabilities; node and edge samplers only) or
            ``"estimate"`` (counts over pre-sampled subgraphs).
        final_weights: Blocks carry ``Â / alpha`` as final weights (see above).
        sample_coverage: With ``norms="estimate"``: pre-sample until each node was drawn
            this often on average (given with exact norms: unused, and a warning says so).
            The default (:data:`DEFAULT_COVERAGE`, 500) gives relative standard errors of
            the norms of about 3.5% (median) and at most 8.1% on PubMed with the random-walk
            sampler's defaults; 50 (the paper's and the former default) gives 10.9% and
            37.9% (``benchmarks/saint_norms.py``).
        norm_tolerance: With ``norms="estimate"``: the relative standard error of the
            estimated ``1 / alpha`` and ``1 / lambda`` the user accepts; a warning says how
            many edges and nodes have too few counts for it.
        num_steps: Batches per epoch (default: enough to cover the targets once in
            expectation).
        targets: Nodes whose loss counts (default: all).
        num_layers: Blocks per batch.
        num_nodes: Required with an ``edge_index``.
        seed: Int or ``torch.Generator``.
        cache_dir: Keep estimated normalisations here.
    """

    #: Whether the method's inclusion probabilities have a closed form (``norms="exact"``,
    #: the default then); otherwise they are estimated (``norms="estimate"``).
    closed_form: ClassVar[bool] = True

    def __init__(
        self,
        graph: GraphInput,
        *,
        norms: str | None = None,
        final_weights: bool = True,
        sample_coverage: int | None = None,
        norm_tolerance: float = 0.1,
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
        if norms is None:
            norms = "exact" if self.closed_form else "estimate"
        if norms not in ("exact", "estimate"):
            raise ValueError(f"'norms' must be 'exact' or 'estimate', got {norms!r}")
        if norms == "exact" and not self.closed_form:
            raise ValueError(
                f"{type(self).__name__} has no closed-form norms: use norms='estimate'"
            )
        if not isinstance(final_weights, bool):
            raise TypeError(f"'final_weights' must be a bool, got {final_weights!r}")
        if isinstance(norm_tolerance, bool) or not isinstance(norm_tolerance, (int, float)):
            raise TypeError(f"'norm_tolerance' must be a number, got {norm_tolerance!r}")
        if not 0 < norm_tolerance < math.inf:
            raise ValueError(f"'norm_tolerance' must be > 0 and finite, got {norm_tolerance}")
        self.norm_mode = norms
        self.final_weights = final_weights
        if sample_coverage is not None and norms == "exact":
            log.warning(
                "%s: sample_coverage=%r is not used: the norms are exact (norms='exact'); "
                "pass norms='estimate' to estimate them from pre-sampled subgraphs",
                type(self).__name__,
                sample_coverage,
            )
        if sample_coverage is None:
            sample_coverage = DEFAULT_COVERAGE
        self.sample_coverage = check_int(sample_coverage, "sample_coverage", 1)
        self.norm_tolerance = float(norm_tolerance)
        self.num_steps = None if num_steps is None else check_int(num_steps, "num_steps", 1)
        self._check_options()
        start = time.perf_counter()
        self._prepare_draws()
        self.preprocess_times["draws"] = time.perf_counter() - start
        if norms == "exact":
            start = time.perf_counter()
            self.norms: SaintNorms = self._exact_norms()
            self.preprocess_times["norms"] = time.perf_counter() - start
        else:
            counts = self._preprocess(
                "norms",
                {"coverage": sample_coverage, "targets": self.target_mask, **self._options()},
                self._presample,
                self._check_counts,
                uses_generator=True,
            )
            self.norms = self._norms_from_counts(counts)
            self._warn_small_counts()
        if final_weights:
            start = time.perf_counter()
            coef, self._diag, has_loop = gcn_coefficients(
                self.edge_index, self.graph_edge_weight, self.num_nodes
            )
            self._final_weight = (coef * self.norms.edge_norm.to(torch.float64)).to(torch.float32)
            self._needs_loop = ~has_loop
            self.preprocess_times["gcn_norm"] = time.perf_counter() - start

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

    def _probabilities(self) -> tuple[Tensor, Tensor]:
        """Closed-form ``(P_v [N], P_{u,v} [E])`` of the method."""
        raise NotImplementedError

    def _exact_norms(self) -> SaintNorms:
        """The normalisations from the closed-form probabilities."""
        node_prob, edge_prob = self._probabilities()
        src, dst = self.edge_index
        bad = ((edge_prob <= 0) & (src != dst)).nonzero().view(-1)
        if bad.numel():
            e = int(bad[0])
            raise ValueError(
                f"{type(self).__name__} with {self._options()} never draws a subgraph holding "
                f"edge {e} ({int(src[e])} -> {int(dst[e])}), nor {bad.numel() - 1} other "
                "edges, so its estimator cannot be unbiased: raise the budget"
            )
        never = int((node_prob <= 0).sum())
        if never:
            log.warning(
                "%s never draws %d of %d nodes (no edge reaches them): their loss and "
                "aggregation are never estimated (their norms are set to 0)",
                type(self).__name__,
                never,
                self.num_nodes,
            )
        edge_norm, node_norm = saint_norms_from_probabilities(
            node_prob, edge_prob, dst, self.target_mask
        )
        return SaintNorms(
            edge_norm=edge_norm,
            node_norm=node_norm,
            node_prob=node_prob,
            edge_prob=edge_prob,
            num_samples=0,
            mean_targets=float(node_prob[self.target_mask].sum()),
        )

    def _norms_from_counts(self, counts: dict) -> SaintNorms:
        """The normalisations of :func:`saint_norms` from pre-sampling counts."""
        edge_norm, node_norm = saint_norms(
            counts["node_count"],
            counts["edge_count"],
            self.edge_index[1],
            counts["num_samples"],
            self.target_mask,
        )
        num = counts["num_samples"]
        return SaintNorms(
            edge_norm=edge_norm,
            node_norm=node_norm,
            node_prob=counts["node_count"].to(torch.float64) / num,
            edge_prob=counts["edge_count"].to(torch.float64) / num,
            num_samples=num,
            mean_targets=counts["mean_targets"],
            node_count=counts["node_count"],
            edge_count=counts["edge_count"],
        )

    def norm_errors(self) -> tuple[Tensor, Tensor]:
        """Relative standard errors of the estimated ``1 / alpha`` and ``1 / lambda``.

        From binomial counts: ``C_{u,v}`` given ``C_v`` is ``Binomial(C_v, alpha_{u,v})``, so
        ``1 / alpha`` has relative variance about ``1 / C_{u,v} - 1 / C_v``; ``C_v`` is
        ``Binomial(N, P_v)``, so ``1 / lambda`` has about ``1 / C_v - 1 / N``. A count of
        zero gives an infinite error. Zeros for the closed forms.

        Returns:
            ``(edge [E], node [N])``, float64.
        """
        norms = self.norms
        if norms.exact:
            return torch.zeros(self.num_edges, dtype=torch.float64), torch.zeros(
                self.num_nodes, dtype=torch.float64
            )
        cv = norms.node_count.to(torch.float64)
        cuv = norms.edge_count.to(torch.float64)
        inv_cv = 1.0 / cv.clamp(min=1)
        edge = (1.0 / cuv.clamp(min=1) - inv_cv.index_select(0, self.edge_index[1])).clamp(min=0)
        node = (inv_cv - 1.0 / norms.num_samples).clamp(min=0)
        inf = torch.tensor(math.inf, dtype=torch.float64)
        return torch.where(cuv > 0, edge.sqrt(), inf), torch.where(cv > 0, node.sqrt(), inf)

    def _warn_small_counts(self) -> None:
        """Warn when estimated norms are less accurate than ``norm_tolerance``."""
        edge, node = self.norm_errors()
        tol = self.norm_tolerance
        bad_e, bad_n = int((edge > tol).sum()), int((node > tol).sum())
        if bad_e or bad_n:
            need = math.ceil(1.0 / tol**2)
            log.warning(
                "%s: %d of %d edges and %d of %d nodes have too few counts in %d pre-sampled "
                "subgraphs for a relative error of their norms below norm_tolerance=%g (that "
                "needs about %d subgraphs holding each; fewest for an edge: %d): raise "
                "sample_coverage (now %d)",
                type(self).__name__,
                bad_e,
                self.num_edges,
                bad_n,
                self.num_nodes,
                self.norms.num_samples,
                tol,
                need,
                int(self.norms.edge_count.min()) if self.num_edges else 0,
                self.sample_coverage,
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
        loss_weight = lambda target: norms.node_norm.index_select(0, target)  # noqa: E731
        if not self.final_weights:
            return self._subgraph_batch(
                nodes,
                extra=lambda src, dst, e_id: norms.edge_norm.index_select(0, e_id),
                loss_weight=loss_weight,
            )
        return self._subgraph_batch(
            nodes,
            extra=lambda src, dst, e_id: self._final_weight.index_select(0, e_id),
            loss_weight=loss_weight,
            final=True,
            loops=self._self_loops,
        )

    def _self_loops(self, n_id: Tensor) -> tuple[Tensor, Tensor]:
        """Local ids and weights ``Â_vv`` (``alpha_vv = 1``) of the self-loops to add: the
        subgraph's nodes without a self-loop edge in the graph."""
        local = self._needs_loop.index_select(0, n_id).nonzero().view(-1)
        weight = self._diag.index_select(0, n_id.index_select(0, local)).to(torch.float32)
        return local, weight

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self._options().items())
        return f"{type(self).__name__}(num_nodes={self.num_nodes}, {opts})"


class GraphSAINTNodeSampler(GraphSAINTSampler, name="graphsaint-node"):
    """GraphSAINT's node sampler: ``budget`` draws with replacement, node ``u`` drawn with
    probability proportional to ``||A_hat[:, u]||^2``, the squared column norm of the
    normalised adjacency ``A_hat = D_hat^-1/2 (A + I) D_hat^-1/2`` (Zeng et al., Sec. 3.3;
    the self-loop keeps isolated nodes drawable).

    Args:
        budget: Node draws per subgraph.
        **kwargs: See :class:`GraphSAINTSampler`.
    """

    default_options: ClassVar[dict[str, Any]] = {"budget": 6000}

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

    def _probabilities(self) -> tuple[Tensor, Tensor]:
        return saint_node_probabilities(self._table.probabilities(), self.budget, self.edge_index)

    def _draw(self, count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        node = self._table.draw(count * self.budget, gen)
        sid = torch.arange(count).repeat_interleave(self.budget)
        return sid, node


class GraphSAINTEdgeSampler(GraphSAINTSampler, name="graphsaint-edge"):
    """GraphSAINT's edge sampler: ``budget`` edge draws with replacement, edge ``u -> v``
    drawn with probability proportional to ``1 / deg(u) + 1 / deg(v)`` (Zeng et al., Sec.
    3.3); the subgraph is induced by the drawn edges' end points.

    Args:
        budget: Edge draws per subgraph.
        **kwargs: See :class:`GraphSAINTSampler`.
    """

    default_options: ClassVar[dict[str, Any]] = {"budget": 4000}

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

    def _probabilities(self) -> tuple[Tensor, Tensor]:
        return saint_edge_probabilities(
            self._table.probabilities(), self.budget, self.edge_index, self.num_nodes
        )

    def _draw(self, count: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        e = self._table.draw(count * self.budget, gen)
        sid = torch.arange(count).repeat_interleave(2 * self.budget)
        # Both end points of each drawn edge, next to each other: grouped by subgraph.
        node = self.edge_index.index_select(1, e).t().reshape(-1)
        return sid, node


class GraphSAINTRandomWalkSampler(GraphSAINTSampler, name="graphsaint-rw"):
    """GraphSAINT's random-walk sampler: ``num_roots`` roots drawn uniformly, one walk of
    ``walk_length`` steps from each; the subgraph is induced by the visited nodes (Zeng et
    al., Sec. 3.3). Walks follow in-edges and end at nodes without in-neighbours.

    Its inclusion probabilities have no closed form: they are estimated from pre-sampled
    subgraphs (``norms="estimate"``), with a warning when the counts are too small for
    ``norm_tolerance`` (see :meth:`GraphSAINTSampler.norm_errors`).

    Args:
        num_roots: Walk roots per subgraph.
        walk_length: Steps per walk (``>= 1``).
        **kwargs: See :class:`GraphSAINTSampler`.
    """

    closed_form = False
    default_options: ClassVar[dict[str, Any]] = {
        "num_roots": 2000,
        "walk_length": 2,
        "sample_coverage": DEFAULT_COVERAGE,
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
    "gcn_coefficients",
    "inclusion_probability",
    "saint_edge_probabilities",
    "saint_edge_weights",
    "saint_node_probabilities",
    "saint_node_weights",
    "saint_norms",
    "saint_norms_from_probabilities",
]
