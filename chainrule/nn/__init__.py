"""Neural-network layers, losses and the functional API."""

from chainrule.nn import functional as functional
