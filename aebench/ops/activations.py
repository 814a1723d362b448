"""Activations by name, and each one's derivative written in terms of its own output.

s'(a) as a function of h = s(a) lets the encoder Jacobian be formed from the activations the
forward pass already holds (``aebench.ops.jacobian``). GELU has no such form and takes the generic path.
"""
from __future__ import annotations

import torch
from torch import nn

from aebench.errors import require_choice

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}

LEAKY_SLOPE = nn.LeakyReLU().negative_slope
DERIVATIVE_FROM_OUTPUT = {
    "identity": lambda h: torch.ones_like(h),
    "sigmoid": lambda h: torch.addcmul(h, h, h, value=-1),  # h (1 - h), one operator
    "tanh": lambda h: 1 - h * h,
    "relu": lambda h: (h > 0).to(h.dtype),
    "leaky_relu": lambda h: torch.where(h >= 0, torch.ones_like(h), torch.full_like(h, LEAKY_SLOPE)),
    "elu": lambda h: torch.where(h > 0, torch.ones_like(h), h + 1),  # alpha = 1: s'(a) = e^a = h + 1
    "softplus": lambda h: -torch.expm1(-h),  # s'(a) = sigmoid(a) = 1 - e^-h
}

# d s'(a) / d h, the derivative above differentiated with respect to the output h, for gradients
# written out by hand (``aebench.ops.jacobian.ClosedFormContractive``); None where it is zero almost
# everywhere (s' is piecewise constant)
DERIVATIVE_SLOPE_FROM_OUTPUT = {
    "identity": None,
    "sigmoid": lambda h: torch.rsub(h, 1, alpha=2),  # 1 - 2 h
    "tanh": lambda h: -2 * h,
    "relu": None,
    "leaky_relu": None,
    "elu": lambda h: (h <= 0).to(h.dtype),
    "softplus": lambda h: torch.exp(-h),  # s' = 1 - e^-h
}


def require_activation(field: str, name: str) -> str:
    return require_choice(field, name, sorted(ACTIVATIONS))


def make_activation(name: str) -> nn.Module:
    return ACTIVATIONS[require_activation("activation", name)]()


def activation_name(module: nn.Module) -> str | None:
    """The registry name of an activation module built by :func:`make_activation`, else None."""
    for name, cls in ACTIVATIONS.items():
        if type(module) is cls and (name != "leaky_relu" or module.negative_slope == LEAKY_SLOPE) \
                and (name != "elu" or module.alpha == 1.0) and (name != "softplus" or module.beta == 1.0):
            return name
    return None
