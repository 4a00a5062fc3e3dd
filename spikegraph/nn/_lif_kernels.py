"""CPU kernels for the multi-step LIF neuron, compiled with numba.

Each neuron's whole time loop runs in registers: the forward pass writes only the spikes and
the final potential; the backward pass recomputes the potentials of a block of neurons into a
small scratch buffer and runs backpropagation through time in reverse. Nothing of size
``[T, N, F]`` is kept between the passes, and no per-step temporaries are created.

The maths is the one of :func:`spikegraph.nn.neuron.lif_step`; tests compare both.

The kernels are deliberately serial: numba's own thread pool competing with torch's OpenMP
threads for the same cores made a training step more than ten times slower, while one
thread already runs the loop at memory speed.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Surrogate codes understood by the kernels.
RECTANGULAR, SIGMOID, ARCTAN, TRIANGLE = 0, 1, 2, 3
# Reset codes.
HARD, SOFT, NONE = 0, 1, 2
_BLOCK = 512


@numba.njit(cache=True, inline="always")
def _derivative(u, code, alpha):
    if code == RECTANGULAR:
        return alpha if abs(u) < 0.5 / alpha else 0.0
    if code == SIGMOID:
        s = 1.0 / (1.0 + math.exp(-alpha * u))
        return alpha * s * (1.0 - s)
    if code == ARCTAN:
        w = 0.5 * math.pi * alpha * u
        return 0.5 * alpha / (1.0 + w * w)
    return alpha * max(0.0, 1.0 - alpha * abs(u))


@numba.njit(cache=True)
def lif_forward(x, static, steps, v_init, has_v_init, decay, v_th, v_reset, reset, spikes, v_out):
    """x: [M] (static) or [T, M]; spikes: [T, M] output; v_out: [M] output."""
    M = v_out.shape[0]
    for i in range(M):
        v = v_init[i] if has_v_init else 0.0
        for t in range(steps):
            xt = x[0, i] if static else x[t, i]
            h = xt + decay * v if (has_v_init or t > 0) else xt
            if h >= v_th:
                spikes[t, i] = 1.0
                if reset == HARD:
                    v = v_reset
                elif reset == SOFT:
                    v = h - v_th
                else:
                    v = h
            else:
                spikes[t, i] = 0.0
                v = h
        v_out[i] = v


@numba.njit(cache=True)
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
    code,
    alpha,
    grad_spikes,
    has_grad_spikes,
    grad_v,
    has_grad_v,
    grad_x,
    grad_v_init,
):
    """Backpropagation through time; grad_x is [1, M] (static) or [T, M]."""
    M = grad_v_init.shape[0]
    num_blocks = (M + _BLOCK - 1) // _BLOCK
    for b in range(num_blocks):
        lo = b * _BLOCK
        hi = min(M, lo + _BLOCK)
        hbuf = np.empty((steps, hi - lo), dtype=np.float64)
        for i in range(lo, hi):
            v = v_init[i] if has_v_init else 0.0
            for t in range(steps):
                xt = x[0, i] if static else x[t, i]
                h = xt + decay * v if (has_v_init or t > 0) else xt
                hbuf[t, i - lo] = h
                if h >= v_th:
                    v = v_reset if reset == HARD else (h - v_th if reset == SOFT else h)
                else:
                    v = h
            g_v = grad_v[i] if has_grad_v else 0.0
            acc = 0.0
            for t in range(steps - 1, -1, -1):
                h = hbuf[t, i - lo]
                sg = _derivative(h - v_th, code, alpha)
                fired = 1.0 if h >= v_th else 0.0
                g = grad_spikes[t, i] * sg if has_grad_spikes else 0.0
                if reset == HARD:
                    dv = 1.0 - fired
                    if not detach_reset:
                        dv += (v_reset - h) * sg
                elif reset == SOFT:
                    dv = 1.0 if detach_reset else 1.0 - v_th * sg
                else:
                    dv = 1.0
                g += g_v * dv
                if static:
                    acc += g
                else:
                    grad_x[t, i] = g
                g_v = decay * g
            if static:
                grad_x[0, i] = acc
            grad_v_init[i] = g_v
