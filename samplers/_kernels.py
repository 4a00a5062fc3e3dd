"""Serial CPU kernels, compiled with numba, for the loops that vectorised torch does badly.

- :func:`alias_build`: Vose's construction of Walker's alias table, a sequential ``O(n)``
  pass (:mod:`spikegraph.samplers.alias`).
- :func:`saint_count`: GraphSAINT's pre-sampling counts (:mod:`spikegraph.samplers.saint`): per
  subgraph, the distinct nodes and the edges induced among them, in one pass over the drawn
  nodes' in-edges with an ``[N]`` mark array, as a C++ loop would do it. The vectorised
  alternative materialises every (subgraph, in-edge) pair several times over.

The kernels are deliberately serial (no ``parallel=True``): numba's thread pool competes with
torch's OpenMP threads for the same cores. Arrays come in as numpy views of torch tensors.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def alias_build(p):
    """Walker's alias table of the probabilities ``p`` (non-negative, summing to one).

    Vose's construction: cells scaled to ``n * p`` are split into under-full (``< 1``) and
    over-full ones; each under-full cell is topped up from an over-full one, whose excess
    shrinks by the same amount. Cell ``i`` then keeps ``i`` with probability ``prob[i]`` and
    otherwise gives ``alias[i]``.

    Returns:
        ``(prob float64[n], alias int64[n])``.
    """
    n = p.shape[0]
    scaled = p * n
    prob = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int64)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        g = large[nl - 1]
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            nl -= 1
            small[ns] = g
            ns += 1
    # Left-overs are full up to rounding: they keep themselves (prob 1). A zero-probability
    # cell can only be left over through rounding (the cells left sum to their number); it
    # must still never be drawn, so it always gives the most likely cell.
    top = np.argmax(p)
    for k in range(ns):
        i = small[k]
        if p[i] > 0:
            prob[i] = 1.0
        else:
            prob[i] = 0.0
            alias[i] = top
    return prob, alias


@numba.njit(cache=True)
def saint_count(rowptr, col, ptr, node, target_mask, mark, node_count, csr_count):
    """GraphSAINT's occurrence counts over the subgraphs ``node[ptr[s]:ptr[s + 1]]``.

    For every subgraph: its distinct nodes (repeats among the drawn ones count once) add one
    to ``node_count``; every in-edge ``u -> v`` (CSR position ``p``) of a distinct node ``v``
    whose source ``u`` is in the subgraph too adds one to ``csr_count[p]``. ``mark`` (``[N]``,
    all false) is scratch and is left all false.

    Returns:
        ``(distinct, targets)``: distinct (subgraph, node) pairs, and those whose node is a
        target.
    """
    distinct = 0
    targets = 0
    buf = np.empty(node.shape[0], dtype=np.int64)
    for s in range(ptr.shape[0] - 1):
        k = 0
        for j in range(ptr[s], ptr[s + 1]):
            v = node[j]
            if not mark[v]:
                mark[v] = True
                buf[k] = v
                k += 1
        for i in range(k):
            v = buf[i]
            node_count[v] += 1
            if target_mask[v]:
                targets += 1
            for q in range(rowptr[v], rowptr[v + 1]):
                if mark[col[q]]:
                    csr_count[q] += 1
        for i in range(k):
            mark[buf[i]] = False
        distinct += k
    return distinct, targets


#: Subgraphs per machine word in :func:`saint_count_words` (the sign bit stays clear).
WORD = 63


@numba.njit(cache=True, inline="always")
def _popcount(x):  # pragma: no cover - compiled
    """Set bits of a non-negative int64 (SWAR)."""
    x = x - ((x >> 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
    return (x * 0x0101010101010101) >> 56


@numba.njit(cache=True)
def saint_count_words(rowptr, col, ptr, node, target_mask, bits, node_count, csr_count):
    """The counts of :func:`saint_count`, 63 subgraphs per pass over the graph.

    Bit ``s`` of ``bits[v]`` says node ``v`` is in subgraph ``s`` of the pass (repeats set it
    once). One sweep over the nodes in id order then counts every node's subgraphs (its set
    bits) and every in-edge ``u -> v``'s (the set bits of ``bits[u] & bits[v]``), reading the
    CSR arrays in storage order. Costs ``O(N + E)`` per pass at most, and only the in-edges
    of nodes in some subgraph of the pass: cheaper than one pass per subgraph when the
    subgraphs of a pass touch much of the graph. ``bits`` (``[N]`` int64, all zero) is
    scratch and is left all zero.

    Returns:
        ``(distinct, targets)`` as :func:`saint_count`.
    """
    distinct = 0
    targets = 0
    num_sub = ptr.shape[0] - 1
    n = bits.shape[0]
    for first in range(0, num_sub, WORD):
        last = min(first + WORD, num_sub)
        for s in range(first, last):
            flag = np.int64(1) << (s - first)
            for j in range(ptr[s], ptr[s + 1]):
                bits[node[j]] |= flag
        for v in range(n):
            b = bits[v]
            if b == 0:
                continue
            c = _popcount(b)
            node_count[v] += c
            distinct += c
            if target_mask[v]:
                targets += c
            for q in range(rowptr[v], rowptr[v + 1]):
                a = b & bits[col[q]]
                if a != 0:
                    csr_count[q] += _popcount(a)
        for j in range(ptr[first], ptr[last]):
            bits[node[j]] = 0
    return distinct, targets
