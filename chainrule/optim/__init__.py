"""Optimizers that update parameters from their ``.grad``, and learning-rate schedules (``lr_scheduler``).

opt = chainrule.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for x, y in loader:
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    opt.step()
"""

from chainrule.optim import lr_scheduler
from chainrule.optim.adadelta import Adadelta
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam
from chainrule.optim.adamax import Adamax
from chainrule.optim.adamw import AdamW
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.nadam import NAdam
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.radam import RAdam
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

__all__ = [
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "lr_scheduler",
]
