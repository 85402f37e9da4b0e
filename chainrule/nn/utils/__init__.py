"""Utilities for training: gradient clipping, flattening parameters into one vector, padding and packing sequences."""

from chainrule.nn.utils import rnn as rnn
from chainrule.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from chainrule.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "rnn",
    "vector_to_parameters",
]
