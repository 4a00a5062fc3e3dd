"""The backward kernels built per surrogate formula are cached on disk: a second process loads
them instead of compiling, each formula keeps its own entries (a formula never runs another's
compiled code), and the cache does not grow by an entry per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from spikegraph.nn.surrogate import SURROGATES
from tests.nn.neurons.test_lif_learnable import _grads, reference

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("sigmoid", "arctan")

CHILD = """
import json, sys
import torch
from spikegraph.nn import _lif_kernels as K
from spikegraph.nn import lif_multistep
from spikegraph.nn.surrogate import SURROGATES
from tests.nn.neurons.test_lif_learnable import _grads

ALIF_TOO = sys.argv[1] == "alif"
if ALIF_TOO:
    from spikegraph.nn import _alif_kernels as A
    from spikegraph.nn.neurons.alif import ALIF

out = {}
for name in sys.argv[2:]:
    torch.manual_seed(0)
    x = (torch.randn(6, 4, 5, dtype=torch.float64) + 0.5).requires_grad_()
    grad = _grads(lif_multistep(x, 0.5, 1.0, 0.0, "soft", SURROGATES[name](1.3)), (x,))[0]
    stats = K.backward_kernel(SURROGATES[name].formula).stats
    out[name] = {
        "grad": grad.flatten().tolist(),
        "hits": sum(stats.cache_hits.values()),
        "misses": sum(stats.cache_misses.values()),
    }
    if ALIF_TOO:
        neuron = ALIF(surrogate=SURROGATES[name](1.3), tau_adapt=3.0, beta=0.4)
        spikes = neuron(x)
        weights = torch.linspace(-1.0, 1.0, spikes.numel(), dtype=x.dtype).view_as(spikes)
        grad = torch.autograd.grad((spikes * weights).sum(), x)[0]
        out[name]["alif_grad"] = grad.flatten().tolist()
        alif = A.backward_kernel(SURROGATES[name].formula).stats
        out[name]["alif_hits"] = sum(alif.cache_hits.values())
        out[name]["alif_misses"] = sum(alif.cache_misses.values())
print(json.dumps(out))
"""


def _child(cache: Path, names: tuple[str, ...], alif: bool = False) -> dict:
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(cache),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, "alif" if alif else "lif", *names],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _entries(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob("*lif_backward*"))


def test_a_second_process_loads_each_formulas_own_kernel(tmp_path):
    cache = tmp_path / "numba"
    first = _child(cache, NAMES)
    entries = _entries(cache)
    assert any(e.endswith(".nbi") for e in entries), entries
    # The second process asks for the formulas in another order: each must find its own.
    second = _child(cache, tuple(reversed(NAMES)))
    for name in NAMES:
        assert first[name]["misses"] > 0 and first[name]["hits"] == 0, first[name]
        assert second[name]["hits"] > 0 and second[name]["misses"] == 0, second[name]
        assert second[name]["grad"] == first[name]["grad"], name
        # ... and it is that formula's gradient, not another's (independent reference: the
        # step loop with torch autograd and the surrogate's torch primitive).
        want = _lif_reference(name)
        got = torch.tensor(second[name]["grad"], dtype=torch.float64).view_as(want)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
        assert float(want.abs().sum()) > 0
    grads = [tuple(second[n]["grad"]) for n in NAMES]
    assert len(set(grads)) == len(NAMES)  # the formulas differ, so must their gradients
    assert _entries(cache) == entries  # a hit writes nothing new


def _lif_reference(name: str) -> torch.Tensor:
    """The child's LIF gradient for surrogate ``name``, from the step loop with torch autograd
    and the surrogate's torch primitive (no kernel, no cache)."""
    torch.manual_seed(0)
    x = (torch.randn(6, 4, 5, dtype=torch.float64) + 0.5).requires_grad_()
    return _grads(reference(x, 0.5, 1.0, "soft", SURROGATES[name](1.3), False), (x,))[0]


def test_formulas_first_compiled_in_different_processes_keep_their_own_code(tmp_path):
    """Each formula's kernels are compiled in a process of its own, then one process loads both
    from the cache. numba names compiled code by the function's qualified name and a counter
    that restarts in every process, so the two formulas' kernels carried the same names and
    the process that loaded both ran the first one's code for the second (the sigmoid's
    gradient for arctan), without an error."""
    cache = tmp_path / "numba"
    # A third formula first compiles and caches the kernels every formula shares, so that the
    # two processes below start from the same cache, as two users' runs would.
    _child(cache, ("rectangular",), alif=True)
    alone = {name: _child(cache, (name,), alif=True)[name] for name in NAMES}
    both = _child(cache, NAMES, alif=True)
    for name in NAMES:
        assert both[name]["hits"] > 0 and both[name]["misses"] == 0, both[name]
        assert both[name]["alif_hits"] > 0 and both[name]["alif_misses"] == 0, both[name]
        want = _lif_reference(name)
        torch.testing.assert_close(
            torch.tensor(both[name]["grad"], dtype=torch.float64).view_as(want),
            want,
            rtol=1e-10,
            atol=1e-10,
        )
        # ALIF: against the kernel compiled in a process that had no other formula.
        assert both[name]["alif_grad"] == alone[name]["alif_grad"], name
    assert both[NAMES[0]]["alif_grad"] != both[NAMES[1]]["alif_grad"]


def test_the_key_follows_the_formulas_source():
    from spikegraph.nn._numba_cache import formula_key

    keys = {formula_key(SURROGATES[n].formula) for n in NAMES}
    assert len(keys) == len(NAMES) and None not in keys
    assert formula_key(SURROGATES["sigmoid"].formula) == formula_key(SURROGATES["sigmoid"].formula)
    # Without a readable source (a formula made by exec) there is no key: not cached.
    namespace: dict = {}
    exec("def f(u, alpha):\n    return alpha * u\n", namespace)
    assert formula_key(namespace["f"]) is None
    # ... and its kernel is built without numba's disk cache (compiled in each process).
    from spikegraph.nn import _lif_kernels as K

    assert type(K.backward_kernel(namespace["f"])._cache).__name__ == "NullCache"
    assert type(K.backward_kernel(SURROGATES["sigmoid"].formula)._cache).__name__ == (
        "_FormulaCache"
    )
