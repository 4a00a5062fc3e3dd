r"""CPU kernels for the multi-step adaptive LIF neuron (ALIF, Bellec et al., "Long short-term
memory and learning-to-learn in networks of spiking neurons", NeurIPS 2018), compiled with
numba, in the way of :mod:`spikegraph.nn._lif_kernels`.

The maths is the one of :func:`spikegraph.nn.neurons.alif.alif_step`, which tests compare
with these kernels:

.. math::
    V_t = k\, \tilde V_{t-1} + I_t,\quad A_t = b_0 + \beta\, b_t,\quad
    H_t = \Theta(V_t - A_t),\quad b_{t+1} = \rho\, b_t + (1 - \rho)\, H_t

with the reset against the current threshold :math:`A_t`. Neurons are processed in blocks of
a few hundred, one step at a time for the whole block, with branch-free inner loops (the
reset is a compile-time constant of each loop); the forward pass writes only the spikes (or
the rates). The backward pass recomputes a block's potentials and thresholds and runs
backpropagation through time in reverse, carrying two adjoints per neuron, of the potential
after the reset and of the adaptation variable:

.. math::
    \frac{\partial L}{\partial H_t} = \frac{\partial L}{\partial H_t}\Big|_{out}
      + (1 - \rho) \frac{\partial L}{\partial b_{t+1}}
      + \kappa\, \frac{\partial L}{\partial \tilde V_t}
        \frac{\partial \tilde V_t}{\partial H_t},\qquad
    \frac{\partial L}{\partial V_t} = \frac{\partial L}{\partial \tilde V_t}
      \frac{\partial \tilde V_t}{\partial V_t}\Big|_{H}
      + \frac{\partial L}{\partial H_t}\, g'_t,

.. math::
    \frac{\partial L}{\partial A_t} = -\frac{\partial L}{\partial H_t}\, g'_t
      + \frac{\partial L}{\partial \tilde V_t}
        \frac{\partial \tilde V_t}{\partial A_t}\Big|_{H},\qquad
    \frac{\partial L}{\partial b_t} = \rho \frac{\partial L}{\partial b_{t+1}}
      + \beta \frac{\partial L}{\partial A_t},\qquad
    \frac{\partial L}{\partial \tilde V_{t-1}} = k \frac{\partial L}{\partial V_t}

with :math:`g'_t` the surrogate derivative at :math:`V_t - A_t`, :math:`\kappa = 0` with
``detach_reset`` (else 1) and :math:`\partial L/\partial I_t = \partial L/\partial V_t`.
The adaptation is always differentiated (``detach_reset`` only stops the reset's path, as in
the reference). Constants are scalars; the kernels release the GIL and take a range of
neurons, which :func:`spikegraph.nn.neurons.lif._in_chunks` spreads over threads.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

# Importing the LIF kernels also gives the surrogates' helpers their numba versions.
from spikegraph.nn._lif_kernels import HARD, NONE, SOFT
from spikegraph.nn._numba_cache import cache_by_formula, formula_jit

_BLOCK = 512
#: Indices into the constants array ``c``: leak, baseline threshold, beta, rho, 1 - rho,
#: reset potential (all of the input's dtype).
K, TH, BETA, RHO, OMR, VRESET = range(6)


@numba.njit(nogil=True)
def _charge(y, c, v, b, spikes, count, w, reset):
    """One step of ``w`` neurons: charge, fire against the adaptive threshold, reset, adapt;
    writes the spikes and adds them to ``count``."""
    k, th, beta, rho, omr, v_reset = c[K], c[TH], c[BETA], c[RHO], c[OMR], c[VRESET]
    if reset == HARD:
        for j in range(w):
            h = y[j] + k * v[j]
            a = th + beta * b[j]
            f = 1.0 if h >= a else 0.0
            v[j] = v_reset if h >= a else h
            b[j] = rho * b[j] + omr * f
            spikes[j] = f
            count[j] += f
    elif reset == SOFT:
        for j in range(w):
            h = y[j] + k * v[j]
            a = th + beta * b[j]
            f = 1.0 if h >= a else 0.0
            v[j] = h - a if h >= a else h
            b[j] = rho * b[j] + omr * f
            spikes[j] = f
            count[j] += f
    else:
        for j in range(w):
            h = y[j] + k * v[j]
            a = th + beta * b[j]
            f = 1.0 if h >= a else 0.0
            v[j] = h
            b[j] = rho * b[j] + omr * f
            spikes[j] = f
            count[j] += f


@numba.njit(cache=True, nogil=True)
def alif_forward(x, static, steps, c, reset, rate_mode, out, lo, hi):
    """Neurons ``lo..hi-1``. x: [1, M] (static) or [T, M]; c: the constants (see ``K``...).
    out: spikes [T, M], or with ``rate_mode`` the firing rates [1, M] (spike count / T)."""
    B = _BLOCK
    v = np.empty(B, dtype=x.dtype)
    b = np.empty(B, dtype=x.dtype)
    count = np.empty(B, dtype=x.dtype)
    scratch = np.empty(B, dtype=x.dtype)
    for b0 in range(lo, hi, B):
        b1 = min(hi, b0 + B)
        w = b1 - b0
        for j in range(w):
            # c[TH] - c[TH]: a zero of the dtype; V_0 = k * 0 + I_0 is exactly I_0 and
            # A_0 = b_0 + beta * 0 exactly b_0, as the reference's first step.
            v[j] = c[TH] - c[TH]
            b[j] = v[j]
            count[j] = v[j]
        for t in range(steps):
            y = x[0, b0:b1] if static else x[t, b0:b1]
            spikes = scratch if rate_mode else out[t, b0:b1]
            _charge(y, c, v, b, spikes, count, w, reset)
        if rate_mode:
            for j in range(w):
                out[0, b0 + j] = count[j] / steps


@numba.njit(nogil=True)
def _recompute(y, c, v, b, hb, ab, w, reset):
    """One step of ``w`` neurons for the backward pass: stores the pre-reset potential
    (``hb``) and the threshold (``ab``)."""
    k, th, beta, rho, omr, v_reset = c[K], c[TH], c[BETA], c[RHO], c[OMR], c[VRESET]
    for j in range(w):
        h = y[j] + k * v[j]
        a = th + beta * b[j]
        f = 1.0 if h >= a else 0.0
        hb[j] = h
        ab[j] = a
        if reset == HARD:
            v[j] = v_reset if h >= a else h
        elif reset == SOFT:
            v[j] = h - a if h >= a else h
        else:
            v[j] = h
        b[j] = rho * b[j] + omr * f


@functools.cache
def backward_kernel(formula):
    """The ALIF backward kernel with the surrogate derivative ``formula`` (a surrogate
    class's ``formula(u, alpha)``) compiled in."""
    # Every function compiled here is named for the formula (spikegraph.nn._numba_cache).
    derivative = formula_jit(formula, inline="always")(formula)
    jit = formula_jit(formula, nogil=True)

    @jit
    def step_back(hb, ab, go, gscale, c, g_v, g_b, gy, w, keep, alpha, reset):
        """One step back in time for ``w`` neurons: ``gy`` receives dL/dI_t; ``g_v`` carries
        dL/dV~ and ``g_b`` dL/db from step t + 1 to step t."""
        k, beta, rho, omr, v_reset = c[K], c[BETA], c[RHO], c[OMR], c[VRESET]
        for j in range(w):
            h = hb[j]
            a = ab[j]
            sg = derivative(h - a, alpha)
            fired = 1.0 if h >= a else 0.0
            gv = g_v[j]
            if reset == HARD:
                ds = go[j] * gscale + omr * g_b[j] + keep * gv * (v_reset - h)
                gh = gv * (1.0 - fired) + ds * sg
                ga = -ds * sg
            elif reset == SOFT:
                ds = go[j] * gscale + omr * g_b[j] - keep * gv * a
                gh = gv + ds * sg
                ga = -ds * sg - gv * fired
            else:
                ds = go[j] * gscale + omr * g_b[j]
                gh = gv + ds * sg
                ga = -ds * sg
            g_b[j] = rho * g_b[j] + beta * ga
            gy[j] = gh
            g_v[j] = k * gh

    @jit
    def step_back_reset(hb, ab, go, gscale, c, g_v, g_b, gy, w, keep, alpha, reset):
        """:func:`step_back` with the reset as a compile-time constant in each loop."""
        if reset == HARD:
            step_back(hb, ab, go, gscale, c, g_v, g_b, gy, w, keep, alpha, HARD)
        elif reset == SOFT:
            step_back(hb, ab, go, gscale, c, g_v, g_b, gy, w, keep, alpha, SOFT)
        else:
            step_back(hb, ab, go, gscale, c, g_v, g_b, gy, w, keep, alpha, NONE)

    @jit
    def alif_backward(
        x, static, steps, c, reset, detach_reset, alpha, grad_out, grad_mode, grad_x, lo, hi
    ):
        """Backpropagation through time for neurons ``lo..hi-1``.

        grad_mode: 1 ``grad_out`` is dL/dspikes [T, M], 2 it is dL/drate [1, M] (so
        dL/dspike_t = dL/drate / T at every step). grad_x: [1, M] (static, the sum over the
        steps) or [T, M].
        """
        keep = 0.0 if detach_reset else 1.0
        B = _BLOCK
        hbuf = np.empty((steps, B), dtype=x.dtype)
        abuf = np.empty((steps, B), dtype=x.dtype)
        gy = np.empty((steps, B), dtype=np.float64)
        v = np.empty(B, dtype=x.dtype)
        b = np.empty(B, dtype=x.dtype)
        g_v = np.empty(B, dtype=np.float64)
        g_b = np.empty(B, dtype=np.float64)
        for b0 in range(lo, hi, B):
            b1 = min(hi, b0 + B)
            w = b1 - b0
            for j in range(w):
                v[j] = c[TH] - c[TH]
                b[j] = v[j]
                g_v[j] = 0.0
                g_b[j] = 0.0
            for t in range(steps):
                y = x[0, b0:b1] if static else x[t, b0:b1]
                if reset == HARD:
                    _recompute(y, c, v, b, hbuf[t], abuf[t], w, HARD)
                elif reset == SOFT:
                    _recompute(y, c, v, b, hbuf[t], abuf[t], w, SOFT)
                else:
                    _recompute(y, c, v, b, hbuf[t], abuf[t], w, NONE)
            for t in range(steps - 1, -1, -1):
                if grad_mode == 1:
                    go, gscale = grad_out[t, b0:b1], 1.0
                else:
                    go, gscale = grad_out[0, b0:b1], 1.0 / steps
                step_back_reset(
                    hbuf[t], abuf[t], go, gscale, c, g_v, g_b, gy[t], w, keep, alpha, reset
                )
            if static:
                for j in range(w):
                    acc = 0.0
                    for t in range(steps):
                        acc += gy[t, j]
                    grad_x[0, b0 + j] = acc
            else:
                for t in range(steps):
                    for j in range(w):
                        grad_x[t, b0 + j] = gy[t, j]

    # numba's own cache=True never hits for a closure: see spikegraph.nn._numba_cache
    return cache_by_formula(alif_backward, formula)
