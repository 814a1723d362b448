"""Contractive penalty (Rifai, Vincent, Muller, Glorot & Bengio, ICML 2011):

    lambda * mean_b ||J_f(x_b)||_F^2,   J_f(x) = d h / d x, the encoder's Jacobian.

Exact by default: a closed form for one layer, a batched product of layer Jacobians for
deeper fully connected encoders, batched vector-Jacobian products for convolutional ones.
``projections`` = P replaces the last two by an unbiased estimate from P random
vector-Jacobian products, trading exactness for speed (see ``aebench.jacobian``).
"""
from __future__ import annotations

import torch

from aebench.errors import require_int, require_number
from aebench.jacobian import EncoderJacobian
from aebench.regularizers.base import Regularizer


class Contractive(Regularizer):
    name = "contractive"

    def __init__(self, weight: float = 0.01, projections: int | None = None):
        self.weight = require_number("weight", weight, minimum=0.0)
        self.projections = None if projections is None else require_int("projections", projections, minimum=1)
        self._jacobian: EncoderJacobian | None = None

    def bind(self, model) -> None:
        self._jacobian = EncoderJacobian(model.encoder)

    @property
    def needs_input_grad(self) -> bool:
        return self._jacobian.needs_input_grad(self.projections)

    def penalty(self, model, inputs, code) -> torch.Tensor:
        squared = self._jacobian.sq_norm(inputs, code, self.projections, create_graph=True)
        return self.weight * squared.mean()
