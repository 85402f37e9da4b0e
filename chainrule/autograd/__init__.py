"""Reverse-mode automatic differentiation: the graph, the backward walk, and the tools around it."""

from chainrule.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from chainrule.autograd.engine import backward, grad
from chainrule.autograd.function import Function, Op
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "Function",
    "GradcheckError",
    "Op",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
]
