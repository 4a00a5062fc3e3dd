"""CPU kernels for the multi-step LIF neuron, compiled with numba.

Each neuron's whole time loop runs in registers: the forward pass writes only the spikes and
the final potential; the backward pass recomputes the potentials of a block of neurons into a
small scratch buffer and runs backpropagation through time in reverse. Nothing of size
``[T, N, F]`` is kept between the passes, and no per-step temporaries are created.

The maths is the one of :func:`spikegraph.nn.neuron.lif_step`; tests compare both.

The kernels do not use numba's own thread pool: competing with torch's OpenMP threads for the
same cores, it made a training step more than ten times slower. Instead they release the GIL
and take a range of neurons, so :mod:`spikegraph.nn.neuron` runs disjoint ranges on as many
Python threads as torch uses.
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


@numba.njit(cache=True, nogil=True)
def lif_forward(
    x, static, steps, v_init, has_v_init, decay, v_th, v_reset, reset, rate_mode, out, v_out, lo, hi
):
    """Neurons ``lo..hi-1``. x: [1, M] (static) or [T, M]. out: spikes [T, M], or with
    ``rate_mode`` the firing rates [1, M] (spike count / T). v_out: [M]."""
    for i in range(lo, hi):
        # v_th - v_th: a zero of the scalars' dtype, so that float32 inputs are integrated in
        # float32 exactly like the torch implementation does.
        v = v_init[i] if has_v_init else v_th - v_th
        count = 0.0
        for t in range(steps):
            xt = x[0, i] if static else x[t, i]
            h = xt + decay * v if (has_v_init or t > 0) else xt
            if h >= v_th:
                if not rate_mode:
                    out[t, i] = 1.0
                count += 1.0
                if reset == HARD:
                    v = v_reset
                elif reset == SOFT:
                    v = h - v_th
                else:
                    v = h
            else:
                if not rate_mode:
                    out[t, i] = 0.0
                v = h
        if rate_mode:
            out[0, i] = count / steps
        v_out[i] = v


@numba.njit(cache=True, nogil=True)
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
    grad_out,
    grad_mode,
    grad_v,
    has_grad_v,
    grad_x,
    grad_v_init,
    lo,
    hi,
):
    """Backpropagation through time for neurons ``lo..hi-1``.

    grad_mode: 0 no gradient from the outputs, 1 ``grad_out`` is dL/dspikes [T, M], 2 it is
    dL/drate [1, M] (so dL/dspike_t = dL/drate / T at every step). grad_x: [1, M] (static)
    or [T, M].
    """
    width = hi - lo
    hbuf = np.empty((steps, min(width, _BLOCK)), dtype=np.float64)
    inv_steps = 1.0 / steps
    for b0 in range(lo, hi, _BLOCK):
        b1 = min(hi, b0 + _BLOCK)
        for i in range(b0, b1):
            v = v_init[i] if has_v_init else v_th - v_th
            for t in range(steps):
                xt = x[0, i] if static else x[t, i]
                h = xt + decay * v if (has_v_init or t > 0) else xt
                hbuf[t, i - b0] = h
                if h >= v_th:
                    v = v_reset if reset == HARD else (h - v_th if reset == SOFT else h)
                else:
                    v = h
            g_v = grad_v[i] if has_grad_v else 0.0
            acc = 0.0
            for t in range(steps - 1, -1, -1):
                h = hbuf[t, i - b0]
                sg = _derivative(h - v_th, code, alpha)
                fired = 1.0 if h >= v_th else 0.0
                if grad_mode == 1:
                    g = grad_out[t, i] * sg
                elif grad_mode == 2:
                    g = grad_out[0, i] * inv_steps * sg
                else:
                    g = 0.0
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
