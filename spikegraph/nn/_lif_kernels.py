"""CPU kernels for the multi-step LIF neuron, compiled with numba.

Each neuron's whole time loop runs in registers: the forward pass writes only the spikes and
the final potential; the backward pass recomputes the potentials of a block of neurons into a
small scratch buffer and runs backpropagation through time in reverse. Nothing of size
``[T, N, F]`` is kept between the passes, and no per-step temporaries are created.

The maths is the one of :func:`spikegraph.nn.neuron.lif_step`; tests compare both.

The decay :math:`k` and the threshold are arrays of one value (the same for every neuron) or
one per feature (the last dimension, ``C`` values for neuron ``i`` at ``i % C``); the backward
pass also returns, per neuron, the gradients of the loss with respect to both, which the
caller sums to the shape of the parameter (learnable time constants and thresholds, e.g.
:class:`~spikegraph.nn.neurons.plif.PLIF`).

The surrogate derivative is not written here: each surrogate's one ``formula``
(:mod:`spikegraph.nn.surrogate`) is compiled into the backward kernel, which
:func:`backward_kernel` builds (once per surrogate class and process, cached on disk by
numba). The pointwise helpers the formulas use get their numba versions below.

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

# Reset codes.
HARD, SOFT, NONE = 0, 1, 2
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


@numba.njit(cache=True, nogil=True)
def lif_forward(
    x, static, steps, v_init, has_v_init, decay, v_th, v_reset, reset, rate_mode, out, v_out, lo, hi
):
    """Neurons ``lo..hi-1``. x: [1, M] (static) or [T, M]. decay, v_th: [1] or [C]. out:
    spikes [T, M], or with ``rate_mode`` the firing rates [1, M] (spike count / T). v_out: [M]."""
    nk, nth = decay.size, v_th.size
    for i in range(lo, hi):
        k = decay[i % nk]
        th = v_th[i % nth]
        # th - th: a zero of the scalars' dtype, so that float32 inputs are integrated in
        # float32 exactly like the torch implementation does.
        v = v_init[i] if has_v_init else th - th
        count = 0.0
        for t in range(steps):
            xt = x[0, i] if static else x[t, i]
            h = xt + k * v if (has_v_init or t > 0) else xt
            if h >= th:
                if not rate_mode:
                    out[t, i] = 1.0
                count += 1.0
                if reset == HARD:
                    v = v_reset
                elif reset == SOFT:
                    v = h - th
                else:
                    v = h
            else:
                if not rate_mode:
                    out[t, i] = 0.0
                v = h
        if rate_mode:
            out[0, i] = count / steps
        v_out[i] = v


@functools.cache
def backward_kernel(formula):
    """The backward kernel with the surrogate derivative ``formula``
    (a surrogate class's ``formula(u, alpha)``) compiled in."""
    derivative = numba.njit(inline="always")(formula)

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
        alpha,
        grad_out,
        grad_mode,
        grad_v,
        has_grad_v,
        grad_x,
        grad_v_init,
        grad_decay,
        grad_th,
        lo,
        hi,
    ):
        """Backpropagation through time for neurons ``lo..hi-1``.

        grad_mode: 0 no gradient from the outputs, 1 ``grad_out`` is dL/dspikes [T, M], 2 it
        is dL/drate [1, M] (so dL/dspike_t = dL/drate / T at every step). grad_x: [1, M]
        (static) or [T, M]. grad_decay, grad_th: [M], each neuron's dL/dk and dL/dV_th.
        """
        width = hi - lo
        hbuf = np.empty((steps, min(width, _BLOCK)), dtype=np.float64)
        inv_steps = 1.0 / steps
        nk, nth = decay.size, v_th.size
        for b0 in range(lo, hi, _BLOCK):
            b1 = min(hi, b0 + _BLOCK)
            for i in range(b0, b1):
                k = decay[i % nk]
                th = v_th[i % nth]
                v = v_init[i] if has_v_init else th - th
                for t in range(steps):
                    xt = x[0, i] if static else x[t, i]
                    h = xt + k * v if (has_v_init or t > 0) else xt
                    hbuf[t, i - b0] = h
                    if h >= th:
                        v = v_reset if reset == HARD else (h - th if reset == SOFT else h)
                    else:
                        v = h
                g_v = grad_v[i] if has_grad_v else 0.0
                acc = 0.0
                gk = 0.0
                gth = 0.0
                for t in range(steps - 1, -1, -1):
                    h = hbuf[t, i - b0]
                    sg = derivative(h - th, alpha)
                    fired = 1.0 if h >= th else 0.0
                    if grad_mode == 1:
                        g = grad_out[t, i] * sg
                    elif grad_mode == 2:
                        g = grad_out[0, i] * inv_steps * sg
                    else:
                        g = 0.0
                    # dL/dth through the spike (-g) and through the reset (dV~/dth).
                    if reset == HARD:
                        dv = 1.0 - fired
                        dth = 0.0
                        if not detach_reset:
                            dv += (v_reset - h) * sg
                            dth = (h - v_reset) * sg
                    elif reset == SOFT:
                        dv = 1.0 if detach_reset else 1.0 - th * sg
                        dth = -fired if detach_reset else th * sg - fired
                    else:
                        dv = 1.0
                        dth = 0.0
                    gth += g_v * dth - g
                    g += g_v * dv
                    if static:
                        acc += g
                    else:
                        grad_x[t, i] = g
                    # dL/dk: V_t = k V~_{t-1} + I_t, with V~_{t-1} recomputed from V_{t-1}.
                    if t > 0:
                        hp = hbuf[t - 1, i - b0]
                        if hp >= th:
                            vp = v_reset if reset == HARD else (hp - th if reset == SOFT else hp)
                        else:
                            vp = hp
                        gk += g * vp
                    elif has_v_init:
                        gk += g * v_init[i]
                    g_v = k * g
                if static:
                    grad_x[0, i] = acc
                grad_v_init[i] = g_v
                grad_decay[i] = gk
                grad_th[i] = gth

    return lif_backward
