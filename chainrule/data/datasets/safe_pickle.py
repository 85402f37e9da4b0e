"""Unpickling NumPy arrays without running arbitrary code.

``pickle.load`` calls any importable callable a file names, so a crafted file can
run ``os.system``. ``NumpyUnpickler`` resolves only the globals that a pickle of
plain NumPy arrays needs, and refuses every other one before anything is called.
"""

from __future__ import annotations

import pickle

import numpy as np

try:  # NumPy 2 moved the implementation to numpy._core; numpy.core is a deprecated alias
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct

# (module, name) -> object. These three are all that a pickle of ndarrays made with
# protocol 2-4 refers to: the array is rebuilt by _reconstruct(ndarray, shape, dtype)
# and filled by ndarray.__setstate__. NumPy 1 writes numpy.core.multiarray, NumPy 2
# writes numpy._core.multiarray.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyUnpickler(pickle.Unpickler):
    """An Unpickler that builds only NumPy arrays, dtypes and plain Python containers.

    Any other global (``os.system``, ``builtins.eval``, ...) raises
    ``pickle.UnpicklingError`` naming it.
    """

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
            raise pickle.UnpicklingError(
                f"refusing to load the global {module}.{name}: this unpickler allows only {allowed}"
            ) from None


def load_numpy_pickle(stream, encoding: str = "latin1"):
    """Unpickle ``stream`` (a binary file object) with ``NumpyUnpickler``.

    ``encoding='latin1'`` reads pickles written by Python 2 (whose arrays are byte strings).
    Object arrays are refused too: their elements would come from the pickle, not from NumPy.
    """
    result = NumpyUnpickler(stream, encoding=encoding).load()
    _refuse_object_arrays(result)
    return result


def _refuse_object_arrays(value) -> None:
    """Walk every array in ``value``, each container once (shared references are not walked again)."""
    seen: set[int] = set()
    pending = [value]
    while pending:  # a stack, not recursion: a deep pickle cannot overflow Python's stack
        value = pending.pop()
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise pickle.UnpicklingError(f"refusing an array of dtype {value.dtype}: only plain numeric arrays")
        elif isinstance(value, (tuple, list, dict)) and id(value) not in seen:
            seen.add(id(value))
            pending.extend(value.values() if isinstance(value, dict) else value)
