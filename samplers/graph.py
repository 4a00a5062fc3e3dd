"""Compressed graph storage and the vectorised primitives every sampler is built from.

The graph is stored by target node (compressed sparse columns of ``A`` in PyG's
``source -> target`` convention): the in-neighbours of node ``v`` are
``col[rowptr[v]:rowptr[v + 1]]``, the sources whose messages ``v`` aggregates. Every
function here works on whole sets of nodes at once with torch tensor operations; none loops
over nodes in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class CSRGraph:
    """In-neighbour lists of a graph.

    Attributes:
        rowptr: ``[N + 1]`` segment starts, by target node.
        col: ``[E]`` the source of each edge, grouped by target.
        eid: ``[E]`` the column of each edge in the original ``edge_index``.
        num_nodes: ``N``.
    """

    rowptr: Tensor
    col: Tensor
    eid: Tensor
    num_nodes: int

    @property
    def num_edges(self) -> int:
        return int(self.col.numel())

    @property
    def deg(self) -> Tensor:
        """In-degree of every node, ``[N]``."""
        return self.rowptr[1:] - self.rowptr[:-1]


def to_csr(edge_index: Tensor, num_nodes: int) -> CSRGraph:
    """Group the edges of ``edge_index`` by target node (stable, so ties keep their order)."""
    src, dst = edge_index[0].long(), edge_index[1].long()
    perm = torch.argsort(dst, stable=True)
    counts = torch.bincount(dst, minlength=num_nodes)
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long)
    torch.cumsum(counts, 0, out=rowptr[1:])
    return CSRGraph(rowptr=rowptr, col=src[perm], eid=perm, num_nodes=num_nodes)


def segment_gather(rowptr: Tensor, nodes: Tensor) -> tuple[Tensor, Tensor]:
    """All CSR positions of the segments of ``nodes``.

    Returns:
        ``(pos, owner)``: ``pos[j]`` is a position in ``col``, ``owner[j]`` the index into
        ``nodes`` of the segment it came from; segments in the order of ``nodes``.
    """
    starts = rowptr.index_select(0, nodes)
    counts = rowptr.index_select(0, nodes + 1) - starts
    return expand_segments(starts, counts)


def expand_segments(starts: Tensor, counts: Tensor) -> tuple[Tensor, Tensor]:
    """``[starts[i], starts[i] + counts[i])`` for every ``i``, concatenated, with owners."""
    owner = torch.repeat_interleave(torch.arange(counts.numel()), counts)
    shift = (starts - (torch.cumsum(counts, 0) - counts)).index_select(0, owner)
    return torch.arange(owner.numel()) + shift, owner


def sample_positions(
    rowptr: Tensor,
    nodes: Tensor,
    k: int,
    replace: bool,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """Draw ``k`` in-edges uniformly for every node of ``nodes`` (GraphSAGE's fan-out).

    Without replacement a node keeps all its edges when it has at most ``k``; otherwise a
    uniformly random ``k``-subset is drawn with Floyd's algorithm, vectorised over the nodes
    (``k`` passes, each over all nodes at once). With replacement every node with at least
    one edge draws exactly ``k``. ``k = -1`` takes every edge.

    Returns:
        ``(pos, owner)`` as in :func:`segment_gather`.
    """
    starts = rowptr.index_select(0, nodes)
    deg = rowptr.index_select(0, nodes + 1) - starts
    if k < 0:
        return expand_segments(starts, deg)
    if replace:
        owner = (deg > 0).nonzero().view(-1).repeat_interleave(k)
        r = torch.rand(owner.numel(), generator=generator, dtype=torch.float64)
        pos = starts.index_select(0, owner) + (r * deg.index_select(0, owner)).long()
        return pos, owner
    small = (deg <= k).nonzero().view(-1)
    pos_s, own_s = expand_segments(starts.index_select(0, small), deg.index_select(0, small))
    own_s = small.index_select(0, own_s)
    big = (deg > k).nonzero().view(-1)
    if big.numel() == 0:
        return pos_s, own_s
    picks = floyd_sample(deg.index_select(0, big), k, generator)
    pos_b = (starts.index_select(0, big).unsqueeze(1) + picks).view(-1)
    own_b = big.repeat_interleave(k)
    return torch.cat([pos_s, pos_b]), torch.cat([own_s, own_b])


def floyd_sample(n: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """Robert Floyd's sampling of ``k`` distinct integers from ``[0, n_i)`` for every ``i``.

    Every ``k``-subset is equally likely (Bentley & Floyd, CACM 1987). Requires ``n >= k``.

    Args:
        n: ``[M]`` population sizes.
        k: Sample size.
        generator: Random source.

    Returns:
        ``[M, k]`` distinct values per row.
    """
    m = n.numel()
    picks = torch.empty(m, k, dtype=torch.long)
    r = torch.rand(m, k, generator=generator, dtype=torch.float64)
    for s in range(k):
        j = n - k + s  # draw from [0, j]
        t = (r[:, s] * (j + 1)).long()
        if s > 0:
            dup = (picks[:, :s] == t.unsqueeze(1)).any(dim=1)
            t = torch.where(dup, j, t)
        picks[:, s] = t
    return picks


class Relabeler:
    """Global -> local id map shared by the calls of one sampler (reset after each batch).

    A dense ``[N]`` map filled with ``-1`` is kept between calls and only the entries a batch
    touched are reset, so relabelling costs time proportional to the batch, not the graph.
    One sampler object must not be used from several threads at once (processes are fine:
    each worker of a :class:`~spikegraph.samplers.Loader` has its own copy).
    """

    def __init__(self, num_nodes: int) -> None:
        self.num_nodes = num_nodes
        self._map: Tensor | None = None
        self._touched: list[Tensor] = []
        self.count = 0

    @property
    def map(self) -> Tensor:
        if self._map is None:
            self._map = torch.full((self.num_nodes,), -1, dtype=torch.long)
        return self._map

    def start(self, nodes: Tensor) -> Tensor:
        """Give ``nodes`` (distinct) the local ids ``0 .. len-1``; returns them."""
        self.reset()
        self.map.index_copy_(0, nodes, torch.arange(nodes.numel()))
        self._touched.append(nodes)
        self.count = nodes.numel()
        return nodes

    def add(self, nodes: Tensor) -> tuple[Tensor, Tensor]:
        """Local ids of ``nodes`` (repeats allowed), giving unseen ones the next free ids.

        New nodes are numbered in increasing global id. Returns ``(local, new_nodes)``.
        """
        m = self.map
        local = m.index_select(0, nodes)
        new = torch.unique(nodes.masked_select(local < 0))
        if new.numel():
            m.index_copy_(0, new, torch.arange(self.count, self.count + new.numel()))
            self._touched.append(new)
            self.count += new.numel()
            local = m.index_select(0, nodes)
        return local, new

    def lookup(self, nodes: Tensor) -> Tensor:
        """Local ids of ``nodes``, ``-1`` for nodes not in the batch."""
        return self.map.index_select(0, nodes)

    def reset(self) -> None:
        if self._map is not None:
            for t in self._touched:
                self._map.index_fill_(0, t, -1)
        self._touched = []
        self.count = 0

    def __getstate__(self) -> dict:
        # Workers get a fresh (lazily allocated) map rather than a copy of this one.
        return {"num_nodes": self.num_nodes, "_map": None, "_touched": [], "count": 0}


def induced_edges(csr: CSRGraph, nodes: Tensor, local_of: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Edges of the subgraph induced by ``nodes``.

    Args:
        csr: The graph.
        nodes: ``[n]`` distinct global ids.
        local_of: ``[N]`` map global -> local id, ``-1`` outside ``nodes``.

    Returns:
        ``(src_local, dst_local, eid)`` of every edge with both ends in ``nodes``.
    """
    pos, owner = segment_gather(csr.rowptr, nodes)
    src_local = local_of.index_select(0, csr.col.index_select(0, pos))
    keep = (src_local >= 0).nonzero().view(-1)
    dst_local = local_of.index_select(0, nodes.index_select(0, owner.index_select(0, keep)))
    return (
        src_local.index_select(0, keep),
        dst_local,
        csr.eid.index_select(0, pos.index_select(0, keep)),
    )


def induced_pairs(
    csr: CSRGraph, sid: Tensor, node: Tensor, num_nodes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Edges induced in many subgraphs at once.

    Args:
        csr: The graph.
        sid: ``[M]`` subgraph of every (subgraph, node) pair, the pairs distinct and sorted by
            ``sid * num_nodes + node``.
        node: ``[M]`` global node of every pair.
        num_nodes: ``N``.

    Returns:
        ``(src_pair, dst_pair, eid)``: for every edge with both ends in the same subgraph,
        the pair index of its source and target and its id in the graph.
    """
    keys = sid * num_nodes + node
    if keys.numel() == 0:
        return keys, keys, keys
    pos, owner = segment_gather(csr.rowptr, node)
    cand = sid.index_select(0, owner) * num_nodes + csr.col.index_select(0, pos)
    idx = torch.searchsorted(keys, cand).clamp(max=keys.numel() - 1)
    found = (keys.index_select(0, idx) == cand).nonzero().view(-1)
    return (
        idx.index_select(0, found),
        owner.index_select(0, found),
        csr.eid.index_select(0, pos.index_select(0, found)),
    )


def random_walk(csr: CSRGraph, starts: Tensor, length: int, generator: torch.Generator) -> Tensor:
    """Uniform random walks along in-edges (towards the sources of messages).

    A walk that reaches a node without in-neighbours ends there; its later steps are ``-1``.

    Returns:
        ``[len(starts), length + 1]`` visited nodes, the start first.
    """
    walks = torch.full((length + 1, starts.numel()), -1, dtype=torch.long)
    walks[0] = starts
    if csr.num_edges == 0:
        return walks.t()
    deg_all = csr.deg
    r = torch.rand(length, starts.numel(), generator=generator, dtype=torch.float64)
    cur = starts
    for step in range(length):
        safe = cur.clamp(min=0)
        deg = deg_all.index_select(0, safe)
        alive = (cur >= 0) & (deg > 0)
        pos = csr.rowptr.index_select(0, safe) + (r[step] * deg).long()
        nxt = csr.col.index_select(0, pos.clamp(max=csr.num_edges - 1))
        cur = torch.where(alive, nxt, -1)
        walks[step + 1] = cur
    return walks.t()


def symmetrize(edge_index: Tensor, num_nodes: int, self_loops: bool = False) -> Tensor:
    """Undirected, deduplicated edge set of ``edge_index`` (both directions), sorted."""
    src, dst = edge_index[0].long(), edge_index[1].long()
    keys = torch.cat([src * num_nodes + dst, dst * num_nodes + src])
    keys = torch.unique(keys)
    out = torch.stack([keys // num_nodes, keys % num_nodes])
    if not self_loops:
        out = out[:, out[0] != out[1]]
    return out


__all__ = [
    "CSRGraph",
    "Relabeler",
    "expand_segments",
    "floyd_sample",
    "induced_edges",
    "induced_pairs",
    "random_walk",
    "sample_positions",
    "segment_gather",
    "symmetrize",
    "to_csr",
]
