"""``detect_anomaly``: fail at the first op that makes a NaN or Inf, forward or backward."""

from __future__ import annotations

import functools

from chainrule.autograd.grad_mode import GradMode


class detect_anomaly:
    """Context manager (and decorator) in which a NaN/Inf raises RuntimeError naming the op.

    Checks every op's forward output and every gradient its backward computes
    (stricter than PyTorch, which checks backward only). A backward failure
    also shows where the op was called in the forward pass.

        >>> import chainrule as cr
        >>> with cr.autograd.detect_anomaly():
        ...     cr.log(cr.tensor([-1.0]))
        Traceback (most recent call last):
        RuntimeError: detect_anomaly: the forward output of 'log' contains NaN or Inf
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self.previous = GradMode.anomaly
        GradMode.anomaly = self.check_nan
        return self

    def __exit__(self, *exc_info):
        GradMode.anomaly = self.previous
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def checked(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return function(*args, **kwargs)

        return checked


def set_detect_anomaly(mode: bool) -> None:
    """Turn the NaN/Inf checks of ``detect_anomaly`` on or off for the whole process.

    >>> import chainrule as cr
    >>> cr.autograd.set_detect_anomaly(True)
    >>> cr.autograd.is_anomaly_enabled()
    True
    >>> cr.autograd.set_detect_anomaly(False)
    """
    GradMode.anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    """Whether the NaN/Inf checks of ``detect_anomaly`` are on (False by default).

    >>> import chainrule as cr
    >>> cr.autograd.is_anomaly_enabled()
    False
    >>> with cr.autograd.detect_anomaly():
    ...     cr.autograd.is_anomaly_enabled()
    True
    """
    return GradMode.anomaly
