"""Contractive penalty (Rifai, Vincent, Muller, Glorot & Bengio, ICML 2011):

    lambda * mean_b ||J_f(x_b)||_F^2,   J_f(x) = d h / d x, the encoder's Jacobian.

Exact by default: a closed form for one layer, a batched product of layer Jacobians for
deeper fully connected encoders, batched vector-Jacobian products for convolutional ones.
``projections`` = P replaces the last two by an unbiased estimate from P random projections
(Jacobian-vector products carried forward for fully connected encoders, vector-Jacobian
products for convolutional ones), trading exactness for speed (see ``aebench.jacobian``).
"""
from __future__ import annotations

import torch

from aebench.errors import require_int, require_number
from aebench.jacobian import EncoderJacobian, closed_form_penalty
from aebench.regularizers.base import Regularizer


class Contractive(Regularizer):
    name = "contractive"

    def __init__(self, weight: float = 0.01, projections: int | None = None):
        self.weight = require_number("weight", weight, minimum=0.0)
        self.projections = None if projections is None else require_int("projections", projections, minimum=1)
        self._jacobian: EncoderJacobian | None = None
        self._weight_name: str | None = None  # the closed form's one encoder matrix, by parameter name

    def bind(self, model) -> None:
        self._jacobian = EncoderJacobian(model.encoder)
        self._jacobian.keep_outputs()  # a deeper chain's penalty reads the layer outputs of the training pass
        if self._jacobian.route == "closed form":
            layer = self._jacobian.chain[0][0]
            self._weight_name = next(name for name, p in model.named_parameters() if p is layer.weight)

    @property
    def seed_batched(self) -> bool:
        """The closed form runs on stacked seeds; the other routes differentiate the encoder itself."""
        return self._weight_name is not None

    @property
    def needs_input_grad(self) -> bool:
        return self._jacobian.needs_input_grad()

    def penalty(self, model, inputs, code) -> torch.Tensor:
        if self._weight_name is not None:  # the closed form (bind): its gradient written out
            linear, _, activation = self._jacobian.chain[0]
            return closed_form_penalty(linear.weight, activation, code, self.weight)
        squared = self._jacobian.sq_norm(inputs, code, self.projections, create_graph=True)
        return self.weight * squared.mean()

    def seed_penalty(self, weights, inputs, code) -> torch.Tensor:
        """The closed form for K seeds: code (K, B, C), the encoder matrix (K, C, inputs)."""
        return closed_form_penalty(weights[self._weight_name], self._jacobian.chain[0][2], code, self.weight)
