"""The Tensor: an array, the flag that asks for its gradient, and the node that made it.

A Tensor wraps one NumPy (cpu) or CuPy (cuda) array. Every operator and method
delegates to a function of ``chainrule.ops``; those functions record the graph
that ``backward()`` walks.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.grad_mode import GradMode
from chainrule.backend import array_module, device_of, dtypes


class Size(tuple):
    """A tensor's shape: a tuple of ints, as ``torch.Size`` (``x.shape``, ``x.size()``)."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for ``()``)."""
        count = 1
        for n in self:
            count *= n
        return count

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    def __str__(self) -> str:  # messages show a shape as the tuple it is: "(2, 3)"
        return tuple.__repr__(self)

    def __getitem__(self, index):
        result = tuple.__getitem__(self, index)
        return Size(result) if isinstance(index, slice) else result

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Attributes:
        grad: the accumulated gradient (a Tensor of the same shape) or None.
        grad_fn: the graph node that produced this tensor; None for leaves.
    """

    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_output_nr", "_version", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False):
        if type(data) is not np.ndarray:
            from chainrule.ops.creation import as_array

            data = as_array(data)
        self._data = data
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version = 0
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self):
        return device_of(self._data)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[dim]

    def numel(self) -> int:
        return self._data.size

    def element_size(self) -> int:
        return self._data.itemsize

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    # ------------------------------------------------------------------ autograd flags
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "requires_grad_: you can only change requires_grad of leaf tensors; "
                    "use detach() to get a tensor that does not require grad"
                )
            return self
        if requires_grad and not dtypes.is_floating(self._data.dtype):
            raise RuntimeError(
                f"requires_grad_: only tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        raise NotImplementedError("retain_grad: use chainrule.autograd.grad(output, [tensor]) instead")

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's array, outside the graph."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else value

    def detach(self) -> Tensor:
        return Tensor._wrap(self._data)

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf), times ``gradient``, into ``.grad`` of every leaf that requires grad."""
        from chainrule.autograd.engine import backward

        backward([self], None if gradient is None else [gradient], retain_graph, create_graph)

    @staticmethod
    def _wrap(array, grad_fn=None, output_nr: int = 0) -> Tensor:
        """Fast internal constructor around an array (no copy, no checks)."""
        tensor = object.__new__(Tensor)
        tensor._data = array
        tensor._requires_grad = grad_fn is not None
        tensor.grad = None
        tensor.grad_fn = grad_fn
        tensor._output_nr = output_nr
        tensor._version = 0
        return tensor

    # ------------------------------------------------------------------ conversion
    def numpy(self, force: bool = False) -> np.ndarray:
        if self._requires_grad and not force:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()"
            )
        if type(self._data) is not np.ndarray:
            if not force:
                raise TypeError(f"numpy(): can't convert a {self.device} tensor to NumPy; use tensor.cpu() first")
            return self._data.get()
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"item(): a tensor with {self._data.size} elements cannot be converted to a Python scalar"
            )
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"bool(): the truth value of a tensor with {self._data.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self._data.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError(
                f"__index__: only integer tensors of a single element can be used as an index, got {self.dtype} of shape {self.shape}"
            )
        return int(self._data.item())

    __hash__ = object.__hash__  # identity, as in PyTorch (== is elementwise); runs in C

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __repr__(self) -> str:
        return _tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return repr(self)

    def __deepcopy__(self, memo):
        copy = Tensor._wrap(array_module(self._data).array(self._data, copy=True))
        copy._requires_grad = self._requires_grad
        if type(self) is not Tensor:
            copy = type(self)(copy, requires_grad=self._requires_grad)
        if self.grad is not None:
            copy.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = copy
        return copy

    # ------------------------------------------------------------------ in-place updates
    def _check_inplace(self, op: str) -> None:
        if self._requires_grad and GradMode.enabled:
            kind = "a leaf tensor" if self.grad_fn is None else "a tensor"
            raise RuntimeError(
                f"{op}: {kind} that requires grad is being modified in place; "
                "wrap the update in `with cr.no_grad():` or work on tensor.detach()"
            )
        self._version += 1

    def _assign(self, op: str, value) -> Tensor:
        self._check_inplace(op)
        value = value._data if isinstance(value, Tensor) else value
        xp = array_module(self._data)
        self._data[...] = xp.asarray(value, dtype=self._data.dtype) if not np.isscalar(value) else value
        return self

    def __setitem__(self, index, value) -> None:
        from chainrule.ops.indexing import normalize_index

        self._check_inplace("__setitem__")
        value = value._data if isinstance(value, Tensor) else value
        try:
            self._data[normalize_index(index)] = value
        except (ValueError, IndexError, TypeError) as exc:
            raise type(exc)(f"__setitem__: {exc} (tensor shape {self.shape}, dtype {self.dtype})") from None

    def zero_(self) -> Tensor:
        return self._assign("zero_", 0)

    def fill_(self, value) -> Tensor:
        return self._assign("fill_", value)

    def copy_(self, source) -> Tensor:
        source = source._data if isinstance(source, Tensor) else source
        xp = array_module(self._data)
        source = xp.asarray(source)
        if xp.broadcast_shapes(source.shape, self.shape) != self.shape:
            raise RuntimeError(f"copy_: source of shape {source.shape} does not broadcast to {self.shape}")
        return self._assign("copy_", source)

    def _update(self, op: str, ufunc_name: str, other, alpha=None) -> Tensor:
        self._check_inplace(op)
        other = other._data if isinstance(other, Tensor) else other
        if alpha is not None and alpha != 1:
            other = other * alpha
        xp = array_module(self._data)
        getattr(xp, ufunc_name)(self._data, other, out=self._data, casting="same_kind")
        return self

    def add_(self, other, alpha=1) -> Tensor:
        return self._update("add_", "add", other, alpha)

    def sub_(self, other, alpha=1) -> Tensor:
        return self._update("sub_", "subtract", other, alpha)

    def mul_(self, other) -> Tensor:
        return self._update("mul_", "multiply", other)

    def div_(self, other) -> Tensor:
        return self._update("div_", "divide", other)

    def clamp_(self, min=None, max=None) -> Tensor:
        self._check_inplace("clamp_")
        array_module(self._data).clip(self._data, min, max, out=self._data)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        from chainrule import random

        return self._assign("uniform_", random.uniform(self.shape, a, b, self.dtype, self.device))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        from chainrule import random

        return self._assign("normal_", random.normal(self.shape, mean, std, self.dtype, self.device))

    # `a += b` updates in place, except on a non-leaf in the graph, where it
    # rebinds `a` to the out-of-place result so the gradient stays correct.
    def __iadd__(self, other):
        return self + other if self._in_graph() else self.add_(other)

    def __isub__(self, other):
        return self - other if self._in_graph() else self.sub_(other)

    def __imul__(self, other):
        return self * other if self._in_graph() else self.mul_(other)

    def __itruediv__(self, other):
        return self / other if self._in_graph() else self.div_(other)

    def _in_graph(self) -> bool:
        return self.grad_fn is not None and GradMode.enabled


def _tensor_repr(tensor: Tensor) -> str:
    """``tensor([...], shape=(2, 3), dtype=float32, grad_fn=<MulBackward>)``."""
    array = tensor._data if type(tensor._data) is np.ndarray else tensor._data.get()
    prefix = "tensor("
    values = np.array2string(array, separator=", ", prefix=prefix, threshold=200, edgeitems=3, precision=4)
    extras = [f"shape={tuple(array.shape)}", f"dtype={array.dtype}"]
    if tensor.device.type != "cpu":
        extras.append(f"device='{tensor.device}'")
    if tensor.grad_fn is not None:
        extras.append(f"grad_fn=<{type(tensor.grad_fn).__name__}Backward>")
    elif tensor._requires_grad:
        extras.append("requires_grad=True")
    return f"{prefix}{values}, {', '.join(extras)})"
