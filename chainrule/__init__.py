"""chainrule: neural networks as computation graphs, trained by the chain rule.

import chainrule as cr
x = cr.randn(64, 784)
w = cr.randn(784, 10, requires_grad=True)
loss = (x @ w).relu().mean()
loss.backward()          # w.grad now holds d loss / d w
"""

from chainrule.tensor import Size, Tensor
from chainrule import autograd  # gives Tensor backward() and the hooks
from chainrule import ops  # gives Tensor its op methods and operators
from chainrule.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.autograd.grad_mode import inference_mode
from chainrule.backend import Device as device
from chainrule.backend.dtypes import (
    bool_ as bool,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from chainrule.ops.creation import (
    arange,
    as_tensor,
    clone,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from chainrule.ops.elementwise import (
    abs,
    absolute,
    add,
    allclose,
    ceil,
    clamp,
    clip,
    cos,
    div,
    divide,
    eq,
    equal,
    exp,
    expm1,
    floor,
    floor_divide,
    ge,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    greater,
    greater_equal,
    less,
    less_equal,
    not_equal,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    multiply,
    ne,
    neg,
    negative,
    pow,
    reciprocal,
    relu,
    remainder,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    subtract,
    tanh,
    true_divide,
    trunc,
    where,
)
from chainrule.ops.activation import log_softmax, softmax
from chainrule.ops.indexing import gather, index_select, masked_fill, scatter_add, take
from chainrule.ops.linalg import bmm, dot, einsum, inner, matmul, mm, mv, outer
from chainrule.ops.reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    sum,
    var,
)
from chainrule.ops.shape import (
    broadcast_to,
    cat,
    chunk,
    concat,
    concatenate,
    expand,
    flatten,
    flip,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    t,
    transpose,
    tril,
    triu,
    unbind,
    unflatten,
    unsqueeze,
    view,
)
from chainrule.ops.creation import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    get_default_dtype,
    set_default_dtype,
    tril_indices,
    triu_indices,
)
from chainrule.ops.indexing import (
    argwhere,
    index_add,
    masked_select,
    nonzero,
    scatter,
    scatter_reduce,
    take_along_dim,
)
from chainrule.ops.linalg import addbmm, addmm, addmv, baddbmm, cdist, cross, trace
from chainrule.ops.reduce import count_nonzero, cumprod, std_mean, var_mean
from chainrule.ops.sampling import bernoulli, multinomial, normal, poisson
from chainrule.ops.shape import (
    atleast_1d,
    atleast_2d,
    atleast_3d,
    diag,
    diag_embed,
    diagonal,
    diff,
    meshgrid,
    moveaxis,
    movedim,
    narrow,
    repeat_interleave,
    roll,
)
from chainrule.ops.sorting import (
    argsort,
    bucketize,
    histc,
    histogram,
    kthvalue,
    median,
    mode,
    msort,
    searchsorted,
    sort,
    topk,
    unique,
    unique_consecutive,
)
from chainrule.ops.special import (
    addcdiv,
    addcmul,
    arctan2,
    atan2,
    clamp_max,
    clamp_min,
    erf,
    erfc,
    erfinv,
    isclose,
    lerp,
    logaddexp,
)
from chainrule.tensor import set_printoptions
from chainrule.serialization import load, save
from chainrule import accelerator, backends, cuda  # noqa: E402
from chainrule.backend.threads import get_num_threads, set_num_threads
from chainrule.backends import (
    are_deterministic_algorithms_enabled,
    get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled,
    set_float32_matmul_precision,
    use_deterministic_algorithms,
)
from chainrule.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from chainrule import nn  # noqa: E402
from chainrule import optim  # noqa: E402
from chainrule import data  # noqa: E402
from chainrule import utils  # noqa: E402
from chainrule import distributed  # noqa: E402 (mpi4py itself is imported only by init_process_group)
from chainrule import viz  # noqa: E402
from chainrule import onnx  # noqa: E402  (imports the onnx package only when export/load run)
from chainrule.viz import summary  # noqa: E402

float = float32
double = float64
half = float16
long = int64
int = int32
short = int16

__version__ = "0.1.0"


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a chainrule Tensor (a ``nn.Parameter`` is one; a NumPy array is not).

    >>> import chainrule as cr
    >>> import numpy as np
    >>> cr.is_tensor(cr.zeros(1)), cr.is_tensor(np.zeros(1))
    (True, False)
    """
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of ``input``, the product of its sizes: ``input.numel()``.

    >>> import chainrule as cr
    >>> cr.numel(cr.zeros(2, 3))
    6
    """
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    """Whether ``input``'s dtype is a floating-point type: ``input.is_floating_point()``.

    >>> import chainrule as cr
    >>> cr.is_floating_point(cr.tensor([1.0])), cr.is_floating_point(cr.tensor([1]))
    (True, False)
    """
    return input.is_floating_point()
