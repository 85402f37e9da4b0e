"""The examples in the docstrings of the core ops run as written, and every public op has one.

Each module's doctests run with the standard library's ``doctest``; the second test
lists the public functions (exported from ``chainrule`` or bound as a Tensor method)
defined in each module and requires a ``>>>`` example in each docstring, except the
few named in ``WITHOUT_EXAMPLE`` with the reason.
"""

from __future__ import annotations

import doctest
import inspect

import pytest

import chainrule as cr
from chainrule.ops import creation, elementwise, linalg, reduce, shape

MODULES = [creation, elementwise, reduce, shape, linalg]

_GENERATED = "generated from a one-line docstring template; the factory's docstring holds the examples"
WITHOUT_EXAMPLE = {
    "chainrule.ops.creation.cuda": "needs a GPU, so its output depends on the machine",
    **{
        f"chainrule.ops.elementwise.{name}": f"{_GENERATED} (_piecewise)" for name in ("sign", "floor", "ceil", "trunc")
    },
    **{
        f"chainrule.ops.elementwise.{name}": f"{_GENERATED} (_comparison)"
        for name in "eq ne lt le gt ge logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor".split()
    },
    **{f"chainrule.ops.elementwise.{name}": f"{_GENERATED} (_classify)" for name in ("isnan", "isinf", "isfinite")},
}


def _public_functions(module) -> dict[str, object]:
    """Name -> function for the module's own functions that users reach as ``cr.name`` or ``Tensor.name``."""
    exported = {id(value) for value in vars(cr).values()}
    bound = {id(getattr(value, "__func__", value)) for value in vars(cr.Tensor).values()}
    functions = {}
    for name, value in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(value) or value.__module__ != module.__name__:
            continue
        if id(value) in exported or id(value) in bound:
            functions.setdefault(value.__name__ if value.__name__ in vars(module) else name, value)
    return functions


@pytest.fixture
def saved_global_state():
    """The doctests seed the generator and switch the default dtype; put both back afterwards."""
    rng_state, default_dtype = cr.get_rng_state(), cr.get_default_dtype()
    yield
    cr.set_rng_state(rng_state)
    cr.set_default_dtype(default_dtype)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_docstring_examples_run(module, saved_global_state):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, report=True)
    assert result.attempted > 0, f"{module.__name__} has no doctest examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples in {module.__name__} failed"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_public_function_has_an_example(module):
    functions = _public_functions(module)
    assert functions, f"found no public functions in {module.__name__}"
    missing = [
        name
        for name, function in sorted(functions.items())
        if ">>>" not in (function.__doc__ or "") and f"{module.__name__}.{name}" not in WITHOUT_EXAMPLE
    ]
    assert not missing, f"public functions of {module.__name__} without a '>>>' example: {missing}"


def test_exceptions_are_still_public_and_still_lack_an_example():
    """An entry of WITHOUT_EXAMPLE that is gone, or that got an example, must leave the list."""
    for qualified_name in WITHOUT_EXAMPLE:
        module_name, name = qualified_name.rsplit(".", 1)
        module = next(m for m in MODULES if m.__name__ == module_name)
        function = _public_functions(module).get(name)
        assert function is not None, f"{qualified_name} is no longer a public function"
        assert ">>>" not in (function.__doc__ or ""), f"{qualified_name} now has an example; drop it from the list"


def test_factory_docstrings_cover_the_generated_functions():
    """The factories stand in for the functions they generate: their examples call every family."""
    for factory, names in [
        (elementwise._piecewise, ["sign", "floor", "ceil", "trunc"]),
        (elementwise._comparison, ["eq", "lt", "logical_and"]),
        (elementwise._classify, ["isnan", "isinf", "isfinite"]),
    ]:
        examples = "".join(e.source for e in doctest.DocTestParser().get_examples(factory.__doc__ or ""))
        assert all(f"cr.{name}(" in examples for name in names), factory.__name__
