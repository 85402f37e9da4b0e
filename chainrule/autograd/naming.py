"""Which public function the user called: the name an error message must carry.

Public functions delegate to each other and to internal ops (``mm`` runs the
matmul op, ``mse_loss`` runs ``sub`` and ``mean``), so the op that finds bad
input is often not the function the user called. ``public_name(default)``
walks the call stack outward from the failing op, through chainrule's own
frames, and returns the outermost public function of the op library
(``chainrule.ops.*``, ``chainrule.nn.functional``) before the first frame of
user code::

    >>> import chainrule as cr
    >>> cr.mm(cr.ones(2, 3), cr.ones(2, 3))
    Traceback (most recent call last):
    RuntimeError: mm: shapes (2, 3) and (2, 3) cannot be multiplied (inner dims 3 and 2 differ)

It runs only when an error is being raised, so it costs the hot path nothing.
"""

from __future__ import annotations

import sys

_LIBRARY_MODULES = ("chainrule.ops.", "chainrule.nn.functional")
_NOT_PUBLIC = frozenset({"forward", "backward", "apply", "compare", "function", "run", "wrapper", "method"})


def _is_public_function(frame) -> bool:
    module = frame.f_globals.get("__name__", "")
    name = frame.f_code.co_name
    return (
        module.startswith(_LIBRARY_MODULES)
        and not name.startswith("_")
        and not name.startswith("<")
        and name not in _NOT_PUBLIC
    )


def public_name(default: str, skip: int = 1) -> str:
    """The outermost public library function on the stack below user code, else ``default``.

    ``skip`` frames (the caller of this function by default) are not looked at.
    A function whose code name is generic (a closure such as ``compare``) is
    passed over: its caller, or ``default``, names it better.
    """
    frame = sys._getframe(skip)
    found = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("chainrule"):
            break  # user code: the function below it is the one they called
        if _is_public_function(frame):
            found = frame.f_code.co_name
        frame = frame.f_back
    return found or default


def named(function, name: str):
    """``function`` (made by a factory) renamed ``name``, in its code too, so errors and tracebacks show it."""
    function.__name__ = function.__qualname__ = name
    function.__code__ = function.__code__.replace(co_name=name, co_qualname=name)
    return function
