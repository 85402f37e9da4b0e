"""Collation: merging a list of samples into one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from chainrule.backend import array_module
from chainrule.backend import dtypes as _dtypes
from chainrule.tensor import Tensor


def default_collate(batch: Sequence):
    """Merge samples into a batch, keeping their structure.

    - tensors and NumPy arrays of one shape -> one tensor with a new leading dim (B, ...)
    - Python numbers -> a 1-d tensor: bool, int64, or float32 (chainrule's default float)
    - NumPy scalars -> a 1-d tensor of their dtype
    - dicts -> a dict of collated values; tuples, lists and namedtuples -> the same
      type holding the collated fields (``[(x0, y0), (x1, y1)] -> (X, Y)``)
    - strings and bytes -> the list as is

    Example:
        >>> import chainrule as cr
        >>> x, y = default_collate([(cr.zeros(3), 0), (cr.ones(3), 1)])
        >>> x.shape, y.tolist()
        ((2, 3), [0, 1])
    """
    if len(batch) == 0:
        raise ValueError("collate: cannot collate an empty batch")
    first = batch[0]
    if isinstance(first, Tensor):
        return _stack_tensors(batch)
    if isinstance(first, np.ndarray):
        return Tensor._wrap(_stack_arrays(batch))
    if isinstance(first, (bool, int, float)) and not isinstance(first, np.generic):
        return Tensor._wrap(_numbers(batch))
    if isinstance(first, np.generic):
        return Tensor._wrap(np.array(batch))
    if isinstance(first, (str, bytes)) or first is None:
        return list(batch)
    if isinstance(first, Mapping):
        missing = [i for i, sample in enumerate(batch) if sample.keys() != first.keys()]
        if missing:
            raise ValueError(
                f"collate: every dict sample needs the keys {sorted(first)}, "
                f"sample {missing[0]} has {sorted(batch[missing[0]])}"
            )
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, Sequence):
        lengths = {len(sample) for sample in batch}
        if len(lengths) > 1:
            raise ValueError(
                f"collate: every sample must have the same number of fields, got lengths {sorted(lengths)}"
            )
        fields = [default_collate(list(column)) for column in zip(*batch)]
        if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
            return type(first)(*fields)
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(
        f"collate: don't know how to batch samples of type {type(first).__name__}; "
        "expected tensors, NumPy arrays, numbers, dicts, tuples or lists (or pass collate_fn=...)"
    )


def _stack_tensors(batch: Sequence[Tensor]) -> Tensor:
    if any(t.requires_grad for t in batch):
        from chainrule.ops.shape import stack

        return stack(list(batch))  # keeps the graph
    return Tensor._wrap(_stack_arrays([t._data for t in batch]))


def _stack_arrays(arrays: Sequence):
    shape = arrays[0].shape
    for i, array in enumerate(arrays):
        if array.shape != shape:
            raise ValueError(
                f"collate: cannot stack samples of different shapes: {tuple(shape)} at 0 and {tuple(array.shape)} at {i}"
            )
    return array_module(arrays[0]).stack(arrays)


def _numbers(batch: Sequence) -> np.ndarray:
    if all(isinstance(x, bool) for x in batch):
        return np.array(batch, dtype=np.bool_)
    if all(isinstance(x, int) for x in batch):
        return np.array(batch, dtype=np.int64)
    return np.array(batch, dtype=_dtypes.default_float)
