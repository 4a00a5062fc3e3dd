"""numba's on-disk cache for the kernels built once per surrogate formula.

The backward kernels (:func:`spikegraph.nn._lif_kernels.backward_kernel`,
:func:`spikegraph.nn._alif_kernels.backward_kernel`) are closures over the jitted surrogate
derivative. numba keys a closure's cache entries by its closure variables, pickled; those are
dispatchers, which pickle differently in every process, so with numba's own ``cache=True``
no entry was ever found again: every process compiled the kernel anew (seconds per
signature) and wrote one more entry to the cache folder.

:func:`cache_by_formula` keys the entries instead by what determines the compiled code: the
kernel's bytecode and the source of the module that defines the formula (the formula and any
helper of its module it calls). The kernel's own source file is covered by numba's check of
its timestamp and size, which discards the whole index when the file changes.

:func:`formula_jit` also gives each formula's kernels names of their own. numba names the
machine code of a function by its qualified name and a counter that restarts in every
process, and links a process's code by those names. Kernels compiled in two processes for
two formulas could therefore carry the same names (``backward_kernel.<locals>.step_back``
with the same count), and a process that loaded both from the cache ran the first one's
derivative for the second, a wrong gradient without an error. With the digest of
:func:`formula_key` in the name, the kernels of different formulas never share a name (and
have index files of their own).
"""

from __future__ import annotations

import hashlib
import inspect
import types
from collections.abc import Callable
from typing import Any

import numba
from numba.core.caching import FunctionCache


class _FormulaCache(FunctionCache):
    """numba's :class:`FunctionCache` with an index key that names the formula's source."""

    def __init__(self, py_func: Any, formula_key: str) -> None:
        super().__init__(py_func)
        self._formula_key = formula_key

    def _index_key(self, sig: Any, codegen: Any) -> tuple:
        code = hashlib.sha256(self._py_func.__code__.co_code).hexdigest()
        return (sig, codegen.magic_tuple(), (code, self._formula_key))


def formula_key(formula: Any) -> str | None:
    """A digest of ``formula``'s name and its module's source (``None``: the source cannot be
    read, e.g. a formula typed into an interactive session)."""
    module = inspect.getmodule(formula)
    try:
        source = inspect.getsource(module) if module is not None else inspect.getsource(formula)
    except (OSError, TypeError):
        return None
    name = f"{getattr(formula, '__module__', '')}.{getattr(formula, '__qualname__', '')}"
    return hashlib.sha256(f"{name}\0{source}".encode()).hexdigest()


def _renamed(fn: Any, tag: str) -> Any:
    """A copy of the plain function ``fn`` whose (qualified) name ends in ``_tag``."""
    copy = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    copy.__name__ = f"{fn.__name__}_{tag}"
    copy.__qualname__ = f"{fn.__qualname__}_{tag}"
    return copy


def formula_tag(formula: Any) -> str:
    """What :func:`formula_jit` appends to the names of ``formula``'s kernels: a prefix of its
    :func:`formula_key`, or ``"uncached"`` for a formula without one (compiled in each process
    and never loaded from the cache, so its counter-numbered names are unique in the process)."""
    key = formula_key(formula)
    return key[:16] if key is not None else "uncached"


def formula_jit(formula: Any, **options: Any) -> Callable[[Any], Any]:
    """``numba.njit(**options)`` for a kernel built around ``formula``: the kernel is compiled
    under a name that carries :func:`formula_tag` (see the module's docstring)."""
    tag = formula_tag(formula)

    def jit(fn: Any) -> Any:
        return numba.njit(**options)(_renamed(fn, tag))

    return jit


def cache_by_formula(dispatcher: Any, formula: Any) -> Any:
    """Turn on the on-disk cache of ``dispatcher`` (compiled with ``formula`` inside), keyed
    by :func:`formula_key`. Without a readable source the kernel is compiled once per process
    and not cached. Returns ``dispatcher``."""
    key = formula_key(formula)
    if key is not None:
        dispatcher._cache = _FormulaCache(dispatcher.py_func, key)
    return dispatcher
