"""Run fuzz cases on chainrule and on PyTorch and classify how they differ.

``run_case(case)`` returns an outcome: ``"ok"``, or a difference kind --
``value`` (shape or values), ``dtype``, ``gradient``, ``accepts`` (PyTorch
rejects the input, chainrule returns a result), ``rejects`` (chainrule raises
where PyTorch returns), ``message`` (both raise, but chainrule's message does
not name the public function or is not a ValueError/TypeError/IndexError/
RuntimeError) -- with a line describing it.

    python tests/fuzz/run.py [cases] [seed]     # counts per kind and the first few of each
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter

import numpy as np
import torch

import chainrule as cr

TOLERANCE = {"float16": (2e-2, 1e-2), "float32": (1e-4, 1e-5), "float64": (1e-6, 1e-9)}
ERROR_KINDS = (
    ValueError,
    TypeError,
    IndexError,
    RuntimeError,
)  # what PyTorch raises (NotImplementedError is a RuntimeError)


def make_tensors(lib, case):
    """(leaves, inputs): leaves that require grad, and the (possibly non-contiguous) views of them."""
    leaves, inputs = [], []
    for spec in case.inputs:
        array = spec.leaf_array()
        leaf = lib.tensor(array.copy(), requires_grad=spec.grad) if spec.grad else lib.tensor(array.copy())
        view = leaf
        if spec.layout == "transposed":
            view = leaf.transpose(-1, -2)
        elif spec.layout == "strided":
            view = leaf[..., ::2]
        leaves.append(leaf)
        inputs.append(view)
    return leaves, inputs


def call(lib, case, inputs):
    if isinstance(case.fn, tuple) and case.fn[0] == "layer":
        return run_layer(lib, case, inputs)
    if isinstance(case.fn, tuple) and case.fn[0] == "optimizer":
        return run_optimizer(lib, case, inputs)
    return case.fn(lib, *inputs)


def run_layer(lib, case, inputs):
    """The layer made by torch (seeded) and copied into chainrule, so both hold the same weights."""
    _, make, train = case.fn
    torch.manual_seed(0)
    reference = make(torch.nn)
    layer = make(lib.nn)
    if lib is cr:
        state = {k: cr.tensor(v.detach().numpy()) for k, v in reference.state_dict().items()}
        layer.load_state_dict(state)
    else:
        layer = reference
    dtype = inputs[0].dtype
    if dtype in (lib.float32, lib.float64):
        layer = layer.to(dtype)
    layer.train(train)
    out = layer(inputs[0])
    return out[0] if isinstance(out, tuple) else out


def run_optimizer(lib, case, inputs):
    """Three steps with the same gradient; the result is the parameter."""
    _, name, options = case.fn
    param = lib.nn.Parameter(inputs[0].detach().clone())
    optimizer = getattr(lib.optim, name)([param], **options)
    for _ in range(3):
        param.grad = inputs[1].detach().clone()
        optimizer.step()
    return param.detach()


def as_list(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def dtype_name(tensor) -> str:
    return str(tensor.dtype).replace("torch.", "")


def values_differ(mine: np.ndarray, ref: np.ndarray, dtype: str, rounding: float = 0.0) -> bool:
    """Whether two results differ: shape, NaN positions, then values within ``dtype``'s tolerance.

    ``rounding`` widens the absolute tolerance for results that add many
    values: summing in another order may cancel differently (1e30 - 1e30 + 1).
    """
    if mine.shape != ref.shape:
        return True
    if dtype not in TOLERANCE:
        return not np.array_equal(mine, ref)
    rtol, atol = TOLERANCE[dtype]
    atol = max(atol, rounding)
    mine64, ref64 = mine.astype(np.float64), ref.astype(np.float64)
    if not np.array_equal(np.isnan(mine64), np.isnan(ref64)):
        return True
    with np.errstate(invalid="ignore", over="ignore"):
        return not np.allclose(mine64, ref64, rtol=rtol, atol=atol, equal_nan=True)


def run_case(case) -> tuple[str, str]:
    try:
        torch_leaves, torch_inputs = make_tensors(torch, case)
        theirs = as_list(call(torch, case, torch_inputs))
    except Exception as exc:  # the oracle rejects the input
        torch_error = exc
    else:
        torch_error = None
    try:
        leaves, inputs = make_tensors(cr, case)
        ours = as_list(call(cr, case, inputs))
    except Exception as exc:
        if torch_error is None:
            return "rejects", f"{case}: chainrule raised {type(exc).__name__}: {exc}"
        if not isinstance(exc, ERROR_KINDS) or case.public.lower() not in str(exc).lower():
            return "message", f"{case}: {type(exc).__name__}: {exc}  (torch: {torch_error})"
        return "ok", ""
    if torch_error is not None:
        return "accepts", f"{case}: torch raised {type(torch_error).__name__}: {torch_error}"
    if len(ours) != len(theirs):
        return "value", f"{case}: {len(ours)} outputs vs torch {len(theirs)}"
    tolerance = loosest_dtype(case, theirs)
    for mine, ref in zip(ours, theirs):
        if dtype_name(mine) != dtype_name(ref):
            return "dtype", f"{case}: dtype {dtype_name(mine)} vs torch {dtype_name(ref)}"
        try:
            mine_array, ref_array = np.asarray(mine.detach().numpy()), ref.detach().numpy()
        except Exception as exc:  # a broken result tensor
            return "value", f"{case}: result unreadable: {type(exc).__name__}: {exc}"
        dtype = tolerance if dtype_name(ref) in FLOATS else dtype_name(ref)
        if values_differ(mine_array, ref_array, dtype, summation_rounding(case, dtype)):
            return "value", f"{case}: {summary(mine_array)} vs torch {summary(ref_array)}"
    return compare_gradients(case, leaves, ours, torch_leaves, theirs, tolerance)


def summation_rounding(case, dtype: str) -> float:
    """How far two summation orders can drift apart: n eps max|x| over the inputs of a reduction or product."""
    if case.kind not in ("reduction", "matmul") or dtype not in FLOATS:
        return 0.0
    arrays = [spec.array.astype(np.float64) for spec in case.inputs if spec.array.dtype.kind == "f"]
    finite = [np.abs(a[np.isfinite(a)]) for a in arrays if a.size]
    largest = max((float(a.max()) for a in finite if a.size), default=0.0)
    count = max((a.size for a in arrays), default=0)
    bound = count * float(np.finfo(dtype).eps) * largest
    return bound * largest if case.kind == "matmul" else bound  # a product's terms are up to largest**2


def loosest_dtype(case, outputs) -> str:
    """The least precise float dtype among the inputs and outputs: a float16 input limits every result."""
    names = [str(spec.array.dtype) for spec in case.inputs] + [dtype_name(y) for y in outputs]
    for name in FLOATS:
        if name in names:
            return name
    return "float64"


def compare_gradients(case, leaves, ours, torch_leaves, theirs, tolerance) -> tuple[str, str]:
    """Backpropagate the same random cotangents through both and compare every leaf's gradient."""
    pairs = [(m, t) for m, t in zip(ours, theirs) if t.requires_grad and dtype_name(t) in FLOATS]
    if not pairs or isinstance(case.fn, tuple) and case.fn[0] == "optimizer":
        return "ok", ""
    rng = np.random.default_rng(0)
    cotangents = [rng.standard_normal(tuple(t.shape)).astype(dtype_name(t)) for _, t in pairs]
    try:
        torch.autograd.backward([t for _, t in pairs], [torch.tensor(c) for c in cotangents])
    except RuntimeError:  # no derivative in PyTorch (floor_divide): nothing to compare
        return "ok", ""
    if not all(m.requires_grad for m, _ in pairs):
        return "gradient", f"{case}: output does not require grad"
    try:
        cr.autograd.backward([m for m, _ in pairs], [cr.tensor(c) for c in cotangents])
    except Exception as exc:
        return "gradient", f"{case}: backward raised {type(exc).__name__}: {exc}"
    for i, (mine, ref) in enumerate(zip(leaves, torch_leaves)):
        if not ref.requires_grad:
            continue
        ref_grad = np.zeros(tuple(ref.shape)) if ref.grad is None else ref.grad.numpy()
        my_grad = np.zeros(tuple(mine.shape)) if mine.grad is None else mine.grad.numpy()
        if values_differ(my_grad, ref_grad, tolerance):
            where = " (only where the input is NaN)" if differs_only_at_nan(my_grad, ref_grad, case.inputs[i]) else ""
            return "gradient", f"{case}: gradient of input {i}{where}: {summary(my_grad)} vs torch {summary(ref_grad)}"
    return "ok", ""


def differs_only_at_nan(mine: np.ndarray, ref: np.ndarray, spec) -> bool:
    """Whether every element where the gradients differ is one where the (leaf) input is NaN."""
    leaf = spec.leaf_array()
    if leaf.dtype.kind != "f" or leaf.shape != mine.shape:
        return False
    with np.errstate(invalid="ignore"):
        same = np.isclose(mine, ref, rtol=1e-4, atol=1e-6, equal_nan=True)
    return bool(np.isnan(leaf[~same]).all())


FLOATS = ("float16", "float32", "float64")


def summary(array: np.ndarray) -> str:
    text = np.array2string(np.asarray(array).reshape(-1)[:6], precision=4)
    return f"{array.dtype}{list(array.shape)} {text}"


def run_all(cases) -> tuple[Counter, dict]:
    counts: Counter = Counter()
    examples: dict = {}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in cases:
            kind, line = run_case(case)
            counts[kind] += 1
            if kind != "ok":
                examples.setdefault(kind, []).append(line)
    return counts, examples


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from fuzz.cases import generate

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    counts, examples = run_all(generate(seed, count))
    print(dict(counts))
    for kind, lines in examples.items():
        print(f"--- {kind}: {len(lines)}")
        for line in lines[:40]:
            print("  ", line[:300])
