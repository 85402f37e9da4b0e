"""Collation: merging a list of samples into one batch (``default_collate``), or
converting one sample's arrays to tensors (``default_convert``, used when a
DataLoader does not batch). Both follow PyTorch's rules, type by type.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence

import numpy as np

from chainrule.backend import array_module
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor

_STRING_OR_OBJECT_KINDS = "SaUO"  # NumPy dtypes that cannot become a tensor


def default_collate(batch: Sequence):
    """Merge samples into a batch, keeping their structure (PyTorch's ``default_collate``).

    - tensors and NumPy arrays of one shape -> one tensor with a new leading dim (B, ...)
    - Python ints -> int64, floats -> float64, bools -> bool: a 1-d tensor (B,)
    - NumPy scalars -> a 1-d tensor of their dtype
    - dicts (any mapping) -> the same mapping type holding the collated values
    - namedtuples -> the same namedtuple of collated fields; tuples -> a list of
      collated fields (``[(x0, y0), (x1, y1)] -> [X, Y]``, PyTorch's choice); other
      sequences -> the same type
    - strings and bytes -> the batch as it is (a list, or a tuple inside a sequence)

    Example:
        >>> import chainrule as cr
        >>> x, y = default_collate([(cr.zeros(3), 0), (cr.ones(3), 1)])
        >>> tuple(x.shape), y.tolist()
        ((2, 3), [0, 1])
    """
    if len(batch) == 0:
        raise ValueError("default_collate: cannot collate an empty batch")
    first = batch[0]
    if isinstance(first, Tensor):
        return _stack_tensors(batch)
    if isinstance(first, np.ndarray):
        _check_numeric(first)
        return Tensor._wrap(_stack_arrays(batch))
    if isinstance(first, np.generic) and not isinstance(first, (np.str_, np.bytes_)):
        return Tensor._wrap(np.array(batch))
    if isinstance(first, (bool, int, float)):
        return Tensor._wrap(_numbers(batch))
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, Mapping):
        return _collate_mapping(batch)
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*_collate_fields(batch))
    if isinstance(first, Sequence):
        fields = _collate_fields(batch)
        return fields if isinstance(first, tuple) else _same_sequence_type(first, fields)
    raise TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(first).__name__} (pass collate_fn=... to batch other types)"
    )


def default_convert(data):
    """Turn the NumPy arrays and scalars in one sample into tensors, keeping its structure.

    What a DataLoader with ``batch_size=None`` applies to each sample. Tuples become
    lists (as in ``default_collate``); anything else is returned as it is.

    >>> import numpy as np
    >>> from chainrule.utils.data import default_convert
    >>> default_convert((np.array([1, 2]), 3.5, "label"))
    [tensor([1, 2], shape=(2,), dtype=int64), 3.5, 'label']
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in _STRING_OR_OBJECT_KINDS else Tensor._wrap(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, Mapping):
        return _rebuild_mapping(data, {key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence_type(data, [default_convert(d) for d in data])
    return data


def _collate_mapping(batch: Sequence[Mapping]):
    first = batch[0]
    for i, sample in enumerate(batch):
        if sample.keys() != first.keys():
            raise ValueError(
                f"default_collate: every dict sample needs the keys {list(first)}, sample {i} has {list(sample)}"
            )
    return _rebuild_mapping(first, {key: default_collate([sample[key] for sample in batch]) for key in first})


def _rebuild_mapping(template: Mapping, values: dict):
    """``values`` in a mapping of ``template``'s type where that can be built, else a dict."""
    try:
        if isinstance(template, MutableMapping):
            clone = copy.copy(template)
            clone.update(values)
            return clone
        return type(template)(values)
    except TypeError:
        return values


def _collate_fields(batch: Sequence[Sequence]) -> list:
    lengths = {len(sample) for sample in batch}
    if len(lengths) > 1:
        raise RuntimeError(
            f"default_collate: each element in list of batch should be of equal size, got lengths {sorted(lengths)}"
        )
    return [default_collate(column) for column in zip(*batch)]


def _same_sequence_type(template: Sequence, items: list):
    try:
        if isinstance(template, MutableSequence):
            clone = copy.copy(template)
            clone[:] = items
            return clone
        return type(template)(items)
    except TypeError:
        return items


def _check_numeric(array: np.ndarray) -> None:
    if array.dtype.kind in _STRING_OR_OBJECT_KINDS:
        raise TypeError(
            f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
            f"found a NumPy array of dtype {array.dtype}"
        )


def _stack_tensors(batch: Sequence[Tensor]) -> Tensor:
    if any(t.requires_grad for t in batch):
        return stack(list(batch))  # keeps the graph
    return Tensor._wrap(_stack_arrays([t._data for t in batch]))


def _stack_arrays(arrays: Sequence):
    shape = arrays[0].shape
    for i, array in enumerate(arrays):
        if array.shape != shape:
            raise ValueError(
                f"default_collate: cannot stack samples of different shapes: "
                f"{tuple(shape)} at 0 and {tuple(array.shape)} at {i}"
            )
    return array_module(arrays[0]).stack(arrays)


def _numbers(batch: Sequence) -> np.ndarray:
    """Python floats -> float64; ints (and bools) as ``torch.tensor`` infers them: int64, bool, or float32 if mixed."""
    if isinstance(batch[0], float):
        return np.array(batch, dtype=np.float64)
    array = np.array(batch)
    return array.astype(
        np.float32 if array.dtype.kind == "f" else np.int64 if array.dtype.kind in "iu" else array.dtype
    )
