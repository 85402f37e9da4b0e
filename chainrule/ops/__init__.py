"""The op library: every tensor operation as a function, grouped by family.

Each family module holds, for each op, its forward (on arrays) and its
vector-Jacobian product (on tensors) side by side. Importing this package
also gives ``Tensor`` its methods and operators, each the function of the
same name here (so ``x.sum(1)`` is ``ops.sum(x, 1)``).
"""

from chainrule.ops import (
    activation,
    casting,
    creation,
    elementwise,
    indexing,
    inplace,
    linalg,
    reduce,
    sampling,
    shape,
    sorting,
    special,
)
from chainrule.tensor import Tensor

_METHODS = {
    activation: "softmax log_softmax",
    creation: "clone contiguous cpu cuda pin_memory is_pinned to new_tensor new_zeros new_ones new_empty new_full",
    elementwise: (
        "add sub mul div pow neg floor_divide remainder eq ne lt le gt ge logical_and logical_or logical_xor "
        "logical_not isnan isinf isfinite allclose equal where maximum minimum clamp clip exp expm1 log log1p "
        "bitwise_not log2 log10 sqrt rsqrt reciprocal sin cos tanh sigmoid relu abs sign floor ceil trunc round square "
        "true_divide divide multiply subtract negative absolute greater greater_equal less less_equal not_equal"
    ),
    indexing: (
        "gather scatter_add index_select masked_fill take scatter scatter_reduce index_add masked_select "
        "take_along_dim nonzero argwhere"
    ),
    linalg: "matmul mm bmm dot outer mv inner addmm addmv baddbmm addbmm trace cross",
    reduce: (
        "sum mean var std amax amin argmax argmin max min logsumexp prod norm all any cumsum cumprod count_nonzero"
    ),
    casting: "type_as",
    shape: (
        "reshape view view_as reshape_as expand_as flatten unflatten squeeze unsqueeze permute transpose swapaxes t expand broadcast_to "
        "repeat flip split chunk unbind tril triu roll narrow movedim moveaxis diagonal diag diag_embed diff "
        "repeat_interleave"
    ),
    sampling: "multinomial bernoulli",
    sorting: "sort argsort msort topk kthvalue median mode unique unique_consecutive histc histogram",
    special: "erf erfc erfinv atan2 arctan2 lerp addcmul addcdiv logaddexp isclose clamp_min clamp_max",
}


def _reflected(function):
    """``other <op> tensor`` as ``function(other, tensor)`` (Python calls ``tensor.__rop__(other)``)."""

    def reflected(self, other):
        return function(other, self)

    reflected.__name__ = reflected.__qualname__ = f"r{function.__name__}"
    reflected.__doc__ = f"``other`` and this tensor, in that order, given to ``{function.__name__}``."
    return reflected


def _bind_tensor_methods() -> None:
    """Give Tensor its op methods and operators: the functions themselves, so a call costs no wrapper."""
    for module, names in _METHODS.items():
        for name in names.split():
            setattr(Tensor, name, getattr(module, name))
    operators = {
        "__add__": elementwise.add,
        "__sub__": elementwise.sub,
        "__mul__": elementwise.mul,
        "__truediv__": elementwise.div,
        "__floordiv__": elementwise.floor_divide,
        "__mod__": elementwise.remainder,
        "__pow__": elementwise.pow,
        "__matmul__": linalg.matmul,
        "__eq__": elementwise.eq,
        "__ne__": elementwise.ne,
        "__lt__": elementwise.lt,
        "__le__": elementwise.le,
        "__gt__": elementwise.gt,
        "__ge__": elementwise.ge,
        "__and__": elementwise.bitwise_and,
        "__or__": elementwise.bitwise_or,
        "__xor__": elementwise.bitwise_xor,
    }
    for name, function in operators.items():
        setattr(Tensor, name, function)
    for name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
        setattr(Tensor, f"__r{name}__", _reflected(operators[f"__{name}__"]))
    Tensor.__neg__ = elementwise.neg
    Tensor.__abs__ = elementwise.abs
    Tensor.__invert__ = elementwise.bitwise_not
    Tensor.__pos__ = lambda self: self
    Tensor.__getitem__ = indexing.getitem
    Tensor.T = property(shape.reverse_dims)
    Tensor.mT = property(shape.matrix_transpose)
    for name, method in casting.DTYPE_METHODS.items():
        setattr(Tensor, name, method)
    Tensor.type = creation.tensor_type


_bind_tensor_methods()
inplace.bind_tensor_methods()  # after the out-of-place methods it writes back
