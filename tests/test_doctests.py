"""The examples in the docstrings run as written, and every public callable has a docstring with one.

The public callables are the public names of ``chainrule``, the public methods and
properties of ``Tensor``, and the public names of the namespaces in ``NAMESPACES``
(``chainrule.nn``, ``nn.functional``, ``optim``, ``lr_scheduler``, ``utils.data``,
``cuda``, ``autograd``, ``nn.init``, ``nn.utils``, ``viz``, ``distributed``). Each
module that defines one has its doctests run with the standard library's ``doctest``.
Each docstring must hold a ``>>>`` example, except where the example lives on another
docstring: functions made by a factory (``WITHOUT_EXAMPLE``: the factory's docstring
has the examples) and the in-place ``foo_`` methods made by ``inplace_method`` (``foo``
has the example).

A second, finer test requires an example of every public function of the core op
modules (``MODULES``), exported or bound as a Tensor method.
"""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

import chainrule as cr
from chainrule import cuda, nn, optim
from chainrule.nn import functional
from chainrule.ops import creation, elementwise, inplace, linalg, reduce, shape
from chainrule.optim import lr_scheduler
from chainrule.utils import data

MODULES = [creation, elementwise, reduce, shape, linalg]

_GENERATED = "generated from a one-line docstring template; the factory's docstring holds the examples"
WITHOUT_EXAMPLE = {
    "chainrule.ops.creation.cuda": "needs a GPU, so its output depends on the machine",
    **{
        f"chainrule.ops.elementwise.{name}": f"{_GENERATED} (_binary_ufunc)"
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
    """The doctests seed the generator, switch the default dtype and grad mode; put them back afterwards."""
    rng_state, default_dtype, grad_enabled = cr.get_rng_state(), cr.get_default_dtype(), cr.is_grad_enabled()
    yield
    cr.set_rng_state(rng_state)
    cr.set_default_dtype(default_dtype)
    cr.set_grad_enabled(grad_enabled)


# ---------------------------------------------------------------------- every public callable
NAMESPACES = {
    "chainrule": cr,
    "chainrule.nn": nn,
    "chainrule.nn.functional": functional,
    "chainrule.optim": optim,
    "chainrule.optim.lr_scheduler": lr_scheduler,
    "chainrule.utils.data": data,
    "chainrule.cuda": cuda,
    "chainrule.autograd": cr.autograd,
    "chainrule.nn.init": nn.init,
    "chainrule.nn.utils": nn.utils,
    "chainrule.nn.utils.rnn": nn.utils.rnn,
    "chainrule.viz": cr.viz,
    "chainrule.distributed": cr.distributed,
}

# Drawn with matplotlib, an optional dependency that the doctests do not assume.
NEEDS_MATPLOTLIB = {
    f"chainrule.viz.{name}"
    for name in "confusion_matrix decision_regions save_training_plots training_curves weight_mosaic".split()
}


def _public_names(namespace) -> list[str]:
    names = getattr(namespace, "__all__", None)
    return list(names) if names is not None else [name for name in vars(namespace) if not name.startswith("_")]


def _unwrapped(value):
    """The function or class that holds the docstring: a property's getter, a method's function."""
    if isinstance(value, property):
        return value.fget
    return getattr(value, "__func__", value)


def public_callables() -> dict[str, object]:
    """Qualified name -> object for every public callable of the namespaces and of ``Tensor``."""
    found = {}
    for prefix, namespace in NAMESPACES.items():
        for name in _public_names(namespace):
            value = getattr(namespace, name)
            if callable(value) and not inspect.ismodule(value) and value.__module__.startswith("chainrule"):
                found[f"{prefix}.{name}"] = value
    for name, value in vars(cr.Tensor).items():
        if not name.startswith("_") and (callable(value) or isinstance(value, property)):
            found[f"chainrule.Tensor.{name}"] = value
    return found


def _docstring(value) -> str:
    doc = value.__doc__ if isinstance(value, property) else _unwrapped(value).__doc__
    return (doc or "").strip()


def _module_name(value) -> str | None:
    """The module whose source holds ``value`` (a function's globals, not a ``__module__`` it may claim)."""
    function = _unwrapped(value)
    globals_ = getattr(function, "__globals__", None)
    return globals_["__name__"] if globals_ is not None else getattr(function, "__module__", None)


def _defining_modules() -> list[str]:
    modules = {_module_name(value) for value in public_callables().values()}
    return sorted(name for name in modules if name and name.startswith("chainrule"))


def _example_elsewhere(qualified_name: str, value) -> bool:
    """Whether the docstring is generated and the example lives on the docstring it points to."""
    function = _unwrapped(value)
    if f"{function.__module__}.{getattr(function, '__name__', '')}" in WITHOUT_EXAMPLE:
        return True
    if getattr(function, "__qualname__", "").startswith(f"{inplace.inplace_method.__name__}.<locals>"):
        out_of_place = getattr(cr.Tensor, qualified_name.rsplit(".", 1)[-1].removesuffix("_"), None)
        return out_of_place is not None and ">>>" in _docstring(out_of_place)
    return False


def _without_example() -> list[str]:
    return sorted(
        name
        for name, value in public_callables().items()
        if ">>>" not in _docstring(value) and not _example_elsewhere(name, value)
    )


def test_the_inventory_covers_every_namespace():
    names = public_callables()
    for prefix in [*NAMESPACES, "chainrule.Tensor"]:
        assert any(name.rsplit(".", 1)[0] == prefix for name in names), prefix
    assert {"chainrule.exp", "chainrule.Tensor.shape", "chainrule.nn.Linear", "chainrule.optim.SGD"} <= set(names)


def _without_docstring() -> set[str]:
    return {name for name, value in public_callables().items() if not _docstring(value)}


def test_every_public_callable_has_a_docstring():
    missing = sorted(_without_docstring())
    assert not missing, f"public callables without a docstring: {missing}"


def test_every_public_callable_has_an_example():
    missing = [name for name in _without_example() if name not in NEEDS_MATPLOTLIB]
    assert not missing, f"public callables without a '>>>' example in their docstring: {missing}"


def _generated_tensor_methods() -> list[str]:
    """Tensor methods made by factories in other modules: doctest's module search never visits them."""
    return sorted(
        name
        for name, value in vars(cr.Tensor).items()
        if callable(value)
        and "<locals>" in getattr(value, "__qualname__", "")
        and ">>>" in (value.__doc__ or "")
        and value.__doc__ != inplace.inplace_method.__doc__
    )


@pytest.mark.parametrize("name", _generated_tensor_methods())
def test_examples_of_generated_tensor_methods_pass(name, saved_global_state):
    method = getattr(cr.Tensor, name)
    test = doctest.DocTestParser().get_doctest(method.__doc__, {}, f"Tensor.{name}", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_inplace_methods_name_their_out_of_place_op():
    assert ">>>" in (inplace.inplace_method.__doc__ or "")
    for name, value in public_callables().items():
        if _example_elsewhere(name, value) and name.endswith("_"):
            out_of_place = _unwrapped(getattr(cr.Tensor, name.rsplit(".", 1)[-1].removesuffix("_")))
            assert f"``{out_of_place.__name__}``" in _docstring(value), name


@pytest.mark.parametrize("module_name", _defining_modules())
def test_doctests_of_every_defining_module_pass(module_name, saved_global_state):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, report=True)
    assert result.attempted > 0, f"{module_name} has no doctest examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples in {module_name} failed"


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
        (elementwise._binary_ufunc, ["eq", "lt", "logical_and"]),
        (elementwise._classify, ["isnan", "isinf", "isfinite"]),
    ]:
        examples = "".join(e.source for e in doctest.DocTestParser().get_examples(factory.__doc__ or ""))
        assert all(f"cr.{name}(" in examples for name in names), factory.__name__
