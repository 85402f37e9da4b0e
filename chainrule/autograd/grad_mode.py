"""Switching graph recording on and off.

    >>> import chainrule as cr
    >>> x = cr.ones(3, requires_grad=True)
    >>> with cr.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    >>> @cr.no_grad()
    ... def evaluate(x):
    ...     return x * 2
    >>> evaluate(x).requires_grad
    False

As in PyTorch, grad mode is per thread: ``no_grad`` in one thread leaves
recording on in the others, and every new thread starts with recording on.
Anomaly detection (``detect_anomaly``) is process-wide, as in PyTorch.
"""

from __future__ import annotations

import functools
import threading


class AnomalyMode:
    """Whether ops check what they compute for NaN/Inf: process-wide, as in PyTorch.

    A plain class attribute, the cheapest read there is: ``Op.apply`` reads it on every op.
    """

    enabled: bool = False


class _GradModeState(threading.local):
    """The switches every op reads: whether to record a graph (``enabled``), whether to check for NaN/Inf.

    ``enabled`` lives in the calling thread's own dict (``threading.local``
    calls ``__init__`` once per thread), so reading it is one C-level lookup:
    the only cost the per-op hot path pays for per-thread grad mode, and only
    when an input requires grad. ``anomaly`` is :class:`AnomalyMode`'s flag,
    shared by all threads.
    """

    def __init__(self):
        self.enabled = True

    @property
    def anomaly(self) -> bool:
        return AnomalyMode.enabled

    @anomaly.setter
    def anomaly(self, value: bool) -> None:
        AnomalyMode.enabled = bool(value)


GradMode = _GradModeState()


def is_grad_enabled() -> bool:
    """Whether ops record a graph now in this thread: False inside ``no_grad``, True by default.

    >>> import chainrule as cr
    >>> cr.is_grad_enabled()
    True
    >>> with cr.no_grad():
    ...     cr.is_grad_enabled()
    False
    """
    return GradMode.enabled


class set_grad_enabled:
    """Context manager and decorator that sets graph recording to ``mode``.

    >>> import chainrule as cr
    >>> x = cr.ones(2, requires_grad=True)
    >>> _ = cr.set_grad_enabled(False)  # a plain call takes effect at once
    >>> (x * 2).requires_grad
    False
    >>> _ = cr.set_grad_enabled(True)
    >>> (x * 2).requires_grad
    True
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.previous = GradMode.enabled
        # Like PyTorch, the plain call takes effect at once; `with` restores on exit.
        if type(self) is set_grad_enabled:
            GradMode.enabled = self.mode

    def __enter__(self):
        if type(self) is not set_grad_enabled:  # the plain class recorded the state before its call
            self.previous = GradMode.enabled
        GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        GradMode.enabled = self.previous
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def run_in_mode(*args, **kwargs):
            with type(self)(*self._init_args()):
                return function(*args, **kwargs)

        return run_in_mode

    def _init_args(self):
        return (self.mode,)


class no_grad(set_grad_enabled):
    """Ops inside do not record a graph; their results do not require grad.

    ``inference_mode`` is the same class. Also a decorator: ``@cr.no_grad()``.

    >>> import chainrule as cr
    >>> x = cr.ones(2, requires_grad=True)
    >>> with cr.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __init__(self):
        super().__init__(False)

    def _init_args(self):
        return ()


class enable_grad(set_grad_enabled):
    """Turn recording back on inside a ``no_grad`` region.

    >>> import chainrule as cr
    >>> x = cr.ones(2, requires_grad=True)
    >>> with cr.no_grad():
    ...     with cr.enable_grad():
    ...         y = x * 2
    >>> y.requires_grad
    True
    """

    def __init__(self):
        super().__init__(True)

    def _init_args(self):
        return ()


inference_mode = no_grad
