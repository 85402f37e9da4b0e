"""The devices the device-parametrised tests run on: "cpu", the "fake" device double, and "cuda" where present.

The fake device's arrays refuse to become NumPy arrays implicitly, as CuPy's do,
so a test that passes there proves the code under test never drops to the
host behind the user's back. Use ``DEVICES`` with ``pytest.mark.parametrize``
(or the ``device`` fixture of ``conftest.py``) and ``host(t)`` to read results.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

DEVICES = ["cpu", "fake"] + (["cuda"] if cr.cuda.is_available() else [])
"""Every device this machine can run: cpu and fake always, cuda where CuPy sees a GPU."""

ACCELERATORS = [d for d in DEVICES if d != "cpu"]
"""The devices other than the host."""


def host(value) -> np.ndarray:
    """A NumPy copy of a tensor on any device (or of a number or array)."""
    if isinstance(value, cr.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def on(device: str, *arrays, requires_grad: bool = False):
    """Tensors on ``device`` made from host arrays (one tensor for one array)."""
    tensors = [cr.tensor(np.asarray(a), device=device, requires_grad=requires_grad) for a in arrays]
    return tensors[0] if len(tensors) == 1 else tensors
