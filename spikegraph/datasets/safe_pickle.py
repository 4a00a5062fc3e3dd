"""A restricted unpickler: Python's :class:`pickle.Unpickler` with an allow-list of globals,
after the recipe in the Python documentation ("Restricting Globals"), so that reading a
dataset file cannot run code.

A pickle names every callable it invokes (``GLOBAL`` / ``STACK_GLOBAL`` opcodes, resolved by
:meth:`~pickle.Unpickler.find_class`). Plain :func:`pickle.load` imports whatever a file
names (``os.system``, ``builtins.eval`` ...); :class:`RestrictedUnpickler` resolves only the
``(module, name)`` pairs it is given, to objects it holds itself, and refuses any other with
:class:`RefusedGlobalError` before anything is called. Persistent ids are refused too (the
base class already does so when ``persistent_load`` is not defined).

:data:`ARRAY_GLOBALS` are what numpy arrays, numpy dtypes and scipy CSR matrices pickled by
Python 2 or 3 (protocols 2 to 5) need, plus ``list`` and ``collections.defaultdict``: the
contents of the Planetoid files (Yang et al., ICML 2016).
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse

try:  # numpy >= 2 moved its internals to numpy._core (numpy.core warns when imported)
    from numpy._core.multiarray import _reconstruct
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct
    from numpy.core.numeric import _frombuffer


class RefusedGlobalError(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list; ``self.global_name`` says which."""

    def __init__(self, global_name: str):
        super().__init__(f"refused global {global_name!r} (not on the allow-list)")
        self.global_name = global_name


def _latin1_encode(obj: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as Python 3 uses it to pickle ``bytes`` at protocol 2, limited to
    latin-1 (the only encoding that use needs; codecs such as zlib are refused)."""
    if not isinstance(obj, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(
            f"refused _codecs.encode({type(obj).__name__}, {encoding!r}): only latin-1 "
            "encoding of a str is allowed"
        )
    return obj.encode("latin-1")


def _pairs(modules: tuple[str, ...], name: str, obj: Any) -> dict[tuple[str, str], Any]:
    return {(module, name): obj for module in modules}


_NUMPY_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMPY_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")
_SCIPY_CSR = ("scipy.sparse.csr", "scipy.sparse._csr", "scipy.sparse")

#: ``(module, name)`` -> object, for numpy arrays, dtypes, scipy CSR matrices, lists and
#: defaultdicts as Python 2 and 3 pickle them. Python 2's ``__builtin__`` is named as such:
#: :meth:`RestrictedUnpickler.find_class` sees module names before any renaming.
ARRAY_GLOBALS: Mapping[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **_pairs(_NUMPY_MULTIARRAY, "_reconstruct", _reconstruct),
    **_pairs(_NUMPY_NUMERIC, "_frombuffer", _frombuffer),
    **_pairs(_SCIPY_CSR, "csr_matrix", scipy.sparse.csr_matrix),
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
    ("collections", "defaultdict"): collections.defaultdict,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in ``allowed``.

    Args:
        file: A binary file object.
        allowed: ``(module, name)`` -> the object to return for it.
        **kwargs: Passed to :class:`pickle.Unpickler` (``encoding`` ...).
    """

    def __init__(self, file, allowed: Mapping[tuple[str, str], Any], **kwargs):
        super().__init__(file, **kwargs)
        self._allowed = dict(allowed)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            raise RefusedGlobalError(f"{module}.{name}") from None


def restricted_loads(
    data: bytes,
    allowed: Mapping[tuple[str, str], Any] = ARRAY_GLOBALS,
    encoding: str = "latin1",
) -> Any:
    """Unpickle ``data`` admitting only the globals in ``allowed``.

    ``encoding="latin1"`` reads Python 2 ``str`` (numpy's raw array bytes) back as the same
    bytes, as PyG's own Planetoid reader does.

    Args:
        data: The whole pickle.
        allowed: ``(module, name)`` -> object (default :data:`ARRAY_GLOBALS`).
        encoding: How Python 2 ``str`` objects are decoded.

    Returns:
        The unpickled object.

    Raises:
        RefusedGlobalError: when the pickle names a global outside ``allowed``.
        pickle.UnpicklingError: when the pickle is malformed, truncated (also ``EOFError``),
            or followed by extra bytes.
    """
    buf = io.BytesIO(data)
    obj = RestrictedUnpickler(buf, allowed, encoding=encoding).load()
    if buf.tell() != len(data):
        raise pickle.UnpicklingError(
            f"{len(data) - buf.tell()} unexpected bytes after the end of the pickle"
        )
    return obj


__all__ = ["ARRAY_GLOBALS", "RefusedGlobalError", "RestrictedUnpickler", "restricted_loads"]
