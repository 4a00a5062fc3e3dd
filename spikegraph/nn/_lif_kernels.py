"""CPU kernels for the multi-step LIF neuron, compiled with numba.

The neurons are processed in blocks of a few hundred, one time step at a time for the whole
block, so that the inner loop runs over neurons without a data-dependent branch and is
vectorised; each block's state stays in small scratch buffers (in cache). The forward pass
writes only the spikes (or rates) and the final potential; the backward pass recomputes the
potentials of a block and runs backpropagation through time in reverse. Nothing of size
``[T, N, F]`` is kept between the passes, and no per-step temporaries are created.

Optionally the input is first normalised by STFN (:mod:`spikegraph.nn.stfn`, per-node
statistics over features and time, then a per-feature affine): each block holds whole nodes,
whose statistics are computed on the block in cache and never written, and the backward pass
runs STFN's backward on the block's input gradients (the fused path of
:func:`spikegraph.nn.fused.stfn_lif`).

The maths is the one of :func:`spikegraph.nn.neuron.lif_step`; tests compare both.

The decay :math:`k` and the threshold are arrays of one value (the same for every neuron) or
one per feature (the last dimension, ``C`` values for neuron ``i`` at ``i % C``); the backward
pass also returns, per neuron, the gradients of the loss with respect to both, which the
caller sums to the shape of the parameter (learnable time constants and thresholds, e.g.
:class:`~spikegraph.nn.neurons.plif.PLIF`).

The surrogate derivative is not written here: each surrogate's one ``formula``
(:mod:`spikegraph.nn.surrogate`) is compiled into the backward kernel, which
:func:`backward_kernel` builds (once per surrogate class and process, cached on disk by
numba under a key of the formula's source: :mod:`spikegraph.nn._numba_cache`). The
pointwise helpers the formulas use get their numba versions below.

The kernels do not use numba's own thread pool: competing with torch's OpenMP threads for the
same cores, it made a training step more than ten times slower. Instead they release the GIL
and take a range of neurons, so :mod:`spikegraph.nn.neuron` runs disjoint ranges on as many
Python threads as torch uses.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from numba.extending import overload

from spikegraph.nn import surrogate as _surrogate
from spikegraph.nn._numba_cache import cache_by_formula, formula_jit

# Reset codes.
HARD, SOFT, NONE = 0, 1, 2
# Normalisation codes: none, STFN (per-node statistics over features and time).
NORM_NONE, NORM_STFN = 0, 1
_BLOCK = 512


@overload(_surrogate.exp)
def _exp(x):
    return lambda x: math.exp(x)


@overload(_surrogate.step)
def _step(x):
    return lambda x: 1.0 if x > 0 else 0.0


@overload(_surrogate.relu)
def _relu(x):
    return lambda x: max(x, 0.0)


@numba.njit(inline="always")
def _after_reset(h, th, v_reset, reset):
    """The potential after the reset of a neuron whose pre-reset potential is ``h``."""
    if reset == HARD:
        return v_reset if h >= th else h
    if reset == SOFT:
        return h - th if h >= th else h
    return h


@numba.njit(inline="always")
def _reset_grads(h, th, fired, sg, v_reset, keep, reset):
    """``(dV~/dV, dV~/dth)`` of the reset at a pre-reset potential ``h``; ``keep`` is 0.0
    with ``detach_reset`` (no gradient through the spike in the reset), else 1.0."""
    if reset == HARD:
        return 1.0 - fired + keep * (v_reset - h) * sg, keep * (h - v_reset) * sg
    if reset == SOFT:
        return 1.0 - keep * th * sg, keep * th * sg - fired
    return 1.0, 0.0


def _at(p, j):  # pragma: no cover - compiled by numba only
    """``p[j]`` for a per-neuron array, ``p`` for one scalar."""
    return p[j]


@overload(_at, inline="always")
def _at_overload(p, j):
    if isinstance(p, numba.types.Array):
        return lambda p, j: p[j]
    return lambda p, j: p


@numba.njit(inline="always")
def _fill(p, b0, w, out):
    """``out[j] = p[(b0 + j) % p.size]`` for ``j < w``, without an integer division per
    neuron."""
    n = p.size
    i = b0 % n
    for j in range(w):
        out[j] = p[i]
        i += 1
        if i == n:
            i = 0


@numba.njit(cache=True, nogil=True)
def block_size(width, norm):
    """Neurons per block: ``_BLOCK``, rounded to whole nodes (``width`` features) with a
    normalisation whose statistics are per node."""
    if norm == NORM_NONE:
        return _BLOCK
    return max(1, _BLOCK // width) * width


@numba.njit(cache=True, nogil=True)
def load_block(x, static, steps, b0, b1, norm, width, lam, gam, scale, eps, yb, stats):
    """The (normalised) input of neurons ``b0..b1-1`` into ``yb`` ``[S, B]`` (``S`` = 1 for a
    static input, else ``T``). With STFN, each node's statistics over its ``width`` features
    and ``S`` rows are computed on the block (in cache, nothing written to memory; two
    passes for the variance's accuracy) and kept in ``stats`` ``[nodes, 2]``
    (mean, 1/std)."""
    rows = 1 if static else steps
    w = b1 - b0
    if norm == NORM_NONE:
        for t in range(rows):
            for j in range(w):
                yb[t, j] = x[t, b0 + j]
        return
    nl, ng = lam.size, gam.size
    count = rows * width
    for node in range(b0, b1, width):
        n = (node - b0) // width
        total = 0.0
        for t in range(rows):
            for f in range(width):
                total += x[t, node + f]
        mean = total / count
        sq = 0.0
        for t in range(rows):
            for f in range(width):
                d = x[t, node + f] - mean
                sq += d * d
        inv_std = 1.0 / math.sqrt(sq / count + eps)
        stats[n, 0] = mean
        stats[n, 1] = inv_std
        for t in range(rows):
            for f in range(width):
                xhat = (x[t, node + f] - mean) * inv_std
                yb[t, node - b0 + f] = xhat * scale * lam[f % nl] + gam[f % ng]


@numba.njit(nogil=True)
def _charge(y, k, th, v, count, spikes, w, v_reset, reset):
    """One step of ``w`` neurons: ``V = k V~ + I``, fire, reset; adds the spikes to
    ``count`` and writes them to ``spikes``. ``k`` and ``th`` are scalars or per neuron."""
    if reset == HARD:
        for j in range(w):
            h = y[j] + _at(k, j) * v[j]
            f = 1.0 if h >= _at(th, j) else 0.0
            v[j] = _after_reset(h, _at(th, j), v_reset, HARD)
            count[j] += f
            spikes[j] = f
    elif reset == SOFT:
        for j in range(w):
            h = y[j] + _at(k, j) * v[j]
            f = 1.0 if h >= _at(th, j) else 0.0
            v[j] = _after_reset(h, _at(th, j), v_reset, SOFT)
            count[j] += f
            spikes[j] = f
    else:
        for j in range(w):
            h = y[j] + _at(k, j) * v[j]
            f = 1.0 if h >= _at(th, j) else 0.0
            v[j] = h
            count[j] += f
            spikes[j] = f


@numba.njit(nogil=True)
def _recompute(y, k, th, v, hb, vp, w, v_reset, reset):
    """One step of ``w`` neurons for the backward pass: stores the potential before the
    step (``vp``, :math:`\\tilde V_{t-1}`) and the pre-reset potential (``hb``)."""
    for j in range(w):
        vp[j] = v[j]
        h = y[j] + _at(k, j) * v[j]
        hb[j] = h
        v[j] = _after_reset(h, _at(th, j), v_reset, reset)


@numba.njit(cache=True, nogil=True)
def lif_forward(
    x,
    static,
    steps,
    v_init,
    has_v_init,
    decay,
    v_th,
    v_reset,
    reset,
    rate_mode,
    norm,
    width,
    lam,
    gam,
    scale,
    eps,
    out,
    v_out,
    lo,
    hi,
):
    """Neurons ``lo..hi-1``. x: [1, M] (static) or [T, M]. decay, v_th: [1] or [C]. out:
    spikes [T, M], or with ``rate_mode`` the firing rates [1, M] (spike count / T). v_out: [M].

    ``norm``: ``NORM_NONE``, or ``NORM_STFN``: the input is first normalised per node of
    ``width`` features (:func:`spikegraph.nn.stfn.stfn` with the scale ``scale``), then
    ``* lam + gam`` (each of one value or ``width``); ``lo`` and ``hi`` are whole nodes.
    """
    nk, nth = decay.size, v_th.size
    scalar = nk == 1 and nth == 1
    B = block_size(width, norm)
    rows = 1 if static else steps
    yb = np.empty((rows, B), dtype=x.dtype)
    stats = np.empty((B, 2), dtype=np.float64)
    kb = np.empty(B, dtype=x.dtype)
    thb = np.empty(B, dtype=x.dtype)
    v = np.empty(B, dtype=x.dtype)
    count = np.empty(B, dtype=x.dtype)
    scratch = np.empty(B, dtype=x.dtype)
    for b0 in range(lo, hi, B):
        b1 = min(hi, b0 + B)
        w = b1 - b0
        load_block(x, static, steps, b0, b1, norm, width, lam, gam, scale, eps, yb, stats)
        _fill(decay, b0, w, kb)
        _fill(v_th, b0, w, thb)
        for j in range(w):
            # th - th: a zero of the dtype (float32 stays float32, like torch). Without an
            # initial potential, V_0 = k * 0 + I_0 is exactly I_0.
            v[j] = v_init[b0 + j] if has_v_init else thb[j] - thb[j]
            count[j] = 0.0
        for t in range(steps):
            y = yb[0] if static else yb[t]
            spikes = scratch if rate_mode else out[t, b0:b1]
            if scalar:
                _charge(y, decay[0], v_th[0], v, count, spikes, w, v_reset, reset)
            else:
                _charge(y, kb, thb, v, count, spikes, w, v_reset, reset)
        for j in range(w):
            v_out[b0 + j] = v[j]
        if rate_mode:
            for j in range(w):
                out[0, b0 + j] = count[j] / steps


@functools.cache
def backward_kernel(formula):
    """The backward kernel with the surrogate derivative ``formula``
    (a surrogate class's ``formula(u, alpha)``) compiled in."""
    # Every function compiled here is named for the formula (spikegraph.nn._numba_cache).
    derivative = formula_jit(formula, inline="always")(formula)
    jit = formula_jit(formula, nogil=True)

    @jit
    def step_back(
        hb, vp, go, gscale, k, th, g_v, gy, gk, gth, need, w, v_reset, keep, alpha, reset
    ):
        """One step back in time for ``w`` neurons: ``gy`` receives dL/dI_t (= dL/dV_t),
        ``g_v`` carries dL/dV~_{t-1}; with ``need``, dL/dk and dL/dth are added to ``gk``,
        ``gth``."""
        for j in range(w):
            h = hb[j]
            thj = _at(th, j)
            sg = derivative(h - thj, alpha)
            fired = 1.0 if h >= thj else 0.0
            g = go[j] * gscale * sg
            dv, dth = _reset_grads(h, thj, fired, sg, v_reset, keep, reset)
            if need:
                gth[j] += g_v[j] * dth - g
            g += g_v[j] * dv
            gy[j] = g
            if need:
                gk[j] += g * vp[j]
            g_v[j] = _at(k, j) * g

    @jit
    def step_back_reset(
        hb, vp, go, gscale, k, th, g_v, gy, gk, gth, need, w, v_reset, keep, alpha, reset
    ):
        """:func:`step_back` with the reset as a compile-time constant in each loop."""
        if reset == HARD:
            step_back(
                hb, vp, go, gscale, k, th, g_v, gy, gk, gth, need, w, v_reset, keep, alpha, HARD
            )
        elif reset == SOFT:
            step_back(
                hb, vp, go, gscale, k, th, g_v, gy, gk, gth, need, w, v_reset, keep, alpha, SOFT
            )
        else:
            step_back(
                hb, vp, go, gscale, k, th, g_v, gy, gk, gth, need, w, v_reset, keep, alpha, NONE
            )

    @jit
    def lif_backward(
        x,
        static,
        steps,
        v_init,
        has_v_init,
        decay,
        v_th,
        v_reset,
        reset,
        detach_reset,
        alpha,
        norm,
        width,
        lam,
        gam,
        scale,
        eps,
        grad_out,
        grad_mode,
        grad_v,
        has_grad_v,
        grad_x,
        grad_v_init,
        grad_decay,
        grad_th,
        need,
        grad_lam,
        grad_gam,
        lo,
        hi,
    ):
        """Backpropagation through time for neurons ``lo..hi-1``.

        grad_mode: 0 no gradient from the outputs, 1 ``grad_out`` is dL/dspikes [T, M], 2 it
        is dL/drate [1, M] (so dL/dspike_t = dL/drate / T at every step). grad_x: [1, M]
        (static) or [T, M]. grad_decay, grad_th: [M], each neuron's dL/dk and dL/dV_th,
        computed only with ``need`` (the caller says whether it needs them; without, it may
        pass arrays of size 1, which stay untouched). ``need`` is passed, not inferred from
        the arrays' size: with a single neuron (M = 1) both are of size 1 either way.
        With ``NORM_STFN`` (see :func:`lif_forward`) grad_x is the gradient with respect to
        the input before the normalisation, and ``grad_lam``, ``grad_gam`` ([width] or [1])
        receive this range's sums of dL/dlam and dL/dgam.
        """
        nk, nth = decay.size, v_th.size
        scalar = nk == 1 and nth == 1
        keep = 0.0 if detach_reset else 1.0
        B = block_size(width, norm)
        rows = 1 if static else steps
        yb = np.empty((rows, B), dtype=x.dtype)
        stats = np.empty((B, 2), dtype=np.float64)
        hbuf = np.empty((steps, B), dtype=x.dtype)
        vpre = np.empty((steps, B), dtype=x.dtype)
        gy = np.empty((steps, B), dtype=np.float64)
        gys = np.empty((rows, B), dtype=np.float64)
        zeros = np.zeros(B, dtype=x.dtype)
        kb = np.empty(B, dtype=x.dtype)
        thb = np.empty(B, dtype=x.dtype)
        v = np.empty(B, dtype=x.dtype)
        g_v = np.empty(B, dtype=np.float64)
        gk = np.empty(B, dtype=np.float64)
        gth = np.empty(B, dtype=np.float64)
        for b0 in range(lo, hi, B):
            b1 = min(hi, b0 + B)
            w = b1 - b0
            load_block(x, static, steps, b0, b1, norm, width, lam, gam, scale, eps, yb, stats)
            _fill(decay, b0, w, kb)
            _fill(v_th, b0, w, thb)
            for j in range(w):
                v[j] = v_init[b0 + j] if has_v_init else thb[j] - thb[j]
                g_v[j] = grad_v[b0 + j] if has_grad_v else 0.0
                gk[j] = 0.0
                gth[j] = 0.0
            for t in range(steps):
                y = yb[0] if static else yb[t]
                if scalar:
                    _recompute(y, decay[0], v_th[0], v, hbuf[t], vpre[t], w, v_reset, reset)
                else:
                    _recompute(y, kb, thb, v, hbuf[t], vpre[t], w, v_reset, reset)
            for t in range(steps - 1, -1, -1):
                if grad_mode == 1:
                    go, gscale = grad_out[t, b0:b1], 1.0
                elif grad_mode == 2:
                    go, gscale = grad_out[0, b0:b1], 1.0 / steps
                else:
                    go, gscale = zeros[:w], 0.0
                if scalar:
                    step_back_reset(
                        hbuf[t],
                        vpre[t],
                        go,
                        gscale,
                        decay[0],
                        v_th[0],
                        g_v,
                        gy[t],
                        gk,
                        gth,
                        need,
                        w,
                        v_reset,
                        keep,
                        alpha,
                        reset,
                    )
                else:
                    step_back_reset(
                        hbuf[t],
                        vpre[t],
                        go,
                        gscale,
                        kb,
                        thb,
                        g_v,
                        gy[t],
                        gk,
                        gth,
                        need,
                        w,
                        v_reset,
                        keep,
                        alpha,
                        reset,
                    )
            if static:
                for j in range(w):
                    acc = 0.0
                    for t in range(steps):
                        acc += gy[t, j]
                    gys[0, j] = acc
            else:
                for t in range(steps):
                    for j in range(w):
                        gys[t, j] = gy[t, j]
            for j in range(w):
                grad_v_init[b0 + j] = g_v[j]
            if need:
                for j in range(w):
                    grad_decay[b0 + j] = gk[j]
                    grad_th[b0 + j] = gth[j]
            if norm == NORM_NONE:
                for t in range(rows):
                    for j in range(w):
                        grad_x[t, b0 + j] = gys[t, j]
            else:
                stfn_backward(
                    x, rows, b0, b1, width, lam, scale, stats, gys, grad_x, grad_lam, grad_gam
                )

    # numba's own cache=True never hits for a closure: see spikegraph.nn._numba_cache
    return cache_by_formula(lif_backward, formula)


@numba.njit(cache=True, nogil=True)
def stfn_backward(x, rows, b0, b1, width, lam, scale, stats, gy, grad_x, grad_lam, grad_gam):
    r"""STFN's backward pass for the nodes of neurons ``b0..b1-1``: with
    :math:`\hat x = (x - \mu) r` and :math:`u = \partial L/\partial y\, \rho V_{th} \lambda`,
    :math:`\partial L/\partial x = r\,(u - \overline{u} - \hat x\, \overline{u \hat x})`, the
    means over the node's features and rows; :math:`\partial L/\partial\lambda` and
    :math:`\partial L/\partial\gamma` are added to ``grad_lam`` and ``grad_gam``."""
    nl, ng = lam.size, grad_gam.size
    count = rows * width
    for node in range(b0, b1, width):
        n = (node - b0) // width
        mean = stats[n, 0]
        inv_std = stats[n, 1]
        su = 0.0
        sux = 0.0
        for t in range(rows):
            for f in range(width):
                j = node - b0 + f
                xhat = (x[t, node + f] - mean) * inv_std
                g = gy[t, j]
                u = g * scale * lam[f % nl]
                su += u
                sux += u * xhat
                grad_lam[f % nl] += g * scale * xhat
                grad_gam[f % ng] += g
        mu = su / count
        mux = sux / count
        for t in range(rows):
            for f in range(width):
                j = node - b0 + f
                xhat = (x[t, node + f] - mean) * inv_std
                u = gy[t, j] * scale * lam[f % nl]
                grad_x[t, node + f] = inv_std * (u - mu - xhat * mux)
