"""Random draws shaped by tensors: multinomial, bernoulli, normal, poisson.

Every draw takes ``generator=`` (a :class:`chainrule.Generator`); without one
it uses the global generator that ``cr.manual_seed`` seeds. The draws are
made on the CPU (see ``chainrule.random``) and carry no gradient, as in
PyTorch.
"""

from __future__ import annotations

import numpy as np

from chainrule import random
from chainrule.backend import dtypes, to_device
from chainrule.ops._args import size_args
from chainrule.tensor import Tensor


def _host(input: Tensor) -> np.ndarray:
    return np.asarray(input.detach().numpy(force=True))


def _on_device_of(array: np.ndarray, like: Tensor) -> Tensor:
    return Tensor._wrap(array if like.device.type == "cpu" else to_device(array, like.device))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Category indices drawn from the rows of ``input``: (n,) -> (num_samples,), (m, n) -> (m, num_samples).

    Rows are non-negative weights (normalised here). Without replacement a category
    is drawn at most once per row, so ``num_samples`` may not exceed the number of
    nonzero weights.

    >>> import chainrule as cr
    >>> cr.multinomial(cr.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
    tensor([1, 1], shape=(2,), dtype=int64)
    >>> cr.multinomial(cr.tensor([[0.0, 5.0], [1.0, 0.0]]), 1)
    tensor([[1],
            [0]], shape=(2, 1), dtype=int64)
    """
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {input.shape}")
    if input.dtype.kind != "f":
        raise RuntimeError(f"multinomial: expects a floating point tensor of weights, got {input.dtype}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: num_samples must be positive, got {num_samples}")
    weights = _host(input).reshape(-1, input.shape[-1])
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise RuntimeError("multinomial: probability tensor contains either inf, nan or element < 0")
    if (weights.sum(axis=1) <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement:
        if num_samples > weights.shape[1]:
            raise RuntimeError(
                f"multinomial: cannot sample num_samples={num_samples} > {weights.shape[1]} categories "
                "without replacement"
            )
        fewest = int((weights > 0).sum(axis=1).min())
        if num_samples > fewest:
            raise RuntimeError(
                f"multinomial: invalid multinomial distribution (with replacement=False, a row has only "
                f"{fewest} nonzero weights for num_samples={num_samples})"
            )
        samples = random.categorical_without_replacement(weights, num_samples, generator)
    else:
        samples = random.categorical_with_replacement(weights, num_samples, generator)
    samples = samples.astype(np.int64).reshape(input.shape[:-1] + (num_samples,))
    return _on_device_of(samples, input)


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (or the number ``p``), else 0, elementwise; the input's shape and dtype.

    Draws from the global generator (``cr.manual_seed``) unless a ``generator`` is given.

    >>> import chainrule as cr
    >>> cr.bernoulli(cr.tensor([0.0, 1.0, 1.0, 0.0]))
    tensor([0., 1., 1., 0.], shape=(4,), dtype=float32)
    >>> _ = cr.manual_seed(0)
    >>> cr.bernoulli(cr.full((1000,), 0.25)).mean().item() < 0.3
    True
    """
    if input.dtype.kind != "f":
        raise RuntimeError(f"bernoulli: expects a floating point tensor of probabilities, got {input.dtype}")
    probabilities = _host(input) if p is None else np.full(input.shape, p, dtype=input.dtype)
    if not ((probabilities >= 0) & (probabilities <= 1)).all():
        raise RuntimeError("bernoulli: expected all probabilities to be in [0, 1]")
    return _on_device_of(random.bernoulli(probabilities, generator), input)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Normal draws with the given ``mean`` and ``std`` (numbers or tensors, broadcast), or of ``size``.

    ``normal(mean_tensor, std_tensor)``, ``normal(mean_tensor, 0.5)``, ``normal(0.0, std_tensor)``
    and ``normal(0.0, 1.0, size=(2, 3))`` are PyTorch's forms.

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> x = cr.normal(2.0, 0.5, size=(10000,))
    >>> x.shape, round(x.mean().item(), 1), round(x.std().item(), 1)
    (chainrule.Size([10000]), 2.0, 0.5)
    >>> cr.normal(cr.tensor([1.0, 5.0]), 0.0)
    tensor([1., 5.], shape=(2,), dtype=float32)
    """
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    if not tensors and size is None:
        raise TypeError("normal: give size=... when mean and std are both numbers")
    if tensors and size is not None:
        raise TypeError("normal: size is only accepted when mean and std are numbers")
    mean_array = _host(mean) if isinstance(mean, Tensor) else np.asarray(mean)
    std_array = _host(std) if isinstance(std, Tensor) else np.asarray(std)
    if (std_array < 0).any():
        raise RuntimeError(f"normal: expects std >= 0, got {std_array.min()}")
    if dtype is None:
        dtype = tensors[0].dtype if tensors else dtypes.default_float
        if dtypes.as_dtype(dtype).kind != "f":
            raise RuntimeError(f"normal: expects floating point mean and std, got {dtype}")
    shape = size_args((size,)) if size is not None else np.broadcast_shapes(mean_array.shape, std_array.shape)
    draws = random.normal(shape, dtype=np.float64, generator=generator) * std_array + mean_array
    tensor = Tensor._wrap(draws.astype(dtype))
    target = device if device is not None else (tensors[0].device if tensors else None)
    return tensor if target is None else tensor.to(target)


def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson counts with rates ``input`` (non-negative), in the input's dtype.

    Same shape as ``input``; draws from the global generator unless ``generator`` is given.

    >>> import chainrule as cr
    >>> cr.poisson(cr.tensor([0.0, 0.0]))
    tensor([0., 0.], shape=(2,), dtype=float32)
    >>> _ = cr.manual_seed(0)
    >>> round(cr.poisson(cr.full((10000,), 4.0)).mean().item())
    4
    """
    rates = _host(input)
    if (rates < 0).any() or not np.isfinite(rates).all():
        raise RuntimeError("poisson: expects finite non-negative rates")
    return _on_device_of(random.poisson(rates, generator), input)
