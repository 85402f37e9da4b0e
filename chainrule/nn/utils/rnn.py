"""Batches of sequences of different lengths (PyTorch's ``torch.nn.utils.rnn``).

``pad_sequence`` stacks sequences (L_i, *) into one padded tensor. A
``PackedSequence`` holds the same steps without the padding, time-major: the
first step of every sequence, then the second step of those at least two long,
and so on, ``batch_sizes[t]`` rows for step t, the sequences sorted longest
first (``sorted_indices`` maps back to the caller's order). Packing and
unpacking are one gather and its adjoint (a scatter-add), so gradients flow
through both. The recurrent layers accept a PackedSequence and return one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from chainrule.ops.indexing import IndexAdd
from chainrule.ops.shape import pad, stack
from chainrule.tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence"]


def pad_sequence(
    sequences: Sequence[Tensor] | Tensor,
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences (L_i, *) into (L_max, B, *) (or (B, L_max, *) with ``batch_first``), filling with
    ``padding_value`` after each sequence (before it with ``padding_side='left'``).

    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pad_sequence
    >>> pad_sequence([cr.tensor([1, 2, 3]), cr.tensor([4])], batch_first=True, padding_value=-1)
    tensor([[ 1,  2,  3],
            [ 4, -1, -1]], shape=(2, 3), dtype=int64)
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    trailing = sequences[0].shape[1:]
    for i, sequence in enumerate(sequences):
        if sequence.ndim == 0 or sequence.shape[1:] != trailing:
            raise RuntimeError(
                f"pad_sequence: every sequence must be (L_i, *{trailing}); sequence {i} has shape {sequence.shape}"
            )
    longest = max(sequence.shape[0] for sequence in sequences)
    padded = []
    for sequence in sequences:
        missing = longest - sequence.shape[0]
        widths = (0, missing) if padding_side == "right" else (missing, 0)
        padded.append(pad(sequence, (0, 0) * len(trailing) + widths, value=padding_value))
    return stack(padded, 0 if batch_first else 1)


class PackedSequence(NamedTuple):
    """Sequences without their padding: ``data`` (sum of lengths, *), ``batch_sizes`` (T,) int64.

    ``sorted_indices[i]`` is the caller's index of the i-th longest sequence and
    ``unsorted_indices`` its inverse (both None when the input was already sorted).

    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_sequence
    >>> packed = pack_sequence([cr.tensor([1, 2, 3]), cr.tensor([4, 5])])
    >>> packed.data, packed.batch_sizes
    (tensor([1, 4, 2, 5, 3], shape=(5,), dtype=int64), tensor([2, 2, 1], shape=(3,), dtype=int64))
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def lengths(self) -> np.ndarray:
        """The sequences' lengths, longest first (the sorted order of ``data``)."""
        batch_sizes = self.batch_sizes.numpy()
        return (batch_sizes[None, :] > np.arange(batch_sizes[0])[:, None]).sum(1)

    def to(self, *args, **kwargs) -> PackedSequence:
        return self._replace(data=self.data.to(*args, **kwargs))


def _packed_rows(lengths: np.ndarray) -> np.ndarray:
    """The rows of a flattened time-major (T * B, *) padded batch that packing keeps, in packed order."""
    batch = len(lengths)
    steps = np.arange(lengths.max())[:, None]
    keep = steps < lengths[None, :]
    return (steps * batch + np.arange(batch)[None, :])[keep]


def _sorted_order(lengths: np.ndarray, enforce_sorted: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise RuntimeError(
                f"pack_padded_sequence: `lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                f"True, got {lengths.tolist()}. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX exportability."
            )
        return None, None
    order = np.argsort(-lengths, kind="stable")
    return order, np.argsort(order)


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of ``lengths``.

    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_padded_sequence
    >>> padded = cr.tensor([[1, 2, 3], [4, 5, 0]])
    >>> pack_padded_sequence(padded, [3, 2], batch_first=True).data
    tensor([1, 4, 2, 5, 3], shape=(5,), dtype=int64)
    """
    lengths = np.asarray(lengths.tolist() if isinstance(lengths, Tensor) else lengths, dtype=np.int64).reshape(-1)
    batch_dim = 0 if batch_first else 1
    if input.ndim < 2 or len(lengths) != input.shape[batch_dim]:
        raise ValueError(
            f"pack_padded_sequence: expected {len(lengths)} sequences along dim {batch_dim} of the input, "
            f"got shape {input.shape}"
        )
    if (lengths <= 0).any() or lengths.max() > input.shape[1 - batch_dim]:
        raise RuntimeError(
            f"pack_padded_sequence: every length must be in [1, {input.shape[1 - batch_dim]}] (the padded length), "
            f"got {lengths.tolist()}"
        )
    sorted_indices, unsorted_indices = _sorted_order(lengths, enforce_sorted)
    if sorted_indices is not None:
        lengths = lengths[sorted_indices]
        input = input[(slice(None),) * batch_dim + (sorted_indices,)]
    if batch_first:
        input = input.transpose(0, 1)
    data = input.flatten(0, 1)[_packed_rows(lengths)]
    batch_sizes = (lengths[None, :] > np.arange(lengths.max())[:, None]).sum(1)
    return PackedSequence(
        data,
        Tensor._wrap(batch_sizes.astype(np.int64)),
        None if sorted_indices is None else Tensor._wrap(sorted_indices),
        None if unsorted_indices is None else Tensor._wrap(unsorted_indices),
    )


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The inverse of ``pack_padded_sequence``: (T, B, *) (or (B, T, *)) in the caller's order, and the lengths.

    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> padded, lengths = pad_packed_sequence(pack_sequence([cr.tensor([1, 2, 3]), cr.tensor([4, 5])]), batch_first=True)
    >>> padded, lengths
    (tensor([[1, 2, 3],
            [4, 5, 0]], shape=(2, 3), dtype=int64), tensor([3, 2], shape=(2,), dtype=int64))
    """
    lengths = sequence.lengths()
    steps = int(lengths.max())
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"pad_packed_sequence: Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being {steps}"
            )
        steps = total_length
    data = sequence.data
    batch = len(lengths)
    rows = _packed_rows(lengths)
    padded = IndexAdd.apply(data, shape=(steps * batch, *data.shape[1:]), index=(rows,))
    if padding_value != 0:
        filler = np.full((steps * batch, *[1] * (data.ndim - 1)), padding_value, dtype=data.dtype)
        filler[rows] = 0
        padded = padded + Tensor._wrap(filler)
    padded = padded.reshape(steps, batch, *data.shape[1:])
    if sequence.unsorted_indices is not None:
        order = sequence.unsorted_indices.numpy()
        padded, lengths = padded[:, order], lengths[order]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, Tensor._wrap(lengths.astype(np.int64))


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) (longest first unless ``enforce_sorted=False``).

    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_sequence
    >>> pack_sequence([cr.tensor([4, 5]), cr.tensor([1, 2, 3])], enforce_sorted=False).batch_sizes
    tensor([2, 2, 1], shape=(3,), dtype=int64)
    """
    lengths = [sequence.shape[0] for sequence in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)
