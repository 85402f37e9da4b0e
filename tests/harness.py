"""The shared test harness: run one lambda on chainrule and on PyTorch and compare.

A case is a function ``fn(lib, *tensors)`` written once against the names both
libraries share (``lib`` is ``chainrule`` or ``torch``), plus how to make its
inputs. ``compare_with_torch`` checks the output and the gradient of every
differentiable input; ``check_gradients`` runs gradcheck (and gradgradcheck)
in float64 against finite differences, with no PyTorch needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from devices import host

import chainrule as cr

try:
    import torch
except ImportError:  # the oracle tests skip without it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the test oracle) is not installed")

TOLERANCES = {np.float64: dict(rtol=1e-7, atol=1e-9), np.float32: dict(rtol=2e-4, atol=2e-5)}


@dataclass(frozen=True)
class Const:
    """An input that is passed as a tensor but never differentiated (indices, masks)."""

    value: np.ndarray


@dataclass
class Case:
    name: str
    fn: object
    inputs: list
    low: float = -2.0
    high: float = 2.0
    gradgrad: bool = True
    torch_fn: object = None
    seed: int = 0
    tolerance_scale: float = 1.0
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


def make_inputs(case: Case, dtype) -> list:
    """NumPy arrays for the case's inputs: floats in [low, high), constants as given."""
    rng = np.random.default_rng(case.seed)
    arrays = []
    for spec in case.inputs:
        if isinstance(spec, Const):
            arrays.append(spec)
        else:
            arrays.append(rng.uniform(case.low, case.high, size=spec).astype(dtype))
    return arrays


def _to_lib(lib, arrays, requires_grad=True, device="cpu"):
    """Tensors of ``lib`` from the case's arrays; chainrule's on ``device``."""
    tensors = []
    for a in arrays:
        if lib is not cr:
            tensors.append(
                torch.tensor(a.value) if isinstance(a, Const) else torch.tensor(a, requires_grad=requires_grad)
            )
        elif isinstance(a, Const):
            tensors.append(cr.tensor(a.value, device=device))
        else:
            tensors.append(cr.tensor(a, device=device, requires_grad=requires_grad))
    return tensors


def _outputs(result) -> list:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _weights(outputs, seed=1):
    """Fixed random cotangents, so every output element has its own weight in the loss."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(y.shape)) for y in outputs]


def compare_with_torch(case: Case, dtype=np.float64, device="cpu") -> None:
    """The case's outputs and input gradients on chainrule (on ``device``) against PyTorch's on the CPU."""
    arrays = make_inputs(case, dtype)
    ours = _to_lib(cr, arrays, device=device)
    theirs = _to_lib(torch, arrays)
    our_out = _outputs(case.fn(cr, *ours))
    their_out = _outputs((case.torch_fn or case.fn)(torch, *theirs))
    tol = {k: v * case.tolerance_scale for k, v in TOLERANCES[dtype].items()}
    assert len(our_out) == len(their_out)
    for mine, ref in zip(our_out, their_out):
        assert tuple(mine.shape) == tuple(ref.shape), f"{case}: shape {mine.shape} vs torch {tuple(ref.shape)}"
        assert str(mine.dtype) == str(ref.dtype).replace("torch.", ""), f"{case}: dtype {mine.dtype} vs {ref.dtype}"
        assert mine.device.type == cr.device(device).type, f"{case}: output on {mine.device}, not {device}"
        np.testing.assert_allclose(host(mine), ref.detach().numpy(), **tol, err_msg=f"{case}: forward")
    weights = _weights(our_out)
    differentiable = [(y, t, w) for y, t, w in zip(our_out, their_out, weights) if y.requires_grad]
    if not differentiable:
        return
    our_loss = sum((y * cr.tensor(w.astype(y.dtype), device=device)).sum() for y, _, w in differentiable)
    their_loss = sum((t * torch.tensor(w.astype(y.dtype))).sum() for y, t, w in differentiable)
    our_loss.backward()
    their_loss.backward()
    for i, (mine, ref) in enumerate(zip(ours, theirs)):
        if not ref.requires_grad:
            continue
        if ref.grad is None:
            assert mine.grad is None or not host(mine.grad).any(), f"{case}: input {i} should get no gradient"
            continue
        assert mine.grad is not None, f"{case}: input {i} got no gradient"
        assert mine.grad.dtype == mine.dtype, f"{case}: gradient dtype {mine.grad.dtype} for input {mine.dtype}"
        assert mine.grad.device.type == cr.device(device).type, f"{case}: gradient of input {i} on {mine.grad.device}"
        np.testing.assert_allclose(host(mine.grad), ref.grad.numpy(), **tol, err_msg=f"{case}: gradient of input {i}")


def check_gradients(case: Case, second_order: bool = True) -> None:
    arrays = make_inputs(case, np.float64)
    tensors = _to_lib(cr, arrays)

    def fn(*args):
        return case.fn(cr, *args)

    assert cr.autograd.gradcheck(fn, tuple(tensors), eps=1e-6, atol=1e-6, rtol=1e-4)
    if second_order and case.gradgrad:
        assert cr.autograd.gradgradcheck(fn, tuple(tensors), eps=1e-6, atol=1e-5, rtol=1e-3)
