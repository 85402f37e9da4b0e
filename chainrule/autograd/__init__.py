"""Reverse-mode automatic differentiation: the graph, the backward walk, and the tools around it.

Importing this package gives ``Tensor`` its autograd methods (``backward``,
the hooks): ``chainrule.tensor`` is a pure data type that imports nothing above the backend.
"""

from chainrule.autograd import hooks
from chainrule.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from chainrule.autograd.engine import backward, grad, tensor_backward
from chainrule.autograd.function import Function, Op
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from chainrule.tensor import Tensor

Tensor.backward = tensor_backward
Tensor.register_hook = hooks.register_hook
Tensor.register_post_accumulate_grad_hook = hooks.register_post_accumulate_grad_hook
Tensor.retain_grad = hooks.retain_grad
Tensor.retains_grad = property(hooks.retains_grad)

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
