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
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

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


def cache_by_formula(dispatcher: Any, formula: Any) -> Any:
    """Turn on the on-disk cache of ``dispatcher`` (compiled with ``formula`` inside), keyed
    by :func:`formula_key`. Without a readable source the kernel is compiled once per process
    and not cached. Returns ``dispatcher``."""
    key = formula_key(formula)
    if key is not None:
        dispatcher._cache = _FormulaCache(dispatcher.py_func, key)
    return dispatcher
